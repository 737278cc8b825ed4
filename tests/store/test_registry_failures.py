"""The registry when the store or the process dies halfway.

* A wrapper makes the store fail at each write of a register/promote in turn, both
  before the write lands and after it landed (the answer lost): no partial version may
  become visible and no alias may move, and a retry must succeed (both backends).
* A real ``moto_server`` is killed between the model upload and the metadata write: the
  caller must get a prompt, clear StoreError, not a hang (moto keeps data in memory, so
  what survives a crash is checked by the wrapper tests, not here).
* A registering process is SIGKILLed after uploading its model (local backend): nothing
  becomes visible and the next register works; a process killed while holding an alias
  lock does not block the next promote (the kernel drops ``flock`` locks of dead processes).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from shipyard.errors import StoreError
from shipyard.store.local import LocalStore
from shipyard.store.registry import ModelRegistry
from shipyard.store.s3 import S3Settings, S3Store
from tests.store.conftest import ACCESS_KEY, SECRET_KEY, MotoServer, call_within, fresh_bucket

MUTATING = ("write", "write_file", "create", "replace_if", "delete")


class FailingStore:
    """Delegates to a real store; the ``fail_at``-th mutating call raises StoreError.

    ``landed=False``: the store dies before applying that write. ``landed=True``: the write is
    applied and then the connection dies, so the caller cannot tell whether it happened.
    """

    def __init__(self, inner, fail_at: int | None = None, landed: bool = False):
        self._inner, self._fail_at, self._landed = inner, fail_at, landed
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in MUTATING:
            return attr

        def call(key, *args, **kwargs):
            self.calls.append((name, key))
            if len(self.calls) != self._fail_at:
                return attr(key, *args, **kwargs)
            if self._landed:
                attr(key, *args, **kwargs)
            raise StoreError(f"injected failure at {name} '{key}'")

        return call


def _register(registry, path: Path):
    return registry.register_version("churn", path, metrics={"accuracy": 0.9}, params={}, lineage={}, run_id="r")


@pytest.fixture
def seeded(registry, tmp_path):
    """A registry with version 1 in production, and a new model file to register."""
    first = tmp_path / "v1.bin"
    first.write_bytes(b"model one")
    _register(registry, first)
    registry.set_alias("churn", "production", 1)
    second = tmp_path / "v2.bin"
    second.write_bytes(b"model two")
    return registry, second


def _register_steps(registry, path) -> list[tuple[str, str]]:
    probe = FailingStore(registry.store)
    ModelRegistry(probe).register_version("probe", path, metrics={}, params={}, lineage={}, run_id="r")
    return probe.calls


def _step_names(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (name, key.rsplit("/", 1)[-1] if "/audit/" not in key and "/by-run/" not in key else key.split("/")[2])
        for name, key in steps
    ]


def test_register_writes_metadata_last(seeded):
    registry, path = seeded
    assert _step_names(_register_steps(registry, path)) == [
        ("create", ".claim"),
        ("write", "by-run"),
        ("write_file", "model.joblib"),
        ("create", "audit"),
        ("create", "metadata.json"),
        ("create", "latest.json"),  # the hint moves only once the version is visible
    ]


@pytest.mark.parametrize("landed", [False, True], ids=["dies-before-write", "dies-after-write"])
@pytest.mark.parametrize("step", [1, 2, 3, 4, 5])
def test_a_register_interrupted_at_any_write_leaves_no_partial_version(seeded, step, landed):
    registry, path = seeded
    assert _step_names(_register_steps(registry, path))[4] == ("create", "metadata.json")
    with pytest.raises(StoreError, match="injected"):
        _register(ModelRegistry(FailingStore(registry.store, fail_at=step, landed=landed)), path)

    visible = registry.list_versions("churn")
    committed = landed and step == 5  # the metadata write landed: the version is complete, only the answer was lost
    assert [v.version for v in visible] == ([1, 2] if committed else [1])
    assert registry.latest_version("churn").version == visible[-1].version
    assert all(entry["ok"] for entry in registry.verify("churn")), "a visible version is incomplete"
    assert registry.aliases("churn") == {"production": 1}
    registered = [e["version"] for e in registry.audit_log("churn") if e["event"] == "registered"]
    assert registered == [v.version for v in visible]

    retry = _register(registry, path)
    assert retry.version == (3 if committed or step > 1 or landed else 2)
    assert registry.latest_version("churn").version == retry.version
    assert registry.download_model("churn", retry.version, path.parent / "check").read_bytes() == b"model two"
    assert registry.resolve_alias("churn", "production").version == 1


@pytest.mark.parametrize("landed", [False, True], ids=["dies-before-write", "dies-after-write"])
def test_a_register_whose_hint_update_fails_is_registered_and_found(seeded, landed):
    """The version is visible before the hint moves: a failed hint write loses nothing."""
    registry, path = seeded
    failing = FailingStore(registry.store, fail_at=6, landed=landed)
    made = _register(ModelRegistry(failing), path)
    assert failing.calls[-1][1].endswith("/latest.json") and made.version == 2
    assert registry.latest_version("churn").version == 2  # readers walk past a lagging hint
    assert [v.version for v in registry.versions_page("churn").versions] == [2, 1]
    assert _register(registry, path).version == 3


def test_a_promote_that_fails_leaves_the_alias_unchanged_and_says_so(seeded):
    registry, path = seeded
    _register(registry, path)
    before = registry.store.read("models/churn/aliases/production.json")
    flaky = ModelRegistry(FailingStore(registry.store, fail_at=1, landed=False))
    with pytest.raises(StoreError, match="alias 'production' of model 'churn' did not move to version 2"):
        flaky.set_alias("churn", "production", 2)
    assert registry.store.read("models/churn/aliases/production.json") == before
    assert registry.aliases("churn") == {"production": 1}
    assert [e["event"] for e in registry.audit_log("churn")].count("promoted") == 1


def test_a_promote_whose_answer_was_lost_but_that_landed_succeeds(seeded):
    """The swap landed, then the connection died: the alias did move, so the call must not say it failed."""
    registry, path = seeded
    _register(registry, path)
    flaky = ModelRegistry(FailingStore(registry.store, fail_at=1, landed=True))
    move = flaky.set_alias("churn", "production", 2, run_id="run-2")
    assert (move.previous, move.current) == (1, 2)
    assert registry.aliases("churn") == {"production": 2}
    document = json.loads(registry.store.read("models/churn/aliases/production.json"))
    promoted = [e for e in registry.audit_log("churn") if e["event"] == "promoted" and e["version"] == 2]
    assert len(promoted) == 1 and promoted[0]["move_id"] == document["move_id"] and promoted[0]["previous"] == 1
    assert registry.rollback("churn").current == 1  # history intact: one move, not two


def test_a_promote_whose_audit_write_fails_says_the_alias_moved(seeded):
    registry, path = seeded
    _register(registry, path)
    with pytest.raises(StoreError, match=r"now points at version 2 \(was 1\), but its audit event could not be"):
        ModelRegistry(FailingStore(registry.store, fail_at=2)).set_alias("churn", "production", 2)
    assert registry.aliases("churn") == {"production": 2}


def _promoted_to(registry, version: int) -> list[dict]:
    return [e for e in registry.audit_log("churn") if e["event"] == "promoted" and e["version"] == version]


@pytest.mark.parametrize("landed", [False, True], ids=["audit-write-lost", "audit-answer-lost"])
def test_a_retried_promote_writes_the_missing_audit_event_exactly_once(seeded, landed):
    """A promote step whose first attempt moved the alias but died before its audit event was
    recorded: the retry (same run id) finds the alias already there and records that move, once."""
    registry, path = seeded
    _register(registry, path)
    flaky = ModelRegistry(FailingStore(registry.store, fail_at=2, landed=landed))  # 1: alias swap, 2: event
    with pytest.raises(StoreError, match="audit event could not be written"):
        flaky.set_alias("churn", "production", 2, run_id="run-9")
    assert len(_promoted_to(registry, 2)) == (1 if landed else 0)

    for _ in range(2):  # the retried step, and a second retry for good measure
        move = flaky.set_alias("churn", "production", 2, run_id="run-9")
        assert (move.previous, move.current) == (2, 2)
    document = json.loads(registry.store.read("models/churn/aliases/production.json"))
    events = _promoted_to(registry, 2)
    assert len(events) == 1, events
    assert events[0]["move_id"] == document["move_id"] and events[0]["run_id"] == "run-9"
    assert events[0]["previous"] == 1 and events[0]["time"] == document["updated_at"]


def test_a_no_op_promote_from_another_run_records_nothing(seeded):
    registry, path = seeded
    _register(registry, path)
    with pytest.raises(StoreError, match="audit event could not be written"):
        ModelRegistry(FailingStore(registry.store, fail_at=2)).set_alias("churn", "production", 2, run_id="run-9")
    registry.set_alias("churn", "production", 2, run_id="someone-else")
    registry.set_alias("churn", "production", 2)  # no run id: cannot be a retry of that step
    assert _promoted_to(registry, 2) == []


def test_a_rollback_that_fails_leaves_the_alias_unchanged(seeded):
    registry, path = seeded
    _register(registry, path)
    registry.set_alias("churn", "production", 2)
    with pytest.raises(StoreError, match="did not move"):
        ModelRegistry(FailingStore(registry.store, fail_at=1)).rollback("churn")
    assert registry.aliases("churn") == {"production": 2}
    assert registry.rollback("churn").current == 1


def test_a_rollback_whose_answer_was_lost_is_not_reported_as_failed(seeded, tmp_path):
    """Before the fix this raised although the alias had moved; an operator retrying the rollback
    then landed two versions back."""
    registry, path = seeded
    _register(registry, path)
    third = tmp_path / "v3.bin"
    third.write_bytes(b"model three")
    _register(registry, third)
    registry.set_alias("churn", "production", 2)
    registry.set_alias("churn", "production", 3)
    move = ModelRegistry(FailingStore(registry.store, fail_at=1, landed=True)).rollback("churn")
    assert (move.previous, move.current) == (3, 2)
    assert registry.aliases("churn") == {"production": 2}
    assert [e["version"] for e in registry.audit_log("churn") if e["event"] == "rolled_back"] == [2]


class StoreDiesAfterAliasWrite:
    """The alias write is applied, then the store becomes unreachable: the answer and any re-read fail."""

    def __init__(self, inner):
        self._inner, self.dead = inner, False

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.dead:
                raise StoreError(f"injected: store unreachable at {name}")
            result = attr(*args, **kwargs)
            if name in ("create", "replace_if") and "/aliases/" in args[0]:
                self.dead = True
                raise StoreError("injected: connection lost after the write")
            return result

        return call


@pytest.mark.parametrize("operation", ["promote", "rollback"])
def test_an_alias_move_that_cannot_be_confirmed_says_it_may_have_moved(seeded, operation):
    registry, path = seeded
    _register(registry, path)
    if operation == "rollback":
        registry.set_alias("churn", "production", 2)
    flaky = ModelRegistry(StoreDiesAfterAliasWrite(registry.store))
    with pytest.raises(StoreError) as err:
        flaky.set_alias("churn", "production", 2) if operation == "promote" else flaky.rollback("churn")
    message = str(err.value)
    assert "MAY have moved" in message and "shipyard models show churn" in message, message
    assert registry.aliases("churn") == {"production": 2 if operation == "promote" else 1}  # it did move


class LostAnswerStore(FailingStore):
    """Every conditional write lands, but reports "condition failed", as when the answer was lost
    and the client's automatic retry then hit its own write (412)."""

    def create(self, key, data):
        self._inner.create(key, data)
        return False

    def replace_if(self, key, data, token):
        self._inner.replace_if(key, data, token)
        return False


