"""`shipyard compile`: the IR YAML of every pipeline."""

from __future__ import annotations

from pathlib import Path

import click

from shipyard.cli._common import emit_json, json_option, reports_errors


@click.command("compile")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("compiled"),
    show_default=True,
    help="Directory for one IR YAML per pipeline.",
)
@json_option
@reports_errors
def compile_command(out_dir: Path, as_json: bool) -> None:
    """Compile every pipeline to KFP IR YAML (upload it in the Kubeflow UI or with `kfp`).

    Every step runs the image $SHIPYARD_IMAGE, default ghcr.io/shipyard-mlops/shipyard:<version>;
    build it with scripts/build-image.sh.

    \b
    Example:
      shipyard compile --out compiled/ && ls compiled/
      SHIPYARD_IMAGE=registry.example.com/ml/shipyard:dev shipyard compile --out compiled/
    """
    from shipyard.adapters.kfp_compile import compile_all

    written = compile_all(out_dir)
    if as_json:
        emit_json({"pipelines": {name: str(path) for name, path in written.items()}})
    else:
        for name, path in written.items():
            click.echo(f"{name}: {path}")
