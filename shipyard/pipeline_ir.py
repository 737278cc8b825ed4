"""What shipyard needs to know about a compiled pipeline (KFP IR YAML) before talking to a server.

Pure: reads the YAML text, never imports kfp. Names a pipeline version from its content, so uploading
the same IR twice finds the version already there, and types ``--param name=value`` strings from the
pipeline's declared inputs, so a typo or a wrong type is refused before any request is sent.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from shipyard.errors import ShipyardError

# KFP IR parameter types (pipeline_spec.proto ParameterType) and what a value of each looks like.
PARAMETER_TYPES = ("STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST", "STRUCT")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
VERSION_HASH_LENGTH = 12
#: The version name that means "the pipeline's newest version" (submit --version, a schedule's version).
LATEST = "latest"
MAX_VERSION_NAME = 127  # KFP's pipeline_versions.Name column (backend/src/apiserver/validation/length.go)


class PipelineSpecError(ShipyardError):
    """The file is not a compiled KFP pipeline shipyard can read."""


class ParameterError(ShipyardError):
    """A ``--param`` names no input of the pipeline, or its value does not fit the input's type."""


@dataclass(frozen=True)
class PipelineInput:
    """One declared pipeline parameter: its IR type and whether a run must supply it."""

    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class PipelineIR:
    """A compiled pipeline: its KFP name, its YAML documents (pipeline spec, then any platform spec)."""

    name: str
    description: str
    documents: tuple[dict[str, Any], ...]
    inputs: tuple[PipelineInput, ...]

    @property
    def content_hash(self) -> str:
        """sha256 of the documents as canonical JSON: YAML layout and key order do not change it."""
        canonical = json.dumps(list(self.documents), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def version_name(self) -> str:
        """The pipeline version name for this content: ``<pipeline>-<first 12 hex digits of content_hash>``."""
        return content_version_name(self.name, self.content_hash)

    def input_named(self, name: str) -> PipelineInput | None:
        return next((item for item in self.inputs if item.name == name), None)


def content_version_name(pipeline_name: str, content_hash: str) -> str:
    """``shipyard-training-0a1b2c3d4e5f``: versions of one pipeline differ exactly when their IR differs.

    The pipeline part is shortened so the name fits KFP's 127-character version-name column.
    """
    suffix = f"-{content_hash[:VERSION_HASH_LENGTH]}"
    return pipeline_name[: MAX_VERSION_NAME - len(suffix)] + suffix


def parse_pipeline_ir(text: str, source: str = "pipeline") -> PipelineIR:
    """The compiled pipeline in ``text`` (KFP IR YAML, optionally followed by a platform-spec document).

    Raises:
        PipelineSpecError: not YAML, or no ``pipelineInfo.name`` / ``root`` in the first document.
    """
    try:
        documents = tuple(doc for doc in yaml.safe_load_all(text) if doc is not None)
    except yaml.YAMLError as exc:
        raise PipelineSpecError(f"{source} is not YAML: {exc}") from None
    if not documents or not isinstance(documents[0], dict):
        raise PipelineSpecError(f"{source} is not a compiled KFP pipeline (no YAML mapping)")
    spec = documents[0]
    info = spec.get("pipelineInfo")
    if not isinstance(info, dict) or not info.get("name") or not isinstance(spec.get("root"), dict):
        raise PipelineSpecError(
            f"{source} is not a compiled KFP pipeline (no pipelineInfo.name or root); "
            "compile it with `shipyard compile` or pass a pipeline name"
        )
    if not all(isinstance(doc, dict) for doc in documents):
        raise PipelineSpecError(f"{source}: every YAML document must be a mapping")
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {}) or {}
    inputs = tuple(
        PipelineInput(
            name=name,
            type=str(definition.get("parameterType", "STRING")),
            required=not definition.get("isOptional", False) and "defaultValue" not in definition,
            default=definition.get("defaultValue"),
            description=str(definition.get("description", "")),
        )
        for name, definition in sorted(declared.items())
    )
    return PipelineIR(
        name=str(info["name"]),
        description=str(info.get("description", "")),
        documents=documents,
        inputs=inputs,
    )


