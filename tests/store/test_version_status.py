"""A version's status document (its latest smoke test), on both backends."""

from __future__ import annotations

import pytest

from shipyard.errors import RegistryError
from shipyard.store.registry import SMOKE_TEST_FAILED, SMOKE_TEST_PASSED
from tests.store.conftest import register


def test_a_smoke_test_is_recorded_beside_the_immutable_version(registry, model_file):
    first = register(registry, model_file)
    second = register(registry, model_file)
    assert registry.version_status("churn", first.version) is None and registry.version_statuses("churn") == {}

    registry.record_smoke_test("churn", first.version, passed=True, problems=[], run_id="run-1")
    failed = registry.record_smoke_test(
        "churn", second.version, passed=False, problems=["5 of 50 predictions are NaN or infinite"], run_id="run-2"
    )

    assert failed["status"] == SMOKE_TEST_FAILED and failed["version"] == second.version
    assert failed["smoke_test"]["problems"] == ["5 of 50 predictions are NaN or infinite"]
    assert failed["smoke_test"]["run_id"] == "run-2" and failed["smoke_test"]["actor"] == "tester@ci"
    assert registry.version_status("churn", second.version) == failed
    statuses = registry.version_statuses("churn")
    assert sorted(statuses) == [first.version, second.version]
    assert statuses[first.version]["status"] == SMOKE_TEST_PASSED
    # the version itself is untouched, and listing still sees exactly the two versions
    assert registry.get_version("churn", second.version) == second
    assert [v.version for v in registry.list_versions("churn")] == [first.version, second.version]
    assert registry.list_models() == ["churn"]
    assert all(r["ok"] for r in registry.verify("churn"))


def test_a_later_smoke_test_replaces_the_status(registry, model_file):
    version = register(registry, model_file).version
    registry.record_smoke_test("churn", version, passed=False, problems=["slow"])
    registry.record_smoke_test("churn", version, passed=True, problems=[])
    status = registry.version_status("churn", version)
    assert status["status"] == SMOKE_TEST_PASSED and status["smoke_test"]["problems"] == []


def test_an_unknown_version_cannot_be_marked(registry, model_file):
    register(registry, model_file)
    with pytest.raises(RegistryError, match="model 'churn' has no version 7"):
        registry.record_smoke_test("churn", 7, passed=False, problems=["x"])
    assert registry.version_statuses("churn") == {}
