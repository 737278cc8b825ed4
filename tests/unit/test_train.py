"""Unit tests for shipyard.stages.train on tiny in-memory frames."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import ModelConfig, load_config
from shipyard.errors import ConfigError, DataValidationError
from shipyard.stages.train import TrainedModel, build_model_pipeline, row_hashes, split_holdout, train_model

ESTIMATORS = ("linear", "hist_gradient_boosting", "random_forest")
FAST_PARAMS = {"linear": {}, "hist_gradient_boosting": {"max_iter": 20}, "random_forest": {"n_estimators": 10}}


def config_for(estimator: str = "hist_gradient_boosting", params: dict | None = None, seed: int = 42):
    base = load_config()
    chosen = FAST_PARAMS[estimator] if params is None else params
    return dataclasses.replace(base, seed=seed, model=ModelConfig(estimator=estimator, params=chosen))


def make_frame(rows: int = 120, labels: str = "binary_str", seed: int = 0) -> pd.DataFrame:
    """Numeric + categorical features with missing values, shaped like the ingest stage's output."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=rows)
    x2 = rng.integers(0, 50, size=rows).astype(np.int64)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    flag = rng.choice(["true", "false"], size=rows).astype(object)  # bool-like values arrive as strings
    score = x1 + (colour == "red") - 0.02 * x2
    colour[::11] = np.nan
    x1_missing = x1.copy()
    x1_missing[::13] = np.nan
    frame = pd.DataFrame({"x1": x1_missing, "x2": x2, "colour": colour, "flag": flag})
    if labels == "binary_str":
        frame["label"] = np.where(score > 0, "yes", "no").astype(object)
    elif labels == "binary_int":
        frame["label"] = (score > 0).astype(np.int64)
    elif labels == "multi_int":
        frame["label"] = np.digitize(score, [-1.0, 0.0, 1.0]).astype(np.int64)  # 0..3
    elif labels == "multi_str":
        frame["label"] = np.array(["low", "mid", "high"], dtype=object)[np.digitize(score, [-0.5, 0.5])]
    elif labels == "regression":
        frame["label"] = 3.0 * score + rng.normal(scale=0.1, size=rows)
    return frame


def row_keys(frame: pd.DataFrame) -> list[tuple]:
    """Each row as a tuple of text, so rows can be matched across frames (NaN matches NaN)."""
    return [tuple(row) for row in frame.astype(object).where(frame.notna(), "<NA>").astype(str).to_numpy()]


def assert_can_predict(model: TrainedModel) -> np.ndarray:
    predictions = model.pipeline.predict(model.holdout[list(model.feature_columns)])
    assert len(predictions) == len(model.holdout)
    return predictions


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("labels, expected_classes", [
    ("binary_str", ("no", "yes")),
    ("binary_int", (0, 1)),
    ("multi_int", (0, 1, 2, 3)),
    ("multi_str", ("high", "low", "mid")),
])
def test_classification_keeps_labels_as_in_the_data(estimator, labels, expected_classes):
    frame = make_frame(labels=labels)
    model = train_model(frame, "label", "classification", config_for(estimator))

    assert model.classes == expected_classes
    assert all(type(c) is type(expected_classes[0]) for c in model.classes)  # ints stay int, str stay str
    json.dumps(list(model.classes))
    assert model.task == "classification" and model.target == "label"
    assert set(assert_can_predict(model)) <= set(expected_classes)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_regression_with_categoricals_and_missing_values(estimator):
    frame = make_frame(labels="regression")
    model = train_model(frame, "label", "regression", config_for(estimator))

    assert model.classes is None
    predictions = assert_can_predict(model)
    assert np.isfinite(predictions).all()
    assert model.numeric_columns == ("x1", "x2")
    assert model.categorical_columns == ("colour", "flag")
    assert model.feature_columns == ("x1", "x2", "colour", "flag")


