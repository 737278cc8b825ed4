"""Benchmark: how long `shipyard run training` takes to reject a bad file (not a test).

    .venv/bin/python bench/bad_file_rejection.py [--cli OTHER/.venv/bin/shipyard ...]

Writes an empty, a binary, a ragged and a semicolon-separated file, runs `run training` on each
in a fresh store with every CLI given (default: this checkout's), and prints the wall-clock
seconds, the exit status and how many times ingest reported failure. Passing another checkout's
CLI (say, before a change) measures both in one run, alternating per file, so load on a shared
machine hits both alike; note `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAD_FILES = {
    "empty.csv": b"",
    "binary.csv": bytes(range(256)) * 8,
    "ragged.csv": b"a,b,y\n1,2,0\n3,4\n5,6,7,8,9\n",
    "semicolons.csv": b"a;b;y\n1;2;0\n3;4;1\n",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", action="append", help="a shipyard executable (repeatable)")
    args = parser.parse_args()
    clis = args.cli or [str(Path(sys.executable).parent / "shipyard")]
    with tempfile.TemporaryDirectory(prefix="bench-bad-file-") as tmp:
        work = Path(tmp)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'file':<16} {'cli':<45} {'seconds':>8} {'exit':>5} {'[failure] ingest':>17}")
        for name, content in BAD_FILES.items():
            data = work / name
            data.write_bytes(content)
            for number, cli in enumerate(clis):
                store = work / f"store-{number}-{name}"
                started = time.monotonic()
                done = subprocess.run(
                    [cli, "run", "training", "--data", str(data), "--target", "y", "--store", str(store)],
                    capture_output=True,
                    text=True,
                )
                seconds = time.monotonic() - started
                failures = done.stderr.count("[failure] ingest")
                print(f"{name:<16} {cli:<45} {seconds:>8.2f} {done.returncode:>5} {failures:>17}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    main()
