"""The S3 endpoint goes down in the middle of a register, comes back, and the registry is intact.

moto keeps its data in memory, so killing the moto process itself would also erase the registry
and leave nothing to inspect afterwards. Instead a TCP proxy stands between the client and moto
and is killed: every open connection is reset mid-transfer and new ones are refused, which is what
a client sees when a MinIO/SeaweedFS pod dies; restarting the proxy on the same port is the pod
coming back with its disk. This is still a stand-in: it does not show what a real server persists
of a half-received object (S3 servers store an object only once its PUT completes).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from shipyard.errors import StoreError
from shipyard.store.registry import ModelRegistry
from shipyard.store.s3 import S3Settings, S3Store
from tests.store.conftest import ACCESS_KEY, SECRET_KEY, call_within, fresh_bucket

pytestmark = pytest.mark.s3

MODEL_BYTES = 4 * 1024 * 1024


class KillableProxy:
    """Forwards 127.0.0.1:port to the S3 server; ``kill()`` resets every connection at once.

    With ``cut_after`` set, it kills itself once that many request bytes went upstream, i.e. in
    the middle of a large upload.
    """

    def __init__(self, target_port: int, port: int = 0):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.upstream_bytes = 0
        self.cut_after: int | None = None
        self.killed = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.killed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if to_server:
                    with self.lock:
                        self.upstream_bytes += len(chunk)
                        cut = self.cut_after is not None and self.upstream_bytes >= self.cut_after
                    if cut:
                        self.kill()
                        return
                sink.sendall(chunk)
        except OSError:
            pass

    def kill(self) -> None:
        self.killed.set()
        for sock in [self.listener, *self.sockets]:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()  # linger 0: the peer gets a reset, as when a server process dies
            except OSError:
                pass


def registry_through(proxy: KillableProxy, bucket: str) -> ModelRegistry:
    settings = S3Settings(
        endpoint_url=f"http://127.0.0.1:{proxy.port}", region="us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )
    return ModelRegistry(S3Store(bucket, "registry", settings))


@pytest.mark.parametrize("cut", ["mid-upload", "after-upload"])
def test_endpoint_dies_mid_register_and_the_registry_is_intact_when_it_returns(moto_server, tmp_path: Path, cut):
    bucket = fresh_bucket()
    proxy = KillableProxy(moto_server.port)
    registry = registry_through(proxy, bucket)
    first = tmp_path / "v1.joblib"
    first.write_bytes(b"champion")
    registry.register_version("churn", first, metrics={"accuracy": 0.9}, params={}, lineage={}, run_id="r1")
    registry.set_alias("churn", "production", 1)
    before_audit = registry.audit_log("churn")

    challenger = tmp_path / "v2.joblib"
    challenger.write_bytes(os.urandom(MODEL_BYTES))
    if cut == "mid-upload":
        proxy.cut_after = proxy.upstream_bytes + MODEL_BYTES // 2  # half of the model's bytes sent
    else:
        # The upload completes; the endpoint dies before metadata.json can be written.
        original = registry.store.write_file

        def upload_then_die(key, source):
            original(key, source)
            proxy.kill()

        registry.store.write_file = upload_then_die
    error = call_within(
        60,
        lambda: registry.register_version(
            "churn", challenger, metrics={"accuracy": 0.95}, params={}, lineage={}, run_id="r2"
        ),
    )
    assert isinstance(error, StoreError), error
    assert f"127.0.0.1:{proxy.port}" in str(error) and SECRET_KEY not in str(error)

    # The endpoint comes back on the same address with its data; a fresh client looks at it.
    revived = KillableProxy(moto_server.port, port=proxy.port)
    try:
        after = registry_through(revived, bucket)
        assert [v.version for v in after.list_versions("churn")] == [1], "no partial version is visible"
        assert after.aliases("churn") == {"production": 1}, "no alias moved"
        assert after.audit_log("churn") == before_audit, "no event for a version that never became visible"
        assert all(result["ok"] for result in after.verify("churn"))

        retried = after.register_version(
            "churn", challenger, metrics={"accuracy": 0.95}, params={}, lineage={}, run_id="r2"
        )
        assert retried.version > 1
        assert [v.version for v in after.list_versions("churn")] == [1, retried.version]
        with open(challenger, "rb") as f:
            assert after.download_model("churn", retried.version, tmp_path / "out").read_bytes() == f.read()
    finally:
        revived.kill()
