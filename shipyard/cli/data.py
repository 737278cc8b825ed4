"""`shipyard data`: data contracts and validation on their own, and the built-in synthetic data.

Validation also runs inside every training run; these commands let a CI job check a data change,
or a team commit a contract to git, without training anything.
"""

from __future__ import annotations

from pathlib import Path

import click

from shipyard.cli._common import (
    emit_json,
    fail,
    json_option,
    normalise_store,
    read_config_file,
    reports_errors,
    store_option,
)
from shipyard.vocabulary import TASK_CHOICES, TASKS

task_option = click.option(
    "--task",
    type=click.Choice(TASK_CHOICES),
    default="auto",
    show_default=True,
    help="Kind of problem; auto decides from the target column.",
)


@click.group()
def data() -> None:
    """Check data against its contract, write contracts, generate the demo dataset.

    \b
    Examples:
      shipyard data contract --data train.csv --target churned --out contracts/churn.json
      shipyard data validate --data new.csv --target churned --contract contracts/churn.json
    """


@data.command("demo")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(50, 10_000_000))
@click.option(
    "--drift",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="0 = the reference distribution; larger values shift features and category mix.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--task", type=click.Choice(TASKS), default="classification", show_default=True)
@json_option
@reports_errors
def data_demo(out: Path, rows: int, drift: float, seed: int, task: str, as_json: bool) -> None:
    """Write the synthetic customer-churn table the demo trains on.

    \b
    Example:
      shipyard data demo --out drifted.csv --drift 0.5 --seed 7
    """
    from shipyard.data.synthetic import DEMO_TARGETS, write_demo_dataset

    path = write_demo_dataset(out, n_rows=rows, drift=drift, seed=seed, task=task)
    if as_json:
        emit_json(
            {"path": str(path), "rows": rows, "target": DEMO_TARGETS[task], "task": task, "drift": drift, "seed": seed}
        )
    else:
        click.echo(f"wrote {rows} rows to {path} (target column: {DEMO_TARGETS[task]})")


@data.command("contract")
@click.option("--data", "data_uri", required=True, help="CSV or Parquet: a path or s3://bucket/key.")
@click.option("--target", required=True, help="The column a model will predict.")
@task_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the contract JSON (commit it; pass it back with --contract).",
)
@json_option
@reports_errors
def data_contract(data_uri: str, target: str, task: str, out: Path, as_json: bool) -> None:
    """Infer a data contract from a table: columns, types, nullability, ranges, categories.

    \b
    Example:
      shipyard data contract --data train.csv --target churned --out contracts/churn.json
    """
    from shipyard.stages.ingest import ingest_table
    from shipyard.stages.task import resolve_task
    from shipyard.stages.validate import infer_contract

    table = ingest_table(data_uri)
    contract = infer_contract(table.frame, target, resolve_task(table.frame, target, task))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(contract.to_json(), encoding="utf-8")
    if as_json:
        emit_json({"contract": str(out), "data_hash": table.data_hash, **contract.to_dict()})
    else:
        click.echo(
            f"wrote the contract for {len(contract.columns)} columns ({contract.task}, target "
            f"'{contract.target}', {contract.row_count} rows) to {out}"
        )


@data.command("validate")
@click.option("--data", "data_uri", required=True, help="CSV or Parquet: a path or s3://bucket/key.")
@click.option("--target", required=True, help="The column the model predicts.")
@task_option
@click.option("--contract", "contract_uri", default="", help="Contract JSON to check against.")
@click.option("--model", default="", help="Check against this model's production contract instead.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML whose validation: tolerances are merged over the defaults.",
)
@store_option
@json_option
@reports_errors
def data_validate(
    data_uri: str, target: str, task: str, contract_uri: str, model: str, config: Path | None, store: str, as_json: bool
) -> None:
    """Check a table the way a training run would, without training (exit 1 when it fails).

    Without --contract or --model only the checks that need no contract run (target, row count,
    empty columns, infinities, duplicate names, numeric columns with a few text cells).

    \b
    Examples:
      shipyard data validate --data new.csv --target churned --contract contracts/churn.json
      shipyard data validate --data s3://data/new.csv --target churned --model churn --json
    """
    from shipyard.config import load_config
    from shipyard.findings import hints
    from shipyard.stages.champion import saved_contract
    from shipyard.stages.ingest import ingest_table
    from shipyard.stages.task import resolve_task
    from shipyard.stages.validate import check_dataset
    from shipyard.store.registry import ModelRegistry

    if contract_uri and model:
        fail("give --contract or --model, not both")
    settings = load_config(read_config_file(config)).validation
    contract = None
    if contract_uri or model:
        registry = ModelRegistry.from_uri(normalise_store(store))
        contract = saved_contract(registry, model, contract_uri)
        if contract is None:
            fail(f"model '{model}' has no production version with a data contract in {registry.uri}")
    table = ingest_table(data_uri)
    report = check_dataset(table.frame, target, resolve_task(table.frame, target, task), settings, contract)
    if as_json:
        emit_json({"data": data_uri, "data_hash": table.data_hash, **report.to_dict()})
    else:
        against = "the contract" if report.checked_against == "contract" else "no contract (checks of the data alone)"
        click.echo(
            f"{'PASSED' if report.ok else 'FAILED'}: {report.rows} rows, {report.columns} columns, "
            f"checked against {against}"
        )
        for problem in report.problems:
            click.echo(f"  problem: {problem}")
        for warning in report.warnings:
            click.echo(f"  warning: {warning}")
        for hint in hints(report.findings):
            click.echo(f"  hint: {hint}")
    if not report.ok:
        raise SystemExit(1)
