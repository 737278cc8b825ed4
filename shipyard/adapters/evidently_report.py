"""Evidently behind one door: the HTML/JSON drift report, and Evidently's own verdicts for comparison.

The only module that imports ``evidently``.

**Why the report shows the drift stage's verdicts, not verdicts recomputed on a sample.**
:func:`shipyard.stages.drift.detect_drift` computes the verdicts on all rows (Evidently's methods,
seconds at 1M rows). Evidently itself needs minutes and gigabytes there, so the report is built from
a bounded, seeded sample of each side (:data:`REPORT_SAMPLE_ROWS` rows). A sample's p-values and
distances differ from the full data's, so a report that recomputed them could call a column
"drifted" that the JSON calls stable, which is the one thing the report must never do. Instead
each column's test is an Evidently ``StatTest`` registered under ``shipyard:<method>`` that returns
the stage's full-data score and verdict for that column: Evidently still picks nothing, draws
every plot from the sample, and its per-column widgets, its drifted-column count and its dataset
verdict all repeat the stage's numbers. The method label shown is Evidently's own (for example
"Wasserstein distance (normed)"). A banner at the top of the page says that the verdicts come
from all rows and the plots from a sample, with both sizes. When both sides fit in the sample
bound, the plots use all rows. That the stage's verdicts equal Evidently's own is tested, not
assumed: :func:`evidently_verdicts` runs Evidently's ``DataDriftPreset`` on full frames, and
``tests/adapters/test_evidently_report.py`` compares the two.

Evidently sorts its drift table by score, highest first, and shows ten rows a page. For a p-value
test (K-S, chi-square, Z: the defaults up to 1,000 reference rows) the drifted columns have the
*lowest* scores, so with more than ten columns they land on the last page, out of sight.
:func:`write_drift_report` moves the drifted rows to the top, keeping Evidently's order within the
drifted and the stable rows.

Evidently 0.7 writes column names unescaped into an inline ``<script>``, so a column named
``</script><script>…`` would run script in the report. :func:`write_drift_report` escapes every
``<`` in that data block as ``\\u003c`` (the same string to JavaScript, inert to HTML).
"""

from __future__ import annotations

import contextvars
import html
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.stages.columns import CATEGORICAL, NUMERIC
from shipyard.stages.drift import METHODS, ColumnDrift, DriftResult, DriftSettings

#: At most this many rows per side feed the report's plots (Evidently takes ~5 s at 10k × 20).
REPORT_SAMPLE_ROWS = 10_000
#: Seed of the report sample: the same data gives the same report.
REPORT_SAMPLE_SEED = 0
#: Prefix of the StatTests that hand Evidently the stage's verdicts.
PRECOMPUTED_PREFIX = "shipyard:"

_LABEL_TO_METHOD = {method.label: method.name for method in METHODS.values()}
_VERDICTS: contextvars.ContextVar[Mapping[str, ColumnDrift]] = contextvars.ContextVar("shipyard_drift_verdicts")


@dataclass(frozen=True)
class DriftReportFiles:
    """Where the report went and what it was drawn from."""

    html: Path
    json: Path
    reference_sample_rows: int
    current_sample_rows: int
    sampled: bool  # True when either side had more rows than the bound


def evidently_verdicts(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: Mapping[str, str],
    settings: DriftSettings | None = None,
) -> DriftResult:
    """Evidently's own ``DataDriftPreset`` on the full frames, read back as a :class:`DriftResult`.

    ``reference_values``/``current_values``/``unique_values`` are not in Evidently's output and are
    left at 0. Used by the verdict-equality test and the benchmark; the stage never needs it.
    """
    from evidently import Report
    from evidently.presets import DataDriftPreset

    settings = settings or DriftSettings()
    columns = list(kinds)
    preset = DataDriftPreset(
        columns=columns,
        drift_share=settings.drift_share,
        num_method=settings.methods.get(NUMERIC),
        cat_method=settings.methods.get(CATEGORICAL),
        num_threshold=settings.thresholds.get(NUMERIC),
        cat_threshold=settings.thresholds.get(CATEGORICAL),
    )
    snapshot = Report([preset], include_tests=True).run(
        current_data=_dataset(current, kinds), reference_data=_dataset(reference, kinds)
    )
    return _read_snapshot(snapshot.dict(), kinds, settings.drift_share, len(reference), len(current))


