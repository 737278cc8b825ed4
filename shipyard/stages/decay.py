"""Decides whether the production model has decayed: its score on new labelled data, judged.

Decay is any of the gate's thresholds for the task violated on the current data, or the primary
metric worse than at release by more than ``max_drop`` (in the metric's own units and direction:
f1 down, rmse up). Like the gate, this returns a verdict with one reason per failed check and
never raises over a bad score.

Missing numbers, decided on purpose:

- A metric the model *cannot be scored on now* (missing, NaN or infinite) where a check needs it
  counts as decay. The model can no longer be shown to meet its bar, which is what monitoring
  exists to notice (the gate fails closed on the same grounds); typical causes are a class the
  model never saw, or labels it cannot be scored against. The cost is one alert and a retrain
  that still goes through the gate; the cost of staying silent is a broken model in production.
- A value *missing at release* (a version registered without metrics) skips the drop check with
  a note, and is not decay by itself: it says nothing about the model now, the thresholds still
  judge it, and counting it would alert and retrain on every run until a new version ships.
- With no thresholds and no primary metric for the task nothing is checked: ``judged`` is False,
  ``decay_detected`` False, and a note says so. No gate means no retrained model could be
  blessed, so declaring decay would only repeat an alert that no retrain can answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.config import HIGHER_IS_BETTER, TaskGate
from shipyard.errors import ConfigError
from shipyard.stages.columns import finite_or_none
from shipyard.stages.gate import TIE_TOLERANCE
from shipyard.vocabulary import check_task


@dataclass(frozen=True)
class DecayResult:
    """Whether the production model decayed on the current data, and why."""

    decay_detected: bool
    reasons: tuple[str, ...]  # one "fail: ..." per failed check, naming metric, value, bound and margin
    checks: tuple[str, ...]  # every check made, "pass: ..." or "fail: ..."
    notes: tuple[str, ...]  # checks that could not be made, and why (not decay by themselves)
    task: str
    primary_metric: str | None
    max_drop: float
    metrics: dict[str, float]  # the finite metrics on the current data
    release_metrics: dict[str, float] | None  # the finite metrics at release; None when unknown
    primary_drop: float | None  # how much worse the primary metric is than at release (< 0: better)

    @property
    def judged(self) -> bool:
        """False when no check could be made (no thresholds, no primary metric)."""
        return bool(self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decay_detected": self.decay_detected,
            "judged": self.judged,
            "reasons": list(self.reasons),
            "checks": list(self.checks),
            "notes": list(self.notes),
            "task": self.task,
            "primary_metric": self.primary_metric,
            "max_drop": self.max_drop,
            "metrics": dict(self.metrics),
            "release_metrics": None if self.release_metrics is None else dict(self.release_metrics),
            "primary_drop": self.primary_drop,
        }

    def to_metrics(self) -> dict[str, float]:
        """Flat numbers for KFP ``Metrics``: the verdict as 0/1, current and release values, the drop."""
        values = {"decay_detected": float(self.decay_detected)}
        values.update({f"current_{name}": value for name, value in sorted(self.metrics.items())})
        values.update({f"release_{name}": value for name, value in sorted((self.release_metrics or {}).items())})
        if self.primary_drop is not None:
            values["primary_drop"] = self.primary_drop
        return values

    def to_markdown(self) -> str:
        """A short report: verdict, every check and note, and current vs release metrics."""
        verdict = "DECAY DETECTED" if self.decay_detected else "NO DECAY" if self.judged else "PERFORMANCE NOT JUDGED"
        lines = [
            f"## {verdict}",
            "",
            f"Task: {self.task} · primary metric: {self.primary_metric or 'none'} · max_drop: {_show(self.max_drop)}",
            "",
            *(f"- {line}" for line in (*self.checks, *(f"note: {note}" for note in self.notes))),
            "",
            "| metric | current | at release |",
            "|---|---|---|",
        ]
        release = self.release_metrics or {}
        for name in sorted(set(self.metrics) | set(release)):
            primary = " (primary)" if name == self.primary_metric else ""
            lines.append(f"| {name}{primary} | {_show(self.metrics.get(name))} | {_show(release.get(name))} |")
        return "\n".join(lines) + "\n"


def _show(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def _finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        str(name): value for name, value in ((n, finite_or_none(v)) for n, v in metrics.items()) if value is not None
    }


def _threshold_check(metric: str, value: float | None, low: float | None, high: float | None) -> tuple[bool, str]:
    bounds = " and ".join(
        part
        for part in (None if low is None else f"min {_show(low)}", None if high is None else f"max {_show(high)}")
        if part
    )
    if value is None:
        return False, (
            f"fail: {metric} is missing or not a finite number on the current data (threshold {bounds}): "
            "the model cannot be shown to meet it"
        )
    if low is not None and value < low:
        return False, f"fail: {metric} {_show(value)} on the current data is below the threshold min {_show(low)}"
    if high is not None and value > high:
        return False, f"fail: {metric} {_show(value)} on the current data is above the threshold max {_show(high)}"
    return True, f"pass: {metric} {_show(value)} on the current data meets {bounds}"


def detect_decay(
    current: Mapping[str, Any],
    release: Mapping[str, Any] | None,
    *,
    task: str,
    task_gate: TaskGate | None,
    max_drop: float,
    primary_metric: str | None = None,
    higher_is_better: Mapping[str, bool] = HIGHER_IS_BETTER,
) -> DecayResult:
    """Judges the production model's metrics on current labelled data against its bar and its past.

    Args:
        current: the model's metrics on the current data (see :func:`score_current_data`).
        release: its metrics at release (the registry version's ``metrics``); None or empty if unknown.
        task: ``classification`` or ``regression``.
        task_gate: the gate's thresholds for ``task`` (``config.gate.for_task(task)``); None: none.
        max_drop: how much worse than at release the primary metric may get, in its own units.
        primary_metric: the metric compared with release; defaults to ``task_gate``'s primary metric.
        higher_is_better: each metric's direction.

    Raises:
        ConfigError: ``task`` is unknown or ``max_drop`` is not a finite number >= 0 (a caller's bug,
            not a verdict).
    """
    task = check_task(task)
    margin = None if isinstance(max_drop, str) else finite_or_none(max_drop)
    if margin is None or margin < 0:
        raise ConfigError(f"max_drop must be a finite number >= 0, got {max_drop!r}")
    primary = primary_metric or (None if task_gate is None else task_gate.primary_metric)
    now = _finite_metrics(current)
    then = None if not release else _finite_metrics(release)

    checks: list[tuple[bool, str]] = []
    notes: list[str] = []
    if task_gate is None:
        notes.append(f"no gate thresholds are configured for {task}: only the drop since release is checked")
    else:
        checks += [_threshold_check(t.metric, now.get(t.metric), t.min, t.max) for t in task_gate.thresholds]

    drop = None
    if primary is None:
        notes.append("no primary metric: the drop since release is not checked")
    elif primary not in higher_is_better:
        checks.append((False, f"fail: direction of the primary metric {primary} is unknown: cannot judge its drop"))
    elif now.get(primary) is None:
        checks.append(
            (
                False,
                f"fail: {primary} (primary) is missing or not a finite number on the current data: "
                "cannot compare it with its value at release",
            )
        )
    elif then is None or then.get(primary) is None:
        notes.append(
            f"{primary} at release is unknown (the version was registered without it): the drop since release "
            "is not checked"
        )
    else:
        value, past = now[primary], then[primary]
        better = higher_is_better[primary]
        drop = past - value if better else value - past
        direction = "higher is better" if better else "lower is better"
        if drop > margin + TIE_TOLERANCE:
            checks.append(
                (
                    False,
                    f"fail: {primary} {_show(value)} is {_show(drop)} worse than at release ({_show(past)}), "
                    f"more than max_drop {_show(margin)} ({direction})",
                )
            )
        elif drop > 0:
            checks.append(
                (
                    True,
                    f"pass: {primary} {_show(value)} is {_show(drop)} worse than at release ({_show(past)}), "
                    f"within max_drop {_show(margin)} ({direction})",
                )
            )
        else:
            checks.append(
                (True, f"pass: {primary} {_show(value)} is not worse than at release ({_show(past)}) ({direction})")
            )

    if not checks:
        notes.append(f"nothing could be checked for {task}: performance is not judged, and not called decay")
    return DecayResult(
        decay_detected=not all(ok for ok, _ in checks),
        reasons=tuple(reason for ok, reason in checks if not ok),
        checks=tuple(reason for _, reason in checks),
        notes=tuple(notes),
        task=task,
        primary_metric=primary,
        max_drop=margin,
        metrics=now,
        release_metrics=then,
        primary_drop=drop,
    )


def score_current_data(model: Any, frame: Any, target: str, task: str) -> dict[str, float]:
    """The production model's metrics on current labelled data (``frame`` holds ``target``).

    Raises:
        DataValidationError: the target is missing or unusable for ``task``; invalid data fails fast.
    """
    from shipyard.stages.evaluate import evaluate_model  # pandas and scikit-learn: imported when scoring

    return dict(evaluate_model(model, frame, target, task).metrics)
