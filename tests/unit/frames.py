"""Small frames shaped like the ingest stage's output, shared by the train, split and gate tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(rows: int = 120, labels: str = "binary_str", seed: int = 0) -> pd.DataFrame:
    """Numeric + categorical features with missing values, shaped like the ingest stage's output."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.integers(0, 50, size=rows).astype(np.int64)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    flag = rng.choice(["true", "false"], size=rows).astype(object)  # bool-like values arrive as strings
    score = x1 + (colour == "red") - 0.02 * x2
    colour[::11] = np.nan
    x1_missing = x1.copy()
    x1_missing[::13] = np.nan
    frame = pd.DataFrame({"x1": x1_missing, "x2": x2, "colour": colour, "flag": flag})
    if labels == "binary_str":
        frame["label"] = np.where(score > 0, "yes", "no").astype(object)
    elif labels == "binary_int":
        frame["label"] = (score > 0).astype(np.int64)
    elif labels == "multi_int":
        frame["label"] = np.digitize(score, [-1.0, 0.0, 1.0]).astype(np.int64)  # 0..3
    elif labels == "multi_str":
        frame["label"] = np.array(["low", "mid", "high"], dtype=object)[np.digitize(score, [-0.5, 0.5])]
    elif labels == "regression":
        frame["label"] = 3.0 * score + rng.normal(scale=0.1, size=rows)
    return frame


def row_keys(frame: pd.DataFrame) -> list[tuple]:
    """Each row as a tuple of text, so rows can be matched across frames (NaN matches NaN)."""
    return [tuple(row) for row in frame.astype(object).where(frame.notna(), "<NA>").astype(str).to_numpy()]


def low_cardinality_frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Two categorical features with 3 values each and a binary target: at most 18 distinct rows."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    size = rng.choice(["S", "M", "L"], size=rows).astype(object)
    label = np.where((colour == "red") ^ (rng.random(rows) < 0.2), "yes", "no").astype(object)
    return pd.DataFrame({"colour": colour, "size": size, "label": label})
