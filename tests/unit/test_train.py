"""Unit tests for shipyard.stages.train on tiny in-memory frames."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import ModelConfig, load_config
from shipyard.errors import ConfigError, DataValidationError
from shipyard.stages.train import (
    TrainedModel,
    build_model_pipeline,
    holdout_mask,
    in_holdout,
    row_hashes,
    split_holdout,
    train_model,
)

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

    old_as_float = grown.iloc[len(new) :].reset_index(drop=True)
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


def low_cardinality_frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Two categorical features with 3 values each and a binary target: at most 18 distinct rows."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    size = rng.choice(["S", "M", "L"], size=rows).astype(object)
    label = np.where((colour == "red") ^ (rng.random(rows) < 0.2), "yes", "no").astype(object)
    return pd.DataFrame({"colour": colour, "size": size, "label": label})


def test_copies_of_a_row_get_distinct_hashes_and_keep_them_as_copies_are_added():
    row, other = {"x": 1.5, "c": "a"}, {"x": 2.0, "c": "b"}
    five, eight = pd.DataFrame([row] * 5), pd.DataFrame([row] * 8)

    assert len(set(row_hashes(eight, 0).tolist())) == 8
    np.testing.assert_array_equal(row_hashes(eight, 0)[:5], row_hashes(five, 0))
    # Copies are counted per distinct row: other rows in between change nothing.
    mixed = pd.DataFrame([row, other] * 5)
    np.testing.assert_array_equal(row_hashes(mixed, 0)[::2], row_hashes(five, 0))
    np.testing.assert_array_equal(row_hashes(mixed, 0)[1::2], row_hashes(pd.DataFrame([other] * 5), 0))


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_grown_table_with_more_copies_keeps_old_copies_on_their_side(seed):
    """Multiset stability: old rows keep their side even when the new table adds copies of them."""
    base = make_frame(rows=300, seed=4)
    copies = np.random.default_rng(seed).integers(1, 5, size=300)
    old = base.loc[base.index.repeat(copies)].sample(frac=1.0, random_state=1).reset_index(drop=True)
    more_copies = base.sample(n=150, replace=True, random_state=seed)  # extra copies of old rows
    grown = (
        pd.concat([old, more_copies, make_frame(rows=200, seed=5)])
        .sample(frac=1.0, random_state=seed + 1)
        .reset_index(drop=True)
    )

    old_train, old_holdout = split_holdout(old, "label", "classification", 0.2, seed=seed)
    new_train, new_holdout = split_holdout(grown, "label", "classification", 0.2, seed=seed)

    old_train_n, old_holdout_n = Counter(row_keys(old_train)), Counter(row_keys(old_holdout))
    new_train_n, new_holdout_n = Counter(row_keys(new_train)), Counter(row_keys(new_holdout))
    assert not old_train_n - new_train_n  # every old training copy is still a training copy
    assert not old_holdout_n - new_holdout_n  # every old holdout copy is still held out
    assert sum(old_holdout_n.values()) > 60
    assert sum(new_holdout_n.values()) > sum(old_holdout_n.values())
    # What this guards: copies of one row on both sides (the multiset is split, not the row).
    assert set(old_train_n) & set(old_holdout_n)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_low_cardinality_table_gets_about_the_holdout_fraction(seed):
    frame = low_cardinality_frame(seed=seed)
    assert len(frame.drop_duplicates()) <= 18
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=seed)

    assert len(train) + len(holdout) == 2000
    assert abs(len(holdout) / 2000 - 0.2) <= 0.04
    share = holdout["label"].value_counts() / frame["label"].value_counts()
    assert ((share - 0.2).abs() <= 0.06).all(), share.to_dict()


def test_low_cardinality_table_grown_keeps_old_copies_on_their_side():
    old = low_cardinality_frame(rows=1000, seed=1)
    grown = pd.concat([old, low_cardinality_frame(rows=600, seed=2)]).sample(frac=1.0, random_state=0)
    old_train, old_holdout = split_holdout(old, "label", "classification", 0.2, seed=3)
    new_train, new_holdout = split_holdout(grown, "label", "classification", 0.2, seed=3)

    assert not Counter(row_keys(old_train)) - Counter(row_keys(new_train))
    assert not Counter(row_keys(old_holdout)) - Counter(row_keys(new_holdout))


def test_class_of_identical_rows_reaches_the_holdout():
    frame = pd.DataFrame(
        {"x": np.r_[np.arange(400.0), [7.0] * 200], "label": ["a"] * 200 + ["b"] * 200 + ["same"] * 200}
    )
    train, holdout = split_holdout(frame, "label", "classification", 0.25, seed=0)

    assert (holdout["label"] == "same").sum() >= 1 and (train["label"] == "same").sum() >= 1
    # By the row-hash rule itself, not by the per-class guarantee: about a quarter of the copies.
    raw_share = in_holdout(frame, 0, 0.25)[frame["label"].to_numpy() == "same"].mean()
    assert 0.15 <= raw_share <= 0.35


@pytest.mark.parametrize("seed", range(3))
def test_small_class_of_identical_rows_gets_a_row_on_each_side(seed):
    frame = pd.DataFrame({"x": np.r_[np.arange(40.0), [7.0] * 10], "label": ["a"] * 20 + ["b"] * 20 + ["same"] * 10})
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=seed)

    assert (train["label"] == "same").sum() >= 1 and (holdout["label"] == "same").sum() >= 1
    assert len(train) + len(holdout) == 50


def test_missing_values_hash_alike_and_unlike_any_text():
    def one(value, dtype=object):
        return int(row_hashes(pd.DataFrame({"b": pd.Series([value], dtype=dtype)}), 0)[0])

    missing = {one(None), one(np.nan), one(pd.NA), one(pd.NaT), one(np.nan, float), one(None, "string")}
    assert len(missing) == 1
    texts = {one("nan"), one("None"), one("NaN"), one(""), one("<NA>"), one("~")}
    assert len(texts) == 6 and not missing & texts
    # A column of missing values hashes the same whatever its dtype.
    assert one(np.nan, float) == one(pd.NA, "Int64") == one(None, object)


def test_row_hash_ignores_numeric_dtype_and_keeps_text_apart_from_numbers():
    floats = pd.DataFrame({"a": [5.0, 0.0, 1.0, np.nan]})
    for same in (
        pd.DataFrame({"a": pd.array([5, 0, 1, None], dtype="Int64")}),
        pd.DataFrame({"a": [5.0, -0.0, 1.0, np.nan]}),
        pd.DataFrame({"a": pd.array([5, 0, True, None], dtype="Float64")}),
        pd.DataFrame({"a": np.array([5, 0, 1, np.nan], dtype=np.float32)}),
    ):
        np.testing.assert_array_equal(row_hashes(same, 3), row_hashes(floats, 3))
    bools = pd.DataFrame({"a": [True, False]})
    np.testing.assert_array_equal(row_hashes(bools, 3), row_hashes(pd.DataFrame({"a": [1, 0]}), 3))
    # Which values sit in which column matters; the same values as text are other values.
    one_two, two_one = pd.DataFrame({"a": [1.0], "b": [2.0]}), pd.DataFrame({"a": [2.0], "b": [1.0]})
    assert row_hashes(one_two, 0)[0] != row_hashes(two_one, 0)[0]
    assert row_hashes(pd.DataFrame({"a": ["5.0"]}), 0)[0] != row_hashes(pd.DataFrame({"a": [5.0]}), 0)[0]


def test_text_columns_hash_cells_as_train_model_cleans_them():
    """Hashing a raw object column equals hashing its str() form, as train_model feeds split_holdout."""
    raw = pd.DataFrame({"c": pd.Series([1, "x", True, None, 2.5, pd.Timestamp("2024-01-02")], dtype=object)})
    cleaned = pd.DataFrame({"c": ["1", "x", "True", np.nan, "2.5", "2024-01-02 00:00:00"]})
    np.testing.assert_array_equal(row_hashes(raw, 1), row_hashes(cleaned, 1))
    as_category = pd.DataFrame({"c": pd.Categorical(["b", "a", None, "b"])})
    np.testing.assert_array_equal(row_hashes(as_category, 1), row_hashes(pd.DataFrame({"c": ["b", "a", None, "b"]}), 1))


def test_seed_changes_the_split_of_a_numeric_only_frame():
    frame = pd.DataFrame({"x": np.arange(500.0), "y": np.arange(500) % 7})
    masks = {seed: in_holdout(frame, seed, 0.2) for seed in range(6)}
    assert len({mask.tobytes() for mask in masks.values()}) == 6
    assert all(0.12 <= mask.mean() <= 0.28 for mask in masks.values())
    assert not np.array_equal(row_hashes(frame, 0), row_hashes(frame, 1))
    np.testing.assert_array_equal(row_hashes(frame, 2), row_hashes(frame.copy(), 2))


def test_in_holdout_agrees_with_split_holdout_where_no_class_needed_a_move():
    frame = make_frame(rows=1000, labels="multi_str").assign(row_id=np.arange(1000))
    raw = in_holdout(frame, 5, 0.2)
    _, holdout = split_holdout(frame, "label", "classification", 0.2, seed=5)

    assert holdout["row_id"].tolist() == np.flatnonzero(raw).tolist()
    np.testing.assert_array_equal(holdout_mask(frame, "label", "classification", 0.2, 5), raw)
    # Column order does not matter (the gate selects the champion's columns in its own order).
    np.testing.assert_array_equal(in_holdout(frame[frame.columns[::-1]], 5, 0.2), raw)


@pytest.mark.parametrize("seed", range(5))
def test_in_holdout_differs_from_split_holdout_only_by_guarantee_moves(seed):
    """Small classes: at most one row per class moves, only when the raw rule left a side empty."""
    sizes = {f"c{i}": 2 for i in range(10)} | {f"d{i}": 3 for i in range(5)} | {"big": 200, "lonely": 1}
    labels = np.array([label for label, size in sizes.items() for _ in range(size)], dtype=object)
    frame = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "label": labels})
    raw = in_holdout(frame, seed, 0.2)
    final = holdout_mask(frame, "label", "classification", 0.2, seed)

    for label, size in sizes.items():
        members = labels == label
        moved = int((raw[members] != final[members]).sum())
        one_sided = raw[members].all() or not raw[members].any()
        if size == 1:
            assert not final[members].any()
        else:
            assert moved == (1 if one_sided else 0), label
    assert (raw[labels == "big"] == final[labels == "big"]).all()


def test_holdout_mask_leaves_rows_without_a_target_out_of_both_parts():
    frame = make_frame(rows=300, labels="binary_int", seed=2).assign(row_id=np.arange(300))
    frame["label"] = frame["label"].astype(float)
    frame.loc[::10, "label"] = np.nan
    mask = holdout_mask(frame, "label", "classification", 0.2, 4)
    train, holdout = split_holdout(frame, "label", "classification", 0.2, seed=4)

    assert not mask[frame["label"].isna().to_numpy()].any()
    assert holdout["row_id"].tolist() == np.flatnonzero(mask).tolist()
    assert len(train) + len(holdout) == 270
    # Rows without a target never match a row with one, so they do not change the raw rule.
    labelled = frame["label"].notna().to_numpy()
    np.testing.assert_array_equal(in_holdout(frame, 4, 0.2)[labelled], in_holdout(frame[labelled], 4, 0.2))


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


def test_in_holdout_on_a_holdout_subset_never_counts_more_copies_than_the_champion_held_out():
    """Called on a challenger's holdout alone, the k-th copy is counted within that holdout: for each
    row it can only under-count the copies the champion never trained on, never over-count."""
    base = make_frame(rows=200, seed=6)
    old = base.loc[base.index.repeat(np.random.default_rng(1).integers(1, 6, size=200))].reset_index(drop=True)
    grown = pd.concat([old, base.sample(n=100, replace=True, random_state=2)]).sample(frac=1.0, random_state=3)
    champion_holdout = split_holdout(old, "label", "classification", 0.2, seed=7)[1]
    _, challenger_holdout = split_holdout(grown, "label", "classification", 0.3, seed=42)

    kept = challenger_holdout[in_holdout(challenger_holdout, 7, 0.2)]
    unseen = Counter(row_keys(champion_holdout)) + (Counter(row_keys(grown)) - Counter(row_keys(old)))
    assert not Counter(row_keys(kept)) - unseen
    assert len(kept) > 20


def test_split_is_the_same_in_another_process(tmp_path):
    """No dependence on PYTHONHASHSEED, the process or the row order: SipHash and uint64 arithmetic only."""
    frame = make_frame(rows=300, labels="multi_str").assign(row_id=np.arange(300))
    duplicated = pd.concat(
        [low_cardinality_frame(rows=200), frame.drop(columns=["row_id"]).head(50)], ignore_index=True
    )
    numeric = frame[["x1", "x2"]]
    for name, data in [("frame", frame), ("duplicated", duplicated), ("numeric", numeric)]:
        data.to_pickle(tmp_path / f"{name}.pkl")
    _, holdout = split_holdout(frame, "label", "classification", 0.2, seed=11)
    script = (
        "import json, sys, pandas as pd\n"
        "from shipyard.stages.train import row_hashes, split_holdout\n"
        "folder = sys.argv[1]\n"
        "frame = pd.read_pickle(folder + '/frame.pkl')\n"
        "out = {}\n"
        "for name, data in [('same', frame), ('reversed', frame.iloc[::-1])]:\n"
        "    _, holdout = split_holdout(data, 'label', 'classification', 0.2, seed=11)\n"
        "    out[name] = [int(i) for i in holdout['row_id']]\n"
        "for name in ['frame', 'duplicated', 'numeric']:\n"
        "    out['hashes_' + name] = [str(h) for h in row_hashes(pd.read_pickle(f'{folder}/{name}.pkl'), 11)]\n"
        "print(json.dumps(out))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(result.stdout)

    assert out["same"] == holdout["row_id"].tolist()
    assert out["reversed"] == holdout["row_id"].tolist()[::-1]  # same rows, in the order they were read
    for name, data in [("frame", frame), ("duplicated", duplicated), ("numeric", numeric)]:
        assert out["hashes_" + name] == [str(h) for h in row_hashes(data, 11)], name


def test_different_seeds_give_different_splits():
    frame = make_frame(rows=500).assign(row_id=np.arange(500))
    holdouts = [
        frozenset(split_holdout(frame, "label", "classification", 0.2, seed=seed)[1]["row_id"]) for seed in range(5)
    ]
    assert len(set(holdouts)) == 5
    assert split_holdout(frame, "label", "classification", 0.2, seed=3)[1]["row_id"].tolist() == sorted(holdouts[3])


def test_too_few_rows_or_no_splittable_rows_are_rejected():
    with pytest.raises(DataValidationError, match="need at least 2"):
        split_holdout(pd.DataFrame({"x": [1.0, 2.0], "label": [1.0, np.nan]}), "label", "regression", 0.2, 0)
    with pytest.raises(DataValidationError, match="single row"):
        split_holdout(pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "c"]}), "label", "classification", 0.2, 0)
    with pytest.raises(DataValidationError, match="no columns"):
        row_hashes(pd.DataFrame(index=range(3)), 0)


def test_identical_rows_can_still_be_split():
    """Copies are a multiset: a table of one repeated row still has a training part and a holdout."""
    train, holdout = split_holdout(pd.DataFrame({"x": [1.0] * 4, "label": [2.0] * 4}), "label", "regression", 0.2, 0)
    assert len(train) >= 1 and len(holdout) >= 1 and len(train) + len(holdout) == 4
    train, holdout = split_holdout(
        pd.DataFrame({"x": [1.0, 2.0, 2.0], "label": ["a", "b", "b"]}), "label", "classification", 0.2, 0
    )
    assert train["label"].tolist().count("b") == 1 and holdout["label"].tolist() == ["b"]


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
