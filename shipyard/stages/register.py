"""Registering a blessed model with its full lineage."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from shipyard import __version__
from shipyard.store.registry import ModelRegistry, ModelVersion


def resolve_run_id(run_id: str, pipeline_job_id: str) -> str:
    """The id recorded in lineage: the caller's, else the KFP run's UUID."""
    return run_id or pipeline_job_id or "unknown-run"


def code_version(cwd: str | Path | None = None) -> str:
    """The code that produced a model: ``$SHIPYARD_CODE_VERSION``, the git commit, else shipyard's version.

    A commit with uncommitted changes is marked ``-dirty`` so lineage never claims a clean SHA.
    """
    explicit = os.environ.get("SHIPYARD_CODE_VERSION")
    if explicit:
        return explicit
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"git:{sha}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return f"shipyard=={__version__}"


def register_blessed_model(
    registry: ModelRegistry,
    model_name: str,
    model_path: str | Path,
    *,
    metrics: dict[str, float],
    params: dict[str, Any],
    lineage: dict[str, Any],
    run_id: str,
) -> ModelVersion:
    """Registers ``model_path`` as a new version, or returns the version this run already registered.

    Idempotent per run: a retried register step (the task died after the version became visible)
    finds its own version by run id and file hash instead of registering a duplicate.
    """
    from shipyard.store.registry import sha256_file

    digest = sha256_file(model_path)
    if run_id:
        for existing in registry.list_versions(model_name):
            if existing.lineage.get("run_id") == run_id and existing.sha256 == digest:
                return existing
    return registry.register_version(
        model_name, model_path, metrics=metrics, params=params, lineage=lineage, run_id=run_id
    )  # it records run_id in lineage
