"""Validation of KServe objects against the trimmed schemas in tests/manifests/schemas/.

The schemas were cut from KServe v0.20.0's CRDs (config/crd/full/serving.kserve.io_*.yaml) by
schemas/trim_kserve_crds.py: only the fields shipyard uses, every other field refused.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parent / "schemas"
KSERVE_VERSION = "v0.20.0"
_FILES = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice.v1beta1.json",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "servingruntime.v1alpha1.json",
}


def is_kserve(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith("serving.kserve.io/")


@cache
def schema_for(api_version: str, kind: str) -> dict[str, Any]:
    name = _FILES.get((api_version, kind))
    if name is None:
        raise AssertionError(f"no trimmed KServe schema for {api_version} {kind}; add it to trim_kserve_crds.py")
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return schema


def kserve_problems(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of ``obj`` as ``path: message`` (empty: valid)."""
    schema = schema_for(obj["apiVersion"], obj["kind"])
    validator = jsonschema.Draft7Validator(schema)
    return sorted(
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(obj)
    )
