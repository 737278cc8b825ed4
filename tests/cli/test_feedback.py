"""`shipyard feedback`: labels for logged traffic go into the store, with counts; bad input is one clear line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import joblib
import pandas as pd
from click.testing import CliRunner
from sklearn.dummy import DummyClassifier

from shipyard.cli.main import main
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import REQUESTS, write_batch


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _registered(store: Path) -> None:
    registry = ModelRegistry.from_uri(str(store))
    path = store.parent / "m.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    registry.register_version("churn", path, metrics={}, params={}, lineage={"target": "churned"})
    registry.set_alias("churn", "production", 1)


def _log(store: Path, ids: list[str]) -> None:
    """A traffic batch as the model server writes it (feature + META_COLUMNS)."""
    when = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    frame = pd.DataFrame(
        {
            "x": [1.0] * len(ids),
            "request_id": ids,
            "request_row": [0] * len(ids),
            "logged_at": pd.to_datetime([when] * len(ids), utc=True),
            "model_version": [1] * len(ids),
            "prediction": [0] * len(ids),
            "probabilities": [None] * len(ids),
        }
    )
    write_batch(open_store(str(store)), "churn", REQUESTS, frame, when)


def test_feedback_stores_labels_and_counts_them(tmp_path: Path):
    store = tmp_path / "store"
    _registered(store)
    _log(store, ["a", "b"])
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,churned\na,1\nb,0\nb,1\nlate,0\n")
    result = invoke("feedback", "churn", "--labels", str(labels), "--store", str(store), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] == "churn" and summary["target"] == "churned"
    assert (summary["rows_stored"], summary["duplicates_in_file"]) == (3, 1)
    assert (summary["matched"], summary["unmatched"], summary["replaced_earlier"]) == (2, 1, 0)
    assert Path(summary["uri"]).is_file() and "traffic/churn/labels/date=" in summary["uri"]

    again = invoke("feedback", "churn", "--labels", str(labels), "--store", str(store))
    assert again.exit_code == 0 and "relabelled (had an earlier label; the newest wins): 3" in again.stdout


def test_unknown_model_and_a_file_without_the_target_are_one_line(tmp_path: Path):
    store = tmp_path / "store"
    _registered(store)
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\na,1\n")
    unknown = invoke("feedback", "nope", "--labels", str(labels), "--store", str(store), "--json")
    assert unknown.exit_code == 1 and "no model 'nope'" in json.loads(unknown.stdout)["error"]
    missing = invoke("feedback", "churn", "--labels", str(labels), "--store", str(store))
    assert missing.exit_code == 1 and "column 'churned': missing from the label file" in missing.stderr
    assert "Traceback" not in missing.stderr and not (store / "traffic").exists()
