"""The ``latest`` hint: a model's newest visible version number, kept so nobody lists its history.

Key, under the model's directory in the store::

    models/NAME/latest.json   # {"version": N}: replaceable, moved forward by compare-and-swap

It is a hint, never the truth: version numbers are still reserved by create-only claims and a
version is still visible only through its ``metadata.json``. A register moves the hint forward
after its metadata became visible; if it dies in between, or a writer that predates the hint
keeps registering, the hint lags and readers walk forward over the claims above it (and move it
on); a missing or unreadable hint, or one naming a version that is not visible, makes the
registry list the model's keys once and write the hint again
(:meth:`shipyard.store.registry.ModelRegistry.latest_version`).
"""

from __future__ import annotations

import logging

from shipyard.errors import RegistryError, StoreError
from shipyard.store.base import NotFound, ObjectStore
from shipyard.store.documents import Document, dumps, loads

log = logging.getLogger(__name__)

HINT_FILE = "latest.json"
_CAS_ATTEMPTS = 50


def hint_key(name: str) -> str:
    return f"models/{name}/{HINT_FILE}"


def _hinted(document: Document) -> int | None:
    value = document.get("version")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


class LatestHint:
    """Reads and moves the ``latest`` hints of the models in one store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, name: str) -> int | None:
        """The hinted version; None when there is no hint or it is unreadable (then list once)."""
        try:
            return _hinted(loads(self.store.read(hint_key(name)), hint_key(name)))
        except NotFound:
            return None
        except RegistryError:  # not JSON / not an object: as good as missing, rewritten after a listing
            return None

    def advance(self, name: str, version: int, *, exact: bool = False) -> bool:
        """Moves the hint to ``version`` if it holds less (or anything else, with ``exact``).

        A hint that could not be moved is not an error: the version it would point at is already
        visible, and readers find it by walking forward. Returns whether the hint now holds
        ``version`` or more; store failures are logged and answer False.
        """
        key = hint_key(name)
        document = dumps({"version": version})
        try:
            for _ in range(_CAS_ATTEMPTS):
                try:
                    raw, token = self.store.read_with_token(key)
                except NotFound:
                    if self.store.create(key, document):
                        return True
                    continue  # someone else created it meanwhile: compare with theirs
                try:
                    held = _hinted(loads(raw, key))
                except RegistryError:
                    held = None
                if held is not None and (held == version or (held > version and not exact)):
                    return True
                if self.store.replace_if(key, document, token):
                    return True
        except StoreError as exc:
            log.warning("could not move the latest-version hint of model %s to %d: %s", name, version, exc)
            return False
        log.warning("the latest-version hint of model %s kept changing; left as it is", name)
        return False
