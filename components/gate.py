"""gate: bless the challenger only if it meets the thresholds and is not worse than the champion."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def gate_challenger(
    model: Input[Model],
    metrics: Input[Metrics],
    holdout: Input[Dataset],
    target: str,
    task: str,
    model_name: str,
    store_uri: str,
    config_yaml: str,
    run_id: str,
    verdict: Output[Artifact],
    report: Output[Markdown],
) -> bool:
    """Returns whether the challenger is blessed; never raises for a bad model (fail closed).

    The champion (the production alias) is re-scored on this run's holdout so both are compared
    on the same rows, only rows it never trained on (see shipyard.stages.champion). No thresholds
    configured, or an unreadable gate config, blesses nothing.

    Args:
        verdict: JSON with blessed, one reason per check, both sides' metrics and the champion
            version compared with; register reads the parent version from it.
        report: The verdict as Markdown for the Kubeflow UI.
    """
    import json

    import joblib
    import pandas as pd

    from shipyard.config import load_config
    from shipyard.stages.champion import judge_challenger
    from shipyard.store.registry import ModelRegistry

    try:
        gate_config = load_config(config_yaml).gate
    except Exception as exc:  # unreadable gate config: nothing is blessed
        gate_config, config_problem = None, f"gate config unreadable: {exc}"
    else:
        config_problem = ""
    with open(metrics.path, encoding="utf-8") as f:
        challenger_metrics = json.load(f)["metrics"]
    registry = ModelRegistry.from_uri(store_uri)
    judged = judge_challenger(
        registry,
        model_name,
        challenger_metrics,
        pd.read_parquet(holdout.path),
        target,
        task,
        gate_config,
        challenger=joblib.load(model.path),
        challenger_params=json.loads(model.metadata["facts_json"])["params"],
    )
    record = judged.to_dict()
    if config_problem:
        record["reasons"] = [config_problem, *record["reasons"]]
    with open(verdict.path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    verdict.metadata["blessed"] = bool(judged.blessed)
    if judged.champion_version is not None:  # ML Metadata rejects a null top-level value
        verdict.metadata["champion_version"] = judged.champion_version
    with open(report.path, "w", encoding="utf-8") as f:
        f.write(judged.to_markdown())
    registry.put_run_record(run_id, "gate", record)
    return bool(judged.blessed)
