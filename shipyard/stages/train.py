"""Fits the challenger: one scikit-learn Pipeline (preprocessing + estimator) on a seeded split.

The fitted Pipeline holds scikit-learn objects only, so KServe's scikit-learn server can
``joblib.load`` it without shipyard installed, and it accepts the ``pd.DataFrame(records)``
that server builds from a JSON request (missing values arrive as ``None``, not ``NaN``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from shipyard.config import ESTIMATORS, TASKS, ModelConfig, ShipyardConfig
from shipyard.errors import ConfigError, DataValidationError

if TYPE_CHECKING:  # scikit-learn is imported where it is used: importing shipyard stays cheap
    from sklearn.pipeline import Pipeline

#: Value the categorical imputers put in place of NaN / None before one-hot encoding.
MISSING_CATEGORY = "missing"


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames field by field would raise
class TrainedModel:
    """A fitted challenger and what the later stages need to evaluate, test and register it."""

    pipeline: Any  # fitted sklearn.pipeline.Pipeline (preprocessing + estimator)
    task: str  # "classification" | "regression"
    target: str
    feature_columns: tuple[str, ...]
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    classes: tuple | None  # model.classes_ as JSON-friendly Python values (classification)
    train_rows: int
    holdout: pd.DataFrame  # held-out rows, features + target, never seen in fit
    params: dict  # JSON-serialisable: estimator, effective hyperparameters, seed, holdout_fraction


def _estimator_class(estimator: str, task: str) -> type:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge

    classes = {
        ("linear", "classification"): LogisticRegression,
        ("linear", "regression"): Ridge,
        ("hist_gradient_boosting", "classification"): HistGradientBoostingClassifier,
        ("hist_gradient_boosting", "regression"): HistGradientBoostingRegressor,
        ("random_forest", "classification"): RandomForestClassifier,
        ("random_forest", "regression"): RandomForestRegressor,
    }
    if task not in TASKS:
        raise ConfigError(f"task must be one of {list(TASKS)}, got {task!r}")
    if (estimator, task) not in classes:
        raise ConfigError(f"config key 'model.estimator' must be one of {list(ESTIMATORS)}, got {estimator!r}")
    return classes[(estimator, task)]


def build_estimator(model: ModelConfig, task: str, seed: int) -> Any:
    """The unfitted estimator for ``model.estimator`` and ``task``, with ``model.params`` applied.

    Raises:
        ConfigError: a parameter the estimator does not have, ``random_state`` set in params
            (the top-level ``seed`` sets it), or a value the estimator rejects.
    """
    cls = _estimator_class(model.estimator, task)
    estimator = cls()
    known = estimator.get_params(deep=False)
    defaults: dict[str, Any] = {}
    if "random_state" in known:
        defaults["random_state"] = seed
    if model.estimator == "linear" and task == "classification":
        defaults["max_iter"] = 1000
    if model.estimator == "random_forest":
        defaults["n_jobs"] = 1

    params = dict(model.params or {})
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(
            f"config key 'model.params': unknown parameter(s) {unknown} for estimator "
            f"'{model.estimator}' ({cls.__name__}); known: {sorted(known)}")
    if "random_state" in params:
        raise ConfigError(
            "config key 'model.params.random_state': set the top-level 'seed' instead, "
            "it seeds both the split and the estimator")
    estimator.set_params(**{**defaults, **params})
    # Check values now, so a bad value is reported as config rather than as a fit traceback.
    # _validate_params is scikit-learn's own (private) constraint check; skip it if it goes away.
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate):
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config key 'model.params' for estimator '{model.estimator}': {exc}") from exc
    return estimator


def build_model_pipeline(numeric: Sequence[str], categorical: Sequence[str], task: str,
                         model: ModelConfig, seed: int) -> Pipeline:
    """An unfitted Pipeline: per-column-type preprocessing followed by the configured estimator.

    Numeric columns get the median for missing values and are standardised; categorical
    columns get ``"missing"`` for NaN and for None (two imputers, since one SimpleImputer
    matches only one of them) and are one-hot encoded, ignoring categories unseen in fit.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if numeric:
        transformers.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                             list(numeric)))
    if categorical:
        transformers.append(("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
            SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY),
            # Dense: HistGradientBoosting does not take sparse input.
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        ), list(categorical)))
    if not transformers:
        raise DataValidationError(["<table>: no feature columns besides the target"])
    preprocess = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("preprocess", preprocess), ("estimator", build_estimator(model, task, seed))])


