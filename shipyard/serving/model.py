"""One registry model, served by KServe's model server and following an alias.

``RegistryModel`` loads the version an alias points at (sha256-verified by the registry before
anything is unpickled), decodes V1 and Open Inference Protocol V2 requests into one DataFrame with
the model's feature columns, and keeps polling the alias: after a promote or rollback it loads the
new version completely, then swaps it in with one assignment, so no request ever sees a half-loaded
model. A version that fails to load (hash mismatch, store down) is logged and the old one keeps serving.
With a :class:`~shipyard.serving.traffic_log.TrafficLogger`, every answered request is handed to it
(features as the model saw them, the version that answered, predictions); logging never fails a request.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import IntegrityError, ShipyardError
from shipyard.serving._kserve import InvalidInput, ModelNotReady, kserve
from shipyard.serving.client import CLASSES_PARAMETER, PREDICTIONS_OUTPUT, PROBABILITIES_OUTPUT
from shipyard.store.registry import ModelRegistry, ModelVersion
from shipyard.vocabulary import TaskKind

if TYPE_CHECKING:
    from shipyard.serving.traffic_log import TrafficLogger

log = logging.getLogger("shipyard.serving")


class ModelLoadError(ShipyardError):
    """A version could not be loaded; the message names the model, version and cause."""


@dataclass(frozen=True, eq=False)  # eq=False: the pipeline is not comparable
class ServedVersion:
    """A loaded registry version and what decoding requests for it needs."""

    name: str
    version: int
    sha256: str
    pipeline: Any  # the unpickled scikit-learn estimator or Pipeline
    feature_columns: tuple[str, ...] | None  # None: the version does not say; requests pass through as sent
    categorical_columns: frozenset[str] | None  # None: not found in the pipeline; values are sent on as they came
    task: str
    classes: tuple[Any, ...] | None  # column order of predict_proba; None without predict_proba


def _categorical_columns(pipeline: Any) -> frozenset[str] | None:
    """Columns a fitted ColumnTransformer routes to its ``categorical`` branch (see stages.train).

    None when the model has no such transformer (not a shipyard pipeline): types are then unknown.
    """
    steps = getattr(pipeline, "steps", None) or [("", pipeline)]
    for _, step in steps:
        branches = getattr(step, "transformers_", None)
        if branches is None:
            continue
        for branch, _transformer, columns in branches:
            if branch == "categorical" and isinstance(columns, (list, tuple)):
                return frozenset(str(c) for c in columns)
        return frozenset()
    return None


def _json_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_version(registry: ModelRegistry, name: str, entry: ModelVersion) -> ServedVersion:
    """Downloads ``entry`` (the registry checks its sha256) into a temp dir and unpickles it.

    Raises:
        ModelLoadError: the file is missing, its hash does not match, the store is unreachable or
            the pickle does not load.
    """
    import joblib  # with scikit-learn, loaded by the first model

    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-serve-") as tmp:
            path = registry.download_model(name, entry.version, tmp)
            pipeline = joblib.load(path)
    except IntegrityError as exc:  # its message already names the model, the version and the mismatch
        raise ModelLoadError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any failure means this version cannot be served
        raise ModelLoadError(f"model '{name}' version {entry.version}: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(pipeline, "predict", None)):
        raise ModelLoadError(f"model '{name}' version {entry.version}: {type(pipeline).__name__} has no predict()")

    lineage = entry.lineage or {}
    listed = lineage.get("feature_columns") or getattr(pipeline, "feature_names_in_", None)
    features = tuple(str(c) for c in listed) if listed is not None and len(listed) else None
    task = lineage.get("task")
    if task not in (TaskKind.CLASSIFICATION.value, TaskKind.REGRESSION.value):
        from sklearn.base import is_classifier

        try:
            classifier = is_classifier(pipeline)
        except Exception:  # noqa: BLE001 - not a scikit-learn estimator (no tags): judge by its methods
            classifier = callable(getattr(pipeline, "predict_proba", None))
        task = TaskKind.CLASSIFICATION.value if classifier else TaskKind.REGRESSION.value
    classes = None
    if task == TaskKind.CLASSIFICATION.value and callable(getattr(pipeline, "predict_proba", None)):
        known = getattr(pipeline, "classes_", None)
        classes = tuple(_json_scalar(c) for c in known) if known is not None else None
    return ServedVersion(
        name=name,
        version=entry.version,
        sha256=entry.sha256,
        pipeline=pipeline,
        feature_columns=features,
        categorical_columns=_categorical_columns(pipeline),
        task=str(task),
        classes=classes,
    )


# -- requests ---------------------------------------------------------------------------------


def _flat(values: Any, column: str) -> list[Any]:
    """A V2 input's data as one value per row: ``[1, 2]`` or ``[[1], [2]]`` (shape [n] or [n, 1])."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list):
        raise InvalidInput(f"input '{column}': data must be a list, got {type(values).__name__}")
    flat = []
    for value in values:
        if isinstance(value, list):
            if len(value) != 1:
                raise InvalidInput(
                    f"input '{column}': one input per column with shape [rows] or [rows, 1]; "
                    f"got a row of {len(value)} values"
                )
            value = value[0]
        flat.append(value.decode("utf-8") if isinstance(value, bytes) else value)
    return flat


