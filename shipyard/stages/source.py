"""Reading the file a run starts from (a data table, a data contract): a path, ``file://`` or ``s3://``.

A local file is read with the file system; an object-store file through the store that holds it
(:func:`shipyard.store.open_store` on its parent location), so any store backend can serve data.
What goes wrong is the data's problem, not the store's: a missing file or a malformed URI is a
DataValidationError naming the URI; a store that cannot be reached stays a StoreError.
"""

from __future__ import annotations

import hashlib

from shipyard.errors import DataValidationError
from shipyard.findings import Code, problem
from shipyard.store import InvalidURI, NotFound, ObjectStore, StoreURI, open_store
from shipyard.store.base import redact_url


def read_data_file(uri: str) -> bytes:
    """The bytes of the file at ``uri``.

    Raises:
        DataValidationError: the URI is malformed, or names no file (missing, a directory, a
            bucket), or a local file cannot be read; the message names the URI.
        StoreError: a remote store cannot be reached or refuses access.
    """
    location = _parse(uri)
    if location.is_local:
        path = location.local_path
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise _unreadable(uri, Code.NO_SUCH_FILE, "no such file") from None
        except IsADirectoryError:
            raise _unreadable(uri, Code.NOT_A_FILE, "it is a directory, not a file") from None
        except OSError as exc:
            raise _unreadable(uri, Code.UNREADABLE, exc.strerror or str(exc)) from None
    store = _remote_store(uri, location)
    try:
        return store.read(location.name)
    except NotFound as exc:
        raise _unreadable(uri, Code.NO_SUCH_FILE, f"no such object ({exc})") from None
    except ValueError as exc:
        raise _unreadable(uri, Code.UNREADABLE, str(exc)) from None


def data_hash(raw: bytes) -> str:
    """``sha256:<hex>`` of a file's raw bytes: the data hash lineage records and run fingerprints compare."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def data_file_exists(uri: str) -> bool:
    """Whether a file is at ``uri``, without reading it (a HEAD request on S3).

    Raises:
        DataValidationError: the URI is malformed (a ``..`` in an S3 key, an unknown scheme...).
        StoreError: a remote store cannot be reached or refuses access.
    """
    location = _parse(uri)
    if location.is_local:
        return location.local_path.is_file()
    if not location.key or uri.endswith("/"):
        return False
    try:
        return _remote_store(uri, location).exists(location.name)
    except ValueError as exc:
        raise _unreadable(uri, Code.UNREADABLE, str(exc)) from None


def _parse(uri: str) -> StoreURI:
    try:
        return StoreURI.parse(uri)
    except InvalidURI as exc:
        raise _unreadable(uri, Code.UNREADABLE, exc.reason) from None


def _remote_store(uri: str, location: StoreURI) -> ObjectStore:
    if not location.key or uri.endswith("/"):
        raise _unreadable(uri, Code.NOT_A_FILE, f"expected {location.scheme}://bucket/key of a file")
    try:
        return open_store(location.parent)
    except InvalidURI as exc:
        raise _unreadable(uri, Code.UNREADABLE, exc.reason) from None


def _unreadable(uri: str, code: Code, reason: str) -> DataValidationError:
    message = f"table: cannot read data at '{redact_url(uri)}': {reason}"
    return DataValidationError([problem(None, code, message, "check the path or URI (--data, --contract)")])
