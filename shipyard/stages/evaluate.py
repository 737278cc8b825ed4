"""Scores a fitted model on the holdout: the numbers the gate compares.

The same function scores the challenger and the champion on the challenger's holdout, so it
must cope with a model whose classes differ from the holdout's labels: a metric that is not
defined for that pair is left out rather than reported as NaN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import DataValidationError
from shipyard.stages.columns import finite_mask, finite_or_none
from shipyard.stages.train import clean_target
from shipyard.vocabulary import TaskKind, check_task


@dataclass(frozen=True)
class Evaluation:
    """Holdout metrics of one model; every value in ``metrics`` is a finite float."""

    task: str
    metrics: dict[str, float]  # classification: accuracy, f1_macro, roc_auc?, log_loss?; regression: rmse, mae, r2
    rows: int
    labels: tuple[str, ...] | None  # confusion-matrix label order, as strings
    confusion_matrix: tuple[tuple[int, ...], ...] | None
    # Binary classification only: (false positive rate, true positive rate, threshold) points for
    # the Kubeflow UI's ROC chart, at most ROC_POINTS of them, thresholds clipped to [0, 1].
    roc_curve: tuple[tuple[float, float, float], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": dict(self.metrics),
            "rows": self.rows,
            "labels": None if self.labels is None else list(self.labels),
            "confusion_matrix": None if self.confusion_matrix is None else [list(row) for row in self.confusion_matrix],
            "roc_curve": None if self.roc_curve is None else [list(point) for point in self.roc_curve],
        }


ROC_POINTS = 200


def _roc_points(positive: np.ndarray, scores: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(positive, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), ROC_POINTS)).round().astype(int))
    thresholds = np.clip(thresholds, 0.0, 1.0)  # the first threshold is +inf, which JSON cannot hold
    return tuple((float(fpr[i]), float(tpr[i]), float(thresholds[i])) for i in keep)


def _finite_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Only the metrics that came out as finite numbers, as plain floats."""
    return {name: number for name, value in values.items() if (number := finite_or_none(value)) is not None}


def _label_array(values: Any) -> np.ndarray:
    """Labels as a numpy array of one kind: numbers, or (if any is text) all text."""
    array = np.asarray(list(values))
    if array.dtype == object:  # e.g. None among the labels
        array = array.astype(str)
    return array


def _same_kind(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Casts all arrays to text when some hold numbers and some text (e.g. a champion with int classes)."""
    numeric = [np.issubdtype(a.dtype, np.number) or a.dtype == bool for a in arrays if a.size]
    if numeric and not (all(numeric) or not any(numeric)):
        return tuple(a.astype(str) for a in arrays)
    return arrays


def _classification(model: Any, features: pd.DataFrame, y_true_series: pd.Series) -> Evaluation:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss, roc_auc_score

    y_true = _label_array(y_true_series)
    y_pred = _label_array(model.predict(features))
    model_classes = getattr(model, "classes_", None)
    classes = _label_array(model_classes) if model_classes is not None else np.asarray([])
    y_true, y_pred, classes = _same_kind(y_true, y_pred, classes)

    labels = np.unique(np.concatenate([y_true, y_pred]))
    metrics: dict[str, Any] = {
        "accuracy": accuracy_score(y_true, y_pred),
        "f1_macro": f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0),
    }
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    roc = None

    if hasattr(model, "predict_proba") and len(classes) >= 2:
        true_labels = set(y_true.tolist())
        known_labels = set(classes.tolist())
        proba = np.asarray(model.predict_proba(features), dtype=float)
        if proba.shape == (len(y_true), len(classes)) and finite_mask(proba).all():
            if true_labels <= known_labels:  # log loss needs a probability for every true label
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # rows summing to 1 +- rounding
                    metrics["log_loss"] = log_loss(y_true, proba, labels=classes)
            if true_labels == known_labels:  # ROC AUC needs every class of the model present
                if len(classes) == 2:
                    metrics["roc_auc"] = roc_auc_score(y_true == classes[1], proba[:, 1])
                    roc = _roc_points(y_true == classes[1], proba[:, 1])
                else:
                    metrics["roc_auc"] = roc_auc_score(
                        y_true, proba, multi_class="ovr", average="macro", labels=classes
                    )
    return Evaluation(
        task="classification",
        metrics=_finite_metrics(metrics),
        rows=len(y_true),
        labels=tuple(str(label) for label in labels.tolist()),
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in matrix),
        roc_curve=roc,
    )


def _regression(model: Any, features: pd.DataFrame, y_true_series: pd.Series, target: str) -> Evaluation:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    try:
        y_true = pd.to_numeric(y_true_series).to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise DataValidationError([f"column '{target}': regression needs a numeric target ({exc})"]) from exc
    y_pred = np.asarray(model.predict(features), dtype=float).reshape(len(y_true), -1)[:, 0]
    metrics: dict[str, Any] = {}
    if finite_mask(y_pred).all():
        metrics["rmse"] = math.sqrt(mean_squared_error(y_true, y_pred))
        metrics["mae"] = mean_absolute_error(y_true, y_pred)
        if len(y_true) >= 2 and np.ptp(y_true) > 0:  # R² is undefined for a constant target
            metrics["r2"] = r2_score(y_true, y_pred)
    return Evaluation(
        task="regression", metrics=_finite_metrics(metrics), rows=len(y_true), labels=None, confusion_matrix=None
    )


def evaluate_model(model: Any, holdout: pd.DataFrame, target: str, task: str) -> Evaluation:
    """Scores ``model`` (a fitted estimator, e.g. ``TrainedModel.pipeline``) on ``holdout``.

    Rows without a target are ignored; with none left, ``metrics`` is empty (the gate then
    fails closed). Prediction errors, e.g. a feature column the model needs but the holdout
    lacks, propagate.
    """
    task = check_task(task)
    if target not in holdout.columns:
        raise DataValidationError([f"column '{target}': target column is missing from the holdout"])
    rows = holdout[holdout[target].notna()]
    y_true = clean_target(rows[target], task)
    features = rows.drop(columns=[target])
    if len(rows) == 0:
        classification = task == TaskKind.CLASSIFICATION
        return Evaluation(
            task=task,
            metrics={},
            rows=0,
            labels=() if classification else None,
            confusion_matrix=() if classification else None,
        )
    if task == TaskKind.CLASSIFICATION:
        return _classification(model, features, y_true)
    return _regression(model, features, y_true, target)
