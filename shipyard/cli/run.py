"""`shipyard run`: pipelines on this machine under kfp.local."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shipyard.cli._common import (
    absolute_uri,
    default_model_name,
    emit_json,
    fail,
    format_metrics,
    json_option,
    normalise_store,
    read_config_file,
    reports_errors,
    status,
    store_option,
)
from shipyard.findings import hints
from shipyard.store.uri import StoreURI
from shipyard.vocabulary import PRODUCTION, TASK_CHOICES

if TYPE_CHECKING:  # imported where used: --help stays fast
    import pandas as pd

    from shipyard.store.registry import ModelVersion


@click.group()
def run() -> None:
    """Run a pipeline on this machine (kfp.local, no cluster needed).

    Segments (--segment-by COLUMN, or segments.column in the config): one model per value of
    COLUMN, each a registry model MODEL--VALUE with its own champion, gate, smoke test and
    aliases, delivered in parallel; values with fewer than segments.min_rows rows (or not in
    segments.allow) are skipped with the reason. A failed or rejected segment leaves the others
    alone. Exit status 1 when any segment failed (status partial or failed); --json has a
    "segments" list (segment, status, blessed, version, metrics, reasons) and "totals".

    \b
    Examples:
      shipyard run training --data churn.csv --target churned --model churn
      shipyard run training --data churn.csv --target churned --model churn --segment-by region
      shipyard run monitoring --data this-week.csv --model churn
      shipyard run monitoring --model churn --from-traffic --since 7d
    """


def _progress(name: str, state: str, seconds: float, detail: str = "") -> None:
    """One line on stderr per finished (or retried) task, so stdout stays one JSON object with --json."""
    if state == "started":
        return
    if state == "RETRYING":
        status(f"  [  retry] {name}: {detail}")
        return
    mark = "ok" if state == "SUCCESS" else state.lower()
    status(f"  [{mark:>7}] {name} ({seconds:.1f}s)")


def _exit_interrupted(summary: dict[str, Any], aliases: dict[str, int]) -> None:
    """Reports an interrupted run on stderr (the summary is already out) and exits 130 (SIGINT) or 143 (SIGTERM)."""
    from shipyard.stages.interrupt import exit_status, left_state

    outcome = summary["outcome"]
    settled = outcome.get("retrain") or outcome  # monitoring: what its retrain left matters
    click.echo(f"error: {summary['error']}\n  {left_state(settled, aliases)}; task logs: {summary['log']}", err=True)
    raise SystemExit(exit_status(summary["interrupted_by"]))


def _print_training_summary(summary: dict[str, Any]) -> None:
    if summary["status"] == "unchanged":  # nothing trained: the version it would repeat, where it stands
        click.echo(summary["message"])
        click.echo("nothing trained, registered or moved (`shipyard run training ... --force` retrains)")
        return
    click.echo(f"run {summary['run_id']}: {summary['status']}")
    for warning in (summary.get("validation") or {}).get("warnings", []):
        click.echo(f"  data warning: {warning}")
    if summary["error"]:
        return
    verdict = "BLESSED" if summary["blessed"] else "NOT BLESSED"
    click.echo(f"gate: {verdict} ({summary['task']})")
    for reason in summary["reasons"]:
        click.echo(f"  - {reason}")
    click.echo(f"metrics: {format_metrics(summary['metrics'])}")
    for finding in summary["findings"]:
        if finding.get("code") == "perfect_score":
            click.echo(f"  warning: {finding['message']}")
    if summary["version"] is not None:
        click.echo(f"registered: {summary['model']} v{summary['version']} at {summary['model_uri']}")
    else:
        click.echo(
            f"registered: nothing (production stays on v{summary['aliases'].get(PRODUCTION)})"
            if summary["aliases"].get(PRODUCTION) is not None
            else "registered: nothing"
        )
    aliases = ", ".join(f"{alias} -> v{version}" for alias, version in sorted(summary["aliases"].items()))
    click.echo(f"aliases: {aliases or '(none)'}")
    click.echo(f"task logs: {summary['log']}")


def _check_local_table(data_uri: str) -> None:
    """Reads a local training table here, so bad data fails in a second, before any task starts.

    The ingest task reads it again (its hash goes into lineage); an s3:// table is left to that
    task, not downloaded twice.

    Raises:
        DataValidationError: the file is empty, binary, ragged, ... (the same check as the ingest task).
    """
    from shipyard.errors import ShipyardError

    try:
        location = StoreURI.parse(data_uri).resolved()
    except ShipyardError:
        return  # a malformed URI: the checks after this one report it
    if location.is_local and Path(str(location)).is_file():
        from shipyard.stages.ingest import ingest_table

        ingest_table(str(location))


def execute_training(
    *,
    data: str,
    target: str,
    model: str,
    task: str,
    config: Path | None,
    store: str,
    contract: str,
    as_json: bool,
    force: bool = False,
) -> dict[str, Any]:
    """Shared by `run training` and `demo`: validates inputs, runs, reports, exits non-zero on failure.

    Unless ``force``, a run on the data, config and code a registered version was trained on ends
    before kfp.local starts, with status ``unchanged`` (exit 0).
    """
    from shipyard.cli.training import check_store_path, find_unchanged_run, run_training
    from shipyard.config import load_config
    from shipyard.errors import DataValidationError
    from shipyard.stages.code_version import code_version
    from shipyard.stages.source import data_file_exists
    from shipyard.store.names import validate_model_name
    from shipyard.store.registry import ModelRegistry

    validate_model_name(model)
    config_text = read_config_file(config)
    store_uri = normalise_store(store)
    check_store_path(store_uri)  # a file, read-only, ...: one line naming the store, before it is read
    # Reach the data and the store now: a typo, a wrong endpoint or bad credentials fail here in
    # a second with one clear line, instead of in a task.
    if not data_file_exists(data):
        fail(f"no data file at '{data}'")
    if contract:
        try:
            found = data_file_exists(contract)
        except DataValidationError as exc:  # a malformed URI: about the contract, not the training data
            fail(f"no data contract file at '{contract}': {exc.findings[0].message.split(': ', 2)[-1]}")
        if not found:
            fail(f"no data contract file at '{contract}'")
    ModelRegistry.from_uri(store_uri).latest_version(model)  # a few requests, whatever the registry holds
    data_uri, contract = absolute_uri(data), absolute_uri(contract) if contract else ""
    version_of_code = code_version()
    if not force:
        unchanged, unprovable = find_unchanged_run(
            data_uri=data_uri,
            target=target,
            model_name=model,
            task=task,
            store_uri=store_uri,
            config_text=config_text,
            contract_uri=contract,
            code_version=version_of_code,
        )
        if unchanged is not None:
            if as_json:
                emit_json(unchanged)
            else:
                _print_training_summary(unchanged)
            return unchanged
        if unprovable:
            status(f"note: {unprovable}, so an unchanged run cannot be recognised; training")
    # Only a run that must train parses the table here (the unchanged check hashes its bytes):
    # a bad local table fails in about a second with one line, before any task starts.
    _check_local_table(data)
    load_config(config_text)  # a broken config is reported here too, before any task starts
    status(f"training '{model}' on {data_uri} (store {store_uri})")
    summary = run_training(
        data_uri=data_uri,
        target=target,
        model_name=model,
        task=task,
        store_uri=store_uri,
        config_text=config_text,
        contract_uri=contract,
        code_version=version_of_code,
        on_progress=_progress,
        force=force,
    )
    if as_json:
        emit_json(summary)
    else:
        _print_training_summary(summary)
    if summary["status"] == "interrupted":
        _exit_interrupted(summary, summary["aliases"])
    if summary["status"] not in ("succeeded", "unchanged"):
        reason = summary["error"] or "a pipeline task failed"
        if summary["version"] is None:
            aftermath = "nothing was registered and no alias moved"
        else:
            aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(summary["aliases"].items())) or "none"
            aftermath = f"version {summary['version']} was registered but not released (aliases now: {aliases})"
        # The JSON summary (if asked for) is already on stdout: report on stderr and exit, no second object.
        click.echo(f"error: {reason}\n  {aftermath}; task logs: {summary['log']}", err=True)
        for hint in hints(summary["findings"]):
            click.echo(f"  hint: {hint}", err=True)
        raise SystemExit(1)
    return summary


@run.command("training")
@click.option("--data", required=True, help="Training table: CSV or Parquet, a path or s3://bucket/key.")
@click.option("--target", required=True, help="Column to predict.")
@click.option("--model", default=None, help="Registry name (default: the data file's name).")
@click.option(
    "--task",
    type=click.Choice(TASK_CHOICES),
    default="auto",
    show_default=True,
    help="Kind of problem; auto decides from the target column.",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML merged over the built-in config (estimator, params, thresholds).",
)
@click.option("--contract", default="", help="Data contract JSON to validate against (default: production's).")
@click.option(
    "--force",
    is_flag=True,
    help="Train even when a registered version was trained on this data, config and code.",
)
@click.option(
    "--segment-by",
    default="",
    metavar="COLUMN",
    help="Train one model per value of COLUMN (MODEL--VALUE each, own champion); see segments: in the config.",
)
@store_option
@json_option
@reports_errors
def run_training_command(
    data: str,
    target: str,
    model: str | None,
    task: str,
    config: Path | None,
    contract: str,
    force: bool,
    segment_by: str,
    store: str,
    as_json: bool,
) -> None:
    """Validate, train, gate, register and deploy a model, locally.

    Exit status 0 when the run completed, whether or not the model was blessed; 1 when a step
    failed (invalid data, a failed smoke test). A failed run moves no alias; a version registered
    before a failed smoke test stays in the registry, unreleased, and the message names it.
    Interrupted (Ctrl-C, SIGTERM): the tasks are stopped, staging is taken back if the run moved
    it, the outcome is recorded and what was left is printed; exit 130 (SIGINT), 143 (SIGTERM).

    Nothing changed, nothing done: when a registered version was trained on the same data bytes,
    effective config, code version, target, task and contract, the run ends at once ("unchanged",
    exit 0) and registers and moves nothing; --force retrains. Code with uncommitted changes
    (a -dirty git version) never counts as unchanged.

    Segments (--segment-by COLUMN, or segments.column in the config): one model per value of
    COLUMN, each a registry model MODEL--VALUE with its own champion, gate, smoke test and
    aliases, delivered in parallel; values with fewer than segments.min_rows rows (or not in
    segments.allow) are skipped with the reason. A failed or rejected segment leaves the others
    alone. Exit status 1 when any segment failed (status partial or failed); --json has a
    "segments" list (segment, status, blessed, version, metrics, reasons) and "totals".

    \b
    Examples:
      shipyard run training --data churn.csv --target churned --model churn
      shipyard run training --data churn.csv --target churned --model churn --segment-by region
      shipyard run training --data churn.csv --target churned --model churn --force
      shipyard run training --data houses.parquet --target price --task regression --json
      shipyard run training --data s3://data/churn.csv --target churned --store s3://models/shipyard
    """
    kwargs: dict[str, Any] = dict(
        data=data,
        target=target,
        model=model or default_model_name(data),
        task=task,
        config=config,
        store=store,
        contract=contract,
        as_json=as_json,
        force=force,
    )
    if segment_by or _segment_column(config):
        execute_segmented_training(segment_by=segment_by, **kwargs)
    else:
        execute_training(**kwargs)


def _segment_column(config: Path | None) -> str:
    """segments.column of the user's config, read without validating it.

    Validating loads the drift stage's numpy and scipy: too slow here, ahead of the unchanged
    check that may end a single-model run at once (execute_training validates later, if it trains).
    The built-in default is null, so only the user's file can name a column.
    """
    from shipyard.config import parse_yaml

    section = parse_yaml(read_config_file(config) or "", "the config").get("segments")
    column = section.get("column") if isinstance(section, dict) else None
    return str(column) if column else ""


def _print_segmented_summary(summary: dict[str, Any]) -> None:
    from shipyard.stages.segments import STATUSES

    click.echo(f"run {summary['run_id']}: {summary['status']} ({summary['model']} by {summary['segment_by']})")
    for entry in summary["segments"]:
        name = entry["model"] or "-"
        version = f"v{entry['version']}" if entry["version"] is not None else ""
        metrics = format_metrics(entry["metrics"]) if entry["metrics"] else ""
        label = "(missing)" if entry["segment"] is None else str(entry["segment"])
        click.echo(f"  {label:<16} {entry['status']:<9} {name:<28} {version:<5} {metrics}")
        for reason in entry["reasons"][:3] if entry["status"] != "promoted" else []:
            click.echo(f"      - {reason}")
        if entry["error"]:
            click.echo(f"      error: {entry['error']}")
    totals = summary["totals"]
    counted = ", ".join(f"{totals[key]} {key}" for key in STATUSES)
    click.echo(f"segments: {totals['total']} ({counted})")
    click.echo(f"task logs: {summary['log']}")


def execute_segmented_training(
    *,
    data: str,
    target: str,
    segment_by: str,
    model: str,
    task: str,
    config: Path | None,
    store: str,
    contract: str,
    as_json: bool,
    force: bool = False,
) -> dict[str, Any]:
    """`run training --segment-by`: checks the table's segments here, runs, reports, exits 1 if any segment failed."""
    from shipyard.cli.training import check_store_path, run_segmented_training
    from shipyard.config import load_config
    from shipyard.stages.code_version import code_version
    from shipyard.stages.source import data_file_exists
    from shipyard.store.names import validate_model_name

    validate_model_name(model)
    config_text = read_config_file(config)
    settings = load_config(config_text)  # a broken config is reported here, before any task starts
    store_uri = normalise_store(store)
    check_store_path(store_uri)
    if not data_file_exists(data):
        fail(f"no data file at '{data}'")
    if contract and not data_file_exists(contract):
        fail(f"no data contract file at '{contract}'")
    data_uri, contract = absolute_uri(data), absolute_uri(contract) if contract else ""
    _check_local_segments(data, model, settings, segment_by=segment_by, target=target, store_uri=store_uri)
    status(
        f"training '{model}' per segment of '{segment_by or settings.segments.column}' "
        f"on {data_uri} (store {store_uri})"
    )
    summary = run_segmented_training(
        data_uri=data_uri,
        target=target,
        segment_by=segment_by,
        model_name=model,
        task=task,
        store_uri=store_uri,
        config_text=config_text,
        contract_uri=contract,
        code_version=code_version(),
        on_progress=_progress,
        force=force,
    )
    if as_json:
        emit_json(summary)
    else:
        _print_segmented_summary(summary)
    if summary["status"] == "interrupted":
        click.echo(f"error: interrupted by {summary['interrupted_by']}; task logs: {summary['log']}", err=True)
        from shipyard.stages.interrupt import exit_status

        raise SystemExit(exit_status(summary["interrupted_by"]))
    if summary["status"] != "succeeded":
        failed = [str(entry["segment"]) for entry in summary["segments"] if entry["status"] == "failed"]
        reason = summary["error"] or f"segment(s) failed: {', '.join(failed)}"
        click.echo(f"error: {reason}\n  the other segments were delivered; task logs: {summary['log']}", err=True)
        for hint in hints(summary["findings"]):
            click.echo(f"  hint: {hint}", err=True)
        raise SystemExit(1)
    return summary


