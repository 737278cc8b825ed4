"""The stable row-hash holdout split: which rows train a model and which rows judge it.

A row is held out when its hash, read as a fraction of 2**64, is below ``holdout_fraction``.
The hash depends only on the row's values, how many identical rows came before it, and the
seed; never on the other rows, the row or column order, or the process. So when a retrain uses
the old rows plus new ones (same seed and fraction, any row order), the rows the champion
trained on stay in training and its holdout rows stay held out: the gate never scores the
champion on rows it trained on (which would inflate its score and reject a good challenger).

How a row hashes: each column is normalised and hashed as a whole, numbers (booleans too, True
as 1) as float64 through splitmix64, so int 5, float 5.0 and -0.0 / 0.0 agree and an int column
turned float by a new missing value keeps its hashes; any other cell as its ``str`` by pandas'
SipHash keyed by the seed (so a raw object column hashes like the trainer's text copy of it);
every missing value as one fixed value distinct from any text. The columns are combined in
sorted-name order with a splitmix64 avalanche, starting from a constant derived from the seed.
Only numpy uint64 arithmetic and SipHash: the same in every process and platform (Python's
``hash`` is randomised), and a million rows cost seconds.

Identical rows are a multiset: the k-th copy (k = 0, 1, ... in input order) gets
``mix(content, k)``, so the first n copies of a row split as they did when the table held n,
and duplicated or low-cardinality data still get about ``holdout_fraction`` held out. Copies
are numbered within the frame given: on a subset of a table (such as a later run's holdout) a
row with ``a`` copies there has ``#{k < a: copy k held out}`` marked, never more copies than the
whole table holds out (conservative, in the multiset sense).

On top of the raw rule, ``split_holdout`` gives each class with at least 2 rows (classification)
or the whole table (regression) a row on each side: when a side is empty, the training row with
the lowest hash moves to the holdout, or the held-out row with the highest hash to training;
only in such small classes can a row change sides as data grows. A single-row class stays in
training. Classification is thereby stratified in expectation. Rows without a target are in
neither part; they are never copies of a row with one, so they change no other row's result.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pandas as pd

from shipyard.errors import DataValidationError
from shipyard.vocabulary import TaskKind

#: One uint64 per row; one bool per row.
Hashes = npt.NDArray[np.uint64]
Mask = npt.NDArray[np.bool_]

_U64 = np.uint64
_MIX1, _MIX2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)  # splitmix64 finaliser
_GOLDEN = _U64(0x9E3779B97F4A7C15)  # splitmix64's increment, spreads the occurrence index
#: Hash every missing cell (NaN, None, NaT, pd.NA) takes, in numeric and text columns alike.
_MISSING_HASH = _U64(0x6D697373696E6721)


def _mix64(values: Hashes) -> Hashes:
    """splitmix64's avalanche on a uint64 array, in place (and returned)."""
    with np.errstate(over="ignore"):
        values ^= values >> _U64(30)
        values *= _MIX1
        values ^= values >> _U64(27)
        values *= _MIX2
        values ^= values >> _U64(31)
    return values


def _seed_keys(seed: int) -> tuple[str, np.uint64]:
    """The SipHash key for text columns and the constant every row starts from, from ``seed``.

    A constant besides the key: ``pd.util.hash_array`` ignores its key for numeric arrays, and a
    frame may have no text column at all.
    """
    digest = hashlib.sha256(f"shipyard-split:{seed}".encode()).hexdigest()
    return digest[:16], _U64(int(digest[16:32], 16))


def _hashes_as_number(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values)) and not pd.api.types.is_complex_dtype(values)


def _numeric_column_hash(values: pd.Series) -> Hashes:
    """One uint64 per cell of a numeric (int, float, bool, nullable) column, from its float64 value."""
    as_float = values.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0  # + 0.0: -0.0 becomes 0.0
    missing = np.isnan(as_float)
    bits = as_float.view(_U64)  # as_float is a fresh array (+ 0.0 copied it), safe to change
    with np.errstate(over="ignore"):
        bits += _GOLDEN
    hashed = _mix64(bits)
    hashed[missing] = _MISSING_HASH
    return hashed


def _text_column_hash(values: pd.Series, hash_key: str) -> Hashes:
    """One uint64 per cell of any other column, from the cell's ``str`` (SipHash, keyed by seed)."""
    cells = values.to_numpy(dtype=object)
    missing = pd.isna(cells)
    if missing.any():
        cells = np.where(missing, "", cells)
    if pd.api.types.infer_dtype(cells, skipna=False) not in ("string", "empty"):
        cells = np.array([str(cell) for cell in cells], dtype=object)  # numbers, dates, bools, ... as text
    # categorize=True hashes each distinct text once (same result, faster on repeated values).
    hashed: Hashes = pd.util.hash_array(cells, hash_key=hash_key, categorize=True)
    hashed[missing] = _MISSING_HASH
    return hashed