def test_rows_without_target_are_dropped_and_int_labels_stay_int():
    frame = make_frame(rows=100, labels="binary_int")
    frame["label"] = frame["label"].astype(float)
    frame.loc[:9, "label"] = np.nan  # NaN turns the int column into float

    model = train_model(frame, "label", "classification", config_for("linear"))

    assert model.train_rows + len(model.holdout) == 90
    assert model.classes == (0, 1) and all(type(c) is int for c in model.classes)
    assert model.holdout["label"].notna().all()


def test_holdout_is_disjoint_from_training_rows_and_covers_every_row():
    frame = make_frame(rows=100).assign(row_id=np.arange(100))
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=1)

    assert 0 < len(holdout) < len(train)
    assert set(train["row_id"]).isdisjoint(holdout["row_id"])
    assert set(train["row_id"]) | set(holdout["row_id"]) == set(range(100))


def test_both_parts_keep_the_input_row_order():
    frame = make_frame(rows=200).assign(row_id=np.arange(200))
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=3)

    assert train["row_id"].is_monotonic_increasing and holdout["row_id"].is_monotonic_increasing
    assert list(train.columns) == list(frame.columns) and list(train.index) == list(range(len(train)))


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_holdout_share_is_close_to_the_fraction_overall_and_per_class(seed):
    """Stratified in expectation: every class independently gets about holdout_fraction of its rows."""
    frame = make_frame(rows=2000, labels="multi_int", seed=7)
    counts = frame["label"].value_counts()
    assert counts.min() >= 300  # classes big enough for a tight per-class tolerance
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=seed)

    assert len(train) + len(holdout) == 2000
    assert abs(len(holdout) / 2000 - 0.2) <= 0.03
    share = holdout["label"].value_counts() / counts
    assert set(share.index) == set(counts.index)
    assert ((share - 0.2).abs() <= 0.05).all(), share.to_dict()


def test_regression_holdout_share_is_close_to_the_fraction():
    frame = make_frame(rows=2000, labels="regression")
    train, holdout = split_holdout(frame, "label", "regression", 0.3, seed=5)

    assert len(train) + len(holdout) == 2000
    assert abs(len(holdout) / 2000 - 0.3) <= 0.03


@pytest.mark.parametrize("seed", range(5))
def test_every_class_with_two_rows_has_a_row_on_each_side(seed):
    """Many small classes: a class with >= 2 rows always gets a holdout row and a training row."""
    sizes = {f"c{i}": 2 for i in range(12)} | {f"d{i}": 3 for i in range(6)} | {"big": 40, "lonely": 1}
    labels = [label for label, size in sizes.items() for _ in range(size)]
    frame = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "label": labels})
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=seed)

    for label, size in sizes.items():
        in_train, in_holdout = (train["label"] == label).sum(), (holdout["label"] == label).sum()
        assert in_train + in_holdout == size
        if size >= 2:
            assert in_train >= 1 and in_holdout >= 1, (label, in_train, in_holdout)
    assert "lonely" in set(train["label"]) and "lonely" not in set(holdout["label"])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_grown_dataset_keeps_old_rows_on_their_side(task):
    """The normal CI retrain: old rows + new rows, read in another order, same seed and fraction.

    No row the champion trained on may enter the new holdout (the gate would score the champion
    on rows it has seen), and the old holdout rows stay held out.
    """
    labels = "binary_str" if task == "classification" else "regression"
    old = make_frame(rows=400, labels=labels, seed=0)
    grown = pd.concat([old, make_frame(rows=300, labels=labels, seed=1)]).sample(frac=1.0, random_state=3)
    old_train, old_holdout = split_holdout(old, "label", task, 0.2, seed=42)
    new_train, new_holdout = split_holdout(grown, "label", task, 0.2, seed=42)

    assert len(old_holdout) > 40 and len(new_holdout) > len(old_holdout)
    assert set(row_keys(old_train)) <= set(row_keys(new_train))
    assert set(row_keys(old_holdout)) <= set(row_keys(new_holdout))
    assert set(row_keys(old_train)).isdisjoint(row_keys(new_holdout))


