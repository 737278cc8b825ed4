"""Unit tests for shipyard.stages.smoke: a saved model loaded and called the way KServe would."""

from __future__ import annotations

import dataclasses
import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from shipyard.config import ModelConfig, SmokeTestSettings, load_config
from shipyard.stages.smoke import smoke_test_model
from shipyard.stages.train import train_model

SETTINGS = SmokeTestSettings(rows=50, max_latency_ms=5000.0)


class NaNRegressor:
    """Pickled by the tests: predicts NaN for every row."""

    def predict(self, features):
        return np.full(len(features), np.nan)


class ShortClassifier:
    """Pickled by the tests: drops the last prediction and returns probabilities that do not sum to 1."""

    classes_ = np.array(["no", "yes"])

    def predict(self, features):
        return np.array(["no"] * (len(features) - 1))

    def predict_proba(self, features):
        return np.full((len(features), 2), 0.3)


class BrokenClassifier:
    classes_ = np.array(["no", "yes"])

    def predict(self, features):
        raise RuntimeError("boom")


def make_frame(rows: int = 80, regression: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "green"], size=rows).astype(object)
    colour[::4] = np.nan  # plenty of missing values in the rows sent
    x_missing = x.copy()
    x_missing[1::5] = np.nan
    score = x + (colour == "red")
    label = 2.0 * score if regression else np.where(score > 0.5, "yes", "no").astype(object)
    return pd.DataFrame({"x": x_missing, "colour": colour, "label": label})


def saved_model(tmp_path, task: str = "classification"):
    config = dataclasses.replace(load_config(), model=ModelConfig(estimator="linear"))
    model = train_model(make_frame(regression=task == "regression"), "label", task, config)
    path = tmp_path / "model.joblib"
    joblib.dump(model.pipeline, path)
    return path, model


def dump(tmp_path, obj):
    path = tmp_path / "model.joblib"
    joblib.dump(obj, path)
    return path


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_trained_pipeline_passes_on_json_decoded_rows(tmp_path, task):
    path, model = saved_model(tmp_path, task)
    assert model.holdout["colour"].isna().any() and model.holdout["x"].isna().any()

    report = smoke_test_model(path, model.holdout, "label", task, classes=model.classes, settings=SETTINGS)

    assert report.passed, report.problems
    assert report.rows == len(model.holdout) and report.problems == ()
    assert 0 < report.latency_ms <= SETTINGS.max_latency_ms
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_model_directory_is_accepted_like_a_storage_uri(tmp_path):
    path, model = saved_model(tmp_path)
    report = smoke_test_model(
        tmp_path, model.holdout, "label", "classification", classes=model.classes, settings=SmokeTestSettings(rows=5)
    )
    assert report.passed and report.rows == 5


def test_pipeline_that_chokes_on_none_is_caught(tmp_path):
    """A single default SimpleImputer only matches NaN: the None KServe passes reaches the encoder,
    which here refuses unknown categories."""
    frame = make_frame()
    features = frame.drop(columns=["label"])
    naive = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), ["x"]),
                        (
                            "categorical",
                            make_pipeline(
                                SimpleImputer(strategy="constant", fill_value="missing"),
                                OneHotEncoder(handle_unknown="error"),
                            ),
                            ["colour"],
                        ),
                    ]
                ),
            ),
            ("estimator", LogisticRegression()),
        ]
    ).fit(features, frame["label"])
    naive.predict(features)  # fine on the NaN frame it was trained on

    report = smoke_test_model(
        dump(tmp_path, naive), frame, "label", "classification", classes=("no", "yes"), settings=SETTINGS
    )

    assert not report.passed
    assert report.problems[0].startswith("predict failed on JSON-decoded rows")
    assert "None" in report.problems[0]


@pytest.mark.parametrize("content", [b"not a pickle", None], ids=["garbage", "missing"])
def test_unloadable_model_is_reported_with_its_path(tmp_path, content):
    path = tmp_path / "model.joblib"
    if content is not None:
        path.write_bytes(content)

    report = smoke_test_model(path, make_frame(), "label", "classification", classes=("no", "yes"), settings=SETTINGS)

    assert not report.passed and report.rows == 0
    assert str(path) in report.problems[0]


