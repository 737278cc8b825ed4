"""`shipyard run training` on bad data: the failure names the problem and prints only its own hints."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry
from tests.cli.test_data import printed_hints


def run_training(tmp_path: Path, data: Path, *extra: str):
    return CliRunner().invoke(
        main,
        [
            "run",
            "training",
            "--data",
            str(data),
            "--target",
            "churned",
            "--model",
            "m",
            "--store",
            str(tmp_path / "s"),
            *extra,
        ],
        catch_exceptions=False,
    )


@pytest.mark.slow
def test_an_empty_file_fails_in_ingest_with_only_the_file_hint(tmp_path: Path):
    data = tmp_path / "empty.csv"
    data.write_bytes(b"")
    result = run_training(tmp_path, data, "--json")
    assert result.exit_code == 1
    assert "error: data validation failed: table: " in result.stderr and "(the file is empty)" in result.stderr
    assert printed_hints(result.stderr) == {"empty_file"}
    summary = json.loads(result.stdout)
    assert [finding["code"] for finding in summary["findings"]] == ["empty_file"]
    assert ModelRegistry.from_uri(str(tmp_path / "s")).list_versions("m") == []


@pytest.mark.slow
def test_an_out_of_range_column_fails_in_validation_with_its_tolerance_hint(tmp_path: Path, churn_csv: Path):
    contract = tmp_path / "churn.json"
    CliRunner().invoke(
        main, ["data", "contract", "--data", str(churn_csv), "--target", "churned", "--out", str(contract)]
    )
    frame = pd.read_csv(churn_csv)
    frame["monthly_charges"] = frame["monthly_charges"] * 100
    data = tmp_path / "shifted.csv"
    frame.to_csv(data, index=False)
    result = run_training(tmp_path, data, "--contract", str(contract))
    assert result.exit_code == 1
    assert "column 'monthly_charges'" in result.stderr and "outside the contract range" in result.stderr
    assert printed_hints(result.stderr) == {"out_of_range", "new_contract"}
