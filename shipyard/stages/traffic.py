"""Labels fed back for served traffic, and a window of traffic as a table monitoring can check.

The model server logs what it answered (:mod:`shipyard.store.traffic`); people learn the true
outcome later and feed it back as a label file. :func:`store_feedback` stores one such file as a
labels batch; :func:`collect_window` reads the requests logged in a time window, joins the latest
label of each row, and returns the feature table (plus the target where a label arrived) that the
monitoring pipeline checks exactly as it checks a table given as a file.

A row is identified by ``(request_id, request_row)``: ``request_row`` is the row's position in its
request (0 for the first row). A label file may leave ``request_row`` out when every request
carried one row; it then defaults to 0.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pandas as pd

from shipyard.errors import DataValidationError, ShipyardError
from shipyard.stages.ingest import IngestedTable
from shipyard.store.base import ObjectStore
from shipyard.store.traffic import (
    ATTRS_KEY,
    LABELS,
    LOGGED_AT,
    META_COLUMNS,
    RECEIVED_AT,
    REQUEST_ID,
    REQUEST_ROW,
    REQUESTS,
    batch_keys,
    day_prefix,
    read_batch,
    write_batch,
)

KEY_COLUMNS = (REQUEST_ID, REQUEST_ROW)

#: ``frame.attrs`` key (pandas keeps it in the Parquet file) of a traffic window's table: the list of
#: features the model server hashed or excluded, which the table lacks on purpose. Monitoring checks
#: the other columns, judges no decay and never retrains on such a table (see :func:`left_out_of`).
LEFT_OUT_ATTR = "shipyard_left_out_columns"

_SINCE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class NoTraffic(ShipyardError):
    """The store holds no logged request of the model inside the window asked for."""


class WindowError(ShipyardError):
    """The time window is malformed: a bad --since, an unparseable date, --to before --from."""


@dataclass(frozen=True)
class FeedbackSummary:
    """What one label file did to the store."""

    model: str
    target: str
    key: str  # the labels batch written
    rows_stored: int  # label rows written (after duplicates in the file were resolved)
    duplicates_in_file: int  # rows dropped because a later row of the file had the same key
    matched: int  # stored rows whose key is in the model's logged traffic (all of it, any day)
    unmatched: int  # stored rows with no logged request yet: kept, and joined when it is logged
    replaced_earlier: int  # stored rows whose key already had a label: the newest received wins

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "target": self.target,
            "key": self.key,
            "rows_stored": self.rows_stored,
            "duplicates_in_file": self.duplicates_in_file,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "replaced_earlier": self.replaced_earlier,
        }


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames field by field would raise
class TrafficWindow:
    """The logged rows of ``[start, end]`` as a table: features, and the target where labelled."""

    model: str
    start: datetime
    end: datetime
    frame: pd.DataFrame
    target: str
    labelled_rows: int
    left_out_columns: tuple[str, ...]  # hashed or excluded by the server: cannot be compared with the reference
    batches: int

    @property
    def rows(self) -> int:
        return len(self.frame)

    def source(self) -> dict[str, Any]:
        """The ``source`` section of the monitoring summary."""
        return {
            "kind": "traffic",
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "left_out_columns": list(self.left_out_columns),
        }


# --- the label file ---------------------------------------------------------------------------


def read_label_file(path_or_uri: str, target: str) -> pd.DataFrame:
    """The label file at ``path_or_uri`` (CSV or Parquet, path or ``s3://``) as ``request_id, request_row, TARGET``.

    ``request_row`` is optional (default 0: one-row requests). Other columns are ignored.

    Raises:
        DataValidationError: the file cannot be read, ``request_id`` or the target column is missing,
            or a row has no request id, no target value, or a request_row that is not a whole number
            ≥ 0; the message names the column and the first rows concerned.
    """
    from shipyard.stages.ingest import ingest_table

    # An id is text: typed as numbers, 007 would be 7, 1e3 1000, and 20 digits would overflow.
    frame = ingest_table(path_or_uri, text_columns=(REQUEST_ID,)).frame
    problems = [
        f"column '{name}': missing from the label file '{path_or_uri}' (it needs {REQUEST_ID} and {target})"
        for name in (REQUEST_ID, target)
        if name not in frame.columns
    ]
    if problems:
        raise DataValidationError(problems)
    ids = _ids(frame[REQUEST_ID], path_or_uri)
    _no_missing(frame[target], target, path_or_uri, "has no label")
    if REQUEST_ROW in frame.columns:
        rows = frame[REQUEST_ROW]
        numbers = pd.to_numeric(rows, errors="coerce")
        bad = numbers.isna() | (numbers < 0) | (numbers.fillna(0) % 1 != 0)
        if bad.any():
            raise DataValidationError(
                [
                    f"column '{REQUEST_ROW}': {_lines(bad)} of '{path_or_uri}' "
                    "not a whole number ≥ 0 (0 is a request's first row)"
                ]
            )
        positions = numbers.astype("int64")
    else:
        positions = pd.Series(0, index=frame.index, dtype="int64")
    return pd.DataFrame({REQUEST_ID: ids, REQUEST_ROW: positions, target: frame[target]})


def _ids(column: pd.Series, where: str) -> pd.Series:
    """Request ids as text, the way the server logs them: ``123``, not ``123.0``."""
    _no_missing(column, REQUEST_ID, where, "has no request id")
    if pd.api.types.is_float_dtype(column.dtype) and (column % 1 == 0).all():
        column = column.astype("int64")
    return column.map(str).astype(object)


def _no_missing(column: pd.Series, name: str, where: str, what: str) -> None:
    missing = column.isna()
    if missing.any():
        raise DataValidationError([f"column '{name}': {_lines(missing)} of '{where}' {what} (empty cell)"])


def _lines(mask: pd.Series) -> str:
    """``row 3`` / ``rows 3, 7, 9 and 2 more``: 1-based data rows (the header is not counted)."""
    positions = [int(i) + 1 for i in mask.to_numpy().nonzero()[0]]
    shown = ", ".join(str(n) for n in positions[:5])
    more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


# --- storing feedback -------------------------------------------------------------------------


def store_feedback(
    store: ObjectStore, model: str, labels: pd.DataFrame, when: datetime, *, target: str | None = None
) -> FeedbackSummary:
    """Writes ``labels`` (from :func:`read_label_file`) as one labels batch received at ``when``.

    Within the file, the last row of a key wins. Nothing is rejected for being early: a label whose
    request is not logged yet is stored and joins when the request shows up. ``matched`` is counted
    against all of the model's logged traffic (every day, only the two key columns are read), so a
    label for an old request is not reported as unmatched.

    Args:
        target: the label column; default: the one column besides request_id and request_row.
    """
    if target is None:
        others = [name for name in labels.columns if name not in KEY_COLUMNS]
        if len(others) != 1:
            raise DataValidationError([f"<table>: expected one label column besides {REQUEST_ID}, got {others}"])
        target = str(others[0])
    deduplicated = labels.drop_duplicates(subset=list(KEY_COLUMNS), keep="last").reset_index(drop=True)
    keys = _key_set(deduplicated)
    logged = _stored_keys(store, model, REQUESTS)
    earlier = _stored_keys(store, model, LABELS)
    batch = deduplicated[[REQUEST_ID, REQUEST_ROW, target]].copy()
    batch[RECEIVED_AT] = pd.Timestamp(when.astimezone(timezone.utc))
    key = write_batch(store, model, LABELS, batch, when)
    matched = len(keys & logged)
    return FeedbackSummary(
        model=model,
        target=target,
        key=key,
        rows_stored=len(batch),
        duplicates_in_file=len(labels) - len(deduplicated),
        matched=matched,
        unmatched=len(keys) - matched,
        replaced_earlier=len(keys & earlier),
    )


def _key_set(frame: pd.DataFrame) -> set[tuple[str, int]]:
    return set(zip(frame[REQUEST_ID].map(str), frame[REQUEST_ROW].astype("int64"), strict=True))


def _stored_keys(store: ObjectStore, model: str, kind: str) -> set[tuple[str, int]]:
    keys: set[tuple[str, int]] = set()
    for key in batch_keys(store, model, kind, None, None):
        keys |= _key_set(pd.read_parquet(io.BytesIO(store.read(key)), columns=list(KEY_COLUMNS)))
    return keys


# --- a window of traffic ----------------------------------------------------------------------


def parse_window(since: str, start: str, end: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC window ``[start, end]`` from ``--since 7d|12h|30m`` or ``--from``/``--to``.

    ``--from``/``--to`` take ISO dates or date-times, in UTC when they carry no zone. A date alone
    means the whole day: ``--from 2026-01-05 --to 2026-01-05`` is that day. ``--to`` defaults to now.

    Raises:
        WindowError: both forms or neither, a malformed value, or an end before the start.
    """
    now = _utc(now)
    if since and (start or end):
        raise WindowError("give either --since or --from/--to, not both")
    if since:
        match = _SINCE.match(since)
        if not match or int(match.group(1)) == 0:
            raise WindowError(f"--since '{since}': expected a count and a unit, e.g. 7d, 12h or 30m")
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}), now
    if not start:
        raise WindowError("give --since (e.g. 7d) or --from (and optionally --to) for the traffic window")
    low = _instant(start, "--from", end_of_day=False)
    high = _instant(end, "--to", end_of_day=True) if end else now
    if high < low:
        raise WindowError(f"the window ends ({high.isoformat()}) before it starts ({low.isoformat()})")
    return low, high


