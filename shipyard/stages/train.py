"""Fits the challenger: one scikit-learn Pipeline (preprocessing + estimator) on the row-hash split.

The fitted Pipeline holds scikit-learn objects only, so KServe's scikit-learn server can
``joblib.load`` it without shipyard installed, and it accepts the ``pd.DataFrame(records)``
that server builds from a JSON request (missing values arrive as ``None``, not ``NaN``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module
from shipyard.config import ModelConfig, ShipyardConfig
from shipyard.errors import ConfigError, DataValidationError
from shipyard.estimators import ESTIMATOR_TABLE, ESTIMATORS, estimator_class
from shipyard.stages.columns import NUMERIC, column_kind, finite_mask, finite_or_none
from shipyard.vocabulary import TaskKind, check_task

if TYPE_CHECKING:  # scikit-learn is imported where it is used: importing shipyard stays cheap
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline
else:  # loaded on first use: register and the outcome read ModelFacts without them (shipyard/_lazy.py)
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: Value the categorical imputers put in place of NaN / None before one-hot encoding.
MISSING_CATEGORY = "missing"


@dataclass(frozen=True)
class ModelFacts:
    """What the gate and the registry need to know about a trained model, without loading it."""

    task: str
    target: str
    classes: tuple[Any, ...] | None  # JSON-friendly Python values, in the model's order (classification)
    feature_columns: tuple[str, ...]
    train_rows: int
    params: dict[str, Any]  # estimator, effective hyperparameters, seed, holdout_fraction, split
    framework: str = "scikit-learn"

    #: The artifact metadata key holding the exact JSON form (the UI's copies turn ints into floats).
    METADATA_KEY = "facts_json"

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "task": self.task,
            "target": self.target,
            "classes": None if self.classes is None else list(self.classes),
            "feature_columns": list(self.feature_columns),
            "train_rows": self.train_rows,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelFacts:
        classes = data.get("classes")
        return cls(
            task=check_task(data["task"]),
            target=str(data["target"]),
            classes=None if classes is None else tuple(classes),
            feature_columns=tuple(str(column) for column in data["feature_columns"]),
            train_rows=int(data["train_rows"]),
            params=dict(data["params"]),
            framework=str(data.get("framework", "scikit-learn")),
        )

    def to_metadata(self) -> dict[str, Any]:
        """Artifact metadata: each fact readable in the Kubeflow UI, plus the exact JSON form.

        ML Metadata rejects a null top-level value, so facts without one (the classes of a
        regression model) are left out of the readable copies.
        """
        readable = {key: value for key, value in self.to_dict().items() if value is not None}
        return {**readable, self.METADATA_KEY: json.dumps(self.to_dict())}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ModelFacts:
        return cls.from_dict(json.loads(metadata[cls.METADATA_KEY]))


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames field by field would raise
class TrainedModel:
    """A fitted challenger and what the later stages need to evaluate, test and register it."""

    pipeline: Any  # fitted sklearn.pipeline.Pipeline (preprocessing + estimator)
    task: str
    target: str
    feature_columns: tuple[str, ...]
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    classes: tuple[Any, ...] | None  # model.classes_ as JSON-friendly Python values (classification)
    train_rows: int
    holdout: pd.DataFrame  # held-out rows, features + target, never seen in fit
    params: dict[str, Any]  # as in ModelFacts
    train: pd.DataFrame | None = None  # the rows the model was fit on, features + target (the reference)

    @property
    def facts(self) -> ModelFacts:
        return ModelFacts(
            task=self.task,
            target=self.target,
            classes=self.classes,
            feature_columns=self.feature_columns,
            train_rows=self.train_rows,
            params=self.params,
        )


def build_estimator(model: ModelConfig, task: str, seed: int) -> Any:
    """The unfitted estimator for ``model.estimator`` and ``task``, with ``model.params`` applied.

    ``random_state`` is ``seed`` when the estimator has one; the table's defaults come next,
    ``model.params`` last.

    Raises:
        ConfigError: an unknown estimator, a parameter the estimator does not have,
            ``random_state`` set in params, or a value the estimator rejects.
    """
    check_task(task)
    spec = ESTIMATOR_TABLE.get(model.estimator)
    if spec is None:
        raise ConfigError(f"config key 'model.estimator' must be one of {list(ESTIMATORS)}, got {model.estimator!r}")
    cls = estimator_class(spec, task)
    estimator = cls()
    known = estimator.get_params(deep=False)
    defaults: dict[str, Any] = {"random_state": seed} if "random_state" in known else {}
    defaults.update(spec.default_params(task))

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
    if task == TaskKind.CLASSIFICATION and pd.api.types.is_float_dtype(values) and len(values):
        if bool(finite_mask(values).all()) and bool((values == values.round()).all()):
            return values.astype(np.int64)
    return values


def _json_value(value: Any) -> Any:
    """``value`` as something ``json.dumps`` accepts (numpy scalars unwrapped, objects as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and finite_or_none(value) is None:
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
    numeric: list[str] = []
    categorical: list[str] = []
    for column in features:
        (numeric if column_kind(frame[column].dtype) == NUMERIC else categorical).append(column)
    return numeric, categorical


def _as_category_text(values: pd.Series) -> pd.Series:
    """Object column of str with NaN for missing, the form KServe requests decode to.

    Booleans become ``"True"``/``"False"``, the text ingest reads true/false cells as.
    """
    text = values.astype(object)
    return text.map(str).where(text.notna(), np.nan)


def train_model(frame: pd.DataFrame, target: str, task: str, config: ShipyardConfig) -> TrainedModel:
    """Drops rows without a target, holds out ``config.holdout_fraction`` of the rest, fits the pipeline.

    Raises:
        DataValidationError: the target column is missing, too few rows have a target, or a
            classification target has a single class.
        ConfigError: an unknown estimator, parameter or parameter value.
    """
    task = check_task(task)
    if target not in frame.columns:
        raise DataValidationError([f"column '{target}': target column is missing from the data"])
    data = frame[frame[target].notna()].reset_index(drop=True)
    data[target] = clean_target(data[target], task)
    if task == TaskKind.REGRESSION and not pd.api.types.is_numeric_dtype(data[target]):
        raise DataValidationError([f"column '{target}': regression needs a numeric target, got {data[target].dtype}"])
    if task == TaskKind.CLASSIFICATION and data[target].nunique() < 2:
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

    from shipyard.stages.split import split_holdout  # numpy at import: only where data is split

    train, holdout = split_holdout(data, target, task, config.holdout_fraction, config.seed)
    pipeline = build_model_pipeline(numeric, categorical, task, config.model, config.seed)
    pipeline.fit(train[features], train[target])

    estimator = pipeline.named_steps["estimator"]
    classes = None
    if task == TaskKind.CLASSIFICATION:
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
        train=train,
    )
