"""Unit tests for shipyard.stages.deploy on a real local registry: staging, smoke test, promotion, outcome."""

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


@pytest.mark.parametrize(
    "state, withdrawn", [("SUCCEEDED", False), ("COMPLETE", False), ("FAILED", True), ("CANCELED", True)]
)
def test_the_outcome_is_recorded_and_staging_withdrawn_unless_the_run_succeeded(tmp_path: Path, state, withdrawn):
    """kfp.local reports a successful run as SUCCEEDED, a cluster (ML Metadata) as COMPLETE."""
    from shipyard.stages.deploy import record_run_outcome

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    registry.put_run_record("r1", "register", {"model": "m", "version": version})
    deploy_to_staging(registry, "m", version, "r1")

    record = record_run_outcome(
        registry, "m", "r1", state=state, pipeline_run="job-1", error_code=None, error_message=None
    )
    assert registry.get_run_record("r1")["outcome"] == record
    assert record["state"] == state and record["pipeline_run"] == "job-1"
    assert record["staging_withdrawn_from"] == (version if withdrawn else None)
    assert registry.aliases("m") == ({} if withdrawn else {"staging": version})
