"""Versions in the registry (register, get, list, verified load/download, verify), on both backends."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from shipyard.errors import IntegrityError, RegistryError
from shipyard.store.registry import ModelRegistry, sha256_file
from tests.store.conftest import LINEAGE, register


def test_register_list_get(registry, model_file):
    path = model_file()
    v1 = registry.register_version(
        "churn",
        path,
        metrics={"accuracy": np.float64(0.91), "n": np.int64(3)},
        params={"max_depth": 3},
        lineage=LINEAGE,
        run_id="run-1",
    )
    v2 = register(registry, model_file, run_id="run-2", accuracy=0.93)

    assert (v1.name, v1.version, v2.version) == ("churn", 1, 2)
    assert v1.uri.endswith("/models/churn/1/") and v1.model_uri == v1.uri + "model.joblib"
    assert v1.uri.startswith(registry.uri)
    assert v1.sha256 == sha256_file(path) and v1.size_bytes == path.stat().st_size
    assert datetime.fromisoformat(v1.created_at.replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    assert v1.metrics == {"accuracy": 0.91, "n": 3} and type(v1.metrics["n"]) is int
    assert v1.params == {"max_depth": 3}
    assert v1.lineage == {**LINEAGE, "run_id": "run-1"}  # every lineage field the caller passed is kept

    assert registry.list_models() == ["churn"]
    assert [v.version for v in registry.list_versions("churn")] == [1, 2]
    assert registry.get_version("churn", 1) == v1
    assert registry.get_version("churn", 2).to_dict()["metrics"] == {"accuracy": 0.93}
    assert ModelRegistry.from_uri(registry.uri).get_version("churn", 2) == v2  # the URI reopens the same registry
    assert registry.list_versions("unknown") == []


def test_to_dict_is_plain_json(registry, model_file):
    data = register(registry, model_file).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "name",
        "version",
        "uri",
        "model_uri",
        "sha256",
        "size_bytes",
        "created_at",
        "metrics",
        "params",
        "lineage",
        "files",
    }


def test_missing_versions_name_model_and_version(registry, model_file):
    with pytest.raises(RegistryError, match=r"model 'churn' has no version 1; it has no registered versions"):
        registry.get_version("churn", 1)
    register(registry, model_file)
    with pytest.raises(RegistryError, match=r"model 'churn' has no version 7; its latest version is 1"):
        registry.get_version("churn", 7)
    with pytest.raises(RegistryError, match="positive whole number"):
        registry.get_version("churn", 0)


def test_the_version_directory_is_servable_as_is(registry, model_file):
    version = register(registry, model_file)
    assert registry.store.list("models/churn/1/") == [
        "models/churn/1/.claim",
        "models/churn/1/metadata.json",
        "models/churn/1/model.joblib",
    ]
    assert version.model_uri == registry.store.uri_for("models/churn/1/model.joblib")


def test_versions_are_immutable(registry, model_file):
    v1 = register(registry, model_file)
    original = registry.load_model("churn", 1)
    register(registry, model_file)
    meta_key = "models/churn/1/metadata.json"
    assert registry.store.create(meta_key, b"{}") is False  # metadata is create-only
    assert registry.get_version("churn", 1) == v1
    assert registry.load_model("churn", 1) == original


def test_a_claimed_number_without_metadata_is_invisible_and_skipped(registry, model_file):
    """What a register that crashed after claiming leaves behind: a gap, never a reused number."""
    registry.store.create("models/churn/1/.claim", b"{}")
    registry.store.write("models/churn/1/model.joblib", b"half an upload")
    assert registry.list_versions("churn") == [] and registry.list_models() == []
    assert register(registry, model_file).version == 2
    assert [v.version for v in registry.list_versions("churn")] == [2]


def test_register_rejects_bad_input_before_writing(registry, model_file, tmp_path):
    with pytest.raises(RegistryError, match="does not exist"):
        registry.register_version("churn", tmp_path / "nope.joblib", metrics={}, params={}, lineage={})
    with pytest.raises(RegistryError, match="metrics must be JSON-serialisable"):
        registry.register_version("churn", model_file(), metrics={"f": object()}, params={}, lineage={})
    with pytest.raises(RegistryError, match="lineage must be a mapping"):
        registry.register_version("churn", model_file(), metrics={}, params={}, lineage=["x"])
    assert registry.store.list("") == []


def test_load_model_verifies_sha256_before_unpickling(registry, model_file, monkeypatch):
    register(registry, model_file)
    assert registry.load_model("churn", 1)["weights"][1:] == [1.5, 2.5]

    import joblib

    registry.store.write("models/churn/1/model.joblib", b"tampered: not what was registered")
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("unpickled an unverified file"))
    with pytest.raises(IntegrityError, match=r"model 'churn' version 1: .* sha256 .* was registered"):
        registry.load_model("churn", 1)


def test_download_model_gives_a_verified_copy(registry, model_file, tmp_path):
    path = model_file()
    registry.register_version("churn", path, metrics={}, params={}, lineage={})
    copy = registry.download_model("churn", 1, tmp_path / "out")
    assert copy == tmp_path / "out" / "model.joblib" and copy.read_bytes() == path.read_bytes()

    registry.store.write("models/churn/1/model.joblib", path.read_bytes() + b"!")
    with pytest.raises(IntegrityError):
        registry.download_model("churn", 1, tmp_path / "out2")
    assert list((tmp_path / "out2").iterdir()) == []  # nothing unverified left behind


def test_verify_finds_tampered_and_missing_files(registry, model_file):
    for _ in range(3):
        register(registry, model_file)
    register(registry, model_file, name="other")
    assert all(entry["ok"] for entry in registry.verify()) and len(registry.verify()) == 4

    registry.store.write("models/churn/2/model.joblib", b"flipped bits")
    registry.store.delete("models/churn/3/model.joblib")
    report = {(e["model"], e["version"]): e for e in registry.verify("churn")}
    assert set(report) == {("churn", 1), ("churn", 2), ("churn", 3)}
    assert report[("churn", 1)]["ok"] and report[("churn", 1)]["actual"] == report[("churn", 1)]["expected"]
    assert not report[("churn", 2)]["ok"] and "sha256 mismatch" in report[("churn", 2)]["problem"]
    assert report[("churn", 2)]["actual"] != report[("churn", 2)]["expected"]
    assert not report[("churn", 3)]["ok"] and "missing" in report[("churn", 3)]["problem"]
    with pytest.raises(IntegrityError, match="missing"):
        registry.load_model("churn", 3)


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", "", "Churn", "a.b", "/abs"])
def test_names_that_could_escape_the_layout_are_rejected(registry, model_file, bad):
    with pytest.raises(RegistryError, match=r"invalid model name .*lowercase letters"):
        registry.register_version(bad, model_file(), metrics={}, params={}, lineage={})
    with pytest.raises(RegistryError, match="invalid"):
        registry.get_version(bad, 1)
    with pytest.raises(RegistryError, match="invalid"):
        registry.list_versions(bad)
    register(registry, model_file)
    with pytest.raises(RegistryError, match=r"invalid alias name"):
        registry.set_alias("churn", bad, 1)
    with pytest.raises(RegistryError, match=r"invalid alias name"):
        registry.resolve_alias("churn", bad)
    if bad in ("../escape", "a/b", "..", "", "/abs"):  # run ids may have capitals and dots, never paths
        with pytest.raises(RegistryError, match="invalid run id"):
            registry.put_run_record(bad, "gate", {})
    assert all(key.startswith(("models/churn/", "models/")) for key in registry.store.list(""))
    assert registry.list_models() == ["churn"]


def test_a_directory_that_is_not_a_model_name_is_skipped(registry, model_file):
    register(registry, model_file)
    register(registry, model_file, name="fraud")
    metadata = registry.store.read("models/churn/1/metadata.json")
    for stray in ("Churn.old", "churn copy", "-x"):  # hand-made copies no registry could have written
        registry.store.write(f"models/{stray}/1/metadata.json", metadata)
        registry.store.write(f"models/{stray}/1/model.joblib", b"whatever")

    assert registry.list_models() == ["churn", "fraud"]
    report = registry.verify()
    assert [(e["model"], e["version"], e["ok"]) for e in report] == [("churn", 1, True), ("fraud", 1, True)]


def test_verify_reports_a_corrupt_version_as_a_bad_row_and_checks_the_rest(registry, model_file):
    for _ in range(5):
        register(registry, model_file)
    register(registry, model_file, name="fraud")
    good = json.loads(registry.store.read("models/churn/3/metadata.json"))
    registry.store.write("models/churn/2/metadata.json", b"{not json")
    registry.store.write(
        "models/churn/3/metadata.json", json.dumps({k: v for k, v in good.items() if k != "sha256"}).encode()
    )
    registry.store.write(
        "models/churn/4/metadata.json", json.dumps({**good, "version": 4, "size_bytes": "big"}).encode()
    )
    registry.store.delete("models/churn/5/model.joblib")

    report = {(e["model"], e["version"]): e for e in registry.verify()}
    assert set(report) == {("churn", 1), ("churn", 2), ("churn", 3), ("churn", 4), ("churn", 5), ("fraud", 1)}
    assert report[("churn", 1)]["ok"] and report[("fraud", 1)]["ok"]
    assert not report[("churn", 2)]["ok"] and "metadata.json" in report[("churn", 2)]["problem"]
    assert "corrupt registry document" in report[("churn", 2)]["problem"]
    assert not report[("churn", 3)]["ok"] and "missing field 'sha256'" in report[("churn", 3)]["problem"]
    assert not report[("churn", 4)]["ok"] and "field 'size_bytes'" in report[("churn", 4)]["problem"]
    assert not report[("churn", 5)]["ok"] and report[("churn", 5)]["problem"] == "model.joblib is missing"
    assert [e["version"] for e in registry.verify("churn")] == [1, 2, 3, 4, 5]  # one model, same rows
