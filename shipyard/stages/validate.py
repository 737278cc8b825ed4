"""Checks a training table before any model sees it, optionally against a saved data contract.

:func:`check_dataset` always runs the checks that need no history (target usable, enough rows,
no infinities, ...) and, given a :class:`~shipyard.stages.contract.DataContract`, also the
drift-of-shape checks. Each check adds a :class:`~shipyard.findings.Finding`: bad data
is a problem that stops the run, a small tolerated change is a warning.

**Growth or change.** Data that grew by a period has values beyond the contract's ``[min, max]``
and categories it never saw; that is *growth*, a warning (code ``out_of_range`` or
``unseen_category``) whose hint points at the drift report, which says whether it matters. A
feature stops the run only when it no longer looks like itself (the ``validation:`` keys):

- numeric: more than ``max_out_of_range_fraction`` (default 50%) of its finite values lie outside
  ``[min, max]``, as after a unit change (grams to kilograms, °C to °F); or more than
  ``max_far_out_of_range_fraction`` (5%) lie *far* out, further beyond the range than
  ``max_range_extension`` (2) times its width: a jump of orders of magnitude, which a unit change
  makes even when zeros or small values stay inside. Values below and above count together, each
  measured from the bound it crosses. A column constant in the contract has no width, so only the
  share applies to it. A year column of 2020–2022 grown by 2023 has ~25% of rows outside, half a
  width beyond: growth. The same column ×1000 has ~100% outside, ~1000 widths beyond: a change.
  Only ``[min, max]`` is recorded, so a change that maps values into the old range (÷1000 on a
  range starting at 0) is left to the drift report.
- categorical: more than ``max_unseen_category_fraction`` (50%) of its values are in categories
  the contract never saw, as after labels were renamed or recoded.
- a type change and a missing column always stop the run; the target's new classes or new range
  are only flagged, since a retrained model is meant to learn them.

**Too good to be true.** A feature that is the target renamed, or predicts it alone on held-out
rows, is a ``leakage`` finding (:mod:`shipyard.stages.leakage`): a warning, or a problem with
``validation.leakage: block``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.config import ValidationSettings
from shipyard.errors import DataValidationError
from shipyard.findings import (
    FAR_OUT_OF_RANGE_HINT,
    GROWTH_HINT,
    NEW_CONTRACT_HINT,
    OUT_OF_RANGE_HINT,
    PROBLEM,
    TOO_MANY_MISSING_HINT,
    UNSEEN_CATEGORY_HINT,
    WARNING,
    Code,
    Finding,
    Severity,
    problem,
    warning,
)
from shipyard.stages.columns import CATEGORICAL, NUMERIC, column_kinds
from shipyard.stages.contract import ColumnContract, DataContract
from shipyard.stages.leakage import find_leaks
from shipyard.stages.profile import (
    EXAMPLES,
    ColumnProfile,
    format_number,
    non_numeric_examples,
    numbers_with_text,
    optional_number,
    percent,
    profile_column,
    quote,
    quoted,
    quoted_examples,
    table_cell,
    text_cells,
    text_cells_fix,
    text_cells_phrase,
)
from shipyard.stages.task import missing_target, resolve_task
from shipyard.vocabulary import TaskKind, check_task

if TYPE_CHECKING:
    from shipyard.store.registry import ModelRegistry

#: A categorical feature with at least this many distinct values, most of them unique
#: (identifiers, free text), is recorded as an open set: new values are expected, not checked.
OPEN_SET_MIN_DISTINCT = 50
OPEN_SET_MIN_DISTINCT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnSummary:
    """One row of the report's per-column table."""

    name: str
    role: str  # "target" | "feature"
    kind: str
    missing: int
    missing_fraction: float
    distinct: int
    min: float | None
    max: float | None
    status: str  # "ok" | "warning" | "problem"


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on a table: every finding, and a summary per column."""

    rows: int
    columns: int
    findings: tuple[Finding, ...]
    checked_against: str  # "contract" when a saved contract was given, else "inferred"
    column_summaries: tuple[ColumnSummary, ...] = ()

    @property
    def ok(self) -> bool:
        """False when any finding is a problem."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raises DataValidationError carrying the problem findings, if there are any."""
        if not self.ok:
            raise DataValidationError([finding for finding in self.findings if finding.is_problem])

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(finding.message for finding in self.findings if finding.is_problem)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(finding.message for finding in self.findings if not finding.is_problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "columns": self.columns,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "findings": [finding.to_dict() for finding in self.findings],
            "checked_against": self.checked_against,
            "column_summaries": [asdict(summary) for summary in self.column_summaries],
        }

    def to_markdown(self) -> str:
        """The report as Markdown for the Kubeflow UI: verdict, problems, warnings, columns."""
        against = (
            "the saved data contract" if self.checked_against == "contract" else "built-in checks (no saved contract)"
        )
        lines = [
            "# Data validation",
            "",
            f"**{'PASSED' if self.ok else 'FAILED'}**: {self.rows} rows, {self.columns} columns, "
            f"checked against {against}; {len(self.problems)} problem(s), {len(self.warnings)} warning(s).",
            "",
        ]
        for title, is_problem in (("Problems", True), ("Warnings", False)):
            listed = [finding for finding in self.findings if finding.is_problem == is_problem]
            lines += [f"## {title}", ""]
            if listed:
                lines += ["| # | Message | Fix |", "|---|---|---|"]
                lines += [
                    f"| {number} | {table_cell(finding.message)} | {table_cell(finding.hint)} |"
                    for number, finding in enumerate(listed, 1)
                ]
            else:
                lines.append("None.")
            lines.append("")
        if self.column_summaries:
            lines += [
                "## Columns",
                "",
                "| Column | Role | Kind | Missing | Distinct | Min | Max | Status |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for summary in self.column_summaries:
                lines.append(
                    f"| {table_cell(summary.name)} | {summary.role} | {summary.kind} "
                    f"| {summary.missing} ({percent(summary.missing_fraction)}) | {summary.distinct} "
                    f"| {optional_number(summary.min)} | {optional_number(summary.max)} | {summary.status} |"
                )
            lines.append("")
        return "\n".join(lines)


def infer_contract(frame: pd.DataFrame, target: str, task: str) -> DataContract:
    """Records the shape of ``frame`` as the contract later data is checked against.

    Raises:
        ConfigError: ``task`` is not classification or regression.
        DataValidationError: duplicate column names, or ``target`` is not a column.
    """
    check_task(task)
    frame = _with_text_names(frame)
    duplicates = _duplicate_names(frame)
    if duplicates:
        raise DataValidationError(duplicates)
    if target not in frame.columns:
        raise DataValidationError([missing_target(target, frame.columns)])
    columns = tuple(
        _column_contract(name, frame[name], kind, is_target=name == target)
        for name, kind in column_kinds(frame).items()
    )
    return DataContract(target=target, task=task, columns=columns, row_count=len(frame))


def check_dataset(
    frame: pd.DataFrame, target: str, task: str, settings: ValidationSettings, contract: DataContract | None = None
) -> ValidationReport:
    """Runs every check on ``frame`` and reports what it found.

    Without ``contract`` only the checks that need no history run; with one, the columns,
    kinds, missing shares, categories and ranges are compared with it, within the tolerances
    in ``settings``.
    """
    check_task(task)
    frame = _with_text_names(frame)
    checked_against = "inferred" if contract is None else "contract"
    duplicates = _duplicate_names(frame)
    if duplicates:  # every other check would be ambiguous about which column it meant
        return ValidationReport(
            rows=len(frame), columns=len(frame.columns), findings=tuple(duplicates), checked_against=checked_against
        )

    profiles = {name: profile_column(frame[name], kind) for name, kind in column_kinds(frame).items()}
    found: list[Finding] = []
    _check_basics(frame, profiles, target, task, settings, contract, found)
    if not any(finding.is_problem and finding.column == target for finding in found):
        found.extend(find_leaks(frame, target, task, mode=settings.leakage, min_score=settings.leakage_min_score))
    if contract is not None:
        _check_against_contract(profiles, target, task, settings, contract, found)
    summaries = tuple(_summary(name, profile, target, found) for name, profile in profiles.items())
    return ValidationReport(
        rows=len(frame),
        columns=len(frame.columns),
        findings=tuple(found),
        checked_against=checked_against,
        column_summaries=summaries,
    )


def validate_dataset(
    frame: pd.DataFrame, target: str, task: str, settings: ValidationSettings, contract: DataContract | None = None
) -> ValidationReport:
    """Same as :func:`check_dataset`, but stops the run when the data is not usable.

    Raises:
        DataValidationError: at least one problem was found; it carries the problem findings.
    """
    report = check_dataset(frame, target, task, settings, contract)
    report.raise_for_problems()
    return report


@dataclass(frozen=True)
class TrainingDataCheck:
    """What the validate step of a training run found: the resolved task, the report, and the
    contract inferred from the data for the new version (None when the data has problems)."""

    task: str
    report: ValidationReport
    contract: DataContract | None


def check_training_data(
    registry: ModelRegistry,
    frame: pd.DataFrame,
    *,
    target: str,
    task: str,
    model_name: str,
    contract_uri: str,
    settings: ValidationSettings,
    run_id: str,
) -> TrainingDataCheck:
    """Checks a training run's data against ``contract_uri``, else production's contract, else no
    contract; records the report as the run's ``validation`` section. Does not raise for bad data:
    the caller writes the report first, then calls ``report.raise_for_problems()``.
    """
    from shipyard.stages.champion import saved_contract

    resolved = resolve_task(frame, target, task)
    report = check_dataset(frame, target, resolved, settings, saved_contract(registry, model_name, contract_uri))
    registry.put_run_record(run_id, "validation", report.to_dict())
    contract = infer_contract(frame, target, resolved) if report.ok else None
    return TrainingDataCheck(task=resolved, report=report, contract=contract)


# --- column profiles ------------------------------------------------------------------------


def _column_contract(name: str, column: pd.Series, kind: str, *, is_target: bool) -> ColumnContract:
    profile = profile_column(column, kind)
    nullable, missing_fraction = profile.missing > 0, float(profile.missing_fraction)
    if kind == NUMERIC:
        return ColumnContract(name, kind, nullable, missing_fraction, min=profile.min, max=profile.max)
    categories = tuple(sorted(set(profile.values)))
    open_set = (
        not is_target
        and len(categories) >= OPEN_SET_MIN_DISTINCT
        and len(categories) >= OPEN_SET_MIN_DISTINCT_SHARE * profile.present
    )
    return ColumnContract(name, kind, nullable, missing_fraction, categories=None if open_set else categories)


def _summary(name: str, profile: ColumnProfile, target: str, found: list[Finding]) -> ColumnSummary:
    severities = {finding.severity for finding in found if finding.column == name}
    status = "problem" if "problem" in severities else "warning" if "warning" in severities else "ok"
    return ColumnSummary(
        name=name,
        role="target" if name == target else "feature",
        kind=profile.kind,
        missing=profile.missing,
        missing_fraction=float(profile.missing_fraction),
        distinct=int(profile.values.nunique()),
        min=profile.min,
        max=profile.max,
        status=status,
    )


# --- checks ----------------------------------------------------------------------------------


def _check_basics(
    frame: pd.DataFrame,
    profiles: dict[str, ColumnProfile],
    target: str,
    task: str,
    settings: ValidationSettings,
    contract: DataContract | None,
    found: list[Finding],
) -> None:
    """The checks that need no contract: a usable target, enough rows, no unusable columns."""
    rows = len(frame)
    if rows == 0:
        found.append(problem(None, Code.NO_ROWS, "table: the data has no rows"))
    target_profile = profiles.get(target)
    if target_profile is None:
        found.append(missing_target(target, frame.columns))
    elif rows:
        _check_target(target, target_profile, task, found)

    target_usable = target_profile is not None and target_profile.present > 0
    if rows and (target_profile is None or target_usable):
        labelled = target_profile.present if target_profile is not None else rows
        if labelled < settings.min_rows:
            what = "rows with a target value" if target_profile is not None and labelled < rows else "rows"
            found.append(
                problem(
                    None,
                    Code.TOO_FEW_ROWS,
                    f"table: {labelled} {what}, fewer than the minimum of {settings.min_rows} (validation.min_rows)",
                    "add rows, or lower validation.min_rows in --config",
                )
            )
    _check_columns(profiles, target, rows, contract, found)


def _check_columns(
    profiles: dict[str, ColumnProfile], target: str, rows: int, contract: DataContract | None, found: list[Finding]
) -> None:
    """Columns no model can use: all missing, infinite values, numbers with a few text cells.

    ``contract`` is only consulted so that a column the contract check will report as the wrong
    kind is not reported twice.
    """
    for name, profile in profiles.items():
        if name != target and rows and profile.missing == rows:
            found.append(
                problem(
                    name,
                    Code.ALL_MISSING,
                    f"column '{name}': all {rows} values are missing; drop the column or fill it",
                )
            )
        if profile.infinite:
            found.append(
                problem(
                    name,
                    Code.INFINITE_VALUES,
                    f"column '{name}': {profile.infinite} infinite value(s) (inf or -inf); "
                    "replace them with numbers or leave the cells empty",
                )
            )
        expected = contract.column(name) if contract is not None else None
        if name != target and not _reports_kind_mismatch(profile, expected):
            text_cells = numbers_with_text(profile)
            if text_cells is not None:
                found.append(
                    problem(
                        name,
                        Code.NUMBERS_WITH_TEXT,
                        f"column '{name}': {text_cells_phrase(profile, *text_cells)}, so the column "
                        f"would be read as text; {text_cells_fix(*text_cells)}",
                    )
                )


def _check_target(target: str, profile: ColumnProfile, task: str, found: list[Finding]) -> None:
    def report(code: Code, text: str, hint: str = "", severity: Severity = PROBLEM) -> None:
        found.append(Finding(target, severity, code, f"column '{target}': {text}", hint))

    if profile.present == 0:
        report(Code.ALL_MISSING, f"the target has no values (all {profile.rows} rows are missing)")
        return
    if profile.missing:
        report(
            Code.MISSING_TARGET_VALUES,
            f"{profile.missing} of {profile.rows} rows ({percent(profile.missing_fraction)}) have no target "
            "value; training drops them",
            severity=WARNING,
        )
    if task == TaskKind.REGRESSION and profile.kind != NUMERIC:
        text_cells = numbers_with_text(profile)
        if text_cells is not None:
            report(
                Code.TARGET_NOT_NUMERIC,
                f"a regression target must be numeric, but {text_cells_phrase(profile, *text_cells)}; "
                f"{text_cells_fix(*text_cells)}",
            )
        else:
            report(
                Code.TARGET_NOT_NUMERIC,
                "a regression target must be numeric, found text such as "
                f"{quoted(non_numeric_examples(profile.values))}",
                "if the target holds class labels, pass --task classification",
            )
        return
    labels = profile.values.value_counts(sort=False)
    if len(labels) == 1:
        report(
            Code.CONSTANT_TARGET,
            f"the target has a single value {quote(labels.index[0])} in all {profile.present} labelled rows; "
            "a model needs at least two distinct values",
        )
        return
    rare = labels[labels < 2]
    if task == TaskKind.CLASSIFICATION and len(rare):
        shown = ", ".join(f"{quote(label)} ({count} row)" for label, count in list(rare.items())[:5])
        more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
        report(
            Code.RARE_CLASS,
            f"{len(rare)} class(es) with fewer than 2 rows: {shown}{more}; "
            "stratified holdout needs at least 2 rows per class",
        )


def _check_against_contract(
    profiles: dict[str, ColumnProfile],
    target: str,
    task: str,
    settings: ValidationSettings,
    contract: DataContract,
    found: list[Finding],
) -> None:
    _check_same_table(profiles, target, task, contract, found)
    expected_columns = {column.name: column for column in contract.columns}
    for name, profile in profiles.items():
        expected = expected_columns.get(name)
        if expected is None:
            continue
        if _reports_kind_mismatch(profile, expected):
            # A regression target holding text is already reported by the target check.
            if not (name == target and task == TaskKind.REGRESSION):
                found.append(_kind_mismatch(name, expected.kind, profile))
            continue
        if not profile.present:  # an all-missing column is already a problem of its own
            continue
        _check_missing_share(name, profile, expected, settings, found)
        is_target = name == target
        if profile.kind == CATEGORICAL and expected.categories is not None:
            _check_categories(name, profile, expected, settings, is_target and task == TaskKind.CLASSIFICATION, found)
        if profile.kind == NUMERIC:
            _check_range(name, profile, expected, settings, is_target, found)


def _check_same_table(
    profiles: dict[str, ColumnProfile], target: str, task: str, contract: DataContract, found: list[Finding]
) -> None:
    """The task, the target and the set of columns are the contract's."""
    if task != contract.task:
        found.append(
            problem(
                None,
                Code.TASK_CHANGED,
                f"table: the task is {task} but the contract was inferred for {contract.task}",
                f"pass --task {contract.task}, or train the {task} model under a model name of its own",
            )
        )
    if target != contract.target:
        found.append(
            problem(
                target,
                Code.TARGET_CHANGED,
                f"column '{target}': used as the target, but the contract's target is "
                f"'{contract.target}'; a model predicting '{target}' needs a model name of its own",
            )
        )
    names = [column.name for column in contract.columns]
    for name in names:
        if name not in profiles and name != target:  # a missing target is already reported
            message = f"column '{name}': in the contract but missing from the data"
            found.append(problem(name, Code.MISSING_COLUMN, message, NEW_CONTRACT_HINT))
    for name in profiles:
        if name not in names:
            message = f"column '{name}': in the data but not in the contract (unexpected extra column)"
            found.append(problem(name, Code.EXTRA_COLUMN, message, NEW_CONTRACT_HINT))


def _check_missing_share(
    name: str,
    profile: ColumnProfile,
    expected: ColumnContract,
    settings: ValidationSettings,
    found: list[Finding],
) -> None:
    allowed = expected.missing_fraction + settings.max_missing_fraction_increase
    share = profile.missing_fraction
    if share > allowed + 1e-12:
        found.append(
            problem(
                name,
                Code.TOO_MANY_MISSING,
                f"column '{name}': {percent(share)} of values ({profile.missing} of {profile.rows}) are missing; "
                f"the contract allows up to {percent(allowed)} ({percent(expected.missing_fraction)} seen before "
                f"+ {percent(settings.max_missing_fraction_increase)} tolerance)",
                TOO_MANY_MISSING_HINT,
            )
        )
    elif profile.missing and not expected.nullable:
        found.append(
            warning(
                name,
                Code.NEW_MISSING,
                f"column '{name}': {percent(share)} of values ({profile.missing} of {profile.rows}) "
                "are missing; the contract data had none",
            )
        )


def _check_categories(
    name: str,
    profile: ColumnProfile,
    expected: ColumnContract,
    settings: ValidationSettings,
    is_class_label: bool,
    found: list[Finding],
) -> None:
    known = set(expected.categories or ())
    unseen_mask = ~profile.values.isin(known)
    unseen = int(unseen_mask.sum())
    if not unseen:
        return
    new_values = list(profile.values[unseen_mask].unique())
    share = unseen / profile.present
    if is_class_label:
        found.append(
            warning(
                name,
                Code.NEW_CLASS,
                f"column '{name}': {len(new_values)} new class(es) not in the contract, "
                f"{quoted(new_values)} ({unseen} of {profile.present} rows)",
            )
        )
        return
    seen = (
        f"column '{name}': {percent(share)} of values ({unseen} of {profile.present}) are categories "
        f"not seen in the contract, e.g. {quoted(new_values)}"
    )
    limit = percent(settings.max_unseen_category_fraction)
    if share > settings.max_unseen_category_fraction:
        message = f"{seen}; with more than {limit} unseen it no longer looks like itself: were its labels recoded?"
        found.append(problem(name, Code.UNSEEN_CATEGORY, message, UNSEEN_CATEGORY_HINT))
    else:
        found.append(warning(name, Code.UNSEEN_CATEGORY, f"{seen} (growth, tolerance {limit})", GROWTH_HINT))


def _check_range(
    name: str,
    profile: ColumnProfile,
    expected: ColumnContract,
    settings: ValidationSettings,
    is_target: bool,
    found: list[Finding],
) -> None:
    """Values outside the contract's range: growth (a warning) or a changed column (a problem).

    The rule is in the module docstring: too large a share outside, or too large a share far out.
    """
    low, high = expected.min, expected.max
    if low is None or high is None:  # the contract data had no finite values
        return
    values = profile.values.to_numpy()
    finite = values[np.isfinite(values)]
    below, above = finite[finite < low], finite[finite > high]
    outside = len(below) + len(above)
    if not outside:
        return
    share = outside / len(finite)
    width = high - low
    # How far beyond the range each value lies, in widths of the range; a constant column has none.
    far = (
        int(np.count_nonzero(low - below > settings.max_range_extension * width))
        + int(np.count_nonzero(above - high > settings.max_range_extension * width))
        if width > 0
        else 0
    )
    far_share = far / len(finite)
    ordered = finite[(finite < low) | (finite > high)]
    examples = ", ".join(format_number(value) for value in list(dict.fromkeys(ordered))[:EXAMPLES])
    sides = f": {len(below)} below, {len(above)} above" if len(below) and len(above) else ""
    seen = (
        f"column '{name}': {percent(share)} of values ({outside} of {len(finite)}{sides}) are outside the "
        f"contract range [{format_number(low)}, {format_number(high)}], e.g. {examples}"
    )
    far_out = f"more than {settings.max_range_extension:g} range widths beyond it"
    if is_target:  # a retrained model is meant to learn a new target range, so that is only flagged
        found.append(warning(name, Code.OUT_OF_RANGE, seen, GROWTH_HINT))
    elif share > settings.max_out_of_range_fraction:
        limit = percent(settings.max_out_of_range_fraction)
        message = f"{seen}; with more than {limit} outside it no longer looks like itself: has its unit changed?"
        found.append(problem(name, Code.OUT_OF_RANGE, message, OUT_OF_RANGE_HINT))
    elif far_share > settings.max_far_out_of_range_fraction:
        message = (
            f"{seen}; {far} of them ({percent(far_share)} of values) lie {far_out}: a jump, not growth "
            f"(tolerance {percent(settings.max_far_out_of_range_fraction)})"
        )
        found.append(problem(name, Code.OUT_OF_RANGE, message, FAR_OUT_OF_RANGE_HINT))
    else:
        message = (
            f"{seen} (growth, tolerance {percent(settings.max_out_of_range_fraction)} outside and "
            f"{percent(settings.max_far_out_of_range_fraction)} {far_out})"
        )
        found.append(warning(name, Code.OUT_OF_RANGE, message, GROWTH_HINT))


def _reports_kind_mismatch(profile: ColumnProfile, expected: ColumnContract | None) -> bool:
    """True when the contract check reports this column as holding the wrong kind of values.

    A column with no values at all (now or in the contract data) has no kind to compare.
    """
    return (
        expected is not None
        and profile.kind != expected.kind
        and profile.present > 0
        and expected.missing_fraction < 1.0
    )


def _kind_mismatch(name: str, expected_kind: str, profile: ColumnProfile) -> Finding:
    if expected_kind == NUMERIC:
        count, examples = text_cells(profile.values)
        if count == 0:  # e.g. a Parquet string column holding digits
            return problem(
                name,
                Code.WRONG_KIND,
                f"column '{name}': expected numeric values, found numbers stored as text such as "
                f"{quoted(examples)}; store the column as numbers",
            )
        if count == profile.present:
            return problem(
                name,
                Code.WRONG_KIND,
                f"column '{name}': expected numeric values, found only text such as {quoted_examples(examples)}",
                NEW_CONTRACT_HINT,
            )
        return problem(
            name,
            Code.WRONG_KIND,
            f"column '{name}': expected numeric values, but {text_cells_phrase(profile, count, examples)}; "
            f"{text_cells_fix(count, examples)}",
        )
    numbers = ", ".join(format_number(value) for value in list(dict.fromkeys(profile.values))[:EXAMPLES])
    return problem(
        name,
        Code.WRONG_KIND,
        f"column '{name}': expected categorical (text) values, found only numbers such as {numbers or 'none'}",
        NEW_CONTRACT_HINT,
    )


# --- helpers ---------------------------------------------------------------------------------


def _with_text_names(frame: pd.DataFrame) -> pd.DataFrame:
    if all(isinstance(name, str) for name in frame.columns):
        return frame
    renamed = frame.copy(deep=False)
    renamed.columns = [str(name) for name in frame.columns]
    return renamed


def _duplicate_names(frame: pd.DataFrame) -> list[Finding]:
    return [
        problem(name, Code.DUPLICATE_COLUMN, f"column '{name}': appears {count} times; column names must be unique")
        for name, count in Counter(frame.columns).items()
        if count > 1
    ]
