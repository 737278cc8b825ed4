"""Fits the challenger: one scikit-learn Pipeline (preprocessing + estimator) on a seeded split.

The split is stable per row (see ``split_holdout``): whether a row is held out depends only on
its values, how many identical rows came before it, the seed and the holdout fraction, never
on the other rows of the table. A retrain on a dataset that grew keeps every row the champion
trained on out of the new holdout, so the gate never scores the champion on rows it has seen
(which would inflate its score and reject a good challenger). Identical rows are a multiset:
the first n copies of a row split as they did when the table held n, so the split stays stable
as copies are added, and still holds out about ``holdout_fraction`` of duplicated or
low-cardinality data. Rows are hashed column by column with numpy and pandas vector operations,
so a million-row table costs seconds, not a Python string per cell.

The fitted Pipeline holds scikit-learn objects only, so KServe's scikit-learn server can
``joblib.load`` it without shipyard installed, and it accepts the ``pd.DataFrame(records)``
that server builds from a JSON request (missing values arrive as ``None``, not ``NaN``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.config import ESTIMATORS, ModelConfig, ShipyardConfig
from shipyard.errors import ConfigError, DataValidationError
from shipyard.vocabulary import TASKS

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
            f"'{model.estimator}' ({cls.__name__}); known: {sorted(known)}"
        )
    if "random_state" in params:
        raise ConfigError(
            "config key 'model.params.random_state': set the top-level 'seed' instead, "
            "it seeds both the split and the estimator"
        )
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


def build_model_pipeline(
    numeric: Sequence[str], categorical: Sequence[str], task: str, model: ModelConfig, seed: int
) -> Pipeline:
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
        transformers.append(
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(numeric))
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
                    SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY),
                    # Dense: HistGradientBoosting does not take sparse input.
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                list(categorical),
            )
        )
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


# Row hashing. Every step is numpy uint64 arithmetic (wrapping) or pandas' SipHash of text, so
# a row hashes the same in every process, platform and run (Python's ``hash`` is randomised).
_U64 = np.uint64
_MIX1, _MIX2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)  # splitmix64 finaliser
_GOLDEN = _U64(0x9E3779B97F4A7C15)  # splitmix64's increment, spreads the occurrence index
#: Hash every missing cell (NaN, None, NaT, pd.NA) takes, in numeric and text columns alike.
_MISSING_HASH = _U64(0x6D697373696E6721)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's avalanche on a uint64 array, in place (and returned): a bijection in which
    every input bit flips about half the output bits."""
    with np.errstate(over="ignore"):
        values ^= values >> _U64(30)
        values *= _MIX1
        values ^= values >> _U64(27)
        values *= _MIX2
        values ^= values >> _U64(31)
    return values


def _seed_keys(seed: int) -> tuple[str, np.uint64]:
    """The SipHash key for text columns and the 64-bit constant mixed into every row, from ``seed``.

    A constant besides the key: ``pd.util.hash_array`` ignores its key for numeric arrays, and a
    frame may have no text column at all.
    """
    digest = hashlib.sha256(f"shipyard-split:{seed}".encode()).hexdigest()
    return digest[:16], _U64(int(digest[16:32], 16))


def _is_numeric_column(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values)


def _numeric_column_hash(values: pd.Series) -> np.ndarray:
    """One uint64 per cell of a numeric (int, float, bool, nullable) column, from its float64 value.

    ``+ 0.0`` turns -0.0 into 0.0, so int 5, float 5.0 and True / 1 hash the same, and an int
    column turned float by a new missing value keeps its hashes. (Ints beyond 2**53 that round
    to the same float share a hash: harmless for a split.)
    """
    as_float = values.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0
    missing = np.isnan(as_float)
    bits = as_float.view(_U64)  # as_float is a fresh array (+ 0.0 copied it), safe to change
    with np.errstate(over="ignore"):
        bits += _GOLDEN
    hashed = _mix64(bits)
    hashed[missing] = _MISSING_HASH
    return hashed


