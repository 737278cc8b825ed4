"""Writes the trimmed KServe schemas beside this file from KServe's own CRDs.

Only the fields shipyard writes or reads are kept (``KEEP``); every object on a kept path gets
``additionalProperties: false``, so a manifest or body using a field outside that list (or a
misspelt one) fails validation instead of being pruned silently by the API server. Subtrees
named in ``KEEP`` are copied whole from the CRD.

    git -C KSERVE show v0.20.0:config/crd/full/serving.kserve.io_inferenceservices.yaml > isvc.yaml
    git -C KSERVE show v0.20.0:config/crd/full/serving.kserve.io_servingruntimes.yaml > sr.yaml
    python tests/manifests/schemas/trim_kserve_crds.py v0.20.0 isvc.yaml sr.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

KEEP = {
    ("InferenceService", "v1beta1"): [
        "apiVersion",
        "kind",
        "metadata",
        "spec.predictor.serviceAccountName",
        "spec.predictor.minReplicas",
        "spec.predictor.model.runtime",
        "spec.predictor.model.modelFormat",
        "spec.predictor.model.protocolVersion",
        "spec.predictor.model.storageUri",
        # SHIPYARD_TRAFFIC_LOG per alias (shipyard/stages/inferenceservice.py): staging traffic is not logged.
        "spec.predictor.model.env",
        "status.conditions",
        "status.url",
        "status.address",
        "status.observedGeneration",
        "status.components",
    ],
    ("ServingRuntime", "v1alpha1"): [
        "apiVersion",
        "kind",
        "metadata",
        "spec.supportedModelFormats",
        "spec.protocolVersions",
        "spec.multiModel",
        "spec.annotations",
        "spec.containers.name",
        "spec.containers.image",
        "spec.containers.args",
        "spec.containers.env",
        "spec.containers.ports",
        "spec.containers.resources",
        "spec.containers.readinessProbe",
        "spec.containers.securityContext",
        # A writable emptyDir at /tmp under a read-only root filesystem (tests/manifests/test_hardening.py).
        "spec.containers.volumeMounts",
        "spec.volumes",
    ],
}


def _object(schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema at this level (through ``items`` for an array)."""
    return schema["items"] if schema.get("type") == "array" else schema


def trim(schema: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    out = {k: v for k, v in schema.items() if k not in ("properties", "required")}
    out["properties"], out["additionalProperties"] = {}, False
    for path in paths:
        source, target = schema, out
        steps = path.split(".")
        for i, step in enumerate(steps):
            source_obj, target_obj = _object(source), _object(target)
            child = source_obj["properties"][step]  # KeyError: the CRD has no such field
            if i == len(steps) - 1:
                target_obj["properties"][step] = child
            elif step not in target_obj["properties"]:
                skeleton = {k: v for k, v in child.items() if k not in ("properties", "items", "required")}
                if child.get("type") == "array":
                    item = child["items"]
                    skeleton["items"] = {k: v for k, v in item.items() if k not in ("properties", "required")}
                    skeleton["items"].update(properties={}, additionalProperties=False)
                    if "required" in item:
                        skeleton["items"]["required"] = item["required"]
                else:
                    skeleton.update(properties={}, additionalProperties=False)
                    if "required" in child:
                        skeleton["required"] = child["required"]
                target_obj["properties"][step] = skeleton
            source, target = child, target_obj["properties"][step]
    if "required" in schema:
        out["required"] = schema["required"]
    return out


def main(version: str, *crd_files: str) -> None:
    for crd_file in crd_files:
        crd = yaml.safe_load(Path(crd_file).read_text(encoding="utf-8"))
        kind = crd["spec"]["names"]["kind"]
        for served in crd["spec"]["versions"]:
            paths = KEEP.get((kind, served["name"]))
            if paths is None:
                continue
            schema = trim(served["schema"]["openAPIV3Schema"], paths)
            schema = {
                "$comment": (
                    f"Trimmed from KServe {version} config/crd/full/{Path(crd_file).name} "
                    f"({kind} {served['name']}) by trim_kserve_crds.py: only the fields shipyard uses."
                ),
                **schema,
            }
            target = HERE / f"{kind.lower()}.{served['name']}.json"
            target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {target.name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
