"""Options shared by the commands that talk to a Kubeflow Pipelines server (upload, submit, runs, schedule)
and by those that compile a pipeline (compile, upload, submit)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shipyard.cli._common import fail

if TYPE_CHECKING:
    from shipyard.adapters.kfp_client import KfpConnection
    from shipyard.pipeline_ir import PipelineIR

AUTH_HELP = (
    "How to authenticate: auto (SHIPYARD_KFP_TOKEN as a bearer token if set, else KFP's projected "
    "service-account token if mounted, else nothing), kubeconfig (the bearer token of the kubeconfig "
    "context), serviceaccount, none. Env: SHIPYARD_KFP_AUTH."
)


def server_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--host``, ``--namespace``, ``--auth``, ``--kube-context`` (each with an env fallback)."""
    options = [
        click.option(
            "--host",
            required=True,
            envvar="SHIPYARD_KFP_HOST",
            metavar="URL",
            help="KFP API endpoint, e.g. http://127.0.0.1:8080 after `kubectl port-forward -n kubeflow "
            "svc/ml-pipeline-ui 8080:80`. Env: SHIPYARD_KFP_HOST.",
        ),
        click.option(
            "--namespace",
            envvar="SHIPYARD_KFP_NAMESPACE",
            default=None,
            help="Profile namespace on a multi-user install (omit on a standalone one). Env: SHIPYARD_KFP_NAMESPACE.",
        ),
        click.option(
            "--auth",
            type=click.Choice(["auto", "none", "kubeconfig", "serviceaccount"]),
            default="auto",
            show_default=True,
            envvar="SHIPYARD_KFP_AUTH",
            help=AUTH_HELP,
        ),
        click.option(
            "--kube-context", default=None, help="kubeconfig context for --auth kubeconfig (default: current)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


RESOURCES_HELP = (
    "YAML of CPU/memory requests and limits, node selectors and tolerations per step, merged over "
    "the built-in table (shipyard/defaults/resources.yaml)."
)


def resources_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--resources FILE`` (as ``resources_file``): the per-step resources a pipeline is compiled with."""
    return click.option(
        "--resources",
        "resources_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=RESOURCES_HELP,
    )(func)


def connect(host: str, namespace: str | None, auth: str, kube_context: str | None) -> KfpConnection:
    from shipyard.adapters.kfp_client import KfpConnection

    return KfpConnection(host, namespace=namespace, auth=auth, kube_context=kube_context)


@contextlib.contextmanager
def compiled_pipeline(pipeline: str, resources_file: Path | None = None) -> Iterator[tuple[PipelineIR, Path]]:
    """``PIPELINE`` as a compiled IR and a file holding it: a shipyard pipeline name is compiled now
    (into a temporary directory, with ``resources_file`` as ``compile --resources`` would), anything
    else must be a compiled YAML file (and ``resources_file`` is refused: it is compiled already)."""
    from shipyard.pipeline_ir import parse_pipeline_ir
    from shipyard.pipelines import pipelines

    names = sorted(pipelines())
    path = Path(pipeline)
    if pipeline in names:
        from shipyard.adapters.kfp_compile import compile_pipeline

        with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as scratch:
            package = compile_pipeline(pipeline, Path(scratch) / f"{pipeline}.yaml", resources_file=resources_file)
            yield parse_pipeline_ir(package.read_text(encoding="utf-8"), f"pipeline '{pipeline}'"), package
        return
    if not path.is_file():
        fail(f"no pipeline '{pipeline}': pass one of {', '.join(names)} or a compiled pipeline YAML file")
    if resources_file is not None:
        fail(
            f"--resources applies when shipyard compiles a pipeline ({', '.join(names)}); '{path}' is compiled "
            f"already: pass the pipeline name, or compile it with `shipyard compile --resources {resources_file}`"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"'{path}' is not UTF-8 text: pass a compiled pipeline YAML file")
    yield parse_pipeline_ir(text, f"'{path}'"), path
