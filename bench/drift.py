"""Benchmark: the drift stage against Evidently's DataDriftPreset on the same frames (not a test).

    .venv/bin/python bench/drift.py --rows 100000 1000000

For each N, reference and current have N rows and 20 columns (16 numeric, 4 categorical; a few
shifted so both verdicts occur). Each side runs in its own fresh subprocess that builds the same
frames from the same seed, imports what it needs, then is timed:

- ``stage``: :func:`shipyard.stages.drift.detect_drift` on all rows, plus what the drift stage
  writes: the Evidently HTML/JSON report from the bounded sample, the Markdown and the verdict JSON;
- ``evidently``: ``Report([DataDriftPreset(...)]).run(...)`` on all rows and reading its verdicts
  (no HTML rendering, which would only add to Evidently's time).

Memory is the process's peak resident set: ``total`` is ``ru_maxrss`` over the whole process (frames
included, the same for both sides); ``compute`` is the high-water mark after it was reset
(``/proc/self/clear_refs``) once the frames were built, minus the resident set at that moment.
Ratios are computed within one run of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_NUMERIC = 16
N_CATEGORICAL = 4
SHIFTED_NUMERIC = (0, 1, 2)  # columns whose current distribution moves
SHIFTED_CATEGORICAL = (0,)


def make_frames(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Reference and current with ``rows`` rows each; categoricals as object columns, like read_csv gives."""
    rng = np.random.default_rng(seed)
    levels = np.array(["alpha", "beta", "gamma", "delta", "epsilon"], dtype=object)

    def frame(current: bool) -> pd.DataFrame:
        columns: dict[str, object] = {}
        for i in range(N_NUMERIC):
            shift = 0.3 if current and i in SHIFTED_NUMERIC else 0.0
            values = rng.gamma(2.0 + i % 3, 1.0 + shift, rows) if i % 2 else rng.normal(shift, 1.0, rows)
            if i % 5 == 4:
                values[rng.random(rows) < 0.02] = np.nan
            columns[f"num_{i:02d}"] = values
        for j in range(N_CATEGORICAL):
            p = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
            if current and j in SHIFTED_CATEGORICAL:
                p = p[::-1]
            columns[f"cat_{j}"] = levels[rng.choice(len(levels), rows, p=p)]
        return pd.DataFrame(columns)

    reference, current = frame(False), frame(True)
    kinds = {name: ("categorical" if name.startswith("cat_") else "numeric") for name in reference.columns}
    return reference, current, kinds


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(side: str, rows: int, seed: int) -> dict[str, object]:
    """Runs one side in this process and returns its timings, memory and verdicts."""
    t0 = time.perf_counter()
    import evidently  # noqa: F401  (both sides pay the import before the clock starts)

    from shipyard.adapters.evidently_report import evidently_verdicts, write_drift_report
    from shipyard.stages.drift import detect_drift

    import_s = time.perf_counter() - t0
    reference, current, kinds = make_frames(rows, seed)
    baseline_kib = _rss_kib("VmRSS")
    reset = _reset_high_water_mark()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if side == "stage":
        result = detect_drift(reference, current, kinds)
        timings["verdicts_s"] = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as out:
            write_drift_report(reference, current, result, kinds, Path(out, "drift.html"), Path(out, "drift.json"))
            Path(out, "drift.md").write_text(result.to_markdown())
            Path(out, "verdict.json").write_text(json.dumps(result.to_dict()))
        timings["report_s"] = time.perf_counter() - start - timings["verdicts_s"]
    else:
        result = evidently_verdicts(reference, current, kinds)
    timings["total_s"] = time.perf_counter() - start
    peak_kib = _rss_kib("VmHWM")
    return {
        "side": side,
        "rows": rows,
        "import_s": import_s,
        **timings,
        "peak_total_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_compute_mib": (peak_kib - baseline_kib) / 1024 if reset else None,
        "frames_rss_mib": baseline_kib / 1024,
        "dataset_drift": result.dataset_drift,
        "columns": [[c.column, c.method_label, c.drifted, c.score] for c in result.columns],
    }


def run_side(side: str, rows: int, seed: int) -> dict[str, object]:
    command = [sys.executable, __file__, "--worker", side, "--rows", str(rows), "--seed", str(seed)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000], help="rows per side (several allowed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=["stage", "evidently"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows[0], args.seed)))
        return

    command = " ".join([".venv/bin/python", "bench/drift.py", *sys.argv[1:]])
    print(f"$ {command}")
    print(
        f"# {os.cpu_count()} CPUs, python {sys.version.split()[0]}, {N_NUMERIC} numeric + {N_CATEGORICAL} categorical"
    )
    header = (
        f"{'rows/side':>10} | {'side':<9} | {'time s':>8} | {'(verdicts':>9} | {'report)':>8} | "
        f"{'peak MiB':>8} | {'compute MiB':>11} | {'drift':>5}"
    )
    summary = []
    for rows in args.rows:
        stage = run_side("stage", rows, args.seed)
        evidently = run_side("evidently", rows, args.seed)
        print(header)
        print("-" * len(header))
        for res in (stage, evidently):
            compute = "n/a" if res["peak_compute_mib"] is None else f"{res['peak_compute_mib']:.0f}"
            verdicts, report = (f"{res.get(key, float('nan')):.2f}" for key in ("verdicts_s", "report_s"))
            print(
                f"{rows:>10,} | {res['side']:<9} | {res['total_s']:>8.2f} | {verdicts:>9} | {report:>8} | "
                f"{res['peak_total_mib']:>8.0f} | {compute:>11} | {str(res['dataset_drift']):>5}"
            )
        agree = sum(
            mine[1] == theirs[1] and mine[2] == theirs[2]
            for mine, theirs in zip(stage["columns"], evidently["columns"], strict=True)
        )
        worst = max(
            abs(mine[3] - theirs[3]) / max(abs(theirs[3]), 1e-12)
            for mine, theirs in zip(stage["columns"], evidently["columns"], strict=True)
        )
        speedup = evidently["total_s"] / stage["total_s"]
        memory = stage["peak_total_mib"] / evidently["peak_total_mib"]
        compute_memory = (
            stage["peak_compute_mib"] / evidently["peak_compute_mib"]
            if stage["peak_compute_mib"] is not None and evidently["peak_compute_mib"]
            else None
        )
        drifted = sum(1 for column in stage["columns"] if column[2])
        line = (
            f"{rows:,} rows: stage {speedup:.1f}x faster than Evidently; peak memory {memory:.2f}x of Evidently's"
            + (f" (compute-only {compute_memory:.2f}x)" if compute_memory is not None else "")
            + f"; verdicts agree on {agree}/{len(stage['columns'])} columns ({drifted} drifted), "
            f"dataset verdict {'agrees' if stage['dataset_drift'] == evidently['dataset_drift'] else 'DIFFERS'}, "
            f"max relative score difference {worst:.1e}; imports {stage['import_s']:.1f}s, not timed"
        )
        summary.append(line)
        print(line)
        print()


if __name__ == "__main__":
    main()
