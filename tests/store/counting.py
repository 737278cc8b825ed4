"""Counting what the registry asks of its store, for the tests that pin request counts.

:class:`CountingStore` counts calls at the store interface (both backends);
:class:`CountingHTTP` counts the HTTP requests an :class:`~shipyard.store.s3.S3Store` really
sends (list pages, probes and bucket checks included), by wrapping the connection pool the
``minio`` client sends every request through.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class CountingStore:
    """Delegates to a real store and counts each call by method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.counts: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_") or name in ("uri_for",):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            return attr(*args, **kwargs)

        return call

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()


class CountingHTTP:
    """Wraps a urllib3 pool manager; counts requests by HTTP method (what an S3 bill counts)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.counts: Counter[str] = Counter()

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.counts[method] += 1
        return self._inner.urlopen(method, url, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()


def count_http(store: Any) -> CountingHTTP:
    """Installs a :class:`CountingHTTP` in an S3Store's client and returns it."""
    counter = CountingHTTP(store._client._http)
    store._client._http = counter
    return counter
