"""The ObjectStore contract, run against both backends (a directory and S3 via moto)."""

from __future__ import annotations

import os

import pytest

from shipyard.errors import StoreError
from shipyard.store import NotFound, ObjectStore, open_store
from shipyard.store.local import LocalStore


@pytest.fixture
def store(store_uri) -> ObjectStore:
    return open_store(store_uri)


def test_open_store_picks_the_backend(store, store_uri, backend):
    assert isinstance(store, ObjectStore)
    assert type(store).__name__ == {"local": "LocalStore", "s3": "S3Store"}[backend]
    assert store.uri == (os.path.abspath(store_uri) if backend == "local" else store_uri)


def test_read_write_roundtrip_and_replace(store):
    store.write("a/b/c.bin", b"one")
    assert store.read("a/b/c.bin") == b"one"
    store.write("a/b/c.bin", b"two")
    assert store.read("a/b/c.bin") == b"two"
    assert store.exists("a/b/c.bin")
    assert not store.exists("a/b/missing")


def test_missing_key_is_not_found(store):
    with pytest.raises(NotFound, match="nothing/here"):
        store.read("nothing/here")
    assert issubclass(NotFound, StoreError)


def test_create_writes_only_when_absent(store):
    """The race-free primitive behind version numbers: the second create must lose."""
    assert store.create("claims/1", b"first") is True
    assert store.create("claims/1", b"second") is False
    assert store.read("claims/1") == b"first"


def test_replace_if_is_a_compare_and_swap(store):
    store.write("alias.json", b"v1")
    data, token = store.read_with_token("alias.json")
    assert data == b"v1"
    store.write("alias.json", b"v2")  # someone else moved it
    assert store.replace_if("alias.json", b"v3", token) is False
    assert store.read("alias.json") == b"v2"
    _, fresh = store.read_with_token("alias.json")
    assert store.replace_if("alias.json", b"v3", fresh) is True
    assert store.read("alias.json") == b"v3"
    assert store.replace_if("alias.json", b"v4", fresh) is False  # the token is single-use
    store.delete("alias.json")
    assert store.replace_if("alias.json", b"v5", fresh) is False  # vanished objects never come back
    assert not store.exists("alias.json")


def test_list_is_sorted_and_prefix_filtered(store):
    for key in ["m/b/2", "m/a/1", "m/a/10", "other/x", "m/ab"]:
        store.write(key, b"x")
    assert store.list("m/a/") == ["m/a/1", "m/a/10"]
    assert store.list("m/a") == ["m/a/1", "m/a/10", "m/ab"]
    assert store.list("") == ["m/a/1", "m/a/10", "m/ab", "m/b/2", "other/x"]
    assert store.list("nope/") == []


def test_delete_is_idempotent(store):
    store.write("d/x", b"1")
    store.delete("d/x")
    store.delete("d/x")
    assert not store.exists("d/x")
    assert store.list("d/") == []


def test_write_file_and_read_file_stream_files(store, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(256 * 1024))
    store.write_file("files/big.bin", source)
    dest = tmp_path / "copy.bin"
    store.read_file("files/big.bin", dest)
    assert dest.read_bytes() == source.read_bytes()
    with pytest.raises(NotFound):
        store.read_file("files/absent.bin", tmp_path / "absent")


def test_uri_for_names_objects_and_directories(store, backend):
    if backend == "local":
        assert store.uri_for("models/m/1/") == os.path.join(store.uri, "models", "m", "1") + "/"
        assert store.uri_for("models/m/1/model.joblib") == os.path.join(store.uri, "models/m/1/model.joblib")
    else:
        assert store.uri_for("models/m/1/") == store.uri + "/models/m/1/"
        assert store.uri_for("models/m/1/model.joblib").startswith("s3://shipyard-test-")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "../x", "a//b", "a/./b", "a\\b", "a/\x00"])
def test_keys_that_could_escape_the_root_are_rejected(store, key):
    with pytest.raises(ValueError, match="invalid store key"):
        store.write(key, b"x")


def test_open_store_accepts_file_uris_and_rejects_unknown_schemes(tmp_path):
    assert open_store(f"file://{tmp_path}/s").uri == str(tmp_path / "s")
    with pytest.raises(StoreError, match="gs://"):
        open_store("gs://bucket/x")
    with pytest.raises(StoreError, match="empty"):
        open_store("  ")


def test_local_temp_files_and_locks_stay_invisible(tmp_path):
    store = LocalStore(tmp_path / "root")
    store.write("a.json", b"1")
    (tmp_path / "root" / ".staging" / "tmp-left-by-a-killed-writer").write_bytes(b"partial")
    _, token = store.read_with_token("a.json")
    assert store.replace_if("a.json", b"2", token)
    assert store.list("") == ["a.json"]
    assert store.list(".") == []
    with pytest.raises(ValueError, match="reserved"):
        store.read(".staging/tmp-left-by-a-killed-writer")


def test_local_errors_name_the_path_and_the_fix(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"a file where the store root should be")
    store = LocalStore(blocker)
    with pytest.raises(
        StoreError, match=r"cannot write 'y' in local store .*not-a-directory.*check that the directory"
    ):
        store.write("y", b"2")
    assert blocker.read_bytes().startswith(b"a file")
