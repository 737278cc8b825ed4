"""Delivery with deploy.target: kserve: the deploy stages, the deploy component and
`shipyard models promote|rollback`, through the real adapter against kmock (see conftest.py for
what kmock does not check) and a registry on moto's S3 server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shipyard.adapters.kserve_cluster import KServeCluster
from shipyard.cli.main import main
from shipyard.config import load_config
from shipyard.errors import ConfigError, RegistryError
from shipyard.stages import inferenceservice as isvc
from shipyard.stages.deploy import deploy_staging, promote_production
from shipyard.stages.inferenceservice import InferenceServiceNotReady
from shipyard.store.registry import ModelRegistry
from shipyard.vocabulary import PRODUCTION, STAGING
from tests.kserve.conftest import FakeTime
from tests.unit.registered import register

KSERVE = load_config("deploy: {target: kserve, ready_timeout_seconds: 20}").deploy
STAGING_ISVC, PRODUCTION_ISVC = KSERVE.staging_inferenceservice, KSERVE.production_inferenceservice


@pytest.fixture
def registry(s3_registry: ModelRegistry, tmp_path) -> ModelRegistry:
    """Model `churn` with versions 1 and 2 on S3; staging and production on version 1."""
    for _ in range(2):
        register(s3_registry, tmp_path, {"stand-in model": True}, name="churn")
    s3_registry.set_alias("churn", STAGING, 1)
    s3_registry.set_alias("churn", PRODUCTION, 1)
    return s3_registry


def serving(kube, name: str) -> int:
    """The registry version an InferenceService is pointed at (by its storageUri)."""
    uri = kube.get(name)["spec"]["predictor"]["model"]["storageUri"]
    return int(uri.rstrip("/").rsplit("/", 1)[1])


def controller(kube, name: str, registry: ModelRegistry, alias: str, *, ready: bool, seen: list):
    """KServe's controller at each wait: notes where the alias was, then reports Ready (or not)."""

    def step() -> None:
        seen.append(registry.aliases("churn").get(alias))
        kube.reconcile(name, ready=ready, message="" if ready else "RevisionFailed: container crashed")

    return step


def test_staging_inferenceservice_is_ready_before_the_staging_alias_moves(kube, registry):
    seen: list = []
    time = FakeTime(controller(kube, STAGING_ISVC, registry, STAGING, ready=True, seen=seen))

    move = deploy_staging(registry, "churn", 2, "run-2", KSERVE, kube.adapter(time))

    assert (move.previous, move.current) == (1, 2)
    assert seen == [1]  # while KServe rolled out version 2, staging still said 1
    assert serving(kube, STAGING_ISVC) == 2
    body = kube.get(STAGING_ISVC)
    assert body["spec"]["predictor"]["model"]["storageUri"] == registry.get_version("churn", 2).uri
    assert body["metadata"]["labels"][isvc.ALIAS_LABEL] == STAGING
    assert registry.aliases("churn")[STAGING] == 2
    assert not kube.exists(PRODUCTION_ISVC)


def test_never_ready_staging_times_out_leaves_the_alias_and_restores_the_inferenceservice(kube, registry):
    settle = FakeTime(lambda: kube.reconcile(STAGING_ISVC, ready=True))
    deploy_staging(registry, "churn", 1, "run-1", KSERVE, kube.adapter(settle))  # staging serves v1
    before = kube.get(STAGING_ISVC)["spec"]
    seen: list = []
    time = FakeTime(controller(kube, STAGING_ISVC, registry, STAGING, ready=False, seen=seen))

    with pytest.raises(InferenceServiceNotReady, match="not Ready after 20 s: RevisionFailed"):
        deploy_staging(registry, "churn", 2, "run-2", KSERVE, kube.adapter(time))

    assert registry.aliases("churn")[STAGING] == 1
    assert kube.get(STAGING_ISVC)["spec"] == before
    assert serving(kube, STAGING_ISVC) == 1
    assert set(seen) == {1}


