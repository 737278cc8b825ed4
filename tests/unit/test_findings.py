"""Finding and DataValidationError: JSON form, plain-message compatibility, hints."""

from __future__ import annotations

import json
import pickle
import re

from shipyard.errors import DataValidationError
from shipyard.findings import Code, Finding, hints, problem, warning


def test_finding_dict_is_plain_json_and_round_trips():
    finding = problem("age", Code.OUT_OF_RANGE, "column 'age': 9.0% of values ...", "raise the tolerance")
    data = finding.to_dict()
    assert json.loads(json.dumps(data)) == {
        "column": "age",
        "severity": "problem",
        "code": "out_of_range",
        "message": "column 'age': 9.0% of values ...",
        "hint": "raise the tolerance",
    }
    assert Finding.from_dict(data) == finding


def test_an_unknown_code_in_a_record_reads_as_invalid():
    finding = Finding.from_dict({"column": None, "severity": "problem", "code": "from_the_future", "message": "m"})
    assert (finding.code, finding.hint) == (Code.INVALID, "")


def test_codes_are_unique_snake_case_strings():
    values = [code.value for code in Code.__members__.values()]  # an Enum hides a repeated value as an alias
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", value) for value in values)


def test_a_plain_message_becomes_an_invalid_problem_with_its_column():
    assert Finding.from_message("column 'age': too odd") == Finding(
        "age", "problem", Code.INVALID, "column 'age': too odd"
    )
    assert Finding.from_message("table: no rows").column is None
    assert Finding.from_message("<table>: no feature columns besides the target").column is None


def test_data_validation_error_still_takes_plain_strings():
    error = DataValidationError(["column 'age': bad", "table: no rows"])
    assert error.problems == ("column 'age': bad", "table: no rows")
    assert [(finding.column, finding.code) for finding in error.findings] == [
        ("age", Code.INVALID),
        (None, Code.INVALID),
    ]
    assert str(error) == "data validation failed (2 problems): column 'age': bad; table: no rows"


def test_data_validation_error_carries_findings_and_their_messages():
    finding = problem(None, Code.EMPTY_FILE, "table: 'x.csv' has no data rows (the file is empty)", "check the file")
    error = DataValidationError([finding])
    assert error.findings == (finding,)
    assert error.problems == (finding.message,)
    assert str(error) == "data validation failed: table: 'x.csv' has no data rows (the file is empty)"


def test_one_string_is_one_problem_not_one_per_character():
    assert DataValidationError("table: no rows").problems == ("table: no rows",)
    copy = pickle.loads(pickle.dumps(DataValidationError(["table: no rows"])))
    assert "table: no rows" in str(copy)


def test_hints_are_the_distinct_hints_of_problems_only():
    found = [
        problem("a", Code.OUT_OF_RANGE, "column 'a': ...", "raise it"),
        problem("b", Code.OUT_OF_RANGE, "column 'b': ...", "raise it"),
        problem("c", Code.INFINITE_VALUES, "column 'c': ..."),
        warning("d", Code.UNSEEN_CATEGORY, "column 'd': ...", "a warning's hint"),
        problem("e", Code.MISSING_COLUMN, "column 'e': ...", "new contract").to_dict(),
    ]
    assert hints(found) == ["raise it", "new contract"]


def test_a_data_validation_error_survives_pickling_unchanged():
    import pickle

    from shipyard.errors import DataValidationError
    from shipyard.findings import Code, problem

    error = DataValidationError([problem("age", Code.OUT_OF_RANGE, "column 'age': 90.0% outside", "convert it back")])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "data validation failed: column 'age': 90.0% outside"
    assert copy.findings == error.findings
