"""The segmented training pipeline: one model per value of a column, each delivered on its own branch.

plan the segments → for each segment, in parallel (``dsl.ParallelFor``): deliver it (validate,
train, gate against its own champion, register, staging, smoke test, production), all inside an
exit handler that records how the run ended. Each segment is a registry model of its own
(``NAME--VALUE``, see shipyard.stages.segments); a failed or rejected segment never blocks another.
The Kubeflow UI shows one branch per segment, each with the segment's report.
"""

from collections.abc import Callable

from kfp import dsl

from shipyard.adapters.kfp_resources import apply_resources
from shipyard.components import deliver_segment, plan_segments, record_outcome
from shipyard.pipelines.training import use_alert_webhook, use_store_credentials

PIPELINE_NAME = "shipyard-segments"
#: Segments delivered at once as compiled (`shipyard run training` builds the pipeline with config
#: ``segments.parallelism`` instead; kfp.local runs at most 2).
PARALLELISM = 4


def build_segmented_pipeline(parallelism: int = PARALLELISM) -> Callable:
    """The pipeline with ``parallelism`` branches at once (KFP fixes it at compile time)."""

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Train, gate and release one scikit-learn model per segment (a value of a column).",
    )
    def segmented_training_pipeline(
        data_uri: str,
        target: str,
        segment_by: str = "",
        model_name: str = "model",
        task: str = "auto",
        store_uri: str = "",
        config_yaml: str = "",
        contract_uri: str = "",
        code_version: str = "",
        run_id: str = "",
        force: bool = False,
    ):
        """Continuous training for one model per segment.

        Args:
            data_uri: Training table with every segment's rows, CSV or Parquet (path or s3://bucket/key).
            target: The column to predict.
            segment_by: The segment column ('' = segments.column in config_yaml).
            model_name: Registry name of the parent model; segment models are MODEL--VALUE.
            task: auto, classification or regression.
            store_uri: Registry root ('' = SHIPYARD_STORE from the shipyard-config ConfigMap).
            config_yaml: shipyard config YAML merged over the built-in defaults ('' = defaults).
            contract_uri: Data contract JSON every segment is validated against ('' = each segment's
                production model's).
            code_version: Commit that produced the run, recorded in lineage ('' = detected).
            run_id: Id of the run ('' = the KFP run's UUID); segment runs are RUN_ID.VALUE.
            force: Train a segment even when its version was trained on the same data, config and code.
        """
        outcome = record_outcome(
            model_name=model_name,
            store_uri=store_uri,
            run_id=run_id,
            pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            pipeline="training",
            config_yaml=config_yaml,
        )
        use_store_credentials(outcome)
        use_alert_webhook(outcome)
        with dsl.ExitHandler(outcome, name="segments"):
            plan = plan_segments(
                data_uri=data_uri,
                segment_by=segment_by,
                target=target,
                model_name=model_name,
                store_uri=store_uri,
                config_yaml=config_yaml,
                run_id=run_id,
                pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            )
            use_store_credentials(plan)
            with dsl.ParallelFor(plan.outputs["Output"], parallelism=parallelism, name="segment") as segment:
                deliver = deliver_segment(
                    segment=segment,
                    target=target,
                    task=task,
                    store_uri=store_uri,
                    config_yaml=config_yaml,
                    contract_uri=contract_uri,
                    code_version=code_version,
                    force=force,
                    pipeline_job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                )
                use_store_credentials(deliver)
                use_alert_webhook(deliver)

        steps = (outcome, plan, deliver)
        for step in steps:
            step.set_caching_options(False)
        apply_resources(*steps)

    return segmented_training_pipeline


segmented_training_pipeline = build_segmented_pipeline()
