"""Compiled pipelines give shipyard's steps SHIPYARD_S3_* variables, never AWS_* (issue 9, defect 5).

KFP's launcher runs in the same container as every step and opens an ``s3://`` pipeline root with
credentials from the pod's ``AWS_*`` environment when no provider config says otherwise
(kubeflow/pipelines ``backend/src/v2/config/s3.go``). A step that got shipyard's store credentials
as ``AWS_*`` would make KFP read and write its own artifacts with them, against shipyard's
endpoint. This reads the committed IR YAML (tests/pipelines/test_compiled_golden.py keeps it equal
to a fresh compile) and checks every executor's env mappings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.store.s3 import s3_settings_from_env

COMPILED = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"
PIPELINES = sorted(p.stem for p in COMPILED.glob("*.yaml"))


def _env_mappings(name: str) -> dict[str, dict[str, str]]:
    """executor -> {env var: 'Secret/ConfigMap name:key'} from the pipeline's Kubernetes platform spec."""
    docs = [d for d in yaml.safe_load_all((COMPILED / f"{name}.yaml").read_text(encoding="utf-8")) if d]
    platform = next(d for d in docs if "platforms" in d)
    out: dict[str, dict[str, str]] = {}
    for executor, spec in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items():
        env: dict[str, str] = {}
        for source in spec.get("secretAsEnv", []):
            for m in source["keyToEnv"]:
                env[m["envVar"]] = f"Secret/{source['secretName']}:{m['secretKey']}"
        for source in spec.get("configMapAsEnv", []):
            for m in source["keyToEnv"]:
                env[m["envVar"]] = f"ConfigMap/{source['configMapName']}:{m['configMapKey']}"
        out[executor] = env
    return out


def test_both_pipelines_are_compiled():
    assert {"training", "monitoring"} <= set(PIPELINES)


@pytest.mark.parametrize("name", PIPELINES)
def test_no_step_gets_an_aws_variable(name: str):
    mappings = _env_mappings(name)
    assert any(mappings.values()), f"{name}: no step maps any env at all"
    leaked = {(executor, var) for executor, env in mappings.items() for var in env if var.startswith("AWS_")}
    assert not leaked, f"{name}: these would take over KFP's own artifact I/O: {sorted(leaked)}"


@pytest.mark.parametrize("name", PIPELINES)
def test_store_steps_get_everything_the_store_reads_under_shipyard_names(name: str):
    wanted = {
        "SHIPYARD_S3_ENDPOINT_URL",
        "SHIPYARD_S3_REGION",
        "SHIPYARD_S3_ACCESS_KEY_ID",
        "SHIPYARD_S3_SECRET_ACCESS_KEY",
        "SHIPYARD_S3_SSE",
        "SHIPYARD_S3_SSE_KMS_KEY_ID",
        "SHIPYARD_STORE",
    }
    store_steps = {e: env for e, env in _env_mappings(name).items() if "SHIPYARD_STORE" in env}
    assert store_steps, f"{name}: no step gets the store"
    for executor, env in store_steps.items():
        assert wanted <= set(env), f"{name}/{executor} lacks {sorted(wanted - set(env))}"
        # The Secret keeps KServe's key names (its storage initializer reads AWS_ACCESS_KEY_ID /
        # AWS_SECRET_ACCESS_KEY from the service account's Secret); only the env name changes.
        assert env["SHIPYARD_S3_ACCESS_KEY_ID"].endswith(":AWS_ACCESS_KEY_ID")
        assert env["SHIPYARD_S3_SECRET_ACCESS_KEY"].endswith(":AWS_SECRET_ACCESS_KEY")


def test_the_store_reads_what_the_steps_get():
    """The names the pipeline sets are the names shipyard.store.s3 reads (no AWS_* in the pod)."""
    pod_env = {
        "SHIPYARD_S3_ENDPOINT_URL": "http://seaweedfs.kubeflow:9000",
        "SHIPYARD_S3_REGION": "us-east-1",
        "SHIPYARD_S3_ACCESS_KEY_ID": "id",
        "SHIPYARD_S3_SECRET_ACCESS_KEY": "secret",
        "SHIPYARD_S3_SSE": "",
        "SHIPYARD_S3_SSE_KMS_KEY_ID": "",
    }
    settings = s3_settings_from_env(pod_env)
    assert settings.endpoint_url == "http://seaweedfs.kubeflow:9000"
    assert (settings.access_key, settings.secret_key) == ("id", "secret")