def test_int_column_turned_float_by_new_missing_values_keeps_the_split():
    """New rows with a missing x2 turn the int column float: int 5 and float 5.0 must hash the same."""
    old = make_frame(rows=300, labels="binary_int", seed=0)
    new = make_frame(rows=100, labels="binary_int", seed=1)
    new.loc[::4, "x2"] = np.nan
    new.loc[::5, "label"] = np.nan  # and the label column turns float too (rows without a target are dropped)
    grown = pd.concat([new, old], ignore_index=True)
    assert old["x2"].dtype == np.int64 and grown["x2"].dtype == np.float64 and grown["label"].dtype == np.float64

    old_as_float = grown.iloc[len(new):].reset_index(drop=True)
    np.testing.assert_array_equal(row_hashes(old, 9), row_hashes(old_as_float, 9))

    old_train, old_holdout = split_holdout(old, "label", "classification", 0.25, seed=9)
    new_train, new_holdout = split_holdout(grown, "label", "classification", 0.25, seed=9)
    as_old = {"x2": float}  # the old parts, in the grown frame's dtypes (labels compared as int)
    assert len(old_holdout) > 0
    assert set(row_keys(old_holdout.astype(as_old))) <= set(row_keys(new_holdout.astype({"label": np.int64})))
    assert set(row_keys(old_train.astype(as_old))) <= set(row_keys(new_train.astype({"label": np.int64})))


def test_row_hash_ignores_column_order_and_number_representation():
    ints = pd.DataFrame({"a": [5, 0, 3], "b": ["x", None, "y"], "flag": [True, False, True]})
    floats = pd.DataFrame({"flag": [1.0, 0.0, 1.0], "b": ["x", np.nan, "y"], "a": [5.0, -0.0, 3.0]})
    np.testing.assert_array_equal(row_hashes(ints, 0), row_hashes(floats, 0))
    assert row_hashes(ints.assign(a=[5.5, 0, 3]), 0)[0] != row_hashes(ints, 0)[0]
    assert row_hashes(ints.assign(b=["x|", None, "y"]), 0)[0] != row_hashes(ints, 0)[0]
    # A row's hash does not depend on the other rows.
    np.testing.assert_array_equal(row_hashes(ints.iloc[[2, 0]], 0), row_hashes(ints, 0)[[2, 0]])


def test_duplicate_rows_land_on_the_same_side():
    base = make_frame(rows=300, seed=4).assign(copy_of=np.arange(300))
    copies = np.random.default_rng(0).integers(1, 5, size=300)
    frame = base.loc[base.index.repeat(copies)].sample(frac=1.0, random_state=1).reset_index(drop=True)
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=42)

    assert len(train) + len(holdout) == copies.sum()
    assert set(train["copy_of"]).isdisjoint(holdout["copy_of"])
    assert holdout["copy_of"].duplicated().any()  # some duplicated rows were held out, together


def test_class_of_identical_rows_stays_in_training():
    frame = pd.DataFrame({"x": np.r_[np.arange(40.0), [7.0] * 5],
                          "label": ["a"] * 20 + ["b"] * 20 + ["same"] * 5})
    train, holdout = split_holdout(frame, "label", "classification", 0.25, seed=0)

    assert (train["label"] == "same").sum() == 5 and "same" not in set(holdout["label"])


