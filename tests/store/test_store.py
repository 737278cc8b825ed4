"""The front door: open_store picks a backend by scheme, and falls back to SHIPYARD_STORE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import shipyard.store
from shipyard.errors import StoreError
from shipyard.store import BACKENDS, InvalidURI, ObjectStore, StoreURI, open_store
from shipyard.store.local import LocalStore


@pytest.fixture
def store(store_uri) -> ObjectStore:
    return open_store(store_uri)


def test_open_store_picks_the_backend(store, store_uri, backend):
    assert isinstance(store, ObjectStore)
    assert type(store).__name__ == {"local": "LocalStore", "s3": "S3Store"}[backend]
    assert store.uri == (os.path.abspath(store_uri) if backend == "local" else store_uri)


def test_open_store_accepts_file_uris_and_rejects_unknown_schemes(tmp_path):
    assert open_store(f"file://{tmp_path}/s").uri == str(tmp_path / "s")
    with pytest.raises(StoreError, match="gs://"):
        open_store("gs://bucket/x")
    with pytest.raises(StoreError, match="empty"):
        open_store("  ")


def test_an_empty_uri_uses_shipyard_store(monkeypatch, tmp_path):
    monkeypatch.setenv("SHIPYARD_STORE", str(tmp_path / "from-env"))
    store = open_store("")
    store.write("probe.json", b"{}")
    assert (tmp_path / "from-env" / "probe.json").exists()


def test_an_empty_uri_without_shipyard_store_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SHIPYARD_STORE", raising=False)
    with pytest.raises(StoreError, match="SHIPYARD_STORE is not set"):
        open_store("  ")


class _MemoryStore(LocalStore):
    """A stand-in third backend: any class with ``from_location`` that implements ObjectStore."""

    @classmethod
    def from_location(cls, location: StoreURI) -> _MemoryStore:
        return cls(Path(os.environ["MEMORY_STORE_ROOT"]) / location.bucket / location.key)


def test_a_backend_is_one_line_in_the_table(monkeypatch, tmp_path):
    monkeypatch.setitem(BACKENDS, "mem", f"{__name__}:_MemoryStore")
    monkeypatch.setenv("MEMORY_STORE_ROOT", str(tmp_path))
    store = open_store("mem://bucket/prefix")
    assert isinstance(store, _MemoryStore) and isinstance(store, ObjectStore)
    store.write("k", b"v")
    assert (tmp_path / "bucket" / "prefix" / "k").read_bytes() == b"v"


def test_unknown_schemes_name_the_scheme_and_carry_a_reason():
    with pytest.raises(InvalidURI, match=r"unsupported store URI scheme 'gs://' in 'gs://b/x'") as err:
        open_store("gs://b/x")
    assert err.value.reason.startswith("unsupported URI scheme 'gs://'")


def test_opening_a_local_store_never_imports_minio():
    code = (
        "import sys, tempfile\n"
        "from shipyard.store import open_store\n"
        "from shipyard.store.registry import ModelRegistry\n"
        "ModelRegistry(open_store(tempfile.mkdtemp())).list_models()\n"
        "assert 'minio' not in sys.modules and 'shipyard.store.s3' not in sys.modules, 'minio was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_interface_imports_no_backend_and_the_store_layer_knows_no_data_errors():
    store_dir = Path(shipyard.store.__file__).parent
    base = (store_dir / "base.py").read_text()
    assert "shipyard.store.local" not in base and "shipyard.store.s3" not in base
    for module in store_dir.glob("*.py"):
        assert "DataValidationError" not in module.read_text(), module.name
