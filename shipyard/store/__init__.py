"""Where models, run records and data live: open a store by URI and read or write keys in it.

Adding a backend is one module with a class that implements :class:`ObjectStore` and has a
``from_location(StoreURI)`` constructor, plus one line in :data:`BACKENDS`. A backend's module
is imported on first use, so ``minio`` loads only when an ``s3://`` store is opened.
"""

from __future__ import annotations

import importlib
import os
from typing import cast

from shipyard.errors import StoreError
from shipyard.store.base import NotFound, ObjectStore, redact_url
from shipyard.store.uri import FILE, S3, InvalidURI, StoreURI

__all__ = ["BACKENDS", "InvalidURI", "NotFound", "ObjectStore", "StoreURI", "open_store"]

#: URI scheme -> ``module:Class`` of the backend that opens it.
BACKENDS: dict[str, str] = {
    FILE: "shipyard.store.local:LocalStore",
    S3: "shipyard.store.s3:S3Store",
}


def open_store(uri: str | StoreURI) -> ObjectStore:
    """The store at ``uri``: a local path, ``file:///path`` or ``s3://bucket[/prefix]``.

    An empty ``uri`` means ``$SHIPYARD_STORE`` (on a cluster the shipyard-config ConfigMap sets it,
    so a pipeline submitted without a store parameter uses the cluster's store). S3 connection
    settings come from the environment (:func:`shipyard.store.s3.s3_settings_from_env`); nothing
    is contacted until first use.

    Raises:
        StoreError: the URI is empty (and so is ``SHIPYARD_STORE``), malformed (see
            :meth:`StoreURI.parse`) or has a scheme no backend serves (:class:`InvalidURI`).
        ConfigError: the S3 settings in the environment are malformed.
    """
    if isinstance(uri, str):
        text = uri if uri.strip() else os.environ.get("SHIPYARD_STORE", "")
        if not text.strip():
            raise StoreError(
                "store URI is empty and SHIPYARD_STORE is not set: pass a directory path or s3://bucket/prefix"
            )
        location = StoreURI.parse(text)
    else:
        location = uri
    target = BACKENDS.get(location.scheme)
    if target is None:
        reason = f"unsupported URI scheme '{location.scheme}://': use a path, file:///path or s3://bucket/key"
        raise InvalidURI(
            f"unsupported store URI scheme '{location.scheme}://' in {redact_url(str(location))!r}: use a "
            "directory path, file:///path or s3://bucket/prefix",
            reason,
        )
    module_name, _, class_name = target.partition(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    return cast(ObjectStore, backend.from_location(location))
