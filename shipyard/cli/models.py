"""`shipyard models`: inspect and move models in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shipyard.cli._common import (
    CliError,
    emit_json,
    existing_store,
    fail,
    format_metrics,
    json_option,
    read_config_file,
    reports_errors,
    store_option,
)
from shipyard.vocabulary import PRODUCTION

if TYPE_CHECKING:  # the registry is imported where it is used: --help stays fast
    from shipyard.adapters.kserve_cluster import KServeCluster
    from shipyard.config import DeploySettings
    from shipyard.store.aliases import AliasMove
    from shipyard.store.registry import ModelRegistry


@click.group()
def models() -> None:
    """Inspect and move models in the registry.

    \b
    Examples:
      shipyard models list
      shipyard models rollback churn
    """


def _registry(store: str) -> ModelRegistry:
    from shipyard.store.registry import ModelRegistry

    return ModelRegistry.from_uri(existing_store(store))


def _failed_smoke_test(status: dict[str, Any] | None) -> list[str] | None:
    """The reasons a version failed its latest smoke test, or None if it did not fail one."""
    from shipyard.store.registry import SMOKE_TEST_FAILED

    if not status or status.get("status") != SMOKE_TEST_FAILED:
        return None
    return [str(p) for p in (status.get("smoke_test") or {}).get("problems") or []]


def _status_label(status: dict[str, Any] | None) -> str:
    """``smoke test FAILED``, ``smoke test passed`` or ``not smoke-tested``."""
    if not status:
        return "not smoke-tested"
    return "smoke test FAILED" if _failed_smoke_test(status) is not None else "smoke test passed"


_DEFAULT_PAGE = 20


@models.command("list")
@click.argument("name", required=False)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help=f"How many versions to show, newest first (default {_DEFAULT_PAGE}); without NAME, how many of "
    "each model's newest versions are checked for a failed smoke test.",
)
@click.option("--all", "show_all", is_flag=True, help="Show every version of NAME (reads its whole history).")
@click.option(
    "--before", type=click.IntRange(min=1), default=None, help="Show versions older than this one (the next page)."
)
@store_option
@json_option
@reports_errors
def models_list(
    name: str | None, limit: int | None, show_all: bool, before: int | None, store: str, as_json: bool
) -> None:
    """List models with their latest version and aliases, or the newest versions of one model.

    With NAME, shows its newest versions (20 unless --limit or --all) and says how many older
    ones there are; --before VERSION pages on. What this reads does not grow with the history,
    except with --all.

    \b
    Examples:
      shipyard models list --store s3://mlpipeline/shipyard --json
      shipyard models list churn --limit 5
      shipyard models list churn --before 81
    """
    if show_all and limit is not None:
        raise CliError("--limit and --all exclude each other: give one")
    if name is None and (show_all or before is not None):
        raise CliError("--all and --before page through one model's versions: give the model NAME too")
    registry = _registry(store)
    if name is not None:
        _list_versions(registry, name, None if show_all else limit or _DEFAULT_PAGE, before, as_json)
        return
    rows: list[dict[str, Any]] = []
    for model in registry.list_models():
        latest = registry.latest_version(model)
        aliases = registry.aliases(model)
        production = registry.resolve_alias(model, PRODUCTION) if PRODUCTION in aliases else None
        newest = [] if latest is None else range(latest.version, max(latest.version - (limit or _DEFAULT_PAGE), 0), -1)
        failed = [v for v in newest if _failed_smoke_test(registry.version_status(model, v)) is not None]
        rows.append(
            {
                "name": model,
                "latest": latest.version if latest else None,
                "aliases": aliases,
                "production_metrics": production.metrics if production else None,
                "failed_smoke_test": sorted(failed),
            }
        )
    if as_json:
        emit_json({"store": registry.uri, "models": rows})
        return
    if not rows:
        click.echo(f"no models in {registry.uri}")
        return
    click.echo(f"{'MODEL':<24} {'LATEST':>6}  ALIASES")
    for row in rows:
        shown = ", ".join(f"{a}=v{v}" for a, v in sorted(row["aliases"].items())) or "-"
        failed_text = ", ".join(f"v{v}" for v in row["failed_smoke_test"])
        click.echo(
            f"{row['name']:<24} {('v' + str(row['latest'])) if row['latest'] else '-':>6}  {shown}"
            + (f"  (failed smoke test: {failed_text})" if failed_text else "")
        )


def _list_versions(registry: ModelRegistry, name: str, limit: int | None, before: int | None, as_json: bool) -> None:
    """`models list NAME`: one page of versions, newest first, and what lies beyond it."""
    page = registry.versions_page(name, limit=limit, before=before)
    if page.latest is None:
        fail(f"no model named '{name}' in {registry.uri}")
    aliases = registry.aliases(name)
    tags: dict[int, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        tags.setdefault(version, []).append(alias)
    rows = [
        {
            **v.to_dict(),
            "aliases": tags.get(v.version, []),
            "status": registry.version_status(name, v.version),
        }
        for v in page.versions
    ]
    if as_json:
        emit_json(
            {
                "store": registry.uri,
                "model": name,
                "latest": page.latest,
                "aliases": aliases,
                "versions": rows,
                "next_before": page.next_before,
                "older_at_most": page.older_at_most,
            }
        )
        return
    click.echo(f"model {name} ({registry.uri}): latest v{page.latest}")
    if not rows:
        click.echo(f"no versions before v{before}")
        return
    click.echo(f"{'VERSION':<8} {'CREATED':<28} {'ALIASES':<20} {'STATUS':<18} METRICS")
    for row in rows:
        click.echo(
            f"{'v' + str(row['version']):<8} {row['created_at']:<28} {', '.join(row['aliases']) or '-':<20} "
            f"{_status_label(row['status']):<18} {format_metrics(row['metrics'])}"
        )
    if page.next_before is not None:
        older = page.older_at_most
        click.echo(
            f"older versions not shown: v1-v{older} (at most {older}); next page: "
            f"shipyard models list {name} --before {page.next_before}; every version: --all"
        )


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
    from shipyard.stages.monitor import latest_monitoring

    production = aliases.get(PRODUCTION)
    monitoring = None if production is None else latest_monitoring(registry, name, production)
    statuses = registry.version_statuses(name)
    if as_json:
        emit_json(
            {
                "name": name,
                "store": registry.uri,
                "aliases": aliases,
                "versions": [{**v.to_dict(), "status": statuses.get(v.version)} for v in versions],
                "audit": registry.audit_log(name),
                "monitoring": monitoring,
            }
        )
        return
    click.echo(f"model {name} ({registry.uri})")
    click.echo("aliases: " + (", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "(none)"))
    _echo_monitoring(production, monitoring)
    for v in versions:
        tags = [a for a, ver in aliases.items() if ver == v.version]
        click.echo(f"\nv{v.version}{'  [' + ', '.join(sorted(tags)) + ']' if tags else ''}  {v.created_at}")
        click.echo(f"  uri:      {v.uri}")
        click.echo(f"  sha256:   {v.sha256}")
        click.echo(f"  metrics:  {format_metrics(v.metrics)}")
        lineage = v.lineage
        click.echo(f"  data:     {lineage.get('data_uri')} ({lineage.get('data_hash')})")
        click.echo(
            f"  code:     {lineage.get('code_version')}  run: {lineage.get('run_id')}  "
            f"parent: {lineage.get('parent_version')}"
        )
        click.echo(f"  params:   {v.params}")
        status = statuses.get(v.version)
        click.echo(f"  status:   {_status_label(status)}")
        for problem in _failed_smoke_test(status) or []:
            click.echo(f"            - {problem}")


def _echo_monitoring(production: int | None, monitoring: dict[str, Any] | None) -> None:
    """The latest monitoring verdict of the production version, in two or three lines."""
    if production is None:
        return
    if monitoring is None:
        click.echo(f"monitoring: v{production} not monitored yet (shipyard run monitoring)")
        return
    verdict = "ALERT" if monitoring.get("alert") else "ok"
    click.echo(
        f"monitoring: v{production} {verdict} at {monitoring.get('checked_at')} (run {monitoring.get('run_id')})"
    )
    click.echo(f"  {monitoring.get('summary')}")
    drifted = monitoring.get("drifted_columns") or []
    decay = "yes" if monitoring.get("decay_detected") else "no" if monitoring.get("has_target") else "not checked"
    click.echo(
        f"  drift share {float(monitoring.get('drift_share') or 0):.2f}"
        + (f", drifted: {', '.join(map(str, drifted))}" if drifted else "")
        + f"; decay: {decay}"
    )
    if monitoring.get("report_uri"):
        click.echo(f"  report: {monitoring['report_uri']}")


_config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML whose deploy: section applies; with deploy.target: kserve the alias's InferenceService "
    "is re-pointed too (and must become Ready).",
)


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", default=PRODUCTION, show_default=True, help="Alias to move.")
@click.option("--force", is_flag=True, help="Promote even a version marked as having failed its smoke test.")
@_config_option
@store_option
@json_option
@reports_errors
def models_promote(
    name: str, version: int, alias: str, force: bool, config: Path | None, store: str, as_json: bool
) -> None:
    """Point an alias at a version (recorded in the audit log).

    A version that failed its smoke test (shown in `models show`) is refused, with the reasons,
    unless --force is given. With --config naming deploy.target: kserve, the alias's
    InferenceService is pointed at the version and must be Ready before the alias moves.

    \b
    Examples:
      shipyard models promote churn 3 --alias production
      shipyard models promote churn 3 --config shipyard.yaml --store s3://mlpipeline/shipyard
      shipyard models promote churn 4 --force   # v4 failed its smoke test; promote it anyway
    """
    registry = _registry(store)
    registry.get_version(name, version)  # an unknown version is reported as such, before its status
    reasons = _failed_smoke_test(registry.version_status(name, version))
    if reasons is not None and not force:
        raise CliError(
            f"model '{name}' version {version} failed its smoke test: "
            + ("; ".join(reasons) or "no reason recorded")
            + f". Promote it anyway with: shipyard models promote {name} {version} --alias {alias} --force"
        )
    settings, cluster = _cluster(config)
    from shipyard.stages.deploy import deliver

    move = deliver(
        registry,
        name,
        version,
        alias,
        settings,
        cluster,
        lambda: registry.set_alias(name, alias, version, action="promoted"),
    )
    _report_move(move, as_json, "promoted")


@models.command("rollback")
@click.argument("name")
@click.option("--alias", default=PRODUCTION, show_default=True, help="Alias to move back.")
@_config_option
@store_option
@json_option
@reports_errors
def models_rollback(name: str, alias: str, config: Path | None, store: str, as_json: bool) -> None:
    """Move an alias back to the version that held it before.

    With --config naming deploy.target: kserve, the alias's InferenceService is pointed at that
    version first and must be Ready before the alias moves; if it does not become Ready it is
    restored, the alias stays where it was, and the command fails. If the alias was moved by
    someone else meanwhile, nothing is rolled back.

    \b
    Examples:
      shipyard models rollback churn            # production back to its previous version
      shipyard models rollback churn --config shipyard.yaml --store s3://mlpipeline/shipyard
    """
    registry = _registry(store)
    settings, cluster = _cluster(config)
    if cluster is None:
        move = registry.rollback(name, alias)
    else:
        from shipyard.stages.deploy import deliver

        held, target = registry.rollback_target(name, alias)
        move = deliver(
            registry,
            name,
            target,
            alias,
            settings,
            cluster,
            lambda: registry.rollback(name, alias, expected=(held, target)),
        )
    _report_move(move, as_json, "rolled back")


def _cluster(config: Path | None) -> tuple[DeploySettings, KServeCluster | None]:
    """The deploy settings of --config, and a cluster connection when they say kserve."""
    from shipyard.config import load_config

    settings = load_config(read_config_file(config)).deploy
    if settings.target != "kserve":
        return settings, None
    from shipyard.adapters.kserve_cluster import KServeCluster

    return settings, KServeCluster.connect(settings.namespace)


def _report_move(move: AliasMove, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json({"model": move.model, "alias": move.alias, "previous": move.previous, "current": move.current})
    elif move.previous == move.current:
        click.echo(f"{move.model}: {move.alias} already points at v{move.current}; nothing moved")
    else:
        click.echo(
            f"{move.model}: {move.alias} {verb} v{move.previous} -> v{move.current}"
            if move.previous is not None
            else f"{move.model}: {move.alias} -> v{move.current}"
        )


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
            click.echo(
                f"{'ok ' if r['ok'] else 'BAD'} {r['model']} v{r['version']}"
                + ("" if r["ok"] else f": {r.get('problem')}")
            )
        click.echo(f"{len(results) - len(bad)} of {len(results)} files verified")
    if bad:
        raise SystemExit(1)
