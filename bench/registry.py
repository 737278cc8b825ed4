"""Benchmark: what registry calls cost with 10, 1,000 and 10,000 versions on S3 (not a test).

    .venv/bin/python bench/registry.py --versions 10 1000 10000

Runs a ``moto_server`` (the S3-protocol stand-in the tests use) on a free local port. For each
size N it fills one model's history in a fresh bucket, then measures, through the real
``ModelRegistry`` on the real ``S3Store``:

- ``register``: :func:`shipyard.stages.register.register_blessed_model` with a new model file (the
  retry check by run id, the register, the run record);
- ``retry of that register``: the same call again (it finds its version instead of registering);
- ``resolve production``: :meth:`ModelRegistry.resolve_alias`;
- ``latest version``: :meth:`ModelRegistry.latest_version`;
- ``newest page (20)``: :meth:`ModelRegistry.versions_page` with ``limit=20`` (``--page``); a
  model with fewer versions than that reads fewer;
- ``whole history``: :meth:`ModelRegistry.list_versions`, which every registration paid before
  the run index existed (the retry check listed and read every version); measured only up to
  ``--history-up-to`` versions (default 1,000), since it costs one GET per version.

Requests are counted as the HTTP requests the ``minio`` client sends (its connection pool is
wrapped), so list pages, HEADs and PUTs all count; times are the median of ``--repeat`` calls
(one call for the whole-history read). The history is written straight into the bucket in the
layout registers leave (claim, model file, audit event, metadata: four keys per version, then
the ``latest`` hint) by ``--threads`` writers: registering 10,000 versions one by one would take
far longer and measure nothing this table shows. Ratios are taken within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The same counting wrapper and history filler the request-count tests use (tests/store/counting.py).
from tests.store.counting import CountingHTTP, count_http, fill_history  # noqa: E402


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).parent / "moto_server"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("moto_server did not start within 30 s")


def measure(http: CountingHTTP, call: Callable[[], object], repeat: int) -> tuple[Counter[str], float]:
    """HTTP requests of one call (the first) and the median wall time over ``repeat`` calls, in ms."""
    times, first = [], None
    for _ in range(repeat):
        http.counts.clear()
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
        if first is None:
            first = Counter(http.counts)
    assert first is not None
    return first, statistics.median(times)


def run_size(count: int, threads: int, repeat: int, history: bool, page: int, workdir: Path) -> dict[str, Any]:
    from shipyard.stages.register import register_blessed_model
    from shipyard.stages.train import ModelFacts
    from shipyard.store.registry import ModelRegistry
    from shipyard.store.s3 import S3Store, s3_settings_from_env

    store = S3Store(f"bench-{uuid.uuid4().hex[:12]}", "registry", s3_settings_from_env())
    started = time.perf_counter()
    fill_history(store, "churn", count, threads=threads)
    fill_seconds = time.perf_counter() - started
    http = count_http(store)
    registry = ModelRegistry(store)
    registry.set_alias("churn", "production", count)  # also warms the client (bucket check, write probe)
    facts = ModelFacts(
        task="classification", target="y", classes=(0, 1), feature_columns=("x",), train_rows=1, params={}
    )
    serial = iter(range(10**6))
    last: dict[str, Path] = {}

    def register() -> None:
        n = next(serial)
        path = workdir / f"model-{count}-{n}.joblib"
        path.write_bytes(f"model {count} {n}".encode())
        last["path"] = path
        register_blessed_model(
            registry, "churn", path, facts=facts, metrics={"accuracy": 0.9}, lineage={}, run_id=f"bench-{n}"
        )

    def retry() -> None:
        register_blessed_model(
            registry, "churn", last["path"], facts=facts, metrics={"accuracy": 0.9}, lineage={}, run_id="bench-retry"
        )

    rows: dict[str, tuple[Counter[str], float]] = {}
    rows["register"] = measure(http, register, repeat)
    retry()  # the first call registers; the measured ones are retries that find it
    rows["retry of that register"] = measure(http, retry, repeat)
    rows["resolve production"] = measure(http, lambda: registry.resolve_alias("churn", "production"), repeat)
    rows["latest version"] = measure(http, lambda: registry.latest_version("churn"), repeat)
    rows[f"newest page ({page})"] = measure(http, lambda: registry.versions_page("churn", limit=page), repeat)
    if history:
        rows["whole history (list_versions)"] = measure(http, lambda: registry.list_versions("churn"), 1)
    latest = registry.latest_version("churn")
    assert latest is not None and latest.version == count + repeat + 1, latest
    return {"fill_seconds": fill_seconds, "rows": rows}


def shown(counts: Counter[str]) -> str:
    total = sum(counts.values())
    detail = " ".join(f"{counts[m]}{m[0]}" for m in ("GET", "HEAD", "PUT", "DELETE") if counts[m])
    return f"{total} ({detail})" if detail else str(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5, help="calls per timed operation (median)")
    parser.add_argument("--threads", type=int, default=8, help="writers filling the history")
    parser.add_argument(
        "--history-up-to",
        type=int,
        default=1000,
        help="read the whole history (list_versions) only at sizes up to this (it costs one GET per version)",
    )
    parser.add_argument("--page", type=int, default=20, help="page size of the newest-page row (the CLI's default)")
    args = parser.parse_args()

    process, endpoint = start_moto()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_REGION": "us-east-1",
        }
    )
    results: dict[int, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-registry-") as tmp:
            for count in args.versions:
                print(f"filling {count:,} versions ...", file=sys.stderr, flush=True)
                results[count] = run_size(
                    count, args.threads, args.repeat, count <= args.history_up_to, args.page, Path(tmp)
                )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a server holding 40,000 objects can be slow to exit
            process.kill()
            process.wait(timeout=30)

    sizes = args.versions
    label_width = 32
    print(
        f"registry on moto_server (S3 protocol over HTTP); requests per call (G=GET H=HEAD P=PUT), "
        f"median ms of {args.repeat}"
    )
    header = f"{'operation':<{label_width}}" + "".join(f"{f'{n:,} versions':>26}" for n in sizes)
    if len(sizes) > 1:
        header += f"{f'ratio {sizes[-1]:,}/{sizes[0]:,}':>22}"
    print(header)
    labels = list(dict.fromkeys(label for n in sizes for label in results[n]["rows"]))
    for label in labels:
        line = f"{label:<{label_width}}"
        for n in sizes:
            if label not in results[n]["rows"]:
                line += f"{'not measured':>26}"
                continue
            counts, ms = results[n]["rows"][label]
            line += f"{shown(counts):>16} {ms:7.1f} ms"
        if len(sizes) > 1 and all(label in results[n]["rows"] for n in (sizes[0], sizes[-1])):
            small_counts, small_ms = results[sizes[0]]["rows"][label]
            big_counts, big_ms = results[sizes[-1]]["rows"][label]
            line += f"{sum(big_counts.values()) / sum(small_counts.values()):>10.2f}x req {big_ms / small_ms:5.2f}x t"
        print(line)
    print(
        "filling the history (not measured above): "
        + ", ".join(f"{n:,} versions {results[n]['fill_seconds']:.1f} s" for n in sizes)
    )
    load = os.getloadavg()
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
    )
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    main()
