"""monitor: drift of new data from production's reference, and decay of production's score."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def monitor_model(
    current: Input[Dataset],
    model_name: str,
    store_uri: str,
    config_yaml: str,
    reference_uri: str,
    run_id: str,
    report: Output[HTML],
    report_json: Output[Artifact],
    summary: Output[Markdown],
    metrics: Output[Metrics],
) -> bool:
    """Checks new data against the production model's reference (drift) and, when labelled, its score (decay).

    Drift is not an error: the verdict is returned for dsl.If. Data whose columns do not match the
    model's contract fails the step with one line naming them. Features the dataset's Parquet attrs
    name as left out (hashed or excluded by the model server) are not compared: drift is judged on
    the other columns, decay is not judged and the verdict says no retrain can use these rows.

    Args:
        current: The new data (ingested). With the target column, production is scored on it.
        reference_uri: Reference table to use instead of the version's stored sample ('' = stored).
        report: Evidently's drift report (HTML), drawn from a bounded sample, showing the verdicts on all rows.
        report_json: The verdict JSON (drift per column, decay checks) with Evidently's snapshot.
        summary: The verdicts as Markdown.
        metrics: Drift share, per-column scores and verdicts, decay metrics.

    Returns:
        Whether to alert: drift or decay (one output, which dsl.If reads).
    """
    from shipyard.task_record import recorded_task

    with recorded_task("monitor-model"):
        import json

        import pandas as pd

        from shipyard.adapters.evidently_report import write_drift_report
        from shipyard.config import load_config
        from shipyard.stages.ingest import ingest_table
        from shipyard.stages.monitor import monitor_production, record_monitoring, save_report_files
        from shipyard.stages.traffic import left_out_of
        from shipyard.store.registry import ModelRegistry

        config = load_config(config_yaml)
        registry = ModelRegistry.from_uri(store_uri)
        reference = ingest_table(reference_uri).frame if reference_uri else None
        frame = pd.read_parquet(current.path)
        run = monitor_production(
            registry,
            model_name,
            frame,
            config,
            run_id=run_id,
            reference=reference,
            reference_source=reference_uri,
            left_out=left_out_of(frame),
        )
        files = write_drift_report(
            run.reference, run.current, run.result.drift, run.kinds, report.path, report_json.path
        )
        result = run.result.with_report(save_report_files(registry, run.result, files.html, files.json))
        document = json.loads(files.json.read_text(encoding="utf-8"))
        document["shipyard_monitoring"] = result.to_dict()
        with open(report_json.path, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, default=str)
        with open(summary.path, "w", encoding="utf-8") as f:
            f.write(result.to_markdown())
        for name, value in result.to_metrics().items():
            metrics.log_metric(name, value)
        record_monitoring(registry, result)
        return bool(result.alert_needed)
