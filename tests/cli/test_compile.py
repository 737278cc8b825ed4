"""`shipyard compile` with --resources and --kubernetes-manifests, through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from shipyard.cli.main import main


def test_compile_writes_kubernetes_manifests_with_a_resources_file(tmp_path: Path):
    settings = tmp_path / "resources.yaml"
    settings.write_text("components: {monitor-model: {memory_limit: 2Gi}}\n")
    out = tmp_path / "compiled"
    result = CliRunner().invoke(
        main,
        ["compile", "--out", str(out), "--resources", str(settings), "--kubernetes-manifests", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["pipelines"]) == set(payload["kubernetes"]) == {"training", "monitoring", "segments"}
    version = payload["kubernetes"]["monitoring"]["version"]
    assert version.startswith("shipyard-monitoring-")
    doc = yaml.safe_load(Path(payload["kubernetes"]["monitoring"]["version_file"]).read_text())
    executors = doc["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    assert executors["exec-monitor-model"]["container"]["resources"]["resourceMemoryLimit"] == "2Gi"
    assert (out / "kubernetes" / "kustomization.yaml").exists()


def test_a_wrong_resources_file_is_one_line_naming_the_key(tmp_path: Path):
    settings = tmp_path / "resources.yaml"
    settings.write_text("components: {trainer: {cpu_limit: '2'}}\n")
    result = CliRunner().invoke(main, ["compile", "--out", str(tmp_path / "o"), "--resources", str(settings)])
    assert result.exit_code == 1
    assert "components.trainer': no such component" in result.stderr
    assert "Traceback" not in result.stderr
