"""The reconcile plan: pure, so every case is a few lines of data."""

from __future__ import annotations

import dataclasses

from shipyard.schedules import Marker, RecurringRun, Schedule, Target, plan_schedules, read_marker
from shipyard.schedules.plan import MARKER_PREFIX


def target(name: str = "nightly", cron: str = "0 0 2 * * *", version_id: str = "v1", **fields: object) -> Target:
    schedule = Schedule(name=name, pipeline="shipyard-training", cron=cron, **fields)  # type: ignore[arg-type]
    return Target(schedule=schedule, pipeline_id="p1", pipeline_version_id=version_id, pipeline_version_name=version_id)


def created_from(declared: Target, run_id: str = "r1", enabled: bool | None = None) -> RecurringRun:
    """The run apply would have created for ``declared``, as the server lists it."""
    return RecurringRun(
        id=run_id,
        name=declared.schedule.name,
        enabled=declared.schedule.enabled if enabled is None else enabled,
        pipeline_version_id=declared.pipeline_version_id,
        marker=read_marker(declared.description()),
    )


def actions(plan: object) -> list[tuple[str, str, list[str]]]:
    return [(change.action, change.name, [run.id for run in change.retire]) for change in plan.changes]  # type: ignore[attr-defined]


def test_the_marker_round_trips_through_the_description() -> None:
    declared = target(description="Retrain nightly.")
    text = declared.description()
    assert text.startswith("Retrain nightly.\n" + MARKER_PREFIX)
    assert read_marker(text) == Marker(schedule="nightly", fingerprint=declared.fingerprint)


def test_runs_without_a_marker_are_not_shipyards() -> None:
    assert read_marker(None) is None
    assert read_marker("made in the UI") is None
    assert read_marker(MARKER_PREFIX + "not json") is None
    assert read_marker(MARKER_PREFIX + '{"schedule": 1, "fingerprint": "x"}') is None


def test_missing_schedules_are_created() -> None:
    plan = plan_schedules((target(),), ())
    assert actions(plan) == [("create", "nightly", [])]
    assert plan.writes and plan.changes[0].creates


def test_a_second_apply_keeps_everything() -> None:
    declared = (target("a"), target("b", cron="0 30 * * * *"))
    existing = tuple(created_from(t, run_id=f"id-{t.schedule.name}") for t in declared)
    plan = plan_schedules(declared, existing, prune=True)
    assert actions(plan) == [("keep", "a", []), ("keep", "b", [])]
    assert not plan.writes


def test_a_changed_cron_replaces_exactly_that_schedule() -> None:
    old = (target("a"), target("b"))
    existing = tuple(created_from(t, run_id=f"id-{t.schedule.name}") for t in old)
    plan = plan_schedules((target("a"), target("b", cron="0 0 3 * * *")), existing)
    assert actions(plan) == [("keep", "a", []), ("replace", "b", ["id-b"])]
    assert plan.changes[1].reason == "declaration changed"


def test_latest_moves_to_a_newer_version() -> None:
    existing = (created_from(target(version_id="v1")),)
    plan = plan_schedules((target(version_id="v2"),), existing)
    assert actions(plan) == [("replace", "nightly", ["r1"])]
    assert plan.changes[0].reason == "a newer pipeline version is the latest: v2"


def test_a_pinned_schedule_moves_only_with_its_pin() -> None:
    pinned = target(version="v1", version_id="v1")
    assert actions(plan_schedules((pinned,), (created_from(pinned),))) == [("keep", "nightly", [])]
    repinned = target(version="v2", version_id="v2")
    plan = plan_schedules((repinned,), (created_from(pinned),))
    assert actions(plan) == [("replace", "nightly", ["r1"])]
    assert plan.changes[0].reason == "pinned to another pipeline version: v2"


def test_a_run_disabled_on_the_server_is_replaced_by_the_declared_state() -> None:
    declared = target()
    plan = plan_schedules((declared,), (created_from(declared, enabled=False),))
    assert actions(plan) == [("replace", "nightly", ["r1"])]
    assert plan.changes[0].reason == "declared enabled, but disabled on the server"


def test_undeclared_runs_are_pruned_only_with_prune() -> None:
    existing = (created_from(target("gone"), run_id="id-gone"),)
    assert actions(plan_schedules((), existing)) == [("unlisted", "gone", [])]
    assert not plan_schedules((), existing).writes
    assert actions(plan_schedules((), existing, prune=True)) == [("prune", "gone", ["id-gone"])]


def test_runs_shipyard_did_not_create_are_never_pruned() -> None:
    foreign = RecurringRun(id="ui-1", name="made-in-the-ui", enabled=True, pipeline_version_id="v1")
    plan = plan_schedules((), (foreign,), prune=True)
    assert plan.changes == () and plan.conflicts == () and not plan.writes


def test_a_foreign_run_with_a_declared_name_is_a_conflict() -> None:
    foreign = RecurringRun(id="ui-1", name="nightly", enabled=True)
    plan = plan_schedules((target(),), (foreign,), prune=True)
    assert len(plan.conflicts) == 1
    assert "'nightly' (id ui-1) was not created by shipyard" in plan.conflicts[0]
    assert actions(plan) == [("create", "nightly", [])]  # the foreign run is never retired


def test_duplicates_left_by_an_interrupted_replace_are_cleaned_up() -> None:
    old, new = target(cron="0 0 1 * * *"), target()
    existing = (created_from(old, run_id="old"), created_from(new, run_id="new"))
    plan = plan_schedules((new,), existing)
    assert actions(plan) == [("keep", "nightly", ["old"])]
    assert plan.writes and "1 stale duplicate" in plan.changes[0].reason


def test_a_renamed_run_is_matched_by_its_marker_not_its_display_name() -> None:
    declared = target()
    renamed = dataclasses.replace(created_from(declared), name="renamed-in-the-ui")
    assert actions(plan_schedules((declared,), (renamed,))) == [("keep", "nightly", [])]


def test_the_plan_as_json() -> None:
    declared = target()
    plan = plan_schedules((declared,), (created_from(target(cron="0 0 1 * * *")),))
    data = plan.to_dict()
    assert data["summary"] == {"create": 0, "replace": 1, "keep": 0, "prune": 0, "unlisted": 0}
    assert data["changes"][0] == {
        "action": "replace",
        "name": "nightly",
        "reason": "declaration changed",
        "pipeline_version": "v1",
        "pipeline_version_id": "v1",
        "fingerprint": declared.fingerprint,
        "retire": ["r1"],
    }
