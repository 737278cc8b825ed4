"""A small holdout and a way to put any fitted model in a real local registry, for the stage tests."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from shipyard.store.registry import ModelRegistry


def holdout(rows: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": rng.normal(size=rows)})


def register(registry: ModelRegistry, tmp_path: Path, model, name: str = "m", **lineage) -> int:
    path = tmp_path / f"{name}-{len(registry.list_versions(name))}.joblib"
    joblib.dump(model, path)
    return registry.register_version(name, path, metrics={}, params={}, lineage=lineage, run_id="r").version
