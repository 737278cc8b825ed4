"""A segmented model (one registry model per value of a column) served by one model server.

Each segment's model is a :class:`~shipyard.serving.model.RegistryModel` under its own name
(``/v2/models/churn--eu/infer``), following its own alias and logging its own traffic. The parent
name (``/v2/models/churn/infer``) is a :class:`SegmentedModel`: it reads each row's value of the
segment column, hands the rows of each segment to that segment's model, and puts the answers back
in the request's order. A request is answered whole or refused whole: a row whose segment is not
served, a row with no segment value, or rows a segment's model refuses fail the request before
anything is predicted or logged.

One thread follows every segment's alias (one poll each per interval, not a thread per segment)
and re-reads the segment index, so a segment that gets a version under the alias while the server
runs (a new region, a first promote) is loaded and served without a restart.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.serving._kserve import InvalidInput, ModelNotReady, kserve
from shipyard.serving.model import (
    ModelLoadError,
    RegistryModel,
    ServedVersion,
    _json_body,
    _json_scalar,
    _probabilities,
    _request_id,
    conform,
    frame_from_v1,
    frame_from_v2,
    v2_outputs,
)
from shipyard.serving.segment_plan import SegmentEntry, SegmentServing, read_segment_index
from shipyard.stages.segments import list_segments, segment_labels

if TYPE_CHECKING:
    from shipyard.serving.traffic_log import TrafficLogger
    from shipyard.store.registry import ModelRegistry

log = logging.getLogger("shipyard.serving")

#: V2 response parameter (JSON text): which segment model answered, at which version.
SEGMENT_VERSIONS_PARAMETER = "segment_versions"
#: Segments named in an error message at most (a model may have hundreds).
_NAMED = 20


def _named(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_NAMED])
    return shown + (f" and {len(values) - _NAMED} more" if len(values) > _NAMED else "")


def _stack_predictions(parts: Sequence[np.ndarray], rows: int, positions: Sequence[np.ndarray]) -> np.ndarray:
    """One prediction per request row, each part's answers put back at its rows' positions."""
    try:
        dtype = np.result_type(*[part.dtype for part in parts])
    except TypeError:  # labels of one segment, numbers of another: keep each value as it is
        dtype = np.dtype(object)
    stacked = np.empty(rows, dtype=dtype)
    for part, where in zip(parts, positions, strict=True):
        stacked[where] = part
    return stacked


def _stack_probabilities(
    parts: Sequence[tuple[np.ndarray, tuple[Any, ...]]], rows: int, positions: Sequence[np.ndarray]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """One probability row per request row over every class any segment's model knows (0 where it does not)."""
    classes: list[Any] = []
    for _, known in parts:
        classes.extend(c for c in known if c not in classes)
    column = {c: i for i, c in enumerate(classes)}
    stacked = np.zeros((rows, len(classes)), dtype=float)
    for (proba, known), where in zip(parts, positions, strict=True):
        stacked[np.ix_(where, np.asarray([column[c] for c in known], dtype=np.intp))] = proba
    return stacked, tuple(classes)