def clean_target(values: pd.Series, task: str) -> pd.Series:
    """Target values (missing ones already dropped) as the model sees them.

    A classification target stored as float only because it once held NaN (1.0, 2.0, ...)
    becomes int again, so classes stay the integers in the data; everything else is unchanged.
    """
    if task == "classification" and pd.api.types.is_float_dtype(values) and len(values):
        if bool(np.isfinite(values).all()) and bool((values == values.round()).all()):
            return values.astype(np.int64)
    return values


def split_holdout(frame: pd.DataFrame, target: str, task: str, holdout_fraction: float,
                  seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits ``frame`` into (train, holdout), stratified by the target for classification.

    Rows without a target are dropped. Classes with a single row stay in train (they cannot
    be split); stratification is dropped when the holdout is too small to hold every class once.
    """
    from sklearn.model_selection import train_test_split

    frame = frame[frame[target].notna()]
    if len(frame) < 2:
        raise DataValidationError([f"<table>: {len(frame)} row(s) with a target; need at least 2 to hold some out"])
    always_train = pd.Series(False, index=frame.index)
    stratify = None
    if task == "classification":
        counts = frame[target].value_counts()
        always_train = frame[target].isin(counts[counts < 2].index)
        rest = frame[target][~always_train]
        n_classes = rest.nunique()
        n_holdout = math.ceil(holdout_fraction * len(rest))
        if n_classes >= 2 and n_classes <= n_holdout <= len(rest) - n_classes:
            stratify = rest
    rest_frame = frame[~always_train]
    if len(rest_frame) < 2:
        raise DataValidationError(
            [f"column '{target}': every class has a single row; cannot hold rows out for evaluation"])
    train, holdout = train_test_split(rest_frame, test_size=holdout_fraction, random_state=seed,
                                      shuffle=True, stratify=stratify)
    if always_train.any():
        train = pd.concat([train, frame[always_train]])
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def _json_value(value: Any) -> Any:
    """``value`` as something ``json.dumps`` accepts (numpy scalars unwrapped, objects as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _split_feature_types(frame: pd.DataFrame, features: Sequence[str]) -> tuple[list[str], list[str]]:
    numeric, categorical = [], []
    for column in features:
        # bool counts as numeric (0/1): it survives the JSON round trip as true/false.
        (numeric if pd.api.types.is_numeric_dtype(frame[column]) else categorical).append(column)
    return numeric, categorical


def _as_category_text(values: pd.Series) -> pd.Series:
    """Object column of str with NaN for missing, the form KServe requests decode to."""
    text = values.astype(object)
    return text.map(str).where(text.notna(), np.nan)


def train_model(frame: pd.DataFrame, target: str, task: str, config: ShipyardConfig) -> TrainedModel:
    """Drops rows without a target, holds out ``config.holdout_fraction`` of the rest, fits the pipeline.

    Raises:
        DataValidationError: the target column is missing, too few rows have a target, or a
            classification target has a single class.
        ConfigError: an unknown estimator, parameter or parameter value.
    """
    if task not in TASKS:
        raise ConfigError(f"task must be one of {list(TASKS)}, got {task!r}")
    if target not in frame.columns:
        raise DataValidationError([f"column '{target}': target column is missing from the data"])
    data = frame[frame[target].notna()].reset_index(drop=True)
    data[target] = clean_target(data[target], task)
    if task == "regression" and not pd.api.types.is_numeric_dtype(data[target]):
        raise DataValidationError([f"column '{target}': regression needs a numeric target, got {data[target].dtype}"])
    if task == "classification" and data[target].nunique() < 2:
        raise DataValidationError(
            [f"column '{target}': {data[target].nunique()} class(es) among rows with a target; "
             "classification needs at least 2"])

    features = [c for c in data.columns if c != target]
    numeric, categorical = _split_feature_types(data, features)
    for column in categorical:
        data[column] = _as_category_text(data[column])

    train, holdout = split_holdout(data, target, task, config.holdout_fraction, config.seed)
    pipeline = build_model_pipeline(numeric, categorical, task, config.model, config.seed)
    pipeline.fit(train[features], train[target])

    estimator = pipeline.named_steps["estimator"]
    classes = None
    if task == "classification":
        classes = tuple(_json_value(c) for c in estimator.classes_)
    params = {
        "estimator": config.model.estimator,
        "estimator_class": type(estimator).__name__,
        "hyperparameters": _json_value(estimator.get_params(deep=False)),
        "seed": config.seed,
        "holdout_fraction": config.holdout_fraction,
    }
    return TrainedModel(
        pipeline=pipeline,
        task=task,
        target=target,
        feature_columns=tuple(features),
        numeric_columns=tuple(numeric),
        categorical_columns=tuple(categorical),
        classes=classes,
        train_rows=len(train),
        holdout=holdout,
        params=params,
    )
