"""An empty store URI means $SHIPYARD_STORE: what a pipeline submitted without one uses on a cluster."""

import pytest

from shipyard.errors import StoreError
from shipyard.store import open_store


def test_an_empty_uri_uses_shipyard_store(monkeypatch, tmp_path):
    monkeypatch.setenv("SHIPYARD_STORE", str(tmp_path / "from-env"))
    store = open_store("")
    store.write("probe.json", b"{}")
    assert (tmp_path / "from-env" / "probe.json").exists()


def test_an_empty_uri_without_shipyard_store_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SHIPYARD_STORE", raising=False)
    with pytest.raises(StoreError, match="SHIPYARD_STORE is not set"):
        open_store("  ")
