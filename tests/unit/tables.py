"""Tiny tables the validation and contract tests share."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROWS = 40


def churn_frame(rows: int = ROWS) -> pd.DataFrame:
    """A clean classification table: numeric and categorical features with a few gaps."""
    index = np.arange(rows)
    return pd.DataFrame(
        {
            "age": (20 + index % 40).astype("float64"),
            "income": np.where(index % 10 == 3, np.nan, 1000.0 + 50 * index),
            "plan": np.array(["basic", "pro", "team", "basic"] * (rows // 4), dtype=object),
            "region": pd.Series(np.where(index % 3, "north", "south"), dtype=object).where(index % 8 != 5, np.nan),
            "churned": np.array(["yes", "no"] * (rows // 2), dtype=object),
        }
    )


def regression_frame(rows: int = ROWS) -> pd.DataFrame:
    frame = churn_frame(rows).drop(columns="churned")
    frame["value"] = 10.0 + np.arange(rows) * 2.5
    return frame