def typed_parameters(pipeline: PipelineIR, assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["n=3", "flag=true"]`` → ``{"n": 3, "flag": True}``, each typed from the pipeline's declared input.

    Raises:
        ParameterError: a malformed assignment, an unknown or repeated name, a value that does not fit
            its type, or a required input left out — all listed at once.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    known = ", ".join(item.name for item in pipeline.inputs) or "(none)"
    for assignment in assignments:
        name, separator, raw = assignment.partition("=")
        name = name.strip()
        if not separator or not name:
            problems.append(f"--param {assignment!r} is not NAME=VALUE")
            continue
        declared = pipeline.input_named(name)
        if declared is None:
            problems.append(f"pipeline '{pipeline.name}' has no parameter '{name}' (its parameters: {known})")
            continue
        if name in values:
            problems.append(f"parameter '{name}' is given twice")
            continue
        try:
            values[name] = parse_value(raw, declared.type)
        except ValueError as exc:
            problems.append(f"parameter '{name}': {exc}")
    missing = [item.name for item in pipeline.inputs if item.required and item.name not in values]
    if missing:
        flags = " ".join(f"--param {name}=..." for name in missing)
        problems.append(f"pipeline '{pipeline.name}' needs {', '.join(missing)}: pass {flags}")
    if problems:
        raise ParameterError("; ".join(problems))
    return values


# Python types a JSON/YAML value may have for each IR parameter type (a bool is not a number here).
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,),
    "BOOLEAN": (bool,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "LIST": (list,),
    "STRUCT": (dict,),
}


def parameter_problems(pipeline: PipelineIR, values: Mapping[str, Any]) -> list[str]:
    """What is wrong with already-typed ``values`` (e.g. from a YAML file) for the pipeline's inputs.

    Unknown names, required inputs left out and values of the wrong type are each named; ``[]`` when
    nothing is. (:func:`typed_parameters` is the same check for ``NAME=VALUE`` strings.)
    """
    known = ", ".join(item.name for item in pipeline.inputs) or "none"
    problems = [
        f"pipeline '{pipeline.name}' has no parameter '{name}' (it has: {known})"
        for name in sorted(set(values) - {item.name for item in pipeline.inputs})
    ]
    for item in pipeline.inputs:
        if item.name not in values:
            if item.required:
                problems.append(f"'{item.name}' is required by pipeline '{pipeline.name}'")
            continue
        allowed = _VALUE_TYPES.get(item.type)
        value = values[item.name]
        if allowed is not None and (
            not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
        ):
            problems.append(f"'{item.name}' must be {item.type.lower()}, got {value!r}")
    return problems


def parse_value(raw: str, parameter_type: str) -> Any:
    """One command-line value as the JSON value KFP expects for ``parameter_type``.

    Raises:
        ValueError: the text does not fit the type (the message says what would).
    """
    if parameter_type == "STRING":
        return raw
    if parameter_type == "NUMBER_INTEGER":
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if parameter_type == "NUMBER_DOUBLE":
        try:
            number = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return number
    if parameter_type == "BOOLEAN":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if parameter_type in ("LIST", "STRUCT"):
        expected: type = list if parameter_type == "LIST" else dict
        try:
            value = json.loads(raw)
        except ValueError:
            raise ValueError(f"expected a JSON {'list' if expected is list else 'object'}, got {raw!r}") from None
        if not isinstance(value, expected):
            raise ValueError(f"expected a JSON {'list' if expected is list else 'object'}, got {raw!r}")
        return value
    raise ValueError(f"parameter type {parameter_type} is not one shipyard can pass ({', '.join(PARAMETER_TYPES)})")
