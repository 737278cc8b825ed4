"""Unit tests for shipyard.stages.smoke: the checks on a server's answer and the latency rule.

The requests here go through a stand-in for :func:`shipyard.serving.client.infer` (a function that
answers like the server would, or sleeps like a slow one); the same smoke test against a real
`shipyard serve` process is in tests/serving/test_smoke_served.py.
"""

from __future__ import annotations

import dataclasses
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import ModelConfig, SmokeTestSettings, load_config
from shipyard.serving.client import Prediction, ServingError
from shipyard.stages.smoke import answer_problems, latency_budget_ms, smoke_test_endpoint
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


def in_process(model, version: int = 1):
    """An ``infer`` stand-in: the model called on the frame after a JSON round trip, answering as ``version``.

    Checks the smoke test's logic, not HTTP or the server's decoding (tests/serving does that).
    """

    def infer(base_url, model_name, frame):
        decoded = pd.DataFrame(json.loads(frame.to_json(orient="records")))
        predictions = np.asarray(model.predict(decoded)).tolist()
        probabilities = classes = None
        if hasattr(model, "predict_proba"):
            probabilities = np.asarray(model.predict_proba(decoded), dtype=float).tolist()
            classes = np.asarray(model.classes_).tolist()
        return Prediction(predictions, str(version), probabilities, classes)

    return infer


def smoke(model, frame, task="classification", *, classes=("no", "yes"), settings=SETTINGS, version=1, served=1):
    return smoke_test_endpoint(
        "http://stand-in",
        "m",
        version,
        frame,
        "label",
        task,
        classes=classes,
        settings=settings,
        infer=in_process(model, served),
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_trained_pipeline_passes(tmp_path, task):
    _, model = saved_model(tmp_path, task)
    report = smoke(model.pipeline, model.holdout, task, classes=model.classes)

    assert report.passed, report.problems
    assert report.rows == len(model.holdout) and report.problems == ()
    assert 0 < report.latency_ms <= report.budget_ms == latency_budget_ms(SETTINGS, report.rows)
    assert report.model_version == "1"
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_an_answer_from_another_version_is_a_finding(tmp_path):
    _, model = saved_model(tmp_path)
    report = smoke(model.pipeline, model.holdout, classes=model.classes, version=2, served=1)
    assert not report.passed
    assert report.problems == ("the server answered with model_version '1'; the version under test is 2",)


def test_a_refused_request_is_a_problem_not_an_exception():
    def refuse(base_url, model_name, frame):
        raise ServingError("http://stand-in/v2/models/m/infer: HTTP 500: boom", 500)

    report = smoke_test_endpoint(
        "http://stand-in",
        "m",
        1,
        make_frame(),
        "label",
        "classification",
        classes=None,
        settings=SETTINGS,
        infer=refuse,
    )
    assert not report.passed and report.rows == 50
    assert report.problems == (
        "the server refused the holdout rows: http://stand-in/v2/models/m/infer: HTTP 500: boom",
    )


def test_unexpected_classes_are_reported(tmp_path):
    _, model = saved_model(tmp_path)
    report = smoke(model.pipeline, model.holdout, classes=("no",))

    assert not report.passed
    assert report.problems == ("predicted classes ['yes'] are not among the expected classes ['no']",)


def test_classes_fall_back_to_those_the_server_reports():
    answer = Prediction(["no", "maybe"], "1", [[0.5, 0.5], [1.0, 0.0]], ["no", "yes"])
    assert answer_problems(answer, 2, "classification", None, 1) == [
        "predicted classes ['maybe'] are not among the expected classes ['no', 'yes']"
    ]


def test_nan_regression_predictions_are_reported():
    report = smoke(NaNRegressor(), make_frame(rows=10, regression=True), "regression", classes=None)

    assert not report.passed
    assert report.problems == ("10 of 10 predictions are NaN or infinite",)


def test_null_regression_predictions_are_reported():
    """A server encodes NaN as JSON null; that is still not a number."""
    assert answer_problems(Prediction([1.0, None], "3"), 2, "regression", None, 3) == [
        "1 of 2 predictions are NaN or infinite"
    ]


def test_wrong_count_and_bad_probabilities_are_reported():
    report = smoke(ShortClassifier(), make_frame(rows=6))

    assert not report.passed
    assert report.problems == ("model returned 5 predictions for 6 rows", "6 of 6 probability rows do not sum to 1")


def test_only_the_first_rows_are_sent(tmp_path):
    _, model = saved_model(tmp_path)
    report = smoke(model.pipeline, model.holdout, classes=model.classes, settings=SmokeTestSettings(rows=3))
    assert report.rows == 3


def test_empty_holdout_fails(tmp_path):
    _, model = saved_model(tmp_path)
    report = smoke(model.pipeline, model.holdout.iloc[:0], classes=model.classes)
    assert not report.passed and report.problems == ("holdout has no rows to send",)


def test_the_budget_is_an_overhead_plus_a_share_per_row_capped_by_max_latency_ms():
    settings = SmokeTestSettings(max_ms_per_row=20.0, request_overhead_ms=250.0, max_latency_ms=None)
    assert latency_budget_ms(settings, 50) == 1250.0
    assert latency_budget_ms(settings, 1) == 270.0
    assert latency_budget_ms(dataclasses.replace(settings, max_latency_ms=300.0), 50) == 300.0


class ColdStartModel:
    """Predicts 'no' for every row; its first call is slow (a lazy import), every later one fast."""

    classes_ = ("no", "yes")

    def __init__(self, first_call_s: float, later_call_s: float, stalls: dict[int, float] | None = None):
        self.first_call_s, self.later_call_s, self.calls = first_call_s, later_call_s, 0
        self.stalls = stalls or {}  # call number -> seconds it takes instead

    def predict(self, rows):
        import time

        time.sleep(self.stalls.get(self.calls, self.first_call_s if self.calls == 0 else self.later_call_s))
        self.calls += 1
        return np.array(["no"] * len(rows), dtype=object)


def _smoke_cold(model, limit_ms: float, **settings):
    holdout = pd.DataFrame({"x": range(10), "label": ["no"] * 10})
    settings = {"rows": 10, "max_ms_per_row": 0.0, "request_overhead_ms": limit_ms, **settings}
    return smoke(model, holdout, settings=SmokeTestSettings(**settings))


def test_a_slow_first_request_does_not_fail_a_fast_model():
    model = ColdStartModel(first_call_s=0.5, later_call_s=0.0)
    report = _smoke_cold(model, limit_ms=200.0)
    assert report.passed, report.problems
    assert report.latency_ms < 200.0
    assert model.calls == 1 + 1 + 5  # the checked request, one more warm-up, five timed


def test_the_median_of_the_timed_requests_is_checked_so_one_stall_does_not_fail():
    """A busy machine stalls a request now and then; only a model slow on most requests fails."""
    model = ColdStartModel(first_call_s=0.0, later_call_s=0.0, stalls={3: 0.5, 5: 0.5})
    report = _smoke_cold(model, limit_ms=200.0)
    assert report.passed, report.problems


def test_a_model_slow_on_every_request_fails():
    report = _smoke_cold(ColdStartModel(first_call_s=0.0, later_call_s=0.05), limit_ms=20.0)
    assert not report.passed and "the budget is 20 ms" in report.problems[0]
    assert report.latency_ms >= 50.0
