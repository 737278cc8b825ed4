"""TrafficLogger in-process on a directory store (once on moto's S3 stand-in), and through RegistryModel.predict."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.config import TrafficSettings
from shipyard.errors import StoreError
from shipyard.serving.traffic_log import TrafficLogger
from shipyard.store import open_store
from shipyard.store.local import LocalStore
from shipyard.store.registry import ModelRegistry
from shipyard.store.traffic import ATTRS_KEY, META_COLUMNS, REQUESTS, batch_keys, read_batch
from tests.serving.conftest import register
from tests.store.conftest import fresh_bucket, moto_server, s3_env  # noqa: F401 - fixtures

LOGGER = "shipyard.serving.traffic"


class SwitchableStore:
    """A directory store whose writes fail with StoreError while ``down`` (an outage), counting attempts."""

    def __init__(self, root: Path) -> None:
        self.inner = LocalStore(str(root))
        self.down = False
        self.attempts = 0

    def write(self, key: str, data: bytes) -> None:
        self.attempts += 1
        if self.down:
            raise StoreError("cannot reach the store at http://127.0.0.1:9: connection refused")
        self.inner.write(key, data)

    def __getattr__(self, name: str):  # everything else: the real store
        return getattr(self.inner, name)


def settings(**changes) -> TrafficSettings:
    values = {"batch_rows": 1000, "flush_seconds": 60.0, "buffer_rows": 100_000, "stop_flush_seconds": 5.0}
    return TrafficSettings(**{**values, **changes})


def features(rows: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure": np.arange(start, start + rows, dtype=float),
            "plan": [f"plan-{i % 3}" for i in range(start, start + rows)],
            "email": [f"user{i}@example.com" for i in range(start, start + rows)],
        }
    )


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def stored(store, model: str = "churn") -> list[pd.DataFrame]:
    return [read_batch(store, key) for key in batch_keys(store, model, REQUESTS, None, None)]


@pytest.fixture
def make_logger() -> Iterator[Callable[..., TrafficLogger]]:
    made: list[TrafficLogger] = []

    def make(store, model: str = "churn", **kwargs) -> TrafficLogger:
        made.append(TrafficLogger(store, model, kwargs.pop("settings", settings()), **kwargs))
        return made[-1]

    yield make
    for logger in made:
        logger.close(timeout=0.5)


def record(logger: TrafficLogger, rows: int, version: int = 1, start: int = 0, request_id: str | None = None):
    return logger.record(
        features(rows, start),
        request_id=request_id or uuid.uuid4().hex,
        model_version=version,
        predictions=np.array(["yes" if i % 2 else "no" for i in range(rows)]),
        probabilities=lambda: np.tile([0.25, 0.75], (rows, 1)),
        classes=("no", "yes"),
    )


def test_rows_batches_by_size_then_close_writes_the_rest(tmp_path, make_logger):
    store = LocalStore(str(tmp_path))
    logger = make_logger(store, settings=settings(batch_rows=4))
    for i in range(5):  # 10 rows in 2-row requests: two full batches of 4 without waiting, 2 rows left
        assert record(logger, 2, version=1 if i < 3 else 2, start=2 * i, request_id=f"r{i}")
    assert wait_for(lambda: logger.stats.batches_written == 2)
    assert logger.pending_rows == 2
    assert logger.close() == 0

    batches = stored(store)
    assert sorted(len(b) for b in batches) == [2, 4, 4]
    rows = pd.concat(batches, ignore_index=True).sort_values("tenure", ignore_index=True)
    assert list(rows.columns) == ["tenure", "plan", "email", *META_COLUMNS]
    assert rows["tenure"].tolist() == [float(i) for i in range(10)]
    assert rows["request_id"].tolist() == [f"r{i // 2}" for i in range(10)]
    assert rows["request_row"].tolist() == [0, 1] * 5
    assert rows["model_version"].tolist() == [1] * 6 + [2] * 4
    assert rows["prediction"].tolist() == ["no", "yes"] * 5
    assert json.loads(rows["probabilities"][0]) == {"no": 0.25, "yes": 0.75}
    assert str(rows["logged_at"].dtype) == "datetime64[us, UTC]"
    assert (pd.Timestamp.now(tz="UTC") - rows["logged_at"]).max() < pd.Timedelta(minutes=1)
    assert logger.stats.rows_logged == 10 and logger.stats.rows_dropped == 0


def test_rows_are_filed_under_the_day_they_were_logged_not_the_day_they_were_written(
    tmp_path, make_logger, monkeypatch
):
    """A batch held across midnight (or an outage) must land in its rows' day partitions, or a window misses it."""
    from datetime import datetime, timedelta, timezone

    from shipyard.serving import traffic_log

    store = LocalStore(str(tmp_path))
    clock = {"now": datetime(2026, 1, 5, 23, 59, 58, tzinfo=timezone.utc)}
    monkeypatch.setattr(traffic_log, "_now", lambda: clock["now"])
    logger = make_logger(store)  # batches of 1,000 rows or after 60 s: nothing is written until close()
    record(logger, 2, start=0)
    clock["now"] += timedelta(seconds=4)  # 00:00:02 on Jan 6
    record(logger, 3, start=2)
    assert logger.close() == 0

    day = datetime(2026, 1, 5, tzinfo=timezone.utc)
    first = batch_keys(store, "churn", REQUESTS, day, day.replace(hour=23, minute=59, second=59))
    assert [len(read_batch(store, key)) for key in first] == [2]
    assert "date=2026-01-05/235958-" in first[0]
    second = batch_keys(store, "churn", REQUESTS, day + timedelta(days=1), day + timedelta(days=1, hours=1))
    assert [len(read_batch(store, key)) for key in second] == [3]


