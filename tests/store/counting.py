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


def fill_history(store: Any, name: str, count: int, *, hint: bool = True, threads: int = 4) -> None:
    """Writes ``count`` versions of ``name`` straight into ``store``, laid out as registers leave them.

    Each version gets its claim, model file, ``registered`` audit event and metadata (four keys,
    as a real register writes), and the ``latest`` hint is set at the end unless ``hint`` is False
    (a registry written before hints existed). Much faster than ``count`` real registers, which
    is the point: the tests that use it compare what a call costs at small and large history.
    """
    import hashlib
    import json
    from concurrent.futures import ThreadPoolExecutor

    payload = b"model bytes"
    digest = hashlib.sha256(payload).hexdigest()

    def one(version: int) -> None:
        base = f"models/{name}/{version}/"
        created = f"2026-01-01T00:00:{version % 60:02d}.{version:06d}Z"
        store.create(base + ".claim", json.dumps({"token": f"fill-{version}"}).encode())
        store.write(base + "model.joblib", payload)
        store.create(
            f"models/{name}/audit/20260101T000000{version:06d}Z-fill{version}.json",
            json.dumps({"event": "registered", "model": name, "version": version, "time": created}).encode(),
        )
        metadata = {
            "format": 1,
            "name": name,
            "version": version,
            "sha256": digest,
            "size_bytes": len(payload),
            "created_at": created,
            "metrics": {"accuracy": 0.5},
            "params": {},
            "lineage": {"run_id": f"fill-{version}"},
            "files": {},
            "run_id": f"fill-{version}",
            "actor": "fill@test",
        }
        store.create(base + "metadata.json", json.dumps(metadata).encode())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(1, count + 1)))
    if hint and count:
        store.write(f"models/{name}/latest.json", json.dumps({"version": count}).encode())
