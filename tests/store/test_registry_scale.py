"""What registry calls cost as a model's history grows, and how the ``latest`` hint heals.

Counts are taken at the store interface (both backends, :class:`CountingStore`) and, on S3, as
the HTTP requests the client really sends (:class:`CountingHTTP`) to ``moto_server``, the
S3-protocol stand-in the suite starts (see ``conftest.py`` for what it cannot prove). Histories
are written straight into the store by :func:`fill_history` in the layout registers leave, so
300 versions take seconds; every call measured is the registry's own.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from shipyard.errors import RegistryError
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry, sha256_file
from tests.store.counting import CountingStore, count_http, fill_history

SMALL, LARGE = 3, 300


def _hint(registry: ModelRegistry, name: str = "churn") -> int | None:
    try:
        return json.loads(registry.store.read(f"models/{name}/latest.json"))["version"]
    except Exception:  # noqa: BLE001 - absent or unreadable: what the test wants to tell apart
        return None


def _set_hint(registry: ModelRegistry, version: object, name: str = "churn") -> None:
    data = version if isinstance(version, bytes) else json.dumps({"version": version}).encode()
    registry.store.write(f"models/{name}/latest.json", data)


def _register(registry: ModelRegistry, tmp_path, label: str, run_id: str = ""):
    path = tmp_path / f"{label}.bin"
    path.write_bytes(label.encode())
    return registry.register_version("churn", path, metrics={"label": label}, params={}, lineage={}, run_id=run_id)


def _costs(uri: str, history: int, tmp_path) -> dict[str, Counter]:
    """Calls (and S3 HTTP requests) of each operation on a model with ``history`` earlier versions."""
    inner = open_store(uri)
    fill_history(inner, "churn", history)
    http = count_http(inner) if uri.startswith("s3://") else None
    counting = CountingStore(inner)
    registry = ModelRegistry(counting)
    registry.set_alias("churn", "production", history)  # warms the S3 client (bucket check, write probe)
    model = tmp_path / f"new-{history}.bin"
    model.write_bytes(b"the new model")
    digest = sha256_file(model)

    def register():  # what register_blessed_model does: the retry check, then the register
        assert registry.find_registered("churn", "run-new", digest) is None
        return registry.register_version("churn", model, metrics={}, params={}, lineage={}, run_id="run-new")

    operations = {
        "register": register,
        "retry finds its version": lambda: registry.find_registered("churn", "run-new", digest),
        "resolve production": lambda: registry.resolve_alias("churn", "production"),
        "latest version": lambda: registry.latest_version("churn"),
        "newest page of 3": lambda: registry.versions_page("churn", limit=3),
        "unknown version": lambda: pytest.raises(RegistryError, registry.get_version, "churn", 10**6),
    }
    costs: dict[str, Counter] = {}
    for label, operation in operations.items():
        counting.reset()
        if http:
            http.reset()
        operation()
        costs[label] = Counter(counting.counts)
        if http:
            costs[f"{label} (HTTP)"] = Counter(http.counts)
    assert registry.latest_version("churn").version == history + 1
    assert registry.resolve_alias("churn", "production").version == history
    return costs


def test_register_resolve_latest_and_a_page_cost_the_same_at_3_and_300_versions(store_uri, tmp_path):
    small = _costs(f"{store_uri}-small", SMALL, tmp_path)
    large = _costs(f"{store_uri}-large", LARGE, tmp_path)
    assert small == large, f"a call costs more with a longer history:\n{small}\n{large}"
    for label, counts in large.items():
        assert "list" not in counts, f"{label} lists the model's keys: {counts}"
        assert sum(counts.values()) <= 12, f"{label}: {counts}"
    assert sum(large["resolve production"].values()) == 2  # the alias and the version's metadata
    assert sum(large["latest version"].values()) == 3  # the hint, the claim above it, the metadata


def test_a_registry_written_before_hints_lists_once_then_never_again(store_uri, tmp_path):
    registry = ModelRegistry(CountingStore(open_store(store_uri)))
    fill_history(registry.store._inner, "churn", 20, hint=False)
    assert registry.latest_version("churn").version == 20
    assert registry.store.counts["list"] == 1 and _hint(registry) == 20
    registry.store.reset()
    assert registry.latest_version("churn").version == 20
    assert _register(registry, tmp_path, "next").version == 21
    assert registry.store.counts["list"] == 0 and _hint(registry) == 21


@pytest.mark.parametrize(
    "hint",
    [None, 2, 1, 50, b"not json", b'{"version": "five"}'],
    ids=["missing", "lagging", "far-behind", "too-high", "corrupt", "bad-field"],
)
def test_a_wrong_hint_heals_and_no_number_is_reused_or_version_lost(store_uri, tmp_path, hint):
    registry = ModelRegistry(open_store(store_uri))
    history = 30 if hint == 1 else 5  # "far-behind": more numbers above the hint than the registry walks
    fill_history(registry.store, "churn", history)
    if hint is None:
        registry.store.delete("models/churn/latest.json")
    else:
        _set_hint(registry, hint)

    assert registry.latest_version("churn").version == history
    assert _hint(registry) == history, "the hint was rewritten"
    made = _register(registry, tmp_path, "next")
    assert made.version == history + 1
    assert [v.version for v in registry.list_versions("churn")] == list(range(1, history + 2))


def test_a_too_high_hint_met_by_a_register_leaves_a_gap_never_a_reuse(store_uri, tmp_path):
    registry = ModelRegistry(open_store(store_uri))
    fill_history(registry.store, "churn", 5)
    _set_hint(registry, 50)
    made = _register(registry, tmp_path, "next")
    assert made.version > 5
    assert registry.latest_version("churn").version == made.version
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 3, 4, 5, made.version]


def test_claims_without_metadata_are_walked_over(store_uri, tmp_path):
    """Numbers reserved by registers in flight or dead are neither visible nor handed out again."""
    registry = ModelRegistry(open_store(store_uri))
    fill_history(registry.store, "churn", 5)
    registry.store.create("models/churn/6/.claim", b'{"token": "in flight"}')
    assert registry.latest_version("churn").version == 5
    registry.store.create("models/churn/7/.claim", b'{"token": "finished, hint not moved"}')
    document = json.loads(registry.store.read("models/churn/5/metadata.json"))
    registry.store.create("models/churn/7/metadata.json", json.dumps({**document, "version": 7}).encode())

    assert registry.latest_version("churn").version == 7  # past the claim of 6, to the visible 7
    assert _hint(registry) == 7
    assert _register(registry, tmp_path, "next").version == 8


def test_pages_cover_every_version_once_newest_first_across_gaps(store_uri, tmp_path):
    registry = ModelRegistry(open_store(store_uri))
    for label in "abc":
        _register(registry, tmp_path, label)
    registry.store.create("models/churn/4/.claim", b'{"token": "a register that died"}')
    for label in "defg":
        _register(registry, tmp_path, label)
    everything = [v.version for v in registry.list_versions("churn")]
    assert everything == [1, 2, 3, 5, 6, 7, 8]

    pages, before = [], None
    while True:
        page = registry.versions_page("churn", limit=3, before=before)
        pages.append(([v.version for v in page.versions], page.next_before, page.older_at_most))
        if page.next_before is None:
            break
        before = page.next_before
    assert pages == [([8, 7, 6], 6, 5), ([5, 3, 2], 2, 1), ([1], None, 0)]
    assert sorted(v for shown, _, _ in pages for v in shown) == everything
    whole = registry.versions_page("churn", limit=None)
    assert [v.version for v in whole.versions] == everything[::-1] and whole.latest == 8
    assert [v.version for v in registry.versions_page("churn", limit=2, before=10**6).versions] == [8, 7]
    assert (
        registry.versions_page("nothing-here").versions == [] and registry.versions_page("nothing-here").latest is None
    )
    for bad in (0, -1, True, 2.5):
        with pytest.raises(RegistryError, match="positive whole number"):
            registry.versions_page("churn", limit=bad)


def test_a_run_finds_the_version_it_registered_and_nothing_else(store_uri, tmp_path):
    registry = ModelRegistry(open_store(store_uri))
    made = _register(registry, tmp_path, "one", run_id="r1")
    digest = made.sha256
    assert registry.find_registered("churn", "r1", digest) == made
    assert registry.find_registered("churn", "r2", digest) is None
    assert registry.find_registered("churn", "r1", "0" * 64) is None
    assert registry.find_registered("other", "r1", digest) is None
    with pytest.raises(RegistryError, match="sha256"):
        registry.find_registered("churn", "r1", "not-a-digest")

    # An attempt that died after writing its index entry but before its metadata: not found; the
    # next attempt registers anew and is found from then on.
    registry.store.write(f"models/churn/by-run/r3/{digest}.json", json.dumps({"version": 2}).encode())
    registry.store.create("models/churn/2/.claim", b'{"token": "dead"}')
    assert registry.find_registered("churn", "r3", digest) is None
    again = _register(registry, tmp_path, "one", run_id="r3")
    assert again.version == 3 and registry.find_registered("churn", "r3", digest) == again
