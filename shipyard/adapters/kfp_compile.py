"""Compiling shipyard's pipelines to KFP IR YAML and to KFP's Kubernetes resources.

The only module that calls the kfp compiler. Two outputs:

- ``<name>.yaml``: the IR, for the KFP UI, ``kfp`` or ``shipyard upload``;
- with ``kubernetes_manifests``, ``kubernetes/``: KFP's Kubernetes-native ``Pipeline`` and
  ``PipelineVersion`` resources (``pipelines.kubeflow.org/v2beta1``) and a ``kustomization.yaml``,
  for clusters whose KFP runs in Kubernetes native API mode and a GitOps tool that applies them.

A PipelineVersion's spec is immutable, so its name ends in a hash of the IR it carries: the same
code and settings give the same name (re-applying is a no-op), any change a new version. The name is
:attr:`shipyard.pipeline_ir.PipelineIR.version_name`, the one ``shipyard upload`` gives the same IR. KFP's
validating webhook rejects a PipelineVersion whose ``spec.pipelineName`` names no existing
Pipeline (``backend/src/apiserver/webhook/pipelineversion_webhook.go``, KFP 2.17.0), so the
Pipelines go first: an Argo CD sync wave earlier than the versions', and first in the
kustomization's output order for ``kubectl apply -k``.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shipyard.adapters.kfp_resources import ResourceTable, load_resources, using_resources
from shipyard.pipeline_ir import parse_pipeline_ir

KFP_API_VERSION = "pipelines.kubeflow.org/v2beta1"
#: Argo CD applies lower waves first and waits for them to be healthy.
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
PIPELINE_WAVE = "-1"
VERSION_WAVE = "0"
#: Old versions stay when Git no longer lists them: runs and recurring runs may still pin them.
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


@dataclass(frozen=True)
class KubernetesManifests:
    """What ``compile --kubernetes-manifests`` wrote for one pipeline."""

    pipeline_name: str
    version_name: str
    pipeline_path: Path
    version_path: Path


def compile_pipeline(name: str, out_path: Path, *, resources_file: Path | None = None) -> Path:
    """Writes the IR YAML of the pipeline called ``name`` (a key of ``shipyard.pipelines.pipelines()``)."""
    from kfp import compiler

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with _pipelines_built_with(load_resources(resources_file) if resources_file else None) as built:
        compiler.Compiler().compile(built[name], str(out_path))
    return out_path


def compile_all(out_dir: Path, *, resources_file: Path | None = None) -> dict[str, Path]:
    """Writes ``<out_dir>/<name>.yaml`` for every pipeline; returns name → path.

    ``resources_file`` is merged over ``shipyard/defaults/resources.yaml`` and compiled into every
    task's requests, limits, node selector and tolerations.
    """
    from kfp import compiler

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with _pipelines_built_with(load_resources(resources_file) if resources_file else None) as built:
        for name, pipeline in built.items():
            written[name] = out_dir / f"{name}.yaml"
            compiler.Compiler().compile(pipeline, str(written[name]))
    return written


def compile_kubernetes_manifests(
    out_dir: Path, *, namespace: str = "kubeflow", resources_file: Path | None = None
) -> dict[str, KubernetesManifests]:
    """Writes ``<out_dir>/<name>.pipeline.yaml``, ``<name>.version.yaml`` and ``kustomization.yaml``.

    Returns pipeline name → what was written. Files of earlier versions in ``out_dir`` are replaced,
    so the directory always holds exactly the current versions.
    """
    from kfp import compiler
    from kfp.compiler.compiler_utils import KubernetesManifestOptions

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, KubernetesManifests] = {}
    with (
        _pipelines_built_with(load_resources(resources_file) if resources_file else None) as built,
        tempfile.TemporaryDirectory() as scratch,
    ):
        for name, pipeline in built.items():
            ir_path = Path(scratch) / f"{name}.yaml"
            compiler.Compiler().compile(pipeline, str(ir_path))
            ir = parse_pipeline_ir(ir_path.read_text(encoding="utf-8"), f"pipeline '{name}'")
            pipeline_name, version_name = ir.name, ir.version_name  # as `shipyard upload` names them
            manifest_path = Path(scratch) / f"{name}.k8s.yaml"
            compiler.Compiler().compile(
                pipeline,
                str(manifest_path),
                kubernetes_manifest_format=True,
                kubernetes_manifest_options=KubernetesManifestOptions(
                    pipeline_name=pipeline_name,
                    pipeline_version_name=version_name,
                    namespace=namespace,
                    include_pipeline_manifest=True,
                ),
            )
            docs = list(yaml.safe_load_all(manifest_path.read_text(encoding="utf-8")))
            by_kind = {doc["kind"]: doc for doc in docs}
            _annotate(by_kind["Pipeline"], {SYNC_WAVE: PIPELINE_WAVE})
            _annotate(by_kind["PipelineVersion"], {SYNC_WAVE: VERSION_WAVE, SYNC_OPTIONS: "Prune=false"})
            pipeline_path = out_dir / f"{name}.pipeline.yaml"
            version_path = out_dir / f"{name}.version.yaml"
            _write_yaml(pipeline_path, [by_kind["Pipeline"]])
            _write_yaml(version_path, [by_kind["PipelineVersion"]])
            result[name] = KubernetesManifests(pipeline_name, version_name, pipeline_path, version_path)
    _write_kustomization(out_dir, result)
    return result


def _annotate(doc: dict[str, Any], annotations: dict[str, str]) -> None:
    doc.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)


def _write_yaml(path: Path, docs: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=True), encoding="utf-8")


def _write_kustomization(out_dir: Path, written: dict[str, KubernetesManifests]) -> None:
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # Pipelines before their versions, in this order, also for a plain `kubectl apply -k`.
        "sortOptions": {"order": "fifo"},
        "resources": [m.pipeline_path.name for m in written.values()] + [m.version_path.name for m in written.values()],
    }
    header = (
        "# Written by `shipyard compile --kubernetes-manifests`; do not edit, recompile.\n"
        "# Pipelines come first: KFP rejects a PipelineVersion whose Pipeline does not exist yet.\n"
    )
    (out_dir / "kustomization.yaml").write_text(
        header + yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8"
    )


@contextmanager
def _pipelines_built_with(table: ResourceTable | None) -> Iterator[dict[str, Any]]:
    """The pipelines, built with ``table`` as their resources (None: as imported, with the defaults).

    kfp builds a pipeline's spec when ``@dsl.pipeline`` runs, at import; for another table the
    pipeline modules are re-executed inside :func:`using_resources` (training first: monitoring
    embeds it and segments uses its helpers), then re-executed again afterwards so later
    importers see the defaults.
    """
    from shipyard.pipelines import pipelines

    if table is None:
        yield pipelines()
        return
    modules = [importlib.import_module(f"shipyard.pipelines.{m}") for m in ("training", "monitoring", "segments")]
    try:
        with using_resources(table):
            for module in modules:
                importlib.reload(module)
            yield pipelines()
    finally:
        for module in modules:
            importlib.reload(module)
