"""Data drift between a reference and a current table: Evidently 0.7's verdicts, computed fast.

Each column gets the statistical test Evidently's ``DataDriftPreset`` would pick for it
(``evidently/legacy/calculations/stattests/registry.py``, ``_get_default_stattest``), with the same
statistic, threshold and NaN handling, so the per-column verdicts are the ones Evidently gives:

- non-finite values (NaN, None, ±inf) are dropped from each side first, and "reference size" and
  "unique values" are counted on what is left (unique values over both sides together);
- reference of 1,000 finite values or fewer: numeric with more than 5 unique values → K-S p-value;
  otherwise (numeric with at most 5, or categorical) → chi-square p-value with more than 2 unique
  values, Z-test p-value with 1 or 2;
- reference above 1,000: numeric with more than 5 unique values → Wasserstein distance normed by the
  reference's population std (at least 0.001); otherwise → Jensen-Shannon distance;
- p-values drift below 0.05 (K-S: at or below), distances at or above 0.1;
- the dataset drifts when the share of drifted columns is at least ``drift_share`` (0.5).

Evidently spends about 140 s and 1.7 GB on 1M rows × 20 columns; here K-S and Wasserstein run on
sorted arrays (one sort per side, a linear merge) and categorical counts on one factorisation, so
the same verdicts take seconds. ``tests/adapters/test_evidently_report.py`` runs both on the same
frames and asserts equal verdicts. Evidently quirk not copied: its dataset-level metric keeps ±inf in
a column that has no NaN (its per-column metric drops them); here they are always dropped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module
from shipyard.errors import ConfigError, DataValidationError
from shipyard.stages.columns import CATEGORICAL, NUMERIC, column_kinds

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
else:  # loaded on first use: every task reads DriftSettings through the config (shipyard/_lazy.py)
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

KINDS = (NUMERIC, CATEGORICAL)

#: Evidently's size rule: a reference with more finite values than this gets distance-based tests.
SMALL_REFERENCE_MAX_ROWS = 1000
#: Evidently's rule: a numeric column with more unique values than this is treated as continuous.
FEW_VALUES_MAX = 5
#: Evidently's Wasserstein normaliser never goes below this (a constant reference column).
MIN_WASSERSTEIN_NORM = 0.001
#: Evidently's Jensen-Shannon bins a numeric column (Sturges) when its reference has more unique values.
JS_BINNING_MIN_UNIQUE = 20


@dataclass(frozen=True)
class DriftMethod:
    """One of Evidently's statistical tests: its registry name, label, kinds and default threshold."""

    name: str  # Evidently's registry name, e.g. "wasserstein"
    label: str  # Evidently's display name, e.g. "Wasserstein distance (normed)"
    kinds: tuple[str, ...]  # column kinds Evidently allows the method for
    default_threshold: float
    is_p_value: bool  # p-values drift when small; distances drift when large
    drifted_at_threshold: bool  # whether a score equal to the threshold is drift (Evidently: K-S yes, chi/z no)

    def is_drift(self, score: float, threshold: float) -> bool:
        """Evidently's comparison for this method; a NaN score is never drift (as in Evidently)."""
        if self.is_p_value:
            return bool(score <= threshold) if self.drifted_at_threshold else bool(score < threshold)
        return bool(score >= threshold)


#: The methods Evidently's DataDriftPreset picks by default, by registry name.
METHODS: dict[str, DriftMethod] = {
    method.name: method
    for method in (
        DriftMethod("ks", "K-S p_value", (NUMERIC,), 0.05, is_p_value=True, drifted_at_threshold=True),
        DriftMethod("wasserstein", "Wasserstein distance (normed)", (NUMERIC,), 0.1, False, True),
        DriftMethod("jensenshannon", "Jensen-Shannon distance", (NUMERIC, CATEGORICAL), 0.1, False, True),
        DriftMethod(
            "chisquare", "chi-square p_value", (CATEGORICAL,), 0.05, is_p_value=True, drifted_at_threshold=False
        ),
        DriftMethod("z", "Z-test p_value", (CATEGORICAL,), 0.05, is_p_value=True, drifted_at_threshold=False),
    )
}


