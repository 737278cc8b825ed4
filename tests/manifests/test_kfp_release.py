"""The kind path against the Kubeflow Pipelines release it pins (issue 9, defects 2, 3 and 6).

No cluster runs here, so the facts shipyard relies on are taken from KFP's own manifests at the
release tags (github.com/kubeflow/pipelines, read with git; paths in KFP_RELEASES below) and the
NetworkPolicies KFP installs are vendored verbatim in tests/manifests/kfp/. The policy check is a
small evaluator of Kubernetes NetworkPolicy ingress semantics (a pod selected by any Ingress
policy admits only what some rule of those policies admits; rules add up). It covers the parts
KFP's and shipyard's policies use (podSelector with matchLabels/matchExpressions, namespaceSelector,
ipBlock as "any address", numeric ports). It does not check egress, named ports, endPort, or what
a particular network plugin actually enforces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.manifests.test_manifests import (  # noqa: F401 - the fixtures are used by name
    KFP_NAMESPACE,
    KIND_CONFIG,
    NAMESPACE,
    ROOT,
    manifests_copy,
    rendered,
)

KFP_DIR = Path(__file__).resolve().parent / "kfp"


@dataclass(frozen=True)
class KfpRelease:
    """What one KFP release installs in `kubeflow` (standalone, env/platform-agnostic)."""

    #: Service name -> ports (manifests/kustomize/third-party/seaweedfs/base/seaweedfs/seaweedfs-service.yaml,
    #: .../seaweedfs/minio-service.yaml, base/pipeline/ml-pipeline-ui-service.yaml).
    services: dict[str, set[int]]
    #: Pod label `app` -> container ports (seaweedfs-deployment.yaml, ml-pipeline-ui-deployment.yaml).
    pods: dict[str, set[int]]
    #: Object store image (seaweedfs-deployment.yaml / third-party/minio/base/minio-deployment.yaml).
    store_image: str
    #: Whether that store enforces `If-None-Match: *` / `If-Match` also under concurrent PUTs.
    conditional_writes: bool
    network_policies: list[dict] = field(default_factory=list)


_SEAWEEDFS_PORTS = {8111, 8333, 9333, 19333, 18888, 8888}
KFP_RELEASES = {
    # SeaweedFS 4.00: before the fix of seaweedfs/seaweedfs#8800 (concurrent conditional PUTs all
    # succeed; reported against 4.16, fixed by #8802 in March 2026). `minio-service` still exists,
    # pointing at SeaweedFS's port 8333.
    "2.15.0": KfpRelease(
        services={"seaweedfs": _SEAWEEDFS_PORTS, "minio-service": {9000}, "ml-pipeline-ui": {80}},
        pods={"seaweedfs": {8333}, "ml-pipeline-ui": {3000}},
        store_image="chrislusf/seaweedfs:4.00",
        conditional_writes=False,
    ),
    # Port 9000 (`http-s3-compat`) added to `seaweedfs`; `minio-service` gone.
    "2.16.0": KfpRelease(
        services={"seaweedfs": _SEAWEEDFS_PORTS | {9000}, "ml-pipeline-ui": {80}},
        pods={"seaweedfs": {8333}, "ml-pipeline-ui": {3000}},
        store_image="chrislusf/seaweedfs:4.00",
        conditional_writes=False,
    ),
    # SeaweedFS 4.34 (June 2026), released after the #8800 fix.
    "2.17.0": KfpRelease(
        services={"seaweedfs": _SEAWEEDFS_PORTS | {9000}, "ml-pipeline-ui": {80}},
        pods={"seaweedfs": {8333}, "ml-pipeline-ui": {3000}},
        store_image="ghcr.io/chrislusf/seaweedfs:4.34",
        conditional_writes=True,
    ),
}
for _version, _release in KFP_RELEASES.items():
    _text = (KFP_DIR / f"networkpolicies-{_version}.yaml").read_text(encoding="utf-8")
    _release.network_policies.extend(d for d in yaml.safe_load_all(_text) if d)

STORE_ENDPOINT = re.compile(r"\b(seaweedfs|minio-service)\.kubeflow(?:\.svc(?:\.cluster\.local)?)?:(\d+)")


def pinned_kfp_version() -> str:
    found = re.findall(r"^# KFP_VERSION=(\S+)$", KIND_CONFIG.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(found) == 1, "kind-config.yaml must pin the KFP release in exactly one '# KFP_VERSION=' line"
    return found[0]


# --- defect 2: one pinned release, and an endpoint that exists in it ---------------------------


def test_the_kind_path_pins_a_kfp_release_we_checked():
    assert pinned_kfp_version() in KFP_RELEASES


def test_the_kind_overlay_endpoint_exists_in_the_pinned_release(rendered):  # noqa: F811
    release = KFP_RELEASES[pinned_kfp_version()]
    for namespace in (NAMESPACE, KFP_NAMESPACE):
        config = next(
            o["data"]
            for o in rendered["overlays/kind"]
            if o["kind"] == "ConfigMap" and o["metadata"]["namespace"] == namespace
        )
        endpoint = urlparse(config["SHIPYARD_S3_ENDPOINT_URL"])
        service, _, service_namespace = (endpoint.hostname or "").partition(".")
        assert service_namespace == KFP_NAMESPACE
        assert endpoint.port in release.services.get(service, set()), (
            f"{endpoint.netloc} does not exist in KFP {pinned_kfp_version()}"
        )


def test_the_kind_nodeports_reach_ports_that_exist_in_the_pinned_release(rendered):  # noqa: F811
    release = KFP_RELEASES[pinned_kfp_version()]
    for obj in rendered["overlays/kind"]:
        if obj["kind"] == "Service" and obj["spec"].get("type") == "NodePort":
            app = obj["spec"]["selector"]["app"]
            for port in obj["spec"]["ports"]:
                assert port["targetPort"] in release.pods[app], (
                    f"{obj['metadata']['name']} -> {app}:{port['targetPort']}"
                )


@pytest.mark.parametrize("doc", ["README.md", "manifests/README.md", "kind-config.yaml"])
def test_docs_name_only_store_endpoints_of_the_pinned_release(doc):
    version = pinned_kfp_version()
    text = (ROOT / doc).read_text(encoding="utf-8")
    for service, port in STORE_ENDPOINT.findall(text):
        assert int(port) in KFP_RELEASES[version].services.get(service, set()), (
            f"{doc} names {service}.kubeflow:{port}, which KFP {version} does not have"
        )
    if doc != "kind-config.yaml":
        assert version in text, f"{doc} must say which KFP release the kind path installs ({version})"


def test_scripts_default_to_the_pinned_release():
    """A script with its own KFP_VERSION default (the kind end-to-end script) must agree with kind-config.yaml."""
    version = pinned_kfp_version()
    for script in sorted((ROOT / "scripts").glob("*.sh")) if (ROOT / "scripts").is_dir() else []:
        for default in re.findall(r"KFP_VERSION:-([\w.]+)", script.read_text(encoding="utf-8")):
            assert default == version, (
                f"{script.name}: KFP_VERSION defaults to {default}, kind-config.yaml pins {version}"
            )


# --- defect 3: conditional writes --------------------------------------------------------------


def test_the_pinned_release_ships_a_store_that_enforces_conditional_writes():
    release = KFP_RELEASES[pinned_kfp_version()]
    assert release.conditional_writes, f"KFP {pinned_kfp_version()} ships {release.store_image}: use overlays/own-minio"


def test_the_docs_send_older_releases_to_shipyards_own_store():
    text = (ROOT / "manifests" / "README.md").read_text(encoding="utf-8")
    assert "overlays/own-minio" in text
    for version, release in KFP_RELEASES.items():
        if not release.conditional_writes:
            short = version.rsplit(".", 1)[0]
            assert short in text, f"manifests/README.md must say what to do on KFP {short}"


# --- defect 6: NetworkPolicies ------------------------------------------------------------------


def _matches(selector: dict | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass(frozen=True)
class Source:
    """Where a connection comes from: a pod (namespace, labels) or, with namespace None, outside the cluster's pods."""

    namespace: str | None
    namespace_labels: dict[str, str] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)


