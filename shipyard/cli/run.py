"""`shipyard run`: pipelines on this machine under kfp.local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from shipyard.vocabulary import PRODUCTION, TASK_CHOICES


@click.group()
def run() -> None:
    """Run a pipeline on this machine (kfp.local, no cluster needed).

    \b
    Example:
      shipyard run training --data churn.csv --target churned --model churn
    """


def _progress(name: str, state: str, seconds: float) -> None:
    if state == "started":
        return
    mark = "ok" if state == "SUCCESS" else state.lower()
    status(f"  [{mark:>7}] {name} ({seconds:.1f}s)")


def _print_training_summary(summary: dict[str, Any]) -> None:
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


def execute_training(
    *, data: str, target: str, model: str, task: str, config: Path | None, store: str, contract: str, as_json: bool
) -> dict[str, Any]:
    """Shared by `run training` and `demo`: validates inputs, runs, reports, exits non-zero on failure."""
    from shipyard.cli.training import run_training
    from shipyard.config import load_config
    from shipyard.errors import DataValidationError
    from shipyard.stages.register import code_version
    from shipyard.stages.source import data_file_exists
    from shipyard.store.names import validate_model_name
    from shipyard.store.registry import ModelRegistry

    validate_model_name(model)
    config_text = read_config_file(config)
    load_config(config_text)  # a broken config is reported here, before any task starts
    store_uri = normalise_store(store)
    # Reach the data and the store now: a typo, a wrong endpoint or bad credentials fail here in
    # a second with one clear line, instead of in a task after its retries.
    if not data_file_exists(data):
        fail(f"no data file at '{data}'")
    if contract:
        try:
            found = data_file_exists(contract)
        except DataValidationError as exc:  # a malformed URI: about the contract, not the training data
            fail(f"no data contract file at '{contract}': {exc.findings[0].message.split(': ', 2)[-1]}")
        if not found:
            fail(f"no data contract file at '{contract}'")
    ModelRegistry.from_uri(store_uri).list_models()
    data_uri, contract = absolute_uri(data), absolute_uri(contract) if contract else ""
    if not as_json:
        status(f"training '{model}' on {data_uri} (store {store_uri})")
    summary = run_training(
        data_uri=data_uri,
        target=target,
        model_name=model,
        task=task,
        store_uri=store_uri,
        config_text=config_text,
        contract_uri=contract,
        code_version=code_version(),
        on_progress=None if as_json else _progress,
    )
    if as_json:
        emit_json(summary)
    else:
        _print_training_summary(summary)
    if summary["status"] != "succeeded":
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
@store_option
@json_option
@reports_errors
def run_training_command(
    data: str, target: str, model: str | None, task: str, config: Path | None, contract: str, store: str, as_json: bool
) -> None:
    """Validate, train, gate, register and deploy a model, locally.

    Exit status 0 when the run completed, whether or not the model was blessed; 1 when a step
    failed (invalid data, a failed smoke test). A failed run moves no alias; a version registered
    before a failed smoke test stays in the registry, unreleased, and the message names it.

    \b
    Examples:
      shipyard run training --data churn.csv --target churned --model churn
      shipyard run training --data houses.parquet --target price --task regression --json
      shipyard run training --data s3://data/churn.csv --target churned --store s3://models/shipyard
    """
    execute_training(
        data=data,
        target=target,
        model=model or default_model_name(data),
        task=task,
        config=config,
        store=store,
        contract=contract,
        as_json=as_json,
    )
