"""retraining: whether to retrain, and the data to retrain on (production's training data plus the new rows)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def decide_retrain(verdict: Input[Artifact], allow_retrain: bool, config_yaml: str) -> bool:
    """True when monitoring alerted, the new data has the target, and retraining is enabled.

    Args:
        verdict: The monitor step's JSON.
        allow_retrain: False never retrains (the CLI's --no-retrain).
    """
    from shipyard.task_record import recorded_task

    with recorded_task("decide-retrain"):
        import json

        from shipyard.config import load_config
        from shipyard.stages.monitor import retrain_wanted

        with open(verdict.path, encoding="utf-8") as f:
            document = json.load(f)["shipyard_monitoring"]
        return retrain_wanted(document, load_config(config_yaml).monitoring.retrain.enabled and allow_retrain)


@dsl.component(base_image=project_image(), install_kfp_package=False)
def build_retraining_data(
    current: Input[Dataset], model_name: str, store_uri: str, config_yaml: str, run_id: str
) -> NamedTuple("RetrainData", [("data_uri", str), ("rows", int), ("run_id", str), ("target", str)]):
    """Writes the retraining table to the store at runs/RUN_ID/retrain-data.parquet.

    monitoring.retrain.data: accumulate (default) = the production version's training data (its
    lineage data_uri) plus the new rows with a target; current = the new rows alone.

    Returns:
        data_uri: The table's URI (a path for a local store), for the training sub-pipeline.
        rows: Its row count.
        run_id: The id of the retraining run (RUN_ID-retrain).
        target: The production model's target column.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("build-retraining-data"):
        with attempt:
            from collections import namedtuple

            import pandas as pd

            from shipyard.config import load_config
            from shipyard.stages.monitor import build_retraining_table, production_version, save_retraining_table
            from shipyard.store.registry import ModelRegistry

            registry = ModelRegistry.from_uri(store_uri)
            version = production_version(registry, model_name)
            table = build_retraining_table(
                version, pd.read_parquet(current.path), load_config(config_yaml).monitoring.retrain.data
            )
            retrain_run_id = f"{run_id}-retrain"
            data_uri = save_retraining_table(registry, run_id, table)
            target = str(version.lineage["data_contract"]["target"])
            outputs = namedtuple("RetrainData", ["data_uri", "rows", "run_id", "target"])
            return outputs(data_uri, len(table), retrain_run_id, target)