HOST_THROUGH_NODEPORT = Source(None)
KSERVE_IN_SHIPYARD = Source(NAMESPACE, {"kubernetes.io/metadata.name": NAMESPACE}, {"app": "isvc-predictor"})
PIPELINE_POD_IN_KUBEFLOW = Source(KFP_NAMESPACE, {"kubernetes.io/metadata.name": KFP_NAMESPACE}, {"app": "x"})


def _peer_admits(peer: dict, source: Source, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return peer["ipBlock"].get("cidr") == "0.0.0.0/0" and not peer["ipBlock"].get("except")
    if source.namespace is None:
        return False  # pod and namespace selectors only ever match pods
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], source.namespace_labels):
            return False
    elif source.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or _matches(peer["podSelector"], source.pod_labels)


def admitted(policies: list[dict], pod_labels: dict[str, str], port: int, source: Source) -> bool:
    """Whether ingress to a pod in `kubeflow` with these labels on this port is allowed."""
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace", KFP_NAMESPACE) == KFP_NAMESPACE
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _matches(p["spec"]["podSelector"], pod_labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port for p in ports):
                continue
            peers = rule.get("from")
            if not peers or any(_peer_admits(peer, source, KFP_NAMESPACE) for peer in peers):
                return True
    return False


def _kind_policies(rendered) -> list[dict]:  # noqa: F811
    return [o for o in rendered["overlays/kind"] if o["kind"] == "NetworkPolicy"]


