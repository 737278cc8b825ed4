"""JSON schemas of the KFP custom-resource fields shipyard writes, from KFP's CRDs at tag 2.17.0.

Written by hand from ``manifests/kustomize/base/crds/pipelines.kubeflow.org_pipelines.yaml`` and
``…_pipelineversions.yaml`` at kubeflow/pipelines tag ``2.17.0`` (commit 4a3592cb2dd0), plus the
name rule of ``backend/src/crd/kubernetes/v2beta1/pipeline_version_name.go`` (DNS-1123 subdomain).

Stricter than the CRDs on purpose: ``additionalProperties: false`` wherever the CRD lists its
fields, because the API server silently prunes unknown fields of a structural schema, so a
misspelt field would vanish instead of failing. ``pipelineSpec`` and ``platformSpec`` are
``x-kubernetes-preserve-unknown-fields`` in the CRD; here they only have to be objects with the
IR's top-level keys. What this does not check: the validating webhook's own rules (the Pipeline
must exist, the IR must parse as KFP's PipelineSpec proto), which need a running KFP.
"""

from __future__ import annotations

KFP_TAG = "2.17.0"
API_VERSION = "pipelines.kubeflow.org/v2beta1"

# metav1.ObjectMeta.name for a namespaced custom resource: a DNS-1123 subdomain.
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS1123_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}

PIPELINE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Pipeline"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "displayName": {"type": "string"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

PIPELINE_VERSION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "PipelineVersion"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["pipelineSpec"],
            "properties": {
                "codeSourceURL": {"type": "string"},
                "description": {"type": "string"},
                "displayName": {"type": "string"},
                "pipelineName": {"type": "string"},
                "pipelineSpec": {
                    "type": "object",
                    "required": ["pipelineInfo", "root", "components", "deploymentSpec", "schemaVersion"],
                },
                "pipelineSpecURI": {"type": "string"},
                "platformSpec": {"type": "object", "required": ["platforms"]},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "versionName": {"type": "string", "maxLength": 253, "pattern": r"^[a-z0-9]([a-z0-9\.\-]*[a-z0-9])?$"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

SCHEMAS = {"Pipeline": PIPELINE, "PipelineVersion": PIPELINE_VERSION}
