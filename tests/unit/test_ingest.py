"""ingest_table and column_kinds on tiny files written into tmp_path."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from shipyard.config import ValidationSettings
from shipyard.errors import DataValidationError
from shipyard.findings import Code, Finding
from shipyard.stages.columns import column_kinds
from shipyard.stages.ingest import IngestedTable, ingest_table
from shipyard.stages.validate import validate_dataset


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def ingest_error(uri) -> str:
    with pytest.raises(DataValidationError) as caught:
        ingest_table(str(uri))
    return str(caught.value)


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_is_read_with_hash_format_and_column_kinds(tmp_path):
    path = write(tmp_path, "t.csv", "age,plan,spend\n30,basic,1.5\n40,pro,2.0\n")
    table = ingest_table(str(path))
    assert isinstance(table, IngestedTable)
    assert table.uri == str(path)
    assert table.format == "csv"
    assert table.data_hash == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert table.numeric_columns == ("age", "spend")
    assert table.categorical_columns == ("plan",)
    assert table.frame["age"].dtype == np.int64
    assert table.frame["spend"].dtype == np.float64
    assert table.frame["plan"].tolist() == ["basic", "pro"]


def test_hash_changes_with_the_bytes(tmp_path):
    first = ingest_table(str(write(tmp_path, "a.csv", "x,y\n1,a\n")))
    second = ingest_table(str(write(tmp_path, "b.csv", "x,y\n2,a\n")))
    assert first.data_hash != second.data_hash


def test_file_uri_is_accepted(tmp_path):
    path = write(tmp_path, "t.csv", "x,y\n1,a\n")
    assert ingest_table(path.as_uri()).frame["x"].tolist() == [1]


def test_na_strings_and_blank_cells_are_missing(tmp_path):
    path = write(tmp_path, "t.csv", "num,cat\nNA,a\n,NA\n3,\nnull,N/A\n5, b \n")
    frame = ingest_table(str(path)).frame
    assert frame["num"].dtype == np.float64
    assert frame["num"].isna().tolist() == [True, True, False, True, False]
    assert frame["cat"].isna().tolist() == [False, True, True, True, False]
    assert frame["cat"][4] == "b"  # surrounding whitespace in cells is ignored


def test_categorical_values_are_str_with_nan_for_missing(tmp_path):
    path = write(tmp_path, "t.csv", "flag,zip,label\nTrue,01234,x\nfalse,A1B2,y\n,98765,\nTRUE,,x\n")
    table = ingest_table(str(path))
    frame = table.frame
    assert table.categorical_columns == ("flag", "zip", "label")
    for column in table.categorical_columns:
        assert frame[column].dtype == object
        assert all(isinstance(v, str) or (isinstance(v, float) and np.isnan(v)) for v in frame[column])
    assert frame["flag"].tolist()[:2] == ["True", "False"] and frame["flag"][3] == "True"
    assert frame["zip"][0] == "01234"  # a numeric-looking category stays a string, leading zero kept
    assert frame["label"][2] is np.nan or np.isnan(frame["label"][2])


def test_header_whitespace_is_stripped(tmp_path):
    path = write(tmp_path, "t.csv", "  age ,\tplan\n1,a\n")
    assert list(ingest_table(str(path)).frame.columns) == ["age", "plan"]


def test_integer_column_with_gaps_is_float(tmp_path):
    frame = ingest_table(str(write(tmp_path, "t.csv", "n,m\n1,1\nNA,2\n"))).frame
    assert frame["n"].dtype == np.float64 and frame["m"].dtype == np.int64


def test_duplicate_header_names_are_rejected(tmp_path):
    message = ingest_error(write(tmp_path, "t.csv", "age,plan,age\n1,a,2\n"))
    assert "column 'age': appears 2 times in the header" in message
    assert "column names must be unique" in message


def test_duplicates_after_stripping_whitespace_are_rejected(tmp_path):
    assert "column 'age': appears 2 times" in ingest_error(write(tmp_path, "t.csv", "age, age \n1,2\n"))


def test_names_that_look_like_pandas_renames_are_fine(tmp_path):
    frame = ingest_table(str(write(tmp_path, "t.csv", "x,x.1\n1,2\n"))).frame
    assert list(frame.columns) == ["x", "x.1"]


@pytest.mark.parametrize("content", ["", "   \n\n", "age,plan\n", "age,plan\n\n\n"])
def test_empty_file_or_header_only_has_no_data_rows(tmp_path, content):
    path = write(tmp_path, "t.csv", content)
    assert f"table: '{path}' has no data rows" in ingest_error(path)


def test_binary_junk_is_rejected(tmp_path):
    path = write(tmp_path, "t.csv", bytes(range(256)) * 4)
    assert f"table: cannot parse '{path}' as CSV" in ingest_error(path)


def test_text_that_is_not_utf8_is_rejected(tmp_path):
    path = write(tmp_path, "t.csv", "name,n\nJos\xe9,1\n".encode("latin-1"))
    message = ingest_error(path)
    assert f"cannot parse '{path}' as CSV" in message and "UTF-8" in message


def test_utf8_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = write(tmp_path, "t.csv", "\ufeffage,plan\n1,a\n".encode("utf-8"))
    assert list(ingest_table(str(path)).frame.columns) == ["age", "plan"]


@pytest.mark.parametrize(
    "content",
    [
        'a,b\n1,"unterminated\n',  # a quote that never closes
        "a,b\n1,2\n3,4,5\n",  # a later row longer than the header
        "a,b\n1,2,3\n4,5\n",  # the first row longer than the header (pandas would drop data)
    ],
)
def test_malformed_csv_is_rejected(tmp_path, content):
    path = write(tmp_path, "t.csv", content)
    assert f"table: cannot parse '{path}' as CSV:" in ingest_error(path)


def test_semicolon_separated_file_gets_a_hint(tmp_path):
    path = write(tmp_path, "t.csv", "a;b;c\n1;2;3\n")
    assert "comma-separated" in ingest_error(path)


def test_gzip_file_gets_a_hint(tmp_path):
    path = write(tmp_path, "t.csv.gz", gzip.compress(b"a,b\n1,2\n", mtime=0))
    assert "gzip" in ingest_error(path)


def test_missing_file_names_the_uri(tmp_path):
    path = tmp_path / "nope.csv"
    assert str(path) in ingest_error(path)


# --- Parquet -----------------------------------------------------------------------------------


def parquet_source() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": pd.Series([1, 2, 3], dtype="int32"),
            "count_with_gap": pd.Series([1, None, 3], dtype="Int64"),
            "ratio": pd.Series([0.5, np.nan, 1.5], dtype="float32"),
            "flag": [True, False, True],
            "plan": pd.Categorical(["a", "b", "a"]),
            "name": ["x", None, "z"],
        }
    )


@pytest.mark.parametrize("name", ["t.parquet", "t.pq", "t.bin"])
def test_parquet_is_detected_by_name_or_magic_bytes(tmp_path, name):
    path = tmp_path / name
    parquet_source().to_parquet(path, index=False)
    table = ingest_table(str(path))
    assert table.format == "parquet"
    assert table.data_hash == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert table.numeric_columns == ("count", "count_with_gap", "ratio")
    assert table.categorical_columns == ("flag", "plan", "name")


def test_parquet_columns_are_normalised(tmp_path):
    path = tmp_path / "t.parquet"
    parquet_source().set_index("name").to_parquet(path)  # a saved index is not a data column
    frame = ingest_table(str(path)).frame
    assert list(frame.columns) == ["count", "count_with_gap", "ratio", "flag", "plan"]
    assert frame["count"].dtype == np.int64
    assert frame["count_with_gap"].dtype == np.float64 and np.isnan(frame["count_with_gap"][1])
    assert frame["ratio"].dtype == np.float64
    assert frame["flag"].tolist() == ["True", "False", "True"]
    assert frame["plan"].tolist() == ["a", "b", "a"]
    assert all(dtype.kind == "O" for dtype in frame[["flag", "plan"]].dtypes)


def test_parquet_and_csv_of_the_same_data_give_the_same_frame(tmp_path):
    source = pd.DataFrame({"n": [1, 2], "x": [0.5, np.nan], "flag": [True, False], "s": ["a", None]})
    source.to_parquet(tmp_path / "t.parquet", index=False)
    source.to_csv(tmp_path / "t.csv", index=False, na_rep="NA")
    pd.testing.assert_frame_equal(
        ingest_table(str(tmp_path / "t.parquet")).frame, ingest_table(str(tmp_path / "t.csv")).frame
    )


def test_garbled_parquet_is_rejected(tmp_path):
    path = write(tmp_path, "t.parquet", b"PAR1 this is not really parquet PAR1")
    assert f"table: cannot parse '{path}' as Parquet" in ingest_error(path)


def test_parquet_without_rows_has_no_data_rows(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": pd.Series([], dtype="int64")}).to_parquet(path)
    assert "has no data rows" in ingest_error(path)


# --- column_kinds ------------------------------------------------------------------------------


def test_column_kinds_counts_bool_as_categorical():
    frame = pd.DataFrame(
        {
            "i": [1, 2],
            "f": [1.0, np.nan],
            "b": [True, False],
            "s": ["a", "b"],
            "c": pd.Categorical(["a", "b"]),
            "codes": pd.Categorical([1, 2]),
            "nb": pd.Series([True, None], dtype="boolean"),
        }
    )
    assert column_kinds(frame) == {
        "i": "numeric",
        "f": "numeric",
        "b": "categorical",
        "s": "categorical",
        "c": "categorical",
        "codes": "categorical",
        "nb": "categorical",
    }


# --- a hand-written messy file, end to end ----------------------------------------------------


MESSY_CSV = """\
 customer , name , note ,spend,active,zip,churned
