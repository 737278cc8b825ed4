"""A headless Chromium driven over the DevTools protocol, for tests that look at a page as a person would.

Debian's ``chromium`` package (``apt-get install -y chromium``); tools that download their own
browser build cannot reach their download servers here. The protocol goes over one websocket
(``websocket-client``): no driver binary, and every wait is bounded by a deadline.

What the page did is recorded as it happens: uncaught exceptions, ``console.error`` calls, errors
the browser itself logs (a failed resource, a blocked script) and any JavaScript dialog
(``alert``/``confirm``/``prompt``), which is dismissed so the page cannot hang the test.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where Debian puts the browser; ``CHROMIUM`` in the environment overrides it.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The browser's executable, or None when none is installed."""
    override = os.environ.get("CHROMIUM")
    if override:
        return shutil.which(override)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLog:
    """What a page did besides drawing itself."""

    exceptions: list[str] = field(default_factory=list)  # uncaught exceptions and unhandled rejections
    console_errors: list[str] = field(default_factory=list)  # console.error / console.assert
    browser_errors: list[str] = field(default_factory=list)  # the browser's own error log (resources, CSP, ...)
    dialogs: list[str] = field(default_factory=list)  # "alert: 1", "confirm: ...", dismissed at once

    @property
    def errors(self) -> list[str]:
        return self.exceptions + self.console_errors + self.browser_errors


class DevToolsError(RuntimeError):
    """The browser could not be started, answered with an error, or did not answer in time."""


class Page:
    """One browser tab: navigate, evaluate JavaScript, take screenshots; events land in :attr:`log`."""

    def __init__(self, socket: Any, deadline: float) -> None:
        self._socket = socket
        self._deadline = deadline
        self._next_id = 0
        self.log = PageLog()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Sends one command and returns its result, handling the events that arrive meanwhile."""
        message_id = self._send(method, params)
        while True:
            message = self._receive()
            if message.get("id") == message_id:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self._on_event(message["method"], message.get("params", {}))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"evaluating {expression!r}: {_describe_exception(result['exceptionDetails'])}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Navigates to ``url`` and waits for its load event (scripts have run, drawing may go on)."""
        self.call("Page.navigate", url=url)
        while True:
            message = self._receive()
            if "method" not in message:
                continue
            self._on_event(message["method"], message.get("params", {}))
            if message["method"] == "Page.loadEventFired":
                return

    def wait_until(self, expression: str, *, timeout: float, poll: float = 0.2) -> None:
        """Polls a JavaScript condition until it is true; raises when ``timeout`` seconds pass first."""
        until = min(time.monotonic() + timeout, self._deadline)
        while not self.evaluate(f"Boolean({expression})"):
            if time.monotonic() >= until:
                shown = self.evaluate("document.body ? document.body.innerText.slice(0, 500) : ''")
                raise DevToolsError(
                    f"the page never satisfied {expression!r} within {timeout:g} s; it shows: {shown!r}"
                )
            time.sleep(poll)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Saves a PNG of the viewport (or the whole page) and returns its path."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def _send(self, method: str, params: dict[str, Any]) -> int:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DevToolsError("the browser session ran out of time")
        self._socket.settimeout(remaining)
        try:
            return dict(json.loads(self._socket.recv()))
        except Exception as error:  # websocket timeout or closed connection
            raise DevToolsError(f"no answer from the browser: {error!r}") from error

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            self.log.exceptions.append(_describe_exception(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            self.log.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.log.browser_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Page.javascriptDialogOpening":
            self.log.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            self._send("Page.handleJavaScriptDialog", {"accept": False})


def _describe_exception(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return str(exception.get("description") or details.get("text") or details)


@contextmanager
def chromium_page(
    executable: str, profile_dir: Path, *, timeout: float = 60.0, width: int = 1280, height: int = 1600
) -> Iterator[Page]:
    """Starts headless Chromium with a fresh profile and yields its first tab; everything within ``timeout`` s.

    The browser has no network access to give (``--proxy-server`` points nowhere), so a page that
    tries to load anything from outside logs a browser error instead of quietly depending on it.
    """
    import websocket  # websocket-client

    deadline = time.monotonic() + timeout
    profile_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = profile_dir / "chromium-stderr.log"
    command = [
        executable,
        "--headless",
        "--no-sandbox",  # root in a container: the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--proxy-server=127.0.0.1:9",  # discard port: nothing outside the page's own file loads
        f"--window-size={width},{height}",
        f"--user-data-dir={profile_dir}",
        "--remote-debugging-port=0",  # the browser picks a free port and writes it to DevToolsActivePort
        "about:blank",
    ]
    (profile_dir / "DevToolsActivePort").unlink(missing_ok=True)  # a previous browser's port would mislead us
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    socket = None
    try:
        port = _devtools_port(profile_dir / "DevToolsActivePort", process, stderr_path, deadline)
        socket = websocket.create_connection(
            _page_socket_url(port, deadline),
            timeout=max(deadline - time.monotonic(), 0.1),
            suppress_origin=True,
            http_no_proxy=["127.0.0.1"],
        )
        page = Page(socket, deadline)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        yield page
    finally:
        if socket is not None:
            socket.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _devtools_port(marker: Path, process: subprocess.Popen[bytes], stderr_path: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevToolsError(f"chromium exited with {process.returncode}: {stderr_path.read_text(errors='replace')}")
        try:
            first_line = marker.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            time.sleep(0.05)
            continue
        return int(first_line)
    raise DevToolsError(f"chromium did not open its DevTools port in time: {stderr_path.read_text(errors='replace')}")


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy


def _page_socket_url(port: int, deadline: float) -> str:
    targets: Any = "no answer"
    while time.monotonic() < deadline:
        try:
            with _LOCAL.open(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                targets = json.load(response)
        except OSError as error:  # the port is announced a moment before it answers
            targets = repr(error)
        else:
            pages = [t for t in targets if t.get("type") == "page" and "webSocketDebuggerUrl" in t]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.05)
    raise DevToolsError(f"chromium opened no tab in time: {targets}")
