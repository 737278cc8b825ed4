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
from shipyard.vocabulary import PRODUCTION, STAGING

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
      shipyard models segments churn      # a model trained per segment (--segment-by)
    """


def _registry(store: str) -> ModelRegistry:
    from shipyard.store.registry import ModelRegistry

    return ModelRegistry.from_uri(existing_store(store))


_segment_option = click.option(
    "--segment",
    default=None,
    metavar="VALUE",
    help="The model of one segment of NAME (a model trained with --segment-by): its value, say eu "
    "(the same as passing NAME--eu).",
)


def _segment_parent(registry: ModelRegistry, name: str) -> str:
    """The parent model when ``name`` is one of its segment models (in its index), else ''."""
    from shipyard.stages.segments import SEPARATOR, is_segment_model

    return name.partition(SEPARATOR)[0] if is_segment_model(registry, name) else ""


def _segment_model(registry: ModelRegistry, name: str, segment: str | None) -> str:
    """The registry model to act on: NAME, or with --segment the model of that segment of NAME."""
    if segment is None:
        return name
    from shipyard.stages.segments import find_segment

    return find_segment(registry, name, segment)


def _segments_note(registry: ModelRegistry, name: str) -> tuple[int, str] | None:
    """``(how many segments, what to run)`` when ``name`` has segments; None when it has none."""
    from shipyard.stages.segments import list_segments

    total = list_segments(registry, name, limit=1).total
    if not total:
        return None
    return total, f"shipyard models segments {name}"


def _no_versions(registry: ModelRegistry, name: str) -> None:
    """Fails for a model without versions, pointing at its segments when it has some."""
    note = _segments_note(registry, name)
    if note is None:
        fail(f"no model named '{name}' in {registry.uri}")
    else:
        total, command = note
        fail(
            f"model '{name}' has no versions of its own: it was trained per segment and has {total} segment "
            f"model(s); list them with `{command}`, or pick one with --segment VALUE"
        )


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
_DEFAULT_SEGMENT_PAGE = 100
#: How many alias reads `models segments` has in flight at once.
_ALIAS_READERS = 8


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
@_segment_option
@store_option
@json_option
@reports_errors
def models_list(
    name: str | None,
    limit: int | None,
    show_all: bool,
    before: int | None,
    segment: str | None,
    store: str,
    as_json: bool,
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
      shipyard models list churn --segment eu   # the versions of churn's model for segment eu
    """
    if show_all and limit is not None:
        raise CliError("--limit and --all exclude each other: give one")
    if name is None and (show_all or before is not None or segment is not None):
        raise CliError("--all, --before and --segment are about one model: give the model NAME too")
    registry = _registry(store)
    if name is not None:
        name = _segment_model(registry, name, segment)
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
    width = max(24, *(len(row["name"]) for row in rows))  # segment models are NAME--VALUE: often longer
    click.echo(f"{'MODEL':<{width}} {'LATEST':>6}  ALIASES")
    for row in rows:
        shown = ", ".join(f"{a}=v{v}" for a, v in sorted(row["aliases"].items())) or "-"
        failed_text = ", ".join(f"v{v}" for v in row["failed_smoke_test"])
        click.echo(
            f"{row['name']:<{width}} {('v' + str(row['latest'])) if row['latest'] else '-':>6}  {shown}"
            + (f"  (failed smoke test: {failed_text})" if failed_text else "")
        )


def _list_versions(registry: ModelRegistry, name: str, limit: int | None, before: int | None, as_json: bool) -> None:
    """`models list NAME`: one page of versions, newest first, and what lies beyond it."""
    page = registry.versions_page(name, limit=limit, before=before)
    if page.latest is None:
        _no_versions(registry, name)
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
@_segment_option
@store_option
@json_option
@reports_errors
def models_show(name: str, segment: str | None, store: str, as_json: bool) -> None:
    """Show a model's versions, aliases, metrics, sha256 and lineage.

    A model trained per segment (--segment-by) has no versions of its own: this says how many
    segments it has; `shipyard models segments NAME` lists them, --segment VALUE shows one.

    \b
    Examples:
      shipyard models show churn --json
      shipyard models show churn --segment eu   # the same as: shipyard models show churn--eu
    """
    registry = _registry(store)
    name = _segment_model(registry, name, segment)
    versions = registry.list_versions(name)
    note = _segments_note(registry, name) if segment is None else None
    if not versions:
        if note is None:
            raise CliError(f"no model named '{name}' in {registry.uri}")
        _show_segmented(registry, name, *note, as_json=as_json)
        return
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
                "segments": None if note is None else note[0],
            }
        )
        return
    click.echo(f"model {name} ({registry.uri})")
    if note is not None:
        click.echo(f"segments: {note[0]}, each a model of its own (`{note[1]}`)")
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


def _show_segmented(registry: ModelRegistry, name: str, total: int, command: str, *, as_json: bool) -> None:
    """`models show NAME` for a model trained per segment: how many segments, and where to look."""
    if as_json:
        emit_json({"name": name, "store": registry.uri, "versions": [], "segments": total, "list_segments": command})
        return
    click.echo(f"model {name} ({registry.uri})")
    click.echo(f"no versions of its own: trained per segment, {total} segment model(s) ({name}--VALUE)")
    click.echo(f"list them: {command}")
    click.echo(f"show one:  shipyard models show {name} --segment VALUE")


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


