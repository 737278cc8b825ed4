"""Where a store (or a file in one) is: the one parser of ``s3://``, ``file://`` and plain-path URIs.

Three spellings are accepted:

* a plain path (``runs/store``, ``~/store``, ``/data/x.csv``), made absolute, never decoded;
* ``file:///absolute/path`` (or ``file://localhost/...``), percent-decoded as RFC 8089 says, so
  ``file:///a%20b`` is the path ``/a b``;
* ``SCHEME://bucket/key`` for an object store (``s3://``); the key is taken literally.

Which schemes can be opened is decided by the table in :mod:`shipyard.store`; this module only
says what the text means, and refuses text that could mean two things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

from shipyard.errors import StoreError
from shipyard.store.base import check_key, redact_url

FILE = "file"
S3 = "s3"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)
_KEY_RULE = "a plain 'a/b/c' path without '.', '..' or empty parts, backslashes or control characters"


class InvalidURI(StoreError):
    """Text that names no store location.

    ``reason`` says why without repeating the URI, for callers that word their own message
    (reading a data file says "cannot read data at ...: <reason>").
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class StoreURI:
    """A parsed location: a local ``path``, or a ``bucket`` and ``key`` (prefix) in an object store.

    ``str()`` is the canonical form: the absolute path for a local location, ``s3://bucket/key``
    (no trailing slash) otherwise.
    """

    scheme: str
    path: Path | None = None
    bucket: str = ""
    key: str = ""

    @classmethod
    def parse(cls, text: str) -> StoreURI:
        """The location ``text`` names.

        Raises:
            InvalidURI: the text is empty, has a NUL character, a ``file://`` host, user info, a
                ``?``/``#`` part, no bucket, or a key with ``.``, ``..`` or empty parts. The message
                never shows user info (see :func:`~shipyard.store.base.redact_url`).
        """
        shown = redact_url(text)
        if not text.strip():
            raise InvalidURI("store URI is empty: pass a directory path or s3://bucket/prefix", "the URI is empty")
        match = _SCHEME.fullmatch(text)
        if match is None:
            return cls.local(text)
        scheme, rest = match.group(1), match.group(2)
        if scheme == FILE:
            host, slash, path = rest.partition("/")
            if host not in ("", "localhost") or not slash or not path:
                reason = "a file URI must be file:///absolute/path (three slashes; there is no host part)"
                raise InvalidURI(f"invalid store URI {shown!r}: {reason}", reason)
            if "?" in path or "#" in path:
                reason = "it has a '?' or '#' part (percent-encode them in a file URI)"
                raise InvalidURI(f"store URI {shown!r} has a '?' or '#' part: use file:///absolute/path", reason)
            return cls.local("/" + unquote(path))
        bucket, _, key = rest.partition("/")
        if "@" in bucket:
            reason = "it has user info: credentials go in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            raise InvalidURI(
                f"store URI {shown!r} has user info: use {scheme}://bucket[/prefix] and put "
                "credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
                reason,
            )
        if "?" in rest or "#" in rest:
            reason = "it has a '?' or '#' part"
            raise InvalidURI(f"store URI {shown!r} has a '?' or '#' part: use {scheme}://bucket[/prefix]", reason)
        if not bucket:
            reason = f"expected {scheme}://bucket[/key]"
            raise InvalidURI(f"invalid store URI {shown!r}: {reason}", reason)
        return cls.in_bucket(scheme, bucket, key.strip("/"))

    @classmethod
    def local(cls, path: str | Path) -> StoreURI:
        """A local location; ``~`` is expanded and a relative path made absolute (not resolved)."""
        if "\x00" in str(path):
            reason = "it contains a NUL character"
            raise InvalidURI(f"invalid local store path {str(path)!r}: {reason}", reason)
        return cls(scheme=FILE, path=Path(path).expanduser().absolute())

    @classmethod
    def in_bucket(cls, scheme: str, bucket: str, key: str) -> StoreURI:
        """An object-store location; ``key`` is ``''`` for the bucket's root.

        Raises:
            InvalidURI: ``key`` is not a plain ``a/b/c`` path (``s3://b/a/../c`` has no single
                meaning across S3 tools, so it is refused rather than guessed at).
        """
        if key:
            try:
                check_key(key)
            except ValueError:
                raise InvalidURI(
                    f"invalid prefix {key!r} in store URI {scheme}://{bucket}/{key}: use a relative "
                    "'a/b/c' path without '.', '..' or empty parts, backslashes or control characters",
                    f"the key must be {_KEY_RULE}",
                ) from None
        return cls(scheme=scheme, bucket=bucket, key=key)

    def __str__(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"{self.scheme}://{self.bucket}" + (f"/{self.key}" if self.key else "")

    @property
    def is_s3(self) -> bool:
        return self.scheme == S3

    @property
    def is_local(self) -> bool:
        return self.path is not None

    @property
    def local_path(self) -> Path:
        """The absolute local path. Raises ValueError for an object-store location."""
        if self.path is None:
            raise ValueError(f"{self} is not a local path")
        return self.path

    @property
    def name(self) -> str:
        """The last part: a file's name, or ``''`` for a bucket's root."""
        return self.path.name if self.path is not None else self.key.rsplit("/", 1)[-1]

    @property
    def parent(self) -> StoreURI:
        """The directory (or prefix) that holds this location."""
        if self.path is not None:
            return replace(self, path=self.path.parent)
        return replace(self, key=self.key.rpartition("/")[0])

    def resolved(self) -> StoreURI:
        """Local paths with symlinks and ``..`` resolved (what a task in another directory can use)."""
        return replace(self, path=self.path.resolve()) if self.path is not None else self
