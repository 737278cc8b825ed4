"""`compile --kubernetes-manifests`: KFP's Pipeline / PipelineVersion resources, content-named, schema-valid.

The resources are checked against JSON schemas written from KFP 2.17.0's CRDs (kfp_crd_schemas.py says
what that does and does not cover); `kubectl kustomize` renders the kustomization offline when kubectl
is installed. No KFP API server or webhook runs here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from shipyard.adapters.kfp_compile import (
    PIPELINE_WAVE,
    SYNC_WAVE,
    VERSION_WAVE,
    compile_kubernetes_manifests,
)
from shipyard.pipeline_ir import parse_pipeline_ir
from tests.adapters.kfp_crd_schemas import SCHEMAS


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("k8s")
    return out, compile_kubernetes_manifests(out)


def _load(path: Path) -> list[dict]:
    return list(yaml.safe_load_all(path.read_text()))


def test_every_resource_validates_against_the_kfp_crd_schema(written):
    out, manifests = written
    kinds = []
    for path in sorted(out.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in _load(path):
            jsonschema.validate(doc, SCHEMAS[doc["kind"]])
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["Pipeline"] * 3 + ["PipelineVersion"] * 3


def test_the_schema_rejects_what_kfp_would_prune_or_refuse(written):
    """The schemas can fail: an unknown field, an invalid name, a version without its IR."""
    _, manifests = written
    version = _load(manifests["training"].version_path)[0]
    for broken in (
        {**version, "spec": {**version["spec"], "pipelineSpecs": {}}},
        {**version, "metadata": {**version["metadata"], "name": "Shipyard_Training"}},
        {**version, "spec": {k: v for k, v in version["spec"].items() if k != "pipelineSpec"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMAS["PipelineVersion"])


def test_versions_point_at_their_pipeline_and_carry_the_ir(written):
    _, manifests = written
    for name, m in manifests.items():
        pipeline = _load(m.pipeline_path)[0]
        version = _load(m.version_path)[0]
        assert pipeline["metadata"]["name"] == m.pipeline_name == f"shipyard-{name}"
        assert version["spec"]["pipelineName"] == m.pipeline_name
        assert version["metadata"]["name"] == m.version_name
        assert m.version_name.startswith(m.pipeline_name + "-")
        assert version["metadata"]["namespace"] == pipeline["metadata"]["namespace"] == "kubeflow"
        spec = version["spec"]["pipelineSpec"]
        assert spec["pipelineInfo"]["name"] == m.pipeline_name
        executors = spec["deploymentSpec"]["executors"]
        assert all("resourceMemoryLimit" in e["container"]["resources"] for e in executors.values())
        assert "secretAsEnv" in str(version["spec"]["platformSpec"]), "the store credentials come along"


def test_pipelines_are_applied_before_their_versions(written):
    out, manifests = written
    for m in manifests.values():
        pipeline_wave = _load(m.pipeline_path)[0]["metadata"]["annotations"][SYNC_WAVE]
        version_wave = _load(m.version_path)[0]["metadata"]["annotations"][SYNC_WAVE]
        assert int(pipeline_wave) < int(version_wave)
        assert (pipeline_wave, version_wave) == (PIPELINE_WAVE, VERSION_WAVE)
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    count = len(manifests)
    assert all(r.endswith(".pipeline.yaml") for r in resources[:count])
    assert all(r.endswith(".version.yaml") for r in resources[count:])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize built in)")
def test_kubectl_kustomize_renders_pipelines_first(written):
    out, _ = written
    rendered = subprocess.run(["kubectl", "kustomize", str(out)], check=True, capture_output=True, text=True).stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(rendered)]
    assert kinds == ["Pipeline"] * 3 + ["PipelineVersion"] * 3


def test_the_same_content_gives_the_same_names_and_files(written, tmp_path: Path):
    out, first = written
    second = compile_kubernetes_manifests(tmp_path)
    assert {n: m.version_name for n, m in first.items()} == {n: m.version_name for n, m in second.items()}
    for path in out.glob("*.yaml"):
        assert (tmp_path / path.name).read_text() == path.read_text(), path.name


def test_changed_content_gives_a_new_version_name_and_the_same_pipeline(written, tmp_path: Path):
    _, first = written
    settings = tmp_path / "resources.yaml"
    settings.write_text("default: {memory_limit: 1Gi}\ncomponents: {train-model: {memory_limit: 3Gi}}\n")
    changed = compile_kubernetes_manifests(tmp_path / "out", resources_file=settings)
    for name in first:
        assert changed[name].pipeline_name == first[name].pipeline_name
        assert changed[name].version_name != first[name].version_name, name


def test_the_hash_ignores_key_order_and_comments_but_not_values():
    def content_hash(text: str) -> str:  # the hash the version names come from (shared with `shipyard upload`)
        return parse_pipeline_ir("pipelineInfo: {name: p}\nroot: {}\n" + text).content_hash

    assert content_hash("# x\na: 1\nb: [1, 2]\n") == content_hash("b: [1, 2]\na: 1\n")
    assert content_hash("a: 1\n") != content_hash("a: 2\n")


def test_another_namespace_for_multi_user_installs(tmp_path: Path):
    manifests = compile_kubernetes_manifests(tmp_path, namespace="team-a")
    for m in manifests.values():
        assert _load(m.pipeline_path)[0]["metadata"]["namespace"] == "team-a"
        assert _load(m.version_path)[0]["metadata"]["namespace"] == "team-a"
