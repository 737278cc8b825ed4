"""`shipyard serve NAME` for a model with segments, as a real process: every segment's model behind one server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from shipyard.serving import client
from shipyard.stages.segments import PlannedSegment, SegmentPlan, record_segments
from shipyard.store import open_store
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import REQUESTS, batch_keys, read_batch
from tests.serving.conftest import REGION, SEGMENTED, register, register_segments, train_segment
from tests.serving.test_segments_routing import ROWS, expected
from tests.serving.test_serve_http import expected_frame, get, post

pytestmark = pytest.mark.slow

#: A promote must be served within this many seconds (poll interval 0.5 s).
SWITCH_TIMEOUT = 15.0


def test_segments_served_by_name_and_routed_by_region_with_a_promote_followed_per_segment(tmp_path: Path, start_server):
    trained = {segment: train_segment(segment) for segment in ("eu", "us")}
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    names = register_segments(registry, trained, tmp_path)
    apac = train_segment("apac")
    register(registry, "churn--apac", apac.pipeline, apac, tmp_path)  # in the index, never promoted
    record_segments(registry, SegmentPlan(SEGMENTED, REGION, (PlannedSegment("apac", "churn--apac", 50),), ()))
    config = tmp_path / "serve.yaml"
    config.write_text("traffic: {flush_seconds: 600}\n", encoding="utf-8")  # written on SIGTERM

    server = start_server(tmp_path / "store", SEGMENTED, "--poll-interval", "0.5", "--json", "--config", str(config))
    url = server.wait_ready()
    assert "segment 'apac' not served (alias 'production' of model 'churn--apac' points nowhere)" in server.stderr()

    features = ROWS.drop(columns=[REGION])
    for segment, name in names.items():  # each segment's model under its own name
        answer = client.infer(url, name, features, request_id=f"direct-{segment}")
        assert answer.model_version == "1"
        assert answer.predictions == list(trained[segment].pipeline.predict(expected_frame(features, trained[segment])))
        assert get(f"{url}/v2/models/{name}/ready") == (200, {"name": name, "ready": True})

    labels, _ = expected(trained, ROWS)
    routed = client.infer(url, SEGMENTED, ROWS, request_id="routed-v2")
    assert routed.predictions == labels and routed.model_version is None
    status, v1 = post(
        f"{url}/v1/models/{SEGMENTED}:predict",
        {"instances": json.loads(ROWS.to_json(orient="records")), "id": "routed-v1"},
    )
    assert status == 200 and v1["predictions"] == labels and v1["segment_versions"] == {names["eu"]: 1, names["us"]: 1}

    with pytest.raises(client.ServingError, match=r"segment\(s\) 'apac'.*served segments: 'eu', 'us'") as refused:
        client.infer(url, SEGMENTED, ROWS.assign(**{REGION: ["eu", "us", "apac", "eu", "us"]}))
    assert refused.value.status == 400
    with pytest.raises(client.ServingError, match="which the request lacks") as refused:
        client.infer(url, SEGMENTED, features)
    assert refused.value.status == 400

    register(registry, names["eu"], trained["eu"].pipeline, trained["eu"], tmp_path)
    registry.set_alias(names["eu"], "production", 2)
    deadline = time.monotonic() + SWITCH_TIMEOUT
    while client.infer(url, names["eu"], features).model_version != "2":
        assert time.monotonic() < deadline, f"the promote of {names['eu']} was not served:\n{server.stderr()}"
        time.sleep(0.2)
    assert client.infer(url, names["us"], features).model_version == "1"
    status, answer = post(f"{url}/v2/models/{SEGMENTED}/infer", client.v2_request(ROWS))
    assert status == 200
    assert json.loads(answer["parameters"]["segment_versions"]) == {names["eu"]: 2, names["us"]: 1}

    assert server.stop() == 0
    announced = json.loads(server.stdout.read_text())
    assert announced["column"] == REGION and announced["infer_url"].endswith("/v2/models/churn/infer")
    assert [(s["segment"], s["model"], s["version"]) for s in announced["segments"]] == [
        ("eu", "churn--eu", 1),
        ("us", "churn--us", 1),
    ]
    assert announced["unserved"][0]["model"] == "churn--apac"

    store = open_store(str(tmp_path / "store"))
    assert batch_keys(store, SEGMENTED, REQUESTS, None, None) == []
    for segment, name in names.items():
        logged = pd.concat([read_batch(store, k) for k in batch_keys(store, name, REQUESTS, None, None)])
        by_request = logged.groupby("request_id")["request_row"].agg(sorted).to_dict()
        mine = [i for i, region in enumerate(ROWS[REGION]) if region == segment]
        assert by_request["routed-v2"] == mine and by_request["routed-v1"] == mine
        assert by_request[f"direct-{segment}"] == list(range(len(ROWS)))