def test_production_is_pointed_and_ready_before_the_production_alias_moves(kube, registry):
    seen: list = []
    time = FakeTime(controller(kube, PRODUCTION_ISVC, registry, PRODUCTION, ready=True, seen=seen))

    move = promote_production(registry, "churn", 2, "run-2", 1, KSERVE, kube.adapter(time))

    assert (move.previous, move.current) == (1, 2) and seen == [1]
    assert serving(kube, PRODUCTION_ISVC) == 2


def test_production_that_moved_since_the_gate_is_not_touched(kube, registry):
    with pytest.raises(RegistryError, match="not promoting"):
        promote_production(registry, "churn", 2, "run-2", None, KSERVE, kube.adapter())
    assert not kube.exists(PRODUCTION_ISVC)
    assert registry.aliases("churn")[PRODUCTION] == 1


def test_registry_target_makes_no_cluster_calls(registry):
    move = deploy_staging(registry, "churn", 2, "run-2", load_config().deploy, None)
    assert move.current == 2


def test_kserve_target_needs_a_cluster_and_a_registry_on_s3(kube, registry, tmp_path):
    with pytest.raises(ConfigError, match="no Kubernetes cluster"):
        deploy_staging(registry, "churn", 2, "run-2", KSERVE, None)
    local = ModelRegistry.from_uri(str(tmp_path / "local-store"))
    register(local, tmp_path, {"m": 1}, name="churn")
    with pytest.raises(ConfigError, match="object storage"):
        deploy_staging(local, "churn", 1, "run-1", KSERVE, kube.adapter())
    assert not kube.exists(STAGING_ISVC)


# -- the deploy component and the CLI, with the cluster connection pointed at kmock -------------


@pytest.fixture
def connect_to_kmock(kube, monkeypatch):
    """``KServeCluster.connect`` returns the adapter on kmock; the controller reports Ready at each wait."""
    behaviour = {"ready": True}

    def step() -> None:
        for name in (STAGING_ISVC, PRODUCTION_ISVC):
            if kube.exists(name):
                kube.reconcile(name, ready=behaviour["ready"], message="" if behaviour["ready"] else "never ready")

    def connect(namespace: str, **_: object) -> KServeCluster:
        assert namespace == KSERVE.namespace
        return kube.adapter(FakeTime(step))

    monkeypatch.setattr(KServeCluster, "connect", staticmethod(connect))
    return behaviour


def test_the_deploy_component_points_staging_when_config_says_kserve(kube, registry, connect_to_kmock):
    from shipyard.components.deploy import deploy_staging as component

    config_yaml = "deploy: {target: kserve, ready_timeout_seconds: 20}"
    previous = component.python_func(
        model_name="churn", store_uri=registry.uri, version=2, run_id="job-2", config_yaml=config_yaml
    )
    assert previous == 1
    assert serving(kube, STAGING_ISVC) == 2
    assert registry.aliases("churn")[STAGING] == 2


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "shipyard.yaml"
    path.write_text("deploy:\n  target: kserve\n  ready_timeout_seconds: 20\n", encoding="utf-8")
    return path


def cli(*args: str):
    return CliRunner().invoke(main, ["models", *args], catch_exceptions=False)


def test_models_promote_and_rollback_repoint_production(kube, registry, connect_to_kmock, config_file):
    store = ["--store", registry.uri, "--config", str(config_file)]

    promoted = cli("promote", "churn", "2", *store, "--json")
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout)["current"] == 2
    assert serving(kube, PRODUCTION_ISVC) == 2

    rolled = cli("rollback", "churn", *store)
    assert rolled.exit_code == 0, rolled.output
    assert registry.aliases("churn")[PRODUCTION] == 1
    assert serving(kube, PRODUCTION_ISVC) == 1


