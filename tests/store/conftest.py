"""Fixtures for the store and registry suite: one suite, two backends (a directory and S3).

S3 runs against ``moto_server``, started here as a subprocess on 127.0.0.1. It is the
closest real-protocol stand-in available: no MinIO (or SeaweedFS) server is installable
from the reachable registries, while moto speaks S3 over real HTTP, so the ``minio``
client, its signing, retries, error parsing and our timeouts are all exercised for real.
moto 5.2.5 enforces the two conditional writes the registry relies on (``If-None-Match: *``
and ``If-Match: <etag>`` on PutObject answer 412 PreconditionFailed; ``If-Match`` on a
missing key answers 404 NoSuchKey).

What moto does NOT emulate, and so what these tests cannot prove:

* persistence: everything is in memory, so a killed server comes back empty (the crash
  tests therefore inject failures with a store wrapper and use a real kill only to check
  that the caller gets a prompt, clear StoreError);
* atomicity of conditional writes under truly simultaneous requests: moto checks the
  condition and then stores the object in separate steps without a lock (its threaded
  werkzeug server can in principle interleave two requests between them). AWS S3, MinIO
  and recent SeaweedFS make the check atomic. In practice the window is microseconds;
  8 processes x 200 races showed no double winner;
* 409 ConditionalRequestConflict (S3's answer to a write racing a conditional write);
* authentication and authorisation: any credentials are accepted, bucket policies and
  IAM are not checked, so AccessDenied paths are not exercised;
* server-side encryption: SSE headers are recorded and echoed, nothing is encrypted, and
  KMS keys are not checked; TLS is off (plain http);
* consistency and timing of a real service: every read is immediately consistent, there
  are no 503 SlowDown answers, throttling or regional redirects.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from shipyard.store.local import LocalStore
from shipyard.store.registry import ModelRegistry

ACCESS_KEY = "shipyard-test-access"
SECRET_KEY = "shipyard-test-secret-do-not-print"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """A ``moto_server`` subprocess on a free local port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).parent / "moto_server"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
        self.process = subprocess.Popen(
            [*cmd, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto_server did not start listening within 20 s")

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def moto_server():
    """One moto S3 server for the whole session; each test uses its own bucket."""
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(moto_server, monkeypatch):
    """Points the S3 settings (read from the environment) at the session's moto server."""
    for name in (
        "AWS_ENDPOINT_URL_S3",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "SHIPYARD_S3_SSE",
        "SHIPYARD_S3_SSE_KMS_KEY_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return moto_server


def call_within(seconds: float, function, *args):
    """Runs ``function(*args)`` in a daemon thread; fails the test if it has not finished in time.

    Returns the exception it raised (or None). A hung call cannot hang the suite: the thread is
    a daemon and is abandoned.
    """
    outcome: dict = {}

    def run():
        try:
            function(*args)
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(function, '__name__', function)} still running after {seconds} s: it hangs")
    return outcome["error"]


def fresh_bucket() -> str:
    return f"shipyard-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_uri(request, tmp_path) -> str:
    """A fresh, empty store root for each backend: a directory, or a new bucket + prefix."""
    if request.param == "local":
        return str(tmp_path / "store")
    request.getfixturevalue("s3_env")
    return f"s3://{fresh_bucket()}/registry"


@pytest.fixture
def backend(store_uri) -> str:
    return "s3" if store_uri.startswith("s3://") else "local"


@pytest.fixture
def registry(store_uri) -> ModelRegistry:
    return ModelRegistry.from_uri(store_uri)


@pytest.fixture
def local_registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(LocalStore(tmp_path / "store"))


@pytest.fixture(autouse=True)
def _fixed_actor(monkeypatch):
    monkeypatch.setenv("SHIPYARD_ACTOR", "tester@ci")


@pytest.fixture
def model_file(tmp_path):
    """Makes small joblib model files with distinct content."""
    import joblib

    counter = iter(range(10_000))

    def make(payload: object = None) -> Path:
        index = next(counter)
        path = tmp_path / "models" / f"model-{index}.joblib"
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"weights": [index, 1.5, 2.5], "payload": payload}, path)
        return path

    return make


LINEAGE = {
    "data_uri": "s3://data/churn.csv",
    "data_hash": "abc123",
    "data_contract": "runs/r1/contract.json",
    "code_version": "git:deadbeef",
    "parent_version": None,
    "task": "classification",
    "target": "churned",
    "classes": ["no", "yes"],
    "feature_columns": ["age", "plan"],
    "extra_field": {"kept": True},
}


def register(registry: ModelRegistry, model_file, name: str = "churn", run_id: str = "run-1", **metrics):
    return registry.register_version(
        name,
        model_file(),
        metrics=metrics or {"accuracy": 0.9},
        params={"estimator": "linear"},
        lineage=LINEAGE,
        run_id=run_id,
    )
