"""train: fit the configured scikit-learn pipeline and keep a holdout aside."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def train_model(
    dataset: Input[Dataset],
    target: str,
    task: str,
    config_yaml: str,
    model: Output[Model],
    holdout: Output[Dataset],
    reference: Output[Dataset],
):
    """Trains a seeded, deterministic model; writes model.joblib and the untouched holdout rows.

    Args:
        task: classification or regression (resolved by validate).
        config_yaml: shipyard config YAML (estimator, hyperparameters, seed, holdout fraction).
        model: The fitted scikit-learn Pipeline (joblib), with the model's facts (task, classes,
            params, ...) in metadata.
        holdout: Rows never seen in training, as Parquet; evaluate, gate and smoke test use them.
        reference: The training rows (or a deterministic sample above monitoring.reference_max_rows),
            as Parquet; registered beside the model, monitoring compares new data with it.
    """
    from shipyard.task_record import recorded_task

    with recorded_task("train-model"):
        import joblib
        import pandas as pd

        from shipyard.config import load_config
        from shipyard.stages import train as train_stage
        from shipyard.stages.reference import reference_sample, write_reference

        config = load_config(config_yaml)
        trained = train_stage.train_model(pd.read_parquet(dataset.path), target, task, config)
        joblib.dump(trained.pipeline, model.path)
        trained.holdout.to_parquet(holdout.path, index=False)
        model.metadata.update(trained.facts.to_metadata())
        holdout.metadata["rows"] = len(trained.holdout)
        sample = reference_sample(trained.train, config.monitoring.reference_max_rows, config.seed)
        write_reference(sample, reference.path)
        reference.metadata.update(sample.to_metadata())