def test_a_batch_is_written_after_flush_seconds_without_filling_up(tmp_path, make_logger):
    store = LocalStore(str(tmp_path))
    logger = make_logger(store, settings=settings(flush_seconds=0.2))
    began = time.monotonic()
    record(logger, 3)
    assert wait_for(lambda: logger.stats.batches_written == 1, timeout=5)
    assert time.monotonic() - began >= 0.2
    assert [len(b) for b in stored(store)] == [3]


def test_store_outage_keeps_rows_logs_once_and_writes_them_when_it_returns(tmp_path, make_logger, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = SwitchableStore(tmp_path)
    store.down = True
    logger = make_logger(store, settings=settings(batch_rows=2), retry_seconds=0.02, max_retry_seconds=0.05)
    for i in range(3):
        assert record(logger, 2, start=2 * i)  # never raises, never blocks
    assert wait_for(lambda: store.attempts >= 5)
    assert logger.stats.rows_logged == 0 and logger.pending_rows == 6
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "connection refused" in errors[0] and "retrying" in errors[0]

    store.down = False
    assert wait_for(lambda: logger.stats.rows_logged == 6)
    assert sorted(pd.concat(stored(store.inner))["tenure"].tolist()) == [float(i) for i in range(6)]
    assert logger.stats.rows_dropped == 0 and logger.stats.write_failures >= 4
    assert sum("answers again" in r.getMessage() for r in caplog.records) == 1


def test_full_buffer_drops_newer_requests_and_counts_them(tmp_path, make_logger, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store = SwitchableStore(tmp_path)
    store.down = True
    logger = make_logger(
        store, settings=settings(batch_rows=5, buffer_rows=5), retry_seconds=0.02, max_retry_seconds=0.1
    )
    assert record(logger, 3)
    assert not record(logger, 3)  # 6 rows would not fit
    assert not record(logger, 4)
    assert record(logger, 2)  # exactly fills it
    assert logger.stats.rows_dropped == 7
    warnings = [r.getMessage() for r in caplog.records if "buffer full" in r.getMessage()]
    assert len(warnings) == 1, "a full buffer is reported once, not per request"

    store.down = False
    assert wait_for(lambda: logger.stats.rows_logged == 5)
    assert record(logger, 1)  # room again: the episode's count is reported
    assert any("7 rows were dropped" in r.getMessage() for r in caplog.records)


def test_close_with_the_store_down_gives_up_in_time_and_counts_the_loss(tmp_path, make_logger, caplog):
    store = SwitchableStore(tmp_path)
    store.down = True
    logger = make_logger(store, retry_seconds=0.02)
    record(logger, 4)
    began = time.monotonic()
    assert logger.close(timeout=0.3) == 4
    assert time.monotonic() - began < 2.5
    assert logger.stats.rows_dropped == 4 and store.attempts >= 1
    assert not record(logger, 1), "a closed logger takes nothing more"


def test_excluded_and_hashed_columns_and_batch_attrs(tmp_path, make_logger):
    store = LocalStore(str(tmp_path))
    logger = make_logger(store, settings=settings(exclude_columns=("plan",), hash_columns=("email",)), salt="pepper")
    frame = features(2)
    frame.loc[1, "email"] = None
    logger.record(frame, request_id="a", model_version=3, predictions=[1.5, 2.5])  # a regressor: no probabilities
    logger.close()

    (batch,) = stored(store)
    assert "plan" not in batch.columns
    assert batch["email"][0] == hashlib.sha256(b"pepperuser0@example.com").hexdigest()
    assert batch["email"][1] is None, "a missing value stays missing, not the hash of 'None'"
    assert batch["prediction"].tolist() == [1.5, 2.5] and batch["probabilities"].isna().all()
    assert batch.attrs[ATTRS_KEY] == {"hashed_columns": ["email"], "excluded_columns": ["plan"]}


def test_a_restarted_logger_leaves_earlier_batches_intact_and_metrics_count(tmp_path, make_logger):
    from prometheus_client import REGISTRY

    model = f"restart-{uuid.uuid4().hex[:8]}"  # its own label: the metrics are process-wide
    store = LocalStore(str(tmp_path))
    first = make_logger(store, model)
    record(first, 2, start=0)
    first.close()
    (key,) = batch_keys(store, model, REQUESTS, None, None)
    before = store.read(key)

    second = make_logger(store, model)
    record(second, 3, start=2)
    second.close()
    keys = batch_keys(store, model, REQUESTS, None, None)
    assert len(keys) == 2 and key in keys and store.read(key) == before
    assert sorted(pd.concat(stored(store, model))["tenure"].tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert REGISTRY.get_sample_value("shipyard_traffic_rows_logged_total", {"model": model}) == 5.0
    assert REGISTRY.get_sample_value("shipyard_traffic_rows_pending", {"model": model}) == 0.0


@pytest.mark.s3
@pytest.mark.usefixtures("s3_env")
def test_batches_land_on_s3_and_read_back(make_logger):
    """On moto_server, the S3-protocol stand-in the store suite uses (see tests/store/conftest.py)."""
    store = open_store(f"s3://{fresh_bucket()}/shipyard")
    logger = make_logger(store, settings=settings(batch_rows=3))
    for i in range(3):
        record(logger, 2, start=2 * i)
    assert logger.close() == 0
    keys = batch_keys(store, "churn", REQUESTS, pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1), None)
    assert len(keys) == 2 and all(k.startswith("traffic/churn/requests/date=") for k in keys)
    rows = pd.concat([read_batch(store, k) for k in keys])
    assert sorted(rows["tenure"].tolist()) == [float(i) for i in range(6)]
    assert rows.attrs[ATTRS_KEY] == {"hashed_columns": [], "excluded_columns": []}


# -- through the served model -----------------------------------------------------------------


def test_predict_logs_v1_and_v2_requests_with_the_version_that_answered(tmp_path, classifier):
    from shipyard.serving._kserve import kserve
    from shipyard.serving.model import RegistryModel

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    registry.set_alias("churn", "production", 1)
    logger = TrafficLogger(registry.store, "churn", settings())
    model = RegistryModel("churn", registry, "production", traffic=logger)
    model.load()
    records = [{"tenure": 1.5, "plan": "pro", "seats": 3}, {"tenure": None, "plan": "basic", "seats": 12}]

    v1 = model.predict({"instances": records, "id": "v1-given"})
    assert v1["id"] == "v1-given" and len(v1["predictions"]) == 2
    v1_header = model.predict({"instances": records[:1]}, headers={"x-request-id": "from-header"})
    assert v1_header["id"] == "from-header"
    generated = model.predict({"instances": records[:1]})["id"]

    registry.set_alias("churn", "production", 2)
    assert model.check_alias()
    inputs = [
        kserve.InferInput("tenure", [2], "FP64", [0.5, -1.0]),
        kserve.InferInput("plan", [2], "BYTES", ["team", None]),
        kserve.InferInput("seats", [2], "FP64", [4, 1]),
    ]
    v2 = model.predict(kserve.InferRequest("churn", inputs, request_id="v2-given"))
    assert v2.id == "v2-given" and v2.model_version == "2"
    with pytest.raises(Exception, match="missing feature column"):  # a refused request is not logged
        model.predict({"instances": [{"tenure": 1.0}]})
    model.stop()  # closes the logger: everything is written

    rows = pd.concat(stored(registry.store), ignore_index=True)
    by_request = rows.groupby("request_id")["model_version"].agg(lambda v: sorted(set(v)))
    assert by_request.to_dict() == {"v1-given": [1], "from-header": [1], generated: [1], "v2-given": [2]}
    logged_v2 = rows[rows["request_id"] == "v2-given"].sort_values("request_row")
    assert logged_v2["plan"].tolist()[0] == "team" and pd.isna(logged_v2["plan"].tolist()[1])
    assert logged_v2["prediction"].tolist() == [str(v) for v in v2.outputs[0].data]
    expected = classifier.pipeline.predict_proba(
        pd.DataFrame({"tenure": [1.5, np.nan], "plan": ["pro", "basic"], "seats": [3.0, 12.0]})
    )
    logged_v1 = rows[rows["request_id"] == "v1-given"].sort_values("request_row")
    for text, probabilities in zip(logged_v1["probabilities"], expected, strict=True):
        assert list(json.loads(text).values()) == pytest.approx(list(probabilities))
    assert logger.stats.rows_logged == 6 and logger.stats.errors == 0


def test_a_request_id_of_zero_is_kept_and_a_missing_one_falls_back_to_the_header_then_a_uuid():
    from shipyard.serving.model import _request_id

    assert _request_id({"id": 0, "instances": []}, None) == "0"  # labels for id 0 must be able to join
    assert _request_id({"id": "", "instances": []}, {"x-request-id": "hdr-1"}) == "hdr-1"
    assert len(_request_id({"instances": []}, None)) == 36


def test_hashing_without_a_salt_is_warned_about(tmp_path, make_logger, caplog, monkeypatch):
    monkeypatch.delenv("SHIPYARD_TRAFFIC_HASH_SALT", raising=False)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    make_logger(LocalStore(str(tmp_path)), settings=settings(hash_columns=("email",)))
    make_logger(LocalStore(str(tmp_path)), settings=settings(hash_columns=("email",)), salt="pepper")
    warned = [r.getMessage() for r in caplog.records if "without a salt" in r.getMessage()]
    assert len(warned) == 1 and "SHIPYARD_TRAFFIC_HASH_SALT" in warned[0]