def _text_column_hash(values: pd.Series, hash_key: str) -> np.ndarray:
    """One uint64 per cell of any other column, from the cell's ``str`` (SipHash, keyed by seed).

    ``str(value)`` is also what ``train_model`` turns categorical cells into, so a raw frame and
    the trainer's cleaned copy hash alike. Missing cells get ``_MISSING_HASH``, never the hash of
    a text (pandas would hash None as "None" and NaN as "nan").
    """
    cells = values.to_numpy(dtype=object)
    missing = pd.isna(cells)
    if missing.any():
        cells = np.where(missing, "", cells)
    if pd.api.types.infer_dtype(cells, skipna=False) not in ("string", "empty"):
        cells = np.array([str(cell) for cell in cells], dtype=object)  # numbers, dates, bools, ... as text
    # categorize=True hashes each distinct text once (same result, faster on repeated values).
    hashed = pd.util.hash_array(cells, hash_key=hash_key, categorize=True)
    hashed[missing] = _MISSING_HASH
    return hashed


def _content_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """One uint64 per row from its values alone (columns in sorted-name order) and ``seed``."""
    hash_key, seed_constant = _seed_keys(seed)
    combined = np.full(len(frame), seed_constant, dtype=_U64)
    # Positions, not names, so a frame with a repeated column name still hashes column by column.
    order = sorted(range(frame.shape[1]), key=lambda position: str(frame.columns[position]))
    for position in order:
        values = frame.iloc[:, position]
        combined ^= _numeric_column_hash(values) if _is_numeric_column(values) else _text_column_hash(values, hash_key)
        _mix64(combined)  # mix after each column: the same values in other columns give another hash
    return combined


