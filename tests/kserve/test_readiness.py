"""shipyard.stages.inferenceservice.readiness on statuses shaped as KServe v0.20 writes them (pure)."""

from __future__ import annotations

from shipyard.stages.inferenceservice import readiness

URL = "http://s.shipyard.example.com"


def isvc(*, ready: str = "True", created: str | None = "s-predictor-00002", latest_ready: str | None = None) -> dict:
    predictor = {"latestCreatedRevision": created, "latestReadyRevision": latest_ready or created}
    return {
        "metadata": {"generation": 5},
        "status": {
            "observedGeneration": 1,  # a child's counter (kserve/kserve#6081): never compared
            "url": URL,
            "components": {"predictor": predictor},
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def test_ready_when_the_newest_revision_is_ready_whatever_observed_generation_says():
    assert readiness(isvc(), replaced_revision="s-predictor-00001").ready
    assert readiness(isvc()).url == URL


def test_ready_true_from_the_replaced_revision_is_stale():
    state = readiness(isvc(created="s-predictor-00001"), replaced_revision="s-predictor-00001")
    assert not state.ready and "no new predictor revision" in state.reason


def test_a_created_revision_that_is_not_ready_yet_is_not_ready_even_if_ready_reads_true():
    state = readiness(isvc(latest_ready="s-predictor-00001"), replaced_revision="s-predictor-00001")
    assert not state.ready and "s-predictor-00002 is not Ready yet" in state.reason


def test_no_revision_in_the_status_is_not_ready():
    assert not readiness(isvc(created=None)).ready
    assert not readiness(isvc(ready="False")).ready


def test_the_cluster_local_address_is_preferred_to_the_external_url():
    """The smoke test runs in a pipeline pod: the in-cluster address, not the ingress host, is what it can reach."""
    obj = isvc()
    obj["status"]["address"] = {"url": "http://s.shipyard.svc.cluster.local"}
    assert readiness(obj).url == "http://s.shipyard.svc.cluster.local"
