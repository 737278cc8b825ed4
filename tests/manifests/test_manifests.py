"""Kustomize manifests and the kind cluster config, rendered and checked offline.

Every kustomization under manifests/ (the base and each overlay) is rendered with
`kubectl kustomize` from a copy of the tree whose credentials file is made from the committed
example, the way the README tells a user to do it. Rendered objects are validated against the
Kubernetes 1.32 schemas (strict: unknown fields fail) with kubernetes-validate.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.manifests.kserve_schemas import is_kserve, kserve_problems

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
CREDENTIALS_DIR = MANIFESTS / "components" / "object-store"
CREDENTIALS_FILE = "s3-credentials.env"  # gitignored; the Secret's values
CREDENTIALS_EXAMPLE = "s3-credentials.env.example"
KIND_CONFIG = ROOT / "kind-config.yaml"
KUBERNETES_VERSION = "1.32"

NAMESPACE = "shipyard"
KFP_NAMESPACE = "kubeflow"
CONFIG_MAP = "shipyard-config"
S3_SECRET = "shipyard-s3-credentials"
#: Removed (review finding 4): no run could select it, and in standalone KFP pods in `kubeflow` cannot use it.
UNUSED_PIPELINE_SA = "shipyard-pipeline-runner"
KSERVE_SA = "shipyard-kserve-sa"
KSERVE_S3 = "serving.kserve.io/s3-"

OVERLAYS = sorted(p.parent.name for p in (MANIFESTS / "overlays").glob("*/kustomization.yaml"))
#: The commented line that opts an overlay into KServe (manifests/README.md, "Serving on KServe").
KSERVE_LINE = "  # - ../../components/kserve"
#: Each overlay with that line, rendered with it uncommented, from a sibling copy NAME+kserve.
KSERVE_VARIANTS = [
    f"overlays/{name}+kserve"
    for name in OVERLAYS
    if KSERVE_LINE in (MANIFESTS / "overlays" / name / "kustomization.yaml").read_text(encoding="utf-8").splitlines()
]
KUSTOMIZATIONS = ["base", *(f"overlays/{name}" for name in OVERLAYS), *KSERVE_VARIANTS]
#: The renderings that ship the ServingRuntime (and so need KServe's CRDs); no other one may.
WITH_KSERVE = ["overlays/kind-kserve", *KSERVE_VARIANTS]

# Install modes (issue 9, defect 4). Standalone KFP runs pipeline pods in `kubeflow` as
# `pipeline-runner`; multi-user KFP runs them in a profile namespace as `default-editor`.
STANDALONE_OVERLAYS = ["overlays/kind", "overlays/kind-kserve", "overlays/production", "overlays/own-minio"]
MULTI_USER_OVERLAYS = ["overlays/multi-user"]
STANDALONE_OVERLAYS += [v for v in KSERVE_VARIANTS if v.removesuffix("+kserve") in STANDALONE_OVERLAYS]
MULTI_USER_OVERLAYS += [v for v in KSERVE_VARIANTS if v.removesuffix("+kserve") in MULTI_USER_OVERLAYS]
KIND_OVERLAYS = ["overlays/kind", "overlays/kind-kserve"]

# The only objects a rendering may put outside `shipyard`: in standalone installs, the config and
# credentials KFP's pipeline pods read in `kubeflow`; on kind also NodePorts and NetworkPolicies
# there (the object store's and the UI's).
STANDALONE_KFP_NAMESPACE_OBJECTS = {("ConfigMap", CONFIG_MAP), ("Secret", S3_SECRET)}
KIND_KFP_NAMESPACE_OBJECTS = STANDALONE_KFP_NAMESPACE_OBJECTS | {
    ("Service", "shipyard-kfp-ui-nodeport"),
    ("Service", "shipyard-object-store-nodeport"),
    ("NetworkPolicy", "shipyard-object-store-s3-access"),
    ("NetworkPolicy", "shipyard-kfp-ui-nodeport-access"),
}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}


def _kubectl() -> str:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if kubectl:
        return kubectl
    message = (
        "kubectl (with its built-in kustomize) is not on PATH; these tests render "
        "manifests/ with `kubectl kustomize`. Install kubectl or set KUBECTL=/path/to/kubectl."
    )
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must never pass by skipping the manifest checks
    pytest.skip(message)


@pytest.fixture(scope="module")
def manifests_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """manifests/ copied, with the credentials file made from the committed example.

    A developer's own s3-credentials.env is left out of the copy, so real keys are never
    rendered, compared or printed by a test.
    """
    copy = tmp_path_factory.mktemp("rendered") / "manifests"
    shutil.copytree(MANIFESTS, copy, ignore=shutil.ignore_patterns("*.env"))
    for example in copy.rglob("*.env.example"):  # s3-credentials.env, components/minio's minio-root.env
        shutil.copyfile(example, example.with_suffix(""))
    for variant in KSERVE_VARIANTS:  # what a user gets after uncommenting the KServe line
        source = copy / variant.removesuffix("+kserve")
        shutil.copytree(source, copy / variant)
        kustomization = copy / variant / "kustomization.yaml"
        text = kustomization.read_text(encoding="utf-8")
        kustomization.write_text(text.replace(KSERVE_LINE, "  - ../../components/kserve"), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def rendered(manifests_copy: Path) -> dict[str, list[dict]]:
    kubectl = _kubectl()
    out: dict[str, list[dict]] = {}
    for name in KUSTOMIZATIONS:
        result = subprocess.run(
            [kubectl, "kustomize", str(manifests_copy / name)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"kubectl kustomize manifests/{name} failed:\n{result.stderr}"
        out[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def _find(objects: list[dict], kind: str, name: str, namespace: str = NAMESPACE) -> dict:
    found = [
        o
        for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def _example_credentials() -> dict[str, str]:
    values = {}
    for line in (CREDENTIALS_DIR / CREDENTIALS_EXAMPLE).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_the_expected_kustomizations_exist():
    assert {"kind", "kind-kserve", "production", "multi-user", "own-minio"} <= set(OVERLAYS)
    # Every overlay but kind (whose KServe variant is overlays/kind-kserve) has the opt-in line.
    assert sorted(KSERVE_VARIANTS) == [f"overlays/{n}+kserve" for n in ("multi-user", "own-minio", "production")]
    assert sorted([*STANDALONE_OVERLAYS, *MULTI_USER_OVERLAYS]) == sorted(KUSTOMIZATIONS[1:]), (
        "every overlay is either a standalone-KFP or a multi-user-KFP install"
    )


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_rendered_object_is_valid_for_kubernetes_1_32(rendered, name):
    import kubernetes_validate

    assert rendered[name], f"manifests/{name} rendered no objects"
    for obj in rendered[name]:
        what = f"manifests/{name}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
        if is_kserve(obj):  # KServe's own CRD schema (trimmed), see tests/manifests/kserve_schemas.py
            assert kserve_problems(obj) == [], what
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(
                f"{what}: no Kubernetes schema for {obj['apiVersion']}. A custom resource "
                "needs its CRD's openAPIV3Schema checked here, not a skip."
            )
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{what}: invalid at {path or '<root>'}: {exc.message}")


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_objects_live_in_the_shipyard_namespace(rendered, name):
    outside = set()
    for obj in rendered[name]:
        kind, meta = obj["kind"], obj["metadata"]
        if kind in CLUSTER_SCOPED_KINDS:
            assert (kind, meta["name"]) == ("Namespace", NAMESPACE), (
                f"manifests/{name}: cluster-scoped {kind} {meta['name']}: shipyard only creates "
                "its own Namespace; grant rights with namespaced Roles"
            )
            assert "namespace" not in meta
        elif meta.get("namespace") != NAMESPACE:
            outside.add((meta.get("namespace"), kind, meta["name"]))
    in_kfp_namespace = (
        KIND_KFP_NAMESPACE_OBJECTS
        if name in KIND_OVERLAYS
        else STANDALONE_KFP_NAMESPACE_OBJECTS
        if name in STANDALONE_OVERLAYS
        else set()
    )
    assert outside == {(KFP_NAMESPACE, kind, obj_name) for kind, obj_name in in_kfp_namespace}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_only_standalone_installs_own_a_namespace(rendered, name):
    """A Kubeflow Profile refuses to adopt a namespace it did not create (multi-user KFP)."""
    namespaces = [o["metadata"]["name"] for o in rendered[name] if o["kind"] == "Namespace"]
    assert namespaces == ([NAMESPACE] if name in STANDALONE_OVERLAYS else [])


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_service_accounts_rbac_config_and_secret_are_wired_together(rendered, name):
    objects = rendered[name]
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    assert UNUSED_PIPELINE_SA not in accounts

    kserve_sa = _find(objects, "ServiceAccount", KSERVE_SA)
    assert {"name": S3_SECRET} in kserve_sa.get("secrets", []), (
        "KServe finds the S3 credentials through the Secrets listed on the service account"
    )

    role = _find(objects, "Role", "shipyard-inferenceservice-deployer")
    isvc_verbs = {
        verb
        for rule in role["rules"]
        if "serving.kserve.io" in rule["apiGroups"] and "inferenceservices" in rule["resources"]
        for verb in rule["verbs"]
    }
    assert {"get", "create", "patch"} <= isvc_verbs
    assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in role["rules"])
    bindings = [o for o in objects if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == role["metadata"]["name"]]
    # The Role is bound once, to the identity this install mode's pipeline pods run as.
    expected = (
        [{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": KFP_NAMESPACE}]
        if name in STANDALONE_OVERLAYS
        else [{"kind": "ServiceAccount", "name": "default-editor", "namespace": NAMESPACE}]
        if name in MULTI_USER_OVERLAYS
        else []
    )
    # A RoleBinding's ServiceAccount subject without a namespace is in the binding's own namespace.
    subjects = [
        {**subject, "namespace": subject.get("namespace", binding["metadata"]["namespace"])}
        for binding in bindings
        for subject in binding["subjects"]
    ]
    assert subjects == expected
    assert all(
        b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
        for b in bindings
    )

    config = _find(objects, "ConfigMap", CONFIG_MAP)["data"]
    assert {"SHIPYARD_S3_ENDPOINT_URL", "SHIPYARD_S3_REGION", "SHIPYARD_STORE", "SHIPYARD_S3_SSE"} <= set(config)
    assert re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/\S*)?", config["SHIPYARD_STORE"])
    assert config["SHIPYARD_S3_SSE"] in ("", "AES256", "aws:kms")  # what shipyard.store.s3 accepts

    secret = _find(objects, "Secret", S3_SECRET)
    assert set(secret["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert not secret["metadata"]["name"].endswith(tuple("0123456789")), "no kustomize hash suffix"


@pytest.mark.parametrize("name", STANDALONE_OVERLAYS)
def test_standalone_kfp_pipeline_pods_get_config_credentials_and_rights(rendered, name):
    """Standalone KFP: pods run in `kubeflow` as `pipeline-runner` (KFP's DefaultPipelineRunnerServiceAccount)."""
    objects = rendered[name]
    binding = _find(objects, "RoleBinding", "kfp-pipeline-runner-deploys-models")
    assert binding["roleRef"]["name"] == "shipyard-inferenceservice-deployer"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": KFP_NAMESPACE}]
    assert (
        _find(objects, "ConfigMap", CONFIG_MAP, KFP_NAMESPACE)["data"]
        == _find(objects, "ConfigMap", CONFIG_MAP)["data"]
    )
    assert _find(objects, "Secret", S3_SECRET, KFP_NAMESPACE)["data"] == _find(objects, "Secret", S3_SECRET)["data"]


@pytest.mark.parametrize("name", MULTI_USER_OVERLAYS)
def test_multi_user_kfp_pipeline_pods_get_config_credentials_and_rights_in_their_profile(rendered, name):
    """Multi-user KFP: pods run in the profile namespace as `default-editor`; nothing goes to `kubeflow`."""
    objects = rendered[name]
    profile = {o["metadata"].get("namespace") for o in objects}
    assert len(profile) == 1, f"everything in the one profile namespace, got {profile}"
    namespace = profile.pop()
    _find(objects, "ConfigMap", CONFIG_MAP, namespace)
    _find(objects, "Secret", S3_SECRET, namespace)
    binding = _find(objects, "RoleBinding", "kfp-default-editor-deploys-models", namespace)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "shipyard-inferenceservice-deployer",
    }
    _find(objects, "Role", "shipyard-inferenceservice-deployer", namespace)
    (subject,) = binding["subjects"]
    assert (subject["kind"], subject["name"]) == ("ServiceAccount", "default-editor")
    assert subject.get("namespace", namespace) == namespace  # no namespace: the binding's own


