"""`shipyard run monitoring` on a model with segments, under kfp.local.

One store: two segments trained by one segmented run. New data where one segment drifted
strongly and the other did not, plus rows of a value no segment model stands for: each segment
is monitored by its own monitoring run, and only the drifted one alerts and retrains (through its
own gate, against its own champion).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.cli.training import run_segmented_training
from shipyard.data.synthetic import make_demo_dataset
from shipyard.store.registry import ModelRegistry

pytestmark = pytest.mark.slow


def _segment(name: str, rows: int, *, seed: int, drift: float = 0.0) -> pd.DataFrame:
    return make_demo_dataset(rows, seed=seed, drift=drift).drop(columns=["region"]).assign(market=name)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("segments-monitoring")
    store = tmp / "store"
    path = tmp / "train.csv"
    pd.concat([_segment("north", 600, seed=1), _segment("south", 600, seed=2)]).to_csv(path, index=False)
    trained = run_segmented_training(
        data_uri=str(path),
        target="churned",
        segment_by="market",
        model_name="churn",
        task="auto",
        store_uri=str(store),
        config_text="",
        contract_uri="",
        code_version="test",
    )
    assert trained["status"] == "succeeded", trained
    return store


def _monitor(store: Path, data: Path, *extra: str):
    args = ["run", "monitoring", "--model", "churn", "--data", str(data), "--store", str(store), *extra]
    return CliRunner().invoke(main, args)


def test_only_the_drifted_segment_alerts_and_retrains(store: Path, tmp_path: Path):
    data = tmp_path / "new.csv"
    pd.concat(
        [
            _segment("north", 600, seed=11, drift=1.0),  # a strong shift, with labels
            _segment("south", 600, seed=12),  # another sample of what south was trained on
            _segment("east", 25, seed=13),  # no segment model stands for east
        ]
    ).to_csv(data, index=False)
    result = _monitor(store, data, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["segment_by"] == "market"
    segments = {entry["segment"]: entry for entry in summary["segments"]}
    north, south = segments["north"], segments["south"]
    assert north["model"] == "churn--north" and north["rows"] == 600 and north["version"] == 1
    assert north["drift"] is True and north["alerted"] is True, north["run"]
    assert north["retrained"] is True and north["run"]["retrain_run_id"], north["run"]
    assert any("champion (version 1)" in reason for reason in north["run"]["reasons"])  # its own gate
    assert south["drift"] is False and south["decay"] is False, south["run"]
    assert south["alerted"] is False and south["retrained"] is False and south["new_version"] is None
    assert summary["unmonitored"] == [{"segment": "east", "rows": 25, "reason": "no segment model"}]
    assert summary["totals"] == {
        "monitored": 2,
        "drifted": 1,
        "decayed": int(bool(north["decay"])),
        "retrained": 1,
        "promoted": int(north["promoted"]),
        "failed": 0,
        "skipped": 0,
        "total": 2,
    }
    registry = ModelRegistry.from_uri(str(store))
    assert [v.version for v in registry.list_versions("churn--south")] == [1], "south trained nothing"
    assert registry.aliases("churn--south")["production"] == 1
    assert registry.latest_version("churn") is None, "the parent model gets no version of its own"
    # Each segment's run monitored exactly its own rows.
    assert registry.get_run_record(south["run_id"])["monitoring"]["version"] == 1
    monitored = pd.read_parquet(Path(south["run"]["artifacts"]).parent / "current-data.parquet")
    assert len(monitored) == 600 and set(monitored["market"]) == {"south"}


def test_unknown_segment_missing_segment_column_and_no_traffic_are_clear_errors(store: Path, tmp_path: Path):
    data = tmp_path / "new.csv"
    _segment("south", 60, seed=5).to_csv(data, index=False)
    unknown = _monitor(store, data, "--segment", "south", "--segment", "west")
    assert unknown.exit_code == 1
    assert "model 'churn' has no segment 'west'" in unknown.stderr and "north" in unknown.stderr, unknown.stderr
    no_column = tmp_path / "no-column.csv"
    _segment("south", 60, seed=5).drop(columns=["market"]).to_csv(no_column, index=False)
    missing = _monitor(store, no_column, "--json")
    assert missing.exit_code == 1 and "column 'market'" in json.loads(missing.stdout)["error"]
    no_traffic = CliRunner().invoke(
        main, ["run", "monitoring", "--model", "churn", "--from-traffic", "--since", "1h", "--store", str(store)]
    )
    assert no_traffic.exit_code == 1
    assert "no segment of 'churn' to monitor" in no_traffic.stderr, no_traffic.stderr
    assert "no traffic of model 'churn--north'" in no_traffic.stderr and "south: " in no_traffic.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + no_traffic.stderr
