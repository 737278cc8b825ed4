"""Benchmark: how long the `shipyard` command takes to start (not a test).

    .venv/bin/python bench/startup.py --runs 7

Times, as a user would see them, ``shipyard --help`` (target: at most 0.3 s) and ``shipyard compile``
(every pipeline compiled to IR YAML in a temporary directory), each ``--runs`` times in a fresh
process after one untimed warm-up run (so the page cache and ``__pycache__`` are warm), and prints
the median, the fastest and the slowest. ``-X importtime`` of the first run of each command is
summarised too: the top-level packages that cost the most to import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIPYARD = str(Path(sys.executable).parent / "shipyard")


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    begin = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-1000:]}")
    return seconds, done.stderr


def top_imports(stderr: str, count: int = 5) -> str:
    """The ``count`` costliest top-level imports in ``-X importtime`` output, as 'name 0.12s'."""
    top: list[tuple[float, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if len(name) - len(name.lstrip(" ")) == 1:  # one space: imported by the program itself
            top.append((int(cumulative) / 1e6, name.strip()))
    return ", ".join(f"{name} {seconds:.2f}s" for seconds, name in sorted(top, reverse=True)[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"command: {Path(sys.executable).name} bench/startup.py --runs {args.runs}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (nproc {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="shipyard-startup-") as tmp:
        commands = {
            "shipyard --help": [SHIPYARD, "--help"],
            "shipyard compile": [SHIPYARD, "compile", "--out", str(Path(tmp) / "compiled")],
        }
        print(
            f"\n{'command':<18} {'median s':>9} {'min s':>7} {'max s':>7}  slowest imports (first run, -X importtime)"
        )
        for label, command in commands.items():
            timed(command)  # warm-up
            seconds = [timed(command)[0] for _ in range(args.runs)]
            _, stderr = timed(command, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
            print(
                f"{label:<18} {statistics.median(seconds):>9.3f} {min(seconds):>7.3f} {max(seconds):>7.3f}  "
                + top_imports(stderr)
            )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
