"""The reference sample: what "normal" looked like for a model version, stored beside it.

Registering a version stores the rows it was trained on (target included) as
``models/NAME/VERSION/reference.parquet``; monitoring compares new data with them. Above
``monitoring.reference_max_rows`` rows the sample is the rows with the smallest
:func:`~shipyard.stages.split.row_hashes`: deterministic, bounded, and independent of the row
order (the same table in any order gives the same sample), so a rerun stores the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # loaded on first use: a task that only reads this module's types skips them (shipyard/_lazy.py)
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: The reference sample's file name in a version directory.
REFERENCE_FILE = "reference.parquet"


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames field by field would raise
class ReferenceSample:
    """The rows kept as a version's reference, and how they were chosen."""

    frame: pd.DataFrame
    source_rows: int  # training rows the sample was drawn from
    max_rows: int

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def sampled(self) -> bool:
        return self.rows < self.source_rows

    def to_metadata(self) -> dict[str, Any]:
        """What lineage and the KFP artifact record: sizes, whether sampled and how."""
        return {
            "file": REFERENCE_FILE,
            "rows": self.rows,
            "source_rows": self.source_rows,
            "sampled": self.sampled,
            "max_rows": self.max_rows,
            "sample": "smallest row hash" if self.sampled else "all training rows",
        }


def reference_sample(train_rows: pd.DataFrame, max_rows: int, seed: int) -> ReferenceSample:
    """All of ``train_rows`` when at most ``max_rows``, else the ``max_rows`` rows with the smallest row hash.

    The sample keeps the original row order (of the rows it keeps) and a fresh 0..n-1 index.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    if len(train_rows) <= max_rows:
        frame = train_rows.reset_index(drop=True)
    else:
        from shipyard.stages.split import row_hashes  # numpy at import: only when sampling

        hashes = row_hashes(train_rows, seed)
        keep = np.sort(np.argpartition(hashes, max_rows - 1)[:max_rows])
        frame = train_rows.iloc[keep].reset_index(drop=True)
    return ReferenceSample(frame=frame, source_rows=len(train_rows), max_rows=max_rows)


def write_reference(sample: ReferenceSample, path: str | Path) -> Path:
    """Writes the sample as Parquet (the file registered beside the model)."""
    target = Path(path)
    sample.frame.to_parquet(target, index=False)
    return target


def reference_facts(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """:meth:`ReferenceSample.to_metadata` read back from artifact metadata (whose numbers may come back as floats)."""
    facts: dict[str, Any] = {"file": REFERENCE_FILE}
    for key in ("rows", "source_rows", "max_rows"):
        if metadata.get(key) is not None:
            facts[key] = int(metadata[key])
    if metadata.get("sampled") is not None:
        facts["sampled"] = bool(metadata["sampled"])
    if metadata.get("sample") is not None:
        facts["sample"] = str(metadata["sample"])
    return facts