@models.command("segments")
@click.argument("name")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=_DEFAULT_SEGMENT_PAGE,
    show_default=True,
    help="How many segments to show.",
)
@click.option("--after", metavar="SUFFIX", default=None, help="Show the segments after this one (the next page).")
@store_option
@json_option
@reports_errors
def models_segments(name: str, limit: int, after: str | None, store: str, as_json: bool) -> None:
    """List the segments of a model trained per segment (--segment-by), a page at a time.

    Each segment is a model of its own, NAME--SUFFIX, with its own versions and aliases; this
    shows each one's segment value and where production and staging point. A page reads one
    listing of the index, then each segment's index entry and its production and staging
    aliases: the same whatever the segments' histories.

    \b
    Examples:
      shipyard models segments churn
      shipyard models segments churn --limit 20 --after eu --json
      shipyard models promote churn 3 --segment eu   # then act on one segment
    """
    from shipyard.stages.segments import list_segments

    registry = _registry(store)
    page = list_segments(registry, name, limit=limit, after=after)
    if not page.total:
        has_versions = registry.latest_version(name) is not None
        fail(
            f"model '{name}' has no segments in {registry.uri}: "
            + (f"it is one model (shipyard models show {name})" if has_versions else "no model of that name")
            + "; segments come from shipyard run training --segment-by COLUMN"
        )
    from concurrent.futures import ThreadPoolExecutor

    from shipyard.store.aliases import Aliases

    # One read per alias of each segment model (no listing of its aliases), so a page costs the
    # same whatever the number of segments and versions; a few at a time, since a page of 100 is
    # 200 reads: 2-6 s one after another at S3's 10-30 ms a request.
    held = Aliases(registry.store, registry.get_version).held
    with ThreadPoolExecutor(max_workers=_ALIAS_READERS) as pool:
        found = list(
            pool.map(lambda entry: (held(entry["model"], PRODUCTION), held(entry["model"], STAGING)), page.segments)
        )
    rows = [
        {**entry, PRODUCTION: production, STAGING: staging}
        for entry, (production, staging) in zip(page.segments, found, strict=True)
    ]
    column = rows[0].get("column") if rows else None
    if as_json:
        emit_json(
            {"model": name, "column": column, "segments": rows, "next_after": page.next_after, "total": page.total}
        )
        return
    by = f" by {column}" if column else ""
    click.echo(f"model {name} ({registry.uri}): {page.total} segment(s){by}")
    if not rows:
        click.echo(f"no segments after {after}")
        return
    width = max(len("SEGMENT"), *(len(str(row["segment"])) for row in rows))
    model_width = max(len("MODEL"), *(len(str(row["model"])) for row in rows))
    click.echo(f"{'SEGMENT':<{width}}  {'MODEL':<{model_width}}  {'PRODUCTION':<10}  STAGING")
    for row in rows:
        click.echo(
            f"{row['segment']:<{width}}  {row['model']:<{model_width}}  {_version_text(row[PRODUCTION]):<10}  "
            f"{_version_text(row[STAGING])}"
        )
    if page.next_after is not None:
        click.echo(f"more segments: shipyard models segments {name} --after {page.next_after}")