@dataclass(frozen=True)
class DriftSettings:
    """How drift is judged. ``None`` everywhere means Evidently's own choice for the column.

    ``methods`` and ``thresholds`` map a column kind (``numeric`` / ``categorical``) to a method name
    from :data:`METHODS` or to a threshold; a threshold without a method applies to whichever method
    Evidently picks for that kind (as ``num_threshold`` / ``cat_threshold`` do in Evidently).
    """

    drift_share: float = 0.5
    methods: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.drift_share, bool) or not (0.0 < float(self.drift_share) <= 1.0):
            raise ConfigError(f"drift.drift_share must be a share in (0, 1], got {self.drift_share!r}")
        for kind, method in self.methods.items():
            if kind not in KINDS:
                raise ConfigError(f"drift.methods: unknown column kind {kind!r}; expected one of {list(KINDS)}")
            if method not in METHODS:
                raise ConfigError(f"drift.methods.{kind}: unknown method {method!r}; expected one of {list(METHODS)}")
            if kind not in METHODS[method].kinds:
                raise ConfigError(
                    f"drift.methods.{kind}: Evidently's {method!r} test does not apply to {kind} columns; "
                    f"use one of {[name for name, m in METHODS.items() if kind in m.kinds]}"
                )
        for kind, threshold in self.thresholds.items():
            if kind not in KINDS:
                raise ConfigError(f"drift.thresholds: unknown column kind {kind!r}; expected one of {list(KINDS)}")
            if isinstance(threshold, bool) or not math.isfinite(float(threshold)) or float(threshold) < 0:
                raise ConfigError(f"drift.thresholds.{kind} must be a finite number >= 0, got {threshold!r}")


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict for one column."""

    column: str
    kind: str  # "numeric" | "categorical"
    method: str  # Evidently's registry name, e.g. "wasserstein"
    method_label: str  # Evidently's display name, as its report shows it
    score: float  # p-value or distance (NaN when the test is undefined; then not drifted)
    threshold: float
    drifted: bool
    reference_values: int  # finite values the test used, per side
    current_values: int
    unique_values: int  # distinct finite values over both sides

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "method_label": self.method_label,
            "score": self.score if math.isfinite(self.score) else None,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reference_values": self.reference_values,
            "current_values": self.current_values,
            "unique_values": self.unique_values,
        }


@dataclass(frozen=True)
class DriftResult:
    """Per-column verdicts and the dataset-level verdict (Evidently's share-of-drifted-columns rule)."""

    columns: tuple[ColumnDrift, ...]
    drift_share_threshold: float  # dataset drifts when drift_share >= this
    drift_share: float  # share of checked columns that drifted
    dataset_drift: bool
    reference_rows: int
    current_rows: int

    @property
    def number_of_columns(self) -> int:
        return len(self.columns)

    @property
    def number_of_drifted_columns(self) -> int:
        return sum(1 for column in self.columns if column.drifted)

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(column.column for column in self.columns if column.drifted)

    def column(self, name: str) -> ColumnDrift:
        """The verdict for column ``name`` (KeyError when it was not checked)."""
        for column in self.columns:
            if column.column == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "number_of_columns": self.number_of_columns,
            "number_of_drifted_columns": self.number_of_drifted_columns,
            "drifted_columns": list(self.drifted_columns),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [column.to_dict() for column in self.columns],
        }

    def to_markdown(self) -> str:
        """A summary for the KFP UI: the verdict, then one table row per column (names shown as text)."""
        verdict = "DRIFT DETECTED" if self.dataset_drift else "NO DATASET DRIFT"
        lines = [
            f"## {verdict}",
            "",
            f"{self.number_of_drifted_columns} of {self.number_of_columns} columns drifted "
            f"(share {self.drift_share:.3f}; the dataset drifts at >= {self.drift_share_threshold:g}). "
            f"Reference {self.reference_rows} rows, current {self.current_rows} rows.",
            "",
            "| column | kind | method | score | threshold | drifted |",
            "|---|---|---|---|---|---|",
        ]
        for column in self.columns:
            score = f"{column.score:.6g}" if math.isfinite(column.score) else "—"
            lines.append(
                f"| {markdown_text(column.column)} | {column.kind} | {column.method_label} | {score} "
                f"| {column.threshold:g} | {'**yes**' if column.drifted else 'no'} |"
            )
        return "\n".join(lines) + "\n"


