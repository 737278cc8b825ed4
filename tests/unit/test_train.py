"""Unit tests for shipyard.stages.train on tiny in-memory frames."""

from __future__ import annotations

import dataclasses
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import ModelConfig, load_config
from shipyard.errors import ConfigError, DataValidationError
from shipyard.stages.split import holdout_mask, in_holdout
from shipyard.stages.train import TrainedModel, build_model_pipeline, train_model
from tests.unit.frames import make_frame, row_keys

ESTIMATORS = ("linear", "hist_gradient_boosting", "random_forest")
FAST_PARAMS = {"linear": {}, "hist_gradient_boosting": {"max_iter": 20}, "random_forest": {"n_estimators": 10}}


def config_for(estimator: str = "hist_gradient_boosting", params: dict | None = None, seed: int = 42):
    base = load_config()
    chosen = FAST_PARAMS[estimator] if params is None else params
    return dataclasses.replace(base, seed=seed, model=ModelConfig(estimator=estimator, params=chosen))


def assert_can_predict(model: TrainedModel) -> np.ndarray:
    predictions = model.pipeline.predict(model.holdout[list(model.feature_columns)])
    assert len(predictions) == len(model.holdout)
    return predictions


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "labels, expected_classes",
    [
        ("binary_str", ("no", "yes")),
        ("binary_int", (0, 1)),
        ("multi_int", (0, 1, 2, 3)),
        ("multi_str", ("high", "low", "mid")),
    ],
)
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


def test_train_model_holds_out_the_rows_holdout_mask_picks_on_the_raw_frame():
    """The gate can recompute a model's split from the raw table: train_model's cleaning
    (categorical cells to str, float labels back to int) does not change any row's hash."""
    frame = make_frame(rows=400, labels="binary_int", seed=3)
    frame["label"] = frame["label"].astype(float)
    frame.loc[::9, "label"] = np.nan
    frame["colour"] = frame["colour"].astype("category")
    model = train_model(frame, "label", "classification", config_for("linear", seed=8))
    mask = holdout_mask(frame, "label", "classification", model.params["holdout_fraction"], model.params["seed"])

    expected = frame[mask].astype({"label": np.int64, "colour": object})
    assert row_keys(model.holdout) == row_keys(expected)
    raw = in_holdout(frame[list(model.feature_columns) + ["label"]], 8, 0.2)
    assert (raw != mask)[frame["label"].notna().to_numpy()].sum() <= 2  # one guarantee move per class at most


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
    model = train_model(
        make_frame(),
        "label",
        "classification",
        config_for("hist_gradient_boosting", {"max_iter": 7, "learning_rate": 0.2}, seed=5),
    )
    estimator = model.pipeline.named_steps["estimator"]

    assert estimator.max_iter == 7 and estimator.learning_rate == 0.2 and estimator.random_state == 5
    assert model.params["estimator"] == "hist_gradient_boosting"
    assert model.params["estimator_class"] == "HistGradientBoostingClassifier"
    assert model.params["hyperparameters"]["max_iter"] == 7
    assert model.params["seed"] == 5 and model.params["holdout_fraction"] == 0.2
    assert model.params["split"] == "row-hash"
    json.dumps(model.params)


@pytest.mark.parametrize(
    "estimator, task, expected",
    [
        ("linear", "classification", {"max_iter": 1000, "random_state": 3}),
        ("linear", "regression", {"random_state": 3}),
        ("random_forest", "classification", {"n_jobs": 1, "random_state": 3}),
        ("random_forest", "regression", {"n_jobs": 1, "random_state": 3}),
        ("hist_gradient_boosting", "regression", {"random_state": 3}),
    ],
)
def test_estimator_defaults(estimator, task, expected):
    pipeline = build_model_pipeline(["x"], ["c"], task, ModelConfig(estimator=estimator), seed=3)
    params = pipeline.named_steps["estimator"].get_params()
    assert {key: params[key] for key in expected} == expected


