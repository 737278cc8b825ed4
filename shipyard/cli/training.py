"""Running the training pipeline on this machine and summarising what it did."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shipyard.stages.unchanged import UNCHANGED_SECTION
from shipyard.store.registry import ModelRegistry, ModelVersion
from shipyard.store.uri import StoreURI

_TASK_LABELS = {
    "ingest-data": "ingest",
    "check-unchanged": "check for changes",
    "validate-data": "validate",
    "train-model": "train",
    "evaluate-model": "evaluate",
    "gate-challenger": "gate",
    "register-model": "register",
    "deploy-staging": "deploy to staging",
    "smoke-test": "smoke test",
    "promote-production": "promote to production",
    "record-outcome": "record outcome",
}


def new_run_id() -> str:
    return f"run-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


#: Called with (task label, state, seconds, detail); see shipyard.adapters.kfp_local.ProgressCallback.
Progress = Callable[[str, str, float, str], None]


def labelled_progress(on_progress: Progress | None, labels: Mapping[str, str]) -> Progress | None:
    """``on_progress`` called with each task's label (``labels``) instead of its kfp task name."""
    if on_progress is None:
        return None
    report = on_progress

    def labelled(name: str, state: str, seconds: float, detail: str = "") -> None:
        report(labels.get(name, name), state, seconds, detail)

    return labelled


def local_workdir(store_uri: str, run_id: str) -> Path:
    """Where a local run keeps its KFP pipeline root and task log."""
    if not StoreURI.parse(store_uri).is_local:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "shipyard" / "local-runs" / run_id
    return Path(store_uri) / "local-runs" / run_id


def prepare_workdir(store_uri: str, run_id: str) -> Path:
    """Creates the run's working directory (under a local store), before any task starts.

    Raises:
        StoreError: one line naming the store (or the cache directory, for an S3 store) and what
            is wrong with it: a file, under a file, read-only, not permitted, full. No run paths.
    """
    workdir = local_workdir(store_uri, run_id)
    _check_store_path(store_uri, create=workdir / "pipeline-root")
    return workdir


def check_store_path(store_uri: str) -> None:
    """The checks of :func:`prepare_workdir`, before anything reads the store; creates nothing."""
    _check_store_path(store_uri, create=None)


