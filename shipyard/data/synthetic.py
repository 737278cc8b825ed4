"""A synthetic customer-churn table for the demo and the tests, built with numpy alone.

The target is derived from the features with noise, so models can learn it but not perfectly.
``drift`` moves the feature distributions (cheaper contracts, higher charges, shorter tenure)
so the monitoring pipeline has something to detect while the data stays plausible.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.vocabulary import TaskKind

DEMO_TARGETS = {"classification": "churned", "regression": "lifetime_value"}

CONTRACT_TYPES = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("electronic_check", "mailed_check", "bank_transfer", "credit_card")
REGIONS = ("north", "south", "east", "west")

#: Share of cells blanked out in each of these feature columns (the model imputes them).
MISSING_SHARE = 0.03
COLUMNS_WITH_GAPS = ("monthly_charges", "age", "payment_method")


def make_demo_dataset(
    n_rows: int = 2000, *, drift: float = 0.0, seed: int = 0, task: str = "classification"
) -> pd.DataFrame:
    """A churn-like table with ``n_rows`` customers and the target ``DEMO_TARGETS[task]``.

    Args:
        n_rows: number of customers (rows), at least 1.
        drift: 0 gives the reference distribution; up to 1 shifts numeric columns and the
            category mix further from it.
        seed: the same seed (and arguments) always gives the same table.
        task: ``classification`` (target ``churned``: "yes"/"no") or ``regression``
            (target ``lifetime_value``: a float).

    Raises:
        ValueError: an argument is out of range; the message names it.
    """
    _check_arguments(n_rows, drift, seed, task)
    rng = np.random.default_rng(seed)

    # The draws happen in the same order for both tasks, so one seed gives the same customers.
    contract = rng.choice(CONTRACT_TYPES, size=n_rows, p=_mix((0.50, 0.28, 0.22), (0.75, 0.15, 0.10), drift))
    tenure = np.clip(np.round(rng.gamma(2.0, 14.0 * (1.0 - 0.45 * drift), n_rows)), 0, 72).astype(np.int64)
    tenure = np.where(contract == "two-year", np.maximum(tenure, rng.integers(12, 25, n_rows)), tenure)
    monthly_charges = np.round(np.clip(rng.normal(65.0 + 22.0 * drift, 22.0, n_rows), 18.0, 130.0), 2)
    support_calls = rng.poisson(1.4 + 1.2 * drift, n_rows).astype(np.int64)
    age = np.clip(np.round(rng.normal(46.0 - 4.0 * drift, 14.0, n_rows)), 18, 90).astype(np.int64)
    payment_method = rng.choice(
        PAYMENT_METHODS, size=n_rows, p=_mix((0.30, 0.20, 0.25, 0.25), (0.50, 0.15, 0.17, 0.18), drift)
    )
    region = rng.choice(REGIONS, size=n_rows, p=_mix((0.25, 0.25, 0.25, 0.25), (0.40, 0.20, 0.25, 0.15), drift))
    has_partner = np.where(rng.random(n_rows) < 0.48 - 0.10 * drift, "yes", "no")

    month_to_month = contract == "month-to-month"
    two_year = contract == "two-year"
    churn_logit = (
        -1.4
        + 2.8 * month_to_month
        - 2.4 * two_year
        - 0.09 * tenure
        + 0.05 * (monthly_charges - 65.0)
        + 0.8 * support_calls
        + 1.0 * (payment_method == "electronic_check")
        - 0.7 * (has_partner == "yes")
        + 0.5 * (age < 30)
        + rng.normal(0.0, 0.4, n_rows)
    )
    churned = np.where(rng.random(n_rows) < 1.0 / (1.0 + np.exp(-churn_logit)), "yes", "no")

    expected_months = (
        tenure
        + np.select([month_to_month, two_year], [6.0, 30.0], 16.0)
        - 2.0 * support_calls
        + 4.0 * (has_partner == "yes")
    )
    lifetime_value = np.round(
        np.maximum(monthly_charges * np.maximum(expected_months, 1.0) * rng.lognormal(0.0, 0.25, n_rows), 0.0), 2
    )

    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly_charges,
            "support_calls": support_calls,
            "age": age,
            "contract": contract.astype(object),
            "payment_method": payment_method.astype(object),
            "region": region.astype(object),
            "has_partner": has_partner.astype(object),
        }
    )
    for column in COLUMNS_WITH_GAPS:  # blanked after the target is derived: the truth had values
        gaps = rng.random(n_rows) < MISSING_SHARE
        frame[column] = frame[column].astype(float if column != "payment_method" else object)
        frame.loc[gaps, column] = np.nan
    frame[DEMO_TARGETS[task]] = churned.astype(object) if task == TaskKind.CLASSIFICATION else lifetime_value
    return frame


def write_demo_dataset(path: str | Path, **kwargs: Any) -> Path:
    """Writes :func:`make_demo_dataset` (same keyword arguments) as CSV with ``NA`` for missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_demo_dataset(**kwargs).to_csv(path, index=False, na_rep="NA")
    return path


def _mix(reference: tuple[float, ...], drifted: tuple[float, ...], drift: float) -> np.ndarray:
    weights = (1.0 - drift) * np.asarray(reference) + drift * np.asarray(drifted)
    return np.asarray(weights / weights.sum())


def _check_arguments(n_rows: object, drift: object, seed: object, task: object) -> None:
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise ValueError(f"n_rows must be a whole number >= 1, got {n_rows!r}")
    if (
        isinstance(drift, bool)
        or not isinstance(drift, (int, float, np.floating, np.integer))
        or not math.isfinite(drift)
        or not 0.0 <= drift <= 1.0
    ):
        raise ValueError(f"drift must be a number between 0 and 1, got {drift!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if task not in DEMO_TARGETS:
        raise ValueError(f"task must be one of {sorted(DEMO_TARGETS)}, got {task!r}")
