"""Label feedback and traffic windows (shipyard.stages.traffic) on a local store, with hand-written batches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import DataValidationError
from shipyard.stages.traffic import (
    NoTraffic,
    WindowError,
    collect_window,
    parse_window,
    read_label_file,
    store_feedback,
)
from shipyard.store import open_store
from shipyard.store.traffic import ATTRS_KEY, LABELS, REQUESTS, write_batch

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def log_requests(store, ids, when, *, rows=None, hashed=(), excluded=(), x=None):
    """One traffic batch as the server writes it: features + META_COLUMNS, logged at ``when`` (+1 s a row)."""
    n = len(ids)
    frame = pd.DataFrame(
        {
            "x": np.arange(n, dtype=float) if x is None else x,
            "city": ["a"] * n,
            "request_id": list(ids),
            "request_row": list(rows) if rows is not None else [0] * n,
            "logged_at": pd.to_datetime([when + timedelta(seconds=i) for i in range(n)], utc=True),
            "model_version": [1] * n,
            "prediction": [0] * n,
            "probabilities": [None] * n,
        }
    )
    frame.attrs[ATTRS_KEY] = {"hashed_columns": list(hashed), "excluded_columns": list(excluded)}
    return write_batch(store, "churn", REQUESTS, frame, when)


def labels(ids, values, rows=None):
    return pd.DataFrame({"request_id": ids, "request_row": rows or [0] * len(ids), "churned": values})


@pytest.fixture
def store(tmp_path: Path):
    return open_store(str(tmp_path / "store"))


def test_labels_join_late_and_duplicated_labels_last_wins(store):
    log_requests(store, ["r1", "r2", "r3"], T0)
    # r9 is labelled before its request is logged; r2 twice in the file.
    first = store_feedback(store, "churn", labels(["r1", "r2", "r2", "r9"], [1, 0, 1, 1]), T0 + timedelta(hours=1))
    assert (first.rows_stored, first.duplicates_in_file, first.matched, first.unmatched) == (3, 1, 2, 1)
    assert first.replaced_earlier == 0 and first.target == "churned"
    # A later file relabels r1: the newest received wins in the join.
    second = store_feedback(store, "churn", labels(["r1"], [0]), T0 + timedelta(hours=2))
    assert (second.matched, second.replaced_earlier) == (1, 1)
    log_requests(store, ["r9"], T0 + timedelta(hours=3))  # the late request arrives

    window = collect_window(store, "churn", T0, T0 + timedelta(hours=4), "churned")
    assert window.rows == 4 and window.labelled_rows == 3 and window.batches == 2  # r3 has no label
    assert list(window.frame.columns) == ["x", "city", "churned"]  # no META_COLUMNS
    got = dict(zip(["r1", "r2", "r3", "r9"], window.frame["churned"].tolist(), strict=True))
    assert got["r1"] == 0 and got["r2"] == 1 and np.isnan(got["r3"]) and got["r9"] == 1


def test_window_filters_by_logged_at_not_by_day_and_names_left_out_columns(store):
    log_requests(store, ["a", "b", "c", "d"], T0, hashed=["city"], excluded=["email"], x=[1.0, 2.0, 3.0, 4.0])
    window = collect_window(store, "churn", T0 + timedelta(seconds=1), T0 + timedelta(seconds=2), "churned")
    assert window.frame["x"].tolist() == [2.0, 3.0]  # both ends included, same day's other rows not
    assert window.left_out_columns == ("city", "email") and "city" not in window.frame.columns
    assert window.labelled_rows == 0 and "churned" not in window.frame.columns  # no labels: no target column
    source = window.source()
    assert source["kind"] == "traffic" and source["rows"] == 2 and source["left_out_columns"] == ["city", "email"]

    # The server restarted without those settings: rows logged since then have every column.
    log_requests(store, ["e", "f"], T0 + timedelta(hours=2), x=[5.0, 6.0])
    later = collect_window(store, "churn", T0 + timedelta(hours=1), T0 + timedelta(hours=3), "churned")
    assert later.left_out_columns == () and later.frame["x"].tolist() == [5.0, 6.0]

    with pytest.raises(NoTraffic) as empty:
        collect_window(store, "churn", T0 + timedelta(minutes=5), T0 + timedelta(minutes=6), "churned")
    message = str(empty.value)
    assert "'churn'" in message and "2026-03-02T10:05:00+00:00" in message and "traffic/churn/requests/" in message


def test_label_file_columns_and_errors(tmp_path: Path):
    good = tmp_path / "labels.csv"
    good.write_text("request_id,churned,note\n101,1,x\nabc,0,y\n")
    frame = read_label_file(str(good), "churned")
    assert frame["request_id"].tolist() == ["101", "abc"] and frame["request_row"].tolist() == [0, 0]
    assert list(frame.columns) == ["request_id", "request_row", "churned"]

    numeric = tmp_path / "numeric.parquet"
    pd.DataFrame({"request_id": [7.0, 8.0], "request_row": [0, 2], "churned": [1, 0]}).to_parquet(numeric)
    assert read_label_file(str(numeric), "churned")["request_id"].tolist() == ["7", "8"]

    cases = {
        "request_id,label\nr1,1\n": "column 'churned': missing",
        "churned\n1\n": "column 'request_id': missing",
        "request_id,churned\nr1,1\nr2,\n": "column 'churned': row 2",
        "request_id,churned\n,1\n": "column 'request_id': row 1",
        "request_id,request_row,churned\nr1,-1,1\n": "column 'request_row': row 1",
    }
    for text, expected in cases.items():
        path = tmp_path / "bad.csv"
        path.write_text(text)
        with pytest.raises(DataValidationError) as caught:
            read_label_file(str(path), "churned")
        assert expected in str(caught.value), (text, str(caught.value))


def test_multi_row_requests_join_by_position(store):
    log_requests(store, ["q", "q", "q"], T0, rows=[0, 1, 2])
    summary = store_feedback(store, "churn", labels(["q", "q"], [1, 0], rows=[2, 0]), T0)
    assert summary.matched == 2 and summary.unmatched == 0
    window = collect_window(store, "churn", T0, T0 + timedelta(minutes=1), "churned")
    assert window.frame["churned"].tolist()[0] == 0 and np.isnan(window.frame["churned"][1])
    assert window.frame["churned"][2] == 1
    assert len(store.list(f"traffic/churn/{LABELS}/")) == 1


def test_parse_window():
    now = datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc)
    assert parse_window("7d", "", "", now) == (now - timedelta(days=7), now)
    assert parse_window("30m", "", "", now)[0] == now - timedelta(minutes=30)
    start, end = parse_window("", "2026-03-01", "2026-03-02", now)
    assert start == datetime(2026, 3, 1, tzinfo=timezone.utc) and end.date().isoformat() == "2026-03-02"
    assert end.hour == 23 and end.tzinfo is not None
    assert parse_window("", "2026-03-01T08:00+01:00", "", now) == (datetime(2026, 3, 1, 7, tzinfo=timezone.utc), now)
    for args, expected in [
        (("7w", "", ""), "--since '7w'"),
        (("7d", "2026-03-01", ""), "not both"),
        (("", "", ""), "give --since"),
        (("", "yesterday", ""), "--from 'yesterday'"),
        (("", "2026-03-05", "2026-03-01"), "before it starts"),
    ]:
        with pytest.raises(WindowError, match=expected):
            parse_window(*args, now)


def test_request_ids_in_a_csv_are_text_exactly_as_written(tmp_path: Path):
    """Ids that look like numbers must not be read as numbers: 007 is not 7, 1e3 not 1000, 20 digits do not overflow."""
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,churned\n007,yes\n 1e3 ,no\n12345678901234567890,yes\n12345678901234567891,no\n5,yes\n",
        encoding="utf-8",
    )
    frame = read_label_file(str(labels), "churned")
    assert frame["request_id"].tolist() == ["007", "1e3", "12345678901234567890", "12345678901234567891", "5"]
    assert frame["churned"].tolist() == ["yes", "no", "yes", "no", "yes"]

    labels.write_text("request_id,churned\n7,yes\n,no\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="request_id.*row 2"):
        read_label_file(str(labels), "churned")


def test_label_ids_are_read_by_the_same_csv_rules_as_every_table(tmp_path: Path):
    """Quoted cells after ', ', commas inside quotes and a BOM: the ids are the cells' text, row for row."""
    labels = tmp_path / "labels.csv"
    labels.write_bytes(
        '\ufeffrequest_id, note, churned\n1001, "a, b", yes\n"007", "x", no\n 42 ,, yes\n'.encode("utf-8")
    )
    frame = read_label_file(str(labels), "churned")
    assert frame["request_id"].tolist() == ["1001", "007", "42"]
    assert frame["churned"].tolist() == ["yes", "no", "yes"]
    labels.write_text('request_id,churned\n"",yes\n', encoding="utf-8")
    with pytest.raises(DataValidationError, match="request_id.*no request id"):
        read_label_file(str(labels), "churned")
