"""Decides whether a target column makes a classification or a regression problem."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pandas as pd

from shipyard.errors import ConfigError, DataValidationError
from shipyard.findings import Code, Finding, problem
from shipyard.vocabulary import TASK_CHOICES, TaskKind, check_task

#: An integer target with at most this many distinct values is treated as class labels.
MAX_INTEGER_CLASSES = 20


def missing_target(target: str, columns: Iterable[object]) -> Finding:
    """The missing target as a problem that lists what the data does have, the closest match first."""
    names = [str(column) for column in columns]
    close = difflib.get_close_matches(target, names, n=1, cutoff=0.6)
    maybe = f"; did you mean '{close[0]}'?" if close else ""
    listed = ", ".join(f"'{name}'" for name in names[:10]) or "none"
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return problem(
        target,
        Code.MISSING_TARGET,
        f"column '{target}': the target column is missing from the data{maybe} (columns: {listed}{more})",
        f"pass --target '{close[0]}'" if close else "pass --target with one of the data's columns",
    )


def resolve_task(frame: pd.DataFrame, target: str, requested: str = "auto") -> str:
    """Returns ``classification`` or ``regression`` for ``target``.

    ``auto`` picks classification for text, boolean or categorical targets and for integer
    targets with at most ``MAX_INTEGER_CLASSES`` distinct values; regression otherwise.
    """
    if requested != "auto":
        if requested not in TASK_CHOICES:
            choices = f"{', '.join(TASK_CHOICES[:-1])} or {TASK_CHOICES[-1]}"
            raise ConfigError(f"task must be {choices}, got {requested!r}")
        return check_task(requested)
    if target not in frame.columns:
        raise DataValidationError([missing_target(target, frame.columns)])
    values = frame[target].dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return TaskKind.CLASSIFICATION.value
    is_integral = bool(len(values)) and bool((values == values.round()).all())
    if is_integral and values.nunique() <= MAX_INTEGER_CLASSES:
        return TaskKind.CLASSIFICATION.value
    return TaskKind.REGRESSION.value
