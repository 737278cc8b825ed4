"""Typed, validated configuration for a training run.

Every default lives in ``shipyard/defaults/config.yaml``; a user's YAML is merged over it key by
key and the result is checked by pydantic models. Every error is a ConfigError naming the key.
Nothing here touches the file system or network at import time.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass as checked_dataclass

from shipyard.errors import ConfigError
from shipyard.estimators import ESTIMATORS
from shipyard.vocabulary import TaskKind

#: Direction of every metric the gate knows: True when higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}

_CLOSED = ConfigDict(extra="forbid", validate_default=True)


def default_config_text() -> str:
    """The built-in configuration as YAML text (shipped inside the package)."""
    return resources.files("shipyard").joinpath("defaults/config.yaml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return parse_yaml(default_config_text(), "the built-in config")


def _default(section: str, key: str) -> Callable[[], Any]:
    """A default factory reading ``section.key`` from the built-in config when first needed."""
    return lambda: copy.deepcopy(_defaults()[section][key])


class _Invalid(ValueError):
    """A value a validator rejects; ``text`` follows ``config key 'KEY'``, ``subkey`` extends KEY."""

    def __init__(self, text: str, subkey: str = ""):
        super().__init__(text)
        self.text, self.subkey = text, subkey


def _checked_number(value: Any, low: float | None, high: float | None, integer: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f" must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _Invalid(f" must be a finite number, got {value!r}")
    if integer and int(value) != value:
        raise _Invalid(f" must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _Invalid(f" must be {bounds}, got {value!r}")
    return int(value) if integer else float(value)


def _number(*, low: float | None = None, high: float | None = None, integer: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda value: _checked_number(value, low, high, integer))


def _optional_number(*, low: float | None = None, high: float | None = None) -> BeforeValidator:
    """A number, or null for "not set"."""
    return BeforeValidator(lambda value: None if value is None else _checked_number(value, low, high, False))


def _one_of(choices: Mapping[str, Any] | tuple[str, ...], *, sort: bool) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value not in choices:
            raise _Invalid(f" must be one of {sorted(choices) if sort else list(choices)}, got {value!r}")
        return value

    return BeforeValidator(check)


def _params(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Invalid(" must be a mapping of estimator parameters")
    return dict(value)


def _section(value: Any) -> Any:
    """A section set to null keeps its defaults (as if it were left out)."""
    return {} if value is None else value


Fraction = Annotated[float, _number(low=0, high=1)]

#: ``validation.leakage``: report a feature that gives the target away as a warning, a problem, or not at all.
LEAKAGE_MODES = ("warn", "block", "off")


@checked_dataclass(frozen=True, config=_CLOSED)
class ModelConfig:
    estimator: Annotated[str, _one_of(ESTIMATORS, sort=False)] = field(default_factory=_default("model", "estimator"))
    params: Annotated[dict[str, Any], BeforeValidator(_params)] = field(default_factory=_default("model", "params"))


@checked_dataclass(frozen=True, config=_CLOSED)
class ValidationSettings:
    min_rows: Annotated[int, _number(low=2, integer=True)] = field(default_factory=_default("validation", "min_rows"))
    # Growth or change, see the rule in shipyard/stages/validate.py.
    max_unseen_category_fraction: Fraction = field(
        default_factory=_default("validation", "max_unseen_category_fraction")
    )
    max_out_of_range_fraction: Fraction = field(default_factory=_default("validation", "max_out_of_range_fraction"))
    max_range_extension: Annotated[float, _number(low=0)] = field(
        default_factory=_default("validation", "max_range_extension")
    )
    max_far_out_of_range_fraction: Fraction = field(
        default_factory=_default("validation", "max_far_out_of_range_fraction")
    )
    max_missing_fraction_increase: Fraction = field(
        default_factory=_default("validation", "max_missing_fraction_increase")
    )
    # Leakage checks, see shipyard/stages/leakage.py: warn (a warning), block (a problem) or off.
    leakage: Annotated[str, _one_of(LEAKAGE_MODES, sort=False)] = field(
        default_factory=_default("validation", "leakage")
    )
    leakage_min_score: Fraction = field(default_factory=_default("validation", "leakage_min_score"))


@checked_dataclass(frozen=True, config=_CLOSED)
class SmokeTestSettings:
    """How the smoke test queries the served version; the latency rule is in shipyard/stages/smoke.py."""

    rows: Annotated[int, _number(low=1, integer=True)] = field(default_factory=_default("smoke_test", "rows"))
    warmup_requests: Annotated[int, _number(low=1, integer=True)] = field(
        default_factory=_default("smoke_test", "warmup_requests")
    )
    timed_requests: Annotated[int, _number(low=1, integer=True)] = field(
        default_factory=_default("smoke_test", "timed_requests")
    )
    max_ms_per_row: Annotated[float, _number(low=0)] = field(default_factory=_default("smoke_test", "max_ms_per_row"))
    request_overhead_ms: Annotated[float, _number(low=0)] = field(
        default_factory=_default("smoke_test", "request_overhead_ms")
    )
    max_latency_ms: Annotated[float | None, _optional_number(low=0)] = field(
        default_factory=_default("smoke_test", "max_latency_ms")
    )
    server_start_timeout_s: Annotated[float, _number(low=1)] = field(
        default_factory=_default("smoke_test", "server_start_timeout_s")
    )


#: Where deploy_staging / promote_production deliver: registry aliases only, or KServe too.
DEPLOY_TARGETS = ("registry", "kserve")
_K8S_NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


def _k8s_name(max_length: int) -> BeforeValidator:
    """A Kubernetes object name (RFC 1123 label) of at most ``max_length`` characters."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > max_length or not re.fullmatch(_K8S_NAME, value):
            raise _Invalid(
                f" must be a Kubernetes name (lower-case letters, digits and '-', at most {max_length}), got {value!r}"
            )
        return value

    return BeforeValidator(check)