def test_the_evaluator_sees_the_2_15_same_namespace_policy_block_the_ui():
    """Without shipyard's policy, KFP 2.15.0's default-allow-same-namespace blocks the UI NodePort."""
    kfp = KFP_RELEASES["2.15.0"].network_policies
    assert not admitted(kfp, {"app": "ml-pipeline-ui"}, 3000, HOST_THROUGH_NODEPORT)
    assert admitted(kfp, {"app": "ml-pipeline-ui"}, 3000, PIPELINE_POD_IN_KUBEFLOW)


@pytest.mark.parametrize("version", sorted(KFP_RELEASES))
def test_kind_nodeports_are_admitted(rendered, version):  # noqa: F811
    policies = KFP_RELEASES[version].network_policies + _kind_policies(rendered)
    for obj in rendered["overlays/kind"]:
        if obj["kind"] == "Service" and obj["spec"].get("type") == "NodePort":
            for port in obj["spec"]["ports"]:
                assert admitted(policies, obj["spec"]["selector"], port["targetPort"], HOST_THROUGH_NODEPORT), (
                    f"KFP {version}: {obj['metadata']['name']} is blocked by a NetworkPolicy"
                )


@pytest.mark.parametrize("version", sorted(KFP_RELEASES))
def test_kserve_in_shipyard_and_pipeline_pods_reach_the_store(rendered, version):  # noqa: F811
    policies = KFP_RELEASES[version].network_policies + _kind_policies(rendered)
    for source in (KSERVE_IN_SHIPYARD, PIPELINE_POD_IN_KUBEFLOW):
        assert admitted(policies, {"app": "seaweedfs"}, 8333, source)


def test_kind_policies_open_only_the_ui_and_s3_ports(rendered):  # noqa: F811
    opened = {
        (tuple(sorted(p["spec"]["podSelector"]["matchLabels"].items())), port["port"])
        for p in _kind_policies(rendered)
        for rule in p["spec"]["ingress"]
        for port in rule["ports"]
    }
    assert opened == {((("app", "ml-pipeline-ui"),), 3000), ((("app", "seaweedfs"),), 8333)}
