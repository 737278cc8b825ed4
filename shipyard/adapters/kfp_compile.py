"""Compiling shipyard's pipelines to KFP IR YAML (the only module that calls the kfp compiler)."""

from __future__ import annotations

from pathlib import Path


def compile_pipeline(name: str, out_path: Path) -> Path:
    from kfp import compiler

    from shipyard.pipelines import pipelines

    out_path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipelines()[name], str(out_path))
    return out_path


def compile_all(out_dir: Path) -> dict[str, Path]:
    """Writes ``<out_dir>/<name>.yaml`` for every pipeline; returns name → path."""
    from shipyard.pipelines import pipelines

    return {name: compile_pipeline(name, Path(out_dir) / f"{name}.yaml") for name in pipelines()}
