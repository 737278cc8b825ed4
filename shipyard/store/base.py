"""The object-store interface the registry and the pipeline steps write through.

Backends implement it (a directory, an S3 prefix) and :func:`shipyard.store.open_store` picks
one by URI scheme; this module imports none of them. Keys are relative ``a/b/c`` paths under the
store's root.

Besides plain reads and whole-object writes, a store offers the two primitives a
registry needs to stay correct when several processes write at once, without any lock
object that a crashed process could leave behind:

* :meth:`ObjectStore.create` writes only if the key is absent (``O_EXCL``/``link`` locally,
  ``If-None-Match: *`` on S3), so exactly one of several racing writers wins;
* :meth:`ObjectStore.read_with_token` + :meth:`ObjectStore.replace_if` is a compare-and-swap
  (a content hash under ``flock`` locally, ``If-Match: <etag>`` on S3).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from shipyard.errors import StoreError


class NotFound(StoreError):
    """The key does not exist in the store."""


@runtime_checkable
class ObjectStore(Protocol):
    """What the registry needs from a store; every failure to reach it is a ``StoreError``."""

    #: The root URI: an absolute directory path or ``s3://bucket[/prefix]``.
    uri: str

    def read(self, key: str) -> bytes:
        """The whole object. Raises :class:`NotFound`."""

    def write(self, key: str, data: bytes) -> None:
        """Replaces the whole object atomically: a reader sees the old or the new bytes."""

    def write_file(self, key: str, source: str | Path) -> None:
        """Like :meth:`write`, streaming a (possibly large) local file."""

    def read_file(self, key: str, dest: str | Path) -> None:
        """Streams the object into the local file ``dest``. Raises :class:`NotFound`."""

    def create(self, key: str, data: bytes) -> bool:
        """Writes only if ``key`` is absent, race-free; ``False`` when it already exists."""

    def read_with_token(self, key: str) -> tuple[bytes, str]:
        """The object and a token identifying this exact content. Raises :class:`NotFound`."""

    def replace_if(self, key: str, data: bytes, token: str) -> bool:
        """Replaces the object only if it still holds the content ``token`` came from.

        Returns ``False`` (writing nothing) when the object changed or disappeared since.
        """

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys that start with ``prefix`` (a plain string prefix, as in S3)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Removes the object; deleting a missing key is not an error."""

    def uri_for(self, key: str) -> str:
        """The full URI of ``key``; a key ending in ``/`` names a "directory" prefix."""

    def missing_root(self) -> str | None:
        """None when the store's root (directory, bucket) exists; else why not, for a message.

        Read-only: nothing is created. Lets a command tell a mistyped store from an empty one.
        """


_SEGMENT_FORBIDDEN = re.compile(r"[\x00-\x1f\\]")


def check_key(key: str, *, allow_dir: bool = False, allow_empty: bool = False) -> str:
    """Rejects keys that could escape the store root or mean different things per backend.

    Raises:
        ValueError: the key is empty, absolute, has empty, ``.`` or ``..`` segments,
            backslashes or control characters. Keys come from the registry, which validates
            user-supplied names first, so a bad key here is a programming error.
    """
    if not isinstance(key, str):
        raise ValueError(f"store key must be a string, got {type(key).__name__}")
    if key == "" and allow_empty:
        return key
    body = key[:-1] if allow_dir and key.endswith("/") else key
    segments = body.split("/")
    if (
        not body
        or key.startswith("/")
        or _SEGMENT_FORBIDDEN.search(key)
        or any(seg in ("", ".", "..") for seg in segments)
    ):
        raise ValueError(f"invalid store key {key!r}: use a relative 'a/b/c' path without '.', '..' or empty parts")
    return key


def check_prefix(prefix: str) -> str:
    """A list() prefix: a plain string prefix whose complete ``a/b/`` segments form a valid key."""
    if not isinstance(prefix, str) or _SEGMENT_FORBIDDEN.search(prefix):
        raise ValueError(f"invalid store prefix {prefix!r}")
    if "/" in prefix:
        check_key(prefix.rsplit("/", 1)[0] + "/", allow_dir=True)
    return prefix


def redact_url(url: str) -> str:
    """``url`` fit for a message: any user info (``user:password@``) becomes ``***@``.

    Works on malformed URLs too (everything between the scheme and the last ``@`` is hidden),
    so a secret typed into an endpoint or store URI never reaches an error, a log or a repr.
    """
    if not isinstance(url, str) or "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    return (f"{scheme}://" if sep else "") + "***@" + rest.rsplit("@", 1)[1]
