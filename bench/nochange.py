"""Benchmark: an identical re-run of `shipyard run training` against the cold run (not a test).

    .venv/bin/python bench/nochange.py --rows 10000 --reruns 3

In a fresh temporary store it writes the demo's churn table (``shipyard data demo --rows N``),
then times, as separate processes and by wall clock, the cold ``shipyard run training`` (the whole
pipeline under kfp.local: trains, registers v1, releases it) and ``--reruns`` identical re-runs,
which must end with status ``unchanged`` and register nothing. It prints each run, the ratio of
the median re-run to the cold run (target: at most 0.15) and ``shipyard --help`` as the floor of
any command (interpreter start and CLI imports).

The code version is pinned with ``SHIPYARD_CODE_VERSION`` (default ``bench-nochange``): a git
checkout with uncommitted changes is ``-dirty``, which never counts as unchanged, so without the
pin a developer's tree would measure two cold runs. Every run pays its own process start, as a
user's would; on a shared machine the load (printed) moves both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the training table (default 10000)")
    parser.add_argument("--reruns", type=int, default=3, help="identical re-runs after the cold run (default 3)")
    parser.add_argument("--code-version", default=os.environ.get("SHIPYARD_CODE_VERSION") or "bench-nochange")
    args = parser.parse_args()

    env = {**os.environ, "SHIPYARD_CODE_VERSION": args.code_version}
    rows: list[tuple[str, float, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-nochange-") as tmp:
        data, store = Path(tmp) / "churn.csv", Path(tmp) / "store"
        made = subprocess.run(
            [SHIPYARD, "data", "demo", "--out", str(data), "--rows", str(args.rows), "--seed", "0"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode:
            sys.exit(f"could not write the table: {made.stderr.strip()}")
        run = [SHIPYARD, "run", "training", "--data", str(data), "--target", "churned", "--model", "bench"]
        run += ["--store", str(store), "--json"]

        help_seconds, _ = timed([SHIPYARD, "--help"], env)
        load_before = load_average()
        for label in ["cold"] + [f"re-run {i}" for i in range(1, args.reruns + 1)]:
            seconds, done = timed(run, env)
            try:
                summary = json.loads(done.stdout)
            except ValueError:
                sys.exit(f"{label}: no JSON summary (exit {done.returncode}): {done.stderr.strip()[-500:]}")
            expected = "succeeded" if label == "cold" else "unchanged"
            if done.returncode or summary["status"] != expected or summary["version"] != 1:
                sys.exit(f"{label}: expected {expected} v1, got {summary['status']} v{summary['version']}")
            rows.append((label, seconds, summary["status"], f"v{summary['version']}"))
        load_after = load_average()
        versions = sorted(path.parent.name for path in (store / "models" / "bench").glob("*/metadata.json"))

    cold = rows[0][1]
    rerun = statistics.median(seconds for _, seconds, _, _ in rows[1:])
    print(f"no-change re-run vs cold run: {args.rows} rows, SHIPYARD_CODE_VERSION={args.code_version}")
    print(f"{'run':<12}{'seconds':>9}  {'status':<10}version")
    for label, seconds, status, version in rows:
        print(f"{label:<12}{seconds:>9.2f}  {status:<10}{version}")
    print(f"{'--help':<12}{help_seconds:>9.2f}  (start-up floor of any command)")
    print(f"ratio median re-run / cold: {rerun / cold:.3f}  (target <= 0.15)")
    print(f"versions registered: {', '.join(versions)}  (re-runs must add none)")
    print(f"load average (1, 5, 15 min): before {load_before}; after {load_after}")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print("each run: " + shlex.join(["shipyard", *run[1:]]).replace(tmp, "$TMP"))


if __name__ == "__main__":
    main()