def _check_store_path(store_uri: str, *, create: Path | None) -> None:
    """Raises StoreError when the store's local directory cannot hold runs; creates ``create`` if given.

    Without ``create`` the nearest existing directory is probed with a temporary file, removed at once.
    """
    import errno
    import tempfile

    from shipyard.errors import StoreError

    local = StoreURI.parse(store_uri).is_local
    root = Path(store_uri) if local else local_workdir(store_uri, "run").parent.parent
    what = f"store '{store_uri}'" if local else f"local run directory '{root}' (for the S3 store's local runs)"
    existing = next((path for path in [root, *root.parents] if path.exists() or path.is_symlink()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == root else f"is under '{existing}', which is a file"
        raise StoreError(f"{what} {where}, not a directory; pass --store (or SHIPYARD_STORE) a directory")
    try:
        if create is not None:
            create.mkdir(parents=True, exist_ok=True)
            probe = create / ".writable"
            probe.write_bytes(b"")
            probe.unlink()
        elif existing is not None:
            with tempfile.TemporaryFile(dir=existing):
                pass
    except OSError as exc:
        reasons = {
            errno.EROFS: "is on a read-only file system",
            errno.EACCES: "is not writable by this user (permission denied)",
            errno.EPERM: "is not writable by this user (operation not permitted)",
            errno.ENOSPC: "is on a full disk",
            errno.EDQUOT: "is over its disk quota",
            errno.ENOTDIR: "is under a file, not a directory",
        }
        reason = reasons.get(exc.errno or 0, f"cannot be written ({exc.strerror or exc})")
        raise StoreError(f"{what} {reason}; pass --store (or SHIPYARD_STORE) a writable directory") from None


def settle_interrupt(
    registry: ModelRegistry, model_name: str, run_id: str, result: Any, config_text: str
) -> dict[str, Any]:
    """The interrupted run's outcome record (staging taken back if it moved and did not ship).

    Runs with SIGINT/SIGTERM/SIGHUP ignored: one more Ctrl-C must not stop the cleanup half-way.
    """
    import signal

    from shipyard.config import load_config
    from shipyard.stages.interrupt import settle_interrupted_run

    deploy = load_config(config_text).deploy

    def connect() -> Any:
        from shipyard.adapters.kserve_cluster import cluster_for

        return cluster_for(deploy)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stops}
    try:
        return settle_interrupted_run(
            registry,
            model_name,
            run_id,
            signal_name=result.interrupted,
            stopped_tasks=list(result.stopped_tasks),
            deploy=deploy,
            connect=connect,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_training(
    *,
    data_uri: str,
    target: str,
    model_name: str,
    task: str,
    store_uri: str,
    config_text: str,
    contract_uri: str,
    code_version: str,
    on_progress: Progress | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Runs the training pipeline under kfp.local and returns the CLI's JSON summary.

    An interrupted run (SIGINT/SIGTERM) has status ``interrupted`` and an ``outcome`` saying what
    it left (see :func:`settle_interrupt`). ``force`` trains even when a registered version was
    trained on the same data, config and code; without it the pipeline's own check may end the run
    early (status ``unchanged``).
    """
    from shipyard.adapters.kfp_local import run_pipeline_locally
    from shipyard.pipelines.training import training_pipeline

    run_id = new_run_id()
    workdir = prepare_workdir(store_uri, run_id)
    labelled = labelled_progress(on_progress, _TASK_LABELS)
    result = run_pipeline_locally(
        training_pipeline,
        dict(
            data_uri=data_uri,
            target=target,
            model_name=model_name,
            task=task,
            store_uri=store_uri,
            config_yaml=config_text,
            contract_uri=contract_uri,
            code_version=code_version,
            run_id=run_id,
            force=force,
        ),
        pipeline_root=workdir / "pipeline-root",
        log_path=workdir / "run.log",
        on_progress=labelled,
    )
    registry = ModelRegistry.from_uri(store_uri)
    outcome = (
        None if result.interrupted is None else settle_interrupt(registry, model_name, run_id, result, config_text)
    )
    summary = summarise_run(
        registry,
        model_name,
        run_id,
        result.succeeded,
        error=result.error,
        error_type=result.error_type,
        findings=result.findings,
        log_path=str(result.log_path),
        artifacts=str(result.pipeline_root),
    )
    if outcome is not None:
        summary.update(status="interrupted", interrupted_by=result.interrupted, outcome=outcome)
    return summary


def summarise_run(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    succeeded: bool,
    *,
    error: str | None,
    error_type: str | None,
    findings: list[dict[str, Any]],
    log_path: str,
    artifacts: str,
) -> dict[str, Any]:
    from shipyard.stages.leakage import perfect_score_findings

    records = registry.get_run_record(run_id)
    if succeeded and records.get(UNCHANGED_SECTION):  # the pipeline's check ended the run early
        matched = records[UNCHANGED_SECTION]
        version = registry.get_version(model_name, int(matched["version"]))
        return unchanged_summary(registry, run_id, version, matched["fingerprint"], log_path=log_path)
    gate = records.get("gate", {})
    too_good = [finding.to_dict() for finding in perfect_score_findings(gate.get("challenger_metrics") or {})]
    registered = records.get("register", {})
    try:
        aliases = registry.aliases(model_name)
    except Exception:  # noqa: BLE001 - an invalid model name already failed the run
        aliases = {}
    return {
        "status": "succeeded" if succeeded else "failed",
        "run_id": run_id,
        "model": model_name,
        "task": gate.get("task"),
        "blessed": gate.get("blessed") if gate else None,
        "version": registered.get("version"),
        "model_uri": registered.get("uri"),
        "metrics": gate.get("challenger_metrics", {}),
        "champion_version": gate.get("champion_version"),
        "champion_metrics": gate.get("champion_metrics"),
        "aliases": aliases,
        "reasons": list(gate.get("reasons", [])),
        "error": error,
        "error_type": error_type,
        "validation": records.get("validation"),
        # What the data checks found: the validation report's findings, else the failed task's (say, ingest).
        "findings": list((records.get("validation") or {}).get("findings") or findings) + too_good,
        "store": registry.uri,
        "log": log_path,
        "artifacts": artifacts,
    }


def find_unchanged_run(
    *,
    data_uri: str,
    target: str,
    model_name: str,
    task: str,
    store_uri: str,
    config_text: str,
    contract_uri: str,
    code_version: str,
) -> tuple[dict[str, Any] | None, str]:
    """Before kfp.local starts: ``(summary of an unchanged run, '')`` when a registered version was
    trained on this data, config and code, else ``(None, why the run could not be recognised or '')``.

    Hashes the data file the way ingest does (one read of its bytes) and looks the run's
    fingerprint up with one registry read; a match writes only the new run's record. Data or a
    contract that cannot be read is left for the pipeline's ingest and validate steps to report.
    """
    from shipyard.errors import DataValidationError
    from shipyard.stages.source import data_hash, read_data_file
    from shipyard.stages.unchanged import fingerprint_run, match_unchanged_run

    registry = ModelRegistry.from_uri(store_uri)
    try:
        fingerprint = fingerprint_run(
            data_hash=data_hash(read_data_file(data_uri)),
            config_text=config_text,
            code_version=code_version,
            target=target,
            task=task,
            contract_uri=contract_uri,
        )
    except DataValidationError:
        return None, ""
    run_id = new_run_id()
    matched = match_unchanged_run(registry, model_name, run_id, fingerprint)
    if matched is None:
        return None, fingerprint.unprovable
    return unchanged_summary(registry, run_id, matched, fingerprint.digest, log_path=None), ""


def unchanged_summary(
    registry: ModelRegistry, run_id: str, version: ModelVersion, fingerprint: str, *, log_path: str | None
) -> dict[str, Any]:
    """The CLI's JSON summary of a run that trained nothing: ``version`` is the one it would repeat."""
    from shipyard.stages.unchanged import unchanged_message

    aliases = registry.aliases(version.name)
    return {
        "status": "unchanged",
        "run_id": run_id,
        "model": version.name,
        "task": version.lineage.get("task"),
        "blessed": None,
        "version": version.version,
        "model_uri": version.uri,
        "metrics": dict(version.metrics),
        "champion_version": None,
        "champion_metrics": None,
        "aliases": aliases,
        "reasons": [],
        "error": None,
        "error_type": None,
        "validation": None,
        "findings": [],
        "store": registry.uri,
        "log": log_path,
        "artifacts": None,
        "message": unchanged_message(version.name, version.version, aliases),
        "fingerprint": fingerprint,
    }


def run_segmented_training(
    *,
    data_uri: str,
    target: str,
    segment_by: str,
    model_name: str,
    task: str,
    store_uri: str,
    config_text: str,
    contract_uri: str,
    code_version: str,
    on_progress: Progress | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Runs the segmented training pipeline under kfp.local and returns the CLI's JSON summary.

    The summary has one entry per segment in ``segments`` (delivered and skipped ones alike) and
    ``totals``; ``status`` is ``succeeded`` when no segment failed, ``partial`` when some did,
    ``failed`` when all did or the run failed before any segment (a bad segment column, bad data).
    """
    from shipyard.adapters.kfp_local import run_pipeline_locally
    from shipyard.config import load_config
    from shipyard.pipelines.segments import build_segmented_pipeline

    run_id = new_run_id()
    workdir = prepare_workdir(store_uri, run_id)
    labels = {**_TASK_LABELS, "plan-segments": "plan segments", "deliver-segment": "deliver a segment"}
    result = run_pipeline_locally(
        build_segmented_pipeline(load_config(config_text).segments.parallelism),
        dict(
            data_uri=data_uri,
            target=target,
            segment_by=segment_by,
            model_name=model_name,
            task=task,
            store_uri=store_uri,
            config_yaml=config_text,
            contract_uri=contract_uri,
            code_version=code_version,
            run_id=run_id,
            force=force,
        ),
        pipeline_root=workdir / "pipeline-root",
        log_path=workdir / "run.log",
        on_progress=_segment_progress(labelled_progress(on_progress, labels)),
    )
    summary = segmented_summary(
        ModelRegistry.from_uri(store_uri),
        model_name,
        run_id,
        result.succeeded,
        error=result.error,
        error_type=result.error_type,
        findings=result.findings,
        log_path=str(result.log_path),
        artifacts=str(result.pipeline_root),
    )
    if result.interrupted is not None:
        summary.update(status="interrupted", interrupted_by=result.interrupted)
    return summary


def _segment_progress(report: Progress | None) -> Progress | None:
    """Progress per segment ("segment north: promoted"), not per anonymous branch task."""
    if report is None:
        return None
    shown = report

    def progress(name: str, state: str, seconds: float, detail: str = "") -> None:
        if name == "deliver-segment":
            return
        shown(f"{name}: {detail}" if name.startswith("segment ") else name, state, seconds, "")

    return progress


def segmented_summary(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    succeeded: bool,
    *,
    error: str | None,
    error_type: str | None,
    findings: list[dict[str, Any]],
    log_path: str,
    artifacts: str,
) -> dict[str, Any]:
    """A segmented run's summary, read back from the store: the plan, then each segment's own run record."""
    from shipyard.stages.segments import OUTCOME_SECTION, PLAN_SECTION, segment_status, segment_totals

    plan = registry.get_run_record(run_id).get(PLAN_SECTION) or {}
    entries: list[dict[str, Any]] = []
    for item in plan.get("items", []):
        ended = registry.get_run_record(item["run_id"]).get(OUTCOME_SECTION)
        if ended is None:  # the branch never recorded an end: it did not run, or was stopped
            ended = {"failed": True, "error_type": "NotRun", "error": "the segment's delivery did not finish"}
        one = summarise_run(
            registry,
            item["model"],
            item["run_id"],
            not ended["failed"],
            error=ended.get("error"),
            error_type=ended.get("error_type"),
            findings=list(ended.get("findings") or []),
            log_path=log_path,
            artifacts=artifacts,
        )
        entries.append(
            {
                "segment": item["segment"],
                "model": item["model"],
                "rows": item["rows"],
                "status": segment_status(one),
                "blessed": one["blessed"],
                "version": one["version"],
                "metrics": one["metrics"],
                "champion_version": one["champion_version"],
                "reasons": one["reasons"] or ([one["message"]] if one.get("message") else []),
                "aliases": one["aliases"],
                "error": one["error"],
                "error_type": one["error_type"],
                "findings": one["findings"],
                "run_id": item["run_id"],
            }
        )
    for skipped in plan.get("skipped", []):
        entries.append(
            {
                "segment": skipped["segment"],
                "model": None,
                "rows": skipped["rows"],
                "status": "skipped",
                "blessed": None,
                "version": None,
                "metrics": {},
                "champion_version": None,
                "reasons": [skipped["reason"]],
                "aliases": {},
                "error": None,
                "error_type": None,
                "findings": [],
                "run_id": None,
            }
        )
    totals = segment_totals(entries)
    delivered = totals["total"] - totals["skipped"]
    if not succeeded or not plan or (delivered and totals["failed"] == delivered):
        state = "failed"
    elif totals["failed"]:
        state = "partial"
    else:
        state = "succeeded"
    return {
        "status": state,
        "run_id": run_id,
        "model": model_name,
        "segment_by": plan.get("column"),
        "segments": entries,
        "totals": totals,
        "error": error if not succeeded else None,
        "error_type": error_type if not succeeded else None,
        "findings": findings if not succeeded else [],
        "store": registry.uri,
        "log": log_path,
        "artifacts": artifacts,
    }
