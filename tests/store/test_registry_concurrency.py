"""Several *processes* using one registry at once, on both backends.

Workers start together behind a barrier (multiprocessing, spawn: fresh interpreters, as
separate pipeline pods would be) and report what the registry told them; the test then
checks that nothing was lost or handed out twice.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from shipyard.store.registry import ModelRegistry
from tests.store.counting import fill_history

WORKERS = 4
ROUNDS = 3
TIMEOUT = 60


def _register_worker(uri: str, workdir: str, worker: int, barrier, results) -> None:
    registry = ModelRegistry.from_uri(uri)
    files = []
    for round_ in range(ROUNDS):
        path = Path(workdir) / f"w{worker}-r{round_}.bin"
        path.write_bytes(f"worker={worker} round={round_}".encode())
        files.append(path)
    barrier.wait(TIMEOUT)
    got = []
    for round_, path in enumerate(files):
        version = registry.register_version(
            "churn", path, metrics={"worker": worker, "round": round_}, params={}, lineage={}
        )
        got.append((version.version, worker, round_))
    results.put(got)


def _promote_worker(uri: str, versions: list[int], barrier, results) -> None:
    registry = ModelRegistry.from_uri(uri)
    barrier.wait(TIMEOUT)
    results.put(
        [
            (move.previous, move.current)
            for move in (registry.set_alias("churn", "production", version) for version in versions)
        ]
    )


def _run_together(target, args_per_worker: list[tuple]) -> list:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(args_per_worker)), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_per_worker]
    for process in processes:
        process.start()
    try:
        collected = [results.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(TIMEOUT)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return collected


def test_concurrent_registers_get_distinct_versions_and_none_is_lost(registry, tmp_path):
    outcomes = [
        item
        for batch in _run_together(
            _register_worker, [(registry.uri, str(tmp_path), worker) for worker in range(WORKERS)]
        )
        for item in batch
    ]

    numbers = [number for number, _, _ in outcomes]
    assert len(numbers) == WORKERS * ROUNDS
    assert len(set(numbers)) == len(numbers), f"a version number was handed out twice: {sorted(numbers)}"
    visible = registry.list_versions("churn")
    assert sorted(numbers) == [v.version for v in visible]
    for number, worker, round_ in outcomes:  # each version holds exactly what its registrant uploaded
        version = registry.get_version("churn", number)
        assert version.metrics == {"worker": worker, "round": round_}
        copy = registry.download_model("churn", number, tmp_path / "check" / str(number))
        assert copy.read_bytes() == f"worker={worker} round={round_}".encode()
    assert [e["version"] for e in registry.audit_log("churn") if e["event"] == "registered"] != []
    assert sorted(e["version"] for e in registry.audit_log("churn")) == sorted(numbers)


def test_concurrent_registers_behind_a_lagging_hint_reuse_no_number(registry, tmp_path):
    """The hint names version 1 while 3 exist (say an old writer registered the others): every
    worker starts from a taken number, and the create-only claims still hand each number out once."""
    fill_history(registry.store, "churn", 3)
    registry.store.write("models/churn/latest.json", json.dumps({"version": 1}).encode())
    outcomes = [
        item
        for batch in _run_together(
            _register_worker, [(registry.uri, str(tmp_path), worker) for worker in range(WORKERS)]
        )
        for item in batch
    ]
    numbers = sorted(number for number, _, _ in outcomes)
    assert len(set(numbers)) == WORKERS * ROUNDS and min(numbers) > 3, numbers
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 3, *numbers]
    assert registry.latest_version("churn").version == numbers[-1]


def test_concurrent_promotes_do_not_lose_alias_history(registry, tmp_path):
    source = tmp_path / "m.bin"
    for number in range(1, 2 * WORKERS + 2):
        source.write_bytes(f"model {number}".encode())
        registry.register_version("churn", source, metrics={}, params={}, lineage={})
    registry.set_alias("churn", "production", 1)
    plans = [[2 + 2 * worker, 3 + 2 * worker] for worker in range(WORKERS)]  # every move is a real change

    moves = [
        move for batch in _run_together(_promote_worker, [(registry.uri, plan) for plan in plans]) for move in batch
    ]

    document = json.loads(registry.store.read("models/churn/aliases/production.json"))
    chain = [*document["history"], document["version"]]  # every version the alias ever held, in order
    assert len(moves) == 2 * WORKERS
    assert chain[0] == 1 and sorted(chain) == list(range(1, 2 * WORKERS + 2)), f"history lost entries: {chain}"
    for previous, current in moves:  # each move saw the true predecessor: no move overwrote another
        assert chain[chain.index(current) - 1] == previous
    promoted = [e for e in registry.audit_log("churn") if e["event"] == "promoted"]
    assert len(promoted) == 2 * WORKERS + 1
    while registry.aliases("churn")["production"] != 1:  # and rollback can walk the whole chain back
        registry.rollback("churn")
    assert json.loads(registry.store.read("models/churn/aliases/production.json"))["history"] == []
