"""Many models: one per value of a column (a region, a product, a customer tier), each with its own champion.

A segment is a registry model of its own, named ``NAME--VALUE`` (:func:`segment_model_name`), so
everything that works on one model (the gate against its own champion, the unchanged check,
aliases, promote, rollback, serve, monitoring) works on each segment unchanged. The parent model
``NAME`` keeps an index, ``models/NAME/segments/SUFFIX.json``, of which value each segment model
stands for; listing a model's segments reads that index, never the registry's whole tree.

This module is pure apart from the index's reads and writes: it plans which segments a table
holds (:func:`plan_segments`), cuts a segment's rows out of it (:func:`segment_rows`) and sums up
how each segment's delivery ended (:func:`segment_totals`). The pipeline fans the plan out with
``dsl.ParallelFor`` (pipelines/segments.py).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module
from shipyard.config import SegmentSettings, ShipyardConfig
from shipyard.errors import ConfigError, DataValidationError, RegistryError
from shipyard.findings import PROBLEM, Code, Finding
from shipyard.store.base import NotFound
from shipyard.store.documents import dumps, loads
from shipyard.store.names import validate_model_name, validate_run_id

if TYPE_CHECKING:
    import pandas as pd
else:  # loaded on first use: the config and the bookkeeping tasks import this module (shipyard/_lazy.py)
    pd = lazy_module("pandas")

#: Between a model's name and its segment's part in the segment model's name: ``churn--eu``.
SEPARATOR = "--"
#: Registry model names are at most this long (shipyard.store.names).
_MAX_NAME = 63
_UNSAFE = re.compile(r"[^a-z0-9_-]+")
#: How a segment's delivery can end (the ``status`` of each entry of a run's ``segments`` list).
STATUSES = ("promoted", "rejected", "unchanged", "failed", "skipped")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def segment_suffix(model: str, segment: str) -> str:
    """The part of the segment model's name after ``NAME--``: the value itself when it is a safe name.

    A value that is not (``EU``, ``São Paulo``, ``a/b``), or that would make the name longer than
    63 characters, is slugged and gets a hash of the exact value, so two values never share a model:
    ``EU`` is ``eu-<hash>``, distinct from ``eu``.
    """
    room = _MAX_NAME - len(model) - len(SEPARATOR)
    if room < 10:
        raise RegistryError(
            f"model name '{model}' is too long for segments: segment models are named "
            f"'{model}{SEPARATOR}VALUE' within 63 characters; use a name of at most {_MAX_NAME - 12} characters"
        )
    safe = _UNSAFE.search(segment) is None and SEPARATOR not in segment  # "--" only between model and segment
    if safe and segment and len(segment) <= room and segment[0].isalnum():
        return segment
    slug = re.sub("-{2,}", "-", _UNSAFE.sub("-", segment.lower())).strip("-_")
    return f"{slug[: room - 9].rstrip('-_')}-{_short_hash(segment)}".lstrip("-")


def segment_model_name(model: str, segment: str) -> str:
    """The registry model that holds ``segment`` of ``model``: ``churn--eu``.

    Raises:
        RegistryError: ``model`` itself holds ``--`` (it would be read as a segment model's name).
    """
    validate_model_name(model)
    if SEPARATOR in model:
        raise RegistryError(
            f"model name '{model}' holds '{SEPARATOR}', which separates a model from its segment "
            f"('{model}' reads as a segment model); choose a name without '{SEPARATOR}' to train segments"
        )
    return validate_model_name(f"{model}{SEPARATOR}{segment_suffix(model, segment)}")


def segment_run_id(run_id: str, model: str, segment: str) -> str:
    """The id a segment's delivery records under: the run's id and the segment's suffix (``RUN.eu``).

    Each segment writes its own run record (validation, gate, register, outcome), so segments
    delivered at once never overwrite each other's sections.
    """
    return f"{run_id}.{segment_suffix(model, segment)}"


def segment_label(value: Any) -> str | None:
    """A segment value as text (``None`` when missing): how plans, ``segments.allow``, the index and routing compare.

    A whole number is written as an integer whatever its type (``1``, ``1.0`` and ``"1"`` are one
    segment: pandas reads an integer column with a gap as floats), booleans as ``true``/``false``,
    text without surrounding whitespace. Needs no pandas for plain Python and numpy values.
    """
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str):  # a numpy scalar: its Python value
        try:
            value = item()
        except (TypeError, ValueError):
            pass
        if value is None:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return str(number)
    if not isinstance(value, str) and "pandas" in sys.modules and pd.isna(value) is True:  # pd.NA, pd.NaT
        return None
    text = str(value).strip()
    return text or None


def segment_labels(values: pd.Series) -> pd.Series:
    """Each row's :func:`segment_label`."""
    return values.map(segment_label).astype(object)


@dataclass(frozen=True)
class PlannedSegment:
    segment: str
    model: str
    rows: int


@dataclass(frozen=True)
class SkippedSegment:
    segment: str | None  # None: the rows with no value in the segment column
    rows: int
    reason: str


@dataclass(frozen=True)
class SegmentPlan:
    """Which segments a table holds: the ones to deliver, in value order, and the ones left out with why."""

    model: str
    column: str
    planned: tuple[PlannedSegment, ...]
    skipped: tuple[SkippedSegment, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "column": self.column,
            "planned": [asdict(segment) for segment in self.planned],
            "skipped": [asdict(segment) for segment in self.skipped],
        }


def _refuse(column: str, code: Code, message: str, hint: str) -> DataValidationError:
    return DataValidationError([Finding(column=column, severity=PROBLEM, code=code, message=message, hint=hint)])


def plan_segments(frame: pd.DataFrame, model: str, settings: SegmentSettings, *, target: str) -> SegmentPlan:
    """The segments of ``frame`` by ``settings.column``: values with at least ``min_rows`` rows (and in
    ``allow``, when it is set) are planned; the others, and rows with no value, are skipped with a reason.

    Raises:
        DataValidationError: no segment column is set, it is not in the table, it is the target,
            or no segment is left to train; the message names the column.
    """
    column = settings.column
    if not column:
        raise DataValidationError(["table: no segment column; pass --segment-by COLUMN or set segments.column"])
    if column not in frame.columns:
        raise _refuse(
            column,
            Code.MISSING_COLUMN,
            f"column '{column}': the segment column is not in the table "
            f"(columns: {', '.join(map(str, frame.columns))})",
            "pass --segment-by one of the table's columns",
        )
    if column == target:
        raise _refuse(
            column,
            Code.MISSING_COLUMN,
            f"column '{column}': is the target; a model per value of what it predicts would predict a constant",
            "segment by a feature column",
        )
    labels = segment_labels(frame[column])
    counts = labels.value_counts(dropna=True)
    allow = set(settings.allow)
    planned: list[PlannedSegment] = []
    skipped: list[SkippedSegment] = []
    for segment in sorted(counts.index, key=str):
        rows = int(counts[segment])
        if allow and segment not in allow:
            skipped.append(SkippedSegment(segment, rows, "not in segments.allow"))
        elif rows < settings.min_rows:
            skipped.append(
                SkippedSegment(segment, rows, f"{rows} rows, fewer than segments.min_rows ({settings.min_rows})")
            )
        else:
            planned.append(PlannedSegment(segment, segment_model_name(model, segment), rows))
    for wanted in sorted(allow - set(counts.index)):
        skipped.append(SkippedSegment(wanted, 0, "in segments.allow but not in the table"))
    missing = int(labels.isna().sum())
    if missing:
        skipped.append(SkippedSegment(None, missing, f"no value in column '{column}'"))
    plan = SegmentPlan(model=model, column=column, planned=tuple(planned), skipped=tuple(skipped))
    if not planned:
        reasons = "; ".join(f"{item.segment!r}: {item.reason}" for item in skipped[:5]) or "the table has no rows"
        raise _refuse(
            column,
            Code.NO_ROWS,
            f"column '{column}': no segment to train ({reasons})",
            "lower segments.min_rows, widen segments.allow, or pass a larger table",
        )
    return plan


def segment_rows(frame: pd.DataFrame, column: str, segment: str) -> pd.DataFrame:
    """The rows of ``segment``, in the table's order, with a fresh index.

    A numeric column that is float only because of gaps (and whose other values are whole) is
    integer again when this segment has no gap in it: a gap in one segment must not change
    another's data (and so its hash, and whether its delivery is unchanged). Columns float for
    their own values, and numbers beyond 2**53, stay as they are.
    """
    rows = frame[segment_labels(frame[column]) == segment].reset_index(drop=True)
    for name in rows.columns:
        whole = frame[name]
        if whole.dtype.kind != "f" or not whole.isna().any():
            continue
        known = whole.dropna()
        if not ((known % 1 == 0) & (known.abs() < 2**53)).all():
            continue
        if len(rows) and rows[name].notna().all():
            rows[name] = rows[name].astype("int64")
    return rows


# --- the index of a model's segments ----------------------------------------------------------


def _index_prefix(model: str) -> str:
    return f"models/{validate_model_name(model)}/segments/"


def record_segments(registry: Any, plan: SegmentPlan) -> None:
    """Adds the plan's segments to ``models/NAME/segments/``; an entry already there is left as it is."""
    prefix = _index_prefix(plan.model)
    for segment in plan.planned:
        key = f"{prefix}{segment.model[len(plan.model) + len(SEPARATOR) :]}.json"
        document = {"segment": segment.segment, "model": segment.model, "column": plan.column}
        registry.store.create(key, dumps(document))


@dataclass(frozen=True)
class SegmentPage:
    segments: list[dict[str, Any]]  # {"segment", "model", "column"} in suffix order
    next_after: str | None  # pass as ``after`` for the next page; None on the last one
    total: int


def list_segments(registry: Any, model: str, *, limit: int | None = 100, after: str | None = None) -> SegmentPage:
    """One page of ``model``'s segments (one listing, one read per segment on the page)."""
    prefix = _index_prefix(model)
    keys = sorted(key for key in registry.store.list(prefix) if key.endswith(".json"))
    suffixes = [key[len(prefix) : -len(".json")] for key in keys]
    # Pages follow the keys' order ("eu-1a2b.json" sorts before "eu.json"), so ``after`` is compared as a key.
    start = 0 if after is None else next((i for i, key in enumerate(keys) if key > f"{prefix}{after}.json"), len(keys))
    page = suffixes[start:] if limit is None else suffixes[start : start + limit]
    entries = []
    for suffix in page:
        key = f"{prefix}{suffix}.json"
        try:
            entries.append(loads(registry.store.read(key), registry.store.uri_for(key)))
        except NotFound:  # removed between the listing and the read
            continue
    more = limit is not None and start + limit < len(suffixes)
    return SegmentPage(entries, page[-1] if more and page else None, len(suffixes))


def check_segment_column(registry: Any, model: str, column: str) -> None:
    """Refuses to segment ``model`` by ``column`` when its index says it is segmented by another column,
    or when ``model`` has versions of its own.

    The same value of two columns would be one segment model trained on two populations, and a
    server could not tell which column routes a request.
    """
    if registry.latest_version(model) is not None:
        raise ConfigError(
            f"model '{model}' has versions of its own: segmenting it would make `shipyard serve {model}` route "
            f"by '{column}' instead of serving its production version; train the segments under another --model name"
        )
    indexed = list_segments(registry, model, limit=1).segments
    if indexed and indexed[0].get("column") != column:
        raise ConfigError(
            f"model '{model}' is segmented by column '{indexed[0].get('column')}', not '{column}': "
            f"segment by '{indexed[0].get('column')}', or train the new segmentation under another --model name"
        )


def is_segment_model(registry: Any, name: str) -> bool:
    """Whether ``name`` is a segment model (``PARENT--SUFFIX`` in PARENT's index), not just a name with ``--``."""
    parent, separator, suffix = name.partition(SEPARATOR)
    if not separator or not parent or not suffix:
        return False
    try:
        return bool(registry.store.exists(f"{_index_prefix(parent)}{suffix}.json"))
    except RegistryError:  # the part before "--" is no model name
        return False


def find_segment(registry: Any, model: str, segment: str) -> str:
    """The registry model of ``segment`` (a value, or the segment model's own name); RegistryError if unknown."""
    if segment.startswith(f"{model}{SEPARATOR}"):
        name = segment
    else:
        name = segment_model_name(model, segment)
    key = f"{_index_prefix(model)}{name[len(model) + len(SEPARATOR) :]}.json"
    if not registry.store.exists(key):
        known = [entry["segment"] for entry in list_segments(registry, model, limit=10).segments]
        have = f"its segments include {known}" if known else "it has no segments (train with --segment-by)"
        raise RegistryError(f"model '{model}' has no segment {segment!r}; {have}")
    return name


# --- a run's outcome ---------------------------------------------------------------------------


def segment_status(summary: Mapping[str, Any]) -> str:
    """One word for how a segment's delivery ended, from its run summary (shipyard.cli.training)."""
    if summary.get("status") == "unchanged":
        return "unchanged"
    if summary.get("status") != "succeeded":
        return "failed"
    return "promoted" if summary.get("blessed") else "rejected"


def segment_totals(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many segments ended each way (every status counted, zero included) and in all."""
    totals = dict.fromkeys(STATUSES, 0)
    for entry in entries:
        totals[str(entry["status"])] = totals.get(str(entry["status"]), 0) + 1
    totals["total"] = sum(totals[status] for status in STATUSES)
    return totals


# --- the plan a run fans out ---------------------------------------------------------------------

#: The run record section holding a segmented run's plan (parent run id).
PLAN_SECTION = "segments"
#: The run record section holding how one segment's delivery ended (segment run id).
OUTCOME_SECTION = "segment"


@dataclass(frozen=True)
class PlannedRun:
    plan: SegmentPlan
    items: list[str]  # one JSON object per planned segment: segment, model, rows, data_uri, run_id
    markdown: str


def plan_table(
    registry: Any,
    table: Any,
    model: str,
    config: ShipyardConfig,
    *,
    segment_by: str,
    target: str,
    run_id: str,
) -> PlannedRun:
    """Plans ``table`` (an :class:`~shipyard.stages.ingest.IngestedTable`), stores each planned segment's
    rows for its branch, indexes the segments and records the plan under ``run_id``.

    Raises:
        ConfigError: ``deploy.target: kserve`` (one staging and one production InferenceService are
            configured, not one per segment).
        DataValidationError: as :func:`plan_segments`.
    """
    import json

    from shipyard.stages.ingest import store_table

    if config.deploy.target != "registry":
        raise ConfigError(
            "config key 'deploy.target': segments deliver to the registry (serve them all with "
            f"`shipyard serve {model}`); one InferenceService per segment is not supported yet, use target: registry"
        )
    settings = replace(config.segments, column=segment_by or config.segments.column)
    plan = plan_segments(table.frame, model, settings, target=target)
    check_segment_column(registry, model, plan.column)
    validate_run_id(run_id)
    items = []
    for segment in plan.planned:
        suffix = segment_suffix(model, segment.segment)
        rows = segment_rows(table.frame, plan.column, segment.segment)
        data_uri = store_table(registry.store, f"runs/{run_id}/segments/{suffix}.parquet", rows)
        item = {**asdict(segment), "data_uri": data_uri, "run_id": segment_run_id(run_id, model, segment.segment)}
        items.append(json.dumps(item, sort_keys=True))
    record_segments(registry, plan)
    registry.put_run_record(
        run_id,
        PLAN_SECTION,
        {
            **plan.to_dict(),
            "data_uri": table.uri,
            "data_hash": table.data_hash,
            "items": [json.loads(i) for i in items],
        },
    )
    return PlannedRun(plan, items, plan_markdown(plan))


def plan_markdown(plan: SegmentPlan) -> str:
    lines = [
        f"# Segments of {plan.model} by `{plan.column}`",
        "",
        "| segment | model | rows | plan |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s.segment} | {s.model} | {s.rows} | deliver |" for s in plan.planned]
    lines += [
        f"| {s.segment if s.segment is not None else '(missing)'} | | {s.rows} | skip: {s.reason} |"
        for s in plan.skipped
    ]
    return "\n".join(lines) + "\n"


def segments_settled(registry: Any, run_id: str) -> bool | None:
    """For a segmented run: whether every planned segment recorded how it ended (None: not a segmented run).

    The run's exit handler alerts only when this is not True: each failed segment has already sent
    its own alert, and a run whose segments all ended is no failure of the run, whatever state
    the exit handler reads (KFP 2.15/2.16 can read RUNNING after a success).
    """
    try:
        plan = registry.get_run_record(run_id).get(PLAN_SECTION)
        if plan is None:
            return None
        return all(OUTCOME_SECTION in registry.get_run_record(item["run_id"]) for item in plan.get("items", []))
    except Exception as exc:  # noqa: BLE001 - cannot tell: the caller alerts, as for any run that did not ship
        print(f"could not read the segments of run {run_id}: {exc}")
        return False
