"""The S3 adapter: settings from the environment, conditional writes, SSE, errors, timeouts."""

from __future__ import annotations

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shipyard.errors import ConfigError, StoreError
from shipyard.store import open_store
from shipyard.store import s3 as s3_module
from shipyard.store.s3 import S3Settings, S3Store, s3_settings_from_env
from tests.store.conftest import ACCESS_KEY, SECRET_KEY, call_within, free_port, fresh_bucket

# -- settings (no server needed) -----------------------------------------------------------------


def test_settings_default_to_aws_with_tls():
    settings = s3_settings_from_env({})
    assert settings.endpoint_url == "https://s3.amazonaws.com" and settings.secure
    assert settings.region is None and settings.access_key is None and settings.sse is None


def test_settings_from_env_for_a_plain_http_endpoint():
    settings = s3_settings_from_env(
        {
            "AWS_ENDPOINT_URL": "http://seaweedfs.kubeflow:9000/",
            "AWS_ACCESS_KEY_ID": "AKIA",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t",
            "AWS_SESSION_TOKEN": "tok",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "SHIPYARD_S3_SSE": "aws:kms",
            "SHIPYARD_S3_SSE_KMS_KEY_ID": "alias/models",
        }
    )
    assert settings.endpoint_url == "http://seaweedfs.kubeflow:9000"
    assert not settings.secure and settings.host == "seaweedfs.kubeflow:9000"
    assert settings.region == "eu-west-1" and settings.session_token == "tok"
    assert settings.sse == "aws:kms" and settings.sse_kms_key_id == "alias/models"
    assert "s3cr3t" not in repr(settings) and "AKIA" not in repr(settings) and "tok" not in repr(settings)


