"""deploy: staging alias → smoke test through the model server → production alias."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def deploy_staging(model_name: str, store_uri: str, version: int, run_id: str) -> int:
    """Moves the staging alias to the new version; returns the version it held before (-1: none)."""
    from shipyard.task_record import recorded_task

    with recorded_task("deploy-staging"):
        from shipyard.stages.deploy import deploy_to_staging
        from shipyard.store.registry import ModelRegistry

        move = deploy_to_staging(ModelRegistry.from_uri(store_uri), model_name, version, run_id)
        return move.previous if move.previous is not None else -1


@dsl.component(base_image=project_image(), install_kfp_package=False)
def smoke_test(
    holdout: Input[Dataset],
    model_name: str,
    store_uri: str,
    version: int,
    target: str,
    task: str,
    config_yaml: str,
    run_id: str,
    report: Output[Markdown],
):
    """Serves the staged version (sha256 verified) with `shipyard serve --version` and sends it holdout rows over V2.

    Checks the answering version, prediction count, classes, NaNs, probabilities and the median
    latency of warm requests against the per-row budget; the version is marked with the result in
    the registry. On failure staging moves back and the run stops before production.
    """
    from shipyard.task_record import recorded_task

    with recorded_task("smoke-test"):
        import pandas as pd

        from shipyard.config import load_config
        from shipyard.stages.deploy import smoke_test_staged
        from shipyard.store.registry import ModelRegistry

        result = smoke_test_staged(
            ModelRegistry.from_uri(store_uri),
            model_name,
            version,
            pd.read_parquet(holdout.path),
            target,
            task,
            load_config(config_yaml).smoke_test,
            run_id,
        )
        with open(report.path, "w", encoding="utf-8") as f:
            f.write(result.to_markdown(model_name, version))


@dsl.component(base_image=project_image(), install_kfp_package=False)
def promote_production(verdict: Input[Artifact], model_name: str, store_uri: str, version: int, run_id: str) -> int:
    """Moves production to the smoke-tested version; returns the previous one (-1: none).

    Only if production still holds the champion named in the gate's verdict: a model never
    replaces one it did not compete with (a concurrent run, a manual rollback).
    """
    from shipyard.task_record import recorded_task

    with recorded_task("promote-production"):
        import json

        from shipyard.stages.deploy import promote_to_production
        from shipyard.stages.gate import GateVerdict
        from shipyard.store.registry import ModelRegistry

        with open(verdict.path, encoding="utf-8") as f:
            champion_version = GateVerdict.from_dict(json.load(f)).champion_version
        move = promote_to_production(ModelRegistry.from_uri(store_uri), model_name, version, run_id, champion_version)
        return move.previous if move.previous is not None else -1
