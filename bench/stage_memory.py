"""Benchmark: each stage's peak memory and CPU time under kfp.local (not a test).

    .venv/bin/python bench/stage_memory.py --rows 2000 20000

For each N it runs ``shipyard demo --rows N`` (training on N rows, then monitoring an N-row
shifted period with alert and retrain, so every component runs) in a fresh store, and samples
``/proc`` every 20 ms for the executor processes kfp.local starts. Per component it reports the
highest ``VmHWM`` (peak resident set of the executor's Python process, imports included) and the
most CPU seconds one task used. These numbers choose the defaults in
``shipyard/defaults/resources.yaml``.

Limits of the method: a process that grows in its last 20 ms is under-read by that much; the
``sh`` wrapper kfp starts around each executor (a few MB) is not counted; a pod also holds the
KFP launcher, which the container's limit covers too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _executor_processes() -> dict[int, tuple[str, int, float]]:
    """pid → (component function, VmHWM in KiB, CPU seconds) for every live kfp executor."""
    found: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"kfp.dsl.executor_main" not in argv or b"--function_to_execute" not in argv:
                continue
            function = argv[argv.index(b"--function_to_execute") + 1].decode()
            status = Path(f"/proc/{entry}/status").read_text()
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue  # the process ended between listing and reading
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        cpu = (int(stat[11]) + int(stat[12])) / _CLK_TCK  # utime + stime
        found[int(entry)] = (function, hwm, cpu)
    return found


def measure(rows: int) -> dict[str, tuple[int, float, int]]:
    """Component → (peak MiB, max CPU seconds of one task, tasks seen) over one demo run."""
    peaks: dict[str, tuple[int, float, int]] = {}
    seen: set[tuple[str, int]] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid, (function, hwm, cpu) in _executor_processes().items():
                mib, secs, count = peaks.get(function, (0, 0.0, 0))
                if (function, pid) not in seen:
                    seen.add((function, pid))
                    count += 1
                peaks[function] = (max(mib, hwm // 1024), max(secs, cpu), count)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as store:
        shipyard = Path(sys.executable).with_name("shipyard")
        subprocess.run(
            [str(shipyard), "demo", "--rows", str(rows), "--store", store, "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "SHIPYARD_ALERT_WEBHOOK_URL": ""},
        )
    done.set()
    sampler.join()
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    results = {rows: measure(rows) for rows in args.rows}
    functions = sorted({f for r in results.values() for f in r})
    header = "component".ljust(24) + "".join(f"{f'{rows} rows: MiB / CPU s':>26}" for rows in args.rows)
    print(header)
    for function in functions:
        cells = ""
        for rows in args.rows:
            mib, secs, _ = results[rows].get(function, (0, 0.0, 0))
            cells += f"{f'{mib} / {secs:.1f}':>26}"
        print(function.ljust(24) + cells)


if __name__ == "__main__":
    main()