def _version_text(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


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
@_segment_option
@_config_option
@store_option
@json_option
@reports_errors
def models_promote(
    name: str,
    version: int,
    alias: str,
    force: bool,
    segment: str | None,
    config: Path | None,
    store: str,
    as_json: bool,
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
      shipyard models promote churn 3 --segment eu   # segment eu's model only; the others stay
    """
    registry = _registry(store)
    if segment is None and registry.latest_version(name) is None:
        from shipyard.stages.segments import list_segments

        some = [entry["segment"] for entry in list_segments(registry, name, limit=3).segments]
        if some:
            raise CliError(
                f"model '{name}' has a model per segment and no versions of its own: promote one segment's "
                f"version with --segment VALUE (its segments include {some}; `shipyard models segments {name}`)"
            )
    name = _segment_model(registry, name, segment)
    registry.get_version(name, version)  # an unknown version is reported as such, before its status
    reasons = _failed_smoke_test(registry.version_status(name, version))
    if reasons is not None and not force:
        raise CliError(
            f"model '{name}' version {version} failed its smoke test: "
            + ("; ".join(reasons) or "no reason recorded")
            + f". Promote it anyway with: shipyard models promote {name} {version} --alias {alias} --force"
        )
    settings, cluster = _cluster(config, segments_of=_segment_parent(registry, name))
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
@_segment_option
@click.option(
    "--all-segments",
    is_flag=True,
    help="Move the alias back in every segment model of NAME (trained with --segment-by), one by one: "
    "a segment that fails is reported and the others still roll back; exits 1 if any failed.",
)
@_config_option
@store_option
@json_option
@reports_errors
def models_rollback(
    name: str,
    alias: str,
    segment: str | None,
    all_segments: bool,
    config: Path | None,
    store: str,
    as_json: bool,
) -> None:
    """Move an alias back to the version that held it before.

    With --config naming deploy.target: kserve, the alias's InferenceService is pointed at that
    version first and must be Ready before the alias moves; if it does not become Ready it is
    restored, the alias stays where it was, and the command fails. If the alias was moved by
    someone else meanwhile, nothing is rolled back.

    --all-segments moves each segment's alias back one step, whichever run moved it last.

    \b
    Examples:
      shipyard models rollback churn            # production back to its previous version
      shipyard models rollback churn --config shipyard.yaml --store s3://mlpipeline/shipyard
      shipyard models rollback churn --segment eu      # segment eu's model only
      shipyard models rollback churn --all-segments    # every segment's production, one step back
    """
    if segment is not None and all_segments:
        raise CliError("--segment and --all-segments exclude each other: give one")
    registry = _registry(store)
    target = name if all_segments else _segment_model(registry, name, segment)
    settings, cluster = _cluster(config, segments_of=name if all_segments else _segment_parent(registry, target))
    if all_segments:
        _rollback_segments(registry, name, alias, settings, cluster, as_json)
        return
    move = _rollback_one(registry, target, alias, settings, cluster)
    _report_move(move, as_json, "rolled back")


def _rollback_one(
    registry: ModelRegistry, name: str, alias: str, settings: DeploySettings, cluster: KServeCluster | None
) -> AliasMove:
    if cluster is None:
        return registry.rollback(name, alias)
    from shipyard.stages.deploy import deliver

    held, target = registry.rollback_target(name, alias)
    return deliver(
        registry,
        name,
        target,
        alias,
        settings,
        cluster,
        lambda: registry.rollback(name, alias, expected=(held, target)),
    )


def _rollback_segments(
    registry: ModelRegistry,
    name: str,
    alias: str,
    settings: DeploySettings,
    cluster: KServeCluster | None,
    as_json: bool,
) -> None:
    """`models rollback NAME --all-segments`: each segment on its own; exit 1 if any failed."""
    from shipyard.errors import ShipyardError
    from shipyard.stages.segments import list_segments

    entries = list_segments(registry, name, limit=None).segments
    if not entries:
        fail(
            f"model '{name}' has no segments in {registry.uri} (train with --segment-by); "
            "roll it back without --all-segments"
        )
    from shipyard.errors import NothingToRollBack

    outcomes: list[dict[str, Any]] = []
    for entry in entries:
        outcome: dict[str, Any] = {"segment": entry["segment"], "model": entry["model"]}
        try:
            registry.rollback_target(str(entry["model"]), alias)
        except NothingToRollBack as exc:  # never promoted, or no earlier version: nothing to undo, no failure
            outcome.update(status="skipped", reason=str(exc))
            outcomes.append(outcome)
            if not as_json:
                click.echo(f"{entry['model']}: nothing to roll back ({exc})")
            continue
        except ShipyardError:
            pass  # the store: reported by the rollback itself, below
        try:
            move = _rollback_one(registry, str(entry["model"]), alias, settings, cluster)
        except ShipyardError as exc:  # this segment stays as it was; the others still roll back
            outcome.update(status="failed", error=str(exc))
            if not as_json:
                click.echo(f"{entry['model']}: FAILED: {exc}")
        else:
            moved = move.previous != move.current
            outcome.update(status="rolled_back" if moved else "unchanged", previous=move.previous, current=move.current)
            if not as_json:
                _report_move(move, False, "rolled back")
        outcomes.append(outcome)
    failed = sum(outcome["status"] == "failed" for outcome in outcomes)
    skipped = sum(outcome["status"] == "skipped" for outcome in outcomes)
    if as_json:
        emit_json(
            {
                "model": name,
                "alias": alias,
                "segments": outcomes,
                "failed": failed,
                "skipped": skipped,
                "total": len(outcomes),
            }
        )
    else:
        click.echo(
            f"{alias} rolled back in {len(outcomes) - failed - skipped} of {len(outcomes)} segment(s) of {name}"
            + (f"; {skipped} had nothing to roll back" if skipped else "")
            + (f"; {failed} failed (above)" if failed else "")
        )
    if failed:
        raise SystemExit(1)


def _cluster(config: Path | None, *, segments_of: str = "") -> tuple[DeploySettings, KServeCluster | None]:
    """The deploy settings of --config, and a cluster connection when they say kserve.

    ``segments_of``: the aliases to move are segments' (of that model); refused with kserve, whose
    config names one staging and one production InferenceService that every segment would take
    over in turn.
    """
    from shipyard.config import load_config

    settings = load_config(read_config_file(config)).deploy
    if settings.target != "kserve":
        return settings, None
    if segments_of:
        raise CliError(
            f"the segments of '{segments_of}' cannot be moved with deploy.target kserve: one InferenceService "
            "per segment is not supported; move the registry aliases without --config (segments are served "
            f"by `shipyard serve {segments_of}`)"
        )
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
