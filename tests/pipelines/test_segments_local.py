"""The segmented training DAG under kfp.local, as `shipyard run training --segment-by` runs it.

Two real runs share one store: the first delivers segments of different sizes, one of which has
bad data and one too few rows; the second changes two segments' data, one for the better and one
for the worse. Every segment runs the training pipeline's own components (validate, train, gate
against its own champion, register, a smoke test through a real `shipyard serve`, promote).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.cli.training import run_segmented_training
from shipyard.data.synthetic import make_demo_dataset
from shipyard.stages.segments import list_segments
from shipyard.store.registry import ModelRegistry

pytestmark = pytest.mark.slow


def _segment(
    name: str, rows: int, *, seed: int, flip: float = 0.0, constant: bool = False, hide: str = ""
) -> pd.DataFrame:
    frame = make_demo_dataset(rows, seed=seed).drop(columns=["region"])
    if hide:  # the column's values shuffled across rows: what it says about churn is lost
        frame[hide] = np.random.default_rng(seed + 2000).permutation(frame[hide].to_numpy())
    if flip:  # noisy labels: a share of the rows get the other class
        flipped = np.random.default_rng(seed + 1000).random(rows) < flip  # not the table's own draws
        frame.loc[flipped, "churned"] = frame.loc[flipped, "churned"].map({"yes": "no", "no": "yes"})
    if constant:
        frame["churned"] = "no"
    return frame.assign(market=name)


def _run(data: pd.DataFrame, tmp: Path, store: Path, name: str) -> dict:
    path = tmp / f"{name}.csv"
    data.to_csv(path, index=False)
    return run_segmented_training(
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


def _by_segment(summary: dict) -> dict[str, dict]:
    return {entry["segment"]: entry for entry in summary["segments"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    tmp = tmp_path_factory.mktemp("segments")
    store = tmp / "store"
    first = pd.concat(
        [
            _segment("north", 500, seed=1),
            _segment("south", 300, seed=2, hide="contract"),
            _segment("broken", 120, seed=3, constant=True),
            _segment("tiny", 20, seed=4),
            _segment("east", 150, seed=6),
        ]
    )
    second = pd.concat(
        [
            _segment("north", 500, seed=1, flip=0.45).astype({"support_calls": float}),  # labels mostly noise
            _segment("south", 300, seed=2),  # the same customers, their real contracts
            _segment("broken", 120, seed=3, constant=True),
            _segment("tiny", 20, seed=4),
            _segment("east", 150, seed=6),  # unchanged, though a gap in north makes support_calls floats
        ]
    )
    second.iloc[0, second.columns.get_loc("support_calls")] = np.nan  # one gap, in north
    return store, _run(first, tmp, store, "first"), _run(second, tmp, store, "second")


def test_each_segment_is_delivered_on_its_own_and_a_failing_one_blocks_none(runs):
    store, first, _ = runs
    assert first["status"] == "partial", first
    segments = _by_segment(first)
    assert set(segments) == {"north", "south", "broken", "tiny", "east"}
    for entry in first["segments"]:
        assert {"segment", "status", "blessed", "version", "metrics", "reasons"} <= set(entry)
    assert segments["north"]["status"] == "promoted" and segments["north"]["version"] == 1
    assert segments["south"]["status"] == "promoted" and segments["south"]["version"] == 1
    assert segments["north"]["aliases"] == {"staging": 1, "production": 1}
    assert segments["north"]["rows"] == 500 and segments["south"]["rows"] == 300
    broken = segments["broken"]
    assert broken["status"] == "failed" and broken["version"] is None
    assert "column 'churned'" in broken["error"], broken
    assert segments["tiny"]["status"] == "skipped"
    assert segments["tiny"]["reasons"] == ["20 rows, fewer than segments.min_rows (50)"]
    assert first["totals"] == {
        "promoted": 3,
        "rejected": 0,
        "unchanged": 0,
        "failed": 1,
        "skipped": 1,
        "total": 5,
    }
    registry = ModelRegistry.from_uri(str(store))
    assert registry.aliases("churn--broken") == {}, "a failed segment moves no alias"
    assert registry.get_run_record(broken["run_id"])["outcome"]["state"] == "FAILED"
    indexed = list_segments(registry, "churn").segments
    assert [entry["segment"] for entry in indexed] == ["broken", "east", "north", "south"]


def test_a_worse_challenger_leaves_its_segment_alone_while_another_promotes(runs):
    store, _, second = runs
    segments = _by_segment(second)
    assert segments["north"]["status"] == "rejected", segments["north"]
    assert segments["north"]["champion_version"] == 1
    assert segments["north"]["aliases"]["production"] == 1
    assert segments["south"]["status"] == "promoted", segments["south"]
    assert segments["south"]["version"] == 2 and segments["south"]["aliases"]["production"] == 2
    lineage = ModelRegistry.from_uri(str(store)).get_version("churn--south", 2).lineage
    assert lineage["data_uri"].endswith("/segments/south.parquet")
    assert lineage["run_id"] == segments["south"]["run_id"]


def test_an_unchanged_segment_trains_nothing(runs):
    store, _, second = runs
    east = _by_segment(second)["east"]
    assert east["status"] == "unchanged" and east["version"] == 1, east
    assert [v.version for v in ModelRegistry.from_uri(str(store)).list_versions("churn--east")] == [1]
    assert _by_segment(second)["broken"]["status"] == "failed", "bad data fails again, and only that segment"


def test_one_segment_rolls_back_and_the_others_stay(runs):
    store, _, _ = runs
    result = CliRunner().invoke(main, ["models", "rollback", "churn--south", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["current"] == 1
    registry = ModelRegistry.from_uri(str(store))
    assert registry.aliases("churn--south")["production"] == 1
    assert registry.aliases("churn--north")["production"] == 1
