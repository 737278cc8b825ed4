"""Running the training pipeline on this machine and summarising what it did."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shipyard.store.registry import ModelRegistry
from shipyard.store.uri import StoreURI

_TASK_LABELS = {
    "ingest-data": "ingest",
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


def labelled_progress(
    on_progress: Callable[[str, str, float], None] | None, labels: Mapping[str, str]
) -> Callable[[str, str, float], None] | None:
    """``on_progress`` called with each task's label (``labels``) instead of its kfp task name."""
    if on_progress is None:
        return None
    report = on_progress

    def labelled(name: str, state: str, seconds: float) -> None:
        report(labels.get(name, name), state, seconds)

    return labelled


def local_workdir(store_uri: str, run_id: str) -> Path:
    """Where a local run keeps its KFP pipeline root and task log."""
    if not StoreURI.parse(store_uri).is_local:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "shipyard" / "local-runs" / run_id
    return Path(store_uri) / "local-runs" / run_id


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
    on_progress: Callable[[str, str, float], None] | None = None,
) -> dict[str, Any]:
    """Runs the training pipeline under kfp.local and returns the CLI's JSON summary."""
    from shipyard.adapters.kfp_local import run_pipeline_locally
    from shipyard.pipelines.training import training_pipeline

    run_id = new_run_id()
    workdir = local_workdir(store_uri, run_id)
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
        ),
        pipeline_root=workdir / "pipeline-root",
        log_path=workdir / "run.log",
        on_progress=labelled,
    )
    return summarise_run(
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