def frame_from_v2(request: Any) -> pd.DataFrame:
    """One column per V2 input, named after it, as ``parameters.content_type: "pd"`` means.

    Decoded here rather than with ``InferRequest.as_dataframe()``: that concatenates inputs of
    different lengths into NaN-padded rows without complaint, and cannot say which input is wrong.
    """
    columns: dict[str, list[Any]] = {}
    for infer_input in request.inputs:
        name = str(infer_input.name)
        if name in columns:
            raise InvalidInput(f"input '{name}' appears twice; send one input per column")
        columns[name] = _flat(infer_input.data, name)
    if not columns:
        raise InvalidInput("the request has no inputs; send one input per feature column")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"inputs have different numbers of rows: {lengths}; every column needs one value per row")
    return pd.DataFrame(columns)


def frame_from_v1(payload: Mapping[str, Any], feature_columns: Sequence[str] | None) -> pd.DataFrame:
    """``{"instances": [...]}`` (or ``{"inputs": [...]}``) as rows: records, or lists in feature order.

    A key absent from one record is a missing value in that row; a column absent from every
    record is a missing column (see ``conform``).
    """
    key = "instances" if "instances" in payload else "inputs" if "inputs" in payload else None
    if key is None:
        raise InvalidInput('a V1 request is {"instances": [{"column": value, ...}, ...]}')
    rows = payload[key]
    if not isinstance(rows, list) or not rows:
        raise InvalidInput(f'"{key}" must be a non-empty list of rows')
    if all(isinstance(row, Mapping) for row in rows):
        return pd.DataFrame.from_records(rows)
    if all(isinstance(row, list) for row in rows):
        if feature_columns is None:
            raise InvalidInput("rows as lists need the model's feature columns, which this version does not record")
        width = len(feature_columns)
        wrong = next((i for i, row in enumerate(rows) if len(row) != width), None)
        if wrong is not None:
            raise InvalidInput(
                f"row {wrong} has {len(rows[wrong])} values; the model has {width} feature columns "
                f"{list(feature_columns)} (or send records: {{column: value}})"
            )
        return pd.DataFrame(rows, columns=list(feature_columns))
    raise InvalidInput(f'each of "{key}" must be a record {{"column": value, ...}} (or a list in feature order)')


