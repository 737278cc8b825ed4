"""Benchmark: what logging served traffic costs a request (not a test).

    .venv/bin/python bench/traffic_logging.py --clients 4 --requests 400 --rows 1 --rounds 3

Trains the default estimator on the synthetic churn table (``--train-rows``), registers it in a
temporary directory store and starts two ``shipyard serve`` processes on it: one logging traffic
(``--log-traffic``, the built-in ``traffic:`` settings: batches of 1,000 rows or every 10 s) and one
not (``--no-log-traffic``). Both are up for the whole run and get the same load in alternating
rounds (``--rounds`` each, logging first then not, so drift on a shared machine hits both): per
round, ``--clients`` threads each send ``--requests`` Open Inference Protocol V2 requests of
``--rows`` holdout rows back to back, after ``--warmup`` untimed requests per client. Latency is
the client's wall time per request (HTTP and JSON included). The table gives, per server, the
median and p95 over every timed request, the throughput, and the ratio logging / not logging;
after the servers stop (SIGTERM: the logging one writes its last rows) the rows found in the store
are counted against the requests sent. Target: logging costs at most 10 % of the median latency.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def register_model(store: Path, train_rows: int) -> tuple[str, object]:
    """The default estimator trained on the synthetic churn table, registered as ``churn`` v1 (production)."""
    import joblib

    from shipyard.config import load_config
    from shipyard.data.synthetic import make_demo_dataset
    from shipyard.stages.train import train_model
    from shipyard.store.registry import ModelRegistry

    trained = train_model(make_demo_dataset(train_rows, seed=1), "churned", "classification", load_config())
    registry = ModelRegistry.from_uri(str(store))
    path = store.parent / "model.joblib"
    joblib.dump(trained.pipeline, path)
    registry.register_version(
        "churn",
        path,
        metrics={},
        params={},
        lineage={
            "task": trained.task,
            "target": trained.target,
            "classes": list(trained.classes or ()),
            "feature_columns": list(trained.feature_columns),
        },
        run_id="bench",
    )
    registry.set_alias("churn", "production", 1)
    return "churn", trained.holdout.drop(columns=["churned"])


@dataclasses.dataclass
class Server:
    label: str
    process: subprocess.Popen[bytes]
    stderr: Path
    url: str = ""


def start(store: Path, logs: Path, label: str, flag: str) -> Server:
    stderr = logs / f"{label}.stderr"
    env = {k: v for k, v in os.environ.items() if k != "SHIPYARD_TRAFFIC_LOG"}
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [SHIPYARD, "serve", "churn", "--store", str(store), "--port", "0", "--json", flag],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    return Server(label, process, stderr)


def wait_ready(server: Server, timeout: float = 180.0) -> None:
    from shipyard.serving import client

    assert server.process.stdout is not None
    text = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = server.process.stdout.readline()
        if not line:
            raise SystemExit(f"{server.label}: shipyard serve exited:\n{server.stderr.read_text()[-2000:]}")
        text += line
        try:
            server.url = json.loads(text)["url"]
            break
        except ValueError:
            continue
    while not client.ready(server.url, timeout=5.0):
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.label}: not ready within {timeout:g} s")
        time.sleep(0.1)


def load(url: str, rows, clients: int, requests: int, warmup: int) -> tuple[list[float], float]:
    """Per-request seconds of every timed request, and the round's wall time."""
    from shipyard.serving import client

    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def run(index: int) -> None:
        try:
            for _ in range(warmup):
                client.infer(url, "churn", rows)
            barrier.wait()
            for _ in range(requests):
                begin = time.perf_counter()
                client.infer(url, "churn", rows)
                latencies[index].append(time.perf_counter() - begin)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    begin = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - begin
    if failures:
        raise SystemExit(f"a request failed: {failures[0]!r}")
    return [s for per_client in latencies for s in per_client], wall


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400, help="timed requests per client and round")
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per client and round")
    parser.add_argument("--train-rows", type=int, default=5000)
    args = parser.parse_args()
    print(f"command: {Path(sys.executable).name} bench/traffic_logging.py {shlex.join(sys.argv[1:])}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory(prefix="shipyard-bench-traffic-") as tmp:
        store = Path(tmp) / "store"
        _, holdout = register_model(store, args.train_rows)
        rows = holdout.head(args.rows)  # type: ignore[attr-defined]
        servers = {
            "logging": start(store, Path(tmp), "logging", "--log-traffic"),
            "not logging": start(store, Path(tmp), "not-logging", "--no-log-traffic"),
        }
        try:
            for server in servers.values():
                wait_ready(server)
            results: dict[str, list[float]] = {label: [] for label in servers}
            walls: dict[str, float] = {label: 0.0 for label in servers}
            for _ in range(args.rounds):
                for label, server in servers.items():
                    latencies, wall = load(server.url, rows, args.clients, args.requests, args.warmup)
                    results[label] += latencies
                    walls[label] += wall
        finally:
            for server in servers.values():
                server.process.send_signal(signal.SIGTERM)
            for server in servers.values():
                server.process.wait(timeout=60)

        from shipyard.store import open_store
        from shipyard.store.traffic import REQUESTS, batch_keys, read_batch

        opened = open_store(str(store))
        keys = batch_keys(opened, "churn", REQUESTS, None, None)
        logged_rows = sum(len(read_batch(opened, key)) for key in keys)
        sent = args.rounds * args.clients * (args.requests + args.warmup) * len(rows)

    print(
        f"\n{args.clients} clients x {args.requests} timed requests x {args.rounds} rounds per server, "
        f"{len(rows)} row(s) per V2 request, {args.warmup} warm-up requests per client and round\n"
    )
    print(f"{'server':<13} {'requests':>8} {'median ms':>10} {'p95 ms':>8} {'req/s':>8}")
    medians, p95s = {}, {}
    for label, latencies in results.items():
        medians[label] = statistics.median(latencies) * 1000
        p95s[label] = percentile(latencies, 0.95) * 1000
        print(
            f"{label:<13} {len(latencies):>8} {medians[label]:>10.2f} {p95s[label]:>8.2f} "
            f"{len(latencies) / walls[label]:>8.0f}"
        )
    ratio = medians["logging"] / medians["not logging"]
    print(f"\nratio logging / not logging: median {ratio:.3f}, p95 {p95s['logging'] / p95s['not logging']:.3f}")
    print(f"target: median ratio <= 1.10 -> {'met' if ratio <= 1.10 else 'NOT met'}")
    print(f"rows in the store after SIGTERM: {logged_rows} in {len(keys)} batches (rows sent: {sent})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