def markdown_text(value: str) -> str:
    """``value`` as literal text inside Markdown (and a table cell): HTML and Markdown syntax escaped."""
    text = html.escape(" ".join(str(value).split()), quote=True)
    out = []
    for char in text:
        out.append("\\" + char if char in "\\`*_{}[]()#+-.!|~" else char)
    return "".join(out)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: Mapping[str, str] | None = None,
    settings: DriftSettings | None = None,
) -> DriftResult:
    """Compares ``current`` with ``reference`` column by column, the way Evidently's DataDriftPreset does.

    Args:
        reference: what "normal" looked like (the training rows or a sample of them).
        current: the new data.
        kinds: the columns to check, in order, and their kinds (``numeric`` / ``categorical``), e.g.
            from the model's data contract; ``None`` checks every reference column with the kind
            :func:`shipyard.stages.columns.column_kinds` gives it.
        settings: ``drift_share`` and per-kind method/threshold overrides (default: Evidently's).

    Raises:
        DataValidationError: a column is missing from a side, has no finite value on a side, or is
            declared numeric but does not hold numbers (Evidently refuses the same inputs).
    """
    settings = settings or DriftSettings()
    kinds = dict(column_kinds(reference) if kinds is None else kinds)
    problems = []
    for name, kind in kinds.items():
        if kind not in KINDS:
            problems.append(f"column {name!r}: unknown kind {kind!r}, expected one of {list(KINDS)}")
        for side, frame in (("reference", reference), ("current", current)):
            if name not in frame.columns:
                problems.append(f"column {name!r}: missing from the {side} data")
    if problems:
        raise DataValidationError(problems)
    if not kinds:
        raise DataValidationError(["<table>: no columns to check for drift"])

    verdicts = tuple(
        _column_drift(name, kind, reference[name], current[name], settings) for name, kind in kinds.items()
    )
    drifted = sum(1 for verdict in verdicts if verdict.drifted)
    share = drifted / len(verdicts)
    return DriftResult(
        columns=verdicts,
        drift_share_threshold=float(settings.drift_share),
        drift_share=share,
        dataset_drift=bool(share >= settings.drift_share),
        reference_rows=len(reference),
        current_rows=len(current),
    )


# ---------------------------------------------------------------------------------------------
# One column


def _column_drift(
    name: str, kind: str, reference: pd.Series, current: pd.Series, settings: DriftSettings
) -> ColumnDrift:
    if kind == NUMERIC:
        values = (_finite_numbers(name, "reference", reference), _finite_numbers(name, "current", current))
        return _numeric_drift(name, values[0], values[1], settings)
    return _categorical_drift(name, reference, current, settings)


def _finite_numbers(name: str, side: str, series: pd.Series) -> npt.NDArray[np.float64]:
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)):
        raise DataValidationError(
            [f"column {name!r}: declared numeric but the {side} data holds {series.dtype} values; fix its kind"]
        )
    values: npt.NDArray[np.float64]
    if isinstance(series.dtype, np.dtype):  # plain numpy column: no pd.NA to map, a cast is enough
        values = np.asarray(series.to_numpy(), dtype=np.float64)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]  # a new array, which the caller may sort in place
    if finite.size == 0:
        raise DataValidationError([f"column {name!r}: no finite value in the {side} data; drift is undefined"])
    return finite


