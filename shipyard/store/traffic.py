"""Where a served model's traffic and the labels fed back for it live in the store, and in what shape.

The model server writes what it saw in batches; label feedback writes label files; monitoring
reads both back for a time window. Every object is an immutable Parquet file written once under a
fresh name, so concurrent servers (several KServe replicas) and feedback runs never overwrite each
other, and a window is read by listing only the day partitions it covers::

    traffic/NAME/requests/date=YYYY-MM-DD/HHMMSS-<uuid>.parquet   # one batch of logged rows
    traffic/NAME/labels/date=YYYY-MM-DD/HHMMSS-<uuid>.parquet     # one feedback file's labels

A logged row holds the request's feature columns (as the model received them, after any excluded
columns were dropped and hashed ones replaced by their hash) and the :data:`META_COLUMNS`. A label
row holds ``request_id``, ``request_row``, the target column and ``received_at``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from shipyard.store.base import ObjectStore

if TYPE_CHECKING:
    import pandas as pd

#: Columns every logged row has besides the features. Feature columns must not use these names.
REQUEST_ID = "request_id"  # from the request (V2 "id", V1 "id" or the X-Request-Id header), else generated
REQUEST_ROW = "request_row"  # the row's position in its request: (request_id, request_row) is the row's key
LOGGED_AT = "logged_at"  # when the request was answered, UTC (timestamp[us, tz=UTC])
MODEL_VERSION = "model_version"  # the registry version that answered
PREDICTION = "prediction"  # the model's prediction for the row
PROBABILITIES = "probabilities"  # JSON object {class: probability} for a classifier with predict_proba, else null
META_COLUMNS: tuple[str, ...] = (REQUEST_ID, REQUEST_ROW, LOGGED_AT, MODEL_VERSION, PREDICTION, PROBABILITIES)

#: ``frame.attrs`` key (kept in the Parquet file by pandas) of a logged batch: a dict with
#: ``hashed_columns`` and ``excluded_columns`` (lists of names), so a reader knows which features it
#: can compare with the reference (hashed ones cannot be) and which are absent on purpose.
ATTRS_KEY = "shipyard_traffic"

#: Columns of a stored label row besides the target.
RECEIVED_AT = "received_at"

REQUESTS = "requests"
LABELS = "labels"


def _prefix(model: str, kind: str) -> str:
    return f"traffic/{model}/{kind}/"


def day_prefix(model: str, kind: str, day: date) -> str:
    """The partition of one UTC day: ``traffic/NAME/KIND/date=YYYY-MM-DD/``."""
    return f"{_prefix(model, kind)}date={day.isoformat()}/"


def new_key(model: str, kind: str, when: datetime) -> str:
    """A fresh, never-reused key for one batch under ``when``'s UTC day.

    For a batch of logged requests ``when`` is its first row's ``logged_at``, so the batch is filed
    under the day its rows were answered however late it is written.
    """
    when = when.astimezone(timezone.utc)
    return f"{day_prefix(model, kind, when.date())}{when:%H%M%S}-{uuid.uuid4().hex}.parquet"


def write_batch(store: ObjectStore, model: str, kind: str, frame: pd.DataFrame, when: datetime) -> str:
    """Writes ``frame`` as one Parquet object under a fresh key of ``when``'s day; returns the key.

    One ``write`` of the whole file: a reader lists either the complete batch or nothing of it.
    ``frame.attrs`` (e.g. :data:`ATTRS_KEY`) is stored with it and read back by :func:`read_batch`.
    """
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    key = new_key(model, kind, when)
    store.write(key, buffer.getvalue())
    return key


def days(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def batch_keys(store: ObjectStore, model: str, kind: str, start: datetime | None, end: datetime | None) -> list[str]:
    """The keys of the batches whose day partition overlaps ``[start, end]`` (None: unbounded), in order.

    Unbounded or long windows list the model's whole ``KIND/`` prefix once instead of day by day.
    """
    if start is None or end is None or (end.date() - start.date()).days > 62:
        keys = store.list(_prefix(model, kind))
        if start is None and end is None:
            return keys
        low = "" if start is None else day_prefix(model, kind, start.astimezone(timezone.utc).date())
        high = None if end is None else day_prefix(model, kind, end.astimezone(timezone.utc).date() + timedelta(days=1))
        return [key for key in keys if key >= low and (high is None or key < high)]
    keys = []
    for day in days(start.astimezone(timezone.utc).date(), end.astimezone(timezone.utc).date()):
        keys.extend(store.list(day_prefix(model, kind, day)))
    return keys


def read_batch(store: ObjectStore, key: str) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(store.read(key)))
