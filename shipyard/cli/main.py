"""The `shipyard` command: run pipelines locally, manage the model registry, compile, demo."""

from __future__ import annotations

from pathlib import Path

import click

from shipyard import __version__
from shipyard.cli._common import (
    default_model_name, emit_json, fail, format_metrics, json_option, normalise_store, reports_errors, status, store_option,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="shipyard")
def main() -> None:
    """CI/CD for machine-learning models on Kubeflow Pipelines.

    \b
    Examples:
      shipyard demo                                  # train, gate, register, deploy a demo model
      shipyard run training --data churn.csv --target churned --model churn
      shipyard models list
      shipyard models show churn --json
      shipyard compile --out compiled/
    """


# --------------------------------------------------------------------------- run

@main.group()
def run() -> None:
    """Run a pipeline on this machine (kfp.local, no cluster needed)."""


def _progress(name: str, state: str, seconds: float) -> None:
    if state == "started":
        return
    mark = "ok" if state == "SUCCESS" else state.lower()
    status(f"  [{mark:>7}] {name} ({seconds:.1f}s)")


def _print_training_summary(summary: dict) -> None:
    click.echo(f"run {summary['run_id']}: {summary['status']}")
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
        click.echo(f"registered: nothing (production stays on v{summary['aliases'].get('production')})"
                   if summary["aliases"].get("production") is not None else "registered: nothing")
    aliases = ", ".join(f"{alias} -> v{version}" for alias, version in sorted(summary["aliases"].items()))
    click.echo(f"aliases: {aliases or '(none)'}")
    click.echo(f"task logs: {summary['log']}")


def execute_training(*, data: str, target: str, model: str, task: str, config: Path | None, store: str,
                     contract: str, as_json: bool) -> dict:
    """Shared by `run training` and `demo`: validates inputs, runs, reports, exits non-zero on failure."""
    from shipyard.cli.training import run_training
    from shipyard.config import load_config
    from shipyard.stages.register import code_version
    from shipyard.store.names import validate_model_name

    validate_model_name(model)
    config_text = config.read_text(encoding="utf-8") if config else ""
    load_config(config_text)  # a broken config is reported here, before any task starts
    store_uri = normalise_store(store)
    if not data.startswith("s3://") and not Path(data).expanduser().exists():
        fail(f"no data file at '{data}'")
    data_uri = data if data.startswith("s3://") else str(Path(data).expanduser().resolve())
    if contract and not contract.startswith("s3://"):
        contract = str(Path(contract).expanduser().resolve())
    if not as_json:
        status(f"training '{model}' on {data_uri} (store {store_uri})")
    summary = run_training(data_uri=data_uri, target=target, model_name=model, task=task, store_uri=store_uri,
                           config_text=config_text, contract_uri=contract, code_version=code_version(),
                           on_progress=None if as_json else _progress)
    if as_json:
        emit_json(summary)
    else:
        _print_training_summary(summary)
    if summary["status"] != "succeeded":
        reason = summary["error"] or "a pipeline task failed"
        fail(f"{reason}\n  nothing was registered and no alias moved; task logs: {summary['log']}")
    return summary


@run.command("training")
@click.option("--data", required=True, help="Training table: CSV or Parquet, a path or s3://bucket/key.")
@click.option("--target", required=True, help="Column to predict.")
@click.option("--model", default=None, help="Registry name (default: the data file's name).")
@click.option("--task", type=click.Choice(["auto", "classification", "regression"]), default="auto",
              show_default=True, help="Kind of problem; auto decides from the target column.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML merged over the built-in config (estimator, params, thresholds).")
