"""Running the monitoring pipeline on this machine and summarising what it did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.cli.training import Progress, labelled_progress, new_run_id, prepare_workdir, settle_interrupt
from shipyard.store.registry import ModelRegistry
from shipyard.vocabulary import PRODUCTION

if TYPE_CHECKING:
    import pandas as pd

#: Where a run keeps the traffic window it monitors, in its working directory.
CURRENT_DATA_FILE = "current-data.parquet"

_TASK_LABELS = {
    "current-data": "current data",
    "monitor-model": "monitor (drift, decay)",
    "send-monitoring-alert": "alert",
    "build-retraining-data": "retraining data",
    "validate-data": "retrain: validate",
    "train-model": "retrain: train",
    "evaluate-model": "retrain: evaluate",
    "gate-challenger": "retrain: gate",
    "register-model": "retrain: register",
    "deploy-staging": "retrain: deploy to staging",
    "smoke-test": "retrain: smoke test",
    "promote-production": "retrain: promote to production",
    "record-outcome": "record outcome",
    "record-outcome-2": "record outcome (monitoring)",
    "ingest-data": "retrain: ingest",
    "decide-retrain": "decide retrain",
    "check-unchanged": "retrain: check for changes",
}


def run_monitoring(
    *,
    data_uri: str,
    model_name: str,
    store_uri: str,
    config_text: str,
    reference_uri: str,
    allow_retrain: bool,
    code_version: str,
    on_progress: Progress | None = None,
    current: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Runs the monitoring pipeline under kfp.local and returns the CLI's JSON summary.

    ``current`` (a traffic window's table) is written to the run's directory as Parquet and
    monitored in place of ``data_uri``: the same pipeline, on a file of exactly those rows.

    An interrupted run has status ``interrupted``; a retrain it had started is settled too (its
    staging taken back unless it shipped), under the retrain's own run id.
    """
    from shipyard.adapters.kfp_local import run_pipeline_locally
    from shipyard.pipelines.monitoring import monitoring_pipeline

    run_id = new_run_id()
    workdir = prepare_workdir(store_uri, run_id)
    if current is not None:
        data_uri = str(workdir / CURRENT_DATA_FILE)
        current.to_parquet(data_uri, index=False)
    labelled = labelled_progress(on_progress, _TASK_LABELS)
    registry = ModelRegistry.from_uri(store_uri)
    production_before = registry.aliases(model_name).get(PRODUCTION)
    result = run_pipeline_locally(
        monitoring_pipeline,
        dict(
            data_uri=data_uri,
            model_name=model_name,
            store_uri=store_uri,
            config_yaml=config_text,
            reference_uri=reference_uri,
            allow_retrain=allow_retrain,
            code_version=code_version,
            run_id=run_id,
        ),
        pipeline_root=workdir / "pipeline-root",
        log_path=workdir / "run.log",
        on_progress=labelled,
    )
    outcome = None
    if result.interrupted is not None:
        retrain_id = f"{run_id}-retrain"
        retrain_outcome = None
        if registry.get_run_record(retrain_id):
            retrain_outcome = settle_interrupt(registry, model_name, retrain_id, result, config_text)
        outcome = {**settle_interrupt(registry, model_name, run_id, result, config_text), "retrain": retrain_outcome}
    summary = summarise_monitoring(
        registry,
        model_name,
        run_id,
        result.succeeded,
        production_before=production_before,
        error=result.error,
        error_type=result.error_type,
        log_path=str(result.log_path),
        artifacts=str(result.pipeline_root),
    )
    if outcome is not None:
        summary.update(status="interrupted", interrupted_by=result.interrupted, outcome=outcome)
    return summary


def summarise_monitoring(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    succeeded: bool,
    *,
    production_before: int | None,
    error: str | None,
    error_type: str | None,
    log_path: str,
    artifacts: str,
) -> dict[str, Any]:
    records = registry.get_run_record(run_id)
    monitoring = records.get("monitoring") or {}
    alert = records.get("alert")
    retrain_records = registry.get_run_record(f"{run_id}-retrain")
    gate = retrain_records.get("gate") or {}
    registered = retrain_records.get("register") or {}
    new_version = registered.get("version")
    try:
        aliases = registry.aliases(model_name)
    except Exception:  # noqa: BLE001 - an invalid model name already failed the run
        aliases = {}
    return {
        "status": "succeeded" if succeeded else "failed",
        "run_id": run_id,
        "model": model_name,
        "version": monitoring.get("version", production_before),
        "has_target": monitoring.get("has_target"),
        "left_out_columns": monitoring.get("left_out_columns", []),
        "decay_not_judged": monitoring.get("decay_not_judged"),
        "retrain_blocked": monitoring.get("retrain_blocked"),
        "drift_detected": monitoring.get("drift_detected"),
        "drift_share": monitoring.get("drift_share"),
        "drifted_columns": monitoring.get("drifted_columns", []),
        "decay_detected": monitoring.get("decay_detected"),
        "production_metrics": monitoring.get("production_metrics"),
        "summary": monitoring.get("summary"),
        "report": monitoring.get("report_uri"),
        "alerted": alert is not None,
        "alert_delivery": None if alert is None else alert.get("delivery"),
        "retrained": bool(retrain_records.get("gate")),
        # the retrain's own check found a version trained on these rows, config and code
        "retrain_unchanged": (retrain_records.get("unchanged") or {}).get("version"),
        "retrain_run_id": f"{run_id}-retrain" if retrain_records else None,
        "blessed": gate.get("blessed") if gate else None,
        "reasons": list(gate.get("reasons", [])),
        "new_version": new_version,
        "promoted": new_version is not None and aliases.get(PRODUCTION) == new_version,
        "aliases": aliases,
        "error": error,
        "error_type": error_type,
        "store": registry.uri,
        "log": log_path,
        "artifacts": artifacts,
    }
