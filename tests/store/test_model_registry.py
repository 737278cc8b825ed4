"""The registry suite, run unchanged against a local directory and against S3 (moto)."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from shipyard.errors import IntegrityError, RegistryError
from shipyard.store.registry import AliasMove, ModelRegistry, sha256_file

LINEAGE = {
    "data_uri": "s3://data/churn.csv",
    "data_hash": "abc123",
    "data_contract": "runs/r1/contract.json",
    "code_version": "git:deadbeef",
    "parent_version": None,
    "task": "classification",
    "target": "churned",
    "classes": ["no", "yes"],
    "feature_columns": ["age", "plan"],
    "extra_field": {"kept": True},
}


def register(registry: ModelRegistry, model_file, name: str = "churn", run_id: str = "run-1", **metrics):
    return registry.register_version(
        name,
        model_file(),
        metrics=metrics or {"accuracy": 0.9},
        params={"estimator": "linear"},
        lineage=LINEAGE,
        run_id=run_id,
    )


# -- versions --------------------------------------------------------------------------------------


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
    }


def test_missing_versions_name_model_and_version(registry, model_file):
    with pytest.raises(RegistryError, match=r"model 'churn' has no version 1; it has no registered versions"):
        registry.get_version("churn", 1)
    register(registry, model_file)
    with pytest.raises(RegistryError, match=r"model 'churn' has no version 7; its versions are 1"):
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


# -- integrity -------------------------------------------------------------------------------------


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


# -- aliases ---------------------------------------------------------------------------------------


def test_aliases_set_resolve_and_keep_history(registry, model_file):
    for _ in range(3):
        register(registry, model_file)
    assert registry.resolve_alias("churn", "production") is None
    assert registry.set_alias("churn", "production", 1, run_id="run-a") == AliasMove("churn", "production", None, 1)
    assert registry.set_alias("churn", "production", 2) == AliasMove("churn", "production", 1, 2)
    assert registry.set_alias("churn", "production", 3) == AliasMove("churn", "production", 2, 3)
    registry.set_alias("churn", "staging", 2, action="deployed")
    assert registry.aliases("churn") == {"production": 3, "staging": 2}
    assert registry.resolve_alias("churn", "production").version == 3

    document = json.loads(registry.store.read("models/churn/aliases/production.json"))
    assert document["version"] == 3 and document["history"] == [1, 2]
    assert {"updated_at", "run_id", "actor"} <= set(document) and document["actor"] == "tester@ci"

    # moving an alias to where it already is changes nothing
    assert registry.set_alias("churn", "production", 3) == AliasMove("churn", "production", 3, 3)
    assert json.loads(registry.store.read("models/churn/aliases/production.json"))["history"] == [1, 2]


def test_rollback_pops_history(registry, model_file):
    for _ in range(3):
        register(registry, model_file)
    for version in (1, 2, 3):
        registry.set_alias("churn", "production", version)
    assert registry.rollback("churn", run_id="run-rb") == AliasMove("churn", "production", 3, 2)
    assert registry.rollback("churn", "production") == AliasMove("churn", "production", 2, 1)
    assert registry.resolve_alias("churn", "production").version == 1
    with pytest.raises(
        RegistryError,
        match=r"no earlier version left to roll back to \(it points at version 1 and its rollback history is used "
        r"up\); move it with `shipyard models promote churn VERSION --alias production`",
    ):
        registry.rollback("churn")
    with pytest.raises(RegistryError, match="has no alias 'canary'"):
        registry.rollback("churn", "canary")
    assert json.loads(registry.store.read("models/churn/aliases/production.json"))["history"] == []


def test_set_alias_needs_an_existing_version(registry, model_file):
    register(registry, model_file)
    registry.set_alias("churn", "production", 1)
    with pytest.raises(RegistryError, match="model 'churn' has no version 5"):
        registry.set_alias("churn", "production", 5)
    with pytest.raises(RegistryError, match="has no version 1"):
        registry.set_alias("fraud", "production", 1)
    assert registry.aliases("churn") == {"production": 1}


def test_audit_log_records_every_event_oldest_first(registry, model_file):
    register(registry, model_file, run_id="run-1")
    register(registry, model_file, run_id="run-2")
    registry.set_alias("churn", "production", 1, run_id="run-1")
    registry.set_alias("churn", "production", 2, run_id="run-2")
    registry.rollback("churn", "production", run_id="run-3")
    events = registry.audit_log("churn")
    assert [(e["event"], e["version"], e["alias"], e["previous"], e["run_id"]) for e in events] == [
        ("registered", 1, None, None, "run-1"),
        ("registered", 2, None, None, "run-2"),
        ("promoted", 1, "production", None, "run-1"),
        ("promoted", 2, "production", 1, "run-2"),
        ("rolled_back", 1, "production", 2, "run-3"),
    ]
    assert all(e["actor"] == "tester@ci" and e["time"].endswith("Z") for e in events)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert registry.audit_log("never-registered") == []


def test_actor_defaults_to_user_at_host(registry, model_file, monkeypatch):
    monkeypatch.delenv("SHIPYARD_ACTOR")
    register(registry, model_file)
    actor = registry.audit_log("churn")[0]["actor"]
    assert "@" in actor and actor != "tester@ci"


# -- names -----------------------------------------------------------------------------------------


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


# -- run records -----------------------------------------------------------------------------------


def test_run_records(registry):
    assert registry.get_run_record("run-1") == {}
    registry.put_run_record("run-1", "validation", {"ok": True, "problems": []})
    registry.put_run_record("run-1", "gate", {"blessed": False, "score": np.float32(0.5)})
    registry.put_run_record("run-1", "gate", {"blessed": True})  # a retried step replaces its section
    registry.put_run_record("run-2", "outcome", {"status": "failed"})
    assert registry.get_run_record("run-1") == {"gate": {"blessed": True}, "validation": {"ok": True, "problems": []}}
    assert registry.get_run_record("run-2") == {"outcome": {"status": "failed"}}
    with pytest.raises(RegistryError, match="invalid run record section"):
        registry.put_run_record("run-1", "../gate", {})
    with pytest.raises(RegistryError, match="must be a mapping"):
        registry.put_run_record("run-1", "gate", [1])
