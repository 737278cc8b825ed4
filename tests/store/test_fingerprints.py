"""A run fingerprint beside the versions (models/NAME/fingerprints/) is invisible to the registry's own reads.

One suite, two backends: a directory, and S3 against moto_server (see this folder's conftest
for what that stand-in cannot prove).
"""

from __future__ import annotations

from shipyard.stages.unchanged import find_trained_version, fingerprint_key, fingerprint_run, record_fingerprint
from shipyard.store.registry import ModelRegistry
from tests.store.conftest import register

FINGERPRINT = fingerprint_run(
    data_hash="sha256:" + "c" * 64, config_text="", code_version="git:abc", target="churned", task="auto"
)


def test_listing_showing_and_verifying_skip_a_recorded_fingerprint(registry: ModelRegistry, model_file):
    register(registry, model_file, run_id="run-1")
    register(registry, model_file, run_id="run-2")
    registry.set_alias("churn", "production", 2)
    before = (registry.list_models(), registry.list_versions("churn"), registry.aliases("churn"))

    assert record_fingerprint(registry, "churn", FINGERPRINT.digest, 2, run_id="run-2")
    assert registry.store.exists(fingerprint_key("churn", FINGERPRINT.digest))
    assert (registry.list_models(), registry.list_versions("churn"), registry.aliases("churn")) == before
    assert [(row["version"], row["ok"]) for row in registry.verify()] == [(1, True), (2, True)]
    assert [event["event"] for event in registry.audit_log("churn")] == ["registered", "registered", "promoted"]
    # The next version number is not taken from the fingerprint's key.
    assert register(registry, model_file, run_id="run-3").version == 3
    assert find_trained_version(registry, "churn", FINGERPRINT) == 2
