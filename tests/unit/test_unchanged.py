"""The fingerprint of a training run, and finding the version a run would only repeat (a real local registry)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sklearn.dummy import DummyRegressor

from shipyard.config import load_config
from shipyard.errors import ConfigError
from shipyard.stages.ingest import ingest_table
from shipyard.stages.source import data_hash
from shipyard.stages.unchanged import (
    UNCHANGED_SECTION,
    canonical_json,
    effective_config_json,
    find_trained_version,
    fingerprint_key,
    fingerprint_run,
    match_unchanged_run,
    record_fingerprint,
    unchanged_message,
    unprovable_reason,
)
from shipyard.store.registry import ModelRegistry
from tests.unit.registered import holdout, register

LIBRARIES = {"shipyard-mlops": "0.1.0", "scikit-learn": "1.9.1"}
BASE = dict(
    data_hash="sha256:" + "a" * 64,
    config_text="",
    code_version="git:0123abc",
    target="churned",
    task="auto",
    libraries=LIBRARIES,
)


def test_the_cli_and_ingest_hash_the_same_bytes_the_same_way(tmp_path: Path):
    data = tmp_path / "t.csv"
    data.write_bytes(b"a,b\n1,x\n2,y\n")
    assert data_hash(data.read_bytes()) == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()
    assert ingest_table(str(data)).data_hash == data_hash(data.read_bytes())


def test_the_same_inputs_give_the_same_fingerprint_whatever_the_config_file_looks_like():
    first = fingerprint_run(**{**BASE, "config_text": "seed: 42\nmodel: {estimator: linear}\n"})
    again = fingerprint_run(**{**BASE, "config_text": "# a comment\nmodel:\n  estimator: linear\nseed: 42\n"})
    assert first.digest == again.digest and len(first.digest) == 64
    assert first.provable and first.unprovable == ""
    # Merging a default value explicitly changes nothing either: it is the effective config that counts.
    assert fingerprint_run(**BASE).digest == fingerprint_run(**{**BASE, "config_text": "seed: 42\n"}).digest
    # How the server logs traffic trains nothing: changing it alone is not a new training input.
    serve_only = fingerprint_run(**{**BASE, "config_text": "traffic: {flush_seconds: 1, hash_columns: [age]}\n"})
    assert serve_only.digest == fingerprint_run(**BASE).digest


def test_the_effective_config_is_what_load_config_merges(tmp_path: Path):
    text = "model: {estimator: random_forest, params: {n_estimators: 5}}\ngate: {margin: 0.1}\n"
    merged = {key: value for key, value in load_config(text).raw.items() if key not in ("traffic", "segments")}
    assert effective_config_json(text) == canonical_json(merged)
    with pytest.raises(ConfigError, match="not valid YAML"):
        effective_config_json("model: [unclosed")


@pytest.mark.parametrize(
    "change",
    [
        {"data_hash": "sha256:" + "b" * 64},
        {"config_text": "model: {estimator: linear}\n"},
        {"config_text": "monitoring: {drift_share: 0.25}\n"},
        {"code_version": "git:4567def"},
        {"target": "plan"},
        {"task": "classification"},
        {"libraries": {**LIBRARIES, "scikit-learn": "1.10.0"}},
        {"libraries": {**LIBRARIES, "shipyard-mlops": "0.2.0"}},
    ],
)
def test_any_changed_input_changes_the_fingerprint(change):
    assert fingerprint_run(**{**BASE, **change}).digest != fingerprint_run(**BASE).digest


def test_a_contract_counts_by_uri_and_by_content(tmp_path: Path):
    contract = tmp_path / "contract.json"
    contract.write_text('{"columns": {}}')
    with_contract = fingerprint_run(**BASE, contract_uri=str(contract))
    assert with_contract.digest != fingerprint_run(**BASE).digest
    assert with_contract.inputs["contract_hash"] == data_hash(contract.read_bytes())
    contract.write_text('{"columns": {"x": {}}}')  # same path, another contract
    assert fingerprint_run(**BASE, contract_uri=str(contract)).digest != with_contract.digest


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("git:0123abc-dirty", "uncommitted changes"),
        ("", "unknown"),
        ("shipyard==0.0.0+unknown", "unknown"),
        ("shipyard==0.1.0+editable", "editable install"),
    ],
)
def test_dirty_or_unknown_code_can_never_prove_the_same_code(version, reason):
    assert reason in unprovable_reason(version)
    assert fingerprint_run(**{**BASE, "code_version": version}).provable is False


@pytest.mark.parametrize("version", ["git:0123abc", "shipyard==0.1.0", "release-5"])
def test_a_commit_a_release_or_an_explicit_version_can(version):
    assert unprovable_reason(version) == ""


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry.from_uri(str(tmp_path / "store"))


def _two_versions(registry: ModelRegistry, tmp_path: Path) -> None:
    frame = holdout()
    for _ in range(2):
        register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]), name="m")


def test_a_recorded_fingerprint_is_found_with_one_read(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    assert find_trained_version(registry, "m", fingerprint) is None
    assert record_fingerprint(registry, "m", fingerprint.digest, 1, run_id="r1") is True
    assert registry.store.exists(fingerprint_key("m", fingerprint.digest))

    reads: list[str] = []
    real_read = registry.store.read
    registry.store.read = lambda key: reads.append(key) or real_read(key)  # type: ignore[method-assign]
    assert find_trained_version(registry, "m", fingerprint) == 1
    assert reads == [f"models/m/fingerprints/{fingerprint.digest}.json"]
    # Another model's fingerprints are its own.
    assert find_trained_version(registry, "other", fingerprint) is None


def test_the_newest_version_trained_on_the_inputs_wins(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    record_fingerprint(registry, "m", fingerprint.digest, 1)
    record_fingerprint(registry, "m", fingerprint.digest, 2)  # a --force retrain registered v2
    assert find_trained_version(registry, "m", fingerprint) == 2


def test_an_unprovable_fingerprint_is_neither_recorded_nor_matched(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    dirty = fingerprint_run(**{**BASE, "code_version": "git:0123abc-dirty"})
    assert record_fingerprint(registry, "m", "", 1) is False  # what the pipeline passes for it
    forged = json.dumps({"fingerprint": dirty.digest, "version": 1}).encode()
    registry.store.write(fingerprint_key("m", dirty.digest), forged)
    assert find_trained_version(registry, "m", dirty) is None


@pytest.mark.parametrize(
    "content", [b"not json", b'{"fingerprint": "other", "version": 1}', b'{"version": "1"}', b"[]"]
)
def test_a_record_that_does_not_read_back_is_no_match(registry: ModelRegistry, tmp_path: Path, content: bytes):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    registry.store.write(fingerprint_key("m", fingerprint.digest), content)
    assert find_trained_version(registry, "m", fingerprint) is None


def test_a_match_records_the_run_as_unchanged(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    record_fingerprint(registry, "m", fingerprint.digest, 2)
    registry.record_smoke_test("m", 2, passed=True, problems=[])
    matched = match_unchanged_run(registry, "m", "run-b", fingerprint)
    assert matched is not None and matched.version == 2
    section = registry.get_run_record("run-b")[UNCHANGED_SECTION]
    assert section["version"] == 2 and section["fingerprint"] == fingerprint.digest
    assert section["inputs"]["code_version"] == "git:0123abc"


def test_force_trains_and_records_nothing(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    record_fingerprint(registry, "m", fingerprint.digest, 2)
    assert match_unchanged_run(registry, "m", "run-c", fingerprint, force=True) is None
    assert registry.get_run_record("run-c") == {}


def test_a_version_that_failed_its_smoke_test_or_is_gone_is_no_match(registry: ModelRegistry, tmp_path: Path):
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    record_fingerprint(registry, "m", fingerprint.digest, 2)
    registry.record_smoke_test("m", 2, passed=False, problems=["too slow"])
    assert match_unchanged_run(registry, "m", "run-d", fingerprint) is None
    record_fingerprint(registry, "m", fingerprint.digest, 7)  # no such version
    assert match_unchanged_run(registry, "m", "run-e", fingerprint) is None
    assert registry.get_run_record("run-d") == {} and registry.get_run_record("run-e") == {}


def test_a_version_never_smoke_tested_is_no_match(registry: ModelRegistry, tmp_path: Path):
    """Its run was interrupted or killed after register, or failed at deploy: it never proved deliverable."""
    _two_versions(registry, tmp_path)
    fingerprint = fingerprint_run(**BASE)
    record_fingerprint(registry, "m", fingerprint.digest, 2)
    assert registry.version_status("m", 2) is None
    assert match_unchanged_run(registry, "m", "run-f", fingerprint) is None
    assert registry.get_run_record("run-f") == {}
    registry.record_smoke_test("m", 2, passed=True, problems=[])
    assert match_unchanged_run(registry, "m", "run-g", fingerprint) is not None


def test_the_message_says_where_the_matched_version_stands():
    assert unchanged_message("churn", 3, {"production": 3, "staging": 3}) == (
        "unchanged: production v3 was trained on this data, config and code"
    )
    elsewhere = unchanged_message("churn", 3, {"production": 2})
    assert elsewhere.startswith("unchanged: v3 of 'churn' was trained on this data, config and code")
    assert "production is v2" in elsewhere and "shipyard models promote churn 3" in elsewhere
    assert "no version is in production" in unchanged_message("churn", 1, {})