def _instant(text: str, option: str, *, end_of_day: bool) -> datetime:
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=timezone.utc)
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise WindowError(
            f"{option} '{text}': not an ISO date or date-time "
            "(e.g. 2026-01-05 or 2026-01-05T14:30, UTC unless it says +HH:MM)"
        ) from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def collect_window(store: ObjectStore, model: str, start: datetime, end: datetime, target: str) -> TrafficWindow:
    """The rows logged in ``[start, end]`` (by ``logged_at``, both ends included) with their latest labels.

    Labels are joined by ``(request_id, request_row)`` from every labels batch of the model, whenever it
    was received (labels come late); when a key was labelled more than once the latest ``received_at``
    wins. The frame holds the feature columns and, when any row is labelled, the target (missing where
    not). Hashed features (their values are hashes) and excluded ones (not logged) are left out and
    named in ``left_out_columns``.

    Raises:
        NoTraffic: nothing was logged in the window; the message names the model, the window and
            the store prefix listed.
    """
    start, end = _utc(start), _utc(end)
    keys = batch_keys(store, model, REQUESTS, start, end)
    parts: list[pd.DataFrame] = []
    hashed: set[str] = set()
    excluded: set[str] = set()
    for key in keys:
        batch = read_batch(store, key)
        logged_at = pd.to_datetime(batch[LOGGED_AT], utc=True)
        inside = (logged_at >= pd.Timestamp(start)) & (logged_at <= pd.Timestamp(end))
        if inside.any():
            # Only batches with rows in the window say what the window lacks: a server restarted with
            # other settings must not take columns away from the rows logged after it.
            attrs = batch.attrs.get(ATTRS_KEY) or {}
            hashed.update(name for name in attrs.get("hashed_columns") or [] if name in batch.columns)
            excluded.update(name for name in attrs.get("excluded_columns") or [] if name not in batch.columns)
            parts.append(batch[inside.to_numpy()])
    if not parts:
        listed = (
            day_prefix(model, REQUESTS, start.date()) if start.date() == end.date() else f"traffic/{model}/{REQUESTS}/"
        )
        raise NoTraffic(
            f"no traffic of model '{model}' logged from {start.isoformat()} to {end.isoformat()} "
            f"(listed {store.uri_for(listed)}: {len(keys)} batch(es), no row in the window); "
            "check the model name, the window (--since/--from/--to) and that the server logs to this store"
        )
    requests = pd.concat(parts, ignore_index=True)
    left_out = tuple(sorted(hashed | excluded))
    features = [
        name for name in requests.columns if name not in META_COLUMNS and name not in left_out and name != target
    ]
    frame = requests[features].copy()
    frame.attrs = {}  # not the batches' ATTRS_KEY: what the table lacks is said by mark_left_out
    mark_left_out(frame, left_out)
    labels = latest_labels(store, model, target)
    labelled = 0
    if not labels.empty:
        joined = pd.DataFrame(
            {REQUEST_ID: requests[REQUEST_ID].map(str), REQUEST_ROW: requests[REQUEST_ROW].astype("int64")}
        ).merge(labels, on=list(KEY_COLUMNS), how="left", validate="many_to_one")
        labelled = int(joined[target].notna().sum())
        if labelled:
            frame[target] = joined[target].to_numpy()
    return TrafficWindow(
        model=model,
        start=start,
        end=end,
        frame=frame.reset_index(drop=True),
        target=target,
        labelled_rows=labelled,
        left_out_columns=left_out,
        batches=len(keys),
    )