def test_object_without_predict_is_reported(tmp_path):
    report = smoke_test_model(
        dump(tmp_path, {"not": "a model"}), make_frame(), "label", "classification", classes=None, settings=SETTINGS
    )
    assert not report.passed and "no predict method" in report.problems[0]


def test_predict_error_is_a_problem_not_an_exception(tmp_path):
    report = smoke_test_model(
        dump(tmp_path, BrokenClassifier()),
        make_frame(),
        "label",
        "classification",
        classes=("no", "yes"),
        settings=SETTINGS,
    )
    assert not report.passed and "boom" in report.problems[0]


def test_slow_model_fails_the_latency_check(tmp_path):
    path, model = saved_model(tmp_path)
    report = smoke_test_model(
        path,
        model.holdout,
        "label",
        "classification",
        classes=model.classes,
        settings=SmokeTestSettings(rows=10, max_latency_ms=0.0),
    )

    assert not report.passed
    assert len(report.problems) == 1 and "limit is 0 ms" in report.problems[0]


def test_unexpected_classes_are_reported(tmp_path):
    path, model = saved_model(tmp_path)
    report = smoke_test_model(path, model.holdout, "label", "classification", classes=("no",), settings=SETTINGS)

    assert not report.passed
    assert report.problems == ("predicted classes ['yes'] are not among the expected classes ['no']",)


def test_nan_regression_predictions_are_reported(tmp_path):
    frame = make_frame(rows=10, regression=True)
    report = smoke_test_model(
        dump(tmp_path, NaNRegressor()), frame, "label", "regression", classes=None, settings=SETTINGS
    )

    assert not report.passed
    assert report.problems == ("10 of 10 predictions are NaN or infinite",)


def test_wrong_count_and_bad_probabilities_are_reported(tmp_path):
    report = smoke_test_model(
        dump(tmp_path, ShortClassifier()),
        make_frame(rows=6),
        "label",
        "classification",
        classes=("no", "yes"),
        settings=SETTINGS,
    )

    assert not report.passed
    assert report.problems == ("model returned 5 predictions for 6 rows", "6 of 6 predict_proba rows do not sum to 1")


def test_only_the_first_rows_are_sent(tmp_path):
    path, model = saved_model(tmp_path)
    report = smoke_test_model(
        path, model.holdout, "label", "classification", classes=model.classes, settings=SmokeTestSettings(rows=3)
    )
    assert report.rows == 3


def test_empty_holdout_fails(tmp_path):
    path, model = saved_model(tmp_path)
    report = smoke_test_model(
        path, model.holdout.iloc[:0], "label", "classification", classes=model.classes, settings=SETTINGS
    )
    assert not report.passed and report.problems == ("holdout has no rows to send",)


class ColdStartModel:
    """Predicts 'no' for every row; its first call is slow (a lazy import), every later one fast."""

    classes_ = ("no", "yes")

    def __init__(self, first_call_s: float, later_call_s: float):
        self.first_call_s, self.later_call_s, self.calls = first_call_s, later_call_s, 0

    def predict(self, rows):
        import time

        time.sleep(self.first_call_s if self.calls == 0 else self.later_call_s)
        self.calls += 1
        return np.array(["no"] * len(rows), dtype=object)


def _smoke(tmp_path, model, limit_ms: float):
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    holdout = pd.DataFrame({"x": range(10), "label": ["no"] * 10})
    return smoke_test_model(
        path,
        holdout,
        "label",
        "classification",
        classes=("no", "yes"),
        settings=SmokeTestSettings(rows=10, max_latency_ms=limit_ms),
    )


def test_a_slow_first_call_does_not_fail_a_fast_model(tmp_path):
    report = _smoke(tmp_path, ColdStartModel(first_call_s=0.5, later_call_s=0.0), limit_ms=200.0)
    assert report.passed, report.problems
    assert report.latency_ms < 200.0


def test_a_model_slow_on_every_call_fails(tmp_path):
    report = _smoke(tmp_path, ColdStartModel(first_call_s=0.0, later_call_s=0.05), limit_ms=20.0)
    assert not report.passed and "limit is 20 ms" in report.problems[0]
    assert report.latency_ms >= 50.0