def test_models_promote_that_never_gets_ready_moves_nothing(kube, registry, connect_to_kmock, config_file):
    store = ["--store", registry.uri, "--config", str(config_file)]
    assert cli("promote", "churn", "1", *store).exit_code == 0  # production InferenceService on v1
    connect_to_kmock["ready"] = False

    result = cli("promote", "churn", "2", *store)

    assert result.exit_code == 1
    assert "not Ready after 20 s: never ready; its previous spec was restored" in result.output
    assert registry.aliases("churn")[PRODUCTION] == 1
    assert serving(kube, PRODUCTION_ISVC) == 1


def test_models_rollback_that_never_gets_ready_leaves_alias_and_inferenceservice(
    kube, registry, connect_to_kmock, config_file
):
    store = ["--store", registry.uri, "--config", str(config_file)]
    assert cli("promote", "churn", "2", *store).exit_code == 0
    connect_to_kmock["ready"] = False

    result = cli("rollback", "churn", *store)

    assert result.exit_code == 1
    assert "not Ready after 20 s: never ready; its previous spec was restored" in result.output
    assert registry.aliases("churn")[PRODUCTION] == 2  # the alias did not move ...
    assert serving(kube, PRODUCTION_ISVC) == 2  # ... and neither did what production serves
    assert registry.rollback_target("churn", PRODUCTION) == (2, 1)  # the history is still there


def test_models_rollback_refuses_when_production_moved_while_it_waited(kube, registry, monkeypatch, config_file):
    """Someone promotes v3 while the InferenceService rolls out v1: no rollback, InferenceService restored."""
    store = ["--store", registry.uri, "--config", str(config_file)]
    registry.set_alias("churn", PRODUCTION, 2)
    kube.create(
        isvc.inference_service(
            PRODUCTION_ISVC, KSERVE.namespace, model="churn", version=2,
            version_uri=registry.get_version("churn", 2).uri, alias=PRODUCTION,
        )
    )  # fmt: skip
    kube.reconcile(PRODUCTION_ISVC, ready=True)

    def step() -> None:
        if registry.aliases("churn")[PRODUCTION] == 2:
            registry.set_alias("churn", PRODUCTION, 1, action="promoted")  # the concurrent move
        kube.reconcile(PRODUCTION_ISVC, ready=True)

    monkeypatch.setattr(KServeCluster, "connect", staticmethod(lambda namespace, **_: kube.adapter(FakeTime(step))))

    result = cli("rollback", "churn", *store)

    assert result.exit_code == 1
    assert "was moved meanwhile" in result.output
    assert registry.aliases("churn")[PRODUCTION] == 1  # the concurrent move stands, nothing rolled back on top
    assert serving(kube, PRODUCTION_ISVC) == 2  # restored: the InferenceService is not the rollback's to change


def test_models_promote_without_config_moves_only_the_alias(kube, registry):
    result = cli("promote", "churn", "2", "--store", registry.uri)
    assert result.exit_code == 0, result.output
    assert registry.aliases("churn")[PRODUCTION] == 2
    assert not kube.exists(PRODUCTION_ISVC)


# -- a failed smoke test takes the staging InferenceService back with the alias ----------------


def _failing_smoke(registry, cluster, version: int):
    """Smoke-tests ``version`` through a staging endpoint that refuses every request (a closed port)."""
    import pandas as pd

    from shipyard.errors import SmokeTestError
    from shipyard.stages.deploy import smoke_test_staged

    holdout = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    settings = load_config().smoke_test
    with pytest.raises(SmokeTestError) as failed:
        smoke_test_staged(
            registry, "churn", version, holdout, "y", "classification", settings, f"run-{version}",
            base_url="http://127.0.0.1:9", deploy=KSERVE, cluster=cluster,
        )  # fmt: skip
    return str(failed.value)


