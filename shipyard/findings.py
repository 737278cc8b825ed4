"""One result of a data check: which column, how bad, a stable code, the message and its fix.

Ingest and validation report what they find as :class:`Finding` values, so a report, a run
record or the CLI can group findings by column, count them by code and print the fix that
belongs to each one, without re-reading the message text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

Severity = Literal["problem", "warning"]
PROBLEM: Severity = "problem"
WARNING: Severity = "warning"


class Code(str, Enum):
    """What a finding is about; the values are stable and appear in JSON reports and run records."""

    # the file (ingest)
    NO_SUCH_FILE = "no_such_file"  # nothing at the path or key
    NOT_A_FILE = "not_a_file"  # a directory, a bucket or a prefix
    UNREADABLE = "unreadable"  # a malformed or unsupported URI, or a file that cannot be read
    EMPTY_FILE = "empty_file"  # no bytes, or only whitespace
    BINARY_FILE = "binary_file"  # NUL bytes: not a text file
    GZIP_FILE = "gzip_file"  # a gzip-compressed CSV
    NOT_UTF8 = "not_utf8"  # text in another encoding
    NOT_COMMA_SEPARATED = "not_comma_separated"  # one column whose name holds ';' or a tab
    UNPARSEABLE = "unparseable"  # ragged rows, an unclosed quote, a garbled Parquet file
    # the table
    DUPLICATE_COLUMN = "duplicate_column"  # a column name that appears more than once
    NO_ROWS = "no_rows"  # a header but no data rows
    TOO_FEW_ROWS = "too_few_rows"  # fewer (labelled) rows than validation.min_rows
    # the target
    MISSING_TARGET = "missing_target"  # the target is not a column of the data
    MISSING_TARGET_VALUES = "missing_target_values"  # some rows have no target (warning)
    CONSTANT_TARGET = "constant_target"  # a single distinct target value
    RARE_CLASS = "rare_class"  # a class with fewer than 2 rows
    TARGET_NOT_NUMERIC = "target_not_numeric"  # a regression target holding text
    # a column's values, with or without a contract
    ALL_MISSING = "all_missing"  # every value missing
    INFINITE_VALUES = "infinite_values"  # inf or -inf in a numeric column
    NUMBERS_WITH_TEXT = "numbers_with_text"  # a numeric column with a few text cells
    # against the data contract
    TASK_CHANGED = "task_changed"  # the contract was inferred for the other task
    TARGET_CHANGED = "target_changed"  # the contract was inferred for another target
    MISSING_COLUMN = "missing_column"  # in the contract, not in the data
    EXTRA_COLUMN = "extra_column"  # in the data, not in the contract
    WRONG_KIND = "wrong_kind"  # numeric where the contract says categorical, or the reverse
    TOO_MANY_MISSING = "too_many_missing"  # missing share above the contract's + tolerance
    NEW_MISSING = "new_missing"  # missing values where the contract data had none (warning)
    UNSEEN_CATEGORY = "unseen_category"  # categories the contract has not seen
    NEW_CLASS = "new_class"  # a class label the contract has not seen (warning)
    OUT_OF_RANGE = "out_of_range"  # numbers outside the contract's [min, max]
    # too good to be true
    LEAKAGE = "leakage"  # a feature that gives the target away (warning, or a problem with validation.leakage: block)
    PERFECT_SCORE = "perfect_score"  # a holdout metric at its perfect value (warning, in the run summary)
    # a plain message from code that does not classify its findings
    INVALID = "invalid"


def _tolerance_hint(setting: str) -> str:
    return (
        f"if the change is intended, raise validation.{setting} in --config, or write a new contract "
        "with `shipyard data contract` and pass it with --contract"
    )


#: The fix for a data change a contract check caught; a new contract accepts it.
NEW_CONTRACT_HINT = (
    "if the change is intended, write a new contract with `shipyard data contract` and pass it with --contract"
)
OUT_OF_RANGE_HINT = "if the column changed unit (grams to kilograms, °C to °F), convert it back; " + _tolerance_hint(
    "max_out_of_range_fraction"
)
FAR_OUT_OF_RANGE_HINT = "if the column changed unit (grams to kilograms), convert it back; " + _tolerance_hint(
    "max_far_out_of_range_fraction"
)
UNSEEN_CATEGORY_HINT = "if the column's labels were renamed or recoded, map them back; " + _tolerance_hint(
    "max_unseen_category_fraction"
)
#: The note on a tolerated range or category change: growth is not blocked, drift is measured.
GROWTH_HINT = "tolerated as growth (new values in newer rows); the drift report will show whether it matters"
TOO_MANY_MISSING_HINT = _tolerance_hint("max_missing_fraction_increase")

_COLUMN_PREFIX = re.compile(r"column '(.+?)':")


@dataclass(frozen=True)
class Finding:
    """One thing a check found; ``message`` is what users read, ``hint`` the fix for it ('' for none)."""

    column: str | None  # None: the finding is about the file or the whole table
    severity: Severity
    code: Code
    message: str  # names the column ("column 'x': ...") or the table ("table: ...")
    hint: str = ""

    @property
    def is_problem(self) -> bool:
        return self.severity == PROBLEM

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "severity": self.severity,
            "code": self.code.value,
            "message": self.message,
            "hint": self.hint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuilds a finding from :meth:`to_dict` (a run record); an unknown code reads as ``invalid``."""
        codes = {code.value: code for code in Code}
        return cls(
            column=data.get("column"),
            severity=WARNING if data.get("severity") == WARNING else PROBLEM,
            code=codes.get(str(data.get("code")), Code.INVALID),
            message=str(data.get("message", "")),
            hint=str(data.get("hint") or ""),
        )

    @classmethod
    def from_message(cls, message: str) -> Finding:
        """A problem with code ``invalid`` for a plain message; the column comes from a leading ``column 'x':``."""
        match = _COLUMN_PREFIX.match(message)
        return cls(column=match.group(1) if match else None, severity=PROBLEM, code=Code.INVALID, message=message)


def problem(column: str | None, code: Code, message: str, hint: str = "") -> Finding:
    return Finding(column=column, severity=PROBLEM, code=code, message=message, hint=hint)


def warning(column: str | None, code: Code, message: str, hint: str = "") -> Finding:
    return Finding(column=column, severity=WARNING, code=code, message=message, hint=hint)


def hints(findings: Iterable[Finding | Mapping[str, Any]]) -> list[str]:
    """The distinct hints of the problems among ``findings`` (Findings or their dicts), in order."""
    seen: list[str] = []
    for item in findings:
        finding = item if isinstance(item, Finding) else Finding.from_dict(item)
        if finding.is_problem and finding.hint and finding.hint not in seen:
            seen.append(finding.hint)
    return seen