def _content_hashes(frame: pd.DataFrame, seed: int) -> Hashes:
    hash_key, seed_constant = _seed_keys(seed)
    combined = np.full(len(frame), seed_constant, dtype=_U64)
    # Positions, not names, so a frame with a repeated column name still hashes column by column.
    order = sorted(range(frame.shape[1]), key=lambda position: str(frame.columns[position]))
    for position in order:
        values = frame.iloc[:, position]
        combined ^= _numeric_column_hash(values) if _hashes_as_number(values) else _text_column_hash(values, hash_key)
        _mix64(combined)  # mix after each column: the same values in other columns give another hash
    return combined


def row_hashes(frame: pd.DataFrame, seed: int) -> Hashes:
    """A deterministic uint64 per row of ``frame`` from its values, its copy number and ``seed``.

    Raises:
        DataValidationError: ``frame`` has rows but no columns.
    """
    if not len(frame):
        return np.zeros(0, dtype=_U64)
    if not frame.shape[1]:
        raise DataValidationError(["<table>: no columns to split rows by"])
    content = _content_hashes(frame, seed)
    occurrence = pd.Series(content).groupby(content, sort=False).cumcount().to_numpy(dtype=_U64)
    with np.errstate(over="ignore"):
        occurrence += _U64(1)
        occurrence *= _GOLDEN
    content ^= _mix64(occurrence)
    return _mix64(content)


def _below(hashes: Hashes, fraction: float) -> Mask:
    unit = (hashes >> _U64(11)).astype(np.float64) * 2.0**-53  # hash / 2**64, exact, in [0, 1)
    below: Mask = unit < fraction
    return below


def in_holdout(frame: pd.DataFrame, seed: int, holdout_fraction: float) -> Mask:
    """The raw rule, a bool per row: ``row_hashes(frame, seed) / 2**64 < holdout_fraction``.

    ``split_holdout`` before its per-class moves. Pass the columns the split was made on, in
    any order; the gate uses it to find the rows a champion split another way never trained on.
    """
    return _below(row_hashes(frame, seed), holdout_fraction)


def holdout_mask(frame: pd.DataFrame, target: str, task: str, holdout_fraction: float, seed: int) -> Mask:
    """A bool per row of ``frame``: True for the rows ``split_holdout`` holds out (False without a target).

    Raises:
        DataValidationError: fewer than 2 rows with a target, or (classification) no class
            with at least 2 rows.
    """
    labelled = frame[target].notna().to_numpy()
    if labelled.sum() < 2:
        raise DataValidationError(
            [f"<table>: {int(labelled.sum())} row(s) with a target; need at least 2 to hold some out"]
        )
    rows = np.flatnonzero(labelled)
    # Hashing every row and keeping the labelled ones equals hashing the labelled rows alone,
    # without copying the frame.
    hashes = row_hashes(frame, seed)[rows]
    chosen = _below(hashes, holdout_fraction)

    if task == TaskKind.CLASSIFICATION:
        codes, _ = pd.factorize(frame[target].iloc[rows])
        order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    else:
        groups = [np.arange(len(rows))]
    splittable = 0
    for members in groups:
        if len(members) < 2:
            chosen[members] = False
            continue
        splittable += 1
        if not chosen[members].any():
            chosen[members[np.argmin(hashes[members])]] = True
        elif chosen[members].all():
            chosen[members[np.argmax(hashes[members])]] = False
    if not splittable:
        raise DataValidationError(
            [f"column '{target}': every class has a single row; cannot hold rows out for evaluation"]
        )
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = chosen
    return mask


def split_holdout(
    frame: pd.DataFrame, target: str, task: str, holdout_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splits ``frame`` into (train, holdout); rows without a target are dropped, row order kept.

    Raises:
        DataValidationError: fewer than 2 rows with a target, or every class has a single row.
    """
    mask = holdout_mask(frame, target, task, holdout_fraction, seed)
    return _rows(frame, frame[target].notna().to_numpy() & ~mask), _rows(frame, mask)


def _rows(frame: pd.DataFrame, keep: Mask) -> pd.DataFrame:
    part = frame[keep]  # a new frame: renumbering it in place spares reset_index's copy
    part.index = pd.RangeIndex(len(part))
    return part
