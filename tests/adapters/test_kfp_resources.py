"""Compute per step: the resources table, and what it compiles into (the committed IR and a fresh compile)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.adapters.kfp_compile import compile_all
from shipyard.adapters.kfp_resources import known_components, load_resources
from shipyard.errors import ConfigError
from shipyard.pipelines import pipelines
from tests.pipelines.test_compiled_golden import normalise

COMPILED = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"
_KEYS = ("resourceCpuRequest", "resourceCpuLimit", "resourceMemoryRequest", "resourceMemoryLimit")


def _docs(path: Path) -> list[dict]:
    return list(yaml.safe_load_all(path.read_text()))


def _resources(path: Path) -> dict[str, dict]:
    executors = _docs(path)[0]["deploymentSpec"]["executors"]
    return {name: executor["container"].get("resources", {}) for name, executor in executors.items()}


def _component(executor: str) -> str:
    """exec-ingest-data-2 → ingest-data (kfp numbers a component's second executor)."""
    name = executor.removeprefix("exec-")
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_every_executor_has_requests_and_limits_from_the_default_table(name: str):
    table = load_resources()
    resources = _resources(COMPILED / f"{name}.yaml")
    assert resources
    for executor, got in resources.items():
        missing = [key for key in _KEYS if key not in got]
        assert not missing, f"{executor} has no {missing}"
        want = table.for_component(_component(executor))
        assert (got["resourceCpuRequest"], got["resourceCpuLimit"]) == (want.cpu_request, want.cpu_limit), executor
        assert (got["resourceMemoryRequest"], got["resourceMemoryLimit"]) == (
            want.memory_request,
            want.memory_limit,
        ), executor


def test_the_default_table_names_only_real_components_and_sizes_the_heavy_steps_up():
    table = load_resources()
    assert set(table.components) <= known_components()
    assert table.for_component("train-model").memory_limit == "1536Mi"
    assert table.for_component("validate-data") == table.default


def test_a_resources_file_changes_what_is_compiled_and_leaves_the_defaults_for_later(tmp_path: Path):
    settings = tmp_path / "resources.yaml"
    settings.write_text(
        "default: {node_selector: {pool: ml}}\n"
        "components:\n"
        "  train-model:\n"
        "    memory_limit: 4Gi\n"
        "    tolerations: [{key: dedicated, operator: Equal, value: ml, effect: NoSchedule}]\n"
    )
    written = compile_all(tmp_path / "custom", resources_file=settings)
    for name, path in written.items():
        resources = _resources(path)
        trains = name != "segments"  # the segments pipeline trains inside deliver-segment
        assert ("exec-train-model" in resources) == trains, name
        if trains:
            train = resources["exec-train-model"]
            assert train["resourceMemoryLimit"] == "4Gi", name
            assert train["resourceMemoryRequest"] == "512Mi", "keys the file does not set keep the shipped value"
            assert resources["exec-ingest-data"]["resourceMemoryLimit"] == "768Mi"
        else:
            assert resources["exec-deliver-segment"]["resourceMemoryLimit"] == "1536Mi"
        platform = _docs(path)[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(platform) == set(resources), "every executor gets the node selector"
        for executor, config in platform.items():
            assert config["nodeSelector"] == {"labels": {"pool": "ml"}}, executor
            tolerations = config.get("tolerations", [])
            assert bool(tolerations) == (executor == "exec-train-model"), executor
        assert not trains or platform["exec-train-model"]["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
        ]
    # The pipelines imported afterwards are built with the shipped table again.
    again = compile_all(tmp_path / "again")
    assert _resources(again["training"])["exec-train-model"]["resourceMemoryLimit"] == "1536Mi"
    for name, path in again.items():
        assert normalise(path.read_text()) == normalise((COMPILED / f"{name}.yaml").read_text()), name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("components: {train_model: {cpu_limit: '2'}}", "components.train_model': no such component"),
        ("default: {cpu_limit: two}", "default.cpu_limit': 'two' is not a CPU quantity"),
        ("default: {memory_limit: 2GB}", "default.memory_limit': '2GB' is not a memory quantity"),
        ("components: {train-model: {memory_request: 8Gi}}", "components.train-model': memory_request is above"),
        ("limits: {}", "unknown resources key(s): limits"),
        ("components: {train-model: {gpu: 1}}", "unknown resources key(s) in 'components.train-model': gpu"),
        ("default: {tolerations: [{key: a, colour: b}]}", "default.tolerations[0]' must be a mapping of"),
        ("default: {node_selector: {pool: 3}}", "default.node_selector' must map label"),
        ("[1, 2]", "must be a YAML mapping"),
    ],
)
def test_a_wrong_resources_file_names_the_key(tmp_path: Path, text: str, message: str):
    settings = tmp_path / "resources.yaml"
    settings.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_resources(settings)
    assert message in str(caught.value)