def _choose(kind: str, reference_size: int, unique_values: int, settings: DriftSettings) -> tuple[DriftMethod, float]:
    """Evidently's ``_get_default_stattest`` unless the settings name a method for this kind."""
    override = settings.methods.get(kind)
    if override is not None:
        method = METHODS[override]
    elif reference_size <= SMALL_REFERENCE_MAX_ROWS:
        if kind == NUMERIC and unique_values > FEW_VALUES_MAX:
            method = METHODS["ks"]
        else:
            method = METHODS["chisquare" if unique_values > 2 else "z"]
    elif kind == NUMERIC and unique_values > FEW_VALUES_MAX:
        method = METHODS["wasserstein"]
    else:
        method = METHODS["jensenshannon"]
    threshold = settings.thresholds.get(kind)
    return method, float(method.default_threshold if threshold is None else threshold)


def _numeric_drift(
    name: str, reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64], settings: DriftSettings
) -> ColumnDrift:
    n_ref, n_cur = reference.size, current.size
    reference.sort()  # in place: both arrays are this function's own copies, and no statistic needs the order
    current.sort()
    ref_sorted, cur_sorted = reference, current
    from scipy import stats  # scipy: only where drift is measured, never on loading the config
    from scipy.spatial import distance

    # Merge the two sorted runs: a stable argsort of two concatenated runs is a linear merge (timsort).
    both = np.concatenate((ref_sorted, cur_sorted))
    order = np.argsort(both, kind="stable")
    merged = both[order]
    del both
    deltas = np.diff(merged)
    unique_values = int(np.count_nonzero(deltas)) + 1
    method, threshold = _choose(NUMERIC, n_ref, unique_values, settings)

    if method.name == "wasserstein":
        # scipy's _cdf_distance on sorted data: |F_ref - F_cur| just before each gap, times the gap. With
        # a = reference values seen and k = values seen, (a/n - (k-a)/m)·n·m = a·(n+m) - k·n, exact in
        # int64. Within a run of ties the gap is 0, so counting the ties seen so far changes nothing.
        seen_ref = np.cumsum(order[:-1] < n_ref, dtype=np.int64)
        del order
        gap_weight = seen_ref * (n_ref + n_cur)
        gap_weight -= np.arange(1, merged.size, dtype=np.int64) * n_ref
        np.abs(gap_weight, out=gap_weight)
        distance_ = float(np.dot(gap_weight.astype(np.float64), deltas)) / (float(n_ref) * float(n_cur))
        score = distance_ / max(float(np.std(reference)), MIN_WASSERSTEIN_NORM)
    elif method.name == "ks":
        score = float(stats.ks_2samp(ref_sorted, cur_sorted).pvalue)
    elif method.name == "jensenshannon" and len(np.unique(ref_sorted)) > JS_BINNING_MIN_UNIQUE:
        bins = np.histogram_bin_edges(np.concatenate((reference, current)), bins="sturges")
        score = float(
            distance.jensenshannon(np.histogram(reference, bins)[0] / n_ref, np.histogram(current, bins)[0] / n_cur)
        )
    else:
        starts = np.flatnonzero(np.concatenate(([True], deltas != 0)))
        keys = merged[starts]
        ref_counts = np.searchsorted(ref_sorted, keys, "right") - np.searchsorted(ref_sorted, keys, "left")
        cur_counts = np.searchsorted(cur_sorted, keys, "right") - np.searchsorted(cur_sorted, keys, "left")
        score = _counts_score(method, ref_counts, cur_counts, first_key_position=0)
    return ColumnDrift(
        column=name,
        kind=NUMERIC,
        method=method.name,
        method_label=method.label,
        score=score,
        threshold=threshold,
        drifted=method.is_drift(score, threshold),
        reference_values=n_ref,
        current_values=n_cur,
        unique_values=unique_values,
    )