def test_a_retried_write_that_finds_itself_counts_as_success(seeded):
    registry, path = seeded
    flaky = ModelRegistry(LostAnswerStore(registry.store))
    assert _register(flaky, path).version == 2  # not 3: the claim it "lost" was its own
    assert [v.version for v in registry.list_versions("churn")] == [1, 2]
    move = flaky.set_alias("churn", "production", 2)
    assert (move.previous, move.current) == (1, 2)
    assert registry.rollback("churn").current == 1  # history is [1], not [1, 2] from a double move
    assert registry.aliases("churn") == {"production": 1}


# -- a real S3 server dies mid-register -------------------------------------------------------------


class KillAfterUpload(FailingStore):
    def __init__(self, inner, server: MotoServer):
        super().__init__(inner)
        self._server = server

    def write_file(self, key, source):
        self._inner.write_file(key, source)
        self._server.kill()  # SIGKILL the S3 server between the model upload and the metadata write


@pytest.mark.s3
def test_killing_the_s3_server_mid_register_gives_a_prompt_clear_error(tmp_path):
    server = MotoServer()
    try:
        settings = S3Settings(
            endpoint_url=server.endpoint, region="us-east-1", access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
        bucket = fresh_bucket()
        store = S3Store(bucket, "reg", settings)
        path = tmp_path / "m.bin"
        path.write_bytes(b"model")
        registry = ModelRegistry(KillAfterUpload(store, server))
        error = call_within(10, _register, registry, path)
        assert isinstance(error, StoreError), error
        message = str(error)
        assert server.endpoint in message and bucket in message and "check AWS_ENDPOINT_URL" in message
        assert SECRET_KEY not in message and ACCESS_KEY not in message
    finally:
        server.stop()


# -- a local process is SIGKILLed ------------------------------------------------------------------


def _register_then_hang(root: str, model: str, marker: str) -> None:
    store = LocalStore(root)
    upload = store.write_file

    def write_file_then_hang(key, source):
        upload(key, source)
        Path(marker).write_text("model uploaded")
        time.sleep(120)  # killed here: after the upload, before metadata.json

    store.write_file = write_file_then_hang
    _register(ModelRegistry(store), Path(model))


def _promote_then_hang(root: str, marker: str) -> None:
    store = LocalStore(root)
    original_replace = store._replace

    def replace_then_hang(tmp, path):
        Path(marker).write_text("holding the alias lock")
        time.sleep(120)  # killed here: inside replace_if, holding the flock, before os.replace
        original_replace(tmp, path)

    store._replace = replace_then_hang
    ModelRegistry(store).set_alias("churn", "production", 2)


def _kill_when(target, args: tuple, marker: Path) -> None:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert process.is_alive() and time.monotonic() < deadline, "the worker never reached the kill point"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    assert process.exitcode == -signal.SIGKILL


def test_a_register_killed_after_the_upload_leaves_nothing_visible(local_registry, tmp_path):
    registry = local_registry
    path = tmp_path / "m.bin"
    path.write_bytes(b"model")
    _kill_when(_register_then_hang, (registry.uri, str(path), str(tmp_path / "marker")), tmp_path / "marker")

    assert registry.store.exists("models/churn/1/model.joblib")  # the upload happened...
    assert registry.list_versions("churn") == [] and registry.list_models() == []  # ...but nothing is visible
    assert registry.audit_log("churn") == []
    assert _register(registry, path).version == 2  # the crashed claim is skipped, never reused
    assert [e["version"] for e in registry.audit_log("churn")] == [2]


def test_a_promoter_killed_while_holding_the_alias_lock_blocks_nobody(local_registry, tmp_path):
    registry = local_registry
    path = tmp_path / "m.bin"
    for number in (1, 2, 3):
        path.write_bytes(f"model {number}".encode())
        _register(registry, path)
    registry.set_alias("churn", "production", 1)
    _kill_when(_promote_then_hang, (registry.uri, str(tmp_path / "marker")), tmp_path / "marker")

    assert registry.aliases("churn") == {"production": 1}
    assert call_within(10, registry.set_alias, "churn", "production", 3) is None  # no stale lock blocks it
    assert registry.audit_log("churn")[-1]["previous"] == 1 and registry.aliases("churn") == {"production": 3}
