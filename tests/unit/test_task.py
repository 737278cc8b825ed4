"""Choosing classification or regression from the target column, and naming a missing target."""

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import ConfigError, DataValidationError
from shipyard.findings import Code
from shipyard.stages.task import MAX_INTEGER_CLASSES, missing_target, resolve_task


@pytest.mark.parametrize(
    "values, expected",
    [
        (["yes", "no"] * 10, "classification"),
        ([True, False] * 10, "classification"),
        (list(range(MAX_INTEGER_CLASSES)) * 2, "classification"),
        (list(range(MAX_INTEGER_CLASSES + 1)) * 2, "regression"),
        (list(np.linspace(0, 1, 40)), "regression"),
        ([1.0, 2.0, np.nan] * 10, "classification"),
    ],
)
def test_auto_task_from_the_target(values, expected):
    assert resolve_task(pd.DataFrame({"y": values}), "y") == expected


def test_an_explicit_task_wins_and_a_wrong_one_is_refused():
    frame = pd.DataFrame({"y": ["a", "b"]})
    assert resolve_task(frame, "y", "regression") == "regression"
    with pytest.raises(ConfigError, match="auto, classification or regression"):
        resolve_task(frame, "y", "clustering")


def test_a_missing_target_names_the_closest_column_and_lists_the_others():
    frame = pd.DataFrame({"species": ["a"], "island": ["b"]})
    with pytest.raises(DataValidationError) as raised:
        resolve_task(frame, "speces")
    message = str(raised.value)
    assert "column 'speces'" in message and "did you mean 'species'?" in message and "'island'" in message


def test_a_missing_target_is_a_finding_whose_hint_names_the_closest_column():
    frame = pd.DataFrame({"species": ["a"], "island": ["b"]})
    with pytest.raises(DataValidationError) as raised:
        resolve_task(frame, "speces")
    (finding,) = raised.value.findings
    assert (finding.column, finding.code, finding.hint) == ("speces", Code.MISSING_TARGET, "pass --target 'species'")


def test_a_missing_target_with_nothing_close_hints_at_the_listed_columns():
    finding = missing_target("zzz", ["species", "island"])
    assert finding.hint == "pass --target with one of the data's columns"
    assert finding.message == "column 'zzz': the target column is missing from the data (columns: 'species', 'island')"
