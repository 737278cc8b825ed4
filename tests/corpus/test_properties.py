"""Property-based tests: arbitrary bytes and arbitrary tables through ingest and validate.

Whatever the input, the stages either return a result or raise one of shipyard's own errors
(:mod:`shipyard.errors`), whose message is one line; never a pandas, pyarrow or numpy exception.
Bounded (``max_examples``) and deterministic (``derandomize``, no example database), so CI sees
the same examples on every run.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from shipyard.config import load_config
from shipyard.errors import ShipyardError
from shipyard.stages.ingest import ingest_table
from shipyard.stages.task import resolve_task
from shipyard.stages.validate import check_dataset, infer_contract

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SETTINGS = load_config().validation


@contextmanager
def written(name: str, content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(content)
        yield path


def ingest_and_validate(path: Path) -> None:
    """ingest, then every check with the first column as target; only ShipyardError may escape."""
    try:
        table = ingest_table(str(path))
        frame = table.frame
        if len(frame.columns):
            validate_frame(frame, str(frame.columns[0]))
    except ShipyardError as exc:
        assert "\n" not in str(exc), str(exc)  # one line for the terminal


def validate_frame(frame: pd.DataFrame, target: str) -> None:
    """The training run's validation path (task auto; against the table's own contract too)."""
    task = resolve_task(frame, target, "auto")
    report = check_dataset(frame, target, task, SETTINGS)
    report.to_dict(), report.to_markdown()
    if report.ok:
        contract = infer_contract(frame, target, task)
        check_dataset(frame, target, task, SETTINGS, contract)


# --- arbitrary bytes ---------------------------------------------------------------------------

CSV_ALPHABET = st.sampled_from(list('abc,;\t"\n\r 0123456789.-+eE') + ["NA", "inf", "nan", "\x00", "é", "\ufeff"])
CSV_LIKE = st.lists(CSV_ALPHABET, max_size=300).map(lambda parts: "".join(parts).encode("utf-8"))


@BOUNDED
@given(content=st.binary(max_size=3000))
def test_arbitrary_bytes_as_csv(content: bytes):
    with written("data.csv", content) as path:
        ingest_and_validate(path)


@BOUNDED
@given(content=CSV_LIKE)
def test_csv_like_text(content: bytes):
    with written("data.csv", content) as path:
        ingest_and_validate(path)


@BOUNDED
@given(content=st.binary(max_size=3000))
def test_arbitrary_bytes_as_parquet_and_gzip(content: bytes):
    for name, raw in (("data.parquet", b"PAR1" + content), ("data.csv.gz", gzip.compress(content, mtime=0))):
        with written(name, raw) as path:
            ingest_and_validate(path)


def _valid_parquet() -> bytes:
    frame = pd.DataFrame({"x": np.arange(30.0), "c": list("ab") * 15, "y": ["yes", "no", "no"] * 10})
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


VALID_PARQUET = _valid_parquet()


@BOUNDED
@given(cut=st.integers(0, len(VALID_PARQUET)), flips=st.lists(st.integers(0, len(VALID_PARQUET) - 1), max_size=8))
def test_damaged_parquet(cut: int, flips: list[int]):
    raw = bytearray(VALID_PARQUET)
    for position in flips:
        raw[position] ^= 0xFF
    with written("data.parquet", bytes(raw[:cut] if cut else raw)) as path:
        ingest_and_validate(path)


# --- arbitrary tables --------------------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=12).filter(lambda name: name.strip() != "")
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
TEXT = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["NA", "yes", "no", "1", "2.5", "true", "inf", ""]))


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique_by=lambda name: name.strip()))
    kinds = draw(st.lists(st.sampled_from(["float", "int", "text", "bool"]), min_size=len(names), max_size=len(names)))
    columns = []
    for name, kind in zip(names, kinds, strict=True):
        if kind == "float":
            columns.append(column(name, dtype=float, elements=FLOATS))
        elif kind == "int":
            columns.append(column(name, dtype="int64", elements=st.integers(-(2**40), 2**40)))
        elif kind == "bool":
            columns.append(column(name, dtype=bool))
        else:
            columns.append(column(name, dtype=object, elements=TEXT))
    return draw(data_frames(columns, index=range_indexes(min_size=0, max_size=60)))


@BOUNDED
@given(frame=tables())
def test_arbitrary_tables_through_validate(frame: pd.DataFrame):
    try:
        validate_frame(frame, str(frame.columns[0]))
    except ShipyardError:
        pass


@settings(BOUNDED, max_examples=25)
@given(frame=tables())
def test_arbitrary_tables_written_as_csv_and_parquet_through_ingest_and_validate(frame: pd.DataFrame):
    with tempfile.TemporaryDirectory() as directory:
        csv_path = Path(directory) / "t.csv"
        frame.to_csv(csv_path, index=False)
        ingest_and_validate(csv_path)
        parquet_path = Path(directory) / "t.parquet"
        try:
            frame.to_parquet(parquet_path, index=False)
        except (pa.ArrowException, ValueError, TypeError):
            return  # pandas/pyarrow cannot write this frame (mixed object column): nothing to read
        ingest_and_validate(parquet_path)
