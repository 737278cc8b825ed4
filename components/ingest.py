"""ingest: read CSV/Parquet from a path or s3:// URI, hash it, hand it on as Parquet."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def ingest_data(
    data_uri: str,
    run_id: str,
    pipeline_job_id: str,
    dataset: Output[Dataset],
) -> NamedTuple("IngestOutputs", [("data_hash", str), ("rows", int), ("run_id", str)]):
    """Reads the training table and records its content hash for lineage.

    Args:
        data_uri: CSV or Parquet file: a local path or s3://bucket/key. NA and empty cells are missing.
        run_id: Id recorded in lineage; empty means the KFP run's id.
        pipeline_job_id: The KFP run's UUID (a placeholder the backend fills in). Not the run's
            name: KFP fills that with the display name, which has spaces and can repeat.
        dataset: The table as Parquet, with data_uri, data_hash and rows in its metadata.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("ingest-data"):
        with attempt:
            from collections import namedtuple

            from shipyard.stages.ingest import ingest_table
            from shipyard.stages.register import resolve_run_id

            resolved_run_id = resolve_run_id(run_id, pipeline_job_id)
            table = ingest_table(data_uri)
            table.frame.to_parquet(dataset.path, index=False)
            dataset.metadata.update(
                {
                    "data_uri": data_uri,
                    "data_hash": table.data_hash,
                    "format": table.format,
                    "rows": len(table.frame),
                    "columns": len(table.frame.columns),
                }
            )
            outputs = namedtuple("IngestOutputs", ["data_hash", "rows", "run_id"])
            return outputs(table.data_hash, len(table.frame), resolved_run_id)
