"""Reading the file a run starts from (a data table, a data contract): a path, ``file://`` or ``s3://``.

The file is read through the store that holds it (:func:`shipyard.store.open_store` on its
parent location), so any store backend can serve data too. What goes wrong is the data's
problem, not the store's: a missing file or a malformed URI is a DataValidationError naming
the URI; a store that cannot be reached stays a StoreError.
"""

from __future__ import annotations

from shipyard.errors import DataValidationError, StoreError
from shipyard.store import InvalidURI, NotFound, ObjectStore, StoreURI, open_store
from shipyard.store.base import redact_url


def read_data_file(uri: str) -> bytes:
    """The bytes of the file at ``uri``.

    Raises:
        DataValidationError: the URI is malformed, or names no file (missing, a directory), or a
            local file cannot be read; the message names the URI.
        StoreError: a remote store cannot be reached or refuses access.
    """
    location, store = _open(uri)
    try:
        return store.read(location.name)
    except NotFound as exc:
        raise _unreadable(uri, _missing(location, exc)) from None
    except ValueError as exc:
        raise _unreadable(uri, str(exc)) from None
    except StoreError as exc:
        if location.is_local:
            raise _unreadable(uri, str(exc)) from None
        raise


def data_file_exists(uri: str) -> bool:
    """Whether a file is at ``uri``, without reading it (a HEAD request on S3).

    Raises:
        DataValidationError: the URI is malformed (a ``..`` in an S3 key, an unknown scheme...).
        StoreError: a remote store cannot be reached or refuses access.
    """
    try:
        location, store = _open(uri)
    except _NotAFile:
        return False
    try:
        return store.exists(location.name)
    except ValueError as exc:
        raise _unreadable(uri, str(exc)) from None


class _NotAFile(DataValidationError):
    """The URI names a bucket or a prefix ending in ``/``, never a file."""


def _open(uri: str) -> tuple[StoreURI, ObjectStore]:
    try:
        location = StoreURI.parse(uri)
        if not location.is_local and (not location.key or uri.endswith("/")):
            raise _NotAFile([_message(uri, f"expected {location.scheme}://bucket/key of a file")])
        return location, open_store(location.parent)
    except InvalidURI as exc:
        raise _unreadable(uri, exc.reason) from None


def _missing(location: StoreURI, exc: NotFound) -> str:
    if not location.is_local:
        return f"no such object ({exc})"
    return "it is a directory, not a file" if location.local_path.is_dir() else "no such file"


def _message(uri: str, reason: str) -> str:
    return f"table: cannot read data at '{redact_url(uri)}': {reason}"


def _unreadable(uri: str, reason: str) -> DataValidationError:
    return DataValidationError([_message(uri, reason)])