def latest_labels(store: ObjectStore, model: str, target: str) -> pd.DataFrame:
    """Every stored label of ``model``: one row per key, the latest ``received_at`` winning."""
    frames: Iterable[pd.DataFrame] = (read_batch(store, key) for key in batch_keys(store, model, LABELS, None, None))
    found = [frame for frame in frames if target in frame.columns]
    if not found:
        return pd.DataFrame(columns=[*KEY_COLUMNS, target])
    labels = pd.concat(found, ignore_index=True)
    labels[REQUEST_ID] = labels[REQUEST_ID].map(str)
    labels[REQUEST_ROW] = labels[REQUEST_ROW].astype("int64")
    labels[RECEIVED_AT] = pd.to_datetime(labels[RECEIVED_AT], utc=True)
    labels = labels.sort_values(RECEIVED_AT, kind="stable").drop_duplicates(list(KEY_COLUMNS), keep="last")
    return labels[[*KEY_COLUMNS, target]].reset_index(drop=True)


# --- the table monitoring checks ----------------------------------------------------------------


def window_table(window: TrafficWindow, uri: str) -> IngestedTable:
    """``window``'s frame read back exactly as a Parquet file of the same rows would be ingested.

    The frame goes through Parquet bytes and :func:`shipyard.stages.ingest.ingest_table`, so the
    monitoring pipeline sees the same column types and the same data hash as for ``--data FILE``
    holding those rows as logged (numeric features as the model received them: floats), so a window
    and a file of the same rows are monitored identically. ``uri``
    says where the rows came from (the table's ``uri``). Features the server left out are named in
    the frame's attrs (:func:`mark_left_out`), which Parquet and ``ingest_table`` keep.
    """
    import tempfile
    from pathlib import Path

    from shipyard.stages.ingest import ingest_table

    with tempfile.TemporaryDirectory(prefix="shipyard-traffic-") as tmp:
        path = Path(tmp) / f"traffic-{window.model}.parquet"
        window.frame.to_parquet(path, index=False)
        table = ingest_table(str(path))  # keeps the frame's attrs: the features it lacks on purpose
    return dataclasses.replace(table, uri=uri)