def test_estimator_classes_follow_the_task():
    names = {
        (e, t): type(build_model_pipeline(["x"], [], t, ModelConfig(estimator=e), 0).named_steps["estimator"]).__name__
        for e in ESTIMATORS
        for t in ("classification", "regression")
    }
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
        build_model_pipeline(
            ["x"], [], "classification", ModelConfig(estimator="hist_gradient_boosting", params={"max_iter": "many"}), 0
        )


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
    model = train_model(make_frame(rows=400, labels="multi_str"), "label", "classification", config_for("linear"))
    holdout = model.holdout.drop(columns=["label"])
    assert holdout["colour"].isna().any()  # 400 rows: the holdout has some of the ~36 missing colours
    decoded = pd.DataFrame(json.loads(holdout.to_json(orient="records")))
    assert decoded["colour"].map(lambda v: v is None).any()

    np.testing.assert_allclose(
        model.pipeline.predict_proba(decoded), model.pipeline.predict_proba(holdout), atol=1e-6
    )  # to_json keeps 10 significant digits


def test_single_class_target_is_rejected():
    frame = make_frame().assign(label="only")
    with pytest.raises(DataValidationError, match="label"):
        train_model(frame, "label", "classification", config_for("linear"))


def test_missing_target_column_is_rejected():
    with pytest.raises(DataValidationError, match="'nope'"):
        train_model(make_frame(), "nope", "classification", config_for("linear"))


def test_ingest_the_contract_and_train_agree_that_a_boolean_column_is_categorical(tmp_path):
    """Ingest reads true/false as the text True/False, the contract records its categories, and train
    one-hot encodes that text; a bool dtype handed to train directly is treated exactly the same way."""
    from shipyard.stages.ingest import ingest_table
    from shipyard.stages.validate import infer_contract

    rows = make_frame(rows=200, labels="binary_str", seed=5)
    rows["active"] = np.where(rows["x1"].fillna(0) > 0, "true", "FALSE")
    path = tmp_path / "data.csv"
    rows.to_csv(path, index=False)

    ingested = ingest_table(str(path))
    frame = ingested.frame
    assert "active" in ingested.categorical_columns
    assert set(frame["active"]) == {"True", "False"}
    contract = infer_contract(frame, "label", "classification").column("active")
    assert contract.kind == "categorical" and contract.categories == ("False", "True")

    as_text = train_model(frame, "label", "classification", config_for("linear"))
    as_bool = train_model(
        frame.assign(active=frame["active"] == "True"), "label", "classification", config_for("linear")
    )
    for model in (as_text, as_bool):
        assert "active" in model.categorical_columns and "active" not in model.numeric_columns
        encoder = model.pipeline.named_steps["preprocess"].named_transformers_["categorical"][-1]
        position = list(model.categorical_columns).index("active")
        assert encoder.categories_[position].tolist() == ["False", "True"]
        assert set(model.holdout["active"]) == {"True", "False"}
    assert row_keys(as_text.holdout) == row_keys(as_bool.holdout)
    probe = as_text.holdout.drop(columns=["label"])
    np.testing.assert_array_equal(as_text.pipeline.predict_proba(probe), as_bool.pipeline.predict_proba(probe))


@pytest.mark.parametrize("labels, task", [("binary_int", "classification"), ("regression", "regression")])
def test_model_facts_survive_artifact_metadata_exactly(labels, task):
    """The Kubeflow UI's readable copies turn ints into floats; gate and register read the exact JSON form."""
    from shipyard.stages.train import ModelFacts

    model = train_model(make_frame(labels=labels), "label", task, config_for("linear"))
    facts = model.facts
    metadata = json.loads(json.dumps(facts.to_metadata()))
    assert ModelFacts.from_metadata(metadata) == facts
    assert facts.feature_columns == model.feature_columns and facts.params == model.params
    assert all(value is not None for value in metadata.values())  # ML Metadata rejects null top-level values
    if task == "classification":
        assert facts.classes == (0, 1) and metadata["classes"] == [0, 1]
    else:
        assert facts.classes is None and "classes" not in metadata
