"""The example schedules in schedules/ are valid and fit the pipelines they name.

Checked against the golden compiled YAML: each parameter is one the pipeline declares, with a
value of its type, and every parameter without a default is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.schedules import load_schedules

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "schedules").glob("*.yaml"))
PYTHON_TYPES = {"STRING": str, "BOOLEAN": bool, "NUMBER_INTEGER": int, "NUMBER_DOUBLE": (int, float)}


def compiled_pipelines() -> dict[str, dict[str, Any]]:
    """Pipeline name → its root input parameters, from pipelines/compiled/*.yaml."""
    found = {}
    for path in (ROOT / "pipelines" / "compiled").glob("*.yaml"):
        spec = next(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        found[spec["pipelineInfo"]["name"]] = spec["root"]["inputDefinitions"]["parameters"]
    return found


def test_there_are_examples_for_training_and_monitoring() -> None:
    pipelines = {schedule.pipeline for path in EXAMPLES for schedule in load_schedules(path)}
    assert pipelines == {"shipyard-training", "shipyard-monitoring"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_fits_its_pipeline(path: Path) -> None:
    pipelines = compiled_pipelines()
    for schedule in load_schedules(path):
        assert schedule.pipeline in pipelines, schedule.name
        declared = pipelines[schedule.pipeline]
        assert set(schedule.parameters) <= set(declared), schedule.name
        required = {name for name, spec in declared.items() if not spec.get("isOptional")}
        assert required <= set(schedule.parameters), schedule.name
        for name, value in schedule.parameters.items():
            assert isinstance(value, PYTHON_TYPES[declared[name]["parameterType"]]), (schedule.name, name)
