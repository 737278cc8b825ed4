"""ingest_data through its python function: a file that is not a table is recorded with its findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfp import dsl

from shipyard.components import ingest_data
from shipyard.errors import DataValidationError
from shipyard.store.registry import ModelRegistry


def test_an_unusable_file_is_recorded_in_the_run_record_and_still_fails(tmp_path: Path):
    data = tmp_path / "t.csv.gz"
    data.write_bytes(b"\x1f\x8b\x08\x00junk")
    dataset = dsl.Dataset(name="d", uri=str(tmp_path / "d.parquet"), metadata={})
    store = str(tmp_path / "store")
    with pytest.raises(DataValidationError, match="gzip-compressed"):
        ingest_data.python_func(data_uri=str(data), run_id="r1", pipeline_job_id="", dataset=dataset, store_uri=store)
    record = ModelRegistry.from_uri(store).get_run_record("r1")["ingest"]
    assert record["ok"] is False and record["data_uri"] == str(data)
    assert [(finding["code"], finding["column"]) for finding in record["findings"]] == [("gzip_file", None)]


def test_an_unreachable_store_does_not_hide_the_data_error(tmp_path: Path):
    data = tmp_path / "empty.csv"
    data.write_bytes(b"")
    dataset = dsl.Dataset(name="d", uri=str(tmp_path / "d.parquet"), metadata={})
    with pytest.raises(DataValidationError, match="the file is empty"):  # store_uri '' and no SHIPYARD_STORE
        ingest_data.python_func(data_uri=str(data), run_id="r1", pipeline_job_id="", dataset=dataset)