@click.option("--contract", default="", help="Data contract JSON to validate against (default: production's).")
@store_option
@json_option
@reports_errors
def run_training_command(data: str, target: str, model: str | None, task: str, config: Path | None,
                         contract: str, store: str, as_json: bool) -> None:
    """Validate, train, gate, register and deploy a model, locally.

    Exit status 0 when the run completed, whether or not the model was blessed; 1 when a step
    failed (invalid data, a failed smoke test), in which case nothing is registered or moved.

    \b
    Examples:
      shipyard run training --data churn.csv --target churned --model churn
      shipyard run training --data houses.parquet --target price --task regression --json
      shipyard run training --data s3://data/churn.csv --target churned --store s3://models/shipyard
    """
    execute_training(data=data, target=target, model=model or default_model_name(data), task=task,
                     config=config, store=store, contract=contract, as_json=as_json)


# --------------------------------------------------------------------------- models

@main.group()
def models() -> None:
    """Inspect and move models in the registry."""


def _registry(store: str):
    from shipyard.store.registry import ModelRegistry

    return ModelRegistry.from_uri(normalise_store(store))


@models.command("list")
@store_option
@json_option
@reports_errors
def models_list(store: str, as_json: bool) -> None:
    """List models with their latest version and aliases.

    \b
    Example:
      shipyard models list --store s3://mlpipeline/shipyard --json
    """
    registry = _registry(store)
    rows = []
    for name in registry.list_models():
        versions = registry.list_versions(name)
        aliases = registry.aliases(name)
        production = next((v for v in versions if v.version == aliases.get("production")), None)
        rows.append({"name": name, "versions": [v.version for v in versions],
                     "latest": versions[-1].version if versions else None, "aliases": aliases,
                     "production_metrics": production.metrics if production else None})
    if as_json:
        emit_json({"store": registry.uri, "models": rows})
        return
    if not rows:
        click.echo(f"no models in {registry.uri}")
        return
    click.echo(f"{'MODEL':<24} {'LATEST':>6}  ALIASES")
    for row in rows:
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(row["aliases"].items())) or "-"
        click.echo(f"{row['name']:<24} {('v' + str(row['latest'])) if row['latest'] else '-':>6}  {aliases}")


