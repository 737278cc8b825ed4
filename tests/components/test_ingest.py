"""ingest_data through its python function: a file that is not a table fails and its task record says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp import dsl

from shipyard.components import ingest_data
from shipyard.errors import DataValidationError
from shipyard.task_record import RECORDS_ENV


def test_an_unusable_file_fails_with_its_findings_in_the_task_record(tmp_path: Path, monkeypatch):
    data = tmp_path / "t.csv.gz"
    data.write_bytes(b"\x1f\x8b\x08\x00junk")
    dataset = dsl.Dataset(name="d", uri=str(tmp_path / "d.parquet"), metadata={})
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "records"))
    with pytest.raises(DataValidationError, match="gzip-compressed"):
        ingest_data.python_func(data_uri=str(data), run_id="r1", pipeline_job_id="", dataset=dataset)
    record = json.loads((tmp_path / "records" / "ingest-data.json").read_text())
    assert record["status"] == "failed" and record["error_type"] == "DataValidationError"
    assert [(finding["code"], finding["column"]) for finding in record["findings"]] == [("gzip_file", None)]


def test_a_usable_file_records_success(tmp_path: Path, monkeypatch):
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    dataset = dsl.Dataset(name="d", uri=str(tmp_path / "d.parquet"), metadata={})
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "records"))
    outputs = ingest_data.python_func(data_uri=str(data), run_id="r1", pipeline_job_id="", dataset=dataset)
    assert outputs.rows == 2 and outputs.run_id == "r1"
    assert json.loads((tmp_path / "records" / "ingest-data.json").read_text())["status"] == "succeeded"
