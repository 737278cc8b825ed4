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
):
    """Trains a seeded, deterministic model; writes model.joblib and the untouched holdout rows.

    Args:
        task: classification or regression (resolved by validate).
        config_yaml: shipyard config YAML (estimator, hyperparameters, seed, holdout fraction).
        model: The fitted scikit-learn Pipeline (joblib), with task, classes and params in metadata.
        holdout: Rows never seen in training, as Parquet; evaluate, gate and smoke test use them.
    """
    import json

    import joblib
    import pandas as pd

    from shipyard.config import load_config
    from shipyard.stages import train as train_stage

    trained = train_stage.train_model(pd.read_parquet(dataset.path), target, task, load_config(config_yaml))
    joblib.dump(trained.pipeline, model.path)
    trained.holdout.to_parquet(holdout.path, index=False)
    facts = {
        "framework": "scikit-learn",
        "task": trained.task,
        "target": trained.target,
        "classes": list(trained.classes) if trained.classes is not None else None,
        "feature_columns": list(trained.feature_columns),
        "train_rows": trained.train_rows,
        "params": trained.params,
    }
    # Readable in the Kubeflow UI (numbers become floats there). ML Metadata rejects a null
    # top-level value, so keys without one (classes of a regression model) are left out.
    model.metadata.update({key: value for key, value in facts.items() if value is not None})
    model.metadata["facts_json"] = json.dumps(facts)  # exact copy for register: ints stay ints
    holdout.metadata["rows"] = len(trained.holdout)
