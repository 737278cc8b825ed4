"""Decides whether the challenger may replace the champion: a verdict, never an exception.

Fails closed: with no thresholds for the task, a missing or NaN metric, or a champion that
cannot be compared, nothing is blessed. Every check leaves one reason, passing or failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.config import HIGHER_IS_BETTER, GateConfig, load_config
from shipyard.stages.columns import finite_or_none

#: Slack on the champion comparison so float noise in "equal" metrics still counts as a tie.
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class GateVerdict:
    """Whether the challenger is blessed, and why (one reason per check)."""

    blessed: bool
    reasons: tuple[str, ...]  # "pass: ..." / "fail: ...", with the numbers compared
    task: str
    primary_metric: str | None
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    champion_version: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "blessed": self.blessed,
            "reasons": list(self.reasons),
            "task": self.task,
            "primary_metric": self.primary_metric,
            "challenger_metrics": dict(self.challenger_metrics),
            "champion_metrics": None if self.champion_metrics is None else dict(self.champion_metrics),
            "champion_version": self.champion_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        champion_metrics = data.get("champion_metrics")
        champion_version = data.get("champion_version")
        return cls(
            blessed=bool(data["blessed"]),
            reasons=tuple(str(reason) for reason in data.get("reasons", ())),
            task=str(data["task"]),
            primary_metric=data.get("primary_metric"),
            challenger_metrics=dict(data.get("challenger_metrics") or {}),
            champion_metrics=None if champion_metrics is None else dict(champion_metrics),
            champion_version=None if champion_version is None else int(champion_version),
        )

    def to_markdown(self) -> str:
        """A short report for the KFP UI / pull request: verdict, reasons, metric table."""
        champion = (
            "none"
            if self.champion_metrics is None
            else (f"version {self.champion_version}" if self.champion_version is not None else "unversioned")
        )
        lines = [
            f"## {'BLESSED' if self.blessed else 'NOT BLESSED'}",
            "",
            f"Task: {self.task} · primary metric: {self.primary_metric or 'none'} · champion: {champion}",
            "",
            *(f"- {reason}" for reason in self.reasons),
            "",
            "| metric | challenger | champion |",
            "|---|---|---|",
        ]
        champion_metrics = self.champion_metrics or {}
        for name in sorted(set(self.challenger_metrics) | set(champion_metrics)):
            lines.append(
                f"| {name}{' (primary)' if name == self.primary_metric else ''} "
                f"| {_show(self.challenger_metrics.get(name))} | {_show(champion_metrics.get(name))} |"
            )
        return "\n".join(lines) + "\n"


def read_gate_config(config_yaml: str) -> tuple[GateConfig | None, str]:
    """The gate section of ``config_yaml``, or ``(None, reason)`` when the config cannot be read.

    An unreadable gate config blesses nothing: the run goes on to record a verdict that says why,
    rather than failing without one.
    """
    try:
        return load_config(config_yaml).gate, ""
    except Exception as exc:  # any failure to read thresholds means there are none to meet
        return None, f"fail: gate config unreadable: {exc}"


def _show(value: Any) -> str:
    return "—" if value is None else f"{value:.6g}" if isinstance(value, (int, float)) else str(value)


def _recorded_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite metrics, as plain floats, for the JSON record (a reason explains any left out)."""
    return {
        str(name): value for name, value in ((n, finite_or_none(v)) for n, v in metrics.items()) if value is not None
    }


def _threshold_reason(metric: str, value: float | None, low: float | None, high: float | None) -> tuple[bool, str]:
    bounds = ", ".join(
        part
        for part in (None if low is None else f"min {_show(low)}", None if high is None else f"max {_show(high)}")
        if part
    )
    if value is None:
        return False, f"fail: {metric} is missing or not a finite number (needs {bounds})"
    if low is not None and value < low:
        return False, f"fail: {metric} {_show(value)} is below min {_show(low)}"
    if high is not None and value > high:
        return False, f"fail: {metric} {_show(value)} is above max {_show(high)}"
    return True, f"pass: {metric} {_show(value)} meets {bounds}"


