"""The ObjectStore contract, run against both backends (a directory and S3 via moto), and key checks."""

from __future__ import annotations

import os

import pytest

from shipyard.errors import StoreError
from shipyard.store import NotFound, ObjectStore, open_store
from shipyard.store.base import redact_url


@pytest.fixture
def store(store_uri) -> ObjectStore:
    return open_store(store_uri)


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


def test_redact_url():
    assert redact_url("ftp://user:pass@host") == "ftp://***@host"
    assert redact_url("http://u:p@host:9000/x") == "http://***@host:9000/x"
    assert redact_url("user:pass@host") == "***@host"
    assert redact_url("http://host:9000") == "http://host:9000"
