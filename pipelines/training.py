"""The training pipeline: data in, a gated, registered, smoke-tested model in production out.

ingest → check unchanged → validate → train → evaluate → gate → if blessed: register → staging →
smoke test → production, all inside an exit handler that records how the run ended. A run on the
data, config and code a registered version was trained on stops after the check (unless force).
It does not know where it runs: the `shipyard` CLI runs it under kfp.local, compiles it to IR
YAML, or uploads and submits it to Kubeflow Pipelines (`shipyard upload`, `shipyard submit`).
"""

from kfp import dsl, kubernetes

from shipyard.adapters.kfp_resources import apply_resources
from shipyard.components import (
    check_unchanged,
    deploy_staging,
    evaluate_model,
    gate_challenger,
    ingest_data,
    promote_production,
    record_outcome,
    register_model,
    smoke_test,
    train_model,
    validate_data,
)

PIPELINE_NAME = "shipyard-training"

#: Kubernetes Secret with keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for the store (manifests/);
#: steps get them as SHIPYARD_S3_ACCESS_KEY_ID / SHIPYARD_S3_SECRET_ACCESS_KEY.
S3_SECRET = "shipyard-s3-credentials"
#: ConfigMap with the store's location and S3 settings (manifests/components/object-store).
#: Every key mapped below must exist in it, or the pod does not start (tests/pipelines checks this).
S3_CONFIG_MAP = "shipyard-config"
#: Optional Kubernetes Secret with SHIPYARD_ALERT_WEBHOOK_URL; without it alerts go to the task log.
ALERT_SECRET = "shipyard-alert-webhook"


