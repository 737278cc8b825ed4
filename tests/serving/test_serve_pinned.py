"""`shipyard serve NAME --version N` as a real process: that version answers, and it follows no alias."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shipyard.serving import client
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import register

pytestmark = pytest.mark.slow


def test_a_pinned_version_answers_and_ignores_alias_moves(tmp_path: Path, classifier, start_server):
    store = tmp_path / "store"
    registry = ModelRegistry.from_uri(str(store))
    first = register(registry, "churn", classifier.pipeline, classifier, tmp_path).version
    second = register(registry, "churn", classifier.pipeline, classifier, tmp_path).version
    registry.set_alias("churn", "production", first)

    server = start_server(
        store, "churn", "--version", str(second), "--poll-interval", "0.2", "--json", "--no-log-traffic"
    )
    url = server.wait_ready()
    rows = classifier.holdout.drop(columns=["target"]).head(5)
    assert client.infer(url, "churn", rows).model_version == str(second)
    assert f"shipyard serve: 'churn' v{second} (pinned) ready at" in server.stderr()
    announced = json.loads(server.stdout.read_text())
    assert announced["version"] == second and announced["alias"] is None and announced["url"] == url
    assert announced["traffic_log"] is None and "not logging traffic (--no-log-traffic)" in server.stderr()

    registry.set_alias("churn", "production", second)
    registry.rollback("churn")  # production back on the first version
    time.sleep(1.5)  # several poll intervals of a following server
    assert client.infer(url, "churn", rows).model_version == str(second)
    assert "now serves" not in server.stderr()
    assert not (store / "traffic").exists()
