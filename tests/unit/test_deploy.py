"""Unit tests for shipyard.stages.deploy on a real local registry: staging, smoke test, promotion, outcome.

Tests marked slow start a real `shipyard serve --version` process for the smoke test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.dummy import DummyRegressor

from shipyard.config import SmokeTestSettings
from shipyard.errors import RegistryError, SmokeTestError
from shipyard.stages.deploy import deploy_to_staging, promote_to_production, smoke_test_staged
from shipyard.store.registry import ModelRegistry
from tests.unit.registered import holdout, register
from tests.unit.test_smoke import NaNRegressor

SETTINGS = SmokeTestSettings(rows=20, max_latency_ms=5000.0)


@pytest.mark.slow
def test_a_failed_smoke_test_moves_staging_back_and_leaves_production(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    good = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", good, "r1")
    smoke_test_staged(registry, "m", good, frame, "y", "regression", SETTINGS, "r1")
    promote_to_production(registry, "m", good, "r1", None)

    bad = register(registry, tmp_path, NaNRegressor())
    deploy_to_staging(registry, "m", bad, "r2")
    with pytest.raises(SmokeTestError, match="NaN"):
        smoke_test_staged(registry, "m", bad, frame, "y", "regression", SETTINGS, "r2")
    assert registry.aliases("m") == {"staging": good, "production": good}
    assert registry.version_status("m", good)["status"] == "smoke_test_passed"
    marked = registry.version_status("m", bad)
    assert marked["status"] == "smoke_test_failed" and marked["smoke_test"]["run_id"] == "r2"
    assert marked["smoke_test"]["problems"] == ["20 of 20 predictions are NaN or infinite"]


@pytest.mark.slow
def test_a_first_model_failing_its_smoke_test_leaves_no_alias(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    bad = register(registry, tmp_path, NaNRegressor())
    deploy_to_staging(registry, "m", bad, "r1")
    with pytest.raises(SmokeTestError, match="staging unset again"):
        smoke_test_staged(registry, "m", bad, holdout(), "y", "regression", SETTINGS, "r1")
    assert registry.aliases("m") == {}


def test_promotion_refuses_when_production_moved_since_the_gate(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    v1, v2, v3 = (register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"])) for _ in range(3))
    promote_to_production(registry, "m", v1, "r1", None)
    promote_to_production(registry, "m", v3, "r3", v1)  # another run, also judged against v1, got there first
    deploy_to_staging(registry, "m", v2, "r2")
    with pytest.raises(RegistryError, match="not promoting 'm' version 2"):
        promote_to_production(registry, "m", v2, "r2", v1)
    assert registry.aliases("m") == {"production": v3}  # staging withdrawn (it never held anything else)


def test_staging_is_withdrawn_when_the_smoke_test_cannot_even_load_the_model(tmp_path: Path):
    from shipyard.errors import IntegrityError

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", version, "r1")
    Path(registry.get_version("m", version).model_uri).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        smoke_test_staged(registry, "m", version, frame, "y", "regression", SETTINGS, "r1")
    assert registry.aliases("m") == {}


@pytest.mark.slow
def test_a_passed_smoke_test_is_recorded_and_reported(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", version, "r1")
    report = smoke_test_staged(registry, "m", version, frame, "y", "regression", SETTINGS, "r1")
    assert registry.get_run_record("r1")["smoke_test"] == report.to_dict()
    markdown = report.to_markdown("m", version)
    assert markdown.startswith(f"# Smoke test: m v{version}\n\nPASSED on 20 rows in ")
    assert '"passed": true' in markdown


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_endpoint_that_does_not_answer_fails_and_marks_the_version(tmp_path: Path):
    """The real HTTP client against a closed port on this machine: no server, so no answer."""
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", version, "r1")
    url = f"http://127.0.0.1:{_unused_port()}"
    with pytest.raises(SmokeTestError, match="refused the holdout rows: .*no answer"):
        smoke_test_staged(registry, "m", version, frame, "y", "regression", SETTINGS, "r1", base_url=url)
    assert registry.aliases("m") == {}
    status = registry.version_status("m", version)
    assert status["status"] == "smoke_test_failed" and "no answer" in status["smoke_test"]["problems"][0]
    assert "smoke_test" not in registry.get_run_record("r1")


def _run_to_staging(registry: ModelRegistry, tmp_path: Path, run_id: str = "r1") -> int:
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    registry.put_run_record(run_id, "register", {"model": "m", "version": version})
    deploy_to_staging(registry, "m", version, run_id)
    return version


@pytest.mark.parametrize("state", ["SUCCEEDED", "COMPLETE", "RUNNING", "FAILED"])
def test_a_run_that_promoted_its_version_keeps_staging_whatever_state_the_exit_handler_reads(tmp_path: Path, state):
    """Issue 9 defect 1: on KFP 2.15/2.16 the exit handler can read RUNNING after a successful run
    (kubeflow/pipelines#11979); the registry says the run shipped, so nothing is withdrawn."""
    from shipyard.stages.deploy import record_run_outcome

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    version = _run_to_staging(registry, tmp_path)
    promote_to_production(registry, "m", version, "r1", None)

    record = record_run_outcome(
        registry, "m", "r1", state=state, pipeline_run="job-1", error_code=None, error_message=None
    )
    assert registry.get_run_record("r1")["outcome"] == record
    assert record["state"] == state and record["shipped"] is True and record["version"] == version
    assert record["staging_withdrawn_from"] is None
    assert registry.aliases("m") == {"staging": version, "production": version}


def test_a_run_whose_promotion_was_later_rolled_back_still_shipped(tmp_path: Path):
    from shipyard.stages.deploy import record_run_outcome

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    first = _run_to_staging(registry, tmp_path, "r0")
    promote_to_production(registry, "m", first, "r0", None)
    version = _run_to_staging(registry, tmp_path)
    promote_to_production(registry, "m", version, "r1", first)
    registry.rollback("m")  # someone rolled back before the exit handler ran

    record = record_run_outcome(
        registry, "m", "r1", state="RUNNING", pipeline_run="job-1", error_code=None, error_message=None
    )
    assert record["shipped"] is True and record["staging_withdrawn_from"] is None


@pytest.mark.parametrize("state", ["SUCCEEDED", "COMPLETE", "RUNNING", "FAILED", "CANCELED"])
def test_a_run_that_did_not_promote_its_version_has_staging_withdrawn_whatever_the_state(tmp_path: Path, state):
    """A run that stopped between staging and promotion (a killed pod, a store outage)."""
    from shipyard.stages.deploy import record_run_outcome

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    version = _run_to_staging(registry, tmp_path)

    record = record_run_outcome(
        registry, "m", "r1", state=state, pipeline_run="job-1", error_code=None, error_message=None
    )
    assert registry.get_run_record("r1")["outcome"] == record
    assert record["state"] == state and record["pipeline_run"] == "job-1"
    assert record["shipped"] is False and record["staging_withdrawn_from"] == version
    assert registry.aliases("m") == {}


def test_a_run_that_registered_nothing_changes_no_alias(tmp_path: Path):
    """The gate did not bless (or the run failed earlier): nothing to ship, nothing to withdraw."""
    from shipyard.stages.deploy import record_run_outcome

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    other = _run_to_staging(registry, tmp_path, "r0")
    record = record_run_outcome(
        registry, "m", "r1", state="COMPLETE", pipeline_run="job-1", error_code=None, error_message=None
    )
    assert record["version"] is None and record["shipped"] is False and record["staging_withdrawn_from"] is None
    assert registry.aliases("m") == {"staging": other}
