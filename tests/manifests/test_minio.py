"""shipyard's own object store: components/minio and overlays/own-minio (issue 9, defect 3).

Rendered with kustomize like every overlay (test_manifests.py validates the objects against the
Kubernetes 1.32 schemas). These check what the component promises: a pinned MinIO release that
enforces conditional writes, non-root with limits and probes, a volume per replica, credentials
from shipyard's Secret, and shipyard's config and KServe pointing at this Service. Nothing here
starts MinIO; tests/store runs the S3 client against a moto server instead.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.manifests.test_manifests import (  # noqa: F401 - the fixtures are used by name
    CONFIG_MAP,
    KSERVE_S3,
    MANIFESTS,
    S3_SECRET,
    manifests_copy,
    rendered,
)

OVERLAY = "overlays/own-minio"
#: The last MinIO community-edition image: later releases are source-only (minio/minio#21647).
LAST_COMMUNITY_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"


def _one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == "shipyard-minio"]
    assert len(found) == 1, f"one {kind} shipyard-minio"
    return found[0]


@pytest.fixture(scope="module")
def minio(rendered) -> tuple[dict, dict]:  # noqa: F811
    return _one(rendered[OVERLAY], "StatefulSet"), _one(rendered[OVERLAY], "Service")


def test_the_image_is_the_pinned_last_community_release_and_the_manifest_says_so(minio):
    statefulset, _ = minio
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["image"] == LAST_COMMUNITY_IMAGE
    source = (MANIFESTS / "components" / "minio" / "minio.yaml").read_text(encoding="utf-8")
    assert "last" in source and "community" in source and "conditional writes" in source


def test_minio_runs_non_root_with_limits_and_probes(minio):
    statefulset, _ = minio
    pod = statefulset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    assert security["readOnlyRootFilesystem"] is True
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"].startswith("/minio/health/"), probe


def test_data_lives_on_a_volume_per_replica(minio):
    statefulset, _ = minio
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {
        m["name"]: m["mountPath"] for m in statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts[claim["metadata"]["name"]] == "/data"
    assert "/data" in statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert claim["spec"]["resources"]["requests"]["storage"]


def test_root_credentials_are_shipyards_key_pair(rendered, minio):  # noqa: F811
    statefulset, _ = minio
    namespace = statefulset["metadata"]["namespace"]
    secret = next(
        o
        for o in rendered[OVERLAY]
        if o["kind"] == "Secret" and o["metadata"]["name"] == S3_SECRET and o["metadata"]["namespace"] == namespace
    )
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
        if "valueFrom" in e
    }
    assert env["MINIO_ROOT_USER"] == {"name": S3_SECRET, "key": "AWS_ACCESS_KEY_ID"}
    assert env["MINIO_ROOT_PASSWORD"] == {"name": S3_SECRET, "key": "AWS_SECRET_ACCESS_KEY"}
    assert {ref["key"] for ref in env.values()} <= set(secret["data"])


def test_shipyard_and_kserve_everywhere_point_at_this_service(rendered, minio):  # noqa: F811
    statefulset, service = minio
    assert service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}:{port['port']}"
    configs = [o for o in rendered[OVERLAY] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIG_MAP]
    secrets = [o for o in rendered[OVERLAY] if o["kind"] == "Secret" and o["metadata"]["name"] == S3_SECRET]
    assert len(configs) == len(secrets) == 2, "in shipyard and in kubeflow (standalone KFP)"
    for config in configs:
        assert urlparse(config["data"]["SHIPYARD_S3_ENDPOINT_URL"]).netloc == host
    for secret in secrets:
        assert secret["metadata"]["annotations"][f"{KSERVE_S3}endpoint"] == host
