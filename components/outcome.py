"""record_outcome: the exit handler that writes how the run ended, whatever happened."""

from kfp import dsl

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def record_outcome(
    status: dsl.PipelineTaskFinalStatus,
    model_name: str,
    store_uri: str,
    run_id: str,
    pipeline_job_id: str,
    pipeline_job_name: str,
    pipeline: str = "training",
    config_yaml: str = "",
):
    """Writes runs/RUN_ID/outcome.json; a version the run registered but did not ship loses staging.

    Whether the run shipped is read from the registry (production holds, or this run promoted,
    the version it registered), not from the final state, which on KFP 2.15/2.16 can read RUNNING
    after a successful run. Whatever stopped the run (a failed task, an evicted or OOM-killed pod,
    a cancelled run), staging must not be left on a version that did not ship; with
    deploy.target: kserve in config_yaml the staging InferenceService is pointed back too. Unless the run
    shipped, a state other than success sends the run_failed alert to $SHIPYARD_ALERT_WEBHOOK_URL
    (or the log); the alert never fails this step.

    Args:
        pipeline: Which pipeline ran (training or monitoring), named in the alert.
        config_yaml: shipyard config YAML (its deploy: section says whether there is a cluster).
    """
    from shipyard.stages.notify import alert_failed_run
    from shipyard.stages.register import resolve_run_id
    from shipyard.task_record import task_attempts

    resolved = resolve_run_id(run_id, pipeline_job_id)
    quiet = False  # a shipped or unchanged run is no failure, whatever state the exit handler reads
    try:
        for attempt in task_attempts("record-outcome"):
            with attempt:
                from shipyard.adapters.kserve_cluster import cluster_for
                from shipyard.config import load_config
                from shipyard.errors import ShipyardError
                from shipyard.stages.deploy import record_run_outcome
                from shipyard.store.registry import ModelRegistry

                try:
                    deploy = load_config(config_yaml).deploy
                except ShipyardError as exc:  # the outcome is still recorded; only the cluster is not touched
                    print(f"record-outcome: config_yaml unusable, the staging InferenceService is left alone: {exc}")
                    deploy = None
                recorded = record_run_outcome(
                    ModelRegistry.from_uri(store_uri),
                    model_name,
                    resolved,
                    state=status.state,
                    pipeline_run=status.pipeline_job_resource_name or pipeline_job_name,
                    error_code=status.error_code,
                    error_message=status.error_message,
                    deploy=deploy,
                    connect=lambda: None if deploy is None else cluster_for(deploy),  # noqa: B023 - called now
                )
                quiet = recorded["shipped"] or recorded["unchanged"] is not None
                if not quiet:  # a segmented run whose segments all ended: each failed one alerted on its own
                    from shipyard.stages.segments import segments_settled

                    quiet = segments_settled(ModelRegistry.from_uri(store_uri), resolved) is True
    finally:  # once, after the attempts: a retried record must not alert once per attempt
        if not quiet:
            alert_failed_run(pipeline, model_name, resolved, status.state, status.error_message)
