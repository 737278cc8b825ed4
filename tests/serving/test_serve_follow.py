"""`shipyard serve` over time: alias following under load, readiness before load, a version that fails to load.

Each test starts its own server process (seconds each), hence the slow marker.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from shipyard.serving import client
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import register
from tests.serving.slow_model import SlowToLoad
from tests.serving.test_serve_http import ROWS, expected_frame, post

pytestmark = pytest.mark.slow

#: A promote or rollback must be served within this many seconds (poll interval 0.5 s).
SWITCH_TIMEOUT = 15.0


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class Hammer:
    """Client threads sending V2 requests nonstop, recording (time, version) answers and any failure."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url = url
        self.answers: list[tuple[float, str | None]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = client.infer(self.url, "churn", ROWS, timeout=10)
                self.answers.append((time.monotonic(), answer.model_version))
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                self.failures.append(repr(exc))

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def wait_for(self, version: str, since: float, timeout: float = SWITCH_TIMEOUT) -> float:
        """Seconds from ``since`` until ``version`` answered; fails after ``timeout``."""
        deadline = since + timeout
        while time.monotonic() < deadline:
            after = [t for t, v in list(self.answers) if t > since and v == version]
            if after:
                return after[0] - since
            time.sleep(0.05)
        raise AssertionError(f"v{version} did not answer within {timeout} s; last answers {self.answers[-5:]}")


@pytest.fixture
def churn_store(tmp_path: Path, classifier) -> tuple[Path, ModelRegistry]:
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    registry.set_alias("churn", "production", 1)
    return tmp_path / "store", registry


def test_promote_and_rollback_are_served_without_restart_or_a_failed_request(churn_store, start_server):
    store, registry = churn_store
    server = start_server(store, "churn", "--poll-interval", "0.5")
    url = server.wait_ready()

    with Hammer(url) as hammer:
        hammer.wait_for("1", since=time.monotonic() - 1)
        promoted_at = time.monotonic()
        registry.set_alias("churn", "production", 2)
        took_promote = hammer.wait_for("2", since=promoted_at)
        rolled_back_at = time.monotonic()
        registry.rollback("churn", "production")
        took_rollback = hammer.wait_for("1", since=rolled_back_at)
        time.sleep(0.5)

    assert hammer.failures == []
    assert took_promote < SWITCH_TIMEOUT and took_rollback < SWITCH_TIMEOUT
    # Once v2 answered, only v2 answered until the rollback: the swap does not flap.
    first_v2 = min(t for t, v in hammer.answers if v == "2")
    assert {v for t, v in hammer.answers if first_v2 <= t < rolled_back_at} == {"2"}
    assert len(hammer.answers) > 20
    log = server.stderr()
    assert "now serves v2 (was v1)" in log and "now serves v1 (was v2)" in log
    assert server.stop() == 0


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(churn_store, start_server):
    store, registry = churn_store
    with Path(registry.get_version("churn", 2).model_uri).open("ab") as stored:
        stored.write(b"tampered")  # the registered sha256 no longer matches
    server = start_server(store, "churn", "--poll-interval", "0.5")
    url = server.wait_ready()

    with Hammer(url) as hammer:
        moved_at = time.monotonic()
        registry.set_alias("churn", "production", 2)
        deadline = moved_at + SWITCH_TIMEOUT
        while "still serving v1" not in server.stderr() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # three more polls

    assert hammer.failures == []
    assert {v for t, v in hammer.answers if t > moved_at} == {"1"}
    log = server.stderr()
    assert "cannot load model 'churn' version 2" in log and "sha256" in log and "still serving v1" in log
    assert log.count("cannot load model 'churn' version 2") == 1, "a persisting problem is logged once"


def test_not_ready_until_the_model_is_loaded(tmp_path: Path, classifier, start_server):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "churn", SlowToLoad(classifier.pipeline, delay=6.0), classifier, tmp_path)
    registry.set_alias("churn", "production", 1)
    server = start_server(tmp_path / "store", "churn")
    url = server.wait_listening()

    assert http_status(f"{url}/v2/health/live") == 200
    assert http_status(f"{url}/v2/health/ready") == 503
    assert not client.ready(url)
    assert http_status(f"{url}/v2/models/churn/ready") == 503
    with pytest.raises(client.ServingError) as raised:
        client.infer(url, "churn", ROWS)
    assert raised.value.status == 503

    server.wait_ready()
    assert client.infer(url, "churn", ROWS).model_version == "1"


def test_regression_over_v1_and_v2_and_a_graceful_stop(tmp_path: Path, regressor, start_server):
    """Also the traffic log end to end: config from --config, /metrics, and SIGTERM writing the last rows."""
    import pandas as pd

    from shipyard.store import open_store
    from shipyard.store.traffic import ATTRS_KEY, REQUESTS, batch_keys, read_batch

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "price", regressor.pipeline, regressor, tmp_path)
    registry.set_alias("price", "production", 1)
    config = tmp_path / "serve.yaml"
    config.write_text("traffic: {hash_columns: [plan], flush_seconds: 600}\n", encoding="utf-8")
    server = start_server(tmp_path / "store", "price", "--json", "--config", str(config))
    url = server.wait_ready()
    expected = regressor.pipeline.predict(expected_frame(ROWS, regressor))

    answer = client.infer(url, "price", ROWS)
    assert answer.model_version == "1" and answer.probabilities is None
    np.testing.assert_allclose(answer.predictions, expected, rtol=1e-9)
    status, v1 = post(f"{url}/v1/models/price:predict", {"instances": json.loads(ROWS.to_json(orient="records"))})
    assert status == 200
    np.testing.assert_allclose(v1["predictions"], expected, rtol=1e-9)
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'shipyard_traffic_rows_pending{model="price"} 8.0' in metrics  # nothing written yet (flush in 600 s)

    assert server.stop() == 0
    assert "shipyard serve: stopped" in server.stderr()
    assert '"status": "serving"' in server.stdout.read_text() and '"version": 1' in server.stdout.read_text()
    assert json.loads(server.stdout.read_text())["traffic_log"].endswith("traffic/price/requests/")

    store = open_store(str(tmp_path / "store"))
    (key,) = batch_keys(store, "price", REQUESTS, None, None)  # written on SIGTERM, in one batch
    rows = read_batch(store, key)
    assert v1["id"] in set(rows["request_id"]) and rows["request_id"].nunique() == 2
    assert len(rows) == 8 and set(rows["model_version"]) == {1}
    np.testing.assert_allclose(sorted(rows["prediction"]), sorted([*expected, *expected]), rtol=1e-9)
    assert rows["plan"].dropna().str.fullmatch("[0-9a-f]{64}").all() and rows.attrs[ATTRS_KEY]["hashed_columns"] == [
        "plan"
    ]
    assert pd.api.types.is_float_dtype(rows["tenure"])
