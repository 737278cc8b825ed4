"""`shipyard serve` as a real process, queried over HTTP with V1 and V2 requests (one server for the module)."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.serving import client
from shipyard.stages.train import TrainedModel
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import ServerProcess, launch, register

# Slow tier: a real `shipyard serve` process per module.
pytestmark = pytest.mark.slow

#: Missing values, an unseen category and a None category: what real requests carry.
ROWS = pd.DataFrame(
    {
        "tenure": [1.5, None, -0.7, 0.2],
        "plan": ["pro", "basic", None, "enterprise"],
        "seats": [3, 12, 1, None],
    }
)


def expected_frame(rows: pd.DataFrame, trained: TrainedModel) -> pd.DataFrame:
    """The rows as training saw such data: numbers as float, categories as text, missing as NaN."""
    frame = rows.copy()
    for column in trained.categorical_columns:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    for column in trained.numeric_columns:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame[list(trained.feature_columns)]


def post(url: str, body: Any, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, classifier: TrainedModel) -> Path:
    root = tmp_path_factory.mktemp("serve-store")
    registry = ModelRegistry.from_uri(str(root / "store"))
    register(registry, "churn", classifier.pipeline, classifier, root)
    registry.set_alias("churn", "production", 1)
    return root / "store"


@pytest.fixture(scope="module")
def server(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = launch(store, "churn", tmp_path_factory.mktemp("serve-logs"))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_v2_answers_labels_probabilities_and_the_registry_version(server, classifier):
    answer = client.infer(server.url, "churn", ROWS)

    local = classifier.pipeline
    frame = expected_frame(ROWS, classifier)
    assert answer.model_version == "1"
    assert answer.predictions == list(local.predict(frame))
    assert answer.classes == ["no", "yes"]
    np.testing.assert_allclose(answer.probabilities, local.predict_proba(frame), rtol=1e-9)
    assert all(math.isclose(sum(row), 1.0) for row in answer.probabilities)


def test_v2_inputs_of_shape_rows_by_one_and_without_content_type(server, classifier):
    body = client.v2_request(ROWS)
    del body["parameters"]
    for item in body["inputs"]:
        item["shape"] = [len(ROWS), 1]
        item["data"] = [[value] for value in item["data"]]
    status, answer = post(f"{server.url}/v2/models/churn/infer", body)
    assert status == 200, answer
    assert answer["model_version"] == "1"
    (labels,) = [o["data"] for o in answer["outputs"] if o["name"] == "predictions"]
    assert labels == list(classifier.pipeline.predict(expected_frame(ROWS, classifier)))


def test_v1_records_with_nulls_and_absent_keys(server, classifier):
    records = [
        {"tenure": 1.5, "plan": "pro", "seats": 3},
        {"plan": "basic", "seats": 12},  # tenure absent: a missing value in this row
        {"tenure": -0.7, "plan": None, "seats": 1},
        {"seats": None, "plan": "enterprise", "tenure": 0.2},  # any key order
    ]
    status, answer = post(f"{server.url}/v1/models/churn:predict", {"instances": records})
    assert status == 200, answer
    request_id = answer.pop("id")  # generated (none was sent); logged traffic carries the same id
    assert answer == {"predictions": list(classifier.pipeline.predict(expected_frame(ROWS, classifier)))}
    assert isinstance(request_id, str) and len(request_id) == 36

    status, answer = post(f"{server.url}/v1/models/churn:predict", {"inputs": records})
    assert status == 200 and len(answer["predictions"]) == 4


def test_v1_rows_as_lists_in_feature_order(server, classifier):
    frame = expected_frame(ROWS, classifier)
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    status, answer = post(f"{server.url}/v1/models/churn:predict", {"instances": rows})
    assert status == 200, answer
    assert answer["predictions"] == list(classifier.pipeline.predict(frame))


def test_missing_feature_column_is_a_400_that_names_it(server):
    with pytest.raises(client.ServingError, match=r"missing feature column\(s\) \['seats'\]") as raised:
        client.infer(server.url, "churn", ROWS.drop(columns=["seats"]))
    assert raised.value.status == 400

    status, answer = post(f"{server.url}/v1/models/churn:predict", {"instances": [{"tenure": 1, "plan": "pro"}]})
    assert status == 400 and "'seats'" in answer["error"]


def test_unknown_column_is_a_400_that_names_it(server):
    with pytest.raises(client.ServingError, match=r"unknown column\(s\) \['zip'\]") as raised:
        client.infer(server.url, "churn", ROWS.assign(zip="02139"))
    assert raised.value.status == 400


def test_text_in_a_numeric_column_and_ragged_inputs_are_400s(server):
    status, answer = post(
        f"{server.url}/v1/models/churn:predict", {"instances": [{"tenure": "long", "plan": "pro", "seats": 1}]}
    )
    assert status == 400 and "column 'tenure'" in answer["error"]

    body = client.v2_request(ROWS)
    body["inputs"][0]["data"] = body["inputs"][0]["data"][:2]
    body["inputs"][0]["shape"] = [2]
    status, answer = post(f"{server.url}/v2/models/churn/infer", body)
    assert status == 400 and "different numbers of rows" in answer["error"]


def test_readiness_and_metadata(server):
    assert client.ready(server.url)
    assert get(f"{server.url}/v2/models/churn/ready") == (200, {"name": "churn", "ready": True})
    status, metadata = get(f"{server.url}/v2/models/churn")
    assert status == 200
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        ("tenure", "FP64"),
        ("plan", "BYTES"),
        ("seats", "FP64"),
    ]
    assert [o["name"] for o in metadata["outputs"]] == ["predictions", "probabilities"]
    assert get(f"{server.url}/v2/models/other/ready")[0] == 404
    assert "shipyard serve: 'churn' v1 (alias production) ready at" in server.stderr()
