"""Registering a blessed model with its full lineage."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.stages.code_version import code_version as code_version  # re-exported: callers import it here
from shipyard.stages.gate import GateVerdict
from shipyard.stages.reference import REFERENCE_FILE
from shipyard.stages.train import ModelFacts
from shipyard.store.registry import ModelRegistry, ModelVersion, sha256_file


def resolve_run_id(run_id: str, pipeline_job_id: str) -> str:
    """The id recorded in lineage: the caller's, else the KFP run's UUID."""
    return run_id or pipeline_job_id or "unknown-run"


_detect_code_version = code_version  # build_lineage's parameter of the same name shadows it


def build_lineage(
    facts: ModelFacts,
    *,
    data_contract: Mapping[str, Any],
    verdict: GateVerdict,
    data_uri: str,
    data_hash: str,
    code_version: str,
    pipeline_run: str,
    reference: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Where a model came from: data, contract, code, run, the champion it beat, what it predicts.

    An empty ``code_version`` is detected here (see :func:`code_version`). ``reference`` describes
    the reference sample stored beside the model (:meth:`ReferenceSample.to_metadata
    <shipyard.stages.reference.ReferenceSample.to_metadata>`), if any.
    """
    lineage = {
        "data_uri": data_uri,
        "data_hash": data_hash,
        "data_contract": dict(data_contract),
        "code_version": code_version or _detect_code_version(),
        "pipeline_run": pipeline_run,
        "parent_version": verdict.champion_version,
        "task": facts.task,
        "target": facts.target,
        "classes": None if facts.classes is None else list(facts.classes),
        "feature_columns": list(facts.feature_columns),
        "train_rows": facts.train_rows,
    }
    if reference is not None:
        lineage["reference"] = dict(reference)
    return lineage


def register_blessed_model(
    registry: ModelRegistry,
    model_name: str,
    model_path: str | Path,
    *,
    facts: ModelFacts,
    metrics: Mapping[str, float],
    lineage: Mapping[str, Any],
    run_id: str,
    reference_path: str | Path | None = None,
) -> ModelVersion:
    """Registers ``model_path`` (and its reference sample, if given) as a new version, recorded in the run.

    Idempotent per run: a retried register step (the task died after the version became visible)
    finds its own version by run id and file hash instead of registering a duplicate. The lookup
    reads the registry's per-run index, so it costs two reads however many versions exist.
    """
    registered = registry.find_registered(model_name, run_id, sha256_file(model_path)) if run_id else None
    if registered is None:
        registered = registry.register_version(
            model_name,
            model_path,
            metrics=dict(metrics),
            params=facts.params,
            lineage=dict(lineage),
            run_id=run_id,
            extra_files={REFERENCE_FILE: reference_path} if reference_path is not None else None,
        )  # it records run_id in lineage
    registry.put_run_record(
        run_id,
        "register",
        {"model": model_name, "version": registered.version, "uri": registered.uri, "sha256": registered.sha256},
    )
    return registered
