"""The whole monitoring DAG under kfp.local: drift, decay, alerts to a local webhook, retrain through the gate.

Each run is a real pipeline (a retrain adds the ten training tasks), so scenarios share runs: one
store goes through quiet data, shifted data, unlabelled data and a failed run.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from shipyard.cli.monitoring import run_monitoring
from shipyard.cli.training import run_training
from shipyard.data.synthetic import write_demo_dataset
from shipyard.store.registry import ModelRegistry

pytestmark = pytest.mark.slow


@pytest.fixture
def webhook(monkeypatch):
    """A local HTTP server collecting every alert posted to it; its URL is in SHIPYARD_ALERT_WEBHOOK_URL."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SHIPYARD_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook/secret-token")
    yield received
    server.shutdown()


def monitor(data: Path, store: Path, *, config: str = "", allow_retrain: bool = True):
    return run_monitoring(
        data_uri=str(data),
        model_name="churn",
        store_uri=str(store),
        config_text=config,
        reference_uri="",
        allow_retrain=allow_retrain,
        code_version="test",
    )


def test_the_loop_quiet_unlabelled_shifted_and_failed(tmp_path: Path, webhook):
    import pandas as pd

    store = tmp_path / "store"
    train = write_demo_dataset(tmp_path / "train.csv", n_rows=1500, seed=0)
    first = run_training(
        data_uri=str(train),
        target="churned",
        model_name="churn",
        task="auto",
        store_uri=str(store),
        config_text="",
        contract_uri="",
        code_version="test",
    )
    assert first["status"] == "succeeded" and first["version"] == 1, first
    registry = ModelRegistry.from_uri(str(store))
    assert registry.get_version("churn", 1).files["reference.parquet"]["sha256"]

    # Two samples of one period: no drift, no decay, no alert, no retrain.
    quiet = monitor(write_demo_dataset(tmp_path / "quiet.csv", n_rows=1500, seed=1), store)
    assert quiet["status"] == "succeeded", quiet
    assert quiet["drift_detected"] is False and quiet["decay_detected"] is False
    assert quiet["alerted"] is False and quiet["retrained"] is False and quiet["new_version"] is None
    assert quiet["production_metrics"]["accuracy"] > 0.6
    assert Path(quiet["report"]).is_file() and "<html" in Path(quiet["report"]).read_text()[:2000].lower()
    assert webhook == []

    # An unlabelled shifted period: drift alerts, nothing retrains, no production metrics.
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(write_demo_dataset(tmp_path / "u.csv", n_rows=800, seed=3, drift=1.0)).drop(columns=["churned"]).to_csv(
        unlabelled, index=False
    )
    blind = monitor(unlabelled, store)
    assert blind["status"] == "succeeded", blind
    assert blind["drift_detected"] is True and blind["production_metrics"] is None
    assert blind["decay_detected"] is False and "churned" not in blind["drifted_columns"]
    assert blind["alerted"] is True and blind["retrained"] is False and blind["new_version"] is None
    assert [alert["text"].split("\n")[0] for alert in webhook] == ["*shipyard: Drift detected — model churn version 1*"]
    webhook.clear()

    # A shifted period with labels: drift, an alert received by the webhook, a retrain through the gate.
    shifted = monitor(write_demo_dataset(tmp_path / "shifted.csv", n_rows=1500, seed=2, drift=1.0), store)
    assert shifted["status"] == "succeeded", shifted
    assert shifted["drift_detected"] is True and "monthly_charges" in shifted["drifted_columns"]
    assert shifted["alerted"] is True and shifted["alert_delivery"]["delivered"] is True
    assert [alert["text"].split("\n")[0] for alert in webhook] == ["*shipyard: Drift detected — model churn version 1*"]
    assert "secret-token" not in json.dumps(shifted)  # the URL's token never reaches the summary
    assert shifted["retrained"] is True and shifted["blessed"] is True, shifted["reasons"]
    assert any("champion (version 1)" in reason for reason in shifted["reasons"])  # the same gate
    assert shifted["new_version"] == 2 and shifted["promoted"] is True
    v2 = registry.get_version("churn", 2)
    assert v2.lineage["data_uri"].endswith("retrain-data.parquet") and v2.lineage["parent_version"] == 1
    assert v2.lineage["train_rows"] > registry.get_version("churn", 1).lineage["train_rows"]  # accumulated
    assert registry.aliases("churn")["production"] == 2

    # Columns that do not match: the run fails with one line, and the exit handler alerts.
    broken = tmp_path / "broken.csv"
    pd.read_csv(tmp_path / "quiet.csv").drop(columns=["age"]).to_csv(broken, index=False)
    before = len(webhook)
    failed = monitor(broken, store)
    assert failed["status"] == "failed" and "missing column(s) 'age'" in failed["error"]
    assert "\n" not in failed["error"]
    assert [alert["text"].split("\n")[0] for alert in webhook[before:]] == ["*shipyard: Run failed — model churn*"]
    assert registry.aliases("churn")["production"] == 2


def test_decay_on_stable_features_retrains_and_only_a_better_model_ships(tmp_path: Path, webhook):
    import pandas as pd

    store = tmp_path / "store"
    train = write_demo_dataset(tmp_path / "train.csv", n_rows=1500, seed=0)
    assert (
        run_training(
            data_uri=str(train),
            target="churned",
            model_name="churn",
            task="auto",
            store_uri=str(store),
            config_text="",
            contract_uri="",
            code_version="test",
        )["version"]
        == 1
    )
    flipped = pd.read_csv(write_demo_dataset(tmp_path / "same.csv", n_rows=1500, seed=4))
    flipped["churned"] = flipped["churned"].map({"yes": "no", "no": "yes"})  # same customers, new outcome
    flipped.to_csv(tmp_path / "flipped.csv", index=False)
    # Accumulated data mixes the old outcome with the new: the retrained model is worse than the
    # bar and than the champion on the same holdout, so it stays out of production.
    decayed = monitor(tmp_path / "flipped.csv", store)
    assert decayed["status"] == "succeeded", decayed
    assert decayed["decay_detected"] is True and decayed["production_metrics"]["accuracy"] < 0.5
    assert not [column for column in decayed["drifted_columns"] if column != "churned"]  # features stable
    assert decayed["alerted"] is True and webhook[0]["text"].startswith("*shipyard: Model decay detected")
    assert decayed["retrained"] is True and decayed["blessed"] is False and decayed["new_version"] is None
    assert any("< champion (version 1)" in reason for reason in decayed["reasons"]), decayed["reasons"]
    assert decayed["promoted"] is False
    assert ModelRegistry.from_uri(str(store)).aliases("churn")["production"] == 1

    # Retrained on the new rows alone, the model learns the new world, beats the champion and ships.
    relearned = monitor(tmp_path / "flipped.csv", store, config="monitoring: {retrain: {data: current}}\n")
    assert relearned["decay_detected"] is True and relearned["blessed"] is True, relearned["reasons"]
    assert relearned["new_version"] == 2 and relearned["promoted"] is True
    assert ModelRegistry.from_uri(str(store)).aliases("churn")["production"] == 2