def _champion_reason(
    metric: str,
    challenger: float | None,
    champion_metrics: Mapping[str, Any] | None,
    champion_version: int | None,
    margin: float,
) -> tuple[bool, str]:
    if champion_metrics is None:
        if challenger is None:
            return False, (
                f"fail: no champion in production, but the challenger has no finite {metric} "
                "(the primary metric), so later models could not be compared with it"
            )
        return True, "pass: no champion in production: first model"
    name = "champion" if champion_version is None else f"champion (version {champion_version})"
    higher_is_better = HIGHER_IS_BETTER.get(metric)
    if higher_is_better is None:
        return False, f"fail: cannot compare with the {name}: direction of metric {metric} is unknown"
    if challenger is None:
        return False, f"fail: cannot compare with the {name}: challenger has no finite {metric}"
    champion = finite_or_none(champion_metrics.get(metric))
    if champion is None:
        return False, f"fail: cannot compare with the {name}: it has no finite {metric}"
    if higher_is_better:
        bound = champion - margin
        ok = challenger >= bound - TIE_TOLERANCE
        relation = ">=" if ok else "<"
        return ok, (
            f"{'pass' if ok else 'fail'}: {metric} {_show(challenger)} {relation} {name} "
            f"{_show(champion)} - margin {_show(margin)} = {_show(bound)} (higher is better)"
        )
    bound = champion + margin
    ok = challenger <= bound + TIE_TOLERANCE
    relation = "<=" if ok else ">"
    return ok, (
        f"{'pass' if ok else 'fail'}: {metric} {_show(challenger)} {relation} {name} "
        f"{_show(champion)} + margin {_show(margin)} = {_show(bound)} (lower is better)"
    )


def evaluate_challenger(
    challenger: Mapping[str, float],
    *,
    task: str,
    gate: GateConfig | None,
    champion: Mapping[str, float] | None = None,
    champion_version: int | None = None,
    challenger_on_shared_rows: Mapping[str, float] | None = None,
    comparison_note: str = "",
) -> GateVerdict:
    """Blesses the challenger only if it meets every threshold and is not worse than the champion.

    Args:
        challenger: the challenger's holdout metrics.
        task: ``classification`` or ``regression``; picks the thresholds in ``gate``.
        gate: the configured gate; None (or no section for ``task``) blesses nothing.
        champion: the production model's metrics on the same holdout; None when there is none.
        champion_version: the champion's registry version, for the reasons and report.
        challenger_on_shared_rows: the challenger's metrics on the rows ``champion`` was scored on,
            when that is only part of the holdout (rows the champion trained on are left out);
            thresholds still use ``challenger``, the whole holdout.
        comparison_note: says which rows the comparison used; kept as the first reason.
    """
    challenger_metrics = _recorded_metrics(challenger)
    champion_metrics = None if champion is None else _recorded_metrics(champion)
    task_gate = None if gate is None else gate.for_task(task)
    if gate is None or task_gate is None:
        return GateVerdict(
            blessed=False,
            reasons=(f"fail: no gate thresholds are configured for {task}, so nothing is blessed",),
            task=task,
            primary_metric=None,
            challenger_metrics=challenger_metrics,
            champion_metrics=champion_metrics,
            champion_version=champion_version,
        )

    checks = [
        _threshold_reason(t.metric, finite_or_none(challenger.get(t.metric)), t.min, t.max)
        for t in task_gate.thresholds
    ]
    primary = task_gate.primary_metric
    compared = challenger if challenger_on_shared_rows is None else challenger_on_shared_rows
    margin = finite_or_none(gate.margin) or 0.0
    checks.append(_champion_reason(primary, finite_or_none(compared.get(primary)), champion, champion_version, margin))
    return GateVerdict(
        blessed=all(ok for ok, _ in checks),
        reasons=((f"note: {comparison_note}",) if comparison_note else ()) + tuple(reason for _, reason in checks),
        task=task,
        primary_metric=primary,
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        champion_version=champion_version,
    )
