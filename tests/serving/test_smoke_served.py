"""The pipeline's smoke test against a real `shipyard serve --version` process it starts itself.

Every test here starts the server (kserve's model server, over HTTP on 127.0.0.1) through
:func:`shipyard.stages.deploy.smoke_test_staged`, as the pipeline step does; a KServe
InferenceService on a cluster is not involved (its endpoint would be passed as ``base_url``).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from shipyard.config import ModelConfig, load_config
from shipyard.errors import SmokeTestError
from shipyard.stages.deploy import deploy_to_staging, smoke_test_staged
from shipyard.stages.train import train_model
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import churn_frame, register
from tests.unit.test_smoke import BrokenClassifier

pytestmark = pytest.mark.slow

SETTINGS = load_config().smoke_test  # the defaults a user gets


def test_the_version_under_test_is_served_and_passes_though_production_holds_another(tmp_path: Path, classifier):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    first = register(registry, "churn", classifier.pipeline, classifier, tmp_path).version
    second = register(registry, "churn", classifier.pipeline, classifier, tmp_path).version
    registry.set_alias("churn", "production", first)
    deploy_to_staging(registry, "churn", second, "r2")

    report = smoke_test_staged(
        registry, "churn", second, classifier.holdout, "target", "classification", SETTINGS, "r2"
    )

    assert report.passed, report.problems
    assert report.model_version == str(second)  # pinned: not the production alias's version
    assert classifier.holdout["plan"].isna().any() and report.rows == min(SETTINGS.rows, len(classifier.holdout))
    assert registry.version_status("churn", second)["status"] == "smoke_test_passed"
    assert registry.get_run_record("r2")["smoke_test"] == report.to_dict()


def test_a_regressor_passes(tmp_path: Path, regressor):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    version = register(registry, "price", regressor.pipeline, regressor, tmp_path).version
    report = smoke_test_staged(registry, "price", version, regressor.holdout, "target", "regression", SETTINGS, "r1")
    assert report.passed, report.problems


def test_a_model_the_server_cannot_load_fails_and_is_marked(tmp_path: Path, classifier):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    garbage = tmp_path / "model.joblib"
    garbage.write_bytes(b"not a pickle")
    version = registry.register_version("churn", garbage, metrics={}, params={}, lineage={}).version
    deploy_to_staging(registry, "churn", version, "r1")

    started = time.monotonic()
    with pytest.raises(SmokeTestError, match="the server could not serve version 1: shipyard serve exited"):
        smoke_test_staged(registry, "churn", version, classifier.holdout, "target", "classification", SETTINGS, "r1")
    assert time.monotonic() - started < SETTINGS.server_start_timeout_s  # it exited; nobody waited it out
    assert registry.aliases("churn") == {}
    assert registry.version_status("churn", version)["status"] == "smoke_test_failed"


def test_a_model_whose_predict_fails_is_refused_by_the_server(tmp_path: Path, classifier):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    version = register(registry, "churn", BrokenClassifier(), classifier, tmp_path).version
    deploy_to_staging(registry, "churn", version, "r1")
    with pytest.raises(SmokeTestError, match="the server refused the holdout rows: .*HTTP 500.*boom"):
        smoke_test_staged(registry, "churn", version, classifier.holdout, "target", "classification", SETTINGS, "r1")
    problems = registry.version_status("churn", version)["smoke_test"]["problems"]
    assert len(problems) == 1 and "boom" in problems[0]


def _burn(stop) -> None:
    """A busy loop until ``stop`` is set: one CPU's worth of other work."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def test_a_healthy_model_passes_with_every_cpu_busy(tmp_path: Path):
    """Issue 8: a busy machine must not fail a healthy small model. 2 x cores busy-loop processes
    run from before the server starts until the smoke test has finished; the model is the default
    estimator (hist_gradient_boosting, the one that failed the old absolute limit) and the
    settings are the defaults."""
    config = load_config()
    assert config.model == ModelConfig()  # the default estimator
    trained = train_model(churn_frame(rows=400), "target", "classification", config)
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    version = register(registry, "churn", trained.pipeline, trained, tmp_path).version
    deploy_to_staging(registry, "churn", version, "r1")

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burners = [context.Process(target=_burn, args=(stop,), daemon=True) for _ in range(2 * (os.cpu_count() or 1))]
    for burner in burners:
        burner.start()
    try:
        time.sleep(1.0)  # the burners are running before anything is measured
        assert all(burner.is_alive() for burner in burners)
        report = smoke_test_staged(
            registry, "churn", version, trained.holdout, "target", "classification", config.smoke_test, "r1"
        )
        assert all(burner.is_alive() for burner in burners)  # the load lasted the whole test
    finally:
        stop.set()
        for burner in burners:
            burner.join(timeout=10)
            if burner.is_alive():
                burner.kill()

    assert report.passed, report.problems
    assert report.rows == config.smoke_test.rows and report.latency_ms <= report.budget_ms
    print(f"under load: median {report.latency_ms:.1f} ms for {report.rows} rows; budget {report.budget_ms:g} ms")
