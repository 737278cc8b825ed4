"""Unit tests for shipyard.stages.evaluate: exact metrics from stub models, plus one real pipeline."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from shipyard.config import ModelConfig, load_config
from shipyard.stages.evaluate import evaluate_model
from shipyard.stages.train import train_model


class StubClassifier:
    """Returns fixed predictions and probabilities, like a fitted classifier would."""

    def __init__(self, classes, predictions, proba=None):
        self.classes_ = np.asarray(classes)
        self._predictions = np.asarray(predictions)
        self._proba = None if proba is None else np.asarray(proba, dtype=float)

    def predict(self, features):
        assert len(features) == len(self._predictions)
        return self._predictions

    def predict_proba(self, features):
        assert len(features) == len(self._proba)
        return self._proba


class StubClassifierWithoutProba:
    def __init__(self, classes, predictions):
        self.classes_ = np.asarray(classes)
        self._predictions = np.asarray(predictions)

    def predict(self, features):
        return self._predictions


class StubRegressor:
    def __init__(self, predictions):
        self._predictions = np.asarray(predictions, dtype=float)

    def predict(self, features):
        return self._predictions


def holdout_with(labels) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(len(labels), dtype=float), "y": pd.Series(labels, dtype=object)})


def assert_all_finite(metrics: dict) -> None:
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values()), metrics


def test_binary_metrics_use_the_positive_class_probability():
    y = ["no", "no", "yes", "yes", "yes"]
    p_yes = [0.1, 0.6, 0.4, 0.8, 0.9]
    model = StubClassifier(["no", "yes"], ["no", "yes", "no", "yes", "yes"], [[1 - p, p] for p in p_yes])

    evaluation = evaluate_model(model, holdout_with(y), "y", "classification")

    assert evaluation.rows == 5
    assert evaluation.metrics["accuracy"] == pytest.approx(0.6)
    assert evaluation.metrics["f1_macro"] == pytest.approx(
        f1_score(y, ["no", "yes", "no", "yes", "yes"], average="macro")
    )
    expected_auc = roc_auc_score([0, 0, 1, 1, 1], p_yes)
    assert expected_auc != pytest.approx(1 - expected_auc)  # the test would notice the wrong column
    assert evaluation.metrics["roc_auc"] == pytest.approx(expected_auc)
    assert evaluation.metrics["log_loss"] == pytest.approx(log_loss(y, [[1 - p, p] for p in p_yes]))
    assert evaluation.labels == ("no", "yes")
    assert evaluation.confusion_matrix == ((1, 1), (1, 2))  # rows: true label, columns: predicted
    assert_all_finite(evaluation.metrics)


def test_multiclass_roc_auc_when_every_class_is_in_the_holdout():
    y = [0, 1, 2, 0, 1, 2]
    proba = [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]]
    model = StubClassifier([0, 1, 2], np.argmax(proba, axis=1), proba)

    evaluation = evaluate_model(model, holdout_with(y), "y", "classification")

    expected = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert evaluation.metrics["roc_auc"] == pytest.approx(expected)
    assert evaluation.labels == ("0", "1", "2")


def test_multiclass_roc_auc_is_omitted_when_a_class_is_absent_but_log_loss_stays():
    y = [0, 1, 0, 1]  # class 2 never appears
    proba = [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.5, 0.3, 0.2], [0.3, 0.5, 0.2]]
    model = StubClassifier([0, 1, 2], [0, 1, 0, 1], proba)

    evaluation = evaluate_model(model, holdout_with(y), "y", "classification")

    assert "roc_auc" not in evaluation.metrics
    assert evaluation.metrics["log_loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]))
    assert evaluation.metrics["accuracy"] == 1.0


def test_champion_with_different_classes_is_scored_without_crashing():
    """The champion knew only a and b; the new holdout also has c."""
    y = ["a", "b", "c", "a"]
    model = StubClassifier(["a", "b"], ["a", "b", "a", "a"], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])

    evaluation = evaluate_model(model, holdout_with(y), "y", "classification")

    assert evaluation.metrics["accuracy"] == pytest.approx(0.75)
    assert "f1_macro" in evaluation.metrics
    assert "roc_auc" not in evaluation.metrics and "log_loss" not in evaluation.metrics
    assert evaluation.labels == ("a", "b", "c")
    assert_all_finite(evaluation.metrics)
    json.dumps(evaluation.to_dict())


def test_champion_with_int_classes_on_text_labels_is_scored_without_crashing():
    model = StubClassifier([0, 1], [0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    evaluation = evaluate_model(model, holdout_with(["0", "1", "0"]), "y", "classification")

    assert evaluation.metrics["accuracy"] == pytest.approx(2 / 3)
    assert_all_finite(evaluation.metrics)


def test_model_without_predict_proba_gets_no_probability_metrics():
    model = StubClassifierWithoutProba(["a", "b"], ["a", "b", "b"])
    evaluation = evaluate_model(model, holdout_with(["a", "b", "a"]), "y", "classification")

    assert set(evaluation.metrics) == {"accuracy", "f1_macro"}


def test_rows_with_missing_target_are_ignored():
    holdout = holdout_with(["a", None, "b", np.nan])
    model = StubClassifier(["a", "b"], ["a", "b"], [[0.9, 0.1], [0.1, 0.9]])

    evaluation = evaluate_model(model, holdout, "y", "classification")

    assert evaluation.rows == 2
    assert evaluation.metrics["accuracy"] == 1.0


def test_float_labels_from_a_column_with_nan_match_int_classes():
    holdout = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, np.nan]})
    model = StubClassifier([0, 1], [0, 1], [[0.9, 0.1], [0.1, 0.9]])

    evaluation = evaluate_model(model, holdout, "y", "classification")

    assert evaluation.metrics["accuracy"] == 1.0 and evaluation.metrics["roc_auc"] == 1.0
    assert evaluation.labels == ("0", "1")


def test_holdout_without_any_target_gives_no_metrics():
    evaluation = evaluate_model(StubRegressor([]), pd.DataFrame({"x": [1.0], "y": [np.nan]}), "y", "regression")
    assert evaluation.rows == 0 and evaluation.metrics == {}


def test_regression_metrics():
    y = [1.0, 2.0, 3.0, 4.0]
    predictions = [1.5, 2.0, 2.0, 5.0]
    evaluation = evaluate_model(StubRegressor(predictions), holdout_with(y).astype({"y": float}), "y", "regression")

    errors = np.subtract(predictions, y)
    assert evaluation.metrics["rmse"] == pytest.approx(math.sqrt(np.mean(errors**2)))
    assert evaluation.metrics["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert evaluation.metrics["r2"] == pytest.approx(1 - np.sum(errors**2) / np.sum((np.array(y) - 2.5) ** 2))
    assert evaluation.labels is None and evaluation.confusion_matrix is None
    assert_all_finite(evaluation.metrics)


def test_regression_metrics_are_omitted_rather_than_nan():
    constant_target = holdout_with([2.0, 2.0, 2.0]).astype({"y": float})
    evaluation = evaluate_model(StubRegressor([1.0, 2.0, 3.0]), constant_target, "y", "regression")
    assert "r2" not in evaluation.metrics and "rmse" in evaluation.metrics

    nan_predictions = evaluate_model(
        StubRegressor([1.0, np.nan, 3.0]), holdout_with([1.0, 2.0, 3.0]), "y", "regression"
    )
    assert nan_predictions.metrics == {}


def test_to_dict_is_json_serialisable():
    model = StubClassifier(["a", "b"], ["a", "b"], [[0.9, 0.1], [0.1, 0.9]])
    data = evaluate_model(model, holdout_with(["a", "b"]), "y", "classification").to_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["confusion_matrix"] == [[1, 0], [0, 1]] and data["labels"] == ["a", "b"]


@pytest.mark.parametrize("task, labels", [("classification", "multi"), ("regression", "numeric")])
def test_real_pipeline_on_its_holdout(task, labels):
    rng = np.random.default_rng(3)
    x = rng.normal(size=150)
    colour = rng.choice(["red", "blue"], size=150).astype(object)
    colour[::9] = np.nan
    score = x + (colour == "red")
    y = np.digitize(score, [0.0, 1.0]) if labels == "multi" else 2 * score
    frame = pd.DataFrame({"x": x, "colour": colour, "y": y})
    config = dataclasses.replace(load_config(), model=ModelConfig(estimator="linear"))
    model = train_model(frame, "y", task, config)

    evaluation = evaluate_model(model.pipeline, model.holdout, "y", task)

    assert evaluation.rows == len(model.holdout)
    expected = {"accuracy", "f1_macro", "roc_auc", "log_loss"} if task == "classification" else {"rmse", "mae", "r2"}
    assert set(evaluation.metrics) == expected
    assert_all_finite(evaluation.metrics)
    json.dumps(evaluation.to_dict())


def test_binary_classification_gives_a_roc_curve_for_the_ui():
    from sklearn.linear_model import LogisticRegression

    from shipyard.stages.evaluate import ROC_POINTS, evaluate_model

    rng = np.random.default_rng(3)
    x = rng.normal(size=2000)
    frame = pd.DataFrame({"x": x, "y": np.where(x + rng.normal(0, 1, 2000) > 0, "yes", "no")})
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    evaluation = evaluate_model(model, frame, "y", "classification")
    curve = evaluation.roc_curve
    assert curve is not None and 2 <= len(curve) <= ROC_POINTS
    assert curve[0][:2] == (0.0, 0.0) and curve[-1][:2] == (1.0, 1.0)
    assert all(0.0 <= t <= 1.0 for _, _, t in curve)
    fprs = [p[0] for p in curve]
    assert fprs == sorted(fprs)
    assert evaluation.to_dict()["roc_curve"][0] == list(curve[0])
