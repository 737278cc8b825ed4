"""One segment's delivery in one process: the training pipeline's steps, in its order, through its components.

``deliver_segment`` (components/segments.py) calls :func:`deliver` once per ParallelFor branch.
Each step is the training pipeline's own component, called through its Python function with the
artifacts in a temporary directory, so a segment is validated, trained, gated, registered, smoke
tested and promoted by exactly the code a single model is. The steps record themselves (task
records, run record sections) under the segment's model name and run id.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import traceback
from collections.abc import Iterator
from typing import Any

from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Markdown, Metrics, Model


@contextlib.contextmanager
def _segment_task_records(suffix: str) -> Iterator[None]:
    """Task records of the steps go to ``<records>/segments/SUFFIX/``: branches run at once and share task names."""
    from shipyard.task_record import RECORDS_ENV

    directory = os.environ.get(RECORDS_ENV)
    if directory:
        os.environ[RECORDS_ENV] = os.path.join(directory, "segments", suffix)
    try:
        yield
    finally:
        if directory:
            os.environ[RECORDS_ENV] = directory


def _steps(
    item: dict[str, Any],
    tmp: str,
    *,
    target: str,
    task: str,
    store_uri: str,
    config_yaml: str,
    contract_uri: str,
    code_version: str,
    force: bool,
    pipeline_job_name: str,
) -> tuple[str, list[str]]:
    """Runs the steps; returns how it ended (promoted, rejected, unchanged) and the report's Markdown parts.

    Raises what a step raises.
    """
    from shipyard.adapters.kfp_runtime import training_components

    components = training_components()
    check_unchanged, deploy_staging = components.check_unchanged, components.deploy_staging
    evaluate_model, gate_challenger = components.evaluate_model, components.gate_challenger
    ingest_data, promote_production = components.ingest_data, components.promote_production
    register_model, smoke_test = components.register_model, components.smoke_test
    train_model, validate_data = components.train_model, components.validate_data

    def artifact(kind: type, name: str) -> Any:
        return kind(uri=os.path.join(tmp, name), metadata={})

    model_name, run_id, data_uri = item["model"], item["run_id"], item["data_uri"]
    store = dict(model_name=model_name, store_uri=store_uri)
    dataset = artifact(Dataset, "dataset")
    ingested = ingest_data.python_func(data_uri=data_uri, run_id=run_id, pipeline_job_id="", dataset=dataset)
    fingerprint = os.path.join(tmp, "fingerprint")
    matched = check_unchanged.python_func(
        data_hash=ingested.data_hash,
        target=target,
        task=task,
        config_yaml=config_yaml,
        contract_uri=contract_uri,
        code_version=code_version,
        force=force,
        run_id=run_id,
        fingerprint=fingerprint,
        **store,
    )
    if matched:
        return "unchanged", [f"Unchanged: version {matched} was trained on this segment's data, config and code."]
    contract, validation = artifact(Artifact, "contract"), artifact(Markdown, "validation.md")
    resolved = validate_data.python_func(
        dataset=dataset,
        target=target,
        task=task,
        contract_uri=contract_uri,
        config_yaml=config_yaml,
        run_id=run_id,
        contract=contract,
        report=validation,
        report_json=artifact(Artifact, "validation.json"),
        **store,
    ).task
    model, holdout, reference = artifact(Model, "model"), artifact(Dataset, "holdout"), artifact(Dataset, "reference")
    train_model.python_func(
        dataset=dataset,
        target=target,
        task=resolved,
        config_yaml=config_yaml,
        model=model,
        holdout=holdout,
        reference=reference,
    )
    metrics = artifact(Metrics, "metrics")
    evaluate_model.python_func(
        model=model,
        holdout=holdout,
        target=target,
        task=resolved,
        metrics=metrics,
        classification_metrics=artifact(ClassificationMetrics, "classification"),
    )
    verdict, gate_report = artifact(Artifact, "verdict"), artifact(Markdown, "gate.md")
    blessed = gate_challenger.python_func(
        model=model,
        metrics=metrics,
        holdout=holdout,
        target=target,
        task=resolved,
        config_yaml=config_yaml,
        run_id=run_id,
        verdict=verdict,
        report=gate_report,
        **store,
    )
    with open(gate_report.path, encoding="utf-8") as f:
        parts = [f.read()]
    if not blessed:
        return "rejected", parts
    with open(fingerprint, encoding="utf-8") as f:
        digest = f.read()
    registered = register_model.python_func(
        model=model,
        metrics=metrics,
        contract=contract,
        verdict=verdict,
        reference=reference,
        data_uri=data_uri,
        data_hash=ingested.data_hash,
        code_version=code_version,
        run_id=run_id,
        pipeline_job_name=pipeline_job_name,
        fingerprint=digest,
        **store,
    )
    version = registered.version
    deploy_staging.python_func(version=version, run_id=run_id, config_yaml=config_yaml, **store)
    smoke = artifact(Markdown, "smoke.md")
    smoke_test.python_func(
        holdout=holdout,
        version=version,
        target=target,
        task=resolved,
        config_yaml=config_yaml,
        run_id=run_id,
        report=smoke,
        **store,
    )
    promote_production.python_func(verdict=verdict, version=version, run_id=run_id, config_yaml=config_yaml, **store)
    with open(smoke.path, encoding="utf-8") as f:
        parts.append(f.read())
    return "promoted", parts


def deliver(
    item: dict[str, Any],
    *,
    target: str,
    task: str,
    store_uri: str,
    config_yaml: str,
    contract_uri: str,
    code_version: str,
    force: bool,
    pipeline_job_name: str,
) -> dict[str, Any]:
    """Delivers the segment ``item`` (an entry of plan_segments' output); never raises for a failed segment.

    Returns ``{segment, model, run_id, failed, error_type, error, markdown}``. How the segment
    ended is recorded in its run record: the steps' own sections, ``segment`` (failed or not, and
    why) and ``outcome`` (as the training pipeline's exit handler writes it: a version registered
    but not shipped loses staging). A failed segment sends the failed-run alert for its model.
    Interrupts (KeyboardInterrupt, SystemExit) are not caught.
    """
    from shipyard.config import load_config
    from shipyard.errors import ShipyardError
    from shipyard.stages.deploy import record_run_outcome
    from shipyard.stages.notify import alert_failed_run
    from shipyard.stages.segments import OUTCOME_SECTION
    from shipyard.store.registry import ModelRegistry

    model_name, run_id = item["model"], item["run_id"]
    suffix = run_id.rsplit(".", 1)[-1]
    error: Exception | None = None
    parts: list[str] = []
    ended = "failed"
    started = time.monotonic()
    with _segment_task_records(suffix), tempfile.TemporaryDirectory(prefix="shipyard-segment-") as tmp:
        try:
            ended, parts = _steps(
                item,
                tmp,
                target=target,
                task=task,
                store_uri=store_uri,
                config_yaml=config_yaml,
                contract_uri=contract_uri,
                code_version=code_version,
                force=force,
                pipeline_job_name=pipeline_job_name,
            )
        except Exception as exc:  # noqa: BLE001 - a failed segment must not stop the others
            error = exc
            if not isinstance(exc, ShipyardError):
                traceback.print_exc()
    failure: dict[str, Any] = {"failed": error is not None, "error_type": None, "error": None, "findings": []}
    if error is not None:
        findings = getattr(error, "findings", None) or ()
        failure.update(
            error_type=type(error).__name__,
            error=str(error) or type(error).__name__,
            findings=[finding.to_dict() for finding in findings],
        )
        print(f"segment {item['segment']!r} ({model_name}) failed: {failure['error']}", flush=True)
    # Best effort, each on its own: raising here would fail the branch, and Argo would start no
    # further segment. The segment's own result is written first, so a store fault afterwards
    # cannot turn it into "did not finish".
    try:
        registry = ModelRegistry.from_uri(store_uri)
        registry.put_run_record(run_id, OUTCOME_SECTION, {"segment": item["segment"], "model": model_name, **failure})
    except Exception as exc:  # noqa: BLE001 - the summary then says the segment did not finish
        print(f"segment {item['segment']!r} ({model_name}): its result could not be recorded: {exc}", flush=True)
    try:
        record_run_outcome(
            ModelRegistry.from_uri(store_uri),
            model_name,
            run_id,
            state="FAILED" if error is not None else "SUCCEEDED",
            pipeline_run=pipeline_job_name,
            error_code=None,
            error_message=failure["error"],
            deploy=load_config(config_yaml).deploy,
        )
    except Exception as exc:  # noqa: BLE001 - staging may still hold a version that did not ship: say so
        print(
            f"segment {item['segment']!r} ({model_name}): the run's outcome (and taking staging back if it "
            f"did not ship) could not be recorded: {exc}",
            flush=True,
        )
    if error is not None:
        alert_failed_run("training", model_name, run_id, "FAILED", failure["error"])
        parts.append(f"**Failed**: {failure['error_type']}: {failure['error']}")
    # One line the local runner shows as the segment's progress (shipyard.adapters.kfp_local).
    print(f"segment-ended {item['segment']} {ended} {time.monotonic() - started:.1f}s", flush=True)
    markdown = f"# Segment {item['segment']} ({model_name})\n\n" + "\n\n".join(parts) + "\n"
    return {
        "segment": item["segment"],
        "model": model_name,
        "run_id": run_id,
        "failed": failure["failed"],
        "error_type": failure["error_type"],
        "error": failure["error"],
        "markdown": markdown,
    }
