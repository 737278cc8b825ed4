"""Recurring runs on a Kubeflow Pipelines server, through ``kfp.Client`` (the only module that does).

Reads what :func:`shipyard.schedules.plan_schedules` needs (pipelines, versions, experiments,
recurring runs) into shipyard's own types, and carries out a plan: creates first, then disables
and deletes what is retired, so a failure part-way leaves a duplicate that the next apply
removes, never a missing schedule.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import ConfigError, ShipyardError
from shipyard.schedules import Change, Plan, RecurringRun, Schedule, Target, parameter_problems, read_marker

PAGE_SIZE = 100


class KfpScheduleError(ShipyardError):
    """The KFP server refused or could not be reached; the message says which call and why."""


def connect(host: str, namespace: str | None = None, auth: str = "auto", kube_context: str | None = None) -> Any:
    """A ``kfp.Client`` for ``host`` (KFP's REST API), authenticated as ``shipyard upload`` is.

    The token comes from :func:`shipyard.adapters.kfp_client.resolve_token` (``auth``: auto, none,
    kubeconfig, serviceaccount); ``namespace`` is the profile namespace on a multi-user install.
    """
    import warnings

    import kfp

    from shipyard.adapters.kfp_client import resolve_token

    class _Client(kfp.Client):  # type: ignore[misc]
        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
            # kfp.Client tries 5 times, 5 s apart, then hides the cause (a 401, a refused connection)
            return self._healthz_api.healthz_service_get_healthz()

    token, credentials = resolve_token(auth, kube_context)
    with warnings.catch_warnings(), _calling(f"open a session at {host}"):
        warnings.filterwarnings("ignore", "This client only works with", FutureWarning)
        return _Client(host=host, namespace=namespace or "kubeflow", existing_token=token, credentials=credentials)


@contextlib.contextmanager
def _calling(what: str) -> Iterator[None]:
    """Turns the KFP client's HTTP and connection errors into one KfpScheduleError naming the call."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # kfp prints UI links on stdout; --json keeps it one object
            yield
    except ApiException as exc:
        detail = str(exc.body or exc.reason or "").strip()
        raise KfpScheduleError(f"KFP refused to {what}: HTTP {exc.status} {detail}".rstrip()) from None
    except HTTPError as exc:
        raise KfpScheduleError(f"cannot reach KFP to {what}: {exc}") from None


@dataclass
class KfpSchedules:
    """shipyard's view of one KFP server's pipelines and recurring runs."""

    client: Any  # kfp.Client
    namespace: str | None = None  # a profile namespace on a multi-user install
    _pipeline_ids: dict[str, str] = field(default_factory=dict)
    _experiment_ids: dict[str, str | None] = field(default_factory=dict)

    # --- reading -------------------------------------------------------------------------------

    def recurring_runs(self) -> tuple[RecurringRun, ...]:
        """Every recurring run the server lists (all experiments), shipyard's marked by their marker."""
        runs: list[RecurringRun] = []
        token = ""
        while True:
            with _calling("list recurring runs"):
                page = self.client.list_recurring_runs(page_token=token, page_size=PAGE_SIZE, namespace=self.namespace)
            for run in page.recurring_runs or ():
                runs.append(_recurring_run(run))
            token = page.next_page_token or ""
            if not token:
                return tuple(runs)

    def resolve(self, schedule: Schedule) -> Target:
        """The pipeline version ``schedule`` runs now: the newest for ``latest``, else the pinned name.

        Raises:
            ConfigError: the pipeline or the pinned version is not on the server (upload it first).
        """
        pipeline_id = self._pipeline_id(schedule)
        if schedule.follows_latest:
            with _calling(f"list versions of pipeline '{schedule.pipeline}'"):
                page = self.client.list_pipeline_versions(
                    pipeline_id=pipeline_id, page_size=1, sort_by="created_at desc"
                )  # the server's order: its tie-break between versions created in the same millisecond
            newest = list(page.pipeline_versions or ())
            if not newest:
                raise ConfigError(f"schedule '{schedule.name}': pipeline '{schedule.pipeline}' has no versions on KFP")
            chosen = newest[0]
        else:
            named = [v for v in self._versions(pipeline_id) if schedule.version in (v.display_name, v.name)]
            if not named:
                raise ConfigError(
                    f"schedule '{schedule.name}': field 'version': pipeline '{schedule.pipeline}' has no version "
                    f"named '{schedule.version}' on KFP; upload it, or use 'version: latest'"
                )
            chosen = named[0]
        spec = chosen.pipeline_spec
        if spec is None:  # a list answer may leave the spec out; the version itself has it
            with _calling(f"get pipeline version '{chosen.display_name}'"):
                spec = self.client.get_pipeline_version(pipeline_id, chosen.pipeline_version_id).pipeline_spec
        problems = parameter_problems(schedule, spec)
        if problems:
            raise ConfigError("; ".join(problems))
        return Target(
            schedule=schedule,
            pipeline_id=pipeline_id,
            pipeline_version_id=chosen.pipeline_version_id,
            pipeline_version_name=chosen.display_name or chosen.pipeline_version_id,
            experiment_id=self._experiment_id(schedule.experiment, create=False),
        )

    def _pipeline_id(self, schedule: Schedule) -> str:
        name = schedule.pipeline
        if name not in self._pipeline_ids:
            token = ""
            while name not in self._pipeline_ids:
                with _calling("list pipelines"):
                    page = self.client.list_pipelines(page_token=token, page_size=PAGE_SIZE, namespace=self.namespace)
                for pipeline in page.pipelines or ():
                    if name in (pipeline.display_name, pipeline.name):
                        self._pipeline_ids[name] = pipeline.pipeline_id
                        break
                token = page.next_page_token or ""
                if not token:
                    break
        if name not in self._pipeline_ids:
            raise ConfigError(
                f"schedule '{schedule.name}': field 'pipeline': no pipeline named '{name}' on KFP; "
                "upload it first (`shipyard upload`)"
            )
        return self._pipeline_ids[name]

    def _versions(self, pipeline_id: str) -> list[Any]:
        versions: list[Any] = []
        token = ""
        while True:
            with _calling("list pipeline versions"):
                page = self.client.list_pipeline_versions(
                    pipeline_id=pipeline_id, page_token=token, page_size=PAGE_SIZE
                )
            versions.extend(page.pipeline_versions or ())
            token = page.next_page_token or ""
            if not token:
                return versions

    def _experiment_id(self, name: str | None, create: bool) -> str | None:
        """The experiment's id; None for KFP's default experiment, or (dry run) one apply would create."""
        if name is None:
            return None
        if self._experiment_ids.get(name) is None:
            try:
                with _calling(f"look up experiment '{name}'"):
                    self._experiment_ids[name] = self.client.get_experiment(
                        experiment_name=name, namespace=self.namespace
                    ).experiment_id
            except ValueError:  # kfp.Client: no experiment with that name
                self._experiment_ids[name] = None
            if self._experiment_ids[name] is None and create:
                with _calling(f"create experiment '{name}'"):
                    self._experiment_ids[name] = self.client.create_experiment(
                        name=name, namespace=self.namespace
                    ).experiment_id
        return self._experiment_ids[name]

    # --- writing -------------------------------------------------------------------------------

    def create(self, target: Target) -> str:
        """Creates the recurring run for ``target`` (and its experiment when new); returns its id."""
        schedule = target.schedule
        experiment_id = target.experiment_id or self._experiment_id(schedule.experiment, create=True)
        with _calling(f"create recurring run '{schedule.name}'"):
            created = self.client.create_recurring_run(
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
            with _calling(f"disable recurring run '{run.name}' ({run.id})"):
                self.client.disable_recurring_run(run.id)
        with _calling(f"delete recurring run '{run.name}' ({run.id})"):
            self.client.delete_recurring_run(run.id)


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
