"""Benchmark: a segmented training run of 20 segments against a single-model run (not a test).

    .venv/bin/python bench/segments.py --segments 20 --rows-per-segment 500

In a fresh temporary store it writes the demo's churn table with ``--segments`` × ``--rows-per-segment``
rows and a ``segment`` column, then times, as separate processes and by wall clock:

- ``single``: ``shipyard run training`` on the whole table, one model (the pipeline's ten tasks);
- ``segmented``: ``shipyard run training --segment-by segment`` on the same table, one model per
  segment, each validated, trained, gated, registered, smoke tested and promoted.

It prints both, their ratio (target: at most 4) and the time per segment. Each segment's branch
is one process that imports the stack once, trains, and starts a real ``shipyard serve`` for its
smoke test; kfp.local runs at most two branches at once (its ParallelExecutor caps workers at 2),
which on 2 cores is also the most that helps. The load average (printed) moves both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    try:
        summary = json.loads(done.stdout)
    except ValueError:
        sys.exit(f"{shlex.join(command)} printed no JSON (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--rows-per-segment", type=int, default=500)
    args = parser.parse_args()

    import pandas as pd

    from shipyard.data.synthetic import make_demo_dataset

    env = {**os.environ, "SHIPYARD_CODE_VERSION": "bench-segments"}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-segments-") as tmp:
        data = Path(tmp) / "churn.csv"
        parts = [
            make_demo_dataset(args.rows_per_segment, seed=seed).assign(segment=f"s{seed:02d}")
            for seed in range(args.segments)
        ]
        pd.concat(parts).to_csv(data, index=False)
        base = [SHIPYARD, "run", "training", "--data", str(data), "--target", "churned", "--json"]
        single_s, single = timed([*base, "--model", "one", "--store", str(Path(tmp) / "single")], env)
        assert single["status"] == "succeeded", single
        segmented_s, segmented = timed(
            [*base, "--model", "many", "--segment-by", "segment", "--store", str(Path(tmp) / "segmented")], env
        )
        totals = segmented["totals"]
        assert segmented["status"] == "succeeded" and totals["promoted"] == args.segments, totals
    rows = args.segments * args.rows_per_segment
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"table: {rows} rows, {args.segments} segments of {args.rows_per_segment}; cpus {os.cpu_count()}")
    print(f"load average before/after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"single model run:       {single_s:7.1f} s")
    print(f"segmented run:          {segmented_s:7.1f} s  ({totals['promoted']} segments promoted)")
    print(f"per segment:            {segmented_s / args.segments:7.1f} s")
    print(f"ratio segmented/single: {segmented_s / single_s:7.2f}  (target <= 4)")


if __name__ == "__main__":
    main()