@models.command("show")
@click.argument("name")
@store_option
@json_option
@reports_errors
def models_show(name: str, store: str, as_json: bool) -> None:
    """Show a model's versions, aliases, metrics, sha256 and lineage.

    \b
    Example:
      shipyard models show churn --json
    """
    registry = _registry(store)
    versions = registry.list_versions(name)
    if not versions:
        fail(f"no model named '{name}' in {registry.uri}")
    aliases = registry.aliases(name)
    if as_json:
        emit_json({"name": name, "store": registry.uri, "aliases": aliases,
                   "versions": [v.to_dict() for v in versions], "audit": registry.audit_log(name)})
        return
    click.echo(f"model {name} ({registry.uri})")
    click.echo("aliases: " + (", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "(none)"))
    for v in versions:
        tags = [a for a, ver in aliases.items() if ver == v.version]
        click.echo(f"\nv{v.version}{'  [' + ', '.join(sorted(tags)) + ']' if tags else ''}  {v.created_at}")
        click.echo(f"  uri:      {v.uri}")
        click.echo(f"  sha256:   {v.sha256}")
        click.echo(f"  metrics:  {format_metrics(v.metrics)}")
        lineage = v.lineage
        click.echo(f"  data:     {lineage.get('data_uri')} ({lineage.get('data_hash')})")
        click.echo(f"  code:     {lineage.get('code_version')}  run: {lineage.get('run_id')}  "
                   f"parent: {lineage.get('parent_version')}")
        click.echo(f"  params:   {v.params}")


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", default="production", show_default=True, help="Alias to move.")
@store_option
@json_option
@reports_errors
def models_promote(name: str, version: int, alias: str, store: str, as_json: bool) -> None:
    """Point an alias at a version (recorded in the audit log).

    \b
    Example:
      shipyard models promote churn 3 --alias production
    """
    move = _registry(store).set_alias(name, alias, version, action="promoted")
    _report_move(move, as_json, "promoted")


@models.command("rollback")
@click.argument("name")
@click.option("--alias", default="production", show_default=True, help="Alias to move back.")
@store_option
@json_option
@reports_errors
def models_rollback(name: str, alias: str, store: str, as_json: bool) -> None:
    """Move an alias back to the version that held it before.

    \b
    Example:
      shipyard models rollback churn            # production back to its previous version
    """
    move = _registry(store).rollback(name, alias)
    _report_move(move, as_json, "rolled back")


def _report_move(move, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json({"model": move.model, "alias": move.alias, "previous": move.previous, "current": move.current})
    else:
        click.echo(f"{move.model}: {move.alias} {verb} v{move.previous} -> v{move.current}"
                   if move.previous is not None else f"{move.model}: {move.alias} -> v{move.current}")


@models.command("verify")
@click.argument("name", required=False)
@store_option
@json_option
@reports_errors
def models_verify(name: str | None, store: str, as_json: bool) -> None:
    """Re-hash every stored model file and compare with the registry (exit 1 on a mismatch).

    \b
    Example:
      shipyard models verify churn
    """
    results = _registry(store).verify(name)
    bad = [r for r in results if not r["ok"]]
    if as_json:
        emit_json({"ok": not bad, "checked": len(results), "results": results})
    else:
        for r in results:
            click.echo(f"{'ok ' if r['ok'] else 'BAD'} {r['model']} v{r['version']}"
                       + ("" if r["ok"] else f": {r.get('problem')}"))
        click.echo(f"{len(results) - len(bad)} of {len(results)} files verified")
    if bad:
        raise SystemExit(1)


# --------------------------------------------------------------------------- compile

@main.command("compile")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("compiled"),
              show_default=True, help="Directory for one IR YAML per pipeline.")
@json_option
def compile_command(out_dir: Path, as_json: bool) -> None:
    """Compile every pipeline to KFP IR YAML (upload it in the Kubeflow UI or with `kfp`).

    \b
    Example:
      shipyard compile --out compiled/ && ls compiled/
    """
    from shipyard.adapters.kfp_compile import compile_all

    written = compile_all(out_dir)
    if as_json:
        emit_json({"pipelines": {name: str(path) for name, path in written.items()}})
    else:
        for name, path in written.items():
            click.echo(f"{name}: {path}")


# --------------------------------------------------------------------------- data / demo

@main.group()
def data() -> None:
    """Built-in datasets."""


@data.command("demo")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(50, 10_000_000))
@click.option("--drift", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="0 = the reference distribution; larger values shift features and category mix.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--task", type=click.Choice(["classification", "regression"]), default="classification",
              show_default=True)
def data_demo(out: Path, rows: int, drift: float, seed: int, task: str) -> None:
    """Write the synthetic customer-churn table the demo trains on.

    \b
    Example:
      shipyard data demo --out drifted.csv --drift 0.5 --seed 7
    """
    from shipyard.data.synthetic import DEMO_TARGETS, write_demo_dataset

    path = write_demo_dataset(out, n_rows=rows, drift=drift, seed=seed, task=task)
    click.echo(f"wrote {rows} rows to {path} (target column: {DEMO_TARGETS[task]})")


@main.command("demo")
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(200, 1_000_000))
@click.option("--drift", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Shift the generated data away from the reference distribution.")
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
    data_dir = (Path(store_uri) if not store_uri.startswith("s3://") else Path.cwd() / ".shipyard") / "demo-data"
    data_path = write_demo_dataset(data_dir / f"churn-seed{seed}-drift{drift:g}.csv", n_rows=rows, drift=drift,
                                   seed=seed, task="classification")
    if not as_json:
        status(f"generated {rows} rows of synthetic churn data: {data_path}")
    summary = execute_training(data=str(data_path), target=DEMO_TARGETS["classification"], model="churn-demo",
                               task="classification", config=None, store=store_uri, contract="", as_json=as_json)
    if not as_json:
        click.echo("\nnext:")
        click.echo(f"  shipyard models list --store {store_uri}")
        click.echo(f"  shipyard models show churn-demo --store {store_uri}")
        click.echo(f"  pipeline artifacts (reports, metrics, model): {summary['artifacts']}")


if __name__ == "__main__":  # pragma: no cover
    main()
