"""Whatever a user types as a store URI or an S3 endpoint ends in a clear shipyard error, never a
traceback, and never echoes credentials."""

from __future__ import annotations

import pytest

from shipyard.errors import ConfigError, DataValidationError, StoreError
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry
from shipyard.store.s3 import S3Settings, S3Store, s3_settings_from_env
from shipyard.stages.source import data_file_exists, read_data_file


@pytest.fixture
def offline_s3_env(monkeypatch):
    """S3 settings pointing at a closed port: nothing is contacted when a URI is rejected up front."""
    for name in ("AWS_ENDPOINT_URL_S3", "SHIPYARD_S3_SSE", "SHIPYARD_S3_SSE_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")


# -- fix: traversal and malformed prefixes are StoreErrors ---------------------------------------


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


@pytest.mark.parametrize("uri", ["s3://bucket-x/a/../data.csv", "s3://bucket-x/a//data.csv"])
def test_s3_data_uris_with_traversal_are_data_errors(offline_s3_env, uri):
    with pytest.raises(DataValidationError, match="plain 'a/b/c' path"):
        data_file_exists(uri)
    with pytest.raises(DataValidationError, match="plain 'a/b/c' path"):
        read_data_file(uri)


@pytest.mark.parametrize("endpoint", ["http://minio:abc", "http://minio:99999", "http://[::1"])
def test_unparseable_endpoints_are_config_errors(endpoint):
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL"):
        s3_settings_from_env({"AWS_ENDPOINT_URL": endpoint})


# -- fix: endpoints never echo user info ----------------------------------------------------------


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://alice:hunter2@host",  # wrong scheme: the first check, which used to echo the URL
        "http://alice:hunter2@host:9000",
        "https://alice:hunter2@host/path",
        "http://alice:hunter2@host:abc",  # unparseable port
        "http://alice:hunter2@[::1",  # unparseable host
        "alice:hunter2@host",  # no scheme at all
        "http://alice:hun/ter2@host",  # a password with a slash
        "http://alice:hunter2/x@host",  # ...which puts the password where urlparse looks for a port
    ],
)
def test_endpoint_errors_never_echo_user_info(variable, endpoint):
    with pytest.raises(ConfigError) as err:
        s3_settings_from_env({variable: endpoint})
    message = str(err.value)
    assert "hunter2" not in message and "ter2" not in message and "alice" not in message, message
    assert "***@" in message and variable in message


def test_redact_url():
    from shipyard.store.base import redact_url

    assert redact_url("ftp://user:pass@host") == "ftp://***@host"
    assert redact_url("http://u:p@host:9000/x") == "http://***@host:9000/x"
    assert redact_url("user:pass@host") == "***@host"
    assert redact_url("http://host:9000") == "http://host:9000"


def test_settings_built_in_code_with_user_info_never_show_it():
    settings = S3Settings(endpoint_url="http://alice:hunter2@127.0.0.1:1", region="us-east-1")
    store = S3Store("bucket-x", "p", settings)
    assert "hunter2" not in repr(store) and "***@127.0.0.1:1" in repr(store)
    with pytest.raises(StoreError) as err:
        store.read("a.json")  # nothing listens on port 1: "cannot reach" names the endpoint
    assert "hunter2" not in str(err.value) and "***@127.0.0.1:1" in str(err.value)
