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

    The champion (the production alias) is re-scored on this run's holdout, on the rows it never
    trained on (see shipyard.stages.champion). No thresholds, or an unreadable config, bless nothing.

    Args:
        verdict: JSON with blessed, one reason per check, both sides' metrics and the champion
            version compared with; register reads the parent version from it.
        report: The verdict as Markdown for the Kubeflow UI.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("gate-challenger"):
        with attempt:
            import json

            import joblib
            import pandas as pd

            from shipyard.stages.champion import gate_run
            from shipyard.stages.train import ModelFacts
            from shipyard.store.registry import ModelRegistry

            with open(metrics.path, encoding="utf-8") as f:
                challenger_metrics = json.load(f)["metrics"]
            judged = gate_run(
                ModelRegistry.from_uri(store_uri),
                model_name,
                run_id,
                config_yaml=config_yaml,
                challenger_metrics=challenger_metrics,
                holdout=pd.read_parquet(holdout.path),
                target=target,
                task=task,
                challenger=joblib.load(model.path),
                facts=ModelFacts.from_metadata(model.metadata),
            )
            with open(verdict.path, "w", encoding="utf-8") as f:
                json.dump(judged.to_dict(), f, indent=2)
            verdict.metadata["blessed"] = bool(judged.blessed)
            if judged.champion_version is not None:  # ML Metadata rejects a null top-level value
                verdict.metadata["champion_version"] = judged.champion_version
            with open(report.path, "w", encoding="utf-8") as f:
                f.write(judged.to_markdown())
            return bool(judged.blessed)
