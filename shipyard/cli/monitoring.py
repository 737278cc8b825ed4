"""Running the monitoring pipeline on this machine and summarising what it did."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.cli.training import Progress, labelled_progress, new_run_id, prepare_workdir, settle_interrupt
from shipyard.store.registry import ModelRegistry
from shipyard.vocabulary import PRODUCTION

if TYPE_CHECKING:
    from datetime import datetime

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


# --- a model with segments: each segment's production monitored by its own run -------------------


@dataclass(frozen=True)
class SegmentToMonitor:
    """One segment's share of a segmented monitoring run: its current rows, or why it is not monitored."""

    segment: str
    model: str
    current: pd.DataFrame | None  # None: not monitored, see ``reason``
    source: dict[str, Any]
    reason: str = ""  # why it is not monitored ("" when it is)
    failed: bool = False  # it cannot be monitored (no reference data): counts as a failed segment


def monitors_segments(registry: ModelRegistry, model_name: str) -> bool:
    """True when ``model_name`` is a parent of segments (its index is not empty) with no version of its own."""
    from shipyard.stages.segments import list_segments

    return registry.latest_version(model_name) is None and list_segments(registry, model_name, limit=1).total > 0


def chosen_segments(registry: ModelRegistry, model_name: str, wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The index entries ({"segment", "model", "column"}) of ``model_name``'s segments: all, or those in ``wanted``.

    Raises:
        RegistryError: a value in ``wanted`` is not one of the model's segments (the message names it
            and some that are), or the model has no segments.
    """
    from shipyard.errors import RegistryError
    from shipyard.stages.segments import find_segment, list_segments

    entries = list_segments(registry, model_name, limit=None).segments
    if not entries:
        raise RegistryError(f"model '{model_name}' has no segments (train with --segment-by)")
    if not wanted:
        return entries
    names = {find_segment(registry, model_name, value) for value in wanted}
    return [entry for entry in entries if entry["model"] in names]


def _production_or_reason(registry: ModelRegistry, model: str) -> tuple[str, bool]:
    """Why the segment model cannot be monitored ("" when it can), and whether that makes it a failed segment."""
    from shipyard.errors import ShipyardError
    from shipyard.stages.monitor import load_reference
    from shipyard.stages.reference import REFERENCE_FILE

    production = registry.resolve_alias(model, PRODUCTION)
    if production is None:
        return f"no {PRODUCTION} version", False
    if REFERENCE_FILE not in production.files:
        try:
            load_reference(registry, production)
        except ShipyardError as exc:  # registered without reference data: its run would fail in a task
            return str(exc), True
    return "", False


def split_table_by_segment(
    registry: ModelRegistry,
    model_name: str,
    frame: pd.DataFrame,
    entries: Sequence[Mapping[str, Any]],
    *,
    data_uri: str,
) -> tuple[list[SegmentToMonitor], list[dict[str, Any]]]:
    """Each chosen segment's rows of ``frame`` (by the index's column), and the rows no segment monitors.

    A segment with no production version, or no rows, is not monitored (with the reason). The
    second list ({"segment", "rows", "reason"}) counts the rows of segments with no production
    version, of values with no segment model and with no value; rows of segments left out by
    choice (``--segment``) are in neither.

    Raises:
        DataValidationError: the table lacks the segment column (the message names it).
    """
    from shipyard.errors import DataValidationError
    from shipyard.stages.segments import list_segments, segment_labels, segment_rows

    column = str(entries[0]["column"])
    if column not in frame.columns:
        raise DataValidationError(
            [
                f"column '{column}': the segment column of '{model_name}' is not in the table (columns: "
                f"{', '.join(map(str, frame.columns))}); each row must say which segment it belongs to"
            ]
        )
    labels = segment_labels(frame[column])
    counts = labels.value_counts(dropna=True)
    work: list[SegmentToMonitor] = []
    unmonitored: list[dict[str, Any]] = []
    for entry in entries:
        segment, model = str(entry["segment"]), str(entry["model"])
        rows = int(counts.get(segment, 0))
        source = {"kind": "file", "uri": data_uri, "column": column, "segment": segment, "rows": rows}
        reason, failed = _production_or_reason(registry, model)
        if not rows:
            work.append(SegmentToMonitor(segment, model, None, source, "no rows in the data"))
        elif reason:
            work.append(SegmentToMonitor(segment, model, None, source, reason, failed))
            unmonitored.append({"segment": segment, "rows": rows, "reason": reason})
        else:
            work.append(SegmentToMonitor(segment, model, segment_rows(frame, column, segment), source))
    indexed = {str(item["segment"]) for item in list_segments(registry, model_name, limit=None).segments}
    for value in sorted(set(counts.index) - indexed, key=str):
        unmonitored.append({"segment": value, "rows": int(counts[value]), "reason": "no segment model"})
    missing = int(labels.isna().sum())
    if missing:
        unmonitored.append({"segment": None, "rows": missing, "reason": f"no value in column '{column}'"})
    return work, unmonitored


def collect_segment_traffic(
    registry: ModelRegistry,
    store_uri: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    since: str,
    start: str,
    end: str,
    now: datetime,
) -> list[SegmentToMonitor]:
    """Each chosen segment's logged traffic (``traffic/NAME--SUFFIX/``) in one window, with its labels.

    A segment with no production version or no traffic in the window is not monitored (with the reason).

    Raises:
        WindowError: a malformed window (the same for every segment).
    """
    from shipyard.stages.traffic import NoTraffic, collect_traffic_table

    work: list[SegmentToMonitor] = []
    for entry in entries:
        segment, model = str(entry["segment"]), str(entry["model"])
        source: dict[str, Any] = {"kind": "traffic", "segment": segment, "rows": 0}
        reason, failed = _production_or_reason(registry, model)
        if reason:
            work.append(SegmentToMonitor(segment, model, None, source, reason, failed))
            continue
        try:
            table, window = collect_traffic_table(store_uri, model, since=since, start=start, end=end, now=now)
        except NoTraffic as exc:
            work.append(SegmentToMonitor(segment, model, None, source, str(exc)))
            continue
        work.append(SegmentToMonitor(segment, model, table.frame, {**window.source(), "segment": segment}))
    return work


def nothing_to_monitor(model_name: str, work: Sequence[SegmentToMonitor]) -> str | None:
    """Why no segment can be monitored (one line naming each one's reason), or None when one can."""
    if any(item.current is not None or item.failed for item in work):
        return None
    reasons = "; ".join(f"{item.segment}: {item.reason}" for item in work[:8])
    return f"no segment of '{model_name}' to monitor ({reasons})"


def run_segmented_monitoring(
    *,
    model_name: str,
    work: Sequence[SegmentToMonitor],
    unmonitored: Sequence[Mapping[str, Any]],
    source: Mapping[str, Any],
    store_uri: str,
    config_text: str,
    allow_retrain: bool,
    code_version: str,
    on_progress: Progress | None = None,
    on_segment: Callable[[SegmentToMonitor], None] | None = None,
) -> dict[str, Any]:
    """Monitors each segment's production on its own rows, one monitoring run after another.

    Each run is the single-model run (:func:`run_monitoring`) for the segment's model: its own
    reference, drift and decay verdicts, alert and retrain through its own gate, so only the
    segments that drifted or decayed retrain. After an interrupted run the remaining segments are
    not started.
    """
    entries: list[dict[str, Any]] = []
    interrupted_by = None
    for item in work:
        if item.current is None or interrupted_by is not None:
            reason = item.reason or f"not started: the run was interrupted by {interrupted_by}"
            entries.append(_segment_entry(item, None, "failed" if item.failed else "skipped", reason))
            continue
        if on_segment is not None:
            on_segment(item)
        one = run_monitoring(
            data_uri="",
            model_name=item.model,
            store_uri=store_uri,
            config_text=config_text,
            reference_uri="",
            allow_retrain=allow_retrain,
            code_version=code_version,
            on_progress=on_progress,
            current=item.current,
        )
        one["source"] = item.source
        entries.append(_segment_entry(item, one, one["status"], ""))
        if one["status"] == "interrupted":
            interrupted_by = one["interrupted_by"]
    return segmented_monitoring_summary(
        model_name, entries, unmonitored, source=source, store=store_uri, interrupted_by=interrupted_by
    )


def _segment_entry(item: SegmentToMonitor, one: dict[str, Any] | None, status: str, reason: str) -> dict[str, Any]:
    one = one or {}
    return {
        "segment": item.segment,
        "model": item.model,
        "rows": len(item.current) if item.current is not None else item.source.get("rows", 0),
        "status": status,
        "drift": one.get("drift_detected"),
        "decay": one.get("decay_detected"),
        "alerted": one.get("alerted", False),
        "retrained": one.get("retrained", False),
        "blessed": one.get("blessed"),
        "version": one.get("version"),
        "new_version": one.get("new_version"),
        "promoted": one.get("promoted", False),
        "reason": reason or None,
        "error": one.get("error") or (reason if status == "failed" else None),
        "run_id": one.get("run_id"),
        "run": one or None,  # the single-model summary of the segment's own run
    }


#: What a segmented monitoring run counts, in this order.
SEGMENT_TOTALS = ("monitored", "drifted", "decayed", "retrained", "promoted", "failed", "skipped")


def segmented_monitoring_summary(
    model_name: str,
    entries: list[dict[str, Any]],
    unmonitored: Sequence[Mapping[str, Any]],
    *,
    source: Mapping[str, Any],
    store: str,
    interrupted_by: str | None = None,
) -> dict[str, Any]:
    """The CLI's JSON summary of a segmented monitoring run: one entry per segment, totals and the rows left out.

    ``status`` is ``succeeded`` when no segment failed, ``partial`` when some did and some were
    monitored, ``failed`` when none was monitored, ``interrupted`` when a run was stopped.
    """
    monitored = [entry for entry in entries if entry["status"] == "succeeded"]
    totals = {
        "monitored": len(monitored),
        "drifted": sum(bool(entry["drift"]) for entry in monitored),
        "decayed": sum(bool(entry["decay"]) for entry in monitored),
        "retrained": sum(bool(entry["retrained"]) for entry in monitored),
        "promoted": sum(bool(entry["promoted"]) for entry in monitored),
        "failed": sum(entry["status"] in ("failed", "interrupted") for entry in entries),
        "skipped": sum(entry["status"] == "skipped" for entry in entries),
        "total": len(entries),
    }
    if interrupted_by is not None:
        state = "interrupted"
    elif totals["failed"]:
        state = "partial" if monitored else "failed"
    else:
        state = "succeeded"
    failed = [entry["segment"] for entry in entries if entry["status"] in ("failed", "interrupted")]
    return {
        "status": state,
        "model": model_name,
        "segment_by": source.get("column"),
        "source": dict(source),
        "segments": entries,
        "unmonitored": [dict(item) for item in unmonitored],
        "unmonitored_rows": sum(int(item["rows"]) for item in unmonitored),
        "totals": totals,
        "error": f"segment(s) failed: {', '.join(failed)}" if failed else None,
        "interrupted_by": interrupted_by,
        "store": store,
    }
