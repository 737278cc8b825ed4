"""What one column of a table holds, and how findings quote its values.

A :class:`ColumnProfile` is computed once per column and read by every check in
:mod:`shipyard.stages.validate`; the formatting helpers keep numbers, shares and examples in
findings and Markdown reports spelled one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.stages.columns import CATEGORICAL, NUMERIC

#: A text column whose non-missing values all parse as numbers except at most this share is a
#: numeric column with a few bad cells (one typo would otherwise turn it into text for good); a
#: code column such as "A1", "B2", "3" has far more text than this and is left alone.
NUMBERS_WITH_TEXT_MAX_SHARE = 0.05


#: How many example values a message quotes.
EXAMPLES = 3


@dataclass(frozen=True)
class ColumnProfile:
    """One column's present values, its missing and infinite counts, and its finite range."""

    kind: str
    rows: int
    missing: int
    values: pd.Series  # present values: float64 for numeric (may hold inf), str for categorical
    infinite: int
    min: float | None  # over finite values
    max: float | None

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def missing_fraction(self) -> float:
        return self.missing / self.rows if self.rows else 0.0


def profile_column(column: pd.Series, kind: str) -> ColumnProfile:
    present = column.dropna()
    if kind == NUMERIC:
        values = pd.Series(present.to_numpy(dtype="float64"), dtype="float64")
        finite = values[np.isfinite(values.to_numpy())]
        return ColumnProfile(
            kind=kind,
            rows=len(column),
            missing=len(column) - len(present),
            values=values,
            infinite=len(values) - len(finite),
            min=float(finite.min()) if len(finite) else None,
            max=float(finite.max()) if len(finite) else None,
        )
    values = pd.Series([str(value) for value in present], dtype=object)
    return ColumnProfile(
        kind=kind, rows=len(column), missing=len(column) - len(present), values=values, infinite=0, min=None, max=None
    )


def text_cells(values: pd.Series) -> tuple[int, list[str]]:
    """How many of ``values`` (present, as text) are not numbers, and a few distinct ones.

    Up to one more example than a message quotes is returned, so the message can say there are
    more. When every value is a number the examples are the values themselves.
    """
    text = values[pd.to_numeric(values, errors="coerce").isna()]
    shown = text if len(text) else values
    return len(text), list(pd.unique(shown))[: EXAMPLES + 1]


def numbers_with_text(profile: ColumnProfile) -> tuple[int, list[str]] | None:
    """``(count, examples)`` of the text cells when a text column is really numeric with a few bad
    cells (see :data:`NUMBERS_WITH_TEXT_MAX_SHARE`), else None.

    True/False columns and columns that are mostly or entirely text are not numeric columns.
    """
    if profile.kind != CATEGORICAL or not profile.present:
        return None
    count, examples = text_cells(profile.values)
    if 0 < count < profile.present and count <= NUMBERS_WITH_TEXT_MAX_SHARE * profile.present + 1e-9:
        return count, examples
    return None


def text_cells_phrase(profile: ColumnProfile, count: int, examples: list[str]) -> str:
    """'1 of 2000 values is not a number ('abc')'."""
    values = "non-missing values" if profile.missing else "values"
    verb = "is not a number" if count == 1 else "are not numbers"
    return f"{count} of {profile.present} {values} {verb} ({quoted_examples(examples)})"


def text_cells_fix(count: int, examples: list[str]) -> str:
    fix = (
        "fix the cell or write NA for a missing value" if count == 1 else "fix the cells or write NA for missing values"
    )
    separated = [value for value in examples[:EXAMPLES] if any(mark in value for mark in (",", " "))]
    if (
        separated
        and pd.to_numeric(
            pd.Series([value.replace(",", "").replace(" ", "") for value in separated], dtype=object), errors="coerce"
        )
        .notna()
        .any()
    ):
        fix += "; write numbers with '.' for decimals and no thousands separators (1234.5, not 1,234.5)"
    return fix


def quoted_examples(values: list[Any]) -> str:
    """Up to three quoted values, with ', ...' when there are more."""
    return quoted(values) + (", ..." if len(values) > EXAMPLES else "")


def non_numeric_examples(values: pd.Series) -> list[str]:
    distinct = pd.Series(values.unique(), dtype=object)
    text = distinct[pd.to_numeric(distinct, errors="coerce").isna()]
    return list(text if len(text) else distinct)[:EXAMPLES]


def quote(value: Any) -> str:
    return f"'{value}'"


def quoted(values: list[Any]) -> str:
    return ", ".join(quote(value) for value in values[:EXAMPLES])


def format_number(value: float) -> str:
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return f"{value:.6g}"


def optional_number(value: float | None) -> str:
    return "" if value is None else format_number(value)


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def table_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