1,"Smith, John","said ""hi"", then left",3.5,True,01234,yes
2, "Doe, Jane" ,NA,,False,98765,no
3,Bob,"two
lines",N/A,true,A1B2,yes
4,,  ,7,,12345,no
5,Ann,null,1e3,False,54321,yes
6,Eve,ok,-2,True,,no
"""


def test_messy_csv_is_read_and_passes_validation(tmp_path):
    table = ingest_table(str(write(tmp_path, "messy.csv", MESSY_CSV)))
    frame = table.frame
    assert list(frame.columns) == ["customer", "name", "note", "spend", "active", "zip", "churned"]
    assert table.numeric_columns == ("customer", "spend")
    assert frame["name"].tolist()[:2] == ["Smith, John", "Doe, Jane"]
    assert frame["note"][0] == 'said "hi", then left' and frame["note"][2] == "two\nlines"
    assert frame["note"].isna().tolist() == [False, True, False, True, True, False]
    assert frame["spend"].tolist()[3:] == [7.0, 1000.0, -2.0] and frame["spend"].isna().sum() == 2
    assert frame["active"].tolist()[:3] == ["True", "False", "True"]
    assert frame["zip"][0] == "01234"

    report = validate_dataset(frame, "churned", "classification", ValidationSettings(min_rows=5))
    assert report.ok and report.problems == ()


# --- findings: what is wrong with the file, and the fix that fits it ---------------------------


def ingest_finding(path) -> Finding:
    with pytest.raises(DataValidationError) as caught:
        ingest_table(str(path))
    assert len(caught.value.findings) == 1, caught.value.findings
    return caught.value.findings[0]


@pytest.mark.parametrize(
    "name, content, code, hint_fragment",
    [
        ("t.csv", "", Code.EMPTY_FILE, "whatever wrote the file"),
        ("t.csv", "age,plan\n", Code.NO_ROWS, "header but no data rows"),
        ("t.csv", bytes(range(256)) * 4, Code.BINARY_FILE, "export a spreadsheet"),
        ("t.csv.gz", gzip.compress(b"a,b\n1,2\n", mtime=0), Code.GZIP_FILE, "gunzip"),
        ("t.csv", "name,n\nJos\xe9,1\n".encode("latin-1"), Code.NOT_UTF8, "iconv"),
        ("t.csv", "a;b;c\n1;2;3\n", Code.NOT_COMMA_SEPARATED, "',' between cells"),
        ("t.csv", "a\tb\n1\t2\n", Code.NOT_COMMA_SEPARATED, "',' between cells"),
        ("t.csv", "a,b\n1,2\n3,4,5\n", Code.UNPARSEABLE, "as many cells as the header"),
        ("t.parquet", b"PAR1 this is not really parquet PAR1", Code.UNPARSEABLE, "write the file again"),
    ],
)
def test_an_unusable_file_is_one_table_finding_with_its_own_fix(tmp_path, name, content, code, hint_fragment):
    finding = ingest_finding(write(tmp_path, name, content))
    assert (finding.column, finding.severity, finding.code) == (None, "problem", code)
    assert hint_fragment in finding.hint


def test_each_duplicate_header_name_is_a_finding_about_that_column(tmp_path):
    with pytest.raises(DataValidationError) as caught:
        ingest_table(str(write(tmp_path, "t.csv", "age,plan,age,plan,x\n1,a,2,b,3\n")))
    assert [(finding.column, finding.code) for finding in caught.value.findings] == [
        ("age", Code.DUPLICATE_COLUMN),
        ("plan", Code.DUPLICATE_COLUMN),
    ]


@pytest.mark.parametrize(
    "content, detail",
    [
        ("a,b\n1,2\n3,4,5\n", "line 3 has 3 cell(s) but the header has 2"),
        ("a,b\n1,2\n3\n4,5\n", "line 3 has 1 cell(s) but the header has 2"),  # pandas would pad it silently
        ('a,b\n"two\nlines",2\n3,4,5\n', "line 4 has 3 cell(s)"),  # physical lines, not rows
        ('a,b\n1,"unterminated\n', "line 2: a quoted cell is never closed"),
        ('a,b,c\n1,"x\n2,3,4\n', "line 2: a quoted cell is never closed"),
    ],
)
def test_ragged_rows_and_open_quotes_name_the_line_in_our_words(tmp_path, content, detail):
    message = ingest_error(write(tmp_path, "t.csv", content))
    assert detail in message
    assert "C error" not in message and "index_col" not in message and "tokenizing" not in message


def test_blank_lines_are_not_ragged_rows(tmp_path):
    table = ingest_table(str(write(tmp_path, "t.csv", "a,b\n1,2\n\n3,4\n\n")))
    assert len(table.frame) == 2