def test_split_is_the_same_in_another_process(tmp_path):
    """SipHash with a key from the seed: no dependence on PYTHONHASHSEED, the process or the row order."""
    frame = make_frame(rows=300, labels="multi_str").assign(row_id=np.arange(300))
    frame.to_pickle(tmp_path / "frame.pkl")
    _, holdout = split_holdout(frame, "label", "classification", 0.2, seed=11)
    script = (
        "import json, sys, pandas as pd\n"
        "from shipyard.stages.train import split_holdout\n"
        "frame = pd.read_pickle(sys.argv[1])\n"
        "out = {}\n"
        "for name, data in [('same', frame), ('reversed', frame.iloc[::-1])]:\n"
        "    _, holdout = split_holdout(data, 'label', 'classification', 0.2, seed=11)\n"
        "    out[name] = [int(i) for i in holdout['row_id']]\n"
        "print(json.dumps(out))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "frame.pkl")], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(result.stdout)

    assert out["same"] == holdout["row_id"].tolist()
    assert out["reversed"] == holdout["row_id"].tolist()[::-1]  # same rows, in the order they were read


def test_different_seeds_give_different_splits():
    frame = make_frame(rows=500).assign(row_id=np.arange(500))
    holdouts = [frozenset(split_holdout(frame, "label", "classification", 0.2, seed=seed)[1]["row_id"])
                for seed in range(5)]
    assert len(set(holdouts)) == 5
    assert split_holdout(frame, "label", "classification", 0.2, seed=3)[1]["row_id"].tolist() == sorted(holdouts[3])


def test_too_few_rows_or_no_splittable_rows_are_rejected():
    with pytest.raises(DataValidationError, match="need at least 2"):
        split_holdout(pd.DataFrame({"x": [1.0, 2.0], "label": [1.0, np.nan]}), "label", "regression", 0.2, 0)
    with pytest.raises(DataValidationError, match="single distinct row"):
        split_holdout(pd.DataFrame({"x": [1.0, 2.0, 2.0], "label": ["a", "b", "b"]}), "label",
                      "classification", 0.2, 0)
    with pytest.raises(DataValidationError, match="identical"):
        split_holdout(pd.DataFrame({"x": [1.0] * 4, "label": [2.0] * 4}), "label", "regression", 0.2, 0)


def test_single_row_class_stays_in_training():
    frame = pd.DataFrame({"x": np.arange(41.0), "label": ["a"] * 20 + ["b"] * 20 + ["lonely"]})
    train, holdout = split_holdout(frame, "label", "classification", 0.25, seed=0)

    assert "lonely" in set(train["label"]) and "lonely" not in set(holdout["label"])
    assert len(train) + len(holdout) == 41


def test_same_data_and_config_give_identical_models():
    frame = make_frame(labels="multi_str")
    for estimator in ESTIMATORS:
        first = train_model(frame, "label", "classification", config_for(estimator))
        second = train_model(frame, "label", "classification", config_for(estimator))
        pd.testing.assert_frame_equal(first.holdout, second.holdout)
        probe = first.holdout.drop(columns=["label"])
        np.testing.assert_array_equal(first.pipeline.predict(probe), second.pipeline.predict(probe))
        np.testing.assert_array_equal(first.pipeline.predict_proba(probe), second.pipeline.predict_proba(probe))
        assert first.params == second.params


def test_seed_drives_the_split():
    frame = make_frame()
    first = train_model(frame, "label", "classification", config_for("linear", seed=1))
    second = train_model(frame, "label", "classification", config_for("linear", seed=2))
    assert not first.holdout.equals(second.holdout)


def test_params_are_passed_through_and_recorded():
    model = train_model(make_frame(), "label", "classification",
                        config_for("hist_gradient_boosting", {"max_iter": 7, "learning_rate": 0.2}, seed=5))
    estimator = model.pipeline.named_steps["estimator"]

    assert estimator.max_iter == 7 and estimator.learning_rate == 0.2 and estimator.random_state == 5
    assert model.params["estimator"] == "hist_gradient_boosting"
    assert model.params["estimator_class"] == "HistGradientBoostingClassifier"
    assert model.params["hyperparameters"]["max_iter"] == 7
    assert model.params["seed"] == 5 and model.params["holdout_fraction"] == 0.2
    assert model.params["split"] == "row-hash"
    json.dumps(model.params)


@pytest.mark.parametrize("estimator, task, expected", [
    ("linear", "classification", {"max_iter": 1000, "random_state": 3}),
    ("linear", "regression", {"random_state": 3}),
    ("random_forest", "classification", {"n_jobs": 1, "random_state": 3}),
    ("random_forest", "regression", {"n_jobs": 1, "random_state": 3}),
    ("hist_gradient_boosting", "regression", {"random_state": 3}),
])
def test_estimator_defaults(estimator, task, expected):
    pipeline = build_model_pipeline(["x"], ["c"], task, ModelConfig(estimator=estimator), seed=3)
    params = pipeline.named_steps["estimator"].get_params()
    assert {key: params[key] for key in expected} == expected


def test_estimator_classes_follow_the_task():
    names = {(e, t): type(build_model_pipeline(["x"], [], t, ModelConfig(estimator=e), 0)
                          .named_steps["estimator"]).__name__
             for e in ESTIMATORS for t in ("classification", "regression")}
    assert names == {
        ("linear", "classification"): "LogisticRegression",
        ("linear", "regression"): "Ridge",
        ("hist_gradient_boosting", "classification"): "HistGradientBoostingClassifier",
        ("hist_gradient_boosting", "regression"): "HistGradientBoostingRegressor",
        ("random_forest", "classification"): "RandomForestClassifier",
        ("random_forest", "regression"): "RandomForestRegressor",
    }


def test_unknown_parameter_is_a_config_error_naming_it_and_the_estimator():
    with pytest.raises(ConfigError, match=r"n_trees.*random_forest"):
        train_model(make_frame(), "label", "classification", config_for("random_forest", {"n_trees": 5}))


def test_bad_parameter_value_is_a_config_error():
    with pytest.raises(ConfigError, match="max_iter"):
        build_model_pipeline(["x"], [], "classification",
                             ModelConfig(estimator="hist_gradient_boosting", params={"max_iter": "many"}), 0)


def test_random_state_in_params_points_to_seed():
    with pytest.raises(ConfigError, match="seed"):
        build_model_pipeline(["x"], [], "regression", ModelConfig(estimator="linear", params={"random_state": 1}), 0)


def test_pipeline_accepts_json_records_like_kserve(tmp_path):
    """KServe decodes a request with pd.DataFrame(records): NaN arrives as None, key order may differ."""
    model = train_model(make_frame(labels="binary_str"), "label", "classification", config_for("linear"))
    joblib.dump(model.pipeline, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    records = [
        {"flag": "true", "colour": None, "x2": 3, "x1": None},
        {"x1": 0.5, "x2": 10, "colour": "red", "flag": "false"},
        {"x1": 1.0, "x2": 1, "colour": "purple", "flag": "maybe"},  # unseen categories
    ]
    predictions = loaded.predict(pd.DataFrame(records))
    assert set(predictions) <= {"no", "yes"}
    # A batch where a categorical column holds only None decodes to an all-None object column.
    all_missing = loaded.predict_proba(pd.DataFrame([{"x1": None, "x2": None, "colour": None, "flag": None}]))
    np.testing.assert_allclose(all_missing.sum(axis=1), 1.0)


def test_none_from_json_is_encoded_like_nan_in_training():
    """Serving must not skew: a None category (JSON null) gets the same encoding as NaN did in fit."""
    model = train_model(make_frame(labels="multi_str"), "label", "classification", config_for("linear"))
    holdout = model.holdout.drop(columns=["label"])
    assert holdout["colour"].isna().any()
    decoded = pd.DataFrame(json.loads(holdout.to_json(orient="records")))
    assert decoded["colour"].map(lambda v: v is None).any()

    np.testing.assert_allclose(model.pipeline.predict_proba(decoded), model.pipeline.predict_proba(holdout),
                               atol=1e-6)  # to_json keeps 10 significant digits


def test_single_class_target_is_rejected():
    frame = make_frame().assign(label="only")
    with pytest.raises(DataValidationError, match="label"):
        train_model(frame, "label", "classification", config_for("linear"))


def test_missing_target_column_is_rejected():
    with pytest.raises(DataValidationError, match="'nope'"):
        train_model(make_frame(), "nope", "classification", config_for("linear"))
