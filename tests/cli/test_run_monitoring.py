"""`shipyard run monitoring`: the checks made before any task starts, each one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner
from sklearn.dummy import DummyClassifier

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _old_production(store: Path) -> None:
    """A production version registered before reference data was stored beside it."""
    registry = ModelRegistry.from_uri(str(store))
    path = store.parent / "m.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    registry.register_version("churn", path, metrics={}, params={}, lineage={"data_uri": "old.csv"})
    registry.set_alias("churn", "production", 1)


def test_a_version_without_reference_data_says_so_before_any_task(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    _old_production(store)
    result = invoke("run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store))
    assert result.exit_code == 1
    assert "registered without reference data" in result.stderr and "--reference PATH" in result.stderr
    assert "Traceback" not in result.stderr and not (store / "local-runs").exists()  # no task ran


def test_no_production_model_and_missing_files_are_clear_errors(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    store.mkdir()
    nothing = invoke("run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store), "--json")
    assert nothing.exit_code == 1 and "no production version" in json.loads(nothing.stdout)["error"]
    _old_production(store)
    missing = invoke(
        "run", "monitoring", "--data", str(tmp_path / "nope.csv"), "--model", "churn", "--store", str(store)
    )
    assert missing.exit_code == 1 and "no data file at" in missing.stderr
    no_ref = invoke(
        "run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store),
        "--reference", str(tmp_path / "nope.csv"),
    )  # fmt: skip
    assert no_ref.exit_code == 1 and "no reference data file" in no_ref.stderr


def test_a_malformed_webhook_is_rejected_without_showing_it(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    _old_production(store)
    result = invoke(
        "run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store),
        "--webhook", "ftp://hooks.example/T000/secret-token",
    )  # fmt: skip
    assert result.exit_code == 1 and "http" in result.stderr and "secret-token" not in result.stderr


def _in_production(store: Path) -> None:
    """A model trained in-process on 1,500 demo rows, registered with its contract and reference, in production."""
    from shipyard.config import load_config
    from shipyard.data.synthetic import make_demo_dataset
    from shipyard.stages.reference import REFERENCE_FILE, reference_sample, write_reference
    from shipyard.stages.train import train_model
    from shipyard.stages.validate import infer_contract

    data = make_demo_dataset(1500, seed=0)
    fitted = train_model(data, "churned", "classification", load_config(""))
    joblib.dump(fitted.pipeline, store.parent / "model.joblib")
    reference = write_reference(reference_sample(fitted.train, 50_000, 42), store.parent / "ref.parquet")
    registry = ModelRegistry.from_uri(str(store))
    lineage = {"data_contract": infer_contract(data, "churned", "classification").to_dict(), "target": "churned"}
    registry.register_version(
        "churn", store.parent / "model.joblib", metrics={}, params={}, lineage=lineage,
        extra_files={REFERENCE_FILE: reference},
    )  # fmt: skip
    registry.set_alias("churn", "production", 1)


def _log_traffic(
    store: Path, features, minutes_ago: int, hashed: tuple[str, ...] = (), excluded: tuple[str, ...] = ()
) -> None:
    """Rows as the model server logs them (features + META_COLUMNS), written with write_batch."""
    from datetime import datetime, timedelta, timezone

    import pandas as pd

    from shipyard.store import open_store
    from shipyard.store.traffic import ATTRS_KEY, REQUESTS, write_batch

    when = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    frame = features.reset_index(drop=True).assign(
        request_id=[f"r{minutes_ago}-{i}" for i in range(len(features))],
        request_row=0,
        logged_at=pd.Timestamp(when),
        model_version=1,
        prediction="no",
        probabilities=None,
    )
    frame.attrs[ATTRS_KEY] = {"hashed_columns": list(hashed), "excluded_columns": list(excluded)}
    write_batch(open_store(str(store)), "churn", REQUESTS, frame, when)


def test_traffic_options_are_checked_before_any_task(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    _in_production(store)
    base = ("run", "monitoring", "--model", "churn", "--store", str(store))
    both = invoke(*base, "--data", str(churn_csv), "--from-traffic")
    neither = invoke(*base)
    assert both.exit_code == neither.exit_code == 1
    assert "exactly one of --data FILE or --from-traffic" in both.stderr and "exactly one" in neither.stderr
    stray = invoke(*base, "--data", str(churn_csv), "--since", "7d")
    assert stray.exit_code == 1 and "add --from-traffic" in stray.stderr
    bad = invoke(*base, "--from-traffic", "--since", "a week")
    assert bad.exit_code == 1 and "--since 'a week'" in bad.stderr
    empty = invoke(*base, "--from-traffic", "--json")
    assert empty.exit_code == 1 and "no traffic of model 'churn'" in json.loads(empty.stdout)["error"]
    assert "traffic/churn/requests/" in empty.stderr
    assert not (store / "local-runs").exists()  # no task ran


@pytest.mark.slow
def test_from_traffic_end_to_end_detects_drift_on_shifted_traffic(tmp_path: Path, capsys):
    """One kfp.local run of the monitoring pipeline on a window of logged traffic, labelled, whose server hashed
    one feature and excluded another: drift on the other columns alerts; decay is not judged and nothing is
    retrained (the model needs every feature), and the output says why."""
    import pandas as pd

    from shipyard.cli.run import _print_monitoring_summary
    from shipyard.data.synthetic import make_demo_dataset
    from shipyard.stages.traffic import left_out_of, store_feedback
    from shipyard.store import open_store

    store = tmp_path / "store"
    _in_production(store)
    shifted = make_demo_dataset(600, drift=0.9, seed=3)
    _log_traffic(store, make_demo_dataset(300, seed=4).drop(columns=["churned"]), minutes_ago=120)  # outside
    logged = shifted.drop(columns=["churned", "age"]).assign(region=lambda f: "hash:" + f["region"])
    _log_traffic(store, logged, minutes_ago=5, hashed=("region",), excluded=("age",))
    labels = pd.DataFrame(
        {"request_id": [f"r5-{i}" for i in range(600)], "request_row": 0, "churned": shifted["churned"]}
    )
    store_feedback(open_store(str(store)), "churn", labels, pd.Timestamp.now(tz="UTC").to_pydatetime())
    result = invoke(
        "run", "monitoring", "--model", "churn", "--from-traffic", "--since", "1h", "--store", str(store), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["drift_detected"] is True and summary["alerted"]
    assert summary["has_target"] is True and summary["retrained"] is False and summary["decay_detected"] is False
    assert summary["left_out_columns"] == ["age", "region"] and summary["production_metrics"] is None
    assert not {"age", "region"} & set(summary["drifted_columns"])
    assert "'age', 'region'" in summary["decay_not_judged"] and "'age', 'region'" in summary["retrain_blocked"]
    source = summary["source"]
    assert (source["kind"], source["rows"], source["labelled_rows"], source["left_out_columns"]) == (
        "traffic", 600, 600, ["age", "region"],
    )  # fmt: skip
    assert "not compared: age, region" in result.stderr
    written = Path(summary["log"]).parent / "current-data.parquet"
    assert left_out_of(pd.read_parquet(written)) == ("age", "region")
    capsys.readouterr()
    _print_monitoring_summary(summary)  # the human output of the same run
    shown = capsys.readouterr().out
    assert "not compared: age, region" in shown and "decay: not judged (the model needs every feature" in shown
    assert "retrain: no (a model cannot learn from rows that lack 'age', 'region'" in shown