def test_the_multi_user_profile_namespace_is_one_setting(manifests_copy: Path):
    """Changing `namespace:` in overlays/multi-user moves every object, the default-editor binding included."""
    kustomization = manifests_copy / "overlays" / "multi-user" / "kustomization.yaml"
    text = kustomization.read_text(encoding="utf-8")
    assert re.search(r"^namespace: shipyard\b", text, re.MULTILINE), "the documented parameter"
    copy = manifests_copy.parent / "multi-user-team-a"
    shutil.copytree(manifests_copy, copy)
    (copy / "overlays" / "multi-user" / "kustomization.yaml").write_text(
        re.sub(r"^namespace: shipyard\b", "namespace: team-a", text, flags=re.MULTILINE), encoding="utf-8"
    )
    result = subprocess.run(
        [_kubectl(), "kustomize", str(copy / "overlays" / "multi-user")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {o["metadata"].get("namespace") for o in objects} == {"team-a"}
    for obj in objects:
        for subject in obj.get("subjects", []):
            assert subject.get("namespace", "team-a") == "team-a"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kserve_s3_annotations_match_the_endpoint_components_use(rendered, name):
    """KServe (annotations) and shipyard's pods (SHIPYARD_S3_ENDPOINT_URL) must reach the same store."""
    objects = rendered[name]
    namespaces = {
        o["metadata"]["namespace"] for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == S3_SECRET
    }
    assert namespaces
    for namespace in namespaces:
        config = _find(objects, "ConfigMap", CONFIG_MAP, namespace)["data"]
        endpoint = urlparse(config["SHIPYARD_S3_ENDPOINT_URL"])
        annotations = _find(objects, "Secret", S3_SECRET, namespace)["metadata"]["annotations"]
        assert endpoint.scheme in ("http", "https") and endpoint.netloc
        assert endpoint.path in ("", "/"), "SHIPYARD_S3_ENDPOINT_URL is scheme://host[:port] only"
        assert annotations[f"{KSERVE_S3}endpoint"] == endpoint.netloc
        assert annotations[f"{KSERVE_S3}usehttps"] == ("1" if endpoint.scheme == "https" else "0")
        assert annotations[f"{KSERVE_S3}region"] == config["SHIPYARD_S3_REGION"]
        assert annotations.get(f"{KSERVE_S3}useanoncredential", "false") == "false"


def test_kind_uses_the_object_store_kubeflow_pipelines_installs(rendered):
    for namespace in (NAMESPACE, KFP_NAMESPACE):
        config = _find(rendered["overlays/kind"], "ConfigMap", CONFIG_MAP, namespace)["data"]
        host = urlparse(config["SHIPYARD_S3_ENDPOINT_URL"]).hostname
        assert host in {"seaweedfs.kubeflow", "minio-service.kubeflow"}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_config_has_no_aws_names(rendered, name):
    """Pods get SHIPYARD_S3_* names; AWS_* belongs to KFP's launcher (issue 9, defect 5)."""
    for obj in rendered[name]:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == CONFIG_MAP:
            assert not [key for key in obj["data"] if key.startswith("AWS_")]


def test_production_talks_to_the_store_over_verified_tls(rendered):
    objects = rendered["overlays/production"]
    assert urlparse(_find(objects, "ConfigMap", CONFIG_MAP)["data"]["SHIPYARD_S3_ENDPOINT_URL"]).scheme == "https"
    annotations = _find(objects, "Secret", S3_SECRET)["metadata"]["annotations"]
    assert annotations[f"{KSERVE_S3}verifyssl"] == "1"
    assert _find(objects, "ConfigMap", CONFIG_MAP)["data"]["SHIPYARD_S3_SSE"] in ("AES256", "aws:kms")
    assert not [o for o in objects if o["kind"] in ("Service", "NetworkPolicy")], (
        "the kind overlay's NodePorts and open NetworkPolicies must stay out of production"
    )
    labels = _find(objects, "Namespace", NAMESPACE, namespace=None)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") in ("baseline", "restricted")


# --- credentials -------------------------------------------------------------------------


def _files_git_would_commit(folder: Path) -> list[Path]:
    """Tracked plus untracked-but-not-ignored files under folder (all files without git)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", str(folder)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in folder.rglob("*") if p.is_file() and p.name != CREDENTIALS_FILE]
    return [ROOT / rel for rel in listed.split("\0") if rel and (ROOT / rel).is_file()]


def test_git_ignores_the_credentials_file():
    target = CREDENTIALS_DIR / CREDENTIALS_FILE
    try:
        result = subprocess.run(["git", "check-ignore", "-q", str(target)], cwd=ROOT, timeout=60)
    except OSError:
        pytest.skip("git is not installed")
    if result.returncode == 128:
        pytest.skip("not a git work tree")
    assert result.returncode == 0, (
        f"{target.relative_to(ROOT)} is not ignored by git (or is tracked): it holds real keys"
    )


def test_the_secret_gets_the_example_placeholders(rendered):
    example = _example_credentials()
    assert set(example) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert all("REPLACE" in value for value in example.values()), "the example must hold placeholders"
    for name in KUSTOMIZATIONS:
        for obj in rendered[name]:
            if obj["kind"] == "Secret" and obj["metadata"]["name"] == S3_SECRET:  # others: test_minio.py
                decoded = {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}
                assert decoded == example, f"manifests/{name}: Secret {obj['metadata']['name']}"


AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|A3T[A-Z0-9])[A-Z0-9]{16}\b")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
KNOWN_DEFAULT_PASSWORDS = ("minio123", "minioadmin")
SECRET_ASSIGNMENT = re.compile(
    r"^\s*([A-Za-z0-9_]*(?:SECRET|PASSWORD|TOKEN|ACCESS_KEY)[A-Za-z0-9_]*)\s*[=:]\s*(\S+)", re.IGNORECASE | re.MULTILINE
)


def test_no_credentials_are_committed():
    files = [*_files_git_would_commit(MANIFESTS), KIND_CONFIG, ROOT / "Dockerfile", ROOT / ".dockerignore"]
    assert not [f for f in files if f.name == CREDENTIALS_FILE]
    for path in files:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        assert not AWS_KEY_ID.search(text), f"{where}: looks like an AWS access key id"
        assert not PRIVATE_KEY.search(text), f"{where}: contains a private key"
        for password in KNOWN_DEFAULT_PASSWORDS:
            assert password not in text, f"{where}: contains the well-known password {password!r}"
        if path.suffix in (".yaml", ".yml"):
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc.get("kind") == "Secret":
                    assert not doc.get("data") and not doc.get("stringData"), (
                        f"{where}: a Secret with values; generate it from {CREDENTIALS_FILE} instead"
                    )
        if ".env" in path.name:
            for key, value in SECRET_ASSIGNMENT.findall(text):
                assert "REPLACE" in value, f"{where}: {key} has a value that is not a placeholder"


# --- kind-config.yaml ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kind_config() -> dict:
    return yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))


def test_kind_config_is_one_control_plane_and_one_worker(kind_config):
    assert kind_config["kind"] == "Cluster"
    assert kind_config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [node["role"] for node in kind_config["nodes"]] == ["control-plane", "worker"]


def _port_mappings(kind_config: dict) -> list[dict]:
    nodes = kind_config["nodes"]
    assert all("extraPortMappings" not in n for n in nodes if n["role"] != "control-plane"), (
        "port mappings belong on the control-plane node"
    )
    return [m for n in nodes if n["role"] == "control-plane" for m in n.get("extraPortMappings", [])]


def test_kind_port_mappings_match_the_kind_overlay_nodeports(rendered, kind_config):
    nodeports = {}
    for obj in rendered["overlays/kind"]:
        if obj["kind"] == "Service" and obj["spec"].get("type") == "NodePort":
            for port in obj["spec"]["ports"]:
                assert "nodePort" in port, f"{obj['metadata']['name']}: pin nodePort so kind can map it"
                nodeports[port["nodePort"]] = (obj, port)

    mappings = _port_mappings(kind_config)
    assert sorted(m["containerPort"] for m in mappings) == sorted(nodeports), (
        "kind-config.yaml's extraPortMappings containerPorts and the NodePorts in "
        "manifests/overlays/kind must be the same set; change both together"
    )
    for mapping in mappings:
        service, port = nodeports[mapping["containerPort"]]
        assert 30000 <= port["nodePort"] <= 32767
        assert mapping.get("protocol", "TCP") == port.get("protocol", "TCP")
        assert mapping.get("listenAddress") == "127.0.0.1", "expose the cluster to this machine only"

    by_host_port = {m["hostPort"]: nodeports[m["containerPort"]][0] for m in mappings}
    assert by_host_port[8080]["spec"]["selector"] == {"app": "ml-pipeline-ui"}
    assert by_host_port[9000]["spec"]["selector"] in ({"app": "seaweedfs"}, {"app": "minio"})
