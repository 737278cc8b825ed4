"""Monitoring a traffic window equals monitoring a file of the same rows (stage level, no kfp).

The pipeline's current-data step turns a window into a table with :func:`collect_traffic_table`;
the monitor step then runs :func:`monitor_production` on it. So comparing those two calls against
a CSV of the same rows, written independently of the traffic code, checks the claim without
running the pipeline twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import load_config
from shipyard.data.synthetic import make_demo_dataset
from shipyard.errors import DataValidationError
from shipyard.stages.evaluate import evaluate_model
from shipyard.stages.ingest import ingest_table
from shipyard.stages.monitor import build_retraining_table, monitor_production, production_version, retrain_wanted
from shipyard.stages.reference import REFERENCE_FILE, reference_sample, write_reference
from shipyard.stages.traffic import collect_traffic_table, left_out_of, store_feedback
from shipyard.stages.train import train_model
from shipyard.stages.validate import infer_contract
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import ATTRS_KEY, REQUESTS, write_batch

TARGET = "churned"
CONFIG = load_config("")
T0 = datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)  # the window crosses midnight: two day partitions


def _production(tmp_path: Path) -> ModelRegistry:
    data = make_demo_dataset(1500, seed=0)
    fitted = train_model(data, TARGET, "classification", CONFIG)
    metrics = dict(evaluate_model(fitted.pipeline, fitted.holdout, TARGET, "classification").metrics)
    contract = infer_contract(data, TARGET, "classification").to_dict()
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    joblib.dump(fitted.pipeline, tmp_path / "model.joblib")
    reference = write_reference(reference_sample(fitted.train, 50_000, 42), tmp_path / "ref.parquet")
    version = registry.register_version(
        "churn",
        tmp_path / "model.joblib",
        metrics=metrics,
        params={},
        lineage={"data_contract": contract, "target": TARGET},
        extra_files={REFERENCE_FILE: reference},
    )
    registry.set_alias("churn", "production", version.version)
    return registry


def _log(
    store, features: pd.DataFrame, ids: list[str], start: datetime, hashed: tuple[str, ...] = (), excluded=()
) -> None:
    """The rows as the model server logs them: features + META_COLUMNS, one second apart."""
    frame = features.reset_index(drop=True).copy()
    frame["request_id"] = ids
    frame["request_row"] = 0
    frame["logged_at"] = pd.to_datetime([start + timedelta(seconds=i) for i in range(len(frame))], utc=True)
    frame["model_version"] = 1
    frame["prediction"] = "no"
    frame["probabilities"] = None
    frame.attrs[ATTRS_KEY] = {"hashed_columns": list(hashed), "excluded_columns": list(excluded)}
    write_batch(store, "churn", REQUESTS, frame, start)


def _comparable(run) -> dict:
    document = run.result.to_dict()
    for volatile in ("run_id", "checked_at", "reference_source"):
        document.pop(volatile)
    return document


def test_a_traffic_window_is_monitored_exactly_like_a_file_of_its_rows(tmp_path: Path):
    registry = _production(tmp_path)
    store = open_store(str(tmp_path / "store"))
    served = make_demo_dataset(800, drift=0.8, seed=5)  # shifted traffic
    features = served.drop(columns=[TARGET])
    ids = [f"req-{i}" for i in range(len(served))]
    outside = make_demo_dataset(50, seed=9).drop(columns=[TARGET])  # logged before the window
    _log(store, outside, [f"old-{i}" for i in range(50)], T0 - timedelta(hours=2))
    _log(store, features.iloc[:400], ids[:400], T0)
    _log(store, features.iloc[400:], ids[400:], T0 + timedelta(hours=1))  # the next UTC day
    labelled = np.arange(len(served)) % 3 != 0  # two rows in three get a label, some twice
    truth = pd.DataFrame({"request_id": ids, "request_row": 0, TARGET: served[TARGET]})[labelled]
    wrong = truth.assign(**{TARGET: "yes"})
    store_feedback(store, "churn", wrong, T0 + timedelta(hours=3))
    store_feedback(store, "churn", truth, T0 + timedelta(hours=4))  # relabels every key: the newest wins

    table, window = collect_traffic_table(
        str(tmp_path / "store"),
        "churn",
        since="",
        start=T0.isoformat(),
        end=(T0 + timedelta(hours=2)).isoformat(),
        now=T0 + timedelta(days=1),
    )
    assert (window.rows, window.labelled_rows, window.batches) == (800, int(labelled.sum()), 3)

    # The same rows as a person would hand them over: a CSV, target blank where no label came.
    expected = served.copy()
    expected.loc[~labelled, TARGET] = np.nan
    csv = tmp_path / "same-rows.csv"
    expected.to_csv(csv, index=False)
    from_file = ingest_table(str(csv)).frame
    pd.testing.assert_frame_equal(table.frame, from_file)

    on_traffic = monitor_production(registry, "churn", table.frame, CONFIG, run_id="t")
    on_file = monitor_production(registry, "churn", from_file, CONFIG, run_id="f")
    assert _comparable(on_traffic) == _comparable(on_file)
    assert on_traffic.result.drift_detected and on_traffic.result.has_target
    scored = evaluate_model(registry.load_model("churn", 1), served[labelled], TARGET, "classification").metrics
    assert on_traffic.result.production_metrics == dict(scored)  # decay on the labelled rows only

    retrain = build_retraining_table(production_version(registry, "churn"), table.frame, "current")
    assert len(retrain) == labelled.sum() and retrain[TARGET].notna().all()  # unlabelled rows never train


def test_features_the_server_hashed_or_excluded_are_left_out_and_the_others_monitored_as_in_a_file(tmp_path: Path):
    """A window lacking a hashed and an excluded feature: drift on the rest, decay not judged, no retrain."""
    registry = _production(tmp_path)
    store = open_store(str(tmp_path / "store"))
    served = make_demo_dataset(600, drift=0.8, seed=7)
    ids = [f"req-{i}" for i in range(len(served))]
    logged = served.drop(columns=[TARGET, "age"])  # age: excluded, never logged
    logged["region"] = [hashlib.sha256(f"salt{v}".encode()).hexdigest() for v in logged["region"]]  # hashed
    _log(store, logged, ids, T0, hashed=("region",), excluded=("age",))
    labelled = np.arange(len(served)) % 2 == 0
    truth = pd.DataFrame({"request_id": ids, "request_row": 0, TARGET: served[TARGET]})[labelled]
    store_feedback(store, "churn", truth, T0 + timedelta(hours=1))
    table, window = collect_traffic_table(
        str(tmp_path / "store"), "churn", since="", start=T0.isoformat(), end="", now=T0 + timedelta(hours=2)
    )
    left_out = ("age", "region")
    assert window.left_out_columns == left_out == left_out_of(table.frame)
    table.frame.to_parquet(tmp_path / "current-data.parquet", index=False)  # what a CLI run hands the pipeline
    assert left_out_of(ingest_table(str(tmp_path / "current-data.parquet")).frame) == left_out

    # The same rows written by hand: once with every feature, once without the two left out.
    expected = served.copy()
    expected.loc[~labelled, TARGET] = np.nan
    expected.to_csv(tmp_path / "all.csv", index=False)
    expected.drop(columns=list(left_out)).to_csv(tmp_path / "fewer.csv", index=False)
    every_feature = ingest_table(str(tmp_path / "all.csv")).frame
    fewer = ingest_table(str(tmp_path / "fewer.csv")).frame
    assert left_out_of(fewer) == ()  # a CSV names nothing: fewer columns are missing
    with pytest.raises(DataValidationError, match="missing column\\(s\\) 'age', 'region'"):
        monitor_production(registry, "churn", fewer, CONFIG, run_id="x")

    on_traffic = monitor_production(registry, "churn", table.frame, CONFIG, run_id="t", left_out=left_out)
    on_fewer = monitor_production(registry, "churn", fewer, CONFIG, run_id="f", left_out=left_out)
    on_all = monitor_production(registry, "churn", every_feature, CONFIG, run_id="a")
    assert _comparable(on_traffic) == _comparable(on_fewer)
    compared = {column.column: column.to_dict() for column in on_traffic.result.drift.columns}
    in_full = {column.column: column.to_dict() for column in on_all.result.drift.columns}
    assert set(compared) == set(in_full) - set(left_out) and TARGET in compared
    assert compared == {name: in_full[name] for name in compared}  # the same verdict, column by column

    result = on_traffic.result
    assert result.drift_detected and result.alert_needed and result.has_target
    assert result.left_out_columns == left_out and result.decay is None and result.production_metrics is None
    assert on_all.result.decay is not None  # with every feature, the same labelled rows are scored
    assert "'age', 'region'" in result.decay_not_judged and "'age', 'region'" in result.retrain_blocked
    document = result.to_dict()
    assert document["left_out_columns"] == ["age", "region"] and document["decay_detected"] is False
    assert "not compared: age, region" in result.summary() and "decay not judged" in result.summary()
    markdown = result.to_markdown()
    assert "PERFORMANCE NOT JUDGED" in markdown and "`age`, `region`" in markdown
    metrics = result.to_metrics()
    assert metrics["left_out_columns"] == 2.0 and "drifted.age" not in metrics and "drifted.region" not in metrics
    assert retrain_wanted(on_all.result.to_dict(), True) and not retrain_wanted(document, True)  # the alert stays
    with pytest.raises(DataValidationError, match="lack 'age', 'region'"):
        build_retraining_table(
            production_version(registry, "churn"), pd.read_parquet(tmp_path / "current-data.parquet"), "current"
        )


def test_whole_number_labels_joined_to_traffic_retrain_as_integers(tmp_path: Path):
    """0/1 labels beside unlabelled rows' NaN become floats in the window; retraining must get 0/1 back."""
    from types import SimpleNamespace

    data = make_demo_dataset(200, seed=3)
    data[TARGET] = (data[TARGET] == "yes").astype("int64")
    contract = infer_contract(data, TARGET, "classification").to_dict()
    version = SimpleNamespace(name="churn", version=1, lineage={"data_contract": contract, "target": TARGET})
    window = data.copy()
    window[TARGET] = window[TARGET].astype(float)
    window.loc[::2, TARGET] = np.nan  # unlabelled traffic rows
    retrain = build_retraining_table(version, window, "current")  # type: ignore[arg-type]
    assert str(retrain[TARGET].dtype) == "int64" and set(retrain[TARGET]) <= {0, 1}
    assert len(retrain) == 100
    # A regression target is a number, whole or not: left as it is.
    regression = {**contract, "task": "regression"}
    version = SimpleNamespace(name="churn", version=1, lineage={"data_contract": regression, "target": TARGET})
    kept = build_retraining_table(version, window, "current")  # type: ignore[arg-type]
    assert str(kept[TARGET].dtype) == "float64"
