"""A Kubernetes API for the KServe deploy tests (kmock), a registry on S3 (moto), a fake clock."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kmock
import pytest

from shipyard.stages.inferenceservice import API_GROUP, API_VERSION, PLURAL
from tests.store.conftest import fresh_bucket, moto_server, s3_env  # noqa: F401 - fixtures

NAMESPACE = "shipyard"
#: User-Agent of the adapter's own client, so its requests can be told from the test's in kmock's log.
ADAPTER_AGENT = "shipyard-adapter-under-test"


class FakeTime:
    """A clock that only moves when the adapter sleeps; ``on_sleep`` runs at each sleep.

    Each sleep is where a test plays KServe's controller (or declines to), so nothing waits in
    real time.
    """

    def __init__(self, on_sleep: Any = lambda: None) -> None:
        self.now, self.sleeps, self.on_sleep = 0.0, 0, on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        self.on_sleep()


class _ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator plus the API server's ``metadata.generation`` bookkeeping."""

    async def _handle(self, request: Any) -> Any:
        data = request.data if isinstance(request.data, dict) else {}
        key, before = None, None
        if request.resource is not None and request.action in (kmock.action.CREATE, kmock.action.UPDATE):
            if "spec" in data and request.subresource in (None, ""):
                meta = data.get("metadata") or {}
                key = (request.resource, request.namespace or meta.get("namespace"), request.name or meta.get("name"))
                async with self._lock:
                    if key in self._objects and not self._objects[key].deleted:
                        before = _plain(self._objects[key].raw.get("spec"))
        response = await super()._handle(request)
        if key is not None:
            async with self._lock:
                if key in self._objects and not self._objects[key].deleted:
                    stored = self._objects[key]
                    if before is None or _plain(stored.raw.get("spec")) != before:  # created, or spec changed
                        generation = (stored.get("metadata") or {}).get("generation") or 0
                        stored.patch({"metadata": {"generation": generation + 1}})
        return response


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


@dataclass
class Kube:
    """The running emulator, a client for it, and what the KServe controller would do."""

    api: Any  # kubernetes.client.CustomObjectsApi
    emulator: Any
    namespace: str = NAMESPACE
    #: name -> (InferenceService generation last rolled out, number of revisions so far): the controller's memory.
    rolled_out: dict[str, tuple[int, int]] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Any]:
        return self.api.get_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, name)

    def exists(self, name: str) -> bool:
        from kubernetes.client import ApiException

        try:
            self.get(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.create_namespaced_custom_object(API_GROUP, API_VERSION, self.namespace, PLURAL, body)

    def adapter(self, time: FakeTime | None = None, report: Any = None) -> Any:
        """shipyard's KServeCluster on its own client (User-Agent ADAPTER_AGENT) and ``time``."""
        from kubernetes import client

        from shipyard.adapters.kserve_cluster import KServeCluster

        time = time or FakeTime()
        api_client = client.ApiClient(self.api.api_client.configuration)
        api_client.user_agent = ADAPTER_AGENT
        return KServeCluster(
            client.CustomObjectsApi(api_client), self.namespace, clock=time.clock, sleep=time.sleep, report=report
        )

    def reconcile(self, name: str, *, ready: bool, message: str = "") -> None:
        """What KServe's controller (Serverless mode) writes after a rollout, as KServe v0.20 does.

        A spec the controller has not rolled out yet (a new ``metadata.generation``) gets a new
        Knative revision ``NAME-predictor-0000N`` in ``status.components.predictor.latestCreatedRevision``;
        ``latestReadyRevision`` becomes it only when ``ready`` (a failed revision leaves the last
        Ready one there, as Knative does). ``observedGeneration`` is the child Knative Service's
        counter, not the InferenceService's generation (kserve/kserve#6081): here one behind it.
        """
        obj = self.get(name)
        generation = obj["metadata"].get("generation", 1)
        predictor = dict(((obj.get("status") or {}).get("components") or {}).get("predictor") or {})
        rolled = self.rolled_out.get(name)
        if not predictor.get("latestCreatedRevision") or rolled is None or rolled[0] != generation:
            count = 1 if not predictor.get("latestCreatedRevision") or rolled is None else rolled[1] + 1
            self.rolled_out[name] = (generation, count)
            predictor["latestCreatedRevision"] = f"{name}-predictor-{count:05d}"
        if ready:
            predictor["latestReadyRevision"] = predictor["latestCreatedRevision"]
        status = {
            "observedGeneration": max(generation - 1, 1),
            "url": f"http://{name}.{self.namespace}.example.com" if ready else None,
            "address": {"url": f"http://{name}-predictor.{self.namespace}.svc.cluster.local"},
            "components": {"predictor": predictor},
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "message": message or None},
            ],
        }
        self.api.patch_namespaced_custom_object_status(
            API_GROUP, API_VERSION, self.namespace, PLURAL, name, {"status": status}
        )


@pytest.fixture
def kube() -> Iterator[Kube]:
    """A Kubernetes API for the KServe deploy tests: kmock's in-memory emulator, over real HTTP.

    ``kube`` starts kmock's ``KubernetesEmulator`` on 127.0.0.1 in a background thread (it is an
    aiohttp server) and hands out the official ``kubernetes`` client's CustomObjectsApi pointed at it,
    so shipyard's adapter sends the same REST requests (paths, verbs, JSON merge patches, 404/409
    statuses) it would send to a cluster.

    What kmock does NOT check or do, so these tests cannot prove it either:
    - no validation: any body is stored as sent (the KServe schemas are checked separately, in
      tests/manifests/test_kserve_manifests.py); no admission webhooks, no defaulting;
    - no controllers: nothing reconciles an InferenceService. The tests play KServe's controller
      themselves (``kube.reconcile``: Ready condition, URL, predictor revisions and a child's
      observedGeneration in the status, as KServe writes them);
    - no authentication or RBAC: a call the Role does not grant still succeeds here. Instead every
      request kmock saw is compared with the adapter's declared calls (and those with the Role);
    - merge patches are plain dict merges with null deleting a key (what JSON merge patch means for
      the fields shipyard patches); no strategic merge, no resourceVersion conflicts, no PUT.
    One API-server behaviour is added here, because new revisions depend on it: ``metadata.generation``
    starts at 1 and grows with every request that changes ``spec``, as the real API server does.
    """
    from kubernetes import client

    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with _ApiServer() as emulator, kmock.Server(emulator) as server:
            emulator.resources[f"{API_GROUP}/{API_VERSION}/{PLURAL}"] = {}
            box.update(emulator=emulator, url=str(server.url).rstrip("/"), stop=asyncio.Event())
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="kmock", daemon=True)
    thread.start()
    assert ready.wait(30), "kmock did not start"
    configuration = client.Configuration()
    configuration.host = box["url"]
    api_client = client.ApiClient(configuration)
    try:
        yield Kube(client.CustomObjectsApi(api_client), box["emulator"])
    finally:
        api_client.close()
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=10)


# -- a registry on S3 (moto), because KServe only pulls models from object storage ---------------


@pytest.fixture
def s3_registry(request):
    """An empty registry in a fresh bucket of the session's moto S3 server (tests/store/conftest.py)."""
    from shipyard.store.registry import ModelRegistry

    request.getfixturevalue("s3_env")
    return ModelRegistry.from_uri(f"s3://{fresh_bucket()}/shipyard")
