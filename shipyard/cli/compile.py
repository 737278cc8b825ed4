"""`shipyard compile`: the IR YAML of every pipeline, and optionally KFP's Kubernetes resources."""

from __future__ import annotations

from pathlib import Path

import click

from shipyard.cli._common import emit_json, json_option, reports_errors
from shipyard.cli._kfp import resources_option


@click.command("compile")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("compiled"),
    show_default=True,
    help="Directory for one IR YAML per pipeline.",
)
@resources_option
@click.option(
    "--kubernetes-manifests",
    "kubernetes_manifests",
    is_flag=True,
    help="Also write KFP's Pipeline and PipelineVersion resources and a kustomization.yaml to OUT/kubernetes/ "
    "(KFP in Kubernetes native API mode; versions are named as `shipyard upload` names them, from the IR's hash).",
)
@click.option(
    "--namespace",
    default="kubeflow",
    show_default=True,
    help="Namespace of the Pipeline and PipelineVersion resources (KFP's own, or a profile's when multi-user).",
)
@json_option
@reports_errors
def compile_command(
    out_dir: Path, resources_file: Path | None, kubernetes_manifests: bool, namespace: str, as_json: bool
) -> None:
    """Compile every pipeline to KFP IR YAML (upload it in the Kubeflow UI or with `kfp`).

    Every step runs the image $SHIPYARD_IMAGE, default ghcr.io/shipyard-mlops/shipyard:<version>
    (build it with scripts/build-image.sh), with CPU/memory requests and limits from the built-in
    table or --resources. With --kubernetes-manifests, OUT/kubernetes/ holds what a GitOps tool
    (Argo CD, Flux, `kubectl apply -k`) applies: one Pipeline and one content-named
    PipelineVersion per pipeline; the same code and settings give the same names.

    \b
    Examples:
      shipyard compile --out compiled/ && ls compiled/
      shipyard compile --resources resources.yaml --out compiled/
      SHIPYARD_IMAGE=registry.example.com/ml/shipyard:dev shipyard compile --out compiled/
      shipyard compile --kubernetes-manifests --out compiled/ && kubectl apply -k compiled/kubernetes
    """
    from shipyard.adapters.kfp_compile import compile_all, compile_kubernetes_manifests

    written = compile_all(out_dir, resources_file=resources_file)
    manifests = (
        compile_kubernetes_manifests(out_dir / "kubernetes", namespace=namespace, resources_file=resources_file)
        if kubernetes_manifests
        else {}
    )
    if as_json:
        payload: dict[str, object] = {"pipelines": {name: str(path) for name, path in written.items()}}
        if manifests:
            payload["kubernetes"] = {
                name: {
                    "pipeline": m.pipeline_name,
                    "version": m.version_name,
                    "pipeline_file": str(m.pipeline_path),
                    "version_file": str(m.version_path),
                }
                for name, m in manifests.items()
            }
        emit_json(payload)
        return
    for name, path in written.items():
        click.echo(f"{name}: {path}")
    for name, m in manifests.items():
        click.echo(f"{name}: Pipeline {m.pipeline_name}, PipelineVersion {m.version_name} in {m.version_path.parent}")
