"""shipyard.adapters.kserve_cluster against kmock (see conftest.py for what kmock does not check).

The adapter's waits use an injected clock and sleep: each "sleep" is where the test plays KServe's
controller (or declines to), so no test waits in real time.
"""

from __future__ import annotations

import pytest

from shipyard.adapters.kserve_cluster import CALLS, KServeCluster, staging_endpoint
from shipyard.config import load_config
from shipyard.errors import ConfigError
from shipyard.stages import inferenceservice as isvc
from shipyard.stages.inferenceservice import API_GROUP, PLURAL, InferenceServiceNotReady
from shipyard.vocabulary import STAGING
from tests.kserve.conftest import ADAPTER_AGENT, NAMESPACE, FakeTime

NAME = "shipyard-staging"
#: The RBAC verb each HTTP method of a named custom-object request needs.
VERB = {"GET": "get", "POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}


def body(version: int) -> dict:
    return isvc.inference_service(
        NAME,
        NAMESPACE,
        model="churn",
        version=version,
        version_uri=f"s3://mlpipeline/shipyard/models/churn/{version}/",
        alias=STAGING,
    )


def adapter(kube, time: FakeTime) -> KServeCluster:
    return kube.adapter(time)


def adapter_calls(kube) -> set[tuple[str, str, str]]:
    """(group, resource, RBAC verb) of every request the adapter sent, from kmock's own log."""
    seen = set()
    for request in list(kube.emulator):
        if request.headers.get("User-Agent") == ADAPTER_AGENT:
            resource = request.resource
            seen.add((resource.group, resource.plural, VERB[str(request.method.value).upper()]))
    return seen


def storage_uri(obj: dict) -> str:
    return obj["spec"]["predictor"]["model"]["storageUri"]


def test_creates_a_missing_inferenceservice_and_returns_its_url_once_ready(kube):
    time = FakeTime(on_sleep=lambda: kube.reconcile(NAME, ready=True))
    cluster = adapter(kube, time)

    pointing = cluster.deploy(body(1), timeout_seconds=60)

    assert pointing.previous is None
    stored = kube.get(NAME)
    assert storage_uri(stored) == "s3://mlpipeline/shipyard/models/churn/1/"
    assert stored["metadata"]["labels"][isvc.VERSION_LABEL] == "1"
    assert stored["spec"]["predictor"]["serviceAccountName"] == "shipyard-kserve-sa"
    assert time.sleeps == 1  # not Ready before the controller reconciled
    assert cluster.url(NAME) == f"http://{NAME}-predictor.{NAMESPACE}.svc.cluster.local"  # in-cluster address
    assert adapter_calls(kube) == {(API_GROUP, PLURAL, "get"), (API_GROUP, PLURAL, "create")}


def test_patches_an_existing_one_to_the_new_version_and_keeps_what_users_set(kube):
    existing = body(1)
    existing["metadata"]["annotations"] = {"team": "churn"}
    kube.create(existing)
    kube.reconcile(NAME, ready=True)
    time = FakeTime(on_sleep=lambda: kube.reconcile(NAME, ready=True))

    adapter(kube, time).deploy(body(2), timeout_seconds=60)

    stored = kube.get(NAME)
    assert storage_uri(stored) == "s3://mlpipeline/shipyard/models/churn/2/"
    assert stored["metadata"]["labels"][isvc.VERSION_LABEL] == "2"
    assert stored["metadata"]["annotations"] == {"team": "churn"}
    assert stored["metadata"]["generation"] == 2
    # The old revision's Ready (generation 1) did not count: it waited for the controller.
    assert time.sleeps == 1
    assert adapter_calls(kube) == {(API_GROUP, PLURAL, "get"), (API_GROUP, PLURAL, "patch")}


def test_never_ready_times_out_and_restores_the_previous_spec(kube):
    kube.create(body(1))
    kube.reconcile(NAME, ready=True)
    before = kube.get(NAME)
    message = "RevisionFailed: storage-initializer: model.joblib not found"
    time = FakeTime(on_sleep=lambda: kube.reconcile(NAME, ready=False, message=message))

    progress: list[str] = []
    with pytest.raises(InferenceServiceNotReady) as raised:
        kube.adapter(time, report=progress.append).deploy(body(2), timeout_seconds=30)

    assert "not Ready after 30 s" in str(raised.value)
    assert message in str(raised.value)
    assert "previous spec was restored" in str(raised.value)
    after = kube.get(NAME)
    assert storage_uri(after) == storage_uri(before) == "s3://mlpipeline/shipyard/models/churn/1/"
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["spec"] == before["spec"]
    assert 14 <= time.sleeps <= 16  # polled every 2 s for 30 s
    assert (
        progress[0]
        == f"patched InferenceService {NAMESPACE}/{NAME}: storageUri s3://mlpipeline/shipyard/models/churn/2/"
    )
    waiting = [line for line in progress if line.startswith(f"waiting for InferenceService {NAMESPACE}/{NAME}")]
    assert len(waiting) == 2 and message in waiting[-1]  # every 15 s, with the controller's reason
    assert progress[-1] == f"restored InferenceService {NAMESPACE}/{NAME} to its previous spec"


def test_a_stale_ready_condition_from_the_old_revision_is_not_ready(kube):
    """Ready=True still describes revision 00001 (generation 1); without the controller it must time out."""
    kube.create(body(1))
    kube.reconcile(NAME, ready=True)

    with pytest.raises(
        InferenceServiceNotReady, match=rf"no new predictor revision yet \(still {NAME}-predictor-00001\)"
    ):
        adapter(kube, FakeTime()).deploy(body(2), timeout_seconds=10)
    assert storage_uri(kube.get(NAME)).endswith("/churn/1/")


def test_ready_waits_for_the_new_revision_not_for_observed_generation(kube):
    """KServe's observedGeneration is a child's counter (kserve#6081): here it never equals the generation."""
    kube.create(body(1))
    kube.reconcile(NAME, ready=True)
    time = FakeTime(on_sleep=lambda: kube.reconcile(NAME, ready=True))

    adapter(kube, time).deploy(body(2), timeout_seconds=60)

    stored = kube.get(NAME)
    assert stored["status"]["observedGeneration"] != stored["metadata"]["generation"] == 2
    assert stored["status"]["components"]["predictor"]["latestReadyRevision"] == f"{NAME}-predictor-00002"
    assert time.sleeps == 1


def test_repointing_to_the_same_spec_does_not_wait_for_a_new_revision(kube):
    """No spec change, no new generation, so KServe rolls out no revision: Ready as it is counts."""
    kube.create(body(1))
    kube.reconcile(NAME, ready=True)
    time = FakeTime()

    adapter(kube, time).deploy(body(1), timeout_seconds=10)

    assert time.sleeps == 0 and kube.get(NAME)["metadata"]["generation"] == 1


def test_a_created_one_that_never_gets_ready_is_deleted_again(kube):
    with pytest.raises(InferenceServiceNotReady, match=r"no Ready condition yet; it was deleted again"):
        adapter(kube, FakeTime()).deploy(body(1), timeout_seconds=10)
    assert not kube.exists(NAME)


def test_every_request_the_adapter_sends_is_in_its_declared_calls(kube):
    """Create, patch, restore and delete: together exactly CALLS, which the Role grants (test_kserve_manifests)."""
    time = FakeTime(on_sleep=lambda: kube.reconcile(NAME, ready=True))
    cluster = adapter(kube, time)
    cluster.deploy(body(1), timeout_seconds=60)
    cluster.deploy(body(2), timeout_seconds=60)
    with pytest.raises(InferenceServiceNotReady):
        adapter(kube, FakeTime()).deploy(body(3), timeout_seconds=4)
    other = isvc.inference_service(
        "shipyard-other", NAMESPACE, model="m", version=1, version_uri="s3://b/models/m/1/", alias=STAGING
    )
    with pytest.raises(InferenceServiceNotReady):
        adapter(kube, FakeTime()).deploy(other, timeout_seconds=4)

    assert adapter_calls(kube) == set(CALLS)


def test_url_of_a_missing_or_unready_inferenceservice_is_an_error(kube):
    cluster = adapter(kube, FakeTime())
    with pytest.raises(InferenceServiceNotReady, match="there is no InferenceService"):
        cluster.url(NAME)
    kube.create(body(1))
    kube.reconcile(NAME, ready=False, message="predictor crash-looping")
    with pytest.raises(InferenceServiceNotReady, match="crash-looping"):
        cluster.url(NAME)


def test_staging_endpoint_is_the_staging_inferenceservices_url(kube):
    settings = load_config("deploy: {target: kserve}").deploy
    kube.create(body(1))
    kube.reconcile(NAME, ready=True)
    assert (
        staging_endpoint(settings, adapter(kube, FakeTime()))
        == f"http://{NAME}-predictor.{NAMESPACE}.svc.cluster.local"
    )
    with pytest.raises(ConfigError, match="deploy.target"):
        staging_endpoint(load_config().deploy, adapter(kube, FakeTime()))