def _json_body(body: bytes | str) -> Any:
    """A V1 body sent without ``Content-Type: application/json`` (kserve passes those on as bytes)."""
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidInput("the request body is not JSON; send JSON with Content-Type: application/json") from None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def conform(frame: pd.DataFrame, served: ServedVersion) -> pd.DataFrame:
    """``frame`` with exactly the model's feature columns in training order.

    Missing values become NaN, categorical values text (as in training), numeric columns float;
    when the pipeline's column types are unknown, values keep the types they were sent with.

    Raises:
        InvalidInput: a feature column is missing, a column is unknown, or a numeric column holds text.
    """
    features = served.feature_columns
    if features is None:
        return frame
    sent = [str(c) for c in frame.columns]
    missing = [c for c in features if c not in sent]
    if missing:
        raise InvalidInput(
            f"missing feature column(s) {missing}; model '{served.name}' v{served.version} needs {list(features)} "
            "(send null for an unknown value)"
        )
    unknown = [c for c in sent if c not in features]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {unknown}; model '{served.name}' v{served.version} takes {list(features)}"
        )
    columns: dict[str, pd.Series] = {}
    for column in features:
        values = frame[column].astype(object)
        missing_mask = values.map(_is_missing).astype(bool)
        if served.categorical_columns is None:
            columns[column] = values.where(~missing_mask, np.nan)
            continue
        if column in served.categorical_columns:
            columns[column] = values.map(str).where(~missing_mask, np.nan)
            continue
        as_numbers = pd.to_numeric(values.where(~missing_mask, np.nan), errors="coerce").astype(float)
        bad = values[as_numbers.isna() & ~missing_mask]
        if len(bad):
            raise InvalidInput(f"column '{column}': expected numbers, got {bad.iloc[0]!r} (row {bad.index[0]})")
        columns[column] = as_numbers
    return pd.DataFrame(columns, index=range(len(frame)))


# -- responses --------------------------------------------------------------------------------


def _v2_output(name: str, values: np.ndarray) -> Any:
    """A V2 output from a 1-D or 2-D array: BYTES for text labels, BOOL/INT64/FP64 for numbers."""
    if values.dtype.kind in "OUS":
        datatype, data = "BYTES", np.array([str(v) for v in values.ravel()], dtype=object).reshape(values.shape)
    elif values.dtype.kind == "b":
        datatype, data = "BOOL", values
    elif values.dtype.kind in "iu":
        datatype, data = "INT64", values.astype(np.int64)
    else:
        datatype, data = "FP64", values.astype(np.float64)
    output = kserve.InferOutput(name=name, shape=list(values.shape), datatype=datatype)
    output.set_data_from_numpy(data, binary_data=False)
    return output


# -- the served model -------------------------------------------------------------------------


