"""Hardening rules for every pod and every grant that manifests/ ships (issue 11, part 9).

Every kustomization is rendered as a user would render it (the ``rendered`` fixture of
test_manifests.py: the base, each overlay, and each overlay with its KServe line uncommented).
Every pod template in it -- Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, bare Pods,
KServe ServingRuntimes and InferenceServices -- must:

* run as non-root (``runAsNonRoot: true``, never uid 0), pod- or container-level;
* forbid privilege escalation, never be privileged, drop ALL capabilities and add none;
* use the ``RuntimeDefault`` seccomp profile (pod- or container-level, never overridden);
* have a read-only root filesystem, unless listed in ``WRITABLE_ROOT`` with the reason;
* set CPU and memory requests and limits;
* name its image with a tag or digest that is not ``latest``;
* stay off the host (no hostNetwork/PID/IPC, no hostPath volumes).

RBAC: no ClusterRole may carry a write verb, no ClusterRoleBinding (and no RoleBinding) may
grant one through a cluster-wide role, and no rule may use a wildcard.

The checks are plain functions, so the tests at the bottom break a real rendered object one
setting at a time and show each check catching it. What this cannot see: the containers KServe
injects into a predictor pod (storage-initializer, queue-proxy, agent) and the pods KFP starts
for pipeline steps; those come from KServe's and KFP's own configuration, not from manifests/.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.manifests.kserve_schemas import is_kserve, kserve_problems
from tests.manifests.test_manifests import KUSTOMIZATIONS, WITH_KSERVE

#: Containers allowed a writable root filesystem, (kind, object name, container name) -> why.
#: Empty today: every program shipyard runs writes only to a mounted emptyDir (MinIO and its setup
#: Job to /tmp and /data, `shipyard serve` to /tmp). Add an entry only with a reason a reviewer can check.
WRITABLE_ROOT: dict[tuple[str, str, str], str] = {}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
RUNTIME_KINDS = {"ServingRuntime", "ClusterServingRuntime"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind", "impersonate"}
RESOURCES = ("cpu", "memory")


def pod_specs(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod template in ``obj`` as (where, spec with ``containers``)."""
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind in WORKLOAD_KINDS:
        yield "spec.template.spec", spec["template"]["spec"]
    elif kind == "CronJob":
        yield "spec.jobTemplate.spec.template.spec", spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "Pod":
        yield "spec", spec
    elif kind in RUNTIME_KINDS:  # containers and volumes at spec level, no pod securityContext
        yield "spec", spec
    elif kind == "InferenceService":
        for component in ("predictor", "transformer", "explainer"):
            part = spec.get(component)
            if part is not None:
                model = part.get("model")
                if model is not None:  # a model container, merged over the runtime's by KServe
                    yield f"spec.{component}.model", {"containers": [{"name": "kserve-container", **model}], **part}
                if part.get("containers"):
                    yield f"spec.{component}", part


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(field) or []


def _image_problem(image: str | None) -> str | None:
    if not image:
        return "no image"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag (it means `latest`)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image} is `latest`"
    return None


