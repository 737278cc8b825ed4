"""validate: check new data against the data contract before any training."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def validate_data(
    dataset: Input[Dataset],
    target: str,
    task: str,
    model_name: str,
    store_uri: str,
    contract_uri: str,
    config_yaml: str,
    run_id: str,
    contract: Output[Artifact],
    report: Output[Markdown],
    report_json: Output[Artifact],
) -> NamedTuple("ValidateOutputs", [("task", str)]):
    """Fails the run, naming the column and the problem, when the data breaks its contract.

    The contract is contract_uri when given, else the production model's, else only the checks
    that need no contract run. Writes the contract inferred from this data for the new version.

    Args:
        task: auto, classification or regression; the resolved task is returned.
        contract_uri: Optional data contract JSON (path or s3:// URI) that overrides the champion's.
        config_yaml: shipyard config YAML merged over the built-in defaults ('' = defaults).
    """
    from shipyard.task_record import recorded_task

    with recorded_task("validate-data"):
        import json
        from collections import namedtuple

        import pandas as pd

        from shipyard.config import load_config
        from shipyard.stages.validate import check_training_data
        from shipyard.store.registry import ModelRegistry

        checked = check_training_data(
            ModelRegistry.from_uri(store_uri),
            pd.read_parquet(dataset.path),
            target=target,
            task=task,
            model_name=model_name,
            contract_uri=contract_uri,
            settings=load_config(config_yaml).validation,
            run_id=run_id,
        )
        with open(report.path, "w", encoding="utf-8") as f:
            f.write(checked.report.to_markdown())
        with open(report_json.path, "w", encoding="utf-8") as f:
            json.dump(checked.report.to_dict(), f, indent=2)
        checked.report.raise_for_problems()
        with open(contract.path, "w", encoding="utf-8") as f:
            f.write(checked.contract.to_json())
        return namedtuple("ValidateOutputs", ["task"])(checked.task)
