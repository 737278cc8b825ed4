"""One stray or corrupt entry in the store must not break listing or verifying every other model."""

from __future__ import annotations

import json

from tests.store.test_model_registry import register


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