def test_service_specific_endpoint_wins_and_non_aws_endpoints_get_a_region():
    settings = s3_settings_from_env({"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "https://b:2"})
    assert settings.endpoint_url == "https://b:2" and settings.secure and settings.region == "us-east-1"


@pytest.mark.parametrize(
    "env,match",
    [
        ({"AWS_ENDPOINT_URL": "minio:9000"}, "AWS_ENDPOINT_URL"),
        ({"AWS_ENDPOINT_URL": "http://minio:9000/bucket"}, "no path"),
        ({"SHIPYARD_S3_SSE": "rot13"}, "SHIPYARD_S3_SSE"),
        ({"SHIPYARD_S3_SSE_KMS_KEY_ID": "k"}, "aws:kms"),
        ({"AWS_ACCESS_KEY_ID": "only-the-id"}, "both"),
    ],
)
def test_bad_settings_name_the_variable(env, match):
    with pytest.raises(ConfigError, match=match):
        s3_settings_from_env(env)


def test_endpoint_url_with_user_info_is_rejected_without_echoing_it():
    with pytest.raises(ConfigError) as err:
        s3_settings_from_env({"AWS_ENDPOINT_URL": "http://user:hunter2@minio:9000"})
    assert "hunter2" not in str(err.value)


def test_invalid_bucket_is_a_store_error():
    with pytest.raises(StoreError, match="invalid S3 bucket name"):
        S3Store("x", "", S3Settings(endpoint_url="http://127.0.0.1:1"))


# -- against moto --------------------------------------------------------------------------------


@pytest.fixture
def s3_store(s3_env):
    return open_store(f"s3://{fresh_bucket()}/p")


@pytest.mark.s3
def test_moto_enforces_conditional_puts_at_the_protocol_level(s3_store):
    """The raw requests the store sends: moto answers 412 when a condition is violated."""
    from minio.error import S3Error

    client, bucket = s3_store._client, s3_store.bucket
    client.make_bucket(bucket)
    first = client._put_object(bucket, "k", b"v1", {"If-None-Match": "*"})
    with pytest.raises(S3Error) as err:
        client._put_object(bucket, "k", b"v2", {"If-None-Match": "*"})
    assert (err.value.code, err.value.response.status) == ("PreconditionFailed", 412)
    with pytest.raises(S3Error) as err:
        client._put_object(bucket, "k", b"v2", {"If-Match": '"0123456789abcdef0123456789abcdef"'})
    assert (err.value.code, err.value.response.status) == ("PreconditionFailed", 412)
    client._put_object(bucket, "k", b"v3", {"If-Match": f'"{first.etag}"'})
    assert client.get_object(bucket, "k").data == b"v3"


@pytest.mark.s3
def test_minio_public_put_object_would_turn_the_condition_into_metadata(s3_store):
    """Why the adapter uses Minio._put_object: put_object renames If-None-Match to X-Amz-Meta-If-None-Match."""
    client, bucket = s3_store._client, s3_store.bucket
    client.make_bucket(bucket)
    client.put_object(bucket, "k", io.BytesIO(b"v1"), 2)
    client.put_object(bucket, "k", io.BytesIO(b"v2"), 2, metadata={"If-None-Match": "*"})  # no 412!
    stat = client.stat_object(bucket, "k")
    assert client.get_object(bucket, "k").data == b"v2"
    assert stat.metadata.get("x-amz-meta-if-none-match") == "*"


@pytest.mark.s3
def test_an_endpoint_ignoring_conditional_writes_is_refused(s3_store, monkeypatch):
    monkeypatch.setattr(s3_module, "IF_NONE_MATCH", "X-Shipyard-Ignored-By-The-Server")
    with pytest.raises(StoreError, match="does not enforce S3 conditional writes"):
        s3_store.create("claims/1", b"x")
    assert s3_store.list("") == []  # the probe cleaned up after itself


@pytest.mark.s3
def test_bucket_is_created_once_and_a_concurrent_creator_is_tolerated(s3_env):
    bucket = fresh_bucket()
    first, second = open_store(f"s3://{bucket}"), open_store(f"s3://{bucket}/other")
    first.write("a", b"1")
    second._client.bucket_exists = lambda name: False  # as if it lost the race to `first`
    second.write("b", b"2")
    assert first.list("") == ["a", "other/b"]


@pytest.mark.s3
@pytest.mark.parametrize("sse,kms_key,expected", [("AES256", None, "AES256"), ("aws:kms", "alias/k", "aws:kms")])
def test_server_side_encryption_is_requested_on_every_write(s3_env, monkeypatch, tmp_path, sse, kms_key, expected):
    monkeypatch.setenv("SHIPYARD_S3_SSE", sse)
    if kms_key:
        monkeypatch.setenv("SHIPYARD_S3_SSE_KMS_KEY_ID", kms_key)
    store = open_store(f"s3://{fresh_bucket()}/enc")
    source = tmp_path / "f.bin"
    source.write_bytes(b"model")
    store.write("w", b"1")
    store.write_file("wf", source)
    store.create("c", b"1")
    _, token = store.read_with_token("c")
    assert store.replace_if("c", b"2", token)
    for key in ["w", "wf", "c"]:
        stat = store._client.stat_object(store.bucket, f"enc/{key}")
        assert stat.metadata.get("x-amz-server-side-encryption") == expected, key


# -- unreachable endpoints -------------------------------------------------------------------------


def _assert_clear_and_secret_free(err: StoreError, endpoint: str, bucket: str) -> None:
    message = str(err)
    assert endpoint in message and bucket in message and "check AWS_ENDPOINT_URL" in message
    assert SECRET_KEY not in message and ACCESS_KEY not in message and "object at 0x" not in message


def _settings(endpoint: str, **kw) -> S3Settings:
    return S3Settings(endpoint_url=endpoint, region="us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY, **kw)


def test_a_dead_endpoint_fails_fast_with_a_clear_error():
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = S3Store("models-bucket", "reg", _settings(endpoint))
    error = call_within(5, store.write, "k", b"x")
    assert isinstance(error, StoreError), error
    _assert_clear_and_secret_free(error, endpoint, "models-bucket")
    assert "connection refused" in str(error)
    assert SECRET_KEY not in repr(store) and ACCESS_KEY not in repr(store)


def test_an_endpoint_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections into the backlog, never answers
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        store = S3Store("models-bucket", "", _settings(endpoint, connect_timeout=0.5, read_timeout=0.5))
        error = call_within(5, store.read, "k")
        assert isinstance(error, StoreError), error
        _assert_clear_and_secret_free(error, endpoint, "models-bucket")
    finally:
        listener.close()


def test_an_endpoint_answering_5xx_is_a_store_error():
    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_PUT = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        error = call_within(5, S3Store("models-bucket", "", _settings(endpoint)).read, "k")
        assert isinstance(error, StoreError), error
        _assert_clear_and_secret_free(error, endpoint, "models-bucket")
        assert "server errors" in str(error)
    finally:
        server.shutdown()
        server.server_close()


# -- endpoints and credentials in messages -------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["http://minio:abc", "http://minio:99999", "http://[::1"])
def test_unparseable_endpoints_are_config_errors(endpoint):
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL"):
        s3_settings_from_env({"AWS_ENDPOINT_URL": endpoint})


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


def test_settings_built_in_code_with_user_info_never_show_it():
    settings = S3Settings(endpoint_url="http://alice:hunter2@127.0.0.1:1", region="us-east-1")
    store = S3Store("bucket-x", "p", settings)
    assert "hunter2" not in repr(store) and "***@127.0.0.1:1" in repr(store)
    with pytest.raises(StoreError) as err:
        store.read("a.json")  # nothing listens on port 1: "cannot reach" names the endpoint
    assert "hunter2" not in str(err.value) and "***@127.0.0.1:1" in str(err.value)