def pod_problems(obj: dict[str, Any], writable_root: dict[tuple[str, str, str], str] = WRITABLE_ROOT) -> list[str]:
    """Every hardening rule a pod template in ``obj`` breaks, one line each (empty: none)."""
    problems = []
    name = f"{obj['kind']} {obj['metadata']['name']}"
    for where, pod in pod_specs(obj):
        pod_sc = pod.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(host):
                problems.append(f"{name} {where}: {host} is on")
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                problems.append(f"{name} {where}: volume {volume.get('name')} is a hostPath")
        if pod_sc.get("runAsUser") == 0:
            problems.append(f"{name} {where}: pod runAsUser is 0 (root)")
        containers = list(_containers(pod))
        if not containers:
            problems.append(f"{name} {where}: no containers")
        for c in containers:
            at = f"{name} {where} container {c.get('name')}"
            sc = c.get("securityContext") or {}

            def effective(field: str) -> Any:
                return sc[field] if field in sc else pod_sc.get(field)  # noqa: B023 - used at once

            if effective("runAsNonRoot") is not True:
                problems.append(f"{at}: runAsNonRoot is not true")
            if effective("runAsUser") == 0:
                problems.append(f"{at}: runAsUser is 0 (root)")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{at}: privileged")
            capabilities = sc.get("capabilities") or {}
            if "ALL" not in (capabilities.get("drop") or []):
                problems.append(f"{at}: capabilities do not drop ALL")
            if capabilities.get("add"):
                problems.append(f"{at}: adds capabilities {capabilities['add']}")
            seccomp = (effective("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                problems.append(f"{at}: seccompProfile is {seccomp or 'unset'}, not RuntimeDefault")
            key = (obj["kind"], obj["metadata"]["name"], str(c.get("name")))
            if sc.get("readOnlyRootFilesystem") is not True and key not in writable_root:
                problems.append(
                    f"{at}: readOnlyRootFilesystem is not true (mount an emptyDir where it writes, "
                    "or list it in WRITABLE_ROOT with the reason)"
                )
            resources = c.get("resources") or {}
            for section in ("requests", "limits"):
                missing = [r for r in RESOURCES if r not in (resources.get(section) or {})]
                if missing:
                    problems.append(f"{at}: no {section} for {', '.join(missing)}")
            image = _image_problem(c.get("image"))
            if image and not (where.endswith(".model") and c.get("image") is None):
                problems.append(f"{at}: {image}")  # a model entry inherits the runtime's image
    return problems


def rbac_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Cluster-wide write rights and wildcards in the RBAC objects of one rendering."""
    problems = []
    cluster_roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Role", "ClusterRole"):
            for i, rule in enumerate(obj.get("rules") or []):
                for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                    if any("*" in str(v) for v in rule.get(field) or []):
                        problems.append(f"{kind} {name} rule {i}: wildcard in {field}")
                if kind == "ClusterRole" and WRITE_VERBS & set(rule.get("verbs") or []):
                    problems.append(
                        f"ClusterRole {name} rule {i}: write verbs "
                        f"{sorted(WRITE_VERBS & set(rule['verbs']))} cluster-wide"
                    )
        if kind in ("ClusterRoleBinding", "RoleBinding") and obj["roleRef"]["kind"] == "ClusterRole":
            role = cluster_roles.get(obj["roleRef"]["name"])
            if role is None:
                problems.append(
                    f"{kind} {name}: binds ClusterRole {obj['roleRef']['name']}, which this rendering does "
                    "not define, so its verbs cannot be checked"
                )
            elif any(WRITE_VERBS & set(r.get("verbs") or []) for r in role.get("rules") or []):
                problems.append(f"{kind} {name}: grants ClusterRole {role['metadata']['name']}'s write verbs")
    return problems


def _pod_objects(rendered: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    return [(name, obj) for name in KUSTOMIZATIONS for obj in rendered[name] if any(True for _ in pod_specs(obj))]


# --- the rules over what we ship ------------------------------------------------------------


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_pod_template_is_hardened(rendered, name):
    problems = [p for obj in rendered[name] for p in pod_problems(obj)]
    assert problems == [], f"manifests/{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_no_cluster_wide_write_rights_and_no_wildcards(rendered, name):
    problems = rbac_problems(rendered[name])
    assert problems == [], f"manifests/{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_kind_that_carries_containers_is_understood(rendered, name):
    """A new workload kind must be taught to pod_specs, not pass unchecked."""

    def has_containers(node: Any) -> bool:
        if isinstance(node, dict):
            return "containers" in node or any(has_containers(v) for v in node.values())
        return isinstance(node, list) and any(has_containers(v) for v in node)

    unknown = [
        f"{o['kind']} {o['metadata']['name']}"
        for o in rendered[name]
        if has_containers(o.get("spec")) and not any(True for _ in pod_specs(o))
    ]
    assert unknown == []


def test_the_checks_see_every_kind_of_pod_we_ship(rendered):
    """The rules above are not vacuous: the renderings hold a StatefulSet, a Job and a ServingRuntime."""
    kinds = {obj["kind"] for _, obj in _pod_objects(rendered)}
    assert {"StatefulSet", "Job", "ServingRuntime"} <= kinds, kinds
    assert all(any(o["kind"] == "ServingRuntime" for o in rendered[n]) for n in WITH_KSERVE)


def test_every_writable_root_exception_still_exists_and_is_still_needed(rendered):
    containers = {
        (obj["kind"], obj["metadata"]["name"], c.get("name")): c
        for _, obj in _pod_objects(rendered)
        for _, pod in pod_specs(obj)
        for c in _containers(pod)
    }
    for key, reason in WRITABLE_ROOT.items():
        assert reason.strip(), f"{key}: an exception needs its reason"
        assert key in containers, f"{key}: listed in WRITABLE_ROOT but no longer rendered"
        sc = containers[key].get("securityContext") or {}
        assert sc.get("readOnlyRootFilesystem") is not True, f"{key}: read-only now; drop the exception"


@pytest.mark.parametrize("name", WITH_KSERVE)
def test_the_hardened_serving_runtime_is_valid_for_kserves_schema(rendered, name):
    """The fields added for hardening (seccomp, read-only root, the /tmp emptyDir) exist in KServe v0.20's CRD."""
    runtime = next(o for o in rendered[name] if o["kind"] == "ServingRuntime")
    assert kserve_problems(runtime) == []
    container = runtime["spec"]["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in runtime["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "shipyard serve writes its temp copy of the model under /tmp"


@pytest.mark.parametrize("alias", ["staging", "production"])
def test_inferenceservice_bodies_carry_no_pod_level_weakening(alias):
    """The InferenceServices the deploy step creates add only a model entry over the hardened runtime."""
    from shipyard.stages.inferenceservice import inference_service

    body = inference_service(
        f"churn-{alias}",
        "shipyard",
        model="churn",
        version=3,
        version_uri="s3://bucket/registry/models/churn/3/",
        alias=alias,
    )
    assert is_kserve(body) and kserve_problems(body) == []
    predictor = body["spec"]["predictor"]
    assert "containers" not in predictor and "securityContext" not in predictor
    assert not any(k in predictor["model"] for k in ("securityContext", "image", "command", "args"))


# --- each check can fail ---------------------------------------------------------------------


def _one_pod_object(rendered, kind: str) -> dict:
    return copy.deepcopy(next(obj for _, obj in _pod_objects(rendered) if obj["kind"] == kind))


def _first_container(obj: dict) -> dict:
    return next(_containers(next(pod_specs(obj))[1]))


BREAKAGES = {
    "runAsNonRoot": lambda o, c, p: c.setdefault("securityContext", {}).__setitem__("runAsNonRoot", False),
    "runAsUser": lambda o, c, p: c.setdefault("securityContext", {}).__setitem__("runAsUser", 0),
    "allowPrivilegeEscalation": lambda o, c, p: c["securityContext"].pop("allowPrivilegeEscalation"),
    "privileged": lambda o, c, p: c["securityContext"].__setitem__("privileged", True),
    "capabilities do not drop ALL": lambda o, c, p: c["securityContext"].__setitem__("capabilities", {"drop": []}),
    "adds capabilities": lambda o, c, p: c["securityContext"]["capabilities"].__setitem__("add", ["NET_ADMIN"]),
    "seccompProfile": lambda o, c, p: c.setdefault("securityContext", {}).__setitem__(
        "seccompProfile", {"type": "Unconfined"}
    ),
    "readOnlyRootFilesystem": lambda o, c, p: c["securityContext"].__setitem__("readOnlyRootFilesystem", False),
    "no limits": lambda o, c, p: c["resources"].pop("limits"),
    "no requests for memory": lambda o, c, p: c["resources"]["requests"].pop("memory"),
    "is `latest`": lambda o, c, p: c.__setitem__("image", c["image"].rsplit(":", 1)[0] + ":latest"),
    "has no tag": lambda o, c, p: c.__setitem__("image", "quay.io/minio/minio"),
    "hostNetwork": lambda o, c, p: p.__setitem__("hostNetwork", True),
    "hostPath": lambda o, c, p: p.setdefault("volumes", []).append({"name": "h", "hostPath": {"path": "/"}}),
}


@pytest.mark.parametrize("kind", ["StatefulSet", "Job", "ServingRuntime"])
@pytest.mark.parametrize("broken", sorted(BREAKAGES))
def test_each_rule_catches_its_breakage(rendered, kind, broken):
    obj = _one_pod_object(rendered, kind)
    assert pod_problems(obj) == []
    pod = next(pod_specs(obj))[1]
    BREAKAGES[broken](obj, _first_container(obj), pod)
    problems = pod_problems(obj)
    assert any(broken in p for p in problems), problems


def test_a_pod_level_setting_counts_and_a_container_can_undo_it(rendered):
    obj = _one_pod_object(rendered, "StatefulSet")  # MinIO: seccomp and runAsNonRoot at pod level
    pod = next(pod_specs(obj))[1]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_problems(obj) == []
    pod["securityContext"].pop("seccompProfile")
    assert any("seccompProfile is unset" in p for p in pod_problems(obj))


def test_an_exception_allows_a_writable_root_and_nothing_else(rendered):
    obj = _one_pod_object(rendered, "Job")
    container = _first_container(obj)
    container["securityContext"]["readOnlyRootFilesystem"] = False
    key = (obj["kind"], obj["metadata"]["name"], container["name"])
    assert pod_problems(obj, {key: "a reason"}) == []
    container["securityContext"]["allowPrivilegeEscalation"] = True
    assert pod_problems(obj, {key: "a reason"}) != []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {
                "kind": "ClusterRole",
                "metadata": {"name": "r"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]}],
            },
            "write verbs ['delete'] cluster-wide",
        ),
        (
            {
                "kind": "Role",
                "metadata": {"name": "r"},
                "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
            },
            "wildcard in resources",
        ),
        (
            {
                "kind": "Role",
                "metadata": {"name": "r"},
                "rules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["*"]}],
            },
            "wildcard in verbs",
        ),
        (
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": "edit"},
            },
            "binds ClusterRole edit, which this rendering does not define",
        ),
        (
            {"kind": "RoleBinding", "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "admin"}},
            "binds ClusterRole admin",
        ),
    ],
)
def test_rbac_check_catches_cluster_wide_writes_and_wildcards(rendered, extra, expected):
    objects = [*rendered["overlays/own-minio"], extra]
    assert rbac_problems(rendered["overlays/own-minio"]) == []
    assert any(expected in p for p in rbac_problems(objects)), rbac_problems(objects)


def test_a_read_only_cluster_role_may_be_bound():
    role = {
        "kind": "ClusterRole",
        "metadata": {"name": "ro"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    binding = {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"kind": "ClusterRole", "name": "ro"},
    }
    assert rbac_problems([role, binding]) == []