def row_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A deterministic uint64 per row of ``frame``: its values, how many copies came before it, ``seed``.

    Content: each column is normalised and hashed as a whole (numbers as float64, so int 5,
    float 5.0, True / 1 and -0.0 / 0.0 agree; text by SipHash; every missing value as one fixed
    value distinct from any text, "nan" included), then the columns are combined in sorted-name
    order with a splitmix64 avalanche, starting from a constant derived from ``seed``. So the
    content hash depends neither on the other rows, the row or column order, nor on an int
    column turning float when new rows bring a NaN.

    Occurrence: the k-th copy of identical rows (k = 0, 1, ... in input order) gets
    ``mix(content, k)``, so copies get distinct hashes and the rows are treated as a multiset:
    when a table grows from 5 copies of a row to 8, copies 0-4 hash exactly as before and only
    5-7 are new. (Copies are identical, so which of them is the k-th does not matter.) k counts
    copies within ``frame``: in a subset of a table, copies are numbered within the subset.

    The same in every process, platform and run (no Python ``hash``).

    Raises:
        DataValidationError: ``frame`` has rows but no columns.
    """
    if not len(frame):
        return np.zeros(0, dtype=_U64)
    if not frame.shape[1]:
        raise DataValidationError(["<table>: no columns to split rows by"])
    content = _content_hashes(frame, seed)
    occurrence = pd.Series(content).groupby(content, sort=False).cumcount().to_numpy(dtype=_U64)
    with np.errstate(over="ignore"):
        occurrence += _U64(1)
        occurrence *= _GOLDEN
    content ^= _mix64(occurrence)
    return _mix64(content)


def _below(hashes: np.ndarray, fraction: float) -> np.ndarray:
    unit = (hashes >> _U64(11)).astype(np.float64) * 2.0**-53  # hash / 2**64, exact, in [0, 1)
    return unit < fraction


def in_holdout(frame: pd.DataFrame, seed: int, holdout_fraction: float) -> np.ndarray:
    """The raw row-hash rule: a bool per row of ``frame``, ``row_hashes(frame, seed) / 2**64 < holdout_fraction``.

    This is ``split_holdout`` before its per-class guarantees (which move at most one row per
    class, and only in a class the rule left on one side; see ``holdout_mask``). Pass the
    columns the split was made on, in any order. Rows without a target may be included: they
    are never copies of a row with one, so they do not change the other rows' results.

    On the whole table it marks the rows the rule holds out. On a subset of a table (such as a
    later run's holdout) copies are numbered within the subset, so for each distinct row with
    ``a`` copies there it marks ``#{k < a: copy k held out}``, never more copies than the rule
    holds out in the whole table: conservative, in the multiset sense copies are counted in.
    """
    return _below(row_hashes(frame, seed), holdout_fraction)


def holdout_mask(frame: pd.DataFrame, target: str, task: str, holdout_fraction: float, seed: int) -> np.ndarray:
    """A bool per row of ``frame``: True for the rows ``split_holdout`` holds out.

    Rows without a target are False and in neither part (``split_holdout`` drops them); the
    training part is the rows with a target and False. See ``split_holdout`` for the rule.

    Raises:
        DataValidationError: fewer than 2 rows with a target, or (classification) no class
            with at least 2 rows.
    """
    labelled = frame[target].notna().to_numpy()
    if labelled.sum() < 2:
        raise DataValidationError(
            [f"<table>: {int(labelled.sum())} row(s) with a target; need at least 2 to hold some out"]
        )
    rows = np.flatnonzero(labelled)
    # Hashing every row and keeping the labelled ones equals hashing the labelled rows alone (a
    # row without a target is never a copy of one with a target), without copying the frame.
    hashes = row_hashes(frame, seed)[rows]
    chosen = _below(hashes, holdout_fraction)

    if task == "classification":
        codes, _ = pd.factorize(frame[target].iloc[rows])
        order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    else:
        groups = [np.arange(len(rows))]
    splittable = 0
    for members in groups:
        if len(members) < 2:
            chosen[members] = False  # a single-row class stays in training
            continue
        splittable += 1
        # A side left empty gets the row nearest the threshold: the training row with the lowest
        # hash, or the held-out row with the highest.
        if not chosen[members].any():
            chosen[members[np.argmin(hashes[members])]] = True
        elif chosen[members].all():
            chosen[members[np.argmax(hashes[members])]] = False
    if not splittable:
        raise DataValidationError(
            [f"column '{target}': every class has a single row; cannot hold rows out for evaluation"]
        )
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = chosen
    return mask


def split_holdout(
    frame: pd.DataFrame, target: str, task: str, holdout_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits ``frame`` into (train, holdout), row by row from ``row_hashes``.

    A row is held out when ``in_holdout`` says so: its hash (from its values, its copy number
    among identical rows and the seed) is below ``holdout_fraction * 2**64``. So whether a row
    is held out does not depend on the other, different rows: when a retrain uses the old rows
    plus new ones (same seed and fraction, any row order), the rows the champion trained on stay
    in training, its holdout rows stay held out, and the gate never scores the champion on rows
    it trained on. Identical rows count as a multiset: the first n copies of a row split as
    they did when the table had n copies, so duplicated and low-cardinality data still get
    about ``holdout_fraction`` held out, and a class made of one repeated row can be evaluated.
    (A copy in the holdout may have a twin in training, as in any random split of such data.)

    Classification is stratified in expectation: each class independently gets about
    ``holdout_fraction`` of its rows, and every class with at least 2 rows keeps at least one
    row on each side (when a side is empty, the class's training row with the lowest hash moves
    to the holdout, or its held-out row with the highest hash to training; only in such small
    classes can a row change sides as data grows). A single-row class stays in training. For
    regression both parts are non-empty the same way. Rows without a target are dropped; both
    parts keep the input's row order.

    Raises:
        DataValidationError: fewer than 2 rows with a target, or every class has a single row.
    """
    mask = holdout_mask(frame, target, task, holdout_fraction, seed)
    return _rows(frame, frame[target].notna().to_numpy() & ~mask), _rows(frame, mask)


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    part = frame[keep]  # a new frame: renumbering it in place spares reset_index's copy
    part.index = pd.RangeIndex(len(part))
    return part


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
            [
                f"column '{target}': {data[target].nunique()} class(es) among rows with a target; "
                "classification needs at least 2"
            ]
        )

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
