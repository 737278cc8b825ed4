"""`shipyard runs list|get`: runs on a Kubeflow Pipelines server."""

from __future__ import annotations

import json

import click

from shipyard.cli._common import emit_json, json_option, reports_errors
from shipyard.cli._kfp import connect, server_options


@click.group("runs")
def runs() -> None:
    """Runs on a Kubeflow Pipelines server (see also `shipyard submit`).

    \b
    Examples:
      shipyard runs list --host http://127.0.0.1:8080 --limit 5
      shipyard runs list --host $KFP --experiment nightly --json
      shipyard runs get 3f0c9a4e-... --host $KFP
    """


@runs.command("list")
@server_options
@click.option("--experiment", default=None, help="Only the runs of this experiment (by name).")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True, help="At most this many.")
@json_option
@reports_errors
def list_runs(
    host: str,
    namespace: str | None,
    auth: str,
    kube_context: str | None,
    experiment: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest runs first: id, state, created, name.

    \b
    Examples:
      shipyard runs list --host http://127.0.0.1:8080
      shipyard runs list --host $KFP --experiment nightly --limit 50 --json
    """
    connection = connect(host, namespace, auth, kube_context)
    experiment_id = connection.experiment_id(experiment, create=False) if experiment else None
    found = connection.list_runs(experiment_id=experiment_id, limit=limit)
    if as_json:
        emit_json({"status": "ok", "host": connection.host, "runs": [run.to_dict() for run in found]})
        return
    if not found:
        click.echo(f"no runs on {connection.host}" + (f" in experiment '{experiment}'" if experiment else ""))
        return
    rows = [(run.run_id, run.state, run.created_at[:19].replace("T", " "), run.name) for run in found]
    widths = [
        max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(("RUN ID", "STATE", "CREATED"))
    ]
    click.echo(f"{'RUN ID':<{widths[0]}}  {'STATE':<{widths[1]}}  {'CREATED':<{widths[2]}}  NAME")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


@runs.command("get")
@click.argument("run_id")
@server_options
@json_option
@reports_errors
def get_run(run_id: str, host: str, namespace: str | None, auth: str, kube_context: str | None, as_json: bool) -> None:
    """One run: state, parameters, error and state history.

    \b
    Examples:
      shipyard runs get 3f0c9a4e-... --host http://127.0.0.1:8080
      shipyard runs get 3f0c9a4e-... --host $KFP --json | jq .state
    """
    connection = connect(host, namespace, auth, kube_context)
    run = connection.get_run(run_id)
    if as_json:
        emit_json({"status": "ok", "link": connection.run_link(run.run_id), **run.to_dict()})
        return
    click.echo(f"run        {run.run_id}")
    click.echo(f"name       {run.name}")
    click.echo(f"state      {run.state}" + (f": {run.error}" if run.error else ""))
    click.echo(f"created    {run.created_at}")
    if run.finished_at:
        click.echo(f"finished   {run.finished_at}")
    click.echo(f"experiment {run.experiment_id}")
    click.echo(f"pipeline   {run.pipeline_id} version {run.version_id}")
    if run.recurring_run_id:
        click.echo(f"recurring  {run.recurring_run_id}")
    click.echo(f"link       {connection.run_link(run.run_id)}")
    if run.parameters:
        click.echo("parameters")
        for name, value in sorted(run.parameters.items()):
            click.echo(f"  {name} = {json.dumps(value)}")
    if run.state_history:
        click.echo("history")
        for time, state in run.state_history:
            click.echo(f"  {time}  {state}")
