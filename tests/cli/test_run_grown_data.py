"""Continuous training: `shipyard run training` on data that grew by a period is not blocked.

The second run validates against the production model's contract (from the first period): the
new year and the new category are warnings, the run registers a new version. A unit change in
the same grown data still stops the run in validation, naming the column, and registers nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry
from tests.unit.periods import shipments

pytestmark = pytest.mark.slow


def run_training(store: Path, data: Path):
    return CliRunner().invoke(
        main,
        ["run", "training", "--data", str(data), "--target", "late", "--model", "shipments"]
        + ["--store", str(store), "--json"],
        catch_exceptions=False,
    )


def test_training_on_data_grown_by_a_period_registers_a_new_version(tmp_path: Path):
    store = tmp_path / "store"
    first, grown, converted = tmp_path / "2020-2022.csv", tmp_path / "2020-2023.csv", tmp_path / "kilograms.csv"
    shipments(range(2020, 2023)).to_csv(first, index=False)
    frame = shipments(range(2020, 2024))
    frame.to_csv(grown, index=False)
    frame.assign(weight_g=frame["weight_g"] / 1000).to_csv(converted, index=False)

    result = run_training(store, first)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["version"]) == ("succeeded", 1), summary

    result = run_training(store, grown)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["blessed"], summary["version"]) == ("succeeded", True, 2), summary
    warnings = summary["validation"]["warnings"]
    assert any(warning.startswith("column 'year': 25.0% of values") for warning in warnings), warnings
    assert any(warning.startswith("column 'mode': ") and "'air'" in warning for warning in warnings), warnings
    registry = ModelRegistry.from_uri(str(store))
    assert [version.version for version in registry.list_versions("shipments")] == [1, 2]

    result = run_training(store, converted)  # grams to kilograms: the contract check of v2 stops it
    assert result.exit_code == 1
    assert "column 'weight_g'" in result.stderr and "has its unit changed?" in result.stderr
    assert [finding["code"] for finding in json.loads(result.stdout)["findings"]] == ["out_of_range"]
    assert [version.version for version in registry.list_versions("shipments")] == [1, 2]
