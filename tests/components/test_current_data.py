"""current_data through its python function: a file as ingest_data reads it, or a traffic window of the model."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import joblib
import pandas as pd
import pytest
from kfp import dsl
from sklearn.dummy import DummyClassifier

from shipyard.components import current_data, ingest_data
from shipyard.stages.traffic import NoTraffic, left_out_of
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import ATTRS_KEY, REQUESTS, write_batch
from shipyard.task_record import RECORDS_ENV


def _dataset(tmp_path: Path, name: str) -> dsl.Dataset:
    return dsl.Dataset(name=name, uri=str(tmp_path / f"{name}.parquet"), metadata={})


def _call(dataset: dsl.Dataset, **overrides):
    arguments = dict(
        data_uri="",
        from_traffic=False,
        model_name="churn",
        store_uri="",
        traffic_since="7d",
        traffic_from="",
        traffic_to="",
        run_id="r1",
        pipeline_job_id="",
        dataset=dataset,
    )
    return current_data.python_func(**{**arguments, **overrides})


def test_a_file_gives_what_ingest_data_gives(tmp_path: Path, churn_csv: Path, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "records"))
    ours, theirs = _dataset(tmp_path, "ours"), _dataset(tmp_path, "theirs")
    got = _call(ours, data_uri=str(churn_csv))
    want = ingest_data.python_func(data_uri=str(churn_csv), run_id="r1", pipeline_job_id="", dataset=theirs)
    assert tuple(got) == tuple(want)
    pd.testing.assert_frame_equal(pd.read_parquet(ours.path), pd.read_parquet(theirs.path))


def test_traffic_of_the_last_hour_with_its_labels(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "records"))
    store_uri = str(tmp_path / "store")
    registry = ModelRegistry.from_uri(store_uri)
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "m.joblib")
    registry.register_version("churn", tmp_path / "m.joblib", metrics={}, params={}, lineage={"target": "churned"})
    now = datetime.now(timezone.utc)
    store = open_store(store_uri)
    for minutes, ids in ((90, ["old"]), (10, ["a", "b"])):  # one batch outside the hour, one inside
        when = now - timedelta(minutes=minutes)
        frame = pd.DataFrame(
            {
                "x": [1.0] * len(ids),
                "request_id": ids,
                "request_row": 0,
                "logged_at": pd.to_datetime([when] * len(ids), utc=True),
                "model_version": 1,
                "prediction": 0,
                "probabilities": None,
            }
        )
        write_batch(store, "churn", REQUESTS, frame, when)
    labels = pd.DataFrame({"request_id": ["b"], "request_row": [0], "churned": [1], "received_at": [pd.Timestamp(now)]})
    write_batch(store, "churn", "labels", labels, now)

    dataset = _dataset(tmp_path, "traffic")
    outputs = _call(dataset, from_traffic=True, store_uri=store_uri, traffic_since="1h")
    table = pd.read_parquet(dataset.path)
    assert outputs.rows == 2 and outputs.run_id == "r1" and outputs.data_hash.startswith("sha256:")
    assert list(table.columns) == ["x", "churned"] and table["churned"].isna().tolist() == [True, False]
    assert dataset.metadata["source"]["labelled_rows"] == 1 and dataset.metadata["source"]["kind"] == "traffic"

    with pytest.raises(NoTraffic, match="no traffic of model 'churn'"):
        _call(_dataset(tmp_path, "none"), from_traffic=True, store_uri=store_uri, traffic_since="5m")
    record = json.loads((tmp_path / "records" / "current-data.json").read_text())
    assert record["status"] == "failed" and record["error_type"] == "NoTraffic"


def test_features_the_server_left_out_reach_the_monitor_step_from_a_window_and_from_a_file(tmp_path: Path, monkeypatch):
    """Both ways a window reaches the pipeline (read here, or a file a CLI run wrote) name its left-out features."""
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "records"))
    store_uri = str(tmp_path / "store")
    registry = ModelRegistry.from_uri(store_uri)
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "m.joblib")
    registry.register_version("churn", tmp_path / "m.joblib", metrics={}, params={}, lineage={"target": "churned"})
    when = datetime.now(timezone.utc) - timedelta(minutes=5)
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0],
            "email": ["9f86d0", "60303a"],  # hashed by the server; "phone" was excluded (not logged)
            "request_id": ["a", "b"],
            "request_row": 0,
            "logged_at": pd.to_datetime([when] * 2, utc=True),
            "model_version": 1,
            "prediction": 0,
            "probabilities": None,
        }
    )
    frame.attrs[ATTRS_KEY] = {"hashed_columns": ["email"], "excluded_columns": ["phone"]}
    write_batch(open_store(store_uri), "churn", REQUESTS, frame, when)

    window = _dataset(tmp_path, "window")
    _call(window, from_traffic=True, store_uri=store_uri, traffic_since="1h")
    read_back = pd.read_parquet(window.path)
    assert list(read_back.columns) == ["x"] and left_out_of(read_back) == ("email", "phone")
    assert window.metadata["left_out_columns"] == ["email", "phone"]

    written = tmp_path / "current-data.parquet"  # what a CLI run writes and passes as data_uri
    read_back.to_parquet(written, index=False)
    from_file = _dataset(tmp_path, "from-file")
    _call(from_file, data_uri=str(written))
    assert left_out_of(pd.read_parquet(from_file.path)) == ("email", "phone")
    assert from_file.metadata["left_out_columns"] == ["email", "phone"]

    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(plain, index=False)
    untouched = _dataset(tmp_path, "plain")
    _call(untouched, data_uri=str(plain))
    assert left_out_of(pd.read_parquet(untouched.path)) == () and "left_out_columns" not in untouched.metadata