def _categorical_drift(name: str, reference: pd.Series, current: pd.Series, settings: DriftSettings) -> ColumnDrift:
    # One factorisation of both sides: the same hashing (and equality) as pandas' nunique/value_counts,
    # missing values (None, NaN, NA, NaT) coded -1. Evidently also treats ±inf as missing.
    both = pd.concat([reference, current], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    infinite = _infinite(np.asarray(uniques))
    if infinite.any():
        remap = np.where(infinite, -1, np.cumsum(~infinite) - 1)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        uniques = np.asarray(uniques)[~infinite]
    unique_values = len(uniques)
    ref_codes, cur_codes = codes[: len(reference)], codes[len(reference) :]
    ref_counts = np.bincount(ref_codes[ref_codes >= 0], minlength=unique_values)
    cur_counts = np.bincount(cur_codes[cur_codes >= 0], minlength=unique_values)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    for side, size in (("reference", n_ref), ("current", n_cur)):
        if size == 0:
            raise DataValidationError([f"column {name!r}: no value in the {side} data; drift is undefined"])
    method, threshold = _choose(CATEGORICAL, n_ref, unique_values, settings)
    first_key = _first_sorted(uniques) if method.name == "z" else 0  # at most 2 values to sort then
    score = _counts_score(method, ref_counts, cur_counts, first_key_position=first_key)
    return ColumnDrift(
        column=name,
        kind=CATEGORICAL,
        method=method.name,
        method_label=method.label,
        score=score,
        threshold=threshold,
        drifted=method.is_drift(score, threshold),
        reference_values=n_ref,
        current_values=n_cur,
        unique_values=unique_values,
    )


def _infinite(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Which values are ±inf (numbers only; text never is)."""
    if values.dtype.kind == "f":
        infinite: npt.NDArray[np.bool_] = np.isinf(values)
        return infinite
    if values.dtype == object:
        return np.asarray((values == np.inf) | (values == -np.inf), dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def _first_sorted(uniques: Any) -> int:
    """Position of the smallest value (Evidently's Z-test codes ``sorted(keys)[0]`` as 0); 0 if unorderable."""
    values = list(uniques)
    try:
        return values.index(sorted(values)[0])
    except TypeError:
        return 0


def _counts_score(
    method: DriftMethod, ref_counts: npt.NDArray[np.int64], cur_counts: npt.NDArray[np.int64], first_key_position: int
) -> float:
    """Chi-square, Z-test or Jensen-Shannon from per-value counts, as Evidently computes them."""
    from scipy import stats
    from scipy.spatial import distance

    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if method.name == "chisquare":
        expected = ref_counts * (n_cur / n_ref)
        with np.errstate(divide="ignore", invalid="ignore"):  # a value new in current: expected 0, p-value 0
            return float(stats.chisquare(cur_counts, expected)[1])
    if method.name == "jensenshannon":
        return float(distance.jensenshannon(ref_counts / n_ref, cur_counts / n_cur))
    if method.name == "z":
        if (
            np.count_nonzero(ref_counts) == 1
            and np.count_nonzero(cur_counts) == 1
            and np.array_equal(ref_counts > 0, cur_counts > 0)
        ):
            return 1.0
        # Evidently: proportion of values other than the first sorted key, per side, pooled two-sided z.
        p1 = float(n_ref - int(ref_counts[first_key_position])) / n_ref
        p2 = float(n_cur - int(cur_counts[first_key_position])) / n_cur
        pooled = float(p1 * n_ref + p2 * n_cur) / (n_ref + n_cur)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
        return float(2 * (1 - stats.norm.cdf(np.abs(z))))
    raise ConfigError(f"drift method {method.name!r} needs raw values, not counts")  # pragma: no cover
