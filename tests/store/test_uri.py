"""Parsing store URIs: whatever a user types ends in a clear StoreError, never a traceback, and
never echoes credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import StoreError
from shipyard.store import InvalidURI, StoreURI, open_store
from shipyard.store.registry import ModelRegistry


@pytest.fixture
def offline_s3_env(monkeypatch):
    """S3 settings pointing at a closed port: nothing is contacted when a URI is rejected up front."""
    for name in ("AWS_ENDPOINT_URL_S3", "SHIPYARD_S3_SSE", "SHIPYARD_S3_SSE_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket-x/a/../b",
        "s3://bucket-x/..",
        "s3://bucket-x/../x",
        "s3://bucket-x/a/./b",
        "s3://bucket-x/a//b",
        "s3://bucket-x/a\\b",
        "s3://bucket-x/a\x01b",
    ],
)
def test_s3_store_uris_with_traversal_prefixes_are_store_errors(offline_s3_env, uri):
    with pytest.raises(StoreError, match=r"invalid prefix .* in store URI s3://bucket-x/.*'\.\.'"):
        open_store(uri)
    with pytest.raises(StoreError, match="invalid prefix"):
        ModelRegistry.from_uri(uri)


@pytest.mark.parametrize(
    "uri,match",
    [
        ("s3://AKIA:s3cr3t@bucket-x/p", "has user info"),
        ("s3://bucket-x/p?versionId=1", r"'\?' or '#'"),
        ("s3://bucket-x/p#frag", r"'\?' or '#'"),
    ],
)
def test_other_malformed_s3_uris_are_store_errors(offline_s3_env, uri, match):
    with pytest.raises(StoreError, match=match) as err:
        open_store(uri)
    assert "s3cr3t" not in str(err.value)


def test_local_paths_with_dot_dot_name_the_directory_they_resolve_to(tmp_path):
    (tmp_path / "a").mkdir()
    for uri in (f"{tmp_path}/a/../b", f"file://{tmp_path}/a/../b"):
        store = open_store(uri)
        store.write("probe.json", b"{}")
        assert (tmp_path / "b" / "probe.json").read_bytes() == b"{}"  # inside the named directory, not above it


@pytest.mark.parametrize(
    "uri,match",
    [
        ("/tmp/store\x00x", "NUL"),
        ("file://etc/shipyard", "file:///absolute/path"),  # 'etc' would silently be dropped as a host
        ("file://", "file:///absolute/path"),
    ],
)
def test_malformed_local_store_uris_are_store_errors(uri, match):
    with pytest.raises(StoreError, match=match):
        open_store(uri)


def test_file_uris_on_localhost_still_work(tmp_path):
    assert open_store(f"file://localhost{tmp_path}/s").uri == str(tmp_path / "s")


# -- the parsed form ---------------------------------------------------------------------------------


def test_s3_uris_parse_into_bucket_and_key():
    location = StoreURI.parse("s3://bucket-x//models/reg/")
    assert (location.scheme, location.bucket, location.key, location.path) == ("s3", "bucket-x", "models/reg", None)
    assert location.is_s3 and not location.is_local
    assert str(location) == "s3://bucket-x/models/reg"
    assert str(StoreURI.parse("s3://bucket-x")) == str(StoreURI.parse("s3://bucket-x/")) == "s3://bucket-x"
    with pytest.raises(ValueError, match="not a local path"):
        location.local_path  # noqa: B018 - the property raises


def test_s3_keys_are_taken_literally():
    assert StoreURI.parse("s3://b/a%20b/c.csv").key == "a%20b/c.csv"


def test_local_paths_are_absolute_and_never_decoded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert StoreURI.parse("runs/a%20b").local_path == tmp_path / "runs" / "a%20b"
    assert StoreURI.parse("~/store").local_path == tmp_path / "home" / "store"
    assert str(StoreURI.parse("runs")) == str(tmp_path / "runs")
    assert StoreURI.parse("runs").is_local and not StoreURI.parse("runs").is_s3


@pytest.mark.parametrize(
    "uri,path",
    [
        ("file:///data/a%20b/c%25.csv", "/data/a b/c%.csv"),
        ("file://localhost/data/x", "/data/x"),
        ("file:///data/", "/data"),
    ],
)
def test_file_uris_are_percent_decoded_paths(uri, path):
    location = StoreURI.parse(uri)
    assert location.scheme == "file" and location.local_path == Path(path) and str(location) == path


def test_file_uris_with_a_query_or_fragment_are_refused():
    with pytest.raises(InvalidURI, match=r"'\?' or '#'"):
        StoreURI.parse("file:///data/x?y")


def test_parent_and_name():
    data = StoreURI.parse("s3://b/data/train.csv")
    assert data.name == "train.csv" and str(data.parent) == "s3://b/data"
    assert str(data.parent.parent) == "s3://b" and data.parent.parent.name == ""
    local = StoreURI.parse("/srv/data/train.csv")
    assert local.name == "train.csv" and str(local.parent) == "/srv/data"
    assert str(StoreURI.parse("/").parent) == "/" and StoreURI.parse("/").name == ""


def test_resolved_follows_dot_dot_and_symlinks_for_local_paths_only(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert StoreURI.parse(f"{tmp_path}/link/../real/x").resolved().local_path == tmp_path / "real" / "x"
    assert StoreURI.parse(f"{tmp_path}/link").resolved().local_path == tmp_path / "real"
    s3 = StoreURI.parse("s3://b/p")
    assert s3.resolved() is s3


@pytest.mark.parametrize(
    "uri,reason",
    [
        ("", "the URI is empty"),
        ("s3://", "expected s3://bucket[/key]"),
        ("s3://b/a/../c", "the key must be a plain 'a/b/c' path"),
        ("s3://user:pw@b/c", "it has user info"),
        ("file://host/x", "a file URI must be file:///absolute/path"),
        ("/tmp/a\x00b", "it contains a NUL character"),
    ],
)
def test_every_refusal_carries_a_reason_without_the_uri(uri, reason):
    with pytest.raises(InvalidURI) as err:
        StoreURI.parse(uri)
    assert err.value.reason.startswith(reason) and "pw" not in err.value.reason
    assert isinstance(err.value, StoreError) and "pw" not in str(err.value)
