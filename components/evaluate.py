"""evaluate: holdout metrics and a confusion matrix the Kubeflow UI draws."""

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def evaluate_model(
    model: Input[Model],
    holdout: Input[Dataset],
    target: str,
    task: str,
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
):
    """Scores the challenger on the holdout.

    Args:
        metrics: accuracy, f1_macro, roc_auc, log_loss (classification) or rmse, mae, r2 (regression);
            also written as JSON at metrics.path.
        classification_metrics: The confusion matrix (classification) and ROC curve (binary).
    """
    from shipyard.task_record import recorded_task

    with recorded_task("evaluate-model"):
        import json

        import joblib
        import pandas as pd

        from shipyard.stages import evaluate as evaluate_stage

        evaluation = evaluate_stage.evaluate_model(joblib.load(model.path), pd.read_parquet(holdout.path), target, task)
        for name, value in evaluation.metrics.items():
            metrics.log_metric(name, value)
        with open(metrics.path, "w", encoding="utf-8") as f:
            json.dump(evaluation.to_dict(), f, indent=2)
        if evaluation.confusion_matrix is not None:
            classification_metrics.log_confusion_matrix(
                list(evaluation.labels), [list(row) for row in evaluation.confusion_matrix]
            )
        if evaluation.roc_curve is not None:
            fpr, tpr, thresholds = (list(axis) for axis in zip(*evaluation.roc_curve, strict=True))
            classification_metrics.log_roc_curve(fpr, tpr, thresholds)
        with open(classification_metrics.path, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "labels": evaluation.labels,
                    "confusion_matrix": evaluation.confusion_matrix,
                    "roc_curve": evaluation.roc_curve,
                },
                f,
            )
