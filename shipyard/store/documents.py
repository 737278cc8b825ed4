"""The registry's JSON documents: how they are written, read back and stamped with who and when.

Every document the registry stores (version metadata, claims, aliases, audit events, run
records) goes through :func:`dumps` and comes back through :func:`loads`, so they share one
encoding (sorted keys, UTF-8) and one error for a document that is not a JSON object.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from shipyard.errors import RegistryError
from shipyard.store.base import NotFound, ObjectStore

#: A JSON object as read back: keys are strings, values anything JSON holds.
Document = dict[str, Any]


def json_default(value: object) -> Any:
    """What ``json.dumps`` cannot encode itself: paths, dates, sets, numpy scalars and arrays."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def plain(value: object, what: str) -> Document:
    """A deep, JSON-clean copy of a caller's mapping (numpy numbers become Python numbers).

    Raises:
        RegistryError: ``value`` is not a mapping or holds something JSON cannot (names ``what``).
    """
    if not isinstance(value, Mapping):
        raise RegistryError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        copy: Document = json.loads(json.dumps(dict(value), default=json_default))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} must be JSON-serialisable: {exc}") from None
    return copy


def dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=json_default).encode("utf-8")


def loads(data: bytes, where: str) -> Document:
    """The JSON object in ``data``; a RegistryError naming ``where`` when it is not one."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(f"corrupt registry document {where}: {exc}") from None
    if not isinstance(document, dict):
        raise RegistryError(f"corrupt registry document {where}: expected a JSON object")
    return document


def documents_under(store: ObjectStore, prefix: str) -> dict[str, Document]:
    """Every ``NAME.json`` directly under ``prefix``, by NAME; one deleted meanwhile is skipped."""
    documents: dict[str, Document] = {}
    for key in store.list(prefix):
        name = key[len(prefix) :]
        if "/" in name or not name.endswith(".json"):
            continue
        with contextlib.suppress(NotFound):
            documents[name[: -len(".json")]] = loads(store.read(key), key)
    return documents


def create_or_recognise(store: ObjectStore, key: str, data: bytes) -> bool:
    """``store.create``, where a "no" whose stored bytes are exactly ``data`` counts as "yes".

    A create whose answer was lost and that the client retried finds its own bytes there. Every
    document created this way holds something unique to its writer (a random token, a move id),
    so another writer's document never matches.
    """
    if store.create(key, data):
        return True
    try:
        return store.read(key) == data
    except NotFound:
        return False


def current_actor() -> str:
    """Who is acting: ``SHIPYARD_ACTOR`` if set (a CI job, a pipeline), else ``user@host``."""
    actor = os.environ.get("SHIPYARD_ACTOR", "").strip()
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except Exception:  # containers often run as a uid without a passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds, so events made in quick succession keep their order."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