class RegistryModel(kserve.Model):  # type: ignore[misc]  # kserve ships no type information
    """The version ``alias`` of registry model ``name``, kept current by polling the alias.

    Args:
        poll_interval: seconds between alias checks once the first version is loaded.
        version: serve this version and never follow ``alias`` (the smoke test pins the version
            under test this way).
        traffic: where answered requests are logged (None: not logged). Requests are identified by
            the V2 ``id``, the V1 ``"id"`` or the ``x-request-id`` header, else a generated id; the
            response carries it (V2 ``id``; V1 ``"id"`` beside ``"predictions"``).
    """

    def __init__(
        self,
        name: str,
        registry: ModelRegistry,
        alias: str,
        poll_interval: float = 2.0,
        *,
        version: int | None = None,
        traffic: TrafficLogger | None = None,
    ) -> None:
        super().__init__(name)
        self.traffic = traffic
        self.registry = registry
        self.alias = alias
        self.pinned = version
        self.poll_interval = poll_interval
        self._served: ServedVersion | None = None
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._last_problem: str | None = None

    @property
    def served(self) -> ServedVersion | None:
        """The version answering requests right now (one atomic read)."""
        return self._served

    def _resolve(self) -> ModelVersion:
        if self.pinned is not None:
            return self.registry.get_version(self.name, self.pinned)
        entry = self.registry.resolve_alias(self.name, self.alias)
        if entry is None:
            raise ModelLoadError(f"model '{self.name}' has no alias '{self.alias}' (it points nowhere)")
        return entry

    def load(self) -> bool:
        """Loads the version the alias points at; ready once it is in memory.

        Raises:
            ModelLoadError: the alias points nowhere or the version cannot be loaded.
        """
        try:
            entry = self._resolve()
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - the store is down or unreadable
            what = f"version {self.pinned}" if self.pinned is not None else f"alias '{self.alias}'"
            raise ModelLoadError(f"model '{self.name}': cannot read {what}: {exc}") from exc
        self._served = load_version(self.registry, self.name, entry)
        self.ready = True
        source = "pinned" if self.pinned is not None else f"alias {self.alias}"
        log.info("model '%s' v%d loaded (%s, sha256 %s)", self.name, entry.version, source, entry.sha256)
        return True

    def models(self) -> list[kserve.Model]:
        """What the model server's repository holds for this model: itself."""
        return [self]

    # -- alias following ---------------------------------------------------------------------

    def _report(self, problem: str) -> None:
        """Logs a problem once until it changes, so a store outage does not flood the log."""
        if problem != self._last_problem:
            log.error("%s", problem)
            self._last_problem = problem

    def check_alias(self) -> bool:
        """One poll: if the alias moved, load the new version and swap it in. True if it swapped.

        A pinned version never swaps.
        """
        if self.pinned is not None:
            return False
        current = self._served
        try:
            entry = self.registry.resolve_alias(self.name, self.alias)
        except Exception as exc:  # noqa: BLE001 - keep serving through a store outage
            kept = f"; still serving v{current.version}" if current else ""
            self._report(f"cannot read alias '{self.alias}' of model '{self.name}': {exc}{kept}")
            return False
        if entry is None:
            kept = f"; still serving v{current.version}" if current else ""
            self._report(f"alias '{self.alias}' of model '{self.name}' points nowhere{kept}")
            return False
        if current is not None and entry.version == current.version and entry.sha256 == current.sha256:
            self._last_problem = None
            return False
        try:
            loaded = load_version(self.registry, self.name, entry)
        except ModelLoadError as exc:
            kept = f"; still serving v{current.version}" if current else ""
            self._report(f"cannot load {exc}{kept}")
            return False
        self._served = loaded  # the swap: requests read self._served once each
        self.ready = True
        self._last_problem = None
        was = f"v{current.version}" if current else "nothing"
        log.info("alias '%s' moved: model '%s' now serves v%d (was %s)", self.alias, self.name, entry.version, was)
        return True

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.check_alias()
            except Exception:  # a bug here must not end alias following silently
                log.exception("alias check of model '%s' failed", self.name)

    def start_following(self) -> None:
        """Starts the background thread that polls the alias every ``poll_interval`` seconds (not when pinned)."""
        if self._follower is None and self.pinned is None:
            self._follower = threading.Thread(target=self._follow, name=f"follow-{self.alias}", daemon=True)
            self._follower.start()

    def stop(self) -> None:
        """kserve calls this on unload; also stops alias following and writes the traffic log's last rows."""
        self._stop.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(timeout=self.poll_interval + 5)
        if self.traffic is not None:
            self.traffic.close()
        super().stop()

    # -- inference ---------------------------------------------------------------------------

    def get_input_types(self) -> list[dict[str, Any]]:
        served = self._served
        if served is None or served.feature_columns is None:
            return []
        categorical = served.categorical_columns
        return [
            {
                "name": c,
                "datatype": "BYTES" if categorical is None or c in categorical else "FP64",
                "shape": [-1],
            }
            for c in served.feature_columns
        ]

    def get_output_types(self) -> list[dict[str, Any]]:
        served = self._served
        outputs: list[dict[str, Any]] = [{"name": PREDICTIONS_OUTPUT, "datatype": "BYTES", "shape": [-1]}]
        if served is not None and served.task == TaskKind.REGRESSION.value:
            outputs[0]["datatype"] = "FP64"
        if served is not None and served.classes is not None:
            outputs.append({"name": PROBABILITIES_OUTPUT, "datatype": "FP64", "shape": [-1, len(served.classes)]})
        return outputs

    def predict(
        self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> Any:
        """V1 dict in, ``{"predictions": [...]}`` out; V2 InferRequest in, InferResponse out."""
        served = self._served  # one version answers the whole request, even if a swap happens meanwhile
        if served is None:
            raise ModelNotReady(self.name)
        if isinstance(payload, (bytes, str)):
            payload = _json_body(payload)
        if isinstance(payload, kserve.InferRequest):
            frame = conform(frame_from_v2(payload), served)
        elif isinstance(payload, Mapping):
            frame = conform(frame_from_v1(payload, served.feature_columns), served)
        else:
            raise InvalidInput(f"unsupported request body ({type(payload).__name__}); send JSON")
        request_id = _request_id(payload, headers)
        predictions = np.asarray(served.pipeline.predict(frame))
        if not isinstance(payload, kserve.InferRequest):
            self.record_traffic(frame, served, request_id, predictions, None)
            return {"predictions": [_json_scalar(v) for v in predictions.tolist()], "id": request_id}

        proba = _probabilities(served.pipeline, frame) if served.classes is not None else None
        self.record_traffic(frame, served, request_id, predictions, proba)
        return kserve.InferResponse(
            response_id=request_id,
            model_name=self.name,
            model_version=str(served.version),
            infer_outputs=v2_outputs(predictions, proba, served.classes),
            requested_outputs=payload.request_outputs,
        )

    def record_traffic(
        self,
        frame: pd.DataFrame,
        served: ServedVersion,
        request_id: str,
        predictions: np.ndarray,
        proba: Any,
        request_rows: Sequence[int] | None = None,
    ) -> None:
        """Hands the answered rows to the traffic log, if there is one; a failure is counted, never raised.

        ``request_rows``: the rows' positions in the request, when they are part of one (a request
        to a segmented model, routed row by row: see shipyard.serving.segments).
        """
        if self.traffic is None:
            return
        try:
            probabilities: Any = proba
            if proba is None and served.classes is not None:
                # V1 answers without probabilities: the log's writer thread computes them, off the request path.
                probabilities = functools.partial(_probabilities, served.pipeline, frame)
            self.traffic.record(
                frame,
                request_id=request_id,
                model_version=served.version,
                predictions=predictions,
                probabilities=probabilities,
                classes=served.classes,
                request_rows=request_rows,
            )
        except Exception as exc:  # noqa: BLE001 - logging must never fail a request
            self.traffic.count_error(f"cannot record request {request_id}: {type(exc).__name__}: {exc}")


def v2_outputs(predictions: np.ndarray, proba: np.ndarray | None, classes: Sequence[Any] | None) -> list[Any]:
    """The V2 outputs of an answer: predictions, then probabilities (with their classes) when there are any."""
    outputs = [_v2_output(PREDICTIONS_OUTPUT, predictions)]
    if proba is not None and classes is not None:
        probabilities = _v2_output(PROBABILITIES_OUTPUT, proba)
        probabilities.parameters = {CLASSES_PARAMETER: json.dumps(list(classes))}
        outputs.append(probabilities)
    return outputs


def _probabilities(pipeline: Any, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(pipeline.predict_proba(frame), float)


def _request_id(payload: Any, headers: Mapping[str, str] | None) -> str:
    """The request's id: V2 ``id``, V1 ``"id"``, else the ``x-request-id`` header, else a new uuid4."""
    if isinstance(payload, kserve.InferRequest):
        given = payload.id
    else:
        given = payload.get("id") if isinstance(payload, Mapping) else None
    if (given is None or given == "") and headers:
        given = headers.get("x-request-id") or headers.get("X-Request-Id")
    return str(uuid.uuid4()) if given is None or given == "" else str(given)  # an id of 0 is an id
