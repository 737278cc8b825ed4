#!/usr/bin/env python3
"""Writes the bad-input corpus: malformed and suspicious tables, each with its expected outcome.

    python scripts/make_bad_inputs.py                 # rewrites tests/corpus/files/ and tests/corpus/expected.yaml
    python scripts/make_bad_inputs.py --out DIR --large   # also the two large files (into DIR)

Every file derives from one small, learnable churn table (``base.csv``) and a fixed seed, so the
output is byte-for-byte the same on every run (gzip and Parquet written without timestamps).
The two large cases (10,000-character cells, 3,000 columns) are left out of the committed corpus
and written by the tests into a temporary directory (``--large``).

Outcomes (``expected.yaml``, one entry per file):
  ingest    rejected at ingest: ``code`` is the finding's code
  validate  rejected at validation: ``code`` and ``column`` (null for a table-level problem)
  warning   accepted, with a warning finding ``code`` on ``column``
  accepted  accepted with no finding
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
TARGET = "churned"
ROWS = 200
SEED = 11
CONTRACT = "contract.json"  # inferred from base.csv, for the cases checked against a contract
BLOCK_LEAKAGE = "leakage-block.yaml"  # a config with validation.leakage: block


@dataclass(frozen=True)
class Case:
    """One corpus file: how to make its bytes, and what shipyard must do with it."""

    name: str
    about: str
    outcome: str  # ingest | validate | warning | accepted
    make: Callable[[], bytes]
    code: str | None = None
    column: str | None = None
    target: str = TARGET
    contract: bool = False  # checked against contract.json
    config: str | None = None  # a config file in the corpus directory
    large: bool = False  # written only with --large (by the tests, into tmp)
    monitoring: str | None = None  # the outcome under `run monitoring` when it applies: ingest | monitor | accepted
    extra: dict[str, Any] = field(default_factory=dict)

    def expected(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"about": self.about, "outcome": self.outcome, "target": self.target}
        if self.code is not None:
            entry["code"] = self.code
        if self.outcome in ("validate", "warning"):
            entry["column"] = self.column
        if self.contract:
            entry["contract"] = CONTRACT
        if self.config:
            entry["config"] = self.config
        if self.large:
            entry["large"] = True
        if self.monitoring:
            entry["monitoring"] = self.monitoring
        return entry


# --- the base table ----------------------------------------------------------------------------


def base_frame(rows: int = ROWS) -> pd.DataFrame:
    """A churn table a model learns well but not perfectly: young basic-plan customers churn, mostly."""
    rng = np.random.default_rng(SEED)
    age = rng.integers(18, 80, size=rows)
    plan = rng.choice(["basic", "pro", "team"], size=rows)
    region = rng.choice(["north", "south", "east", "west"], size=rows)
    income = np.round(rng.normal(3000, 800, size=rows), 2)
    tenure = rng.integers(0, 120, size=rows)
    risk = (age < 40).astype(int) + (plan == "basic").astype(int) + (tenure < 24).astype(int)
    noise = rng.random(size=rows) < 0.1
    churned = np.where((risk >= 2) ^ noise, "yes", "no")
    income_cells = income.astype(object)
    income_cells[::17] = np.nan  # a few gaps, as real exports have
    return pd.DataFrame(
        {
            "age": age,
            "plan": plan,
            "region": region,
            "income": income_cells,
            "tenure": tenure,
            TARGET: churned,
        }
    )


def csv_bytes(frame: pd.DataFrame, **options: Any) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", **options).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame | pa.Table) -> bytes:
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def gzip_bytes(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def base() -> pd.DataFrame:
    return base_frame()


def with_column(frame: pd.DataFrame, name: str, values: Any) -> pd.DataFrame:
    frame = frame.copy()
    frame[name] = values
    return frame[[c for c in frame.columns if c != TARGET] + [TARGET]]


def edited(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[], bytes]:
    return lambda: csv_bytes(change(base()))


def lines(text: str) -> Callable[[], bytes]:
    return lambda: text.encode("utf-8")


def base_text() -> str:
    return csv_bytes(base()).decode("utf-8")


def ragged(extra: bool) -> bytes:
    rows = base_text().splitlines()
    rows[7] = rows[7] + ",surplus" if extra else rows[7].rsplit(",", 2)[0]
    return ("\n".join(rows) + "\n").encode("utf-8")


def infinities(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[[3, 50], "income"] = [np.inf, -np.inf]
    return frame


def numbers_with_words(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["income"] = frame["income"].astype(object)
    frame.loc[[5, 99], "income"] = ["unknown", "n.a."]
    return frame


def leaked(frame: pd.DataFrame) -> pd.DataFrame:
    """A 'cancellation_code' filled in only after a customer churned: the target under another name."""
    return with_column(frame, "cancellation_code", np.where(frame[TARGET] == "yes", "C1", "C0"))


def long_cells() -> bytes:
    frame = base().head(40)
    rng = np.random.default_rng(SEED)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    notes = ["".join(rng.choice(letters, size=10_000)) for _ in range(len(frame))]
    return csv_bytes(with_column(frame, "notes", notes))


def wide() -> bytes:
    frame = base().head(60)
    rng = np.random.default_rng(SEED)
    features = pd.DataFrame(
        np.round(rng.normal(size=(len(frame), 3000)), 3), columns=[f"f{i:04d}" for i in range(3000)]
    )
    return csv_bytes(pd.concat([features, frame], axis=1))


def duplicate_columns_parquet() -> bytes:
    frame = base()
    arrays = [pa.array(frame[name]) for name in frame.columns] + [pa.array(frame["age"])]
    return parquet_bytes(pa.Table.from_arrays(arrays, names=[*frame.columns, "age"]))


def contract_bytes() -> bytes:
    """The contract shipyard infers from base.csv, read the way a run reads it."""
    sys.path.insert(0, str(ROOT))
    from shipyard.stages.ingest import ingest_table
    from shipyard.stages.validate import infer_contract

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "base.csv"
        path.write_bytes(csv_bytes(base()))
        frame = ingest_table(str(path)).frame
    return (infer_contract(frame, TARGET, "classification").to_json() + "\n").encode("utf-8")


def new_class(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[[10, 20, 30, 40], TARGET] = "paused"
    return frame


def recoded_plan(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["plan"] = frame["plan"].map({"basic": "B", "pro": "P", "team": "T"})
    return frame


def few_new_plans(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[::10], "plan"] = "enterprise"
    return frame


def income_in_thousands(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["income"] = pd.to_numeric(frame["income"]) * 1000
    return frame


def income_grown(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    income = pd.to_numeric(frame["income"])
    frame.loc[frame.index[:10], "income"] = income.max() + 100 + np.arange(10)
    return frame


def every_feature_missing(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {**{name: [""] * len(frame) for name in frame.columns if name != TARGET}, TARGET: frame[TARGET]}
    )


CASES: tuple[Case, ...] = (
    # --- rejected at ingest: the file cannot be read as a table
    Case("empty.csv", "zero bytes", "ingest", lines(""), "empty_file", monitoring="ingest"),
    Case("whitespace.csv", "only blank lines and spaces", "ingest", lines("  \n\n \t\n"), "empty_file"),
    Case(
        "header_only.csv",
        "a header, no rows",
        "ingest",
        lines("age,plan,region,income,tenure,churned\n"),
        "no_rows",
        monitoring="ingest",
    ),
    Case(
        "binary.csv",
        "an xlsx-like zip with NUL bytes",
        "ingest",
        lambda: b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8,
        "binary_file",
        monitoring="ingest",
    ),
    Case(
        "semicolon.csv",
        "semicolons and decimal commas (a European export)",
        "ingest",
        lambda: csv_bytes(base(), sep=";", decimal=","),
        "not_comma_separated",
        monitoring="ingest",
    ),
    Case("tabs.csv", "tab-separated", "ingest", lambda: csv_bytes(base(), sep="\t"), "not_comma_separated"),
    Case(
        "ragged_long_row.csv",
        "line 8 has one cell too many",
        "ingest",
        lambda: ragged(True),
        "unparseable",
        monitoring="ingest",
        extra={"message": "line 8 has 7 cell(s) but the header has 6"},
    ),
    Case(
        "ragged_short_row.csv",
        "line 8 has two cells too few",
        "ingest",
        lambda: ragged(False),
        "unparseable",
        extra={"message": "line 8 has 4 cell(s) but the header has 6"},
    ),
    Case(
        "unclosed_quote.csv",
        "a quote opened on line 4 is never closed",
        "ingest",
        lambda: "\n".join(
            base_text().splitlines()[:3] + ['40,"basic,north,3000,12,no', "41,pro,south,2000,3,yes"]
        ).encode(),
        "unparseable",
        extra={"message": "line 4: a quoted cell is never closed"},
    ),
    Case(
        "latin1.csv",
        "Windows-1252 text (é in a region name)",
        "ingest",
        lambda: csv_bytes(base()).decode().replace("north", "nörth").encode("cp1252"),
        "not_utf8",
        monitoring="ingest",
    ),
    Case(
        "duplicate_headers.csv",
        "the column 'income' twice",
        "ingest",
        lambda: base_text().replace("tenure", "income", 1).encode(),
        "duplicate_column",
        monitoring="ingest",
    ),
    Case(
        "base.csv.gz",
        "the good table, gzip-compressed",
        "ingest",
        lambda: gzip_bytes(csv_bytes(base())),
        "gzip_file",
        monitoring="ingest",
    ),
    Case("ragged.csv.gz", "a ragged table, gzip-compressed", "ingest", lambda: gzip_bytes(ragged(True)), "gzip_file"),
    Case("empty.csv.gz", "an empty file, gzip-compressed", "ingest", lambda: gzip_bytes(b""), "gzip_file"),
    Case(
        "truncated.parquet",
        "a Parquet file cut in half",
        "ingest",
        lambda: parquet_bytes(base())[: len(parquet_bytes(base())) // 2],
        "unparseable",
        monitoring="ingest",
    ),
    Case("csv_named.parquet", "CSV text in a file named .parquet", "ingest", lambda: csv_bytes(base()), "unparseable"),
    Case("empty.parquet", "zero bytes named .parquet", "ingest", lines(""), "empty_file"),
    Case(
        "no_rows.parquet", "a Parquet schema with no rows", "ingest", lambda: parquet_bytes(base().head(0)), "no_rows"
    ),
    Case(
        "duplicate_columns.parquet",
        "a Parquet file with the column 'age' twice",
        "ingest",
        duplicate_columns_parquet,
        "duplicate_column",
    ),
    # --- rejected at validation: a table, but not one a model can be trained on
    Case(
        "target_missing.csv",
        "no 'churned' column",
        "validate",
        edited(lambda f: f.drop(columns=TARGET)),
        "missing_target",
        TARGET,
    ),
    Case(
        "target_constant.csv",
        "every row churned",
        "validate",
        edited(lambda f: f.assign(churned="yes")),
        "constant_target",
        TARGET,
    ),
    Case(
        "target_all_missing.csv",
        "the target column is empty",
        "validate",
        edited(lambda f: f.assign(churned="")),
        "all_missing",
        TARGET,
    ),
    Case("single_row.csv", "one data row", "validate", edited(lambda f: f.head(1)), "too_few_rows", None),
    Case(
        "every_feature_missing.csv",
        "every feature column is empty",
        "validate",
        edited(every_feature_missing),
        "all_missing",
        "age",
    ),
    Case("infinities.csv", "inf and -inf in 'income'", "validate", edited(infinities), "infinite_values", "income"),
    Case(
        "numbers_with_words.csv",
        "'unknown' and 'n.a.' in the numeric 'income'",
        "validate",
        edited(numbers_with_words),
        "numbers_with_text",
        "income",
    ),
    Case(
        "leaked_feature_blocked.csv",
        "the target renamed, with validation.leakage: block",
        "validate",
        edited(leaked),
        "leakage",
        "cancellation_code",
        config=BLOCK_LEAKAGE,
    ),
    Case(
        "contract_renamed.csv",
        "'income' renamed 'salary' against the contract",
        "validate",
        edited(lambda f: f.rename(columns={"income": "salary"})),
        "missing_column",
        "income",
        contract=True,
        monitoring="monitor",
    ),
    Case(
        "contract_dropped.csv",
        "'region' dropped against the contract",
        "validate",
        edited(lambda f: f.drop(columns="region")),
        "missing_column",
        "region",
        contract=True,
        monitoring="monitor",
    ),
    Case(
        "contract_added.csv",
        "an extra column 'coupon' against the contract",
        "validate",
        edited(lambda f: with_column(f, "coupon", "none")),
        "extra_column",
        "coupon",
        contract=True,
    ),
    Case(
        "contract_recoded.csv",
        "'plan' recoded B/P/T: every value unseen",
        "validate",
        edited(recoded_plan),
        "unseen_category",
        "plan",
        contract=True,
    ),
    Case(
        "contract_out_of_range.csv",
        "'income' x1000: a unit change",
        "validate",
        edited(income_in_thousands),
        "out_of_range",
        "income",
        contract=True,
    ),
    Case(
        "infinities.parquet",
        "inf and -inf in 'income', as Parquet",
        "validate",
        lambda: parquet_bytes(infinities(base()).assign(income=lambda f: pd.to_numeric(f["income"]))),
        "infinite_values",
        "income",
    ),
    Case(
        "target_missing.parquet",
        "no 'churned' column, as Parquet",
        "validate",
        lambda: parquet_bytes(base().drop(columns=TARGET)),
        "missing_target",
        TARGET,
    ),
    Case(
        "target_constant.parquet",
        "every row churned, as Parquet",
        "validate",
        lambda: parquet_bytes(base().assign(churned="yes")),
        "constant_target",
        TARGET,
    ),
    # --- accepted, with a warning
    Case(
        "leaked_feature.csv",
        "'cancellation_code' is the target renamed",
        "warning",
        edited(leaked),
        "leakage",
        "cancellation_code",
    ),
    Case(
        "leaked_feature.parquet",
        "'cancellation_code' is the target renamed, as Parquet",
        "warning",
        lambda: parquet_bytes(leaked(base())),
        "leakage",
        "cancellation_code",
    ),
    Case(
        "target_partly_missing.csv",
        "a few rows without a target",
        "warning",
        edited(lambda f: f.assign(churned=f[TARGET].where(f.index % 25 != 0, ""))),
        "missing_target_values",
        TARGET,
    ),
    Case(
        "contract_unseen_categories.csv",
        "'plan' has a new value in 10% of rows",
        "warning",
        edited(few_new_plans),
        "unseen_category",
        "plan",
        contract=True,
        monitoring="accepted",
    ),
    Case(
        "contract_out_of_range_growth.csv",
        "10 incomes above the contract's max",
        "warning",
        edited(income_grown),
        "out_of_range",
        "income",
        contract=True,
    ),
    Case(
        "contract_new_class.csv",
        "a new target class 'paused' in 4 rows",
        "warning",
        edited(new_class),
        "new_class",
        TARGET,
        contract=True,
    ),
    # --- accepted
    Case("base.csv", "the good table every other case is made from", "accepted", lambda: csv_bytes(base())),
    Case("base.parquet", "the good table as Parquet", "accepted", lambda: parquet_bytes(base())),
    Case("bom.csv", "a UTF-8 byte order mark", "accepted", lambda: b"\xef\xbb\xbf" + csv_bytes(base())),
    Case("crlf.csv", "Windows line endings", "accepted", lambda: csv_bytes(base()).replace(b"\n", b"\r\n")),
    Case(
        "html_column_name.csv",
        "a column named <script>alert(1)</script>",
        "accepted",
        edited(lambda f: with_column(f, "<script>alert(1)</script>", np.where(f.index % 3 == 0, "a", "b"))),
    ),
    Case(
        "non_ascii_names.csv",
        "column names âge, région, 顧客区分",
        "accepted",
        edited(lambda f: f.rename(columns={"age": "âge", "region": "région", "plan": "顧客区分"})),
    ),
    Case(
        "unique_ids.csv",
        "'customer_id' unique per row (not a leak)",
        "accepted",
        edited(
            lambda f: with_column(
                f, "customer_id", [f"C{i:05d}" for i in np.random.default_rng(SEED).permutation(len(f))]
            )
        ),
    ),
    Case("long_cells.csv", "10,000-character cells in a 'notes' column", "accepted", long_cells, large=True),
    Case("wide.csv", "3,000 numeric columns", "accepted", wide, large=True),
)

EXTRA_FILES: dict[str, Callable[[], bytes]] = {
    CONTRACT: contract_bytes,
    BLOCK_LEAKAGE: lambda: b"validation:\n  leakage: block\n",
}


def write_corpus(out: Path, *, large: bool) -> list[Path]:
    """Writes every case (the large ones only with ``large``) and the extra files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for case in CASES:
        if case.large and not large:
            continue
        path = out / case.name
        path.write_bytes(case.make())
        written.append(path)
    for name, make in EXTRA_FILES.items():
        (out / name).write_bytes(make())
        written.append(out / name)
    return written


def expected_yaml() -> str:
    header = (
        "# Written by scripts/make_bad_inputs.py: what shipyard must do with each file of tests/corpus/files/.\n"
        "# outcome: ingest (rejected reading it) | validate (rejected by the data checks) | warning | accepted.\n"
    )
    entries = {case.name: {**case.expected(), **case.extra} for case in CASES}
    return header + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=CORPUS / "files", help="directory for the files")
    parser.add_argument("--large", action="store_true", help="also write the large cases")
    parser.add_argument("--expected", type=Path, default=CORPUS / "expected.yaml", help="where the manifest goes")
    args = parser.parse_args(argv)
    written = write_corpus(args.out, large=args.large)
    args.expected.write_text(expected_yaml(), encoding="utf-8")
    total = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} files ({total:,} bytes) to {args.out} and {args.expected}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
