"""Fits the challenger: one scikit-learn Pipeline (preprocessing + estimator) on a seeded split.

The split is stable per row (see ``split_holdout``): whether a row is held out depends only on
its values, the seed and the holdout fraction, never on which other rows are in the table. A
retrain on a dataset that grew keeps every row the champion trained on out of the new holdout,
so the gate never scores the champion on rows it has seen (which would inflate its score and
reject a good challenger), and duplicate rows never straddle the split.

The fitted Pipeline holds scikit-learn objects only, so KServe's scikit-learn server can
``joblib.load`` it without shipyard installed, and it accepts the ``pd.DataFrame(records)``
that server builds from a JSON request (missing values arrive as ``None``, not ``NaN``).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
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
    params: dict  # JSON-serialisable: estimator, effective hyperparameters, seed, holdout_fraction, split


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


#: Text a missing value (NaN, None, NaT, pd.NA) stands as in a row's hashed form.
_MISSING_TOKEN = "~"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def _number_token(value: float) -> str:
    # + 0.0 turns -0.0 into 0.0; 12 significant digits make int 5, float 5.0 (and float noise
    # from a file round trip) the same text.
    return "n" + format(float(value) + 0.0, ".12g")


def _value_token(value: Any) -> str:
    """One cell of an object column as hashed text: number, missing token or length-prefixed text."""
    if _is_missing(value):
        return _MISSING_TOKEN
    if isinstance(value, (numbers.Real, np.bool_)):  # bool, int, float, numpy scalars
        return _number_token(value)
    text = value if isinstance(value, str) else str(value)
    return f"s{len(text)}:{text}"  # the length prefix keeps "|" inside text from faking a column break


def _column_tokens(values: pd.Series) -> list[str]:
    if (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values)):
        as_float = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return [_MISSING_TOKEN if math.isnan(v) else _number_token(v) for v in as_float.tolist()]
    return [_value_token(v) for v in values.astype(object).tolist()]


def _hash_key(seed: int) -> str:
    """The 16-character SipHash key ``pd.util.hash_array`` takes, derived from ``seed``."""
    return hashlib.sha256(f"shipyard-split:{seed}".encode()).hexdigest()[:16]


def row_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A deterministic uint64 per row of ``frame``, from all its values and ``seed``.

    Each row is hashed from a normalised text form of its values, columns in sorted-name
    order: numbers as 12 significant digits (int 5, float 5.0 and bool True/1 agree), every
    missing value as one token, anything else as its text. So the hash does not depend on
    the other rows, the row or column order, or an int column turning float when new rows
    bring a NaN; identical rows get identical hashes. The same in every process and run
    (SipHash with a key from ``seed``, not Python's randomised ``hash``).
    """
    if not len(frame):
        return np.zeros(0, dtype=np.uint64)
    columns = sorted(frame.columns, key=str)
    if not columns:
        raise DataValidationError(["<table>: no columns to split rows by"])
    tokens = [pd.Series(_column_tokens(frame[c]), dtype=object) for c in columns]
    rows = tokens[0].str.cat(tokens[1:], sep="|") if len(tokens) > 1 else tokens[0]
    return pd.util.hash_array(np.asarray(rows, dtype=object), hash_key=_hash_key(seed))


def _move_one(in_holdout: np.ndarray, hashes: np.ndarray, members: np.ndarray, to_holdout: bool) -> None:
    """Moves the training row with the lowest hash to the holdout (or the holdout row with the
    highest hash to training), together with its duplicates, so duplicates stay on one side."""
    side = members[in_holdout[members] != to_holdout]
    pick = hashes[side].min() if to_holdout else hashes[side].max()
    in_holdout[members[hashes[members] == pick]] = to_holdout


def split_holdout(frame: pd.DataFrame, target: str, task: str, holdout_fraction: float,
                  seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits ``frame`` into (train, holdout), row by row from a hash of the row's values.

    A row is held out when ``row_hashes(row, seed) / 2**64 < holdout_fraction``, so the split of
    a row depends only on its values, the seed and the fraction, not on the other rows: when a
    retrain uses the old rows plus new ones (same seed and fraction), the rows the champion
    trained on stay in training and the gate never scores the champion on rows it has seen.
    Identical rows always land on the same side, so duplicates cannot leak across the split.
    Classification is stratified in expectation: each class independently gets about
    ``holdout_fraction`` of its rows, and every class with at least 2 distinct rows keeps at
    least one row on each side (its lowest-hash row is moved to the holdout, or its
    highest-hash row to training, when a side is empty; only in such small classes can a row
    change sides as data grows). A class with a single distinct row stays in training (it
    cannot be split without leaking). Rows without a target are dropped; both parts keep the
    input's row order.

    Raises:
        DataValidationError: fewer than 2 rows with a target, or no rows (class) that can be
            split without putting copies of one row on both sides.
    """
    frame = frame[frame[target].notna()]
    if len(frame) < 2:
        raise DataValidationError([f"<table>: {len(frame)} row(s) with a target; need at least 2 to hold some out"])
    hashes = row_hashes(frame, seed)
    unit = (hashes >> np.uint64(11)).astype(np.float64) * 2.0 ** -53  # hash / 2**64, exact, in [0, 1)
    in_holdout = unit < holdout_fraction

    if task == "classification":
        codes, _ = pd.factorize(frame[target])
        order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    else:
        groups = [np.arange(len(frame))]
    splittable = 0
    for members in groups:
        if len(np.unique(hashes[members])) < 2:
            in_holdout[members] = False  # a single (distinct) row stays in training
            continue
        splittable += 1
        if not in_holdout[members].any():
            _move_one(in_holdout, hashes, members, to_holdout=True)
        elif in_holdout[members].all():
            _move_one(in_holdout, hashes, members, to_holdout=False)
    if not splittable:
        if task == "classification":
            problem = (f"column '{target}': every class has a single distinct row; "
                       "cannot hold rows out for evaluation")
        else:
            problem = "<table>: every row is identical; cannot hold rows out for evaluation without leaking"
        raise DataValidationError([problem])
    return frame[~in_holdout].reset_index(drop=True), frame[in_holdout].reset_index(drop=True)


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
        "split": "row-hash",
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
