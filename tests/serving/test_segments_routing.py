"""SegmentedModel in-process: rows routed by region to each segment's model, answered in order, logged per segment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.config import TrafficSettings
from shipyard.errors import RegistryError
from shipyard.serving.traffic_log import TrafficLogger
from shipyard.stages.segments import PlannedSegment, SegmentPlan, record_segments
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import REQUESTS, batch_keys, read_batch
from tests.serving.conftest import REGION, SEGMENTED, register, register_segments, train_segment
from tests.serving.test_serve_http import expected_frame

#: Mixed regions, in an order neither sorted nor grouped: answers must come back in this order.
ROWS = pd.DataFrame(
    {
        "tenure": [1.5, None, -0.7, 0.2, 0.9],
        "plan": ["pro", "basic", None, "enterprise", "team"],
        "seats": [3, 12, 1, None, 4],
        REGION: ["us", "eu", "us", "eu", "us"],
    }
)


@pytest.fixture(scope="module")
def trained():
    return {segment: train_segment(segment) for segment in ("eu", "us")}


@pytest.fixture
def segmented(tmp_path: Path, trained):
    from shipyard.serving.segment_plan import plan_segment_serving
    from shipyard.serving.segments import SegmentedModel

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    names = register_segments(registry, trained, tmp_path)
    loggers: dict[str, TrafficLogger] = {}

    def traffic_for(model: str) -> TrafficLogger:
        loggers[model] = TrafficLogger(registry.store, model, TrafficSettings(flush_seconds=600.0))
        return loggers[model]

    model = SegmentedModel(
        SEGMENTED,
        registry,
        "production",
        plan_segment_serving(registry, SEGMENTED, "production"),
        traffic_for=traffic_for,
    )
    model.load()
    yield model, registry, names, loggers
    model.stop()


def v2_request(frame: pd.DataFrame, request_id: str):
    from shipyard.serving._kserve import kserve
    from shipyard.serving.client import v2_request as body

    inputs = [kserve.InferInput(i["name"], i["shape"], i["datatype"], i["data"]) for i in body(frame)["inputs"]]
    return kserve.InferRequest(SEGMENTED, inputs, request_id=request_id)


def expected(trained, frame: pd.DataFrame) -> tuple[list, np.ndarray]:
    """Each row answered by its region's own pipeline, in the frame's order."""
    labels, probabilities = [], []
    for _, row in frame.iterrows():
        model = trained[row[REGION]]
        one = expected_frame(pd.DataFrame([row.drop(REGION)]), model)
        labels.append(model.pipeline.predict(one)[0])
        probabilities.append(model.pipeline.predict_proba(one)[0])
    return labels, np.array(probabilities)


def test_mixed_rows_are_answered_in_request_order_by_their_segments_models(segmented, trained):
    model, _, names, _ = segmented
    labels, probabilities = expected(trained, ROWS)
    for alone in trained.values():  # neither model alone answers so: the routing is what is tested
        assert labels != list(alone.pipeline.predict(expected_frame(ROWS.drop(columns=[REGION]), alone)))

    answer = model.predict(v2_request(ROWS, "mixed-1"))
    assert answer.id == "mixed-1" and answer.model_name == SEGMENTED
    predictions, proba = answer.outputs
    assert list(predictions.data) == labels
    np.testing.assert_allclose(np.reshape(proba.data, (len(ROWS), 2)), probabilities, rtol=1e-9)
    assert json.loads(proba.parameters["classes"]) == ["no", "yes"]
    assert json.loads(answer.parameters["segment_versions"]) == {names["eu"]: 1, names["us"]: 1}

    v1 = model.predict({"instances": json.loads(ROWS.to_json(orient="records")), "id": "mixed-2"})
    assert v1["predictions"] == labels and v1["id"] == "mixed-2"


def test_routed_rows_are_logged_under_the_segment_model_that_answered_with_their_request_positions(segmented, trained):
    model, registry, names, loggers = segmented
    model.predict(v2_request(ROWS, "logged-1"))
    model.stop()  # closes each segment's logger: everything is written

    store = registry.store
    assert batch_keys(store, SEGMENTED, REQUESTS, None, None) == []  # the parent answers nothing itself
    for segment, positions in (("eu", [1, 3]), ("us", [0, 2, 4])):
        (key,) = batch_keys(store, names[segment], REQUESTS, None, None)
        rows = read_batch(store, key)
        assert rows["request_id"].tolist() == ["logged-1"] * len(positions)
        assert rows["request_row"].tolist() == positions  # feedback joins labels by (request_id, request_row)
        assert set(rows["model_version"]) == {1}
        assert rows["tenure"].isna().tolist() == ROWS["tenure"].iloc[positions].isna().tolist()
        assert REGION not in rows.columns  # what the segment's model saw: its own features
        labels, _ = expected(trained, ROWS.iloc[positions])
        assert rows["prediction"].tolist() == labels
    assert all(logger.stats.errors == 0 for logger in loggers.values())


def test_a_row_of_an_unserved_segment_refuses_the_whole_request_naming_it(segmented):
    from shipyard.serving._kserve import InvalidInput

    model, registry, names, loggers = segmented
    with pytest.raises(InvalidInput, match=r"no model serves segment\(s\) 'apac'.*served segments: 'eu', 'us'"):
        model.predict(v2_request(ROWS.assign(**{REGION: ["eu", "apac", "us", "eu", "us"]}), "refused"))
    with pytest.raises(InvalidInput, match=r"column 'region': row\(s\) \[1\] have no value"):
        model.predict({"instances": [{"tenure": 1, "plan": "pro", "seats": 2, REGION: r} for r in ("eu", None)]})
    with pytest.raises(InvalidInput, match=r"lacks: send 'region' with every row, or ask one segment's model"):
        model.predict(v2_request(ROWS.drop(columns=[REGION]), "no-column"))
    with pytest.raises(
        InvalidInput, match=r"segment 'eu' \(model 'churn--eu'\): missing feature column\(s\) \['seats'\]"
    ):
        model.predict({"instances": [{"tenure": 1, "plan": "pro", REGION: "eu"}]})
    model.stop()
    for name in (SEGMENTED, *names.values()):
        assert batch_keys(registry.store, name, REQUESTS, None, None) == []  # nothing partial was logged
    assert all(logger.stats.rows_dropped == 0 for logger in loggers.values())


def test_a_promote_in_one_segment_is_followed_while_the_other_keeps_its_version(segmented, trained, tmp_path):
    model, registry, names, _ = segmented
    register(registry, names["eu"], trained["eu"].pipeline, trained["eu"], tmp_path)
    registry.set_alias(names["eu"], "production", 2)

    assert model.check_segments() == []
    assert {name: served.version for name, served in model.served.items()} == {names["eu"]: 2, names["us"]: 1}
    answer = model.predict(v2_request(ROWS, "after-promote"))
    assert json.loads(answer.parameters["segment_versions"]) == {names["eu"]: 2, names["us"]: 1}


def test_a_segment_without_a_version_is_not_served_until_it_gets_one(segmented, tmp_path, caplog):
    from shipyard.serving._kserve import InvalidInput

    model, registry, names, loggers = segmented
    apac = train_segment("apac")
    register(registry, "churn--apac", apac.pipeline, apac, tmp_path)  # registered, not promoted
    record_segments(registry, SegmentPlan(SEGMENTED, REGION, (PlannedSegment("apac", "churn--apac", 50),), ()))
    added: list[str] = []
    model.on_added = lambda segment_model: added.append(segment_model.name)
    caplog.set_level(logging.INFO, logger="shipyard.serving")

    assert model.check_segments() == []
    with pytest.raises(InvalidInput, match="'apac'"):
        model.predict({"instances": [{"tenure": 1, "plan": "pro", "seats": 2, REGION: "apac"}]})

    registry.set_alias("churn--apac", "production", 1)
    assert model.check_segments() == ["apac"]
    assert added == ["churn--apac"] and "churn--apac" in loggers  # served under its name, logging its traffic
    answer = model.predict({"instances": [{"tenure": 1, "plan": "pro", "seats": 2, REGION: "apac"}]})
    assert answer["predictions"] == list(
        apac.pipeline.predict(pd.DataFrame({"tenure": [1.0], "plan": ["pro"], "seats": [2.0]}))
    )
    assert any("segment 'apac' now served by 'churn--apac' v1" in r.getMessage() for r in caplog.records)


def test_serving_plan_reports_unpromoted_segments_and_refuses_two_columns(tmp_path, trained):
    from shipyard.serving.segment_plan import plan_segment_serving

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    names = register_segments(registry, trained, tmp_path)
    registry.set_alias(names["us"], "staging", 1)
    plan = plan_segment_serving(registry, SEGMENTED, "staging")
    assert [entry.segment for entry in plan.served] == ["us"] and plan.column == REGION
    assert [(entry.segment, reason) for entry, reason in plan.unserved] == [
        ("eu", "alias 'staging' of model 'churn--eu' points nowhere")
    ]

    record_segments(registry, SegmentPlan(SEGMENTED, "tier", (PlannedSegment("gold", "churn--gold", 50),), ()))
    with pytest.raises(RegistryError, match=r"more than one column \(region: eu, us; tier: gold\)"):
        plan_segment_serving(registry, SEGMENTED, "production")
    with pytest.raises(RegistryError, match="has no segments"):
        plan_segment_serving(registry, "other", "production")


def test_probabilities_of_segments_that_know_different_classes_are_put_on_one_scale():
    from shipyard.serving.segments import _stack_probabilities

    parts = [(np.array([[0.25, 0.75]]), ("no", "yes")), (np.array([[0.5, 0.5], [0.1, 0.9]]), ("yes", "maybe"))]
    stacked, classes = _stack_probabilities(parts, 3, [np.array([1]), np.array([2, 0])])
    assert classes == ("no", "yes", "maybe")
    np.testing.assert_allclose(stacked, [[0.0, 0.1, 0.9], [0.25, 0.75, 0.0], [0.0, 0.5, 0.5]])


def test_a_segment_whose_version_does_not_load_is_left_out_and_the_others_are_served(tmp_path, trained):
    from shipyard.serving.model import ModelLoadError
    from shipyard.serving.segment_plan import plan_segment_serving
    from shipyard.serving.segments import SegmentedModel

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    names = register_segments(registry, trained, tmp_path)
    with Path(registry.get_version(names["us"], 1).model_uri).open("ab") as stored:
        stored.write(b"tampered")  # the registered sha256 no longer matches
    model = SegmentedModel(SEGMENTED, registry, "production", plan_segment_serving(registry, SEGMENTED, "production"))
    removed: list[str] = []
    model.on_removed = removed.append
    model.load()
    assert model.ready and set(model.segments) == {"eu"} and removed == [names["us"]]
    assert model.check_segments() == [], "still broken: retried at each poll, not served"

    with Path(registry.get_version(names["eu"], 1).model_uri).open("ab") as stored:
        stored.write(b"tampered")
    nothing = SegmentedModel(SEGMENTED, registry, "production", plan_segment_serving(registry, SEGMENTED, "production"))
    with pytest.raises(ModelLoadError, match="no segment could be loaded"):
        nothing.load()
    assert not nothing.ready
