"""`shipyard upload` and `shipyard submit`: a pipeline onto a Kubeflow Pipelines server, and runs of it."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import click

from shipyard.cli._common import emit_json, fail, json_option, reports_errors, status
from shipyard.cli._kfp import compiled_pipeline, connect, resources_option, server_options


@click.command("upload")
@click.argument("pipeline")
@server_options
@resources_option
@json_option
@reports_errors
def upload(
    pipeline: str,
    host: str,
    namespace: str | None,
    auth: str,
    kube_context: str | None,
    resources_file: Path | None,
    as_json: bool,
) -> None:
    """Upload PIPELINE (training, monitoring, segments, or a compiled YAML file) with a version named from its content.

    The pipeline is created on the server if missing; the version is named
    <pipeline>-<first 12 hex digits of the sha256 of the compiled IR>. Uploading the same content again
    changes nothing (and says so); changed content adds a new version; `compile --kubernetes-manifests`
    names the same IR the same way. A pipeline given by name is compiled with --resources as
    `shipyard compile` would. Auth: see --auth.

    \b
    Examples:
      shipyard upload training --host http://127.0.0.1:8080
      shipyard upload training --resources resources.yaml --host http://127.0.0.1:8080
      shipyard compile --out compiled/ && shipyard upload compiled/monitoring.yaml --host $KFP --json
      SHIPYARD_KFP_TOKEN=$(kubectl create token default-editor -n team-a) \\
        shipyard upload training --host https://kubeflow.example.com/pipeline --namespace team-a
    """
    with compiled_pipeline(pipeline, resources_file) as (ir, package):
        connection = connect(host, namespace, auth, kube_context)
        result = connection.upload(ir, package)
    version = result.version
    outcome = "unchanged" if not result.changed else ("created" if result.created_pipeline else "uploaded")
    if as_json:
        emit_json(
            {
                "status": outcome,
                "changed": result.changed,
                "pipeline": version.pipeline_name,
                "pipeline_id": version.pipeline_id,
                "version": version.version_name,
                "version_id": version.version_id,
                "host": connection.host,
            }
        )
        return
    if outcome == "unchanged":
        click.echo(f"unchanged: {version.pipeline_name} version {version.version_name} is already on {connection.host}")
    elif outcome == "created":
        click.echo(f"created pipeline {version.pipeline_name} with version {version.version_name} on {connection.host}")
    else:
        click.echo(f"uploaded {version.pipeline_name} version {version.version_name} to {connection.host}")
    click.echo(f"  pipeline id {version.pipeline_id}\n  version id  {version.version_id}")


@click.command("submit")
@click.argument("pipeline")
@server_options
@resources_option
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A pipeline parameter (repeatable), typed from the pipeline's declared inputs; unknown names are refused.",
)
@click.option(
    "--experiment", default=None, help="Experiment to file the run under (created if missing; default: KFP's)."
)
@click.option(
    "--version",
    "version",
    default=None,
    metavar="NAME|latest",
    help="Run this version already on the server, or the newest one. Default: the version of the local "
    "pipeline's content, uploaded first if the server does not have it.",
)
@click.option("--run-name", default=None, help="Run display name (default: <pipeline> <UTC time>).")
@click.option("--wait", is_flag=True, help="Wait for the run to finish; state changes go to stderr.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=3600.0, show_default=True, help="Seconds --wait waits."
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between state checks while waiting.",
)
@json_option
@reports_errors
def submit(
    pipeline: str,
    host: str,
    namespace: str | None,
    auth: str,
    kube_context: str | None,
    resources_file: Path | None,
    params: tuple[str, ...],
    experiment: str | None,
    version: str | None,
    run_name: str | None,
    wait: bool,
    timeout: float,
    poll_interval: float,
    as_json: bool,
) -> None:
    """Start a run of PIPELINE (training, monitoring, segments, or a compiled YAML file) on Kubeflow Pipelines.

    Parameters are checked against the pipeline's declared inputs before anything is sent (with --version,
    against that version's inputs as stored on the server). Without --wait the command returns once the
    run is created. With --wait it prints each state change on stderr and exits 0 only if the run
    SUCCEEDED (1 if it failed, was canceled or skipped, or --timeout passed; the run itself continues).
    A pipeline given by name is compiled with --resources as `shipyard compile` would.

    \b
    Examples:
      shipyard submit training --host http://127.0.0.1:8080 \\
        --param data_uri=s3://shipyard/data/churn.csv --param target=churned --wait
      shipyard submit monitoring --host $KFP --version latest --experiment nightly \\
        --param data_uri=s3://shipyard/data/new.csv --param model_name=churn --json
      shipyard submit segments --host $KFP --param data_uri=s3://shipyard/data/churn.csv \\
        --param target=churned --param model_name=churn --param segment_by=region
      shipyard runs get RUN_ID --host $KFP   # follow a run later
    """
    from shipyard.pipeline_ir import typed_parameters

    with compiled_pipeline(pipeline, resources_file) as (ir, package):
        if version is None:
            values = typed_parameters(ir, params)  # before any request: a typo costs nothing
            connection = connect(host, namespace, auth, kube_context)
            uploaded = connection.upload(ir, package)
            ref = uploaded.version
            if uploaded.changed:
                status(f"uploaded {ref.pipeline_name} version {ref.version_name}")
        else:
            connection = connect(host, namespace, auth, kube_context)
            ref = connection.find_version(ir.name, version)
            values = typed_parameters(connection.version_pipeline(ref), params)
    experiment_id = connection.experiment_id(experiment) if experiment else None
    name = run_name or f"{ref.pipeline_name} {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S}"
    run = connection.create_run(ref, name, values, experiment_id)
    status(f"run {run.run_id} of {ref.pipeline_name} version {ref.version_name}: {run.state}")
    status(f"  {connection.run_link(run.run_id)}")
    if wait:
        run = _wait(connection, run.run_id, run.state, timeout, poll_interval)
    outcome = run.state.lower() if wait else "submitted"
    if as_json:
        emit_json(
            {"status": outcome, "version": ref.version_name, "link": connection.run_link(run.run_id), **run.to_dict()}
        )
    else:
        click.echo(f"{run.run_id} {run.state}" + (f": {run.error}" if run.error else ""))
    if wait and run.state != "SUCCEEDED":
        sys.exit(1)


def _wait(connection: Any, run_id: str, state: str, timeout: float, poll_interval: float) -> Any:
    """Polls the run until it finishes; a line on stderr per state change. Raises CliError on timeout."""
    started = time.monotonic()
    last = state
    while True:
        run = connection.get_run(run_id)
        elapsed = time.monotonic() - started
        if run.state != last:
            status(f"run {run_id}: {run.state} after {elapsed:.0f}s")
            last = run.state
        if run.finished:
            return run
        if elapsed >= timeout:
            fail(
                f"run {run_id} is still {run.state} after {timeout:g}s (--timeout); it continues on the cluster: "
                f"follow it with `shipyard runs get {run_id}`"
            )
        time.sleep(poll_interval)
