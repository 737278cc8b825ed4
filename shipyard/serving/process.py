"""`shipyard serve` as a child process: started for one pinned version, ready, then stopped.

The pipeline's smoke test runs this on a laptop or in its pod: the version under test is served by
the same server code `shipyard serve` and the KServe runtime use, and the test talks to it over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.serving import client

#: Seconds a stopped server gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0


class ServerStartError(ShipyardError):
    """The server exited or did not become ready in time; the message ends with its last log lines."""


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def served_version(store_uri: str, model_name: str, version: int, *, timeout: float = 180.0) -> Iterator[str]:
    """Runs ``shipyard serve MODEL --version VERSION --port 0`` on 127.0.0.1 and yields its base URL once ready.

    Its traffic is not logged (``--no-log-traffic``): the smoke test's requests are not production traffic.

    The server is stopped (SIGTERM, then SIGKILL) when the block ends, whatever happened in it.

    Raises:
        ServerStartError: the server exited (say, the version does not load) or was not ready
            within ``timeout`` seconds.
    """
    arguments = [model_name, "--version", str(version), "--store", store_uri, "--no-log-traffic"]
    with serve_process(arguments, timeout=timeout) as url:
        yield url


@contextlib.contextmanager
def serve_process(arguments: list[str], *, timeout: float = 180.0, log_dir: Path | None = None) -> Iterator[str]:
    """Runs ``shipyard serve ARGUMENTS --host 127.0.0.1 --port 0 --json`` and yields its base URL once ready.

    ``log_dir``: where the server's stderr goes (``serve.log``); a temporary directory if None.
    The server is stopped (SIGTERM, then SIGKILL) when the block ends, whatever happened in it.

    Raises:
        ServerStartError: the server exited or was not ready within ``timeout`` seconds.
    """
    command = [sys.executable, "-m", "shipyard.cli.main", "serve", *arguments]
    command += ["--host", "127.0.0.1", "--port", "0", "--json"]
    with contextlib.ExitStack() as stack:
        directory = log_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shipyard-serve-")))
        log = directory / "serve.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the ready line must not wait in a buffer
            )
        try:
            yield _wait_ready(process, log, timeout)
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The URL from the server's ``--json`` ready line, once ``/v2/health/ready`` also says so."""
    announced: list[str] = []

    def read_stdout() -> None:  # a thread: reading a pipe blocks
        assert process.stdout is not None
        pending = b""
        for line in process.stdout:  # --json prints an indented object: complete once it parses
            pending += line
            try:
                document = json.loads(pending)
            except ValueError:
                continue
            pending = b""
            url = document.get("url") if isinstance(document, dict) else None
            if isinstance(url, str):
                announced.append(url)

    threading.Thread(target=read_stdout, name="serve-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if announced and client.ready(announced[0], timeout=5.0):
            return announced[0]
        if process.poll() is not None:
            raise ServerStartError(f"shipyard serve exited with status {process.returncode}:\n{_tail(log)}")
        time.sleep(0.1)
    raise ServerStartError(f"shipyard serve was not ready within {timeout:g} s:\n{_tail(log)}")