@checked_dataclass(frozen=True, config=_CLOSED)
class DeploySettings:
    """Where a delivered version goes; see the ``deploy:`` section of the built-in config."""

    target: Annotated[str, _one_of(DEPLOY_TARGETS, sort=False)] = field(default_factory=_default("deploy", "target"))
    namespace: Annotated[str, _k8s_name(63)] = field(default_factory=_default("deploy", "namespace"))
    # KServe derives host names from these, so they stay well below the 63-character label limit.
    staging_inferenceservice: Annotated[str, _k8s_name(45)] = field(
        default_factory=_default("deploy", "staging_inferenceservice")
    )
    production_inferenceservice: Annotated[str, _k8s_name(45)] = field(
        default_factory=_default("deploy", "production_inferenceservice")
    )
    ready_timeout_seconds: Annotated[float, _number(low=1)] = field(
        default_factory=_default("deploy", "ready_timeout_seconds")
    )


def _column_names(value: Any) -> tuple[str, ...]:
    """A list of column names (null: none)."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _Invalid(f" must be a list of column names, got {value!r}")
    for name in value:
        if not isinstance(name, str) or not name:
            raise _Invalid(f" must be a list of column names, got {name!r} in it")
    return tuple(dict.fromkeys(value))


ColumnNames = Annotated[tuple[str, ...], BeforeValidator(_column_names)]


@checked_dataclass(frozen=True, config=_CLOSED)
class TrafficSettings:
    """What ``shipyard serve`` logs of the traffic it answers (shipyard/serving/traffic_log.py)."""

    enabled: bool = field(default_factory=_default("traffic", "enabled"))
    exclude_columns: ColumnNames = field(default_factory=_default("traffic", "exclude_columns"))
    hash_columns: ColumnNames = field(default_factory=_default("traffic", "hash_columns"))
    batch_rows: Annotated[int, _number(low=1, integer=True)] = field(default_factory=_default("traffic", "batch_rows"))
    flush_seconds: Annotated[float, _number(low=0.01)] = field(default_factory=_default("traffic", "flush_seconds"))
    buffer_rows: Annotated[int, _number(low=1, integer=True)] = field(
        default_factory=_default("traffic", "buffer_rows")
    )
    stop_flush_seconds: Annotated[float, _number(low=0)] = field(
        default_factory=_default("traffic", "stop_flush_seconds")
    )

    def __post_init__(self) -> None:
        from shipyard.store.traffic import META_COLUMNS

        for key, names in (("exclude_columns", self.exclude_columns), ("hash_columns", self.hash_columns)):
            reserved = [name for name in names if name in META_COLUMNS]
            if reserved:
                raise ConfigError(
                    f"config key 'traffic.{key}': {reserved} are the columns the server adds to every logged row "
                    f"({', '.join(META_COLUMNS)}), not features; list feature columns only"
                )
        both = sorted(set(self.exclude_columns) & set(self.hash_columns))
        if both:
            raise ConfigError(
                f"config key 'traffic.hash_columns': {both} also in traffic.exclude_columns; "
                "a column is either left out or hashed"
            )
        if self.buffer_rows < self.batch_rows:
            raise ConfigError(
                f"config key 'traffic.buffer_rows' ({self.buffer_rows}) must be at least "
                f"traffic.batch_rows ({self.batch_rows}): a full batch must fit in the buffer"
            )


def _segment_values(value: Any) -> tuple[str, ...]:
    """Segment values as the text a table holds them in (``allow: [1, eu]`` is ``("1", "eu")``)."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _Invalid(f" must be a list of segment values, got {value!r}")
    if not value:
        return ()
    from shipyard.stages.segments import segment_label

    labels = []
    for item in value:
        label = None if isinstance(item, (bool, list, dict)) else segment_label(item)
        if label is None:
            raise _Invalid(f" must be a list of segment values (text or numbers), got {item!r} in it")
        labels.append(label)
    return tuple(dict.fromkeys(labels))