def _check_local_segments(data: str, model: str, config: Any, *, segment_by: str, target: str, store_uri: str) -> None:
    """Plans a local table's segments here, so a wrong column or too few rows fail in a second, before any task.

    Raises:
        DataValidationError: as the plan step would (names the column); ConfigError for deploy.target kserve.
    """
    from dataclasses import replace

    from shipyard.errors import ConfigError, ShipyardError
    from shipyard.stages.segments import check_segment_column, plan_segments, segment_model_name
    from shipyard.store.registry import ModelRegistry

    if config.deploy.target != "registry":
        raise ConfigError("config key 'deploy.target': segments deliver to the registry target only, for now")
    segment_model_name(model, "x")  # the name leaves room for segments, and holds no "--"
    column = segment_by or config.segments.column
    check_segment_column(ModelRegistry.from_uri(store_uri), model, column)
    try:
        location = StoreURI.parse(data).resolved()
    except ShipyardError:
        return
    if location.is_local and Path(str(location)).is_file():
        from shipyard.stages.ingest import ingest_table

        frame = ingest_table(str(location)).frame
        plan_segments(
            frame, model, replace(config.segments, column=segment_by or config.segments.column), target=target
        )


def _print_monitoring_summary(summary: dict[str, Any]) -> None:
    click.echo(f"run {summary['run_id']}: {summary['status']}")
    if summary["drift_detected"] is None:
        return
    click.echo(f"monitored: {summary['model']} v{summary['version']}: {summary['summary']}")
    drifted = ", ".join(summary["drifted_columns"]) or "none"
    click.echo(
        f"drift: {'DETECTED' if summary['drift_detected'] else 'no'} (share {summary['drift_share']:.2f}; {drifted})"
    )
    if summary.get("left_out_columns"):
        left_out = ", ".join(summary["left_out_columns"])
        click.echo(f"not compared: {left_out} (hashed or excluded by the model server)")
    if summary["has_target"] and summary.get("decay_not_judged"):
        click.echo(f"decay: not judged ({summary['decay_not_judged']})")
    elif summary["has_target"]:
        click.echo(f"decay: {'DETECTED' if summary['decay_detected'] else 'no'}")
        click.echo(f"production metrics on the new data: {format_metrics(summary['production_metrics'] or {})}")
    elif (summary.get("source") or {}).get("kind") == "traffic":
        click.echo(
            f"decay: not checked (no label fed back for these rows yet: shipyard feedback {summary['model']} "
            "--labels FILE)"
        )
    else:
        click.echo("decay: not checked (the new data has no target column)")
    if summary["alerted"]:
        delivery = summary.get("alert_delivery") or {}
        where = delivery.get("destination") if delivery.get("delivered") else "the task log (no webhook)"
        if delivery.get("channel") == "webhook" and not delivery.get("delivered"):
            where = f"NOT delivered to {delivery.get('destination')}: {delivery.get('error')}"
        click.echo(f"alert: sent to {where}")
    else:
        click.echo("alert: none needed")
    if summary["retrained"]:
        verdict = "BLESSED" if summary["blessed"] else "NOT BLESSED"
        click.echo(f"retrain: run {summary['retrain_run_id']}; gate: {verdict}")
        for reason in summary["reasons"]:
            click.echo(f"  - {reason}")
        if summary["new_version"] is not None:
            state = "promoted to production" if summary["promoted"] else "registered, not in production"
            click.echo(f"new version: v{summary['new_version']} ({state})")
    elif summary.get("retrain_unchanged") is not None:
        click.echo(f"retrain: unchanged, v{summary['retrain_unchanged']} was trained on these rows, config and code")
    elif summary.get("retrain_blocked"):
        click.echo(f"retrain: no ({summary['retrain_blocked']})")
    else:
        click.echo("retrain: no")
    aliases = ", ".join(f"{alias} -> v{version}" for alias, version in sorted(summary["aliases"].items()))
    click.echo(f"aliases: {aliases or '(none)'}")
    click.echo(f"drift report: {summary['report']}")
    click.echo(f"task logs: {summary['log']}")


