"""The monitoring pipeline: new data against production, an alert on drift or decay, and a gated retrain.

current data (a table file, or a window of the served model's logged traffic with the labels fed
back for it) → monitor (drift, + decay with a target) → if drift or decay: alert → if the data
has the target and retraining is on: build the retraining data → the training pipeline as a
sub-pipeline (validate, train, the same gate against the champion, register, staging, smoke test,
production). All inside an exit handler that records the outcome and alerts when the run failed.
"""

from kfp import dsl

from shipyard.adapters.kfp_resources import apply_resources
from shipyard.components import (
    build_retraining_data,
    current_data,
    decide_retrain,
    monitor_model,
    record_outcome,
    send_monitoring_alert,
)
from shipyard.pipelines.training import training_pipeline, use_alert_webhook, use_store_credentials

PIPELINE_NAME = "shipyard-monitoring"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Check new data for drift and the production model for decay; alert, and retrain through the gate.",
)
def monitoring_pipeline(
    data_uri: str = "",
    model_name: str = "model",
    store_uri: str = "",
    config_yaml: str = "",
    reference_uri: str = "",
    allow_retrain: bool = True,
    code_version: str = "",
    run_id: str = "",
    from_traffic: bool = False,
    traffic_since: str = "7d",
    traffic_from: str = "",
    traffic_to: str = "",
):
    """Continuous training for one model: monitor, alert, retrain.

    Args:
        data_uri: The new data, CSV or Parquet (local path or s3://bucket/key); '' with from_traffic.
            With the target column, production is scored on it (decay) and it can retrain; without,
            alert only.
        model_name: The registry name of the model whose production version is monitored.
        store_uri: Registry root ('' = SHIPYARD_STORE from the shipyard-config ConfigMap on a cluster).
        config_yaml: shipyard config YAML merged over the built-in defaults (monitoring: section).
        reference_uri: Reference table for a version registered without one ('' = the stored sample).
        allow_retrain: False alerts but never retrains.
        code_version: Commit recorded in a retrained model's lineage ('' = detected).
        run_id: Id of the run records ('' = the KFP run's UUID); a retrain records under RUN_ID-retrain.
        from_traffic: Monitor the requests the model server logged in the store (traffic/MODEL/)
            instead of data_uri; rows with a label fed back carry the target (decay, retraining on
            the labelled rows only); hashed or excluded features cannot be compared.
        traffic_since: The traffic window ending now: 7d, 12h or 30m (used when traffic_from is '').
        traffic_from: Window start, ISO date or date-time (UTC unless it has a zone).
        traffic_to: Window end, ISO date (the whole day) or date-time; '' = now.
    """
    outcome = record_outcome(
        model_name=model_name,
        store_uri=store_uri,
        run_id=run_id,
        pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        pipeline_job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        pipeline="monitoring",
        config_yaml=config_yaml,
    )
    use_store_credentials(outcome)
    use_alert_webhook(outcome)
    with dsl.ExitHandler(outcome, name="monitor-and-retrain"):
        current = current_data(
            data_uri=data_uri,
            from_traffic=from_traffic,
            model_name=model_name,
            store_uri=store_uri,
            traffic_since=traffic_since,
            traffic_from=traffic_from,
            traffic_to=traffic_to,
            run_id=run_id,
            pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        use_store_credentials(current)
        resolved_run_id = current.outputs["run_id"]

        monitor = monitor_model(
            current=current.outputs["dataset"],
            model_name=model_name,
            store_uri=store_uri,
            config_yaml=config_yaml,
            reference_uri=reference_uri,
            run_id=resolved_run_id,
        )
        use_store_credentials(monitor)

        # Conditions read single outputs: kfp.local resolves a task's "Output" in a condition, not a
        # named NamedTuple field.
        with dsl.If(monitor.outputs["Output"] == True, name="drift-or-decay"):  # noqa: E712 - kfp condition
            alert = send_monitoring_alert(
                verdict=monitor.outputs["report_json"], store_uri=store_uri, run_id=resolved_run_id
            )
            use_store_credentials(alert)  # it retries the webhook itself and never fails
            use_alert_webhook(alert)
            decide = decide_retrain(
                verdict=monitor.outputs["report_json"], allow_retrain=allow_retrain, config_yaml=config_yaml
            )
            decide.after(alert)

            with dsl.If(decide.outputs["Output"] == True, name="labelled-and-retrain-enabled"):  # noqa: E712
                retrain_data = build_retraining_data(
                    current=current.outputs["dataset"],
                    model_name=model_name,
                    store_uri=store_uri,
                    config_yaml=config_yaml,
                    run_id=resolved_run_id,
                )
                use_store_credentials(retrain_data)
                retrain = training_pipeline(
                    data_uri=retrain_data.outputs["data_uri"],
                    target=retrain_data.outputs["target"],
                    model_name=model_name,
                    task="auto",
                    store_uri=store_uri,
                    config_yaml=config_yaml,
                    contract_uri="",
                    code_version=code_version,
                    run_id=retrain_data.outputs["run_id"],
                )
                retrain.set_display_name("retrain-through-the-gate")
                retrain.set_caching_options(False)

    # Every run reads fresh data and writes the registry: never served from the cache.
    for step in (outcome, current, monitor, alert, decide, retrain_data):
        step.set_caching_options(False)
    apply_resources(outcome, current, monitor, alert, decide, retrain_data)