@checked_dataclass(frozen=True, config=_CLOSED)
class SegmentSettings:
    """One model per value of a column (``shipyard run training --segment-by``; shipyard/stages/segments.py)."""

    column: str | None = field(default_factory=_default("segments", "column"))
    min_rows: Annotated[int, _number(low=2, integer=True)] = field(default_factory=_default("segments", "min_rows"))
    allow: Annotated[tuple[str, ...], BeforeValidator(_segment_values)] = field(
        default_factory=_default("segments", "allow")
    )
    parallelism: Annotated[int, _number(low=1, high=64, integer=True)] = field(
        default_factory=_default("segments", "parallelism")
    )

    def __post_init__(self) -> None:
        if self.column is not None and not str(self.column).strip():
            raise ConfigError("config key 'segments.column' is empty: name a column, or null for one model")


def _default_at(*keys: str) -> Callable[[], Any]:
    """A default factory reading a nested key (``monitoring.decay.max_drop``) from the built-in config."""

    def read() -> Any:
        value: Any = _defaults()
        for key in keys:
            value = value[key]
        return copy.deepcopy(value)

    return read


def _drift_methods(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Invalid(" must be a mapping of column kind (numeric, categorical) to a method name")
    return {str(kind): method for kind, method in value.items() if method is not None}


def _drift_thresholds(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Invalid(" must be a mapping of column kind (numeric, categorical) to a number")
    out = {}
    for kind, threshold in value.items():
        if threshold is None:
            continue
        try:
            out[str(kind)] = float(_checked_number(threshold, 0, None, False))
        except _Invalid as exc:
            raise _Invalid(exc.text, subkey=str(kind)) from None
    return out


@checked_dataclass(frozen=True, config=_CLOSED)
class DecaySettings:
    max_drop: Annotated[float, _number(low=0)] = field(default_factory=_default_at("monitoring", "decay", "max_drop"))


#: Where a retrain's rows come from: production's training data plus the new rows, or the new rows alone.
RETRAIN_DATA = ("accumulate", "current")


@checked_dataclass(frozen=True, config=_CLOSED)
class RetrainSettings:
    enabled: bool = field(default_factory=_default_at("monitoring", "retrain", "enabled"))
    data: Annotated[str, _one_of(RETRAIN_DATA, sort=False)] = field(
        default_factory=_default_at("monitoring", "retrain", "data")
    )


@checked_dataclass(frozen=True, config=_CLOSED)
class MonitoringSettings:
    reference_max_rows: Annotated[int, _number(low=100, integer=True)] = field(
        default_factory=_default("monitoring", "reference_max_rows")
    )
    drift_share: Annotated[float, _number(low=0, high=1)] = field(default_factory=_default("monitoring", "drift_share"))
    methods: Annotated[dict[str, str], BeforeValidator(_drift_methods)] = field(
        default_factory=_default("monitoring", "methods")
    )
    thresholds: Annotated[dict[str, float], BeforeValidator(_drift_thresholds)] = field(
        default_factory=_default("monitoring", "thresholds")
    )
    decay: Annotated[DecaySettings, BeforeValidator(_section)] = field(default_factory=_default("monitoring", "decay"))
    retrain: Annotated[RetrainSettings, BeforeValidator(_section)] = field(
        default_factory=_default("monitoring", "retrain")
    )

    def __post_init__(self) -> None:
        self.drift_settings()  # an unknown kind or method, or a method for the wrong kind, fails here

    def drift_settings(self) -> Any:
        """The drift stage's settings (:class:`shipyard.stages.drift.DriftSettings`).

        Raises:
            ConfigError: naming the ``monitoring`` key.
        """
        from shipyard.stages.drift import DriftSettings  # numpy and scipy: imported when monitoring

        try:
            return DriftSettings(drift_share=self.drift_share, methods=self.methods, thresholds=self.thresholds)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("drift.", "config key monitoring.", 1)) from None


@checked_dataclass(frozen=True)
class Threshold:
    metric: str
    min: float | None = None
    max: float | None = None


@checked_dataclass(frozen=True)
class TaskGate:
    primary_metric: str
    thresholds: tuple[Threshold, ...]


@checked_dataclass(frozen=True)
class GateConfig:
    margin: float
    classification: TaskGate | None
    regression: TaskGate | None

    def for_task(self, task: str) -> TaskGate | None:
        return self.classification if task == TaskKind.CLASSIFICATION.value else self.regression


@dataclass(frozen=True)
class ShipyardConfig:
    seed: int
    holdout_fraction: float
    model: ModelConfig
    validation: ValidationSettings
    gate: GateConfig | None  # None: no thresholds configured, so nothing is blessed
    smoke_test: SmokeTestSettings
    monitoring: MonitoringSettings
    deploy: DeploySettings
    traffic: TrafficSettings
    segments: SegmentSettings
    raw: Mapping[str, Any]  # the merged mapping, recorded as the run's parameters


def _thresholds(value: Any) -> tuple[Threshold, ...]:
    """``{metric: {min: X, max: Y}}`` as Thresholds; a metric set to null is dropped."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise _Invalid(" must be a mapping of metric: {min: X} and/or {max: Y}")
    thresholds = []
    for metric, bounds in value.items():
        if bounds is None:
            continue
        if metric not in HIGHER_IS_BETTER:
            raise _Invalid(f": unknown metric; known: {sorted(HIGHER_IS_BETTER)}", subkey=str(metric))
        if not isinstance(bounds, Mapping) or not bounds or not set(bounds) <= {"min", "max"}:
            raise _Invalid(" must be {min: X} and/or {max: Y}", subkey=str(metric))
        limits: dict[str, float | None] = {}
        for side in ("min", "max"):
            try:
                limits[side] = None if bounds.get(side) is None else _checked_number(bounds[side], None, None, False)
            except _Invalid as exc:
                raise _Invalid(exc.text, subkey=f"{metric}.{side}") from None
        thresholds.append(Threshold(metric=str(metric), **limits))
    return tuple(thresholds)


class _TaskGateSection(BaseModel):
    model_config = _CLOSED

    primary_metric: Annotated[str, _one_of(HIGHER_IS_BETTER, sort=True)]
    thresholds: Annotated[tuple[Threshold, ...], BeforeValidator(_thresholds)] = ()

    def task_gate(self) -> TaskGate | None:
        # Comparing with the champion alone would bless any first model, however bad: no
        # absolute thresholds means no gate for this task, and nothing is blessed (fail closed).
        return TaskGate(self.primary_metric, self.thresholds) if self.thresholds else None


class _GateSection(BaseModel):
    model_config = _CLOSED

    margin: Annotated[float, _number(low=0)]
    classification: _TaskGateSection | None = None
    regression: _TaskGateSection | None = None

    def gate(self) -> GateConfig | None:
        classification = None if self.classification is None else self.classification.task_gate()
        regression = None if self.regression is None else self.regression.task_gate()
        if classification is None and regression is None:
            return None
        return GateConfig(margin=self.margin, classification=classification, regression=regression)


class _ConfigFile(BaseModel):
    """The merged YAML, key by key; ``gate: null`` (or an empty gate) means no gate."""

    model_config = _CLOSED

    seed: Annotated[int, _number(low=0, integer=True)]
    holdout_fraction: Annotated[float, _number(low=0.05, high=0.5)]
    model: Annotated[ModelConfig, BeforeValidator(_section)]
    validation: Annotated[ValidationSettings, BeforeValidator(_section)]
    gate: Annotated[_GateSection | None, BeforeValidator(lambda value: value or None)]
    smoke_test: Annotated[SmokeTestSettings, BeforeValidator(_section)]
    monitoring: Annotated[MonitoringSettings, BeforeValidator(_section)]
    deploy: Annotated[DeploySettings, BeforeValidator(_section)]
    traffic: Annotated[TrafficSettings, BeforeValidator(_section)]
    segments: Annotated[SegmentSettings, BeforeValidator(_section)]


def merge_yaml(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` key by key (nested mappings merged, everything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge_yaml(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_yaml(text: str, what: str) -> dict[str, Any]:
    """``text`` as a YAML mapping (empty: {}); ConfigError naming ``what`` otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a YAML mapping, got {type(data).__name__}")
    return data


_SECTIONS: dict[str, type[Any]] = {
    "": _ConfigFile,
    "model": ModelConfig,
    "validation": ValidationSettings,
    "smoke_test": SmokeTestSettings,
    "gate": _GateSection,
    "gate.classification": _TaskGateSection,
    "gate.regression": _TaskGateSection,
    "monitoring": MonitoringSettings,
    "monitoring.decay": DecaySettings,
    "monitoring.retrain": RetrainSettings,
    "deploy": DeploySettings,
    "traffic": TrafficSettings,
    "segments": SegmentSettings,
}


def _key(location: tuple[int | str, ...]) -> str:
    """The dotted config key of a pydantic error location (dropping pydantic's own path steps)."""
    steps = [str(step) for step in location if not (isinstance(step, str) and "[" in step)]
    return ".".join(step for step in steps if step not in ("function-before", "function-after"))


def _config_error(error: ValidationError) -> ConfigError:
    """One ConfigError naming every offending key, in the wording the rest of shipyard uses."""
    messages: list[str] = []
    unknown: dict[str, list[str]] = {}
    for problem in error.errors():
        key = _key(problem["loc"])
        cause = (problem.get("ctx") or {}).get("error")
        if problem["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            section, _, _ = key.rpartition(".")
            unknown.setdefault(section, []).append(key)
        elif isinstance(cause, _Invalid):
            messages.append(f"config key '{'.'.join(filter(None, [key, cause.subkey]))}'{cause.text}")
        elif problem["type"] in ("model_type", "dataclass_type", "dict_type", "model_attributes_type"):
            messages.append(f"config key '{key}' must be a mapping")
        elif problem["type"] == "missing":
            messages.append(f"config key '{key}' is required")
        else:
            messages.append(f"config key '{key}': {problem['msg']}")
    for section, keys in unknown.items():
        prefix = f"{section}." if section else ""
        known = sorted(prefix + name for name in _field_names(_SECTIONS.get(section)))
        messages.insert(0, f"unknown config key(s) {sorted(keys)}; known keys: {known}")
    return ConfigError("; ".join(dict.fromkeys(messages)))


def _field_names(section: type[Any] | None) -> list[str]:
    if section is None:
        return []
    if isinstance(section, type) and issubclass(section, BaseModel):
        return list(section.model_fields)
    return list(getattr(section, "__dataclass_fields__", {}))


def load_config(text: str | None = None) -> ShipyardConfig:
    """Parses a user's YAML (or nothing) merged over the built-in defaults.

    Raises:
        ConfigError: the YAML is unreadable or a key has a wrong value; the message names the key.
    """
    merged = merge_yaml(_defaults(), parse_yaml(text or "", "the config"))
    try:
        parsed = _ConfigFile.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc) from None
    return ShipyardConfig(
        seed=parsed.seed,
        holdout_fraction=parsed.holdout_fraction,
        model=parsed.model,
        validation=parsed.validation,
        gate=None if parsed.gate is None else parsed.gate.gate(),
        smoke_test=parsed.smoke_test,
        monitoring=parsed.monitoring,
        deploy=parsed.deploy,
        traffic=parsed.traffic,
        segments=parsed.segments,
        raw=merged,
    )
