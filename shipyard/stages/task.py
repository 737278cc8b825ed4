"""Decides whether a target column makes a classification or a regression problem."""

from __future__ import annotations

import pandas as pd

from shipyard.config import TASKS
from shipyard.errors import ConfigError, DataValidationError

#: An integer target with at most this many distinct values is treated as class labels.
MAX_INTEGER_CLASSES = 20


def resolve_task(frame: pd.DataFrame, target: str, requested: str = "auto") -> str:
    """Returns ``classification`` or ``regression`` for ``target``.

    ``auto`` picks classification for text, boolean or categorical targets and for integer
    targets with at most ``MAX_INTEGER_CLASSES`` distinct values; regression otherwise.
    """
    if requested != "auto":
        if requested not in TASKS:
            raise ConfigError(f"task must be auto, classification or regression, got {requested!r}")
        return requested
    if target not in frame.columns:
        raise DataValidationError([f"column '{target}': target column is missing from the data"])
    values = frame[target].dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    is_integral = bool(len(values)) and bool((values == values.round()).all())
    if is_integral and values.nunique() <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"
