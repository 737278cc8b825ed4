"""scripts/kind-e2e.sh: everything that can be checked without Docker or a cluster.

The script itself needs docker, kind and network access to GitHub; none of that exists here. What
runs here: shellcheck; its --dry-run (the commands it would run, in order, with the pinned KFP
release and the other scripts' exact interfaces); its refusal of bad input; and that the local
kustomization it applies renders. What this does not check: that KFP, KServe or the cluster behave
as the waits expect, or that the remote manifests exist at the pinned tags.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.manifests.test_manifests import _kubectl, manifests_copy  # noqa: F401 - fixture
from tests.scripts.shellcheck import shellcheck

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kind-e2e.sh"


def pinned_kfp_version() -> str | None:
    found = re.findall(r"^# KFP_VERSION=(\S+)$", (ROOT / "kind-config.yaml").read_text(), re.MULTILINE)
    return found[0] if found else None


def dry_run(*args: str, script: Path = SCRIPT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("KFP_VERSION", "KFP_HOST", "SHIPYARD")}
    if pinned_kfp_version() is None:  # until the KFP pin lands in kind-config.yaml (kfp-defects branch)
        environment["KFP_VERSION"] = "2.17.0"
    environment.update(env)
    return subprocess.run(
        ["bash", str(script), "--dry-run", *args], capture_output=True, text=True, timeout=60, env=environment
    )


def commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_the_script_passes_shellcheck():
    result = shellcheck(SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dry_run_prints_every_step_in_order_and_runs_nothing():
    result = dry_run()
    assert result.returncode == 0, result.stderr
    version = pinned_kfp_version() or "2.17.0"
    expected = [
        "kind create cluster --config kind-config.yaml",
        f"kubectl apply -k github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources\\?ref={version}",
        "kubectl wait --for condition=established",
        f"kubectl apply -k github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic\\?ref={version}",
        "kubectl -n kubeflow wait --for=condition=Available deployment --all",
        "write manifests/components/object-store/s3-credentials.env from secret kubeflow/mlpipeline-minio-artifact",
        "kubectl apply -k manifests/overlays/kind",
        "scripts/build-image.sh --kind-load shipyard",
        "wait for the KFP API (http://localhost:8080/apis/v2beta1/healthz",
        ".venv/bin/shipyard upload training --host http://localhost:8080",
        ".venv/bin/shipyard upload monitoring --host http://localhost:8080",
        ".venv/bin/shipyard data demo --out",
        "copy .shipyard/kind-e2e/churn.csv to s3://mlpipeline/shipyard/kind-e2e/churn.csv",
        "timeout 1800 .venv/bin/shipyard submit training --host http://localhost:8080 --wait --param data_uri=s3://",
        ".venv/bin/shipyard schedule apply schedules/training.yaml --host http://localhost:8080",
        ".venv/bin/shipyard schedule apply schedules/monitoring.yaml --host http://localhost:8080",
    ]
    printed = commands(result.stdout)
    position = 0
    for want in expected:
        matches = [i for i, line in enumerate(printed) if line.startswith(want)]
        assert matches, f"the dry run never prints '{want}':\n{result.stdout}"
        assert matches[0] >= position, f"'{want}' comes too early:\n{result.stdout}"
        position = matches[0]
    assert not any("kserve" in line for line in printed), "KServe only with --with-kserve"
    assert not any(line.startswith("kind delete") for line in printed), "the cluster is kept unless --delete"


def test_kserve_and_settings_come_from_options_and_the_environment():
    result = dry_run("--with-kserve", "--delete", KFP_HOST="http://kfp.example:8888", KSERVE_VERSION="0.21.0")
    assert result.returncode == 0, result.stderr
    printed = commands(result.stdout)
    assert any("cert-manager" in line for line in printed)
    kserve = [line for line in printed if "kserve/releases/download/v0.21.0/kserve.yaml" in line]
    assert kserve and kserve[0].startswith("kubectl apply --server-side")
    assert any(line.startswith("kubectl -n kserve wait") for line in printed)
    assert ".venv/bin/shipyard upload training --host http://kfp.example:8888" in printed
    assert printed[-1] == "kind delete cluster --name shipyard"


def test_k8s_native_mode_applies_the_compiled_kubernetes_resources_instead_of_uploading():
    result = dry_run("--k8s-native", "--with-kserve")
    assert result.returncode == 0, result.stderr
    printed = commands(result.stdout)
    version = pinned_kfp_version() or "2.17.0"
    cert_manager = [i for i, line in enumerate(printed) if "cert-manager/releases/download" in line]
    assert len(cert_manager) == 1, "cert-manager once, for KFP's webhooks and KServe alike"
    native = printed.index(
        f"kubectl apply -k github.com/kubeflow/pipelines/manifests/kustomize/env/cert-manager/"
        f"platform-agnostic-k8s-native\\?ref={version}"
    )
    assert cert_manager[0] < native
    compile_at = printed.index(".venv/bin/shipyard compile --kubernetes-manifests --out .shipyard/kind-e2e/compiled")
    assert printed[compile_at + 1] == "kubectl apply -k .shipyard/kind-e2e/compiled/kubernetes"
    assert not any(" upload " in line for line in printed)
    assert any(line.startswith("timeout 1800 .venv/bin/shipyard submit training") for line in printed)


def test_kserve_defaults_to_the_pinned_kserve_package():
    pinned = re.search(r"^kserve==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE)[1]
    printed = commands(dry_run("--with-kserve").stdout)
    assert any(f"/v{pinned}/kserve.yaml" in line for line in printed)


def test_the_cluster_name_is_kind_configs():
    name = yaml.safe_load((ROOT / "kind-config.yaml").read_text())["name"]
    assert re.search(r"^cluster=(\S+)$", SCRIPT.read_text(), re.MULTILINE)[1] == name


def test_bad_arguments_and_a_missing_kfp_pin_stop_with_a_message(tmp_path: Path):
    result = dry_run("--frobnicate")
    assert result.returncode == 2 and "unknown argument '--frobnicate'" in result.stderr

    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / SCRIPT.name)
    shutil.copy(ROOT / "constraints.txt", tmp_path / "constraints.txt")
    unpinned = re.sub(r"^# KFP_VERSION=.*\n", "", (ROOT / "kind-config.yaml").read_text(), flags=re.MULTILINE)
    (tmp_path / "kind-config.yaml").write_text(unpinned)
    environment = {k: v for k, v in os.environ.items() if k != "KFP_VERSION"}
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / SCRIPT.name), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 2
    assert "no KFP release" in result.stderr


def test_the_local_kustomizations_it_applies_render(manifests_copy: Path):  # noqa: F811 - fixture
    local = [
        line.split("kubectl apply -k ", 1)[1]
        for line in commands(dry_run().stdout)
        if line.startswith("kubectl apply -k manifests/")
    ]
    assert local == ["manifests/overlays/kind"]
    with_kserve = [
        line for line in commands(dry_run("--with-kserve").stdout) if line.startswith("kubectl apply -k manifests/")
    ]
    assert with_kserve == ["kubectl apply -k manifests/overlays/kind-kserve"]  # the KServe variant
    for path in local:
        target = manifests_copy.parent / path
        result = subprocess.run([_kubectl(), "kustomize", str(target)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc}
        assert {"ConfigMap", "Secret", "ServiceAccount"} <= kinds


def test_build_image_takes_the_kind_load_interface_once_merged():
    """scripts/build-image.sh is written on the kfp-defects branch; this checks the call once both are merged."""
    script = ROOT / "scripts" / "build-image.sh"
    if not script.exists():
        pytest.skip("scripts/build-image.sh is not on this branch yet")
    result = subprocess.run(
        ["bash", str(script), "--dry-run", "--kind-load", "shipyard"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("kind load docker-image") and "shipyard" in line for line in commands(result.stdout))


@pytest.mark.parametrize("name", ["training", "monitoring"])
def test_the_schedules_it_applies_exist_once_merged(name: str):
    """schedules/ is written on the kfp-schedule branch; this checks the files the script names once merged."""
    path = ROOT / "schedules" / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not on this branch yet")
    assert yaml.safe_load(path.read_text())["schedules"]
