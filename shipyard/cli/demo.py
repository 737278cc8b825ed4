"""`shipyard demo`: the main job, end to end, on the built-in synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import click

from shipyard.cli._common import json_option, normalise_store, reports_errors, status, store_option
from shipyard.cli.run import execute_training
from shipyard.store.uri import StoreURI


@click.command("demo")
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(200, 1_000_000))
@click.option(
    "--drift",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Shift the generated data away from the reference distribution.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@store_option
@json_option
@reports_errors
def demo(rows: int, drift: float, seed: int, store: str, as_json: bool) -> None:
    """Train, gate, register and deploy a model on built-in synthetic churn data.

    Generates the data, runs the whole training pipeline locally, and leaves a production model
    in the store. Run it again to see the gate compare a challenger with the champion.

    \b
    Examples:
      shipyard demo
      shipyard demo --drift 0.5 --seed 1      # retrain on shifted data
    """
    from shipyard.data.synthetic import DEMO_TARGETS, write_demo_dataset

    store_uri = normalise_store(store)
    data_dir = (Path(store_uri) if StoreURI.parse(store_uri).is_local else Path.cwd() / ".shipyard") / "demo-data"
    data_path = write_demo_dataset(
        data_dir / f"churn-seed{seed}-drift{drift:g}.csv", n_rows=rows, drift=drift, seed=seed, task="classification"
    )
    if not as_json:
        status(f"generated {rows} rows of synthetic churn data: {data_path}")
    summary = execute_training(
        data=str(data_path),
        target=DEMO_TARGETS["classification"],
        model="churn-demo",
        task="classification",
        config=None,
        store=store_uri,
        contract="",
        as_json=as_json,
    )
    if not as_json:
        click.echo("\nnext:")
        click.echo(f"  shipyard models list --store {store_uri}")
        click.echo(f"  shipyard models show churn-demo --store {store_uri}")
        click.echo(f"  pipeline artifacts (reports, metrics, model): {summary['artifacts']}")
