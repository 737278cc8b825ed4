"""segments: plan a table's segments, then deliver each one as a model of its own (one ParallelFor branch each)."""

from typing import List  # noqa: UP035 - kfp reads the annotation

from kfp import dsl
from kfp.dsl import Markdown, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def plan_segments(
    data_uri: str,
    segment_by: str,
    target: str,
    model_name: str,
    store_uri: str,
    config_yaml: str,
    run_id: str,
    pipeline_job_id: str,
    plan: Output[Markdown],
) -> List[str]:  # noqa: UP006 - kfp maps typing.List to a LIST parameter
    """Cuts the table into its segments and returns one JSON item per segment to deliver.

    Segments below segments.min_rows, outside segments.allow, and rows with no value are skipped,
    each with its reason, in the run record's ``segments`` section. Each planned segment's rows are
    written to runs/RUN_ID/segments/SUFFIX.parquet in the store, the data its branch trains on and
    its version's lineage names; the model's segment index (models/NAME/segments/) gains new ones.

    Args:
        segment_by: The segment column ('' = segments.column from config_yaml).
        plan: The plan as Markdown for the Kubeflow UI.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("plan-segments"):
        with attempt:
            from shipyard.config import load_config
            from shipyard.stages.ingest import ingest_table
            from shipyard.stages.register import resolve_run_id
            from shipyard.stages.segments import plan_table
            from shipyard.store.registry import ModelRegistry

            planned = plan_table(
                ModelRegistry.from_uri(store_uri),
                ingest_table(data_uri),
                model_name,
                load_config(config_yaml),
                segment_by=segment_by,
                target=target,
                run_id=resolve_run_id(run_id, pipeline_job_id),
            )
            with open(plan.path, "w", encoding="utf-8") as f:
                f.write(planned.markdown)
            return planned.items


@dsl.component(base_image=project_image(), install_kfp_package=False)
def deliver_segment(
    segment: str,
    target: str,
    task: str,
    store_uri: str,
    config_yaml: str,
    contract_uri: str,
    code_version: str,
    force: bool,
    pipeline_job_name: str,
    report: Output[Markdown],
) -> str:
    """Delivers one segment as the training pipeline delivers a model; returns how it ended (JSON).

    Ingest, the unchanged check, validate, train, evaluate, the gate against this segment's own
    champion, register, staging, smoke test and production run in this one task, in the training
    pipeline's order and through the same component code (shipyard.components.segment_flow). A
    failure (bad data, a failed smoke test) is recorded as this segment's outcome, with staging
    taken back and the failed-run alert sent, and the task still succeeds: Argo's DAG fails fast
    (KFP never sets ``failFast: false``, kubeflow/pipelines#7330), so a failed branch would stop the
    loop from starting the segments after it.

    Args:
        segment: One item of plan_segments' output: segment, model, rows, data_uri, run_id.
        report: The segment's outcome and gate verdict as Markdown for the Kubeflow UI.
    """
    import json

    from shipyard.adapters.kfp_runtime import training_components

    training_components()  # before shipyard.components: this task imported kfp.dsl without decorators
    from shipyard.components.segment_flow import deliver

    outcome = deliver(
        json.loads(segment),
        target=target,
        task=task,
        store_uri=store_uri,
        config_yaml=config_yaml,
        contract_uri=contract_uri,
        code_version=code_version,
        force=force,
        pipeline_job_name=pipeline_job_name,
    )
    with open(report.path, "w", encoding="utf-8") as f:
        f.write(outcome.pop("markdown"))
    return json.dumps(outcome, sort_keys=True)
