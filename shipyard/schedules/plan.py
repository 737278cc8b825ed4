"""The reconcile plan: declared schedules against the recurring runs a KFP server has. Pure, no I/O.

KFP cannot update a recurring run, so a changed schedule is *replaced*: the new run is created
first, then the old one is disabled and deleted (a failure in between leaves a duplicate, never
a gap, and the next apply removes the duplicate).

Which runs are shipyard's: a run shipyard creates carries a marker line in its description,
``shipyard-schedule: {"schedule": NAME, "fingerprint": "sha256:…"}`` (KFP recurring runs have no
labels; the description is their only free field). Only marked runs are ever replaced or pruned;
an unmarked run that uses a declared name is a conflict, and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.schedules.spec import Schedule, fingerprint

MARKER_PREFIX = "shipyard-schedule: "

Action = Literal["create", "replace", "keep", "prune", "unlisted"]


@dataclass(frozen=True)
class Marker:
    """What shipyard wrote on a recurring run it created."""

    schedule: str
    fingerprint: str


@dataclass(frozen=True)
class RecurringRun:
    """A recurring run as the server reports it, in shipyard's terms."""

    id: str
    name: str  # display name
    enabled: bool
    pipeline_version_id: str | None = None
    marker: Marker | None = None  # None: shipyard did not create it

    @property
    def managed(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True)
class Target:
    """A declared schedule resolved against the server: the pipeline version it runs now."""

    schedule: Schedule
    pipeline_id: str
    pipeline_version_id: str
    pipeline_version_name: str
    experiment_id: str | None = None  # None: KFP's default experiment, or one apply creates

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.schedule, self.pipeline_version_id)

    def description(self) -> str:
        """The run's description: the schedule's own text, then shipyard's marker line."""
        marker = json.dumps({"schedule": self.schedule.name, "fingerprint": self.fingerprint}, sort_keys=True)
        own = self.schedule.description.strip()
        return (own + "\n" if own else "") + MARKER_PREFIX + marker


def read_marker(description: str | None) -> Marker | None:
    """shipyard's marker from a recurring run's description; None for runs shipyard did not create."""
    for line in reversed((description or "").splitlines()):
        if not line.startswith(MARKER_PREFIX):
            continue
        try:
            data = json.loads(line[len(MARKER_PREFIX) :])
        except json.JSONDecodeError:
            return None
        if (
            isinstance(data, dict)
            and isinstance(data.get("schedule"), str)
            and isinstance(data.get("fingerprint"), str)
        ):
            return Marker(schedule=data["schedule"], fingerprint=data["fingerprint"])
        return None
    return None


@dataclass(frozen=True)
class Change:
    """What apply does for one schedule name.

    ``create``: a run is created from ``target``. ``retire``: runs to disable and delete (the
    replaced run, duplicates, or the pruned run). ``unlisted`` runs are reported, not touched.
    """

    action: Action
    name: str
    reason: str
    target: Target | None = None
    retire: tuple[RecurringRun, ...] = ()

    @property
    def creates(self) -> bool:
        return self.action in ("create", "replace")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "name": self.name,
            "reason": self.reason,
            "pipeline_version": None if self.target is None else self.target.pipeline_version_name,
            "pipeline_version_id": None if self.target is None else self.target.pipeline_version_id,
            "fingerprint": None if self.target is None else self.target.fingerprint,
            "retire": [run.id for run in self.retire],
        }


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    conflicts: tuple[str, ...] = ()  # one message per unmarked run that uses a declared name

    @property
    def writes(self) -> bool:
        return any(change.creates or change.retire for change in self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [change.to_dict() for change in self.changes],
            "conflicts": list(self.conflicts),
            "summary": {action: self.count(action) for action in ("create", "replace", "keep", "prune", "unlisted")},
        }


def plan_schedules(targets: tuple[Target, ...], existing: tuple[RecurringRun, ...], prune: bool = False) -> Plan:
    """What to create, replace, keep and (with ``prune``) delete so the server matches ``targets``.

    A declared schedule is kept when one of shipyard's runs for its name has the same fingerprint
    and the declared enabled state; every other shipyard run for that name is retired.
    """
    by_schedule: dict[str, list[RecurringRun]] = {}
    for run in existing:
        if run.marker is not None:
            by_schedule.setdefault(run.marker.schedule, []).append(run)
    declared = {target.schedule.name for target in targets}
    conflicts = tuple(
        f"recurring run '{run.name}' (id {run.id}) was not created by shipyard but has the name of a declared "
        "schedule; rename the schedule or delete that run in Kubeflow"
        for run in existing
        if run.marker is None and run.name in declared
    )
    changes = [_change(target, tuple(by_schedule.get(target.schedule.name, ()))) for target in targets]
    for name in sorted(set(by_schedule) - declared):
        runs = tuple(by_schedule[name])
        if prune:
            changes.append(Change("prune", name, "not declared in the file", retire=runs))
        else:
            changes.append(Change("unlisted", name, "not declared in the file; --prune deletes it"))
    return Plan(changes=tuple(changes), conflicts=conflicts)


def _change(target: Target, runs: tuple[RecurringRun, ...]) -> Change:
    name = target.schedule.name
    if not runs:
        return Change("create", name, "not on the server", target=target)
    matching = [run for run in runs if _matches(target, run)]
    if matching:
        keeper = matching[0]
        extra = tuple(run for run in runs if run is not keeper)
        reason = "up to date" + (f"; deletes {len(extra)} stale duplicate(s)" if extra else "")
        return Change("keep", name, reason, target=target, retire=extra)
    return Change("replace", name, _why_replaced(target, runs[0]), target=target, retire=runs)


def _matches(target: Target, run: RecurringRun) -> bool:
    assert run.marker is not None
    return run.marker.fingerprint == target.fingerprint and run.enabled == target.schedule.enabled


def _why_replaced(target: Target, run: RecurringRun) -> str:
    if run.pipeline_version_id is not None and run.pipeline_version_id != target.pipeline_version_id:
        if target.schedule.follows_latest:
            return f"a newer pipeline version is the latest: {target.pipeline_version_name}"
        return f"pinned to another pipeline version: {target.pipeline_version_name}"
    assert run.marker is not None
    if run.marker.fingerprint == target.fingerprint:
        state = "enabled" if target.schedule.enabled else "disabled"
        return f"declared {state}, but {'enabled' if run.enabled else 'disabled'} on the server"
    return "declaration changed"
