"""Reads a CSV or Parquet table from a URI into a DataFrame with predictable column types.

Every later stage relies on the normalisation done here: a column is either numeric
(``int64``/``float64``) or categorical (``object`` holding ``str`` with ``np.nan`` for
missing), so the same file always yields the same frame, contract and data hash.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import DataValidationError
from shipyard.findings import Code, Finding, problem
from shipyard.stages.columns import CATEGORICAL, NUMERIC, column_kind, column_kinds
from shipyard.stages.source import data_hash, read_data_file

#: Cell texts read as missing: pandas' default NA strings (``NA``, empty, ``NaN``, ``null``, ...).
MISSING_MARKERS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

_PARQUET_MAGIC = b"PAR1"
_PARQUET_SUFFIXES = (".parquet", ".pq")
_GZIP_MAGIC = b"\x1f\x8b"

_HEADER_ONLY_HINT = "the file has a header but no data rows: check the export that wrote it"
_RAGGED_CSV_HINT = "give every row as many cells as the header, and put cells that hold ',' or '\"' in double quotes"
_PARQUET_HINT = "write the file again (it may be truncated), or pass the table as CSV"


@dataclass(frozen=True)
class IngestedTable:
    """A table read from ``uri``, with the hash of the exact bytes it came from."""

    frame: pd.DataFrame
    uri: str
    data_hash: str  # "sha256:<hex>" of the raw bytes read
    format: str  # "csv" | "parquet"
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]


def store_table(store: Any, key: str, table: pd.DataFrame) -> str:
    """Writes ``table`` as Parquet to ``key`` of an object store; returns its URI (a path for a local store).

    What one step writes for a later one to ingest (a retraining table, a segment's rows).
    """
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="shipyard-table-") as tmp:
        path = Path(tmp) / "table.parquet"
        table.to_parquet(path, index=False)
        store.write_file(key, path)
    return str(store.uri_for(key))


def ingest_table(uri: str, *, text_columns: Collection[str] = ()) -> IngestedTable:
    """Reads the table at ``uri`` (a local path, ``file://`` or ``s3://``).

    The format is Parquet when the bytes start with ``PAR1`` or the name ends in
    ``.parquet``/``.pq``, CSV otherwise. In CSV, surrounding whitespace in names and cells is
    ignored and ``NA``, blank cells and pandas' other NA strings are missing values.
    ``text_columns`` of a CSV stay the text written even when every cell looks like a number
    (identifiers: ``007`` is not ``7``). A Parquet file's pandas ``frame.attrs`` are kept, as
    ``pd.read_parquet`` keeps them (a traffic window names the features it lacks there).

    Raises:
        DataValidationError: the file is missing, unreadable or garbled, has no data rows, or
            has duplicate column names; the message names the URI or the column.
    """
    raw = read_data_file(uri)
    raw_hash = data_hash(raw)
    if not raw or raw.isspace():
        raise _unusable(
            Code.EMPTY_FILE,
            f"table: '{uri}' has no data rows (the file is empty)",
            "check that whatever wrote the file finished, or point --data at the right file",
        )
    if raw.startswith(_PARQUET_MAGIC) or _name_of(uri).lower().endswith(_PARQUET_SUFFIXES):
        table_format, frame = "parquet", _read_parquet(raw, uri)
    else:
        table_format, frame = "csv", _read_csv(raw, uri, frozenset(text_columns))
    if len(frame) == 0:
        raise _unusable(Code.NO_ROWS, f"table: '{uri}' has no data rows", _HEADER_ONLY_HINT)
    kinds = column_kinds(frame)
    return IngestedTable(
        frame=frame,
        uri=uri,
        data_hash=raw_hash,
        format=table_format,
        numeric_columns=tuple(name for name, kind in kinds.items() if kind == NUMERIC),
        categorical_columns=tuple(name for name, kind in kinds.items() if kind == CATEGORICAL),
    )


def _name_of(uri: str) -> str:
    return uri.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _unusable(code: Code, message: str, hint: str = "") -> DataValidationError:
    """The error for a file that cannot be read as a table: one finding about the whole table."""
    return DataValidationError([problem(None, code, message, hint)])


def _check_unique_names(names: list[str], uri: str) -> None:
    repeated: list[Finding | str] = [
        problem(
            name,
            Code.DUPLICATE_COLUMN,
            f"column '{name}': appears {count} times in the header of '{uri}'; column names must be unique",
        )
        for name, count in Counter(names).items()
        if count > 1
    ]
    if repeated:
        raise DataValidationError(repeated)


def _read_csv(raw: bytes, uri: str, text_columns: frozenset[str] = frozenset()) -> pd.DataFrame:
    if raw.startswith(_GZIP_MAGIC):
        raise _unusable(
            Code.GZIP_FILE,
            f"table: cannot parse '{uri}' as CSV: the file is gzip-compressed; decompress it first",
            "decompress it (gunzip FILE.csv.gz) and pass the .csv, or save the table as Parquet",
        )
    if b"\x00" in raw:
        raise _unusable(
            Code.BINARY_FILE,
            f"table: cannot parse '{uri}' as CSV: it contains NUL bytes, so it is binary, not text",
            "pass a CSV text file or a Parquet file; export a spreadsheet (.xlsx) as CSV first",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _unusable(
            Code.NOT_UTF8,
            f"table: cannot parse '{uri}' as CSV: byte {exc.start} is not UTF-8 text; save the file as UTF-8",
            "convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8 FILE.csv > FILE-utf8.csv",
        ) from None

    # pandas renames a repeated name to "x.1" without telling anyone, so read the header ourselves.
    try:
        header = next(csv.reader(io.StringIO(text), skipinitialspace=True), [])
    except csv.Error as exc:
        raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as CSV: {exc}", _RAGGED_CSV_HINT) from None
    _check_unique_names([name.strip() for name in header], uri)
    last_record_line = _check_row_lengths(text, uri, len(header))

    try:
        with warnings.catch_warnings():
            # A data row longer than the header would otherwise be truncated with only a warning.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                index_col=False,
                skipinitialspace=True,
            )
    except pd.errors.EmptyDataError:
        raise _unusable(Code.NO_ROWS, f"table: '{uri}' has no data rows", _HEADER_ONLY_HINT) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, csv.Error) as exc:
        detail = " ".join(str(exc).split())
        if "EOF inside string" in detail:  # pandas' tokenizer wording, row counted from 0
            detail = f"line {last_record_line}: a quoted cell is never closed (an unmatched '\"')"
        raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as CSV: {detail}", _RAGGED_CSV_HINT) from None

    frame.columns = [str(name).strip() for name in frame.columns]
    if len(frame.columns) == 1 and any(sep in frame.columns[0] for sep in (";", "\t")):
        raise _unusable(
            Code.NOT_COMMA_SEPARATED,
            f"table: cannot parse '{uri}' as CSV: it has a single column named '{frame.columns[0]}'; "
            "shipyard reads comma-separated files",
            "export the table again with ',' between cells and '.' for decimals, or save it as Parquet",
        )
    return pd.DataFrame(
        {name: _text_cells(frame[name]) if name in text_columns else _column_from_text(frame[name]) for name in frame}
    )


def _check_row_lengths(text: str, uri: str, width: int) -> int:
    """Rejects the first row with more or fewer cells than the header, naming its line; blank lines are skipped.

    pandas would pad a short row with missing values and, with a long row, report its tokenizer's
    wording without a line number. Returns the line the last row starts on.
    """
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    next(reader, None)
    start = last = reader.line_num + 1
    for record in reader:
        ended = reader.line_num
        if record and len(record) != width and not (len(record) == 1 and not record[0].strip()):
            if ended > start and any("\n" in cell for cell in record) and next(reader, None) is None:
                detail = f"line {start}: a quoted cell is never closed (an unmatched '\"')"
            else:
                detail = f"line {start} has {len(record)} cell(s) but the header has {width}"
            raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as CSV: {detail}", _RAGGED_CSV_HINT)
        last, start = start, ended + 1
    return last


def _text_cells(cells: pd.Series) -> pd.Series:
    """Cells as the text written (whitespace around them dropped), NaN where missing: never numbers."""
    stripped = cells.str.strip()
    return stripped.where(~stripped.isin(MISSING_MARKERS), np.nan).astype(object)


def _column_from_text(cells: pd.Series) -> pd.Series:
    """A numeric column when every present cell parses as a number, else strings with NaN.

    A column holding only true/false in any capitalisation becomes "True"/"False".
    """
    stripped = cells.str.strip()
    present = ~stripped.isin(MISSING_MARKERS)
    values = stripped.where(present, np.nan)
    numbers = pd.to_numeric(values, errors="coerce")
    if not present.any() or numbers[present].notna().all():
        return _as_numeric(numbers)
    spelled = values[present].str.lower()
    if spelled.isin(("true", "false")).all():  # one spelling per boolean, as pandas and Parquet give
        return values.where(~present, spelled.map({"true": "True", "false": "False"})).astype(object)
    return values.astype(object)


def _read_parquet(raw: bytes, uri: str) -> pd.DataFrame:
    try:
        parquet = pq.ParquetFile(pa.BufferReader(raw))
    except (pa.ArrowException, OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as Parquet: {detail}", _PARQUET_HINT) from None
    # Before reading: pyarrow's dataset reader fails on a repeated name with its internal field list.
    _check_unique_names([str(name).strip() for name in parquet.schema_arrow.names], uri)
    try:
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as Parquet: {detail}", _PARQUET_HINT) from None
    try:
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise _unusable(Code.UNPARSEABLE, f"table: cannot parse '{uri}' as Parquet: {detail}", _PARQUET_HINT) from None
    # A pandas index saved in the file comes back as the index; it is not a data column.
    frame = frame.reset_index(drop=True)
    names = [str(name).strip() for name in frame.columns]
    _check_unique_names(names, uri)
    normalised = pd.DataFrame({name: _normalise_column(frame.iloc[:, i]) for i, name in enumerate(names)})
    normalised.attrs = _pandas_attrs(parquet.schema_arrow.metadata)
    return normalised


def _pandas_attrs(metadata: dict[bytes, bytes] | None) -> dict[str, Any]:
    """The ``frame.attrs`` pandas (2.1+) stored in a Parquet file, as ``pd.read_parquet`` restores them.

    Attrs are optional metadata, never a reason to reject a table: unreadable ones are left out.
    """
    import json

    stored = (metadata or {}).get(b"PANDAS_ATTRS")
    try:
        attrs = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _normalise_column(column: pd.Series) -> pd.Series:
    if column_kind(column.dtype) == NUMERIC:
        return _as_numeric(column)
    return _as_text(column)


def _as_numeric(column: pd.Series) -> pd.Series:
    """``int64`` for whole numbers without gaps that fit, ``float64`` for everything else."""
    if (
        pd.api.types.is_integer_dtype(column.dtype)
        and not column.isna().any()
        and (len(column) == 0 or int(column.max()) <= np.iinfo(np.int64).max)
    ):
        return column.astype("int64")
    return pd.Series(column.to_numpy(dtype="float64", na_value=np.nan), index=column.index, name=column.name)


def _as_text(column: pd.Series) -> pd.Series:
    present = column.notna()
    values = np.full(len(column), np.nan, dtype=object)
    values[present.to_numpy()] = [str(value) for value in column[present]]
    return pd.Series(values, index=column.index, name=column.name, dtype=object)
