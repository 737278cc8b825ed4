"""record_outcome: the exit handler that writes how the run ended, whatever happened."""

from kfp import dsl

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def record_outcome(
    status: dsl.PipelineTaskFinalStatus,
    model_name: str,
    store_uri: str,
    run_id: str,
    pipeline_job_name: str,
):
    """Writes runs/RUN_ID/outcome.json: the final state and, on failure, the failing task's error."""
    from datetime import datetime, timezone

    from shipyard.stages.register import resolve_run_id
    from shipyard.store.registry import ModelRegistry

    ModelRegistry.from_uri(store_uri).put_run_record(resolve_run_id(run_id, pipeline_job_name), "outcome", {
        "model": model_name,
        "state": status.state,
        "pipeline_run": status.pipeline_job_resource_name or pipeline_job_name,
        "error_code": status.error_code,
        "error_message": status.error_message,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
