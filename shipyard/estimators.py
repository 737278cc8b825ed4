"""The estimators ``model.estimator`` can name: adding one is one row of ``ESTIMATOR_TABLE``.

Class paths are text, so configuration can list the names without importing scikit-learn.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.vocabulary import TaskKind, check_task


@dataclass(frozen=True)
class EstimatorSpec:
    """The scikit-learn class per task, and parameters shipyard sets unless the config does."""

    classifier: str  # "module.Class"
    regressor: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # for both classes
    classifier_defaults: Mapping[str, Any] = field(default_factory=dict)

    def class_path(self, task: str) -> str:
        return self.classifier if check_task(task) == TaskKind.CLASSIFICATION.value else self.regressor

    def default_params(self, task: str) -> dict[str, Any]:
        extra = self.classifier_defaults if check_task(task) == TaskKind.CLASSIFICATION.value else {}
        return {**self.defaults, **extra}


ESTIMATOR_TABLE: Mapping[str, EstimatorSpec] = {
    "linear": EstimatorSpec(
        "sklearn.linear_model.LogisticRegression", "sklearn.linear_model.Ridge", classifier_defaults={"max_iter": 1000}
    ),
    "hist_gradient_boosting": EstimatorSpec(
        "sklearn.ensemble.HistGradientBoostingClassifier", "sklearn.ensemble.HistGradientBoostingRegressor"
    ),
    "random_forest": EstimatorSpec(
        "sklearn.ensemble.RandomForestClassifier", "sklearn.ensemble.RandomForestRegressor", defaults={"n_jobs": 1}
    ),
}

#: The names ``model.estimator`` accepts, in table order.
ESTIMATORS: tuple[str, ...] = tuple(ESTIMATOR_TABLE)


def estimator_class(spec: EstimatorSpec, task: str) -> type[Any]:
    """Imports the class ``spec`` names for ``task``."""
    module, _, name = spec.class_path(task).rpartition(".")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls
