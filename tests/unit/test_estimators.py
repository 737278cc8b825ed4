"""The estimator table (shipyard.estimators): every row names real scikit-learn classes."""

from __future__ import annotations

import pytest

from shipyard.estimators import ESTIMATOR_TABLE, ESTIMATORS, estimator_class
from shipyard.vocabulary import TASKS


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("task", TASKS)
def test_every_estimator_row_names_real_classes(name, task):
    cls = estimator_class(ESTIMATOR_TABLE[name], task)
    assert callable(getattr(cls(), "fit", None))
    assert set(ESTIMATOR_TABLE[name].default_params(task)) <= set(cls().get_params())
