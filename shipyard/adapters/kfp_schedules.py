"""Recurring runs on a Kubeflow Pipelines server, through :class:`~shipyard.adapters.kfp_client.KfpConnection`.

Reads what :func:`shipyard.schedules.plan_schedules` needs (pipelines, versions, experiments,
recurring runs) into shipyard's own types, and carries out a plan: creates first, then disables
and deletes what is retired, so a failure part-way leaves a duplicate that the next apply
removes, never a missing schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.adapters.kfp_client import KfpConnection, KfpNotFound
from shipyard.errors import ConfigError
from shipyard.pipeline_ir import parameter_problems
from shipyard.schedules import Change, Plan, RecurringRun, Schedule, Target, read_marker

PAGE_SIZE = 100


@dataclass
class KfpSchedules:
    """shipyard's view of one KFP server's recurring runs.

    Connecting, auth, error translation (a login page included) and pipeline / version / experiment
    lookups are :class:`~shipyard.adapters.kfp_client.KfpConnection`'s; this class adds recurring runs.
    """

    connection: KfpConnection
    _experiment_ids: dict[str, str | None] = field(default_factory=dict)

    @property
    def namespace(self) -> str | None:
        return self.connection.namespace

    # --- reading -------------------------------------------------------------------------------

    def recurring_runs(self) -> tuple[RecurringRun, ...]:
        """Every recurring run the server lists (all experiments), shipyard's marked by their marker."""
        runs: list[RecurringRun] = []
        token = ""
        while True:
            with self.connection.calls("list recurring runs"):
                page = self.connection.client.list_recurring_runs(
                    page_token=token, page_size=PAGE_SIZE, namespace=self.namespace
                )
            for run in page.recurring_runs or ():
                runs.append(_recurring_run(run))
            token = page.next_page_token or ""
            if not token:
                return tuple(runs)

    def resolve(self, schedule: Schedule) -> Target:
        """The pipeline version ``schedule`` runs now: the newest for ``latest``, else the pinned name.

        Raises:
            ConfigError: the pipeline or the pinned version is not on the server (upload it first), or
                the schedule's parameters do not fit that version's inputs.
        """
        pipeline_id = self.connection.find_pipeline_id(schedule.pipeline)
        if pipeline_id is None:
            raise ConfigError(
                f"schedule '{schedule.name}': field 'pipeline': no pipeline named '{schedule.pipeline}' on KFP; "
                "upload it first (`shipyard upload`)"
            )
        try:
            ref = self.connection.find_version(schedule.pipeline, schedule.version, pipeline_id=pipeline_id)
        except KfpNotFound as exc:
            hint = "" if schedule.follows_latest else "; or use 'version: latest'"
            raise ConfigError(f"schedule '{schedule.name}': field 'version': {exc}{hint}") from None
        where = f"schedule '{schedule.name}': field 'parameters'"
        problems = parameter_problems(self.connection.version_pipeline(ref), schedule.parameters)
        if problems:
            raise ConfigError("; ".join(f"{where}: {problem}" for problem in problems))
        return Target(
            schedule=schedule,
            pipeline_id=pipeline_id,
            pipeline_version_id=ref.version_id,
            pipeline_version_name=ref.version_name or ref.version_id,
            experiment_id=self._experiment_id(schedule.experiment, create=False),
        )

    def _experiment_id(self, name: str | None, create: bool) -> str | None:
        """The experiment's id; None for KFP's default experiment, or (dry run) one apply would create."""
        if name is None:
            return None
        if self._experiment_ids.get(name) is None:
            self._experiment_ids[name] = self.connection.find_experiment_id(name)
            if self._experiment_ids[name] is None and create:
                self._experiment_ids[name] = self.connection.experiment_id(name, create=True)
        return self._experiment_ids[name]

    # --- writing -------------------------------------------------------------------------------

    def create(self, target: Target) -> str:
        """Creates the recurring run for ``target`` (and its experiment when new); returns its id."""
        schedule = target.schedule
        experiment_id = target.experiment_id or self._experiment_id(schedule.experiment, create=True)
        with self.connection.calls(f"create recurring run '{schedule.name}'"):
            created = self.connection.client.create_recurring_run(
                experiment_id=experiment_id,
                job_name=schedule.name,
                description=target.description(),
                cron_expression=schedule.cron,
                max_concurrency=schedule.max_concurrency,
                no_catchup=not schedule.catchup,
                params=dict(schedule.parameters),
                pipeline_id=target.pipeline_id,
                version_id=target.pipeline_version_id,
                enabled=schedule.enabled,
            )
        return str(created.recurring_run_id)

    def retire(self, run: RecurringRun) -> None:
        """Disables, then deletes ``run`` (disable first, so it starts nothing while going away)."""
        if run.enabled:
            with self.connection.calls(f"disable recurring run '{run.name}' ({run.id})"):
                self.connection.client.disable_recurring_run(run.id)
        with self.connection.calls(f"delete recurring run '{run.name}' ({run.id})"):
            self.connection.client.delete_recurring_run(run.id)


def _recurring_run(run: Any) -> RecurringRun:
    reference = run.pipeline_version_reference
    version_id = (reference.pipeline_version_id if reference is not None else None) or run.pipeline_version_id
    return RecurringRun(
        id=run.recurring_run_id,
        name=run.display_name or "",
        enabled=run.status != "DISABLED" and run.mode != "DISABLE",
        pipeline_version_id=version_id,
        marker=read_marker(run.description),
    )


def read_state(
    kfp: KfpSchedules, schedules: tuple[Schedule, ...]
) -> tuple[tuple[Target, ...], tuple[RecurringRun, ...]]:
    """Resolves every schedule and lists the server's recurring runs (reads only)."""
    targets = tuple(kfp.resolve(schedule) for schedule in schedules)
    return targets, kfp.recurring_runs()


def apply_plan(kfp: KfpSchedules, plan: Plan, report: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Carries out ``plan``: every create, then every retirement. Returns schedule name → new run id."""
    created: dict[str, str] = {}
    for change in plan.changes:
        if change.creates:
            assert change.target is not None
            created[change.name] = kfp.create(change.target)
            report(f"  created recurring run {created[change.name]} for {change.name}")
    for change in plan.changes:
        for run in change.retire:
            kfp.retire(run)
            report(f"  disabled and deleted {_retired_what(change)} recurring run {run.id} ({run.name})")
    return created


def _retired_what(change: Change) -> str:
    return {"replace": "the replaced", "prune": "the pruned"}.get(change.action, "a duplicate")