def execute_monitoring(
    *,
    data: str | None,
    model: str,
    store: str,
    reference: str,
    retrain: bool,
    config: Path | None,
    webhook: str | None,
    as_json: bool,
    from_traffic: bool = False,
    since: str = "",
    start: str = "",
    end: str = "",
    segments: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Shared by `run monitoring` and `demo`: checks inputs, runs, reports, exits 1 when a step failed.

    With ``from_traffic`` (and no ``data``) the current data is the model's logged traffic in the
    window ``since`` (7d, 12h, 30m; the default is 7d) or ``start``..``end`` (ISO, UTC unless zoned),
    with the latest label fed back for each row: collected here, written under the run's directory
    and monitored by the same pipeline as a file. The summary's ``source`` says which.

    A model with segments and no version of its own (or ``segments`` given: values to monitor)
    is monitored segment by segment: see :func:`_execute_segmented_monitoring`.
    """
    from shipyard.cli.monitoring import monitors_segments, run_monitoring
    from shipyard.config import load_config
    from shipyard.stages.alert import resolve_webhook_url
    from shipyard.stages.monitor import load_reference, production_version
    from shipyard.stages.reference import REFERENCE_FILE
    from shipyard.stages.register import code_version
    from shipyard.stages.source import data_file_exists
    from shipyard.store.names import validate_model_name
    from shipyard.store.registry import ModelRegistry

    validate_model_name(model)
    config_text = read_config_file(config)
    load_config(config_text)  # a broken config is reported here, before any task starts
    if webhook is not None:
        resolve_webhook_url(webhook, {})  # a malformed URL fails here, shown redacted
    if bool(data) == from_traffic:
        fail("give exactly one of --data FILE or --from-traffic (the traffic the model server logged)")
    if not from_traffic and (since or start or end):
        fail("--since, --from and --to choose a traffic window: add --from-traffic, or drop them with --data")
    store_uri = normalise_store(store)
    if data and not data_file_exists(data):
        fail(f"no data file at '{data}'")
    if reference and not data_file_exists(reference):
        fail(f"no reference data file at '{reference}'")
    registry = ModelRegistry.from_uri(store_uri)
    if segments or monitors_segments(registry, model):
        if reference:
            fail("--reference is one table: each segment's production version is compared with its own reference data")
        return _execute_segmented_monitoring(
            registry,
            model=model,
            wanted=segments,
            data=data,
            config_text=config_text,
            retrain=retrain,
            webhook=webhook,
            as_json=as_json,
            window=(since, start, end),
        )
    production = production_version(registry, model)
    if not reference and REFERENCE_FILE not in production.files:
        load_reference(registry, production)  # raises the clear "registered without reference data" error
    reference = absolute_uri(reference) if reference else ""
    current = None
    if data:
        data_uri = absolute_uri(data)
        source: dict[str, Any] = {"kind": "file", "uri": data_uri}
        status(f"monitoring '{model}' v{production.version} on {data_uri} (store {store_uri})")
    else:
        current, source = _traffic_window(production, store_uri, since, start, end)
        data_uri = ""
        status(
            f"monitoring '{model}' v{production.version} on its traffic from {source['from']} to {source['to']}: "
            f"{source['rows']} row(s), {source['labelled_rows']} labelled (store {store_uri})"
        )
        if source["left_out_columns"]:
            status(
                f"  not compared: {', '.join(source['left_out_columns'])} (hashed or excluded by the model server): "
                "drift is checked on the other columns, decay is not judged and nothing is retrained"
            )
    with _AlertWebhook(webhook):
        summary = run_monitoring(
            data_uri=data_uri,
            model_name=model,
            store_uri=store_uri,
            config_text=config_text,
            reference_uri=reference,
            allow_retrain=retrain,
            code_version=code_version(),
            on_progress=_progress,
            current=current,
        )
        summary["source"] = source
    if as_json:
        emit_json(summary)
    else:
        _print_monitoring_summary(summary)
    if summary["status"] == "interrupted":
        _exit_interrupted(summary, summary["aliases"])
    if summary["status"] != "succeeded":
        reason = summary["error"] or "a pipeline task failed"
        click.echo(f"error: {reason}\n  task logs: {summary['log']}", err=True)
        raise SystemExit(1)
    return summary


def _traffic_window(
    production: ModelVersion, store_uri: str, since: str, start: str, end: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The logged traffic of production's model in the window, as the current-data table, and its ``source``.

    Features the server left out (hashed or excluded) are named in the table's attrs, which the
    Parquet file the run monitors keeps: the monitor step checks the other columns and says so.

    Raises:
        WindowError, NoTraffic: a malformed window, or nothing logged in it.
    """
    from datetime import datetime, timezone

    from shipyard.stages.traffic import collect_traffic_table

    if not (since or start or end):
        since = "7d"
    table, window = collect_traffic_table(
        store_uri, production.name, since=since, start=start, end=end, now=datetime.now(timezone.utc)
    )
    return table.frame, window.source()


class _AlertWebhook:
    """Sets the alert webhook for the runs inside it (their task subprocesses inherit it), restoring it after.

    The URL reaches tasks through the environment, never a pipeline parameter.
    """

    def __init__(self, webhook: str | None) -> None:
        self.webhook = webhook
        self.saved: str | None = None

    def __enter__(self) -> None:
        import os

        from shipyard.stages.alert import WEBHOOK_ENV

        self.saved = os.environ.get(WEBHOOK_ENV)
        if self.webhook is not None:
            os.environ[WEBHOOK_ENV] = self.webhook

    def __exit__(self, *exc_info: object) -> None:
        import os

        from shipyard.stages.alert import WEBHOOK_ENV

        if self.webhook is None:
            return
        if self.saved is None:
            os.environ.pop(WEBHOOK_ENV, None)
        else:
            os.environ[WEBHOOK_ENV] = self.saved


def _execute_segmented_monitoring(
    registry: Any,
    *,
    model: str,
    wanted: tuple[str, ...],
    data: str | None,
    config_text: str,
    retrain: bool,
    webhook: str | None,
    as_json: bool,
    window: tuple[str, str, str],
) -> dict[str, Any]:
    """`run monitoring` for a model with segments: each segment's production on its own rows, one run each.

    With ``data`` the table must carry the segment column; each segment with a production version
    is monitored on its rows, and rows no segment monitors are counted. Otherwise each segment's
    own logged traffic in the window is. Exits 1 when any segment's run failed, after the summary.

    Raises:
        RegistryError: a value in ``wanted`` is not one of the model's segments.
        DataValidationError: the table lacks the segment column.
    """
    from datetime import datetime, timezone

    from shipyard.cli.monitoring import (
        chosen_segments,
        collect_segment_traffic,
        nothing_to_monitor,
        run_segmented_monitoring,
        split_table_by_segment,
    )
    from shipyard.stages.register import code_version

    entries = chosen_segments(registry, model, wanted)
    column = str(entries[0]["column"])
    since, start, end = window
    if data:
        from shipyard.stages.ingest import ingest_table

        data_uri = absolute_uri(data)
        frame = ingest_table(data_uri).frame
        work, unmonitored = split_table_by_segment(registry, model, frame, entries, data_uri=data_uri)
        source: dict[str, Any] = {"kind": "file", "uri": data_uri, "column": column}
    else:
        since = since if since or start or end else "7d"
        now = datetime.now(timezone.utc)
        work = collect_segment_traffic(registry, registry.uri, entries, since=since, start=start, end=end, now=now)
        unmonitored = []
        source = {"kind": "traffic", "column": column, "since": since, "from": start, "to": end}
    problem = nothing_to_monitor(model, work)
    if problem:
        fail(problem)
    ready = [item for item in work if item.current is not None]
    status(f"monitoring '{model}' per segment of '{column}': {len(ready)} segment(s) (store {registry.uri})")
    with _AlertWebhook(webhook):
        summary = run_segmented_monitoring(
            model_name=model,
            work=work,
            unmonitored=unmonitored,
            source=source,
            store_uri=registry.uri,
            config_text=config_text,
            allow_retrain=retrain,
            code_version=code_version(),
            on_progress=_progress,
            on_segment=lambda item: status(
                f"segment {item.segment} ({item.model}): {len(item.current) if item.current is not None else 0} row(s)"
            ),
        )
    if as_json:
        emit_json(summary)
    else:
        _print_segmented_monitoring_summary(summary)
    if summary["status"] == "interrupted":
        from shipyard.stages.interrupt import exit_status

        click.echo(
            f"error: interrupted by {summary['interrupted_by']}; the segments after it were not started", err=True
        )
        raise SystemExit(exit_status(summary["interrupted_by"]))
    if summary["status"] != "succeeded":
        click.echo(f"error: {summary['error']}\n  the other segments were monitored", err=True)
        for entry in summary["segments"]:
            if entry["status"] == "failed" and entry["run"]:
                click.echo(f"  {entry['segment']}: task logs: {entry['run']['log']}", err=True)
        raise SystemExit(1)
    return summary


def _segment_retrain_verdict(entry: dict[str, Any]) -> str:
    one = entry["run"] or {}
    if entry["retrained"]:
        verdict = "BLESSED" if entry["blessed"] else "NOT BLESSED"
        if entry["new_version"] is None:
            return f"retrained: {verdict}"
        state = "promoted" if entry["promoted"] else "not in production"
        return f"retrained: {verdict}, v{entry['new_version']} {state}"
    if one.get("retrain_unchanged") is not None:
        return f"retrain: unchanged (v{one['retrain_unchanged']})"
    if one.get("retrain_blocked"):
        return "retrain: blocked"
    return "retrain: no"


def _print_segmented_monitoring_summary(summary: dict[str, Any]) -> None:
    """One line per segment: its drift and decay verdicts, whether it alerted and retrained, its new version."""
    from shipyard.cli.monitoring import SEGMENT_TOTALS

    click.echo(f"monitoring {summary['model']} by {summary['segment_by']}: {summary['status']}")
    for entry in summary["segments"]:
        head = f"  {str(entry['segment']):<16} {entry['model']:<28}"
        if entry["run"] is None:
            click.echo(f"{head} {entry['status']}: {entry['reason']} ({entry['rows']} row(s))")
            continue
        one = entry["run"]
        if entry["status"] != "succeeded" or entry["drift"] is None:
            click.echo(f"{head} {entry['status']}: {entry['error'] or 'a pipeline task failed'}")
            continue
        drift = "DETECTED" if entry["drift"] else "no"
        if not one.get("has_target"):
            decay = "not checked"
        elif one.get("decay_not_judged"):
            decay = "not judged"
        else:
            decay = "DETECTED" if entry["decay"] else "no"
        alert = "alert sent" if entry["alerted"] else "no alert"
        click.echo(
            f"{head} v{entry['version']} {entry['rows']} row(s): drift {drift}, decay {decay}, {alert}, "
            f"{_segment_retrain_verdict(entry)}"
        )
    if summary["unmonitored"]:
        parts = ", ".join(
            f"{item['segment'] if item['segment'] is not None else '(missing)'}: {item['rows']} ({item['reason']})"
            for item in summary["unmonitored"]
        )
        click.echo(f"not monitored: {summary['unmonitored_rows']} row(s) [{parts}]")
    totals = summary["totals"]
    counted = ", ".join(f"{totals[key]} {key}" for key in SEGMENT_TOTALS)
    click.echo(f"segments: {totals['total']} ({counted})")


@run.command("monitoring")
@click.option("--data", default=None, help="New data: CSV or Parquet, a path or s3://bucket/key.")
@click.option(
    "--from-traffic",
    "from_traffic",
    is_flag=True,
    help="Monitor the requests the model server logged in the store (with the labels fed back by "
    "`shipyard feedback`) instead of --data.",
)
@click.option("--since", default="", help="Traffic window ending now: 7d, 12h, 30m (default 7d).")
@click.option("--from", "start", default="", help="Traffic window start: ISO date or date-time, UTC unless zoned.")
@click.option("--to", "end", default="", help="Traffic window end: ISO date (the whole day) or date-time; default now.")
@click.option("--model", required=True, help="Registry name of the model whose production version is monitored.")
@click.option(
    "--reference",
    default="",
    help="Reference table (what the model was trained on) for a version registered without one.",
)
@click.option(
    "--segment",
    "segments",
    multiple=True,
    metavar="VALUE",
    help="For a model with segments: monitor only this segment (repeatable; default every segment).",
)
@click.option("--no-retrain", "no_retrain", is_flag=True, help="Alert on drift or decay, but never retrain.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML merged over the built-in config (monitoring: drift_share, methods, thresholds, decay, retrain).",
)
@click.option(
    "--webhook",
    default=None,
    help="Slack-compatible webhook URL for this local run's alerts (sets SHIPYARD_ALERT_WEBHOOK_URL; "
    "default: that variable, else alerts go to the task log).",
)
@store_option
@json_option
@reports_errors
def run_monitoring_command(
    data: str | None,
    from_traffic: bool,
    since: str,
    start: str,
    end: str,
    model: str,
    reference: str,
    segments: tuple[str, ...],
    no_retrain: bool,
    config: Path | None,
    webhook: str | None,
    store: str,
    as_json: bool,
) -> None:
    """Check new data against the production model: drift, decay, alert, retrain through the gate.

    Drift of each column is judged against the reference sample stored with the production
    version (Evidently's tests). When the data has the target, production is scored on it (decay).
    Drift or decay alerts; with the target, it also retrains on production's training data plus
    the new rows, through the same gate. Exit status 0 when the run completed (drift is not an
    error), 1 when a step failed (say, columns that do not match the model's), 130/143 when
    interrupted by SIGINT/SIGTERM (what the run left is printed).

    With --from-traffic the new data is what the model server logged in the store, in the window
    --since (default 7d) or --from/--to, each row with the newest label fed back for it (`shipyard
    feedback`): every row is checked for drift, the labelled ones for decay, and only labelled rows
    are retrained on. The window is written to the run's directory and monitored like a file.
    Features the server hashed or excluded are not compared: drift is checked on the other columns,
    decay is not judged and nothing is retrained (the model needs every feature); the output names them.

    A model with segments (trained with --segment-by) and no version of its own is monitored per
    segment: each segment model's production (MODEL--VALUE) by its own run, on its own rows of
    --data (which must have the segment column) or its own traffic, so only the segments that
    drifted or decayed alert and retrain, each through its own gate. --segment VALUE (repeatable)
    picks segments. Rows of a value with no segment model or no production version are counted,
    not monitored. Exit status 1 when any segment's run failed; --json has a "segments" list
    (segment, model, status, drift, decay, alerted, retrained, version, new_version, run) and "totals".

    \b
    Examples:
      shipyard run monitoring --data this-week.csv --model churn
      shipyard run monitoring --data unlabelled.parquet --model churn --json
      shipyard run monitoring --data new.csv --model churn --no-retrain --webhook https://hooks.slack.com/...
      shipyard run monitoring --data new.csv --model old-model --reference train-2023.csv
      shipyard run monitoring --model churn --from-traffic --since 7d
      shipyard run monitoring --model churn --from-traffic --from 2026-03-01 --to 2026-03-07 --json
      shipyard run monitoring --data this-week.csv --model churn --segment eu --segment us
    """
    execute_monitoring(
        data=data,
        model=model,
        store=store,
        reference=reference,
        retrain=not no_retrain,
        config=config,
        webhook=webhook,
        as_json=as_json,
        from_traffic=from_traffic,
        since=since,
        start=start,
        end=end,
        segments=segments,
    )
