"""check_unchanged through its python function, on a real local registry, with no orchestrator."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyClassifier

from shipyard.components import check_unchanged
from shipyard.stages.unchanged import record_fingerprint
from shipyard.store.registry import ModelRegistry

DATA_HASH = "sha256:" + "d" * 64


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    model = tmp_path / "model.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), model)
    registry.register_version("churn", model, metrics={}, params={}, lineage={})
    return registry


def check(registry: ModelRegistry, tmp_path: Path, run_id: str, **changes) -> tuple[str, str]:
    """(matched version or '', fingerprint output) of one check step."""
    output = tmp_path / f"fingerprint-{run_id}"
    arguments = dict(
        data_hash=DATA_HASH,
        target="churned",
        task="auto",
        model_name="churn",
        store_uri=registry.uri,
        config_yaml="",
        contract_uri="",
        code_version="git:abc",
        force=False,
        run_id=run_id,
    )
    matched = check_unchanged.python_func(**{**arguments, **changes}, fingerprint=str(output))
    return matched, output.read_text()


def test_a_run_on_recorded_inputs_matches_and_is_recorded_as_unchanged(registry: ModelRegistry, tmp_path: Path):
    matched, digest = check(registry, tmp_path, "r1")
    assert matched == "" and len(digest) == 64  # nothing recorded yet: the run trains
    record_fingerprint(registry, "churn", digest, 1)  # what register does with that output
    registry.record_smoke_test("churn", 1, passed=True, problems=[])  # and the smoke test that passed

    matched, again = check(registry, tmp_path, "r2")
    assert (matched, again) == ("1", digest)
    assert registry.get_run_record("r2")["unchanged"]["version"] == 1
    assert registry.get_run_record("r1") == {}

    assert check(registry, tmp_path, "r3", force=True) == ("", digest)  # force trains, and register records
    assert check(registry, tmp_path, "r4", config_yaml="seed: 1\n")[0] == ""


def test_dirty_code_trains_and_gives_register_nothing_to_record(registry: ModelRegistry, tmp_path: Path):
    _, digest = check(registry, tmp_path, "r1", code_version="git:abc-dirty")
    assert digest == ""


def test_an_empty_code_version_is_detected_as_register_detects_it(registry, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", "git:abc")
    assert check(registry, tmp_path, "r1", code_version="")[1] == check(registry, tmp_path, "r2")[1]
