"""Every validation check, inferring a contract, and the report, on tiny DataFrames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.config import ValidationSettings
from shipyard.errors import ConfigError, DataValidationError
from shipyard.findings import Code, Finding
from shipyard.stages.contract import ColumnContract, DataContract
from shipyard.stages.ingest import ingest_table
from shipyard.stages.validate import (
    ValidationReport,
    check_dataset,
    infer_contract,
    validate_dataset,
)
from tests.unit.tables import ROWS, churn_frame, regression_frame

#: The shipped defaults, spelled out so that a change to them shows up here.
SETTINGS = ValidationSettings(
    min_rows=20,
    max_unseen_category_fraction=0.5,
    max_out_of_range_fraction=0.5,
    max_range_extension=2.0,
    max_far_out_of_range_fraction=0.05,
    max_missing_fraction_increase=0.2,
)


def check(frame, target="churned", task="classification", contract=None, settings=SETTINGS) -> ValidationReport:
    return check_dataset(frame, target, task, settings, contract)


def only_problem(report: ValidationReport) -> str:
    assert not report.ok
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


# --- a clean table passes ----------------------------------------------------------------------


def test_clean_table_with_missing_feature_values_passes():
    frame = churn_frame()
    report = check(frame)
    assert report.ok and report.problems == () and report.warnings == ()
    assert (report.rows, report.columns, report.checked_against) == (ROWS, 5, "inferred")


def test_table_passes_against_its_own_contract():
    frame = churn_frame()
    report = check(frame, contract=infer_contract(frame, "churned", "classification"))
    assert report.ok and report.warnings == () and report.checked_against == "contract"


def test_regression_table_passes_against_its_own_contract():
    frame = regression_frame()
    assert check(frame, "value", "regression", infer_contract(frame, "value", "regression")).ok


# --- checks that need no contract --------------------------------------------------------------


def test_duplicate_column_names():
    frame = pd.concat([churn_frame(), churn_frame()[["age"]]], axis=1)
    assert only_problem(check(frame)) == "column 'age': appears 2 times; column names must be unique"


def test_target_missing_from_columns():
    problem = only_problem(check(churn_frame().drop(columns="churned")))
    assert problem.startswith("column 'churned': the target column is missing from the data")
    assert "'age'" in problem  # lists the columns that are there


def test_target_all_missing():
    frame = churn_frame()
    frame["churned"] = np.nan
    assert only_problem(check(frame)) == f"column 'churned': the target has no values (all {ROWS} rows are missing)"


def test_target_constant():
    frame = churn_frame()
    frame["churned"] = "yes"
    problem = only_problem(check(frame))
    assert problem.startswith("column 'churned': the target has a single value 'yes'")
    assert "at least two distinct values" in problem


def test_regression_target_constant():
    frame = regression_frame()
    frame["value"] = 3.0
    assert "single value" in only_problem(check(frame, "value", "regression"))


def test_some_target_values_missing_is_a_warning_not_a_problem():
    frame = churn_frame()
    frame.loc[[0, 1], "churned"] = np.nan
    report = check(frame)
    assert report.ok
    assert report.warnings == (f"column 'churned': 2 of {ROWS} rows (5.0%) have no target value; training drops them",)


def test_fewer_rows_than_min_rows():
    problem = only_problem(check(churn_frame(12)))
    assert problem == "table: 12 rows, fewer than the minimum of 20 (validation.min_rows)"


def test_min_rows_counts_labelled_rows_only():
    frame = churn_frame(24)
    frame.loc[:5, "churned"] = np.nan
    assert "18 rows with a target value, fewer than the minimum of 20" in only_problem(check(frame))


def test_no_rows_at_all():
    report = check(churn_frame().iloc[:0])
    assert not report.ok and "table: the data has no rows" in report.problems


def test_feature_entirely_missing():
    frame = churn_frame()
    frame["income"] = np.nan
    assert only_problem(check(frame)) == (f"column 'income': all {ROWS} values are missing; drop the column or fill it")


def test_infinities_in_a_numeric_column():
    frame = churn_frame()
    frame.loc[[2, 4, 6], "age"] = [np.inf, -np.inf, np.inf]
    problem = only_problem(check(frame))
    assert problem.startswith("column 'age': 3 infinite value(s)")


def test_classification_class_with_one_row():
    frame = churn_frame()
    frame.loc[7, "churned"] = "maybe"
    problem = only_problem(check(frame))
    assert problem.startswith("column 'churned': 1 class(es) with fewer than 2 rows: 'maybe' (1 row)")
    assert "stratified holdout needs at least 2 rows per class" in problem


def test_regression_does_not_check_class_sizes():
    assert check(regression_frame(), "value", "regression").ok  # every value is unique


def test_regression_target_must_be_numeric():
    frame = regression_frame()
    frame["value"] = np.array(["low", "high"] * (ROWS // 2), dtype=object)
    problem = only_problem(check(frame, "value", "regression"))
    assert problem == "column 'value': a regression target must be numeric, found text such as 'low', 'high'"


# A numeric column with a few bad cells: one typo must not silently turn it into text for good.


def with_text_cells(frame: pd.DataFrame, column: str, cells: dict[int, str]) -> pd.DataFrame:
    """``frame`` with ``column`` as ingest would read it when some cells hold text: str values, NaN gaps."""
    values = pd.Series([np.nan if pd.isna(value) else f"{value:g}" for value in frame[column]], dtype=object)
    for row, text in cells.items():
        values[row] = text
    frame = frame.copy()
    frame[column] = values
    return frame


def test_numeric_column_with_one_text_cell_is_a_problem():
    frame = with_text_cells(churn_frame(), "age", {3: "abc"})
    report = check(frame)
    assert only_problem(report) == (
        "column 'age': 1 of 40 values is not a number ('abc'), so the column would be read as text; "
        "fix the cell or write NA for a missing value"
    )
    assert {summary.name: summary.status for summary in report.column_summaries}["age"] == "problem"


def test_text_cells_count_only_non_missing_values_and_quote_at_most_three():
    frame = with_text_cells(churn_frame(200), "income", {0: "x", 1: "y", 2: "z", 4: "x", 5: "w"})  # 20 missing
    assert only_problem(check(frame)) == (
        "column 'income': 5 of 180 non-missing values are not numbers ('x', 'y', 'z', ...), so the column "
        "would be read as text; fix the cells or write NA for missing values"
    )


def test_up_to_five_percent_text_is_flagged_but_more_is_not():
    five = with_text_cells(churn_frame(100), "age", {row: "?" for row in range(5)})
    assert only_problem(check(five)).startswith("column 'age': 5 of 100 values are not numbers ('?')")
    six = with_text_cells(churn_frame(100), "age", {row: f"code{row}" for row in range(6)})
    assert check(six).ok  # 6% text: a column of codes, not a numeric column with typos


def test_thousands_separator_is_flagged_with_a_hint():
    frame = with_text_cells(churn_frame(), "income", {0: "1,234"})
    problem = only_problem(check(frame))
    assert problem.startswith("column 'income': 1 of 36 non-missing values is not a number ('1,234')")
    assert "no thousands separators" in problem


def test_booleans_text_columns_and_code_columns_are_not_flagged():
    frame = churn_frame()
    frame["active"] = np.arange(ROWS) % 3 == 0  # bool dtype
    frame["flag"] = np.array(["True", "False"] * (ROWS // 2), dtype=object)  # booleans as ingest gives them
    frame["code"] = np.array(["A1", "B2", "3", "C4"] * (ROWS // 4), dtype=object)
    frame["plan"] = frame["plan"].where(np.arange(ROWS) != 0, "3")  # text with one number in it
    frame["zip"] = np.array([f"{10000 + i}" for i in range(ROWS)], dtype=object)  # digits kept as text
    assert check(frame).ok


def test_all_missing_column_is_reported_once():
    frame = churn_frame()
    frame["income"] = pd.Series([np.nan] * ROWS, dtype=object)
    assert only_problem(check(frame)).startswith("column 'income': all 40 values are missing")


def test_regression_target_with_one_text_cell():
    frame = with_text_cells(regression_frame(), "value", {7: "n/a?"})
    assert only_problem(check(frame, "value", "regression")) == (
        "column 'value': a regression target must be numeric, but 1 of 40 values is not a number ('n/a?'); "
        "fix the cell or write NA for a missing value"
    )


def test_regression_target_with_text_is_reported_once_with_a_contract():
    regression_contract = infer_contract(regression_frame(), "value", "regression")
    frame = with_text_cells(regression_frame(), "value", {7: "abc"})
    assert only_problem(check(frame, "value", "regression", regression_contract)).startswith(
        "column 'value': a regression target must be numeric, but 1 of 40 values is not a number ('abc')"
    )


def test_text_cells_are_flagged_even_when_a_contract_recorded_the_column_as_text():
    # A contract inferred from the bad data before this check existed says 'age' is categorical.
    bad = with_text_cells(churn_frame(), "age", {3: "abc"})
    stale_contract = infer_contract(bad, "churned", "classification")
    assert stale_contract.column("age").kind == "categorical"
    assert only_problem(check(bad, contract=stale_contract)).startswith(
        "column 'age': 1 of 40 values is not a number ('abc')"
    )


def test_text_cells_in_a_csv_stop_validation_end_to_end(tmp_path):
    lines = ["customer,monthly_charges,paperless,churned"]
    for row in range(40):
        charges = "abc" if row == 17 else "NA" if row == 5 else "" if row == 9 else f"{20 + row * 1.5:.2f}"
        lines.append(f"c{row},{charges},{'Yes' if row % 2 else 'No'},{'yes' if row % 3 else 'no'}")
    path = tmp_path / "churn.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = ingest_table(str(path))
    assert "monthly_charges" in table.categorical_columns  # the bad cell made it text
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(table.frame, "churned", "classification", SETTINGS)
    assert caught.value.problems == (
        "column 'monthly_charges': 1 of 38 non-missing values is not a number ('abc'), so the column would be "
        "read as text; fix the cell or write NA for a missing value",
    )

    path.write_text("\n".join(lines).replace(",abc,", ",NA,") + "\n", encoding="utf-8")  # the suggested fix
    fixed = ingest_table(str(path))
    assert "monthly_charges" in fixed.numeric_columns
    assert validate_dataset(fixed.frame, "churned", "classification", SETTINGS).ok


def test_unknown_task_is_a_config_error():
    with pytest.raises(ConfigError, match="ranking"):
        check(churn_frame(), task="ranking")


def test_non_string_column_names_are_handled():
    frame = churn_frame()
    frame[7] = 1.0
    assert check(frame).ok


# --- checks against a contract -----------------------------------------------------------------


@pytest.fixture
def contract() -> DataContract:
    return infer_contract(churn_frame(), "churned", "classification")


def test_column_in_contract_missing_from_data(contract):
    report = check(churn_frame().drop(columns="plan"), contract=contract)
    assert only_problem(report) == "column 'plan': in the contract but missing from the data"


def test_column_in_data_missing_from_contract(contract):
    frame = churn_frame()
    frame["surprise"] = 1.0
    assert only_problem(check(frame, contract=contract)) == (
        "column 'surprise': in the data but not in the contract (unexpected extra column)"
    )


def test_missing_target_is_reported_once_with_a_contract(contract):
    problem = only_problem(check(churn_frame().drop(columns="churned"), contract=contract))
    assert "target column is missing" in problem


def test_numeric_column_holding_text(contract):
    frame = churn_frame()
    frame["age"] = frame["age"].astype(object)
    frame.loc[3, "age"] = "abc"
    assert only_problem(check(frame, contract=contract)) == (  # reported once, as a kind mismatch
        "column 'age': expected numeric values, but 1 of 40 values is not a number ('abc'); "
        "fix the cell or write NA for a missing value"
    )


def test_numeric_column_holding_only_text(contract):
    frame = churn_frame()
    frame["age"] = np.array(["young", "old"] * (ROWS // 2), dtype=object)
    assert only_problem(check(frame, contract=contract)) == (
        "column 'age': expected numeric values, found only text such as 'young', 'old'"
    )


def test_numeric_column_holding_much_text_names_the_values(contract):
    frame = with_text_cells(churn_frame(), "age", {row: f"t{row}" for row in range(10)})
    assert only_problem(check(frame, contract=contract)) == (
        "column 'age': expected numeric values, but 10 of 40 values are not numbers ('t0', 't1', 't2', ...); "
        "fix the cells or write NA for missing values"
    )


def test_numeric_column_stored_as_digit_strings(contract):
    frame = with_text_cells(churn_frame(), "age", {})
    assert only_problem(check(frame, contract=contract)) == (
        "column 'age': expected numeric values, found numbers stored as text such as '20', '21', '22'; "
        "store the column as numbers"
    )


def test_categorical_column_holding_numbers(contract):
    frame = churn_frame()
    frame["plan"] = 1.0
    assert only_problem(check(frame, contract=contract)).startswith(
        "column 'plan': expected categorical (text) values, found only numbers such as 1.0"
    )


def test_column_with_no_values_has_no_kind_to_compare(contract):
    frame = churn_frame()
    frame["plan"] = np.nan  # float64 now, but that says nothing about its kind
    assert only_problem(check(frame, contract=contract)).startswith("column 'plan': all 40 values are missing")


def test_target_differs_from_the_contract(contract):
    frame = churn_frame().rename(columns={"churned": "left"})
    report = check(frame, target="left", contract=contract)
    assert any(
        problem.startswith("column 'left': used as the target, but the contract's target is 'churned'")
        and "model name of its own" in problem
        for problem in report.problems
    )


def test_task_differs_from_the_contract():
    frame = regression_frame()
    regression_contract = infer_contract(frame, "value", "regression")
    frame["value"] = np.array(["a", "b"] * (ROWS // 2), dtype=object)
    report = check(frame, "value", "classification", regression_contract)
    assert "table: the task is classification but the contract was inferred for regression" in report.problems


def test_missing_share_above_tolerance(contract):
    assert contract.column("income").missing_fraction == pytest.approx(0.1)
    frame = churn_frame()
    frame.loc[:7, "income"] = np.nan  # 8 + 3 of 40 = 27.5%: within 10% + 20%
    assert check(frame, contract=contract).ok
    frame.loc[:15, "income"] = np.nan  # 16 + 2 of 40 = 45%
    problem = only_problem(check(frame, contract=contract))
    assert problem == (
        "column 'income': 45.0% of values (18 of 40) are missing; "
        "the contract allows up to 30.0% (10.0% seen before + 20.0% tolerance)"
    )


def test_new_missing_values_within_tolerance_are_a_warning(contract):
    frame = churn_frame()
    frame.loc[0, "age"] = np.nan
    report = check(frame, contract=contract)
    assert report.ok
    assert report.warnings == ("column 'age': 2.5% of values (1 of 40) are missing; the contract data had none",)


def test_unseen_categories_above_tolerance(contract):
    frame = churn_frame()
    frame.loc[:20, "plan"] = frame.loc[:20, "plan"].str.upper()  # 21 of 40 relabelled: just over half
    problem = only_problem(check(frame, contract=contract))
    assert problem == (
        "column 'plan': 52.5% of values (21 of 40) are categories not seen in the contract, "
        "e.g. 'BASIC', 'PRO', 'TEAM'; with more than 50.0% unseen it no longer looks like itself: "
        "were its labels recoded?"
    )


def test_unseen_categories_at_the_tolerance_are_growth(contract):
    frame = churn_frame()
    frame.loc[:19, "plan"] = frame.loc[:19, "plan"].str.upper()  # 20 of 40: not more than half
    report = check(frame, contract=contract)
    assert report.ok
    assert report.warnings[0].startswith("column 'plan': 50.0% of values (20 of 40) are categories not seen")


def test_unseen_categories_within_tolerance_are_a_warning(contract):
    frame = churn_frame()
    frame.loc[0, "plan"] = "enterprise"
    report = check(frame, contract=contract)
    assert report.ok and len(report.warnings) == 1
    assert report.warnings[0].startswith("column 'plan': 2.5% of values (1 of 40) are categories not seen")


def test_out_of_range_far_out_above_tolerance(contract):
    frame = churn_frame()
    frame.loc[[0, 1, 2], "income"] = [-5.0, 99999.0, 99999.0]  # -5.0 is half a width below, 99999.0 fifty above
    problem = only_problem(check(frame, contract=contract))
    assert problem == (
        "column 'income': 8.3% of values (3 of 36: 1 below, 2 above) are outside the contract range "
        "[1000.0, 2950.0], e.g. -5.0, 99999.0; 2 of them (5.6% of values) lie more than 2 range widths "
        "beyond it: a jump, not growth (tolerance 5.0%)"
    )


def test_out_of_range_far_out_within_tolerance_is_a_warning(contract):
    frame = churn_frame()
    frame.loc[[0, 1], "income"] = [-5.0, 99999.0]  # one far value of 36: 2.8%
    report = check(frame, contract=contract)
    assert report.ok and len(report.warnings) == 1
    assert report.warnings[0].startswith("column 'income': 5.6% of values (2 of 36: 1 below, 1 above) are outside")


def test_values_just_beyond_twice_the_width_are_far_out(contract):
    frame = churn_frame()  # income in [1000, 2950]: width 1950, far beyond 2950 + 2 * 1950 = 6850
    frame.loc[[0, 1], "income"] = 6850.0
    assert check(frame, contract=contract).ok
    frame.loc[[0, 1], "income"] = 6851.0  # 2 of 36 far out: 5.6%
    assert "lie more than 2 range widths beyond it" in only_problem(check(frame, contract=contract))


def test_most_values_outside_is_not_growth(contract):
    frame = churn_frame()  # age in [20, 59]: 21 of 40 rows moved just above it
    frame.loc[:20, "age"] = 60.0
    problem = only_problem(check(frame, contract=contract))
    assert problem.startswith("column 'age': 52.5% of values (21 of 40) are outside the contract range [20.0, 59.0]")
    assert problem.endswith("; with more than 50.0% outside it no longer looks like itself: has its unit changed?")
    frame.loc[20, "age"] = 59.0  # 20 of 40: not more than half
    assert check(frame, contract=contract).ok


def test_out_of_range_within_tolerance_is_a_warning(contract):
    frame = churn_frame()
    frame.loc[0, "age"] = 200.0
    report = check(frame, contract=contract)
    assert report.ok and len(report.warnings) == 1
    assert report.warnings[0].startswith("column 'age': 2.5% of values (1 of 40) are outside the contract range")


def test_tolerances_come_from_the_settings(contract):
    frame = churn_frame()
    frame.loc[[0, 1, 2], "income"] = 99999.0
    frame.loc[[0, 4, 8], "plan"] = "enterprise"
    assert not check(frame, contract=contract).ok  # 3 of 36 values far out
    loose = ValidationSettings(max_far_out_of_range_fraction=0.1)
    report = check(frame, contract=contract, settings=loose)
    assert report.ok and len(report.warnings) == 2
    wide = ValidationSettings(max_range_extension=60.0)  # 99999.0 lies 50 widths beyond
    assert check(frame, contract=contract, settings=wide).ok
    strict = ValidationSettings(max_out_of_range_fraction=0.05, max_unseen_category_fraction=0.05)
    frame.loc[[0, 1, 2], "income"] = 3000.0  # growth: just beyond the range
    assert check(frame, contract=contract).ok
    report = check(frame, contract=contract, settings=strict)
    assert [(finding.column, finding.code) for finding in report.findings if finding.is_problem] == [
        ("income", Code.OUT_OF_RANGE),
        ("plan", Code.UNSEEN_CATEGORY),
    ]


def test_new_class_in_a_classification_target_is_a_warning(contract):
    frame = churn_frame()
    frame.loc[:9, "churned"] = "paused"  # a quarter of the rows: far above any category tolerance
    report = check(frame, contract=contract)
    assert report.ok
    assert report.warnings == ("column 'churned': 1 new class(es) not in the contract, 'paused' (10 of 40 rows)",)


def test_regression_target_out_of_range_is_a_warning():
    frame = regression_frame()
    regression_contract = infer_contract(frame, "value", "regression")
    frame["value"] = frame["value"] * 10  # most values far above the old range
    report = check(frame, "value", "regression", regression_contract)
    assert report.ok
    assert len(report.warnings) == 1 and report.warnings[0].startswith("column 'value': ")


def test_high_cardinality_text_is_an_open_set():
    frame = churn_frame(80)
    frame["customer_id"] = [f"c{i:04d}" for i in range(80)]
    id_contract = infer_contract(frame, "churned", "classification")
    assert id_contract.column("customer_id").categories is None
    assert id_contract.column("plan").categories == ("basic", "pro", "team")
    frame["customer_id"] = [f"new{i:04d}" for i in range(80)]
    assert check(frame, contract=id_contract).ok


# --- infer_contract ----------------------------------------------------------------------------


def test_infer_contract_records_every_column_in_order():
    frame = churn_frame()
    frame.loc[5, "age"] = np.inf  # infinities are not part of the range
    contract = infer_contract(frame, "churned", "classification")
    assert (contract.target, contract.task, contract.row_count) == ("churned", "classification", ROWS)
    assert [column.name for column in contract.columns] == ["age", "income", "plan", "region", "churned"]
    assert contract.column("age") == ColumnContract("age", "numeric", False, 0.0, min=20.0, max=59.0)
    income = contract.column("income")
    assert income.nullable and income.missing_fraction == pytest.approx(0.1)
    assert contract.column("region").categories == ("north", "south")
    assert contract.column("churned").categories == ("no", "yes")
    assert contract.column("nope") is None


def test_infer_contract_needs_the_target():
    with pytest.raises(DataValidationError, match="column 'label': the target column is missing"):
        infer_contract(churn_frame(), "label", "classification")


def test_infer_contract_rejects_duplicate_names():
    with pytest.raises(DataValidationError, match="appears 2 times"):
        infer_contract(pd.concat([churn_frame(), churn_frame()[["age"]]], axis=1), "churned", "classification")


def test_infer_contract_rejects_unknown_task():
    with pytest.raises(ConfigError):
        infer_contract(churn_frame(), "churned", "clustering")


# --- validate_dataset and the report -----------------------------------------------------------


def test_validate_dataset_raises_with_every_problem(contract):
    frame = churn_frame().drop(columns="plan")
    frame.loc[0, "age"] = np.inf
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(frame, "churned", "classification", SETTINGS, contract)
    assert len(caught.value.problems) == 2
    assert "column 'plan'" in str(caught.value) and "column 'age'" in str(caught.value)


def test_validate_dataset_returns_the_report_when_ok(contract):
    report = validate_dataset(churn_frame(), "churned", "classification", SETTINGS, contract)
    assert report.ok and report.checked_against == "contract"


def test_report_dict_and_markdown(contract):
    frame = churn_frame()
    frame.loc[0, "plan"] = "a|b"  # a pipe must not break the Markdown table
    frame.loc[1, "income"] = np.inf
    report = check(frame, contract=contract)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["ok"] is False and data["problems"] == list(report.problems)
    assert [summary["name"] for summary in data["column_summaries"]] == list(frame.columns)

    markdown = report.to_markdown()
    assert markdown.startswith("# Data validation")
    assert "**FAILED**" in markdown and "## Problems" in markdown and "## Warnings" in markdown
    assert "## Columns" in markdown and "| churned | target | categorical |" in markdown
    assert "a\\|b" in markdown
    summaries = {summary.name: summary.status for summary in report.column_summaries}
    assert summaries == {"age": "ok", "income": "problem", "plan": "warning", "region": "ok", "churned": "ok"}


def test_passing_report_markdown_says_passed():
    markdown = check(churn_frame()).to_markdown()
    assert "**PASSED**" in markdown and "FAILED" not in markdown


# --- findings: codes, columns and hints --------------------------------------------------------


def only_finding(report: ValidationReport) -> Finding:
    assert len(report.findings) == 1, report.findings
    return report.findings[0]


def test_each_check_reports_its_code_and_column(contract):
    no_target = churn_frame().drop(columns="churned")
    many_missing = churn_frame()
    many_missing.loc[:15, "income"] = np.nan
    new_missing = churn_frame()
    new_missing.loc[0, "age"] = np.nan
    new_class = churn_frame()
    new_class.loc[:9, "churned"] = "paused"
    cases = [
        (check(pd.concat([churn_frame(), churn_frame()[["age"]]], axis=1)), "age", Code.DUPLICATE_COLUMN),
        (check(no_target), "churned", Code.MISSING_TARGET),
        (check(churn_frame(12)), None, Code.TOO_FEW_ROWS),
        (check(churn_frame().assign(income=np.nan)), "income", Code.ALL_MISSING),
        (check(churn_frame().assign(churned="yes")), "churned", Code.CONSTANT_TARGET),
        (check(with_text_cells(churn_frame(), "age", {3: "abc"})), "age", Code.NUMBERS_WITH_TEXT),
        (check(churn_frame().drop(columns="plan"), contract=contract), "plan", Code.MISSING_COLUMN),
        (check(churn_frame().assign(surprise=1.0), contract=contract), "surprise", Code.EXTRA_COLUMN),
        (check(churn_frame().assign(plan=1.0), contract=contract), "plan", Code.WRONG_KIND),
        (check(many_missing, contract=contract), "income", Code.TOO_MANY_MISSING),
        (check(new_missing, contract=contract), "age", Code.NEW_MISSING),
        (check(new_class, contract=contract), "churned", Code.NEW_CLASS),
    ]
    for report, column, code in cases:
        finding = only_finding(report)
        assert (finding.column, finding.code) == (column, code), finding


def test_out_of_range_problem_hints_at_its_own_tolerance_and_a_new_contract(contract):
    frame = churn_frame()
    frame["income"] = frame["income"] * 1000  # a unit change
    finding = only_finding(check(frame, contract=contract))
    assert (finding.column, finding.severity, finding.code) == ("income", "problem", Code.OUT_OF_RANGE)
    assert "validation.max_out_of_range_fraction" in finding.hint and "shipyard data contract" in finding.hint
    assert "convert it back" in finding.hint


def test_far_out_problem_hints_at_its_own_tolerance(contract):
    frame = churn_frame()
    frame.loc[[0, 1, 2], "income"] = [-5.0, 99999.0, 99999.0]
    finding = only_finding(check(frame, contract=contract))
    assert (finding.column, finding.severity, finding.code) == ("income", "problem", Code.OUT_OF_RANGE)
    assert "validation.max_far_out_of_range_fraction" in finding.hint and "shipyard data contract" in finding.hint


def test_unseen_categories_hint_at_their_own_tolerance(contract):
    frame = churn_frame()
    frame["plan"] = frame["plan"].map({"basic": "b", "pro": "p", "team": "t"})
    finding = only_finding(check(frame, contract=contract))
    assert (finding.severity, finding.code) == ("problem", Code.UNSEEN_CATEGORY)
    assert "validation.max_unseen_category_fraction" in finding.hint


def test_a_tolerated_change_is_a_warning_pointing_at_the_drift_report(contract):
    frame = churn_frame()
    frame.loc[0, "age"] = 200.0
    frame.loc[0, "plan"] = "enterprise"
    findings = check(frame, contract=contract).findings
    assert [(finding.severity, finding.code) for finding in findings] == [
        ("warning", Code.OUT_OF_RANGE),
        ("warning", Code.UNSEEN_CATEGORY),
    ]
    assert all("the drift report will show whether it matters" in finding.hint for finding in findings)


def test_problems_whose_message_says_the_fix_have_no_hint():
    frame = churn_frame()
    frame.loc[[2, 4], "age"] = np.inf
    finding = only_finding(check(frame))
    assert finding.code == Code.INFINITE_VALUES and finding.hint == ""


def test_column_status_comes_from_the_findings_column_not_the_message():
    frame = churn_frame()
    frame["a"] = 1.0
    frame["a': b"] = 2.0  # its messages start "column 'a': b'...", as if they were about 'a'
    frame.loc[1, "a': b"] = np.inf
    report = check(frame)
    assert only_finding(report).column == "a': b"
    statuses = {summary.name: summary.status for summary in report.column_summaries}
    assert (statuses["a': b"], statuses["a"]) == ("problem", "ok")


def test_validate_dataset_raises_with_the_problem_findings(contract):
    frame = churn_frame().drop(columns="plan")
    frame.loc[0, "age"] = 200.0  # a warning: not part of the error
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(frame, "churned", "classification", SETTINGS, contract)
    assert [(finding.column, finding.code) for finding in caught.value.findings] == [("plan", Code.MISSING_COLUMN)]


def test_report_dict_and_markdown_carry_findings_and_hints(contract):
    frame = churn_frame()
    frame["income"] = frame["income"] / 1000  # kilo-units: every value below the range
    report = check(frame, contract=contract)
    data = report.to_dict()
    assert data["findings"] == [finding.to_dict() for finding in report.findings]
    assert data["findings"][0]["code"] == "out_of_range" and data["findings"][0]["column"] == "income"
    assert "| # | Message | Fix |" in report.to_markdown()
    assert "validation.max_out_of_range_fraction" in report.to_markdown()


# --- the validate step of a training run ------------------------------------------------------


def test_check_training_data_resolves_the_task_records_the_report_and_infers_the_contract(tmp_path):
    from shipyard.stages.validate import check_training_data
    from shipyard.store.registry import ModelRegistry

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    checked = check_training_data(
        registry, churn_frame(), target="churned", task="auto", model_name="churn", contract_uri="",
        settings=ValidationSettings(), run_id="run-1",
    )  # fmt: skip
    assert checked.task == "classification" and checked.report.ok
    assert checked.contract is not None and checked.contract.target == "churned"
    assert registry.get_run_record("run-1")["validation"]["ok"] is True
    checked.report.raise_for_problems()  # no problems: nothing raised


def test_check_training_data_records_problems_and_infers_no_contract(tmp_path):
    from shipyard.stages.validate import check_training_data
    from shipyard.store.registry import ModelRegistry

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = churn_frame()
    frame["age"] = np.inf
    checked = check_training_data(
        registry, frame, target="churned", task="classification", model_name="churn", contract_uri="",
        settings=ValidationSettings(), run_id="run-2",
    )  # fmt: skip
    assert checked.contract is None and not checked.report.ok
    assert registry.get_run_record("run-2")["validation"]["ok"] is False
    with pytest.raises(DataValidationError) as err:
        checked.report.raise_for_problems()
    assert [finding.code for finding in err.value.findings] == [Code.INFINITE_VALUES]
