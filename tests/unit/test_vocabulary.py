"""The shared vocabularies: task kinds, alias names, the column-kind rule, the estimator table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import ConfigError
from shipyard.estimators import ESTIMATOR_TABLE, ESTIMATORS, estimator_class
from shipyard.stages.columns import CATEGORICAL, NUMERIC, column_kinds, finite_mask, finite_or_none
from shipyard.vocabulary import TASK_CHOICES, TASKS, TaskKind, check_task


def test_task_kinds_and_choices():
    assert TASKS == ("classification", "regression")
    assert TASK_CHOICES == ("auto", "classification", "regression")
    assert check_task(TaskKind.REGRESSION) == "regression" and check_task("classification") == "classification"
    with pytest.raises(ConfigError, match=r"data contract 'task' must be one of \['classification', 'regression'\]"):
        check_task("clustering", "data contract 'task'")


def test_column_kinds_bool_and_text_are_categorical():
    frame = pd.DataFrame({"n": [1, 2], "f": [0.5, np.nan], "b": [True, False], "t": ["a", "b"]})
    assert column_kinds(frame) == {"n": NUMERIC, "f": NUMERIC, "b": CATEGORICAL, "t": CATEGORICAL}


def test_finite_helpers():
    assert finite_mask([1.0, np.nan, np.inf, -2]).tolist() == [True, False, False, True]
    assert [finite_or_none(v) for v in (1, "2.5", np.nan, np.inf, "x", None, True)] == [
        1.0,
        2.5,
        None,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("task", TASKS)
def test_every_estimator_row_names_real_classes(name, task):
    cls = estimator_class(ESTIMATOR_TABLE[name], task)
    assert callable(getattr(cls(), "fit", None))
    assert set(ESTIMATOR_TABLE[name].default_params(task)) <= set(cls().get_params())
