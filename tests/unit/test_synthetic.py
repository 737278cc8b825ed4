"""The demo dataset: shape, determinism, learnability, drift, and that it passes validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score

from shipyard.config import ValidationSettings
from shipyard.data.synthetic import DEMO_TARGETS, make_demo_dataset, write_demo_dataset
from shipyard.stages.columns import column_kinds
from shipyard.stages.ingest import ingest_table
from shipyard.stages.validate import check_dataset, infer_contract, validate_dataset

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "age",
    "contract",
    "payment_method",
    "region",
    "has_partner",
]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_columns_kinds_and_target(task):
    frame = make_demo_dataset(300, task=task)
    target = DEMO_TARGETS[task]
    assert list(frame.columns) == FEATURES + [target]
    assert len(frame) == 300
    kinds = column_kinds(frame)
    assert [name for name, kind in kinds.items() if kind == "numeric" and name != target] == FEATURES[:4]
    assert frame[target].notna().all()
    if task == "classification":
        assert set(frame[target]) == {"yes", "no"}
        assert 0.2 < (frame[target] == "yes").mean() < 0.5
    else:
        assert frame[target].dtype == np.float64 and (frame[target] > 0).all()


def test_values_are_plausible_even_at_full_drift():
    for drift in (0.0, 1.0):
        frame = make_demo_dataset(3000, drift=drift, seed=3)
        assert frame["age"].dropna().between(18, 90).all()
        assert frame["tenure_months"].between(0, 72).all()
        assert frame["monthly_charges"].dropna().between(18, 130).all()
        assert (frame["support_calls"] >= 0).all()
        assert set(frame["contract"]) == {"month-to-month", "one-year", "two-year"}
        assert set(frame["has_partner"]) == {"yes", "no"}
        assert set(frame["payment_method"].dropna()) == {
            "electronic_check",
            "mailed_check",
            "bank_transfer",
            "credit_card",
        }


def test_about_three_percent_missing_in_a_few_feature_columns():
    missing = make_demo_dataset(4000).isna().mean()
    gappy = missing[missing > 0]
    assert 2 <= len(gappy) <= 3
    assert gappy.between(0.015, 0.05).all()
    assert missing["churned"] == 0


def test_same_seed_same_table_other_seed_other_table():
    pd.testing.assert_frame_equal(make_demo_dataset(200, seed=4), make_demo_dataset(200, seed=4))
    assert not make_demo_dataset(200, seed=4).equals(make_demo_dataset(200, seed=5))


def test_both_tasks_share_the_customers_for_one_seed():
    classification = make_demo_dataset(200, seed=9).drop(columns="churned")
    regression = make_demo_dataset(200, seed=9, task="regression").drop(columns="lifetime_value")
    pd.testing.assert_frame_equal(classification, regression)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_passes_validation_against_a_contract_from_another_seed(task):
    target = DEMO_TARGETS[task]
    contract = infer_contract(make_demo_dataset(seed=0, task=task), target, task)
    for seed in (1, 2):
        report = validate_dataset(make_demo_dataset(seed=seed, task=task), target, task, ValidationSettings(), contract)
        assert report.ok


def test_drift_is_detectable_yet_still_valid():
    reference = make_demo_dataset(seed=0)
    same = make_demo_dataset(seed=1)
    drifted = make_demo_dataset(seed=1, drift=0.5)
    for column in ("monthly_charges", "tenure_months"):
        assert ks_2samp(reference[column].dropna(), same[column].dropna()).pvalue > 0.01
        assert ks_2samp(reference[column].dropna(), drifted[column].dropna()).pvalue < 1e-6
    assert drifted["monthly_charges"].mean() > reference["monthly_charges"].mean() + 5
    assert drifted["tenure_months"].mean() < reference["tenure_months"].mean() - 3
    assert (drifted["contract"] == "month-to-month").mean() > (reference["contract"] == "month-to-month").mean()
    contract = infer_contract(reference, "churned", "classification")
    assert check_dataset(drifted, "churned", "classification", ValidationSettings(), contract).ok


def encoded(frame: pd.DataFrame, target: str):
    features = frame.drop(columns=target)
    for column in features.columns:
        if features[column].dtype == object:
            features[column] = features[column].astype("category")
    return features, frame[target]


def test_churn_is_learnable_but_not_trivial():
    train_x, train_y = encoded(make_demo_dataset(2000, seed=0), "churned")
    test_x, test_y = encoded(make_demo_dataset(1000, seed=1), "churned")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=60, random_state=0)
    accuracy = accuracy_score(test_y, model.fit(train_x, train_y).predict(test_x))
    majority = (test_y == test_y.mode()[0]).mean()
    assert 0.78 <= accuracy <= 0.92 and accuracy > majority + 0.08


def test_lifetime_value_is_learnable_but_not_trivial():
    train_x, train_y = encoded(make_demo_dataset(2000, seed=0, task="regression"), "lifetime_value")
    test_x, test_y = encoded(make_demo_dataset(1000, seed=1, task="regression"), "lifetime_value")
    model = HistGradientBoostingRegressor(categorical_features="from_dtype", max_iter=60, random_state=0)
    assert 0.6 <= r2_score(test_y, model.fit(train_x, train_y).predict(test_x)) <= 0.9


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_written_csv_reads_back_identically(tmp_path, task):
    path = write_demo_dataset(tmp_path / "sub" / "demo.csv", n_rows=150, seed=2, task=task)
    assert ",NA," in path.read_text()  # missing cells are written as NA
    pd.testing.assert_frame_equal(ingest_table(str(path)).frame, make_demo_dataset(150, seed=2, task=task))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": 2.5}, "n_rows"),
        ({"n_rows": True}, "n_rows"),
        ({"drift": -0.1}, "drift"),
        ({"drift": 1.5}, "drift"),
        ({"drift": float("nan")}, "drift"),
        ({"drift": "high"}, "drift"),
        ({"seed": -1}, "seed"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_demo_dataset(**kwargs)
