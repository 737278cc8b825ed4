"""Fixtures shared across the test layers: small tables written to disk, a local store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The KFP REST stand-in's `kfp_api` fixture, for every test layer (tests/support/kfp_api.py).
pytest_plugins = ["tests.support.kfp_api"]

# Components read SHIPYARD_IMAGE when their module is imported (at collection), so a developer's
# own setting would leak into the golden compile test; conftest is imported before any test module.
os.environ.pop("SHIPYARD_IMAGE", None)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No test sees the developer's store, S3 or cache settings, and no test writes to ~/.cache."""
    for name in list(os.environ):
        if name.startswith(("SHIPYARD_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    # One code version for every test, whatever the git state of the directory the suite runs in
    # (a -dirty checkout would turn unchanged-run detection off); tests of code_version unset it.
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", "git:0000000000000000000000000000000000000000")


@pytest.fixture
def churn_csv(tmp_path: Path) -> Path:
    """A 300-row synthetic churn table (categoricals, NA cells), target 'churned'."""
    from shipyard.data.synthetic import write_demo_dataset

    return write_demo_dataset(tmp_path / "churn.csv", n_rows=300, seed=1, task="classification")


@pytest.fixture
def regression_csv(tmp_path: Path) -> Path:
    """A 300-row synthetic table with a numeric target 'lifetime_value'."""
    from shipyard.data.synthetic import write_demo_dataset

    return write_demo_dataset(tmp_path / "ltv.csv", n_rows=300, seed=2, task="regression")


def make_housing_like(n_rows: int, seed: int) -> pd.DataFrame:
    """A regression table unlike the demo data: mixed-case categories, NA strings, int features."""
    rng = np.random.default_rng(seed)
    area = rng.integers(30, 250, n_rows).astype(float)
    rooms = np.clip((area / 35 + rng.normal(0, 1, n_rows)).round(), 1, None)
    district = rng.choice(["North", "South", "East", "West Side"], n_rows)
    heating = rng.choice(["gas", "electric", "heat pump"], n_rows, p=[0.5, 0.3, 0.2])
    price = (
        1500 * area
        + 8000 * rooms
        + np.select([district == "North", district == "West Side"], [40_000, 25_000], 0)
        + rng.normal(0, 20_000, n_rows)
    )
    frame = pd.DataFrame(
        {"area_m2": area, "rooms": rooms, "district": district, "heating": heating, "price": price.round(2)}
    )
    frame.loc[rng.random(n_rows) < 0.05, "heating"] = np.nan
    frame.loc[rng.random(n_rows) < 0.03, "rooms"] = np.nan
    return frame
