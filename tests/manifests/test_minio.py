"""shipyard's own object store: components/minio and overlays/own-minio (issues 9 and 11).

Rendered with kustomize like every overlay (test_manifests.py validates the objects against the
Kubernetes 1.32 schemas, strict). These check what the component promises: a pinned MinIO release
that enforces conditional writes, non-root with limits and probes, a volume per replica, a root
user of its own (Secret shipyard-minio-root, from a gitignored file) that pipeline pods and
KServe never get, a pinned setup Job that gives shipyard's key pair a user limited to the store's
bucket prefix, and shipyard's config and KServe pointing at this Service. Nothing here starts
MinIO or mc (none can run on these machines): the policy is checked as JSON, the script with
shellcheck and, with a stand-in `mc` that records its calls, for its control flow only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.manifests.test_manifests import (  # noqa: F401 - the fixtures are used by name
    CONFIG_MAP,
    KSERVE_S3,
    MANIFESTS,
    ROOT,
    S3_SECRET,
    manifests_copy,
    rendered,
)
from tests.scripts.shellcheck import shellcheck

OVERLAY = "overlays/own-minio"
#: The last MinIO community-edition image: later releases are source-only (minio/minio#21647).
LAST_COMMUNITY_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
#: The last community MinIO client image, from before that server release.
MC_IMAGE = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
COMPONENT = MANIFESTS / "components" / "minio"
ROOT_SECRET = "shipyard-minio-root"
ROOT_ENV, ROOT_ENV_EXAMPLE = "minio-root.env", "minio-root.env.example"
SETUP = "shipyard-minio-setup"  # the Job and its ConfigMap (setup.sh, policy.json)


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


# --- two key pairs: MinIO's root user, and shipyard's user limited to its store -------------------


def _named(objects: list[dict], kind: str, name: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]


@pytest.fixture(scope="module")
def job(rendered) -> dict:  # noqa: F811
    (found,) = _named(rendered[OVERLAY], "Job", SETUP)
    return found


def _env_refs(container: dict) -> dict[str, dict]:
    return {
        e["name"]: e["valueFrom"].get("secretKeyRef") or e["valueFrom"].get("configMapKeyRef")
        for e in container["env"]
        if "valueFrom" in e
    }


def test_minio_root_user_comes_from_its_own_secret_not_shipyards(rendered, minio):  # noqa: F811
    statefulset, _ = minio
    pod = statefulset["spec"]["template"]["spec"]
    assert S3_SECRET not in json.dumps(pod), "MinIO must not start with the keys every pipeline pod gets"
    env = _env_refs(pod["containers"][0])
    assert env["MINIO_ROOT_USER"] == {"name": ROOT_SECRET, "key": "MINIO_ROOT_USER"}
    assert env["MINIO_ROOT_PASSWORD"] == {"name": ROOT_SECRET, "key": "MINIO_ROOT_PASSWORD"}
    (secret,) = _named(rendered[OVERLAY], "Secret", ROOT_SECRET)
    assert secret["metadata"]["namespace"] == statefulset["metadata"]["namespace"] == "shipyard"
    assert set(secret["data"]) == {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}


def test_only_minio_and_its_setup_job_get_the_root_secret(rendered):  # noqa: F811
    """Not copied to `kubeflow` (where pipeline pods run), named by no other object (workload, service account)."""
    for name, objects in rendered.items():
        readers = {
            (o["kind"], o["metadata"]["name"])
            for o in objects
            if ROOT_SECRET in json.dumps({k: v for k, v in o.items() if k != "metadata"})  # env, volumes, secrets
        }
        if name.removesuffix("+kserve") == OVERLAY:  # with or without the KServe runtime
            assert readers == {("StatefulSet", "shipyard-minio"), ("Job", SETUP)}
            assert [s["metadata"]["namespace"] for s in _named(objects, "Secret", ROOT_SECRET)] == ["shipyard"]
        else:
            assert not readers and not _named(objects, "Secret", ROOT_SECRET), name
        assert {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"} <= {S3_SECRET, ROOT_SECRET}, (
            f"manifests/{name}: a Secret whose placeholders no test checks"
        )


def _example(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.strip().split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_root_secret_comes_from_a_gitignored_file_whose_example_holds_placeholders(rendered):  # noqa: F811
    example = _example(COMPONENT / ROOT_ENV_EXAMPLE)
    assert set(example) == {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
    assert all("REPLACE" in value for value in example.values())
    (secret,) = _named(rendered[OVERLAY], "Secret", ROOT_SECRET)
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == example
    s3_example = _example(MANIFESTS / "components" / "object-store" / "s3-credentials.env.example")
    assert s3_example["AWS_ACCESS_KEY_ID"] != example["MINIO_ROOT_USER"], "two different key pairs"

    result = subprocess.run(["git", "check-ignore", "-q", str(COMPONENT / ROOT_ENV)], cwd=ROOT, timeout=60)
    if result.returncode == 128:
        pytest.skip("not a git work tree")
    assert result.returncode == 0, f"components/minio/{ROOT_ENV} is not ignored by git (or is tracked)"
    would_commit = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", str(COMPONENT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert f"manifests/components/minio/{ROOT_ENV_EXAMPLE}" in would_commit, "the example is committed"
    assert f"manifests/components/minio/{ROOT_ENV}" not in would_commit


def test_the_setup_job_is_pinned_non_root_and_limited(job):
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == MC_IMAGE and not container["image"].endswith(":latest")
    mc_release = container["image"].rsplit(":RELEASE.", 1)[1]
    assert mc_release <= LAST_COMMUNITY_IMAGE.rsplit(":RELEASE.", 1)[1], "a client not newer than the server"
    source = (COMPONENT / "setup-job.yaml").read_text(encoding="utf-8")
    assert "last community release" in source and MC_IMAGE in source
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    assert security["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["activeDeadlineSeconds"] > 0


def test_the_setup_job_logs_in_as_root_and_creates_shipyards_keys_for_shipyards_store(rendered, job):  # noqa: F811
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = _env_refs(container)
    assert env["MINIO_ROOT_USER"] == {"name": ROOT_SECRET, "key": "MINIO_ROOT_USER"}
    assert env["MINIO_ROOT_PASSWORD"] == {"name": ROOT_SECRET, "key": "MINIO_ROOT_PASSWORD"}
    assert env["SHIPYARD_ACCESS_KEY"] == {"name": S3_SECRET, "key": "AWS_ACCESS_KEY_ID"}
    assert env["SHIPYARD_SECRET_KEY"] == {"name": S3_SECRET, "key": "AWS_SECRET_ACCESS_KEY"}
    assert env["SHIPYARD_STORE"] == {"name": CONFIG_MAP, "key": "SHIPYARD_STORE"}
    assert env["MINIO_ENDPOINT"] == {"name": CONFIG_MAP, "key": "SHIPYARD_S3_ENDPOINT_URL"}
    # The Job runs the committed script, mounted from the ConfigMap that carries it and the policy.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    (setup_volume,) = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == SETUP]
    assert container["command"] == ["/bin/sh", f"{mounts[setup_volume]}/setup.sh"]
    (config,) = _named(rendered[OVERLAY], "ConfigMap", SETUP)
    assert config["data"]["setup.sh"] == (COMPONENT / "setup.sh").read_text(encoding="utf-8")
    assert config["data"]["policy.json"] == (COMPONENT / "policy.json").read_text(encoding="utf-8")


#: What shipyard.store.s3 and KServe's storage initializer do under the prefix.
OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
#: HeadBucket (shipyard checks the bucket exists; MinIO >= 2025-09 authorises it as s3:HeadBucket)
#: and GetBucketLocation: neither reveals an object or a key name.
BUCKET_ACTIONS = {"s3:GetBucketLocation", "s3:HeadBucket"}


def _policy_problems(policy: dict, bucket: str, prefix: str) -> list[str]:
    """Everything in policy that reaches beyond s3://bucket/prefix/ (empty: the policy is scoped)."""
    problems = []
    bucket_arn, objects_arn = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{prefix}/*"
    for statement in policy["Statement"]:
        actions, resources = set(statement["Action"]), set(statement["Resource"])
        sid = statement.get("Sid", "?")
        if statement["Effect"] != "Allow" or "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{sid}: only plain Allow statements")
            continue
        if resources == {objects_arn}:
            problems += [f"{sid}: {a} on objects" for a in sorted(actions - OBJECT_ACTIONS)]
        elif resources == {bucket_arn}:
            for action in sorted(actions - BUCKET_ACTIONS):
                prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [])
                scoped = prefixes and all(p.startswith(f"{prefix}/") for p in prefixes)
                if action != "s3:ListBucket" or not scoped or set(statement["Condition"]) != {"StringLike"}:
                    problems.append(f"{sid}: {action} on the bucket beyond {prefix}/")
        else:
            problems.append(f"{sid}: resources {sorted(resources)}")
    return problems


def test_the_users_policy_grants_only_the_store_prefix(rendered):  # noqa: F811
    (config,) = _named(rendered[OVERLAY], "ConfigMap", SETUP)
    policy = json.loads(config["data"]["policy.json"])
    stores = {o["data"]["SHIPYARD_STORE"] for o in _named(rendered[OVERLAY], "ConfigMap", CONFIG_MAP)}
    (store,) = stores
    parsed = urlparse(store)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    assert (bucket, prefix) == ("shipyard", "registry")
    assert _policy_problems(policy, bucket, prefix) == []
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    assert OBJECT_ACTIONS | {"s3:ListBucket", "s3:HeadBucket"} <= granted, "what shipyard's store needs"
    assert not [a for a in granted if "*" in a or a.startswith("admin:")]


def test_the_policy_check_rejects_wider_policies():
    """_policy_problems is what makes the test above able to fail."""
    policy = json.loads((COMPONENT / "policy.json").read_text(encoding="utf-8"))
    assert _policy_problems(policy, "shipyard", "registry") == []
    assert _policy_problems(policy, "shipyard", "other"), "objects of another prefix"
    everything = {"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}
    assert _policy_problems(everything, "shipyard", "registry")
    list_all = {"Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::shipyard"]}]}
    assert _policy_problems(list_all, "shipyard", "registry"), "listing the whole bucket"
    create = {"Statement": [{"Effect": "Allow", "Action": ["s3:CreateBucket"], "Resource": ["arn:aws:s3:::shipyard"]}]}
    assert _policy_problems(create, "shipyard", "registry")


def test_the_setup_script_passes_shellcheck():
    result = shellcheck(COMPONENT / "setup.sh", shell="sh")
    assert result.returncode == 0, result.stdout + result.stderr


# A stand-in for `mc`: records each call; `admin policy attach` fails when ATTACHED=1 (as MinIO
# answers XMinioAdminPolicyChangeAlreadyApplied), `admin user info` prints the policy then.
FAKE_MC = """#!/bin/sh
echo "$*" >> "$MC_LOG"
case "$*" in
    *"admin policy attach"*) [ "${ATTACHED:-0}" = 1 ] && exit 1 ;;
    *"admin user info"*) [ "${ATTACHED:-0}" = 1 ] && echo "PolicyName: shipyard-store" ;;
esac
exit 0
"""


def _run_setup(tmp_path: Path, **overrides: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir, setup_dir = tmp_path / "bin", tmp_path / "setup"
    bin_dir.mkdir(exist_ok=True)
    setup_dir.mkdir(exist_ok=True)
    (bin_dir / "mc").write_text(FAKE_MC, encoding="utf-8")
    (bin_dir / "mc").chmod(0o755)
    for name in ("setup.sh", "policy.json"):
        (setup_dir / name).write_text((COMPONENT / name).read_text(encoding="utf-8"), encoding="utf-8")
    log = tmp_path / "mc.log"
    log.write_text("", encoding="utf-8")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MC_LOG": str(log),
        "MINIO_ENDPOINT": "http://shipyard-minio.shipyard:9000",
        "MINIO_ROOT_USER": "root-user",
        "MINIO_ROOT_PASSWORD": "root-password",
        "SHIPYARD_ACCESS_KEY": "shipyard-user",
        "SHIPYARD_SECRET_KEY": "shipyard-password",
        "SHIPYARD_STORE": "s3://shipyard/registry",
        **overrides,
    }
    result = subprocess.run(
        ["/bin/sh", str(setup_dir / "setup.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    return result, log.read_text(encoding="utf-8").splitlines()


def test_the_setup_script_creates_bucket_policy_and_user_and_can_run_again(tmp_path):
    """Control flow only, with a stand-in mc: not what a real MinIO answers (no MinIO runs here)."""
    first, calls = _run_setup(tmp_path)
    assert first.returncode == 0, first.stderr
    steps = [" ".join(c.split()[3:]) for c in calls]  # without "--config-dir /tmp/mc --quiet"
    assert steps[0].startswith("alias set shipyard http://shipyard-minio.shipyard:9000 root-user ")
    assert "mb --ignore-existing shipyard/shipyard" in steps
    assert any(s.startswith("admin policy create shipyard shipyard-store ") for s in steps)
    assert "admin user add shipyard shipyard-user shipyard-password" in steps
    assert "admin policy attach shipyard shipyard-store --user shipyard-user" in steps
    # A second run finds the policy attached already: MinIO refuses the attach, the script checks.
    again, _ = _run_setup(tmp_path, ATTACHED="1")
    assert again.returncode == 0, again.stderr


def test_the_setup_script_refuses_a_store_the_policy_does_not_cover_and_the_root_key_for_shipyard(tmp_path):
    """Control flow only, with a stand-in mc (see above)."""
    other, calls = _run_setup(tmp_path, SHIPYARD_STORE="s3://shipyard/elsewhere")
    assert other.returncode != 0 and "policy.json does not grant s3://shipyard/elsewhere/*" in other.stderr
    assert calls == [], "nothing is created before the checks pass"
    same, calls = _run_setup(tmp_path, SHIPYARD_ACCESS_KEY="root-user")
    assert same.returncode != 0 and "root user's key" in same.stderr
    assert calls == []
