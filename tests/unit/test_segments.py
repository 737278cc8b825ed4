"""The segments core (shipyard/stages/segments.py): names, plans, the index, totals."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard.config import load_config
from shipyard.errors import ConfigError, DataValidationError, RegistryError
from shipyard.stages.segments import (
    find_segment,
    list_segments,
    plan_segments,
    plan_table,
    record_segments,
    segment_model_name,
    segment_rows,
    segment_run_id,
    segment_totals,
)
from shipyard.store.names import validate_model_name
from shipyard.store.registry import ModelRegistry


def _settings(extra: str = ""):
    return load_config(f"segments: {{column: market, min_rows: 3{extra}}}").segments


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "market": ["eu"] * 4 + ["EU"] * 3 + ["São Paulo"] * 3 + [7] * 3 + ["x"] * 2 + [None],
            "y": range(16),
        }
    )


def test_safe_values_are_the_name_and_others_get_a_slug_and_a_hash():
    assert segment_model_name("churn", "eu") == "churn--eu"
    upper, spaced = segment_model_name("churn", "EU"), segment_model_name("churn", "São Paulo")
    assert upper.startswith("churn--eu-") and upper != "churn--eu"
    assert spaced.startswith("churn--s-o-paulo-")
    long = segment_model_name("churn", "v" * 200)
    assert len(long) <= 63 and validate_model_name(long) == long
    assert long != segment_model_name("churn", "v" * 199), "values cut to the same slug keep distinct names"
    assert segment_run_id("run-1", "churn", "eu") == "run-1.eu"
    with pytest.raises(RegistryError, match="too long for segments"):
        segment_model_name("m" * 55, "eu")


def test_a_plan_delivers_big_enough_segments_and_says_why_the_others_are_skipped():
    plan = plan_segments(_table(), "churn", _settings(), target="y")
    assert [(s.segment, s.rows) for s in plan.planned] == [("7", 3), ("EU", 3), ("São Paulo", 3), ("eu", 4)]
    skipped = {s.segment: s.reason for s in plan.skipped}
    assert skipped == {"x": "2 rows, fewer than segments.min_rows (3)", None: "no value in column 'market'"}
    assert len(segment_rows(_table(), "market", "7")) == 3, "numbers compare as the text the plan shows"

    allowed = plan_segments(_table(), "churn", _settings(", allow: [eu, 7, mars]"), target="y")
    assert [s.segment for s in allowed.planned] == ["7", "eu"]
    reasons = {s.segment: s.reason for s in allowed.skipped}
    assert reasons["EU"] == "not in segments.allow"
    assert reasons["mars"] == "in segments.allow but not in the table"


@pytest.mark.parametrize(
    ("column", "min_rows", "message"),
    [
        ("nope", 3, "column 'nope': the segment column is not in the table"),
        ("y", 3, "column 'y': is the target"),
        ("market", 50, "column 'market': no segment to train"),
    ],
)
def test_a_plan_that_cannot_work_names_the_column(column: str, min_rows: int, message: str):
    settings = load_config(f"segments: {{column: {column}, min_rows: {min_rows}}}").segments
    with pytest.raises(DataValidationError, match=message):
        plan_segments(_table(), "churn", settings, target="y")


def test_the_index_pages_and_finds_segments_by_value_or_name(tmp_path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    plan = plan_segments(_table(), "churn", _settings(), target="y")
    record_segments(registry, plan)
    record_segments(registry, plan)  # again: entries already there are left as they are
    first = list_segments(registry, "churn", limit=3)
    assert first.total == 4 and len(first.segments) == 3 and first.next_after is not None
    rest = list_segments(registry, "churn", limit=3, after=first.next_after)
    assert rest.next_after is None
    assert sorted(e["segment"] for e in first.segments + rest.segments) == ["7", "EU", "São Paulo", "eu"]
    assert find_segment(registry, "churn", "São Paulo") == segment_model_name("churn", "São Paulo")
    assert find_segment(registry, "churn", "churn--eu") == "churn--eu"
    with pytest.raises(RegistryError, match="has no segment 'mars'"):
        find_segment(registry, "churn", "mars")


def test_plan_table_stores_each_segments_rows_and_refuses_kserve(tmp_path):
    from shipyard.stages.ingest import ingest_table

    data = tmp_path / "t.csv"
    _table().to_csv(data, index=False)
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    config = load_config("segments: {column: market, min_rows: 3}")
    planned = plan_table(registry, ingest_table(str(data)), "churn", config, segment_by="", target="y", run_id="r1")
    assert len(planned.items) == 4
    record = registry.get_run_record("r1")["segments"]
    item = next(i for i in record["items"] if i["segment"] == "eu")
    assert item["run_id"] == "r1.eu" and item["data_uri"].endswith("runs/r1/segments/eu.parquet")
    assert list(pd.read_parquet(item["data_uri"])["y"]) == [0, 1, 2, 3]
    kserve = load_config("segments: {column: market}\ndeploy: {target: kserve}")
    with pytest.raises(ConfigError, match="deploy.target"):
        plan_table(registry, ingest_table(str(data)), "churn", kserve, segment_by="", target="y", run_id="r2")


def test_totals_count_every_status():
    totals = segment_totals([{"status": "promoted"}, {"status": "failed"}, {"status": "promoted"}])
    assert totals == {"promoted": 2, "rejected": 0, "unchanged": 0, "failed": 1, "skipped": 0, "total": 3}


def test_one_value_is_one_label_whatever_its_type():
    from shipyard.stages.segments import segment_label

    assert {segment_label(v) for v in (1, 1.0, "1", " 1 ", pd.Series([1.0, None])[0])} == {"1"}
    assert segment_label(1.5) == "1.5" and segment_label(True) == "true"
    assert segment_label(None) is None and segment_label(float("nan")) is None and segment_label("  ") is None
    assert load_config("segments: {allow: [1.0, eu]}").segments.allow == ("1", "eu")
    floats = pd.DataFrame({"tier": [1.0, 2.0, 1.0, 2.0, None], "y": [0.5, 1.5, 2.5, 3.5, 4.5]})
    assert [s.segment for s in plan_segments(floats, "t", _settings_for("tier"), target="y").planned] == ["1", "2"]


def _settings_for(column: str):
    return load_config(f"segments: {{column: {column}, min_rows: 2}}").segments


def test_names_with_the_separator_never_collide():
    assert segment_model_name("churn", "eu--west") != "churn--eu--west"
    with pytest.raises(RegistryError, match="holds '--'"):
        segment_model_name("churn--eu", "west")


def test_a_segment_keeps_its_integers_when_another_segment_has_a_gap():
    frame = pd.DataFrame({"market": ["a", "a", "b"], "calls": [1.0, 2.0, None]})
    assert segment_rows(frame, "market", "a")["calls"].dtype == "int64"
    assert segment_rows(frame, "market", "b")["calls"].dtype == "float64"


def test_a_model_segmented_by_one_column_refuses_another(tmp_path):
    from shipyard.stages.segments import check_segment_column

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    record_segments(registry, plan_segments(_table(), "churn", _settings(), target="y"))
    check_segment_column(registry, "churn", "market")
    with pytest.raises(ConfigError, match="segmented by column 'market', not 'zone'"):
        check_segment_column(registry, "churn", "zone")


def test_only_indexed_names_are_segment_models_and_big_floats_stay_floats(tmp_path):
    from shipyard.stages.segments import is_segment_model

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    record_segments(registry, plan_segments(_table(), "churn", _settings(), target="y"))
    assert is_segment_model(registry, "churn--eu")
    assert not is_segment_model(registry, "plain--v2") and not is_segment_model(registry, "churn")
    assert "--" not in segment_model_name("churn", "a - b").removeprefix("churn--")
    frame = pd.DataFrame({"market": ["a", "a", "b"], "big": [1e20, 2e19, None], "real": [0.5, 1.0, None]})
    rows = segment_rows(frame, "market", "a")
    assert rows["big"].dtype == "float64" and list(rows["big"]) == [1e20, 2e19]
    assert rows["real"].dtype == "float64"