def write_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    result: DriftResult,
    kinds: Mapping[str, str],
    html_path: str | Path,
    json_path: str | Path,
    *,
    sample_rows: int = REPORT_SAMPLE_ROWS,
    seed: int = REPORT_SAMPLE_SEED,
) -> DriftReportFiles:
    """Saves Evidently's drift report (HTML + JSON) showing ``result``'s verdicts over sampled plots.

    ``result`` must come from :func:`~shipyard.stages.drift.detect_drift` on the same frames and
    ``kinds``; see the module docstring for why the report does not recompute verdicts.
    """
    from evidently import Report
    from evidently.presets import DataDriftPreset

    checked = [column.column for column in result.columns]
    if checked != list(kinds):
        raise ValueError(f"the drift result checked {checked}, the report was asked for {list(kinds)}")
    ref_sample = bounded_sample(reference, kinds, sample_rows, seed)
    cur_sample = bounded_sample(current, kinds, sample_rows, seed + 1)
    _register_precomputed_tests()
    preset = DataDriftPreset(
        columns=checked,
        drift_share=result.drift_share_threshold,
        per_column_method={c.column: PRECOMPUTED_PREFIX + c.method for c in result.columns},
        per_column_threshold={c.column: c.threshold for c in result.columns},
    )
    with _verdicts(result):
        snapshot = Report([preset], include_tests=True).run(
            current_data=_dataset(cur_sample, kinds), reference_data=_dataset(ref_sample, kinds)
        )
    _drifted_rows_first(snapshot._widgets)
    page = snapshot.get_html_str(as_iframe=False)
    sampled = len(ref_sample) < len(reference) or len(cur_sample) < len(current)
    page = _with_banner(_inert_data_block(page), _banner_text(result, len(ref_sample), len(cur_sample), sampled))

    html_path, json_path = Path(html_path), Path(json_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(page, encoding="utf-8")
    document = {
        "shipyard_drift": result.to_dict(),
        "report_sample": {
            "reference_rows": len(ref_sample),
            "current_rows": len(cur_sample),
            "sampled": sampled,
            "seed": seed,
        },
        "evidently": snapshot.dict(),
    }
    json_path.write_text(json.dumps(document, indent=2, default=_json_default), encoding="utf-8")
    return DriftReportFiles(html_path, json_path, len(ref_sample), len(cur_sample), sampled)


def bounded_sample(frame: pd.DataFrame, kinds: Mapping[str, str], max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame[kinds]``, seeded, in original order.

    Every column keeps at least one usable value (Evidently refuses a column that is empty after
    dropping missing values): a column left empty by the draw gets its first usable row added.
    """
    columns = list(kinds)
    if len(frame) <= max_rows:
        return frame[columns]
    positions = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
    sample = frame[columns].iloc[positions]
    extra = []
    for name in columns:
        if not _usable(sample[name]).any():
            usable = np.flatnonzero(_usable(frame[name]).to_numpy())
            if usable.size:
                extra.append(int(usable[0]))
    if extra:
        positions = np.unique(np.concatenate((positions, np.asarray(extra))))
        sample = frame[columns].iloc[positions]
    return sample


def _usable(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan)), index=series.index)
    return series.notna()


def _dataset(frame: pd.DataFrame, kinds: Mapping[str, str]) -> Any:
    from evidently import DataDefinition, Dataset

    definition = DataDefinition(
        numerical_columns=[name for name, kind in kinds.items() if kind == NUMERIC],
        categorical_columns=[name for name, kind in kinds.items() if kind == CATEGORICAL],
    )
    return Dataset.from_pandas(frame[list(kinds)], data_definition=definition)


def _read_snapshot(
    document: Mapping[str, Any], kinds: Mapping[str, str], drift_share: float, reference_rows: int, current_rows: int
) -> DriftResult:
    metrics = document["metrics"]
    status_by_metric = {
        test["metric_config"]["metric_id"]: test["status"] for test in document["tests"] if test["id"] == "drift"
    }
    dataset_status = [test["status"] for test in document["tests"] if test["id"] == "lt"]
    columns = {}
    for metric in metrics:
        config = metric["config"]
        if config["type"] != "evidently:metric_v2:ValueDrift":
            continue
        label = str(config["method"])  # the display name, or the registry name when one was passed in
        if label in METHODS:
            label = METHODS[label].label
        name = str(config["column"])
        score = float(metric["value"])
        columns[name] = ColumnDrift(
            column=name,
            kind=kinds[name],
            method=_LABEL_TO_METHOD.get(label, label),
            method_label=label,
            score=score,
            threshold=float(config["threshold"]),
            drifted=status_by_metric[metric["id"]] == "FAIL",
            reference_values=0,
            current_values=0,
            unique_values=0,
        )
    count = next(m["value"] for m in metrics if m["config"]["type"] == "evidently:metric_v2:DriftedColumnsCount")
    ordered = tuple(columns[name] for name in kinds)
    return DriftResult(
        columns=ordered,
        drift_share_threshold=float(drift_share),
        drift_share=float(count["share"]),
        dataset_drift=dataset_status == ["FAIL"],
        reference_rows=reference_rows,
        current_rows=current_rows,
    )


# ---------------------------------------------------------------------------------------------
# The StatTests that hand Evidently the stage's verdicts


def _register_precomputed_tests() -> None:
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        _registered_stat_tests,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType

    for method in METHODS.values():
        name = PRECOMPUTED_PREFIX + method.name
        if name in _registered_stat_tests:
            continue
        register_stattest(
            StatTest(
                name=name,
                display_name=method.label,
                allowed_feature_types=[ColumnType.Numerical, ColumnType.Categorical],
                default_threshold=method.default_threshold,
            ),
            _precomputed_verdict,
        )


def _precomputed_verdict(reference: pd.Series, current: pd.Series, feature_type: Any, threshold: float) -> Any:
    """Evidently's stattest signature; returns the stage's (score, drifted) for the column being tested."""
    verdict = _VERDICTS.get()[str(reference.name)]
    return verdict.score, verdict.drifted


@contextmanager
def _verdicts(result: DriftResult) -> Iterator[None]:
    token = _VERDICTS.set({column.column: column for column in result.columns})
    try:
        yield
    finally:
        _VERDICTS.reset(token)


# ---------------------------------------------------------------------------------------------
# HTML post-processing


def _drifted_rows_first(widgets: list[Any]) -> None:
    """Reorders Evidently's drift table in place so the drifted columns come first (see the module docstring).

    Each row carries its own detail plots (by id), so moving rows moves nothing else.
    """
    tables = [
        widget
        for widget in widgets
        if widget.type == "big_table"
        and widget.params
        and widget.params.get("data")
        and all("data_drift" in row for row in widget.params["data"])
    ]
    if len(tables) != 1:
        raise RuntimeError(f"Evidently's HTML layout changed: expected one drift table, found {len(tables)}")
    rows = tables[0].params["data"]
    rows.sort(key=lambda row: row["data_drift"] != "Detected")  # stable: Evidently's order within each group


_DATA_BLOCK = re.compile(r"<script>\n\s*var metric_[0-9a-f]+ = .*?\n</script>", re.DOTALL)


def _inert_data_block(page: str) -> str:
    """Escapes ``<`` inside Evidently's inline data script so no value can close the script tag.

    The block is JSON (from ``json.dumps``, which never emits a raw newline), so it ends at the first
    newline followed by ``</script>``; ``<`` only occurs inside its strings, where ``\\u003c`` means
    the same character to JavaScript.
    """
    match = _DATA_BLOCK.search(page)
    if match is None:
        raise RuntimeError("Evidently's HTML layout changed: the inline data block was not found")
    block = match.group(0)
    body = block[len("<script>") : -len("</script>")]
    safe = "<script>" + body.replace("<", "\\u003c") + "</script>"
    return page[: match.start()] + safe + page[match.end() :]


def _banner_text(result: DriftResult, ref_sample: int, cur_sample: int, sampled: bool) -> str:
    verdict = "Dataset drift detected" if result.dataset_drift else "No dataset drift"
    plots = (
        f"Plots and distributions below are drawn from a seeded sample of {ref_sample:,} reference and "
        f"{cur_sample:,} current rows."
        if sampled
        else "Plots and distributions below use all rows."
    )
    return (
        f"{verdict}: {result.number_of_drifted_columns} of {result.number_of_columns} columns drifted "
        f"(share {result.drift_share:.3f}, threshold {result.drift_share_threshold:g}). "
        f"Every verdict and score on this page was computed by shipyard's drift stage on all rows "
        f"({result.reference_rows:,} reference, {result.current_rows:,} current) with Evidently's methods and "
        f"thresholds; the same numbers are in the JSON and Markdown reports. {plots}"
    )


def _with_banner(page: str, text: str) -> str:
    banner = (
        '<div id="shipyard-drift-banner" style="font-family:sans-serif;padding:12px 16px;margin:0 0 8px 0;'
        'background:#fff4e5;border-bottom:2px solid #f0a020">' + html.escape(text) + "</div>"
    )
    title = "<title>shipyard drift report</title>"
    page = page.replace("<head>", "<head>\n" + title, 1)
    return page.replace("<body>", "<body>\n" + banner, 1)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
