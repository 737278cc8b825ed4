"""`shipyard data validate` and `data contract`: a failure prints only the hints that apply to it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard.cli.main import main

#: Fragments of every hint a data failure can print, by the finding it belongs to.
HINTS = {
    "empty_file": "check that whatever wrote the file finished",
    "binary_file": "export a spreadsheet (.xlsx) as CSV first",
    "not_comma_separated": "',' between cells",
    "missing_target": "pass --target 'churned'",
    "out_of_range": "raise validation.max_out_of_range_fraction in --config",
    "new_contract": "write a new contract with `shipyard data contract`",
}


def validate(*args: str):
    return CliRunner().invoke(main, ["data", "validate", *args], catch_exceptions=False)


def printed_hints(text: str) -> set[str]:
    return {name for name, fragment in HINTS.items() if fragment in text}


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", {"empty_file"}),
        (bytes(range(256)) * 4, {"binary_file"}),
        (b"tenure;churned\n1;yes\n2;no\n", {"not_comma_separated"}),
    ],
)
def test_a_file_that_is_not_a_table_prints_only_its_own_hint(tmp_path: Path, content: bytes, expected: set[str]):
    data = tmp_path / "new.csv"
    data.write_bytes(content)
    result = validate("--data", str(data), "--target", "churned")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: data validation failed: table: ")
    assert printed_hints(result.stderr) == expected
    assert "  hint: " in result.stderr and "Traceback" not in result.stderr


def test_a_mistyped_target_prints_the_closest_column_and_no_contract_advice(churn_csv: Path):
    result = validate("--data", str(churn_csv), "--target", "churnd")
    assert result.exit_code == 1
    assert "the target column is missing from the data; did you mean 'churned'?" in result.stderr
    assert printed_hints(result.stderr) == {"missing_target"}


def test_a_missing_target_found_by_the_checks_is_a_finding_in_the_json_report(tmp_path: Path, churn_csv: Path):
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(churn_csv).rename(columns={"churned": "churnd"}).to_csv(renamed, index=False)
    args = ("--data", str(renamed), "--target", "churned", "--task", "classification")  # no auto: the checks find it
    report = json.loads(validate(*args, "--json").stdout)
    assert report["ok"] is False
    (finding,) = report["findings"]
    assert (finding["column"], finding["code"], finding["hint"]) == (
        "churned",
        "missing_target",
        "pass --target 'churnd'",
    )
    result = validate(*args)
    assert result.exit_code == 1 and "  hint: pass --target 'churnd'" in result.stdout
    assert printed_hints(result.stdout) == set()  # none of the other hints


@pytest.fixture
def shifted(tmp_path: Path, churn_csv: Path) -> tuple[Path, Path]:
    """A contract from churn_csv, and the same table with monthly_charges far outside its range."""
    contract = tmp_path / "contracts" / "churn.json"
    written = CliRunner().invoke(
        main, ["data", "contract", "--data", str(churn_csv), "--target", "churned", "--out", str(contract)]
    )
    assert written.exit_code == 0, written.output
    frame = pd.read_csv(churn_csv)
    frame["monthly_charges"] = frame["monthly_charges"] * 100
    data = tmp_path / "shifted.csv"
    frame.to_csv(data, index=False)
    return data, contract


def test_an_out_of_range_column_prints_its_tolerance_and_the_contract_advice(shifted):
    data, contract = shifted
    result = validate("--data", str(data), "--target", "churned", "--contract", str(contract))
    assert result.exit_code == 1
    assert "problem: column 'monthly_charges':" in result.stdout and "outside the contract range" in result.stdout
    assert printed_hints(result.stdout) == {"out_of_range", "new_contract"}
    assert result.stdout.count("  hint: ") == 1


def test_json_reports_carry_the_findings(tmp_path: Path, shifted):
    data, contract = shifted
    report = json.loads(
        validate("--data", str(data), "--target", "churned", "--contract", str(contract), "--json").stdout
    )
    (finding,) = [finding for finding in report["findings"] if finding["severity"] == "problem"]
    assert (finding["column"], finding["code"]) == ("monthly_charges", "out_of_range")
    assert report["problems"] == [finding["message"]]

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = validate("--data", str(empty), "--target", "churned", "--json")
    error = json.loads(result.stdout)  # still exactly one JSON object
    assert error["status"] == "error" and error["error_type"] == "DataValidationError"
    assert [finding["code"] for finding in error["findings"]] == ["empty_file"]


def test_data_contract_on_an_empty_file_prints_only_the_file_hint(tmp_path: Path):
    data = tmp_path / "empty.csv"
    data.write_bytes(b"  \n")
    result = CliRunner().invoke(
        main, ["data", "contract", "--data", str(data), "--target", "churned", "--out", str(tmp_path / "c.json")]
    )
    assert result.exit_code == 1
    assert printed_hints(result.stderr) == {"empty_file"}


def test_data_grown_by_a_period_passes_with_warnings_unless_the_config_is_stricter(tmp_path: Path):
    from tests.unit.periods import shipments

    first, grown, contract = tmp_path / "first.csv", tmp_path / "grown.csv", tmp_path / "contract.json"
    shipments(range(2020, 2023)).to_csv(first, index=False)
    shipments(range(2020, 2024)).to_csv(grown, index=False)
    written = CliRunner().invoke(
        main, ["data", "contract", "--data", str(first), "--target", "late", "--out", str(contract)]
    )
    assert written.exit_code == 0, written.output
    args = ("--data", str(grown), "--target", "late", "--contract", str(contract))
    result = validate(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PASSED: 240 rows")
    assert (
        "  warning: column 'year': 25.0% of values" in result.stdout and "  warning: column 'mode': " in result.stdout
    )
    assert "problem:" not in result.stdout and "  hint: " not in result.stdout

    strict = tmp_path / "strict.yaml"
    strict.write_text("validation: {max_out_of_range_fraction: 0.05}\n", encoding="utf-8")
    result = validate(*args, "--config", str(strict))
    assert result.exit_code == 1
    assert "  problem: column 'year': 25.0% of values" in result.stdout
    assert printed_hints(result.stdout) == {"out_of_range", "new_contract"}
