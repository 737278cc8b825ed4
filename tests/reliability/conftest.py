"""Shared pieces of the fault and secret-scan tests: the CLI as a real process, moto, a killable endpoint.

Every ``shipyard`` call here is a separate process (``python -m shipyard.cli.main``), started in its
own process group, with the environment a user would give it, so signals, exit codes, stdout and
stderr are the real ones, and kfp.local's task subprocesses inherit that environment.

The S3 server is ``moto_server`` (the project's stand-in for MinIO/SeaweedFS; see
tests/store/conftest.py for what it does not emulate). The CLI does not talk to it directly but to
:class:`Endpoint`, a small TCP relay in its own process that can kill itself (SIGKILL) the moment a
chosen request arrives, before forwarding a byte of it. moto keeps its data in memory, so killing
moto itself would wipe the store and leave nothing to inspect afterwards; killing the endpoint
process the CLI knows is the same fault seen from the client (connections reset, then refused)
while the objects written before it stay for the test to check, and a new relay on the same port
is "the server is back".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.store.conftest import MotoServer, free_port

ROOT = Path(__file__).resolve().parents[2]

# Distinctive values, so a hit in any output can only be a leak of these test credentials.
ACCESS_KEY = "SYTESTAKIDQ7ZK4PLEAKCHECK"
SECRET_KEY = "sy-test-secret-9f3c7e1b5a2d4c6e8f0a1b3c5d7e9f11-never-print"
WEBHOOK_TOKEN = "T0SYTEST/B0SYTEST/sywebhooktoken7Qp2Lx9Vb4"

RELAY = textwrap.dedent(
    """
    import os, re, signal, socket, sys, threading

    listen_port, target_port, pattern = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
    trigger = re.compile(pattern) if pattern else None
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(64)
    print("listening", flush=True)

    def pipe(src, dst, upstream):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream and trigger is not None and trigger.search(data):
                    sys.stderr.write("killed at: " + data.split(b"\\r\\n", 1)[0].decode("latin-1") + "\\n")
                    sys.stderr.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    while True:
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pipe, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, False), daemon=True).start()
    """
)


class Endpoint:
    """The S3 endpoint the CLI is given: a relay process in front of moto, killed on a chosen request."""

    def __init__(self, moto: MotoServer, workdir: Path) -> None:
        self.moto, self.port = moto, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script = workdir / "relay.py"
        self.script.write_text(RELAY, encoding="utf-8")
        self.stderr_path = workdir / "relay.stderr"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, kill_on: str = "") -> None:
        """Listens on the endpoint's port; with ``kill_on`` (a regex over request bytes) SIGKILLs itself on it."""
        self.stop()
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(self.script), str(self.port), str(self.moto.port), kill_on],
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"listening"

    def killed(self) -> bool:
        return self.process is not None and self.process.poll() == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class CliRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def cli_env(home: Path, endpoint_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a user who set shipyard's S3 variables (and nothing of AWS's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHIPYARD_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONUNBUFFERED="1", SHIPYARD_ACTOR="tester@ci")
    if endpoint_url:
        env.update(
            SHIPYARD_S3_ENDPOINT_URL=endpoint_url,
            SHIPYARD_S3_ACCESS_KEY_ID=ACCESS_KEY,
            SHIPYARD_S3_SECRET_ACCESS_KEY=SECRET_KEY,
            SHIPYARD_S3_REGION="us-east-1",
        )
    env.update(extra)
    return env


def start_cli(*args: str, env: dict[str, str], **popen) -> subprocess.Popen[str]:
    """``shipyard ARGS`` as its own process group (so a test can kill it and every task it started)."""
    return subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        env=env,
        cwd=env["HOME"],
        text=True,
        start_new_session=True,
        **popen,
    )


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> CliRun:
    process = start_cli(*args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"shipyard {' '.join(args)} still running after {timeout} s\n{stderr[-2000:]}")
    return CliRun(list(args), process.returncode, stdout, stderr)


def wait_for(condition, timeout: float, what: str, interval: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def moto():
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> dict[str, Path]:
    """A training table and a drifted next period (with the target, so decay is scored too)."""
    from shipyard.data.synthetic import write_demo_dataset

    root = tmp_path_factory.mktemp("data")
    return {
        "train": write_demo_dataset(root / "churn.csv", n_rows=400, seed=1, task="classification"),
        "drifted": write_demo_dataset(root / "drifted.csv", n_rows=400, seed=2, task="classification", drift=0.6),
    }


@dataclass
class S3Setup:
    moto: MotoServer
    endpoint: Endpoint
    store: str
    home: Path
    data: dict[str, Path]
    training: CliRun

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.home, self.endpoint.url, **extra)


@pytest.fixture(scope="session")
def s3_trained(moto, demo_data, tmp_path_factory) -> S3Setup:
    """A store on moto (through the endpoint relay) with `churn` v1 trained, registered and in production."""
    import uuid

    home = tmp_path_factory.mktemp("home")
    endpoint = Endpoint(moto, home)
    endpoint.start()
    store = f"s3://sy-reliability-{uuid.uuid4().hex[:10]}/shipyard"
    _make_bucket(moto, store)
    training = run_cli(
        "run", "training", "--data", str(demo_data["train"]), "--target", "churned", "--model", "churn",
        "--store", store, env=cli_env(home, endpoint.url),
    )  # fmt: skip
    assert training.returncode == 0, training.stderr[-3000:]
    try:
        yield S3Setup(moto, endpoint, store, home, demo_data, training)
    finally:
        endpoint.stop()


def _make_bucket(moto: MotoServer, store: str) -> None:
    from minio import Minio

    bucket = store.removeprefix("s3://").split("/", 1)[0]
    Minio(f"127.0.0.1:{moto.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False).make_bucket(bucket)


def store_objects(setup: S3Setup, prefix: str = "") -> dict[str, bytes]:
    """Every object under the store (straight from moto, not through the relay), key -> bytes."""
    from minio import Minio

    bucket, _, root = setup.store.removeprefix("s3://").partition("/")
    client = Minio(f"127.0.0.1:{setup.moto.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
    out = {}
    for obj in client.list_objects(bucket, prefix=f"{root}/{prefix}", recursive=True):
        response = client.get_object(bucket, obj.object_name)
        try:
            out[obj.object_name.removeprefix(f"{root}/")] = response.read()
        finally:
            response.close()
            response.release_conn()
    return out
