"""`shipyard schedule`: recurring runs declared in a YAML file, reconciled with a KFP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shipyard.cli._common import emit_json, fail, json_option, reports_errors, status
from shipyard.cli._kfp import connect, server_options

_DONE = {"create": "created", "replace": "replaced", "keep": "kept", "prune": "pruned", "unlisted": "unlisted"}
_WOULD = {"create": "would create", "replace": "would replace", "keep": "keep", "prune": "would prune"}


@click.group("schedule")
def schedule() -> None:
    """Recurring runs as code: declare schedules in YAML, apply them to Kubeflow Pipelines.

    \b
    Examples:
      shipyard schedule apply schedules/training.yaml --host http://localhost:8080 --dry-run
      shipyard schedule apply schedules/training.yaml --host http://localhost:8080
      shipyard schedule apply schedules/ --host http://localhost:8080 --prune
      shipyard schedule list --host http://localhost:8080
    """


@schedule.command("apply")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@server_options
@click.option("--dry-run", is_flag=True, help="Print the plan; call nothing that writes.")
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete recurring runs shipyard created that PATH does not declare (never others). Pass the "
    "file or folder that declares all of shipyard's schedules on this server. Refused when PATH declares no "
    "schedules at all, unless --allow-empty is given.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="With --prune and a PATH that declares no schedules: delete every recurring run shipyard created.",
)
@json_option
@reports_errors
def apply_command(
    path: Path,
    host: str,
    namespace: str | None,
    auth: str,
    kube_context: str | None,
    dry_run: bool,
    prune: bool,
    allow_empty: bool,
    as_json: bool,
) -> None:
    """Make KFP's recurring runs match the schedules in PATH (a file, or a folder of *.yaml files).

    Creates what is missing, replaces what changed (KFP cannot update a recurring run: the new
    one is created, then the old one disabled and deleted), keeps what matches. `version: latest`
    resolves to the pipeline's newest version now, so upload + apply moves the schedule. Runs
    shipyard created carry a `shipyard-schedule:` line in their description; only those are
    replaced or pruned. Every file is validated (cron included) before any call to KFP. --prune with
    a PATH that declares no schedules (`schedules: []`) would delete all of shipyard's recurring runs;
    it is refused unless --allow-empty says that is meant.

    \b
    Examples:
      shipyard schedule apply schedules/training.yaml --host http://localhost:8080 --dry-run
      shipyard schedule apply schedules/ --host http://localhost:8080 --prune --json
    """
    from shipyard.adapters.kfp_schedules import KfpSchedules, apply_plan, read_state
    from shipyard.schedules import load_schedules, plan_schedules

    schedules = _load_all(path, load_schedules)
    if prune and not schedules and not allow_empty:
        fail(
            f"'{path}' declares no schedules, so --prune would delete every recurring run shipyard created; "
            "pass --allow-empty if that is meant"
        )
    kfp = KfpSchedules(connect(host, namespace, auth, kube_context))
    targets, existing = read_state(kfp, schedules)
    plan = plan_schedules(targets, existing, prune=prune)
    if plan.conflicts:
        fail("; ".join(plan.conflicts))
    created: dict[str, str] = {}
    if not dry_run and plan.writes:
        created = apply_plan(kfp, plan, report=status)
    if as_json:
        emit_json({"status": "ok", "host": host, "dry_run": dry_run, **plan.to_dict(), "created": created})
        return
    words = _WOULD if dry_run else _DONE
    for change in plan.changes:
        version = f"  [{change.target.pipeline_version_name}]" if change.target is not None else ""
        click.echo(f"{words.get(change.action, change.action):<14} {change.name}{version}  ({change.reason})")
    summary = ", ".join(f"{plan.count(action)} {_DONE[action]}" for action in ("create", "replace", "keep", "prune"))
    click.echo(("dry run, nothing written: " if dry_run else "") + summary)


@schedule.command("list")
@server_options
@json_option
@reports_errors
def list_command(host: str, namespace: str | None, auth: str, kube_context: str | None, as_json: bool) -> None:
    """List the server's recurring runs, marking those shipyard manages.

    \b
    Example:
      shipyard schedule list --host http://localhost:8080
    """
    from shipyard.adapters.kfp_schedules import KfpSchedules

    runs = KfpSchedules(connect(host, namespace, auth, kube_context)).recurring_runs()
    rows: list[dict[str, Any]] = [
        {
            "id": run.id,
            "name": run.name,
            "enabled": run.enabled,
            "pipeline_version_id": run.pipeline_version_id,
            "managed_by_shipyard": run.managed,
            "schedule": run.marker.schedule if run.marker else None,
            "fingerprint": run.marker.fingerprint if run.marker else None,
        }
        for run in runs
    ]
    if as_json:
        emit_json({"status": "ok", "host": host, "recurring_runs": rows})
        return
    if not rows:
        click.echo("no recurring runs")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        owner = f"shipyard ({row['fingerprint']})" if row["managed_by_shipyard"] else "not shipyard's"
        click.echo(f"{row['name']:<32} {state:<9} {row['id']}  {owner}")


def _load_all(path: Path, load: Any) -> tuple[Any, ...]:
    """The schedules in ``path``: one file, or every *.yaml / *.yml file in a folder (names unique across them)."""
    from shipyard.errors import ConfigError

    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    if not files:
        fail(f"no *.yaml schedules files in '{path}'")
    schedules: list[Any] = []
    origin: dict[str, Path] = {}
    for file in files:
        for entry in load(file):
            if entry.name in origin:
                raise ConfigError(f"schedule '{entry.name}' is declared in both '{origin[entry.name]}' and '{file}'")
            origin[entry.name] = file
            schedules.append(entry)
    return tuple(schedules)