def test_a_failed_smoke_test_points_the_staging_inferenceservice_back(kube, registry):
    settle = FakeTime(lambda: kube.reconcile(STAGING_ISVC, ready=True))
    cluster = kube.adapter(settle)
    deploy_staging(registry, "churn", 1, "run-1", KSERVE, cluster)
    deploy_staging(registry, "churn", 2, "run-2", KSERVE, cluster)
    assert serving(kube, STAGING_ISVC) == 2

    message = _failing_smoke(registry, cluster, 2)

    assert registry.aliases("churn")[STAGING] == 1
    assert serving(kube, STAGING_ISVC) == 1  # the cluster follows the alias back
    assert f"InferenceService {STAGING_ISVC} points at version 1 again" in message


def test_a_failed_first_smoke_test_deletes_the_staging_inferenceservice(kube, registry):
    registry.withdraw("churn", STAGING, 1)  # no version was ever staged
    settle = FakeTime(lambda: kube.reconcile(STAGING_ISVC, ready=True))
    cluster = kube.adapter(settle)
    deploy_staging(registry, "churn", 2, "run-2", KSERVE, cluster)

    message = _failing_smoke(registry, cluster, 2)

    assert STAGING not in registry.aliases("churn")
    assert not kube.exists(STAGING_ISVC)
    assert "deleted" in message


# -- the exit handler takes the staging InferenceService back with the alias --------------------


def _died_after_staging(status_state: str = "FAILED"):
    from kfp import dsl

    return dsl.PipelineTaskFinalStatus(
        state=status_state,
        pipeline_job_resource_name="run-2",
        pipeline_task_name="smoke-test",
        error_code=137,
        error_message="OOMKilled",
    )


def test_the_exit_handler_points_staging_back_when_a_run_did_not_ship(kube, registry, connect_to_kmock, monkeypatch):
    """A run staged v2 and died (OOMKilled) before promotion: staging alias AND InferenceService back on v1."""
    from shipyard.components.outcome import record_outcome

    monkeypatch.delenv("SHIPYARD_ALERT_WEBHOOK_URL", raising=False)
    cluster = kube.adapter(FakeTime(lambda: kube.reconcile(STAGING_ISVC, ready=True)))
    deploy_staging(registry, "churn", 1, "run-1", KSERVE, cluster)
    registry.put_run_record("run-2", "register", {"model": "churn", "version": 2})
    deploy_staging(registry, "churn", 2, "run-2", KSERVE, cluster)
    assert serving(kube, STAGING_ISVC) == 2

    record_outcome.python_func(
        status=_died_after_staging(),
        model_name="churn",
        store_uri=registry.uri,
        run_id="run-2",
        pipeline_job_id="ignored",
        pipeline_job_name="run-2",
        config_yaml="deploy: {target: kserve, ready_timeout_seconds: 20}",
    )

    outcome = registry.get_run_record("run-2")["outcome"]
    assert outcome["staging_withdrawn_from"] == 2
    assert registry.aliases("churn")[STAGING] == 1
    assert serving(kube, STAGING_ISVC) == 1
    assert outcome["staging_realigned"] == f"InferenceService {STAGING_ISVC} points at version 1 again"


def test_the_exit_handler_without_kserve_config_leaves_the_cluster_alone(kube, registry, monkeypatch):
    from shipyard.components.outcome import record_outcome

    monkeypatch.delenv("SHIPYARD_ALERT_WEBHOOK_URL", raising=False)
    cluster = kube.adapter(FakeTime(lambda: kube.reconcile(STAGING_ISVC, ready=True)))
    registry.put_run_record("run-2", "register", {"model": "churn", "version": 2})
    deploy_staging(registry, "churn", 2, "run-2", KSERVE, cluster)

    record_outcome.python_func(
        status=_died_after_staging(),
        model_name="churn",
        store_uri=registry.uri,
        run_id="run-2",
        pipeline_job_id="ignored",
        pipeline_job_name="run-2",
    )

    assert registry.aliases("churn")[STAGING] == 1
    assert serving(kube, STAGING_ISVC) == 2  # deploy.target: registry (the default) never connects
    assert registry.get_run_record("run-2")["outcome"]["staging_realigned"] == ""
