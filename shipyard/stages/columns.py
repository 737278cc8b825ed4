"""The rule for a column's kind, and finite numbers: one definition every stage uses.

A column is ``numeric`` when its dtype is a real number type (int, float, not bool, not
complex) and ``categorical`` otherwise. Booleans are categorical: ingest reads ``true``/``false``
cells as the text ``True``/``False``, the data contract records them as categories, and the
trainer one-hot encodes them like any other category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # loaded on first use: a task that only reads this module's types skips them (shipyard/_lazy.py)
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

NUMERIC = "numeric"
CATEGORICAL = "categorical"


def column_kind(dtype: Any) -> str:
    """``numeric`` or ``categorical`` for a pandas/numpy dtype (booleans are categorical)."""
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return NUMERIC
    return CATEGORICAL


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Maps each column of ``frame`` to its kind (see :func:`column_kind`), in column order."""
    return {str(name): column_kind(dtype) for name, dtype in zip(frame.columns, frame.dtypes, strict=True)}


def finite_mask(values: Any) -> np.ndarray:
    """A bool per value: True where it is a finite number (not NaN, inf or -inf)."""
    return np.isfinite(np.asarray(values, dtype=np.float64))


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None (NaN, inf, text, None)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