class SegmentedModel(kserve.Model):  # type: ignore[misc]  # kserve ships no type information
    """Model ``name``'s segments, each a RegistryModel under its own name, and a router under ``name``.

    Args:
        serving: which segments to serve now (:func:`~shipyard.serving.segment_plan.plan_segment_serving`).
        traffic_for: a segment model's traffic logger (None: its traffic is not logged).
        poll_interval: seconds between checks of every segment's alias and of the segment index.
    """

    def __init__(
        self,
        name: str,
        registry: ModelRegistry,
        alias: str,
        serving: SegmentServing,
        *,
        poll_interval: float = 2.0,
        traffic_for: Callable[[str], TrafficLogger | None] | None = None,
    ) -> None:
        super().__init__(name)
        self.registry = registry
        self.alias = alias
        self.column = serving.column
        self.poll_interval = poll_interval
        self._traffic_for = traffic_for or (lambda _model: None)
        # value -> its model: replaced whole when a segment is added, so a request reads one snapshot
        self._routes: dict[str, RegistryModel] = {
            entry.segment: self._segment_model(entry.model) for entry in serving.served
        }
        self._waiting: dict[str, SegmentEntry] = {entry.segment: entry for entry, _ in serving.unserved}
        self._indexed = len(serving.served) + len(serving.unserved)  # index entries seen
        self._problems: dict[str, str] = {}  # per segment: the last problem logged (each is logged once)
        #: Called with each segment model added while serving (the server registers it under its name).
        self.on_added: Callable[[RegistryModel], None] | None = None
        #: Called with the name of a segment model that failed to load at start (the server drops it).
        self.on_removed: Callable[[str], None] | None = None
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def _segment_model(self, model: str) -> RegistryModel:
        return RegistryModel(
            model, self.registry, self.alias, poll_interval=self.poll_interval, traffic=self._traffic_for(model)
        )

    @property
    def segments(self) -> dict[str, RegistryModel]:
        """Each served segment value and its model (a snapshot)."""
        return dict(self._routes)

    @property
    def served(self) -> dict[str, ServedVersion]:
        """Each segment model's name and the version answering for it right now."""
        return {model.name: model.served for model in self._routes.values() if model.served is not None}

    def models(self) -> list[kserve.Model]:
        """What the model server's repository holds: the router under ``name``, then each segment's model."""
        return [self, *self._routes.values()]

    def load(self) -> bool:
        """Loads every served segment's version; ready once those that load are in memory.

        A segment whose version cannot be loaded (a corrupt file, a failed checksum) is not served
        and is retried at every poll, as a segment promoted later would be: one segment's bad
        version never stops the others from being served.

        Raises:
            ModelLoadError: no segment's version can be loaded (the message names each segment model).
        """
        failed: list[str] = []
        for segment, model in list(self._routes.items()):
            try:
                model.load()
            except Exception as exc:  # noqa: BLE001 - ModelLoadError, or the store: the others are still served
                failed.append(f"{exc}")
                self._report(segment, f"model '{self.name}': segment {segment!r} not served yet: {exc}")
                self._routes = {key: value for key, value in self._routes.items() if key != segment}
                self._waiting[segment] = SegmentEntry(segment, model.name, self.column)
                if self.on_removed is not None:
                    self.on_removed(model.name)
        if not self._routes:
            raise ModelLoadError(f"model '{self.name}': no segment could be loaded: " + "; ".join(failed))
        self.ready = True
        log.info(
            "model '%s': %d segment(s) by column '%s' loaded (alias %s)",
            self.name,
            len(self._routes),
            self.column,
            self.alias,
        )
        return True

    # -- following ---------------------------------------------------------------------------

    def _report(self, key: str, problem: str) -> None:
        if self._problems.get(key) != problem:
            log.error("%s", problem)
            self._problems[key] = problem

    def check_segments(self) -> list[str]:
        """One poll: every served segment's alias, then segments not served yet. Returns the segments added."""
        for model in list(self._routes.values()):
            model.check_alias()  # logs its own problems, keeps the old version through them
        try:
            # One listing a poll; the entries are read only when the index has grown (entries are never removed).
            indexed = list_segments(self.registry, self.name, limit=0).total
            entries = read_segment_index(self.registry, self.name) if indexed != self._indexed else []
            for entry in entries:
                if entry.segment not in self._routes and entry.segment not in self._waiting:
                    if entry.column != self.column:
                        self._report(
                            entry.segment,
                            f"model '{self.name}': segment {entry.segment!r} is by column '{entry.column}', not "
                            f"'{self.column}'; not served (serve '{entry.model}' by its name)",
                        )
                        continue
                    self._waiting[entry.segment] = entry
        except Exception as exc:  # noqa: BLE001 - keep serving through a store outage
            self._report("", f"cannot read the segments of model '{self.name}': {exc}")
        else:
            self._indexed = indexed
            self._problems.pop("", None)
        added = []
        for segment, entry in list(self._waiting.items()):
            if self._add(entry):
                del self._waiting[segment]
                added.append(segment)
        return added

    def _add(self, entry: SegmentEntry) -> bool:
        try:
            if self.registry.resolve_alias(entry.model, self.alias) is None:
                return False  # not promoted yet: nothing to report, it was said at start
            model = self._segment_model(entry.model)
            model.load()
        except Exception as exc:  # noqa: BLE001 - a ModelLoadError, or the store is down: try again at the next poll
            self._report(entry.segment, f"model '{self.name}': segment {entry.segment!r} not served yet: {exc}")
            return False
        if self.on_added is not None:
            self.on_added(model)
        self._routes = {**self._routes, entry.segment: model}
        self._problems.pop(entry.segment, None)
        served = model.served
        log.info(
            "model '%s': segment %r now served by '%s' v%s (alias %s)",
            self.name,
            entry.segment,
            entry.model,
            served.version if served else "?",
            self.alias,
        )
        return True

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.check_segments()
            except Exception:  # a bug here must not end alias following silently
                log.exception("segment check of model '%s' failed", self.name)

    def start_following(self) -> None:
        """Starts the one thread that polls every segment's alias and the index every ``poll_interval`` seconds."""
        if self._follower is None:
            self._follower = threading.Thread(target=self._follow, name=f"follow-segments-{self.alias}", daemon=True)
            self._follower.start()

    def stop(self) -> None:
        """Stops following and every segment model (each writes its traffic log's last rows)."""
        self._stop.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(timeout=self.poll_interval + 5)
        for model in list(self._routes.values()):
            model.stop()
        super().stop()

    # -- inference ---------------------------------------------------------------------------

    def get_input_types(self) -> list[dict[str, Any]]:
        """The segment column, then the features of one segment's model (segments usually share them)."""
        first = next(iter(self._routes.values()), None)
        features = [] if first is None else [i for i in first.get_input_types() if i["name"] != self.column]
        return [{"name": self.column, "datatype": "BYTES", "shape": [-1]}, *features]

    def get_output_types(self) -> list[dict[str, Any]]:
        first = next(iter(self._routes.values()), None)
        return [] if first is None else list(first.get_output_types())

    def _refuse_unknown(self, labels: pd.Series, routes: Mapping[str, RegistryModel]) -> None:
        missing = [int(i) for i in np.flatnonzero(labels.isna().to_numpy())]
        if missing:
            raise InvalidInput(
                f"column '{self.column}': row(s) {missing[:_NAMED]} have no value; model '{self.name}' answers "
                f"each row with the model of its segment (served: {_named(sorted(routes))})"
            )
        unknown = sorted(set(labels) - set(routes))
        if unknown:
            raise InvalidInput(
                f"column '{self.column}': no model serves segment(s) {_named(unknown)} of model '{self.name}'; "
                f"served segments: {_named(sorted(routes)) or 'none'}"
            )

    def predict(
        self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> Any:
        """Each row answered by its segment's model; V1 dict or V2 InferRequest in, the same protocol out."""
        routes = self._routes
        if isinstance(payload, (bytes, str)):
            payload = _json_body(payload)
        v2 = isinstance(payload, kserve.InferRequest)
        if v2:
            frame = frame_from_v2(payload)
        elif isinstance(payload, Mapping):
            rows = payload.get("instances", payload.get("inputs"))
            if isinstance(rows, list) and rows and not all(isinstance(row, Mapping) for row in rows):
                raise InvalidInput(
                    f"model '{self.name}' routes each row by column '{self.column}': send rows as records "
                    '{"column": value, ...}'
                )
            frame = frame_from_v1(payload, None)
        else:
            raise InvalidInput(f"unsupported request body ({type(payload).__name__}); send JSON")
        if self.column not in frame.columns:
            example = next(iter(routes.values())).name if routes else f"{self.name}--SEGMENT"
            raise InvalidInput(
                f"model '{self.name}' has a model per value of column '{self.column}', which the request lacks: "
                f"send '{self.column}' with every row, or ask one segment's model (/v2/models/{example}/infer)"
            )
        if frame.empty:
            raise InvalidInput("the request has no rows; send at least one")
        labels = segment_labels(frame[self.column])
        self._refuse_unknown(labels, routes)

        # Every part is checked before anything is predicted, and predicted before anything is logged:
        # a request is answered whole or refused whole.
        parts: list[tuple[RegistryModel, ServedVersion, pd.DataFrame, np.ndarray]] = []
        for segment, indices in labels.groupby(labels, sort=True).indices.items():
            model = routes[str(segment)]
            served = model.served
            if served is None:
                raise ModelNotReady(model.name)
            rows = frame.iloc[indices].reset_index(drop=True)
            if served.feature_columns is not None and self.column not in served.feature_columns:
                rows = rows.drop(columns=[self.column])
            try:
                parts.append((model, served, conform(rows, served), np.asarray(indices)))
            except InvalidInput as exc:
                raise InvalidInput(f"segment {segment!r} (model '{model.name}'): {exc}") from None

        request_id = _request_id(payload, headers)
        positions = [where for *_, where in parts]
        predicted = [np.asarray(served.pipeline.predict(rows)) for _, served, rows, _ in parts]
        with_probabilities = v2 and all(served.classes is not None for _, served, _, _ in parts)
        probabilities = [
            _probabilities(served.pipeline, rows) if with_probabilities else None for _, served, rows, _ in parts
        ]
        for (model, served, rows, where), answer, proba in zip(parts, predicted, probabilities, strict=True):
            model.record_traffic(rows, served, request_id, answer, proba, request_rows=where.tolist())

        predictions = _stack_predictions(predicted, len(frame), positions)
        versions = {model.name: served.version for model, served, _, _ in parts}
        if not v2:
            return {
                "predictions": [_json_scalar(v) for v in predictions.tolist()],
                "id": request_id,
                SEGMENT_VERSIONS_PARAMETER: versions,
            }
        stacked: np.ndarray | None = None
        classes: tuple[Any, ...] | None = None
        if with_probabilities:
            known = [(p, served.classes) for p, (_, served, _, _) in zip(probabilities, parts, strict=True)]
            stacked, classes = _stack_probabilities(
                [(p, c) for p, c in known if p is not None and c is not None], len(frame), positions
            )
        return kserve.InferResponse(
            response_id=request_id,
            model_name=self.name,
            model_version=None,
            infer_outputs=v2_outputs(predictions, stacked, classes),
            parameters={SEGMENT_VERSIONS_PARAMETER: json.dumps(versions)},
            requested_outputs=payload.request_outputs,
        )
