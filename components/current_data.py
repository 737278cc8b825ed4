"""current data: the table monitoring checks, read from a file or from the model's logged traffic."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def current_data(
    data_uri: str,
    from_traffic: bool,
    model_name: str,
    store_uri: str,
    traffic_since: str,
    traffic_from: str,
    traffic_to: str,
    run_id: str,
    pipeline_job_id: str,
    dataset: Output[Dataset],
) -> NamedTuple("IngestOutputs", [("data_hash", str), ("rows", int), ("run_id", str)]):
    """Reads the new data to monitor: a table file, or a time window of the served model's traffic.

    The outputs are ingest_data's: a traffic window is written as Parquet and read back exactly as
    that file would be, so the steps after this one cannot tell a window from a file of its rows.
    Features the model server hashed or excluded are named in the dataset's Parquet attrs (and its
    metadata) for the monitor step, whether the window is read here or a CLI run wrote it to data_uri.

    Args:
        data_uri: CSV or Parquet file (local path or s3://bucket/key); used when from_traffic is false.
        from_traffic: Read the requests model_name's server logged in the store, with the latest
            label fed back for each row (the target, where one arrived).
        model_name: The model whose traffic is read.
        store_uri: Registry root holding traffic/MODEL/ ('' = SHIPYARD_STORE).
        traffic_since: Window ending now: 7d, 12h or 30m; used when traffic_from is ''.
        traffic_from: Window start, ISO date or date-time (UTC unless it has a zone).
        traffic_to: Window end, ISO date (whole day) or date-time; '' = now.
        run_id: Id recorded in lineage; empty means the KFP run's id.
        pipeline_job_id: The KFP run's UUID (a placeholder the backend fills in).
        dataset: The table as Parquet, with data_uri, data_hash and rows (and the traffic window, and
            the features left out of it) in its metadata.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("current-data"):
        with attempt:
            from collections import namedtuple
            from datetime import datetime, timezone

            from shipyard.stages.ingest import ingest_table
            from shipyard.stages.register import resolve_run_id
            from shipyard.stages.traffic import collect_traffic_table, left_out_of, mark_left_out

            resolved_run_id = resolve_run_id(run_id, pipeline_job_id)
            source = {}
            if from_traffic:
                since = "" if traffic_from else traffic_since
                table, window = collect_traffic_table(
                    store_uri,
                    model_name,
                    since=since,
                    start=traffic_from,
                    end=traffic_to,
                    now=datetime.now(timezone.utc),
                )
                source = window.source()
                left_out = window.left_out_columns
            else:
                table = ingest_table(data_uri)
                left_out = left_out_of(table.frame)  # a window a CLI run wrote to data_uri names them in its attrs
            mark_left_out(table.frame, left_out)
            table.frame.to_parquet(dataset.path, index=False)
            dataset.metadata.update(
                {
                    "data_uri": table.uri,
                    "data_hash": table.data_hash,
                    "format": table.format,
                    "rows": len(table.frame),
                    "columns": len(table.frame.columns),
                    **({"source": source} if source else {}),
                    **({"left_out_columns": list(left_out)} if left_out else {}),
                }
            )
            outputs = namedtuple("IngestOutputs", ["data_hash", "rows", "run_id"])
            return outputs(table.data_hash, len(table.frame), resolved_run_id)
