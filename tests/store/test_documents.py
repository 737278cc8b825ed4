"""The registry's JSON documents: encoding, decoding, the NAME.json reader, create-or-recognise."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from shipyard.errors import RegistryError
from shipyard.store.documents import (
    create_or_recognise,
    current_actor,
    documents_under,
    dumps,
    iso,
    loads,
    plain,
)
from shipyard.store.local import LocalStore


def test_plain_makes_numpy_paths_dates_and_sets_json():
    copy = plain(
        {
            "n": np.int64(3),
            "x": np.float32(0.5),
            "a": np.arange(2),
            "p": Path("/a"),
            "d": date(2024, 1, 2),
            "s": {2, 1},
        },
        "metrics",
    )
    assert copy == {"n": 3, "x": 0.5, "a": [0, 1], "p": "/a", "d": "2024-01-02", "s": [1, 2]}
    assert type(copy["n"]) is int


def test_plain_names_what_is_wrong():
    with pytest.raises(RegistryError, match="lineage must be a mapping, got list"):
        plain([1], "lineage")
    with pytest.raises(RegistryError, match="params must be JSON-serialisable: object is not JSON-serialisable"):
        plain({"x": object()}, "params")


def test_dumps_is_sorted_utf8_and_loads_reads_it_back():
    data = dumps({"b": 1, "a": "é"})
    assert data.decode("utf-8").index('"a"') < data.decode("utf-8").index('"b"')
    assert loads(data, "here") == {"a": "é", "b": 1}


@pytest.mark.parametrize(
    "data,match", [(b"{", "corrupt registry document k.json: "), (b"[1]", "expected a JSON object")]
)
def test_loads_names_a_corrupt_document(data, match):
    with pytest.raises(RegistryError, match=match):
        loads(data, "k.json")


def test_documents_under_reads_only_direct_json_children(tmp_path):
    store = LocalStore(tmp_path)
    store.write("runs/r/gate.json", b'{"ok": true}')
    store.write("runs/r/notes.txt", b"x")
    store.write("runs/r/nested/deep.json", b"{}")
    assert documents_under(store, "runs/r/") == {"gate": {"ok": True}}
    assert documents_under(store, "runs/none/") == {}


def test_create_or_recognise_accepts_only_its_own_bytes(tmp_path):
    store = LocalStore(tmp_path)
    assert create_or_recognise(store, "c", b"mine")
    assert create_or_recognise(store, "c", b"mine")  # a retried create whose first answer was lost
    assert not create_or_recognise(store, "c", b"theirs")
    assert store.read("c") == b"mine"


def test_iso_keeps_microseconds_in_utc():
    assert iso(datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)) == "2024-01-02T03:04:05.000006Z"


def test_current_actor_prefers_shipyard_actor(monkeypatch):
    monkeypatch.setenv("SHIPYARD_ACTOR", "  ci-job  ")
    assert current_actor() == "ci-job"
    monkeypatch.delenv("SHIPYARD_ACTOR")
    assert "@" in current_actor()
