"""deploy: staging alias → smoke test through the model server → production alias."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def deploy_staging(model_name: str, store_uri: str, version: int, run_id: str, config_yaml: str = "") -> int:
    """Moves the staging alias to the new version; returns the version it held before (-1: none).

    With deploy.target: kserve in config_yaml, the staging InferenceService is pointed at the
    version first and must become Ready; otherwise it is restored and the alias does not move.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("deploy-staging"):
        with attempt:
            from shipyard.adapters.kserve_cluster import cluster_for
            from shipyard.config import load_config
            from shipyard.stages.deploy import deploy_staging as stage
            from shipyard.store.registry import ModelRegistry

            settings = load_config(config_yaml).deploy
            registry = ModelRegistry.from_uri(store_uri)
            move = stage(registry, model_name, version, run_id, settings, cluster_for(settings))
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
    """Sends holdout rows over V2 to the staged version: `shipyard serve --version`, or staging's InferenceService.

    With deploy.target: kserve the requests go to the staging InferenceService the deploy step
    made Ready; otherwise the version (sha256 verified) is served here by `shipyard serve --version`.

    Checks the answering version, prediction count, classes, NaNs, probabilities and the median
    latency of warm requests against the per-row budget; the version is marked with the result in
    the registry. On failure staging moves back and the run stops before production.
    """
    from shipyard.task_record import recorded_task

    with recorded_task("smoke-test"):
        import pandas as pd

        from shipyard.adapters.kserve_cluster import cluster_for
        from shipyard.config import load_config
        from shipyard.stages.deploy import smoke_test_staged
        from shipyard.store.registry import ModelRegistry

        config = load_config(config_yaml)
        result = smoke_test_staged(
            ModelRegistry.from_uri(store_uri),
            model_name,
            version,
            pd.read_parquet(holdout.path),
            target,
            task,
            config.smoke_test,
            run_id,
            deploy=config.deploy,
            cluster=cluster_for(config.deploy),  # None unless deploy.target is kserve
        )
        with open(report.path, "w", encoding="utf-8") as f:
            f.write(result.to_markdown(model_name, version))


@dsl.component(base_image=project_image(), install_kfp_package=False)
def promote_production(
    verdict: Input[Artifact], model_name: str, store_uri: str, version: int, run_id: str, config_yaml: str = ""
) -> int:
    """Moves production to the smoke-tested version; returns the previous one (-1: none).

    Only if production still holds the champion named in the gate's verdict: a model never
    replaces one it did not compete with (a concurrent run, a manual rollback). With
    deploy.target: kserve the production InferenceService is pointed at it and Ready first.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("promote-production"):
        with attempt:
            import json

            from shipyard.adapters.kserve_cluster import cluster_for
            from shipyard.config import load_config
            from shipyard.stages.deploy import promote_production as stage
            from shipyard.stages.gate import GateVerdict
            from shipyard.store.registry import ModelRegistry

            with open(verdict.path, encoding="utf-8") as f:
                champion_version = GateVerdict.from_dict(json.load(f)).champion_version
            settings = load_config(config_yaml).deploy
            registry = ModelRegistry.from_uri(store_uri)
            move = stage(registry, model_name, version, run_id, champion_version, settings, cluster_for(settings))
            return move.previous if move.previous is not None else -1
