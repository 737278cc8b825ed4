"""Growth or change: data that grew by a period trains with warnings, a column that changed stops the run.

The rule is in the docstring of :mod:`shipyard.stages.validate`; these tests build a table of
two periods, take the contract from the first, and check the grown table and changed copies of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.config import ValidationSettings, load_config
from shipyard.errors import DataValidationError
from shipyard.findings import GROWTH_HINT, Code, Finding
from shipyard.stages.validate import check_dataset, infer_contract, validate_dataset
from tests.unit.periods import shipments

SETTINGS = ValidationSettings()  # the shipped defaults


FIRST = shipments(range(2020, 2023))  # 2020-2022
GROWN = shipments(range(2020, 2024))  # the same three years (same seed) plus 2023
CONTRACT = infer_contract(FIRST, "late", "classification")


def check(frame: pd.DataFrame, settings: ValidationSettings = SETTINGS):
    return check_dataset(frame, "late", "classification", settings, CONTRACT)


def finding(frame: pd.DataFrame, column: str, settings: ValidationSettings = SETTINGS) -> Finding:
    (found,) = [item for item in check(frame, settings).findings if item.column == column]
    return found


def test_the_grown_table_keeps_the_first_period():
    pd.testing.assert_frame_equal(GROWN.iloc[: len(FIRST)], FIRST)


def test_data_grown_by_a_period_passes_with_warnings():
    report = validate_dataset(GROWN, "late", "classification", SETTINGS, CONTRACT)  # does not raise
    assert report.ok
    year, mode = finding(GROWN, "year"), finding(GROWN, "mode")
    assert (year.severity, year.code) == ("warning", Code.OUT_OF_RANGE)
    assert year.message.startswith(
        "column 'year': 25.0% of values (60 of 240) are outside the contract range [2020.0, 2022.0], e.g. 2023.0"
    )
    assert (mode.severity, mode.code) == ("warning", Code.UNSEEN_CATEGORY)
    assert mode.message.startswith("column 'mode': ") and "'air'" in mode.message
    assert year.hint == mode.hint == GROWTH_HINT and "drift report" in GROWTH_HINT
    assert all(not item.is_problem for item in report.findings)


def test_a_stricter_config_makes_growth_stop_again():
    strict = load_config("validation: {max_out_of_range_fraction: 0.05, max_unseen_category_fraction: 0.05}")
    report = check(GROWN, strict.validation)
    problems = {(item.column, item.code) for item in report.findings if item.is_problem}
    assert problems == {("year", Code.OUT_OF_RANGE), ("mode", Code.UNSEEN_CATEGORY)}


@pytest.mark.parametrize(
    "column, change",
    [
        ("weight_g", lambda values: values / 1000),  # grams to kilograms: every value below the range
        ("weight_g", lambda values: values * 1000),  # the other way: every value above it
        ("temperature_c", lambda values: values * 9 / 5 + 32),  # °C to °F: most values above it, a few inside
    ],
)
def test_a_unit_change_in_the_grown_data_still_stops_naming_the_column(column, change):
    frame = GROWN.copy()
    frame[column] = change(frame[column])
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(frame, "late", "classification", SETTINGS, CONTRACT)
    (stopped,) = caught.value.findings
    assert (stopped.column, stopped.code) == (column, Code.OUT_OF_RANGE)
    assert stopped.message.startswith(f"column '{column}': ")
    assert "no longer looks like itself: has its unit changed?" in stopped.message
    assert "convert it back" in stopped.hint


def test_a_unit_change_that_leaves_most_values_inside_still_stops_when_the_rest_jump_far():
    frame = GROWN.copy()
    frame["insured_value"] = frame["insured_value"] * 1000  # the zeros (~60%) stay inside the range
    stopped = finding(frame, "insured_value")
    share_outside = float((frame["insured_value"] > CONTRACT.column("insured_value").max).mean())
    assert share_outside < 0.5  # so the share rule alone would let it through
    assert (stopped.severity, stopped.code) == ("problem", Code.OUT_OF_RANGE)
    assert "lie more than 2 range widths beyond it: a jump, not growth" in stopped.message
    assert "validation.max_far_out_of_range_fraction" in stopped.hint


def test_most_categories_unseen_still_stops():
    frame = GROWN.copy()
    frame["mode"] = frame["mode"].str.upper()  # ROAD, RAIL, SEA, AIR: labels recoded
    stopped = finding(frame, "mode")
    assert (stopped.severity, stopped.code) == ("problem", Code.UNSEEN_CATEGORY)
    assert stopped.message.startswith("column 'mode': 100.0% of values (240 of 240) are categories not seen")


def test_a_type_change_and_a_missing_column_still_stop():
    retyped = GROWN.assign(mode=np.arange(len(GROWN), dtype=float))
    assert (finding(retyped, "mode").severity, finding(retyped, "mode").code) == ("problem", Code.WRONG_KIND)
    dropped = GROWN.drop(columns="temperature_c")
    missing = finding(dropped, "temperature_c")
    assert (missing.severity, missing.code) == ("problem", Code.MISSING_COLUMN)


def test_values_outside_on_both_sides_count_together():
    frame = GROWN.copy()
    frame.loc[:9, "temperature_c"] = -8.0  # a colder and a hotter month, just beyond the old range
    frame.loc[10:19, "temperature_c"] = 33.0
    low, high = CONTRACT.column("temperature_c").min, CONTRACT.column("temperature_c").max
    below, above = int((frame["temperature_c"] < low).sum()), int((frame["temperature_c"] > high).sum())
    assert below >= 10 and above >= 10
    found = finding(frame, "temperature_c")
    assert found.severity == "warning"
    assert f"({below + above} of 240: {below} below, {above} above) are outside" in found.message
    frame.loc[20:130, "temperature_c"] = -8.0  # now most values are outside
    assert finding(frame, "temperature_c").severity == "problem"


def test_a_column_constant_in_the_contract_has_no_width_so_only_the_share_counts():
    first = FIRST.assign(region_code=7.0)
    contract = infer_contract(first, "late", "classification")
    grown = GROWN.assign(region_code=np.where(GROWN["year"] == 2023, 8.0, 7.0))  # a new region: 25% of rows
    report = check_dataset(grown, "late", "classification", SETTINGS, contract)
    (found,) = [item for item in report.findings if item.column == "region_code"]
    assert found.severity == "warning"
    moved = GROWN.assign(region_code=7000.0)
    report = check_dataset(moved, "late", "classification", SETTINGS, contract)
    (found,) = [item for item in report.findings if item.column == "region_code"]
    assert found.severity == "problem"