def traffic_target(store_uri: str, model: str) -> str:
    """The column ``model`` predicts, from its production version's lineage (else its latest version's).

    Raises:
        RegistryError: the store has no version of ``model``, or its lineage names no target.
    """
    from shipyard.errors import RegistryError
    from shipyard.store.registry import ModelRegistry
    from shipyard.vocabulary import PRODUCTION

    registry = ModelRegistry.from_uri(store_uri)
    version = registry.resolve_alias(model, PRODUCTION) or registry.latest_version(model)
    if version is None:
        raise RegistryError(
            f"no model '{model}' in {registry.uri}: traffic and labels belong to a registered model "
            "(check the name with `shipyard models list`, and --store)"
        )
    target = version.lineage.get("target") or (version.lineage.get("data_contract") or {}).get("target")
    if not target:
        raise RegistryError(
            f"model '{model}' v{version.version} has no target column in its lineage: "
            "cannot tell which column holds the labels"
        )
    return str(target)


def collect_traffic_table(
    store_uri: str, model: str, *, since: str, start: str, end: str, now: datetime
) -> tuple[IngestedTable, TrafficWindow]:
    """The current-data table of the monitoring pipeline when it reads traffic instead of a file."""
    from shipyard.store import open_store

    low, high = parse_window(since, start, end, now)
    store = open_store(store_uri)
    window = collect_window(store, model, low, high, traffic_target(store_uri, model))
    return window_table(window, store.uri_for(f"traffic/{model}/{REQUESTS}/")), window


# --- features the server left out ---------------------------------------------------------------


def mark_left_out(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Names ``columns`` in ``frame.attrs`` as features left out on purpose (nothing is set when there are none).

    ``frame.to_parquet`` keeps the attrs and ``ingest_table`` reads them back, so the table a CLI run
    writes and a pipeline task ingests still says what it lacks on purpose.
    """
    names = sorted({str(name) for name in columns})
    if names:
        frame.attrs[LEFT_OUT_ATTR] = names
    else:
        frame.attrs.pop(LEFT_OUT_ATTR, None)


def left_out_of(frame: pd.DataFrame) -> tuple[str, ...]:
    """The features ``frame`` lacks on purpose (hashed or excluded by the model server), from its attrs.

    Raises:
        DataValidationError: the attrs entry is not a list of column names.
    """
    return _left_out_names(frame.attrs.get(LEFT_OUT_ATTR), "<table>")


def _left_out_names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise DataValidationError(
            [f"<table>: attrs entry '{LEFT_OUT_ATTR}' of '{where}' must be a list of column names, got {value!r}"]
        )
    return tuple(sorted(set(value)))
