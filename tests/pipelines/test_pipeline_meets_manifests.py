"""The compiled pipeline and the manifests agree: every Secret and ConfigMap key a step maps exists.

A key mapped with use_config_map_as_env / use_secret_as_env that the object lacks keeps the pod
from starting (CreateContainerConfigError), which only shows on a cluster; here it fails a test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def render_base(tmp_path: Path) -> list[dict]:
    """The base manifests as kustomize renders them, with the example credentials file in place."""
    manifests = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", manifests)
    env_file = manifests / "components" / "object-store" / "s3-credentials.env"
    env_file.write_text((env_file.parent / "s3-credentials.env.example").read_text())
    out = subprocess.run(
        ["kubectl", "kustomize", str(manifests / "base")], check=True, capture_output=True, text=True
    ).stdout
    return [obj for obj in yaml.safe_load_all(out) if obj]


def data_keys(objects: list[dict], kind: str, name: str) -> set[str]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return set(obj.get("data", {}))
    pytest.fail(f"{kind} {name} is not in the rendered base manifests")


def test_every_mapped_key_exists_in_the_manifests(tmp_path: Path):
    from shipyard.pipelines.training import S3_CONFIG_MAP, S3_SECRET

    docs = list(yaml.safe_load_all((ROOT / "pipelines" / "compiled" / "training.yaml").read_text()))
    executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    config_keys = {
        m["configMapKey"]
        for e in executors.values()
        for c in e.get("configMapAsEnv", [])
        if c["configMapName"] == S3_CONFIG_MAP
        for m in c["keyToEnv"]
    }
    secret_keys = {
        m["secretKey"]
        for e in executors.values()
        for s in e.get("secretAsEnv", [])
        if s["secretName"] == S3_SECRET
        for m in s["keyToEnv"]
    }
    assert {"SHIPYARD_S3_ENDPOINT_URL", "SHIPYARD_STORE"} <= config_keys
    objects = render_base(tmp_path)
    assert config_keys <= data_keys(objects, "ConfigMap", S3_CONFIG_MAP)
    assert secret_keys == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert secret_keys <= data_keys(objects, "Secret", S3_SECRET)