def use_store_credentials(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Gives a task that touches the store its endpoint and credentials.

    Credentials come from a Kubernetes Secret as environment variables, never from pipeline
    parameters, so they appear in neither the compiled YAML nor the run's logs. kfp.local ignores
    this platform config and the task uses the caller's environment instead.

    No task gets a KFP retry policy: KFP 2.17 compiles one to an Argo retryStrategy with no
    retryPolicy, so Argo re-runs the pod after any failure, bad data included. Store and network
    faults are retried inside the task instead (:func:`shipyard.task_record.task_attempts`). The
    price: a pod lost to an eviction or a node failure is not re-run; the exit handler takes
    staging back and the run must be started again.
    """
    kubernetes.use_secret_as_env(
        task,
        secret_name=S3_SECRET,
        # The Secret keeps the key names KServe's storage initializer reads; the pod gets
        # shipyard's own names, because KFP's launcher in the same container reads AWS_* for its
        # artifact I/O (backend/src/v2/config/s3.go) and must keep KFP's credentials.
        secret_key_to_env={
            "AWS_ACCESS_KEY_ID": "SHIPYARD_S3_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY": "SHIPYARD_S3_SECRET_ACCESS_KEY",
        },
    )
    kubernetes.use_config_map_as_env(
        task,
        config_map_name=S3_CONFIG_MAP,
        config_map_key_to_env={
            "SHIPYARD_S3_ENDPOINT_URL": "SHIPYARD_S3_ENDPOINT_URL",
            "SHIPYARD_S3_REGION": "SHIPYARD_S3_REGION",
            "SHIPYARD_S3_SSE": "SHIPYARD_S3_SSE",
            "SHIPYARD_S3_SSE_KMS_KEY_ID": "SHIPYARD_S3_SSE_KMS_KEY_ID",
            "SHIPYARD_STORE": "SHIPYARD_STORE",
        },
    )
    return task


def use_alert_webhook(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Gives a task that alerts the webhook URL from the optional Secret: a credential, never a parameter."""
    kubernetes.use_secret_as_env(
        task,
        secret_name=ALERT_SECRET,
        secret_key_to_env={"SHIPYARD_ALERT_WEBHOOK_URL": "SHIPYARD_ALERT_WEBHOOK_URL"},
        optional=True,
    )
    return task


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Validate data, train, gate against the champion, register and deploy a scikit-learn model.",
)
def training_pipeline(
    data_uri: str,
    target: str,
    model_name: str = "model",
    task: str = "auto",
    store_uri: str = "",
    config_yaml: str = "",
    contract_uri: str = "",
    code_version: str = "",
    run_id: str = "",
    force: bool = False,
):
    """Continuous training for one model.

    Args:
        data_uri: Training table, CSV or Parquet (local path or s3://bucket/key).
        target: The column to predict.
        model_name: Registry name: lowercase letters, digits, '-' and '_'.
        task: auto, classification or regression.
        store_uri: Registry root, s3://bucket/prefix or a directory ('' = SHIPYARD_STORE from the
            shipyard-config ConfigMap on a cluster, from the environment locally).
        config_yaml: shipyard config YAML merged over the built-in defaults ('' = defaults).
        contract_uri: Data contract JSON to validate against ('' = the production model's).
        code_version: Commit that produced the run, recorded in lineage ('' = detected).
        run_id: Id recorded in lineage and run records ('' = the KFP run's UUID).
        force: Train even when a registered version was trained on this data, config and code.
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
    with dsl.ExitHandler(outcome, name="train-and-deliver"):
        ingest = ingest_data(data_uri=data_uri, run_id=run_id, pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
        use_store_credentials(ingest)
        resolved_run_id = ingest.outputs["run_id"]

        check = check_unchanged(
            data_hash=ingest.outputs["data_hash"],
            target=target,
            task=task,
            model_name=model_name,
            store_uri=store_uri,
            config_yaml=config_yaml,
            contract_uri=contract_uri,
            code_version=code_version,
            force=force,
            run_id=resolved_run_id,
        )
        use_store_credentials(check)

        with dsl.If(check.outputs["Output"] == "", name="changed"):
            validate = validate_data(
                dataset=ingest.outputs["dataset"],
                target=target,
                task=task,
                model_name=model_name,
                store_uri=store_uri,
                contract_uri=contract_uri,
                config_yaml=config_yaml,
                run_id=resolved_run_id,
            )
            use_store_credentials(validate)

            train = train_model(
                dataset=ingest.outputs["dataset"], target=target, task=validate.outputs["task"], config_yaml=config_yaml
            )
            evaluate = evaluate_model(
                model=train.outputs["model"],
                holdout=train.outputs["holdout"],
                target=target,
                task=validate.outputs["task"],
            )
            gate = gate_challenger(
                model=train.outputs["model"],
                metrics=evaluate.outputs["metrics"],
                holdout=train.outputs["holdout"],
                target=target,
                task=validate.outputs["task"],
                model_name=model_name,
                store_uri=store_uri,
                config_yaml=config_yaml,
                run_id=resolved_run_id,
            )
            use_store_credentials(gate)

            with dsl.If(gate.outputs["Output"] == True, name="blessed"):  # noqa: E712 - kfp condition
                register = register_model(
                    model=train.outputs["model"],
                    metrics=evaluate.outputs["metrics"],
                    contract=validate.outputs["contract"],
                    verdict=gate.outputs["verdict"],
                    reference=train.outputs["reference"],
                    model_name=model_name,
                    store_uri=store_uri,
                    data_uri=data_uri,
                    data_hash=ingest.outputs["data_hash"],
                    code_version=code_version,
                    run_id=resolved_run_id,
                    pipeline_job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                    fingerprint=check.outputs["fingerprint"],
                )
                use_store_credentials(register)
                staging = deploy_staging(
                    model_name=model_name,
                    store_uri=store_uri,
                    version=register.outputs["version"],
                    run_id=resolved_run_id,
                    config_yaml=config_yaml,
                )
                use_store_credentials(staging)
                smoke = smoke_test(
                    holdout=train.outputs["holdout"],
                    model_name=model_name,
                    store_uri=store_uri,
                    version=register.outputs["version"],
                    target=target,
                    task=validate.outputs["task"],
                    config_yaml=config_yaml,
                    run_id=resolved_run_id,
                )
                use_store_credentials(smoke)
                smoke.after(staging)
                promote = promote_production(
                    verdict=gate.outputs["verdict"],
                    model_name=model_name,
                    store_uri=store_uri,
                    version=register.outputs["version"],
                    run_id=resolved_run_id,
                    config_yaml=config_yaml,
                )
                use_store_credentials(promote)
                promote.after(smoke)

    # A delivery run always runs every step: data at the same URI may have changed, and the steps
    # that write the registry must never be skipped by a cache hit on repeated inputs.
    steps = (outcome, ingest, check, validate, train, evaluate, gate, register, staging, smoke, promote)
    for step in steps:
        step.set_caching_options(False)
    apply_resources(*steps)
