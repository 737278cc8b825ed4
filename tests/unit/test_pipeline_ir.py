"""Content-named versions and typed parameters from a compiled pipeline (shipyard/pipeline_ir.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.pipeline_ir import (
    ParameterError,
    PipelineSpecError,
    content_version_name,
    parameter_problems,
    parse_pipeline_ir,
    parse_value,
    typed_parameters,
)

TYPED_YAML = """\
pipelineInfo:
  name: typed
  description: every parameter type
root:
  inputDefinitions:
    parameters:
      count: {parameterType: NUMBER_INTEGER}
      rate: {parameterType: NUMBER_DOUBLE, defaultValue: 0.5}
      flag: {parameterType: BOOLEAN, isOptional: true}
      name: {parameterType: STRING, defaultValue: x}
      items: {parameterType: LIST, isOptional: true}
      options: {parameterType: STRUCT, isOptional: true}
schemaVersion: 2.1.0
"""


@pytest.fixture
def typed():
    return parse_pipeline_ir(TYPED_YAML)


def test_inputs_are_read_with_their_types_and_whether_a_run_must_supply_them(typed):
    assert typed.name == "typed" and typed.description == "every parameter type"
    assert {item.name: (item.type, item.required) for item in typed.inputs} == {
        "count": ("NUMBER_INTEGER", True),
        "rate": ("NUMBER_DOUBLE", False),
        "flag": ("BOOLEAN", False),
        "name": ("STRING", False),
        "items": ("LIST", False),
        "options": ("STRUCT", False),
    }


def test_values_are_typed_from_the_declared_inputs(typed):
    values = typed_parameters(
        typed,
        ["count=3", "rate=1e-3", "flag=yes", "name=a=b", "items=[1, 2]", 'options={"k": "v"}'],
    )
    assert values == {"count": 3, "rate": 0.001, "flag": True, "name": "a=b", "items": [1, 2], "options": {"k": "v"}}
    assert type(values["count"]) is int and type(values["rate"]) is float


def test_unknown_names_wrong_types_and_missing_required_inputs_are_all_reported_at_once(typed):
    with pytest.raises(ParameterError) as caught:
        typed_parameters(typed, ["cuont=3", "rate=fast", "flag=maybe", "items={}", "oops"])
    message = str(caught.value)
    assert "no parameter 'cuont' (its parameters: count, flag, items, name, options, rate)" in message
    assert "parameter 'rate': expected a number, got 'fast'" in message
    assert "parameter 'flag': expected true or false, got 'maybe'" in message
    assert "parameter 'items': expected a JSON list" in message
    assert "--param 'oops' is not NAME=VALUE" in message
    assert "needs count: pass --param count=..." in message


def test_a_repeated_parameter_is_refused(typed):
    with pytest.raises(ParameterError, match="'count' is given twice"):
        typed_parameters(typed, ["count=1", "count=2"])


@pytest.mark.parametrize(
    ("raw", "kind", "problem"),
    [("1.5", "NUMBER_INTEGER", "integer"), ("nan", "NUMBER_DOUBLE", "finite"), ("[]", "STRUCT", "object")],
)
def test_values_that_do_not_fit_their_type_are_refused(raw, kind, problem):
    with pytest.raises(ValueError, match=problem):
        parse_value(raw, kind)


def test_the_version_name_follows_the_content_not_the_yaml_layout(typed):
    relaid = parse_pipeline_ir(
        "# a comment\n"
        + TYPED_YAML.replace(
            "{parameterType: STRING, defaultValue: x}", "\n        parameterType: STRING\n        defaultValue: x"
        )
    )
    assert relaid.version_name == typed.version_name
    assert typed.version_name.startswith("typed-") and len(typed.version_name) == len("typed-") + 12
    changed = parse_pipeline_ir(TYPED_YAML.replace("defaultValue: 0.5", "defaultValue: 0.25"))
    assert changed.version_name != typed.version_name
    with_platform = parse_pipeline_ir(TYPED_YAML + "---\nplatforms: {kubernetes: {}}\n")
    assert with_platform.version_name != typed.version_name


def test_the_committed_compiled_pipelines_parse_with_their_declared_inputs():
    compiled = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"
    training = parse_pipeline_ir((compiled / "training.yaml").read_text(), "training.yaml")
    assert training.name == "shipyard-training"
    assert {item.name for item in training.inputs if item.required} == {"data_uri", "target"}
    assert len(training.documents) == 2  # the pipeline spec and its kfp-kubernetes platform spec


@pytest.mark.parametrize("text", ["a: [", "just: a mapping\n", "- a list\n", ""])
def test_text_that_is_not_a_compiled_pipeline_is_refused(text):
    with pytest.raises(PipelineSpecError):
        parse_pipeline_ir(text, "file.yaml")


def test_a_version_name_fits_kfps_127_character_column_and_keeps_its_hash():
    name = content_version_name("p" * 200, "0123456789abcdef" * 4)
    assert len(name) == 127 and name.endswith("-0123456789ab")
    assert content_version_name("short", "0123456789abcdef" * 4) == "short-0123456789ab"


# Moved from tests/schedules/test_spec.py: a schedules file's parameters are checked by pipeline_ir too.
SPEC = {
    "pipelineInfo": {"name": "shipyard-monitoring"},
    "root": {
        "inputDefinitions": {
            "parameters": {
                "data_uri": {"parameterType": "STRING"},
                "model_name": {"parameterType": "STRING", "defaultValue": "model", "isOptional": True},
                "allow_retrain": {"parameterType": "BOOLEAN", "defaultValue": True, "isOptional": True},
                "rows": {"parameterType": "NUMBER_INTEGER", "isOptional": True},
            }
        }
    },
}


def spec_ir(spec: dict) -> object:
    import yaml

    return parse_pipeline_ir(yaml.safe_dump(spec), "spec")


def test_parameters_that_fit_the_pipeline_have_no_problems() -> None:
    assert parameter_problems(spec_ir(SPEC), {"data_uri": "s3://b/k", "allow_retrain": False, "rows": 3}) == []


def test_parameter_problems_name_the_parameter() -> None:
    problems = parameter_problems(spec_ir(SPEC), {"data_ur": "x", "allow_retrain": "no", "rows": True})
    assert problems == [
        "pipeline 'shipyard-monitoring' has no parameter 'data_ur' (it has: allow_retrain, data_uri, model_name, rows)",
        "'allow_retrain' must be boolean, got 'no'",
        "'data_uri' is required by pipeline 'shipyard-monitoring'",
        "'rows' must be number_integer, got True",
    ]


def test_a_pipeline_without_parameters_takes_none_and_an_unreadable_spec_is_refused() -> None:
    bare = {"pipelineInfo": {"name": "shipyard-monitoring"}, "root": {}}
    assert parameter_problems(spec_ir(bare), {"anything": 1}) == [
        "pipeline 'shipyard-monitoring' has no parameter 'anything' (it has: none)"
    ]
    with pytest.raises(PipelineSpecError, match="no pipelineInfo.name or root"):  # was silently not checked
        spec_ir({"pipelineInfo": {"name": "x"}})
