"""A model whose load raises something other than ModelLoadError stops the server with a clear error.

Before, the loader thread died with the exception, the server kept listening and never became
ready, so a smoke test waited out its whole start timeout (180 s by default).
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from shipyard.serving.model import ModelLoadError, RegistryModel
from shipyard.serving.server import serve_model
from shipyard.serving.sockets import bind_socket
from shipyard.store.registry import ModelRegistry


class _Unloadable(RegistryModel):
    def load(self) -> bool:
        raise RuntimeError("the pickle needs a module this image lacks")


def test_an_unexpected_load_error_stops_the_server_with_a_model_load_error(tmp_path):
    """serve_model runs in the main thread (it installs signal handlers); a timer sends SIGINT after
    30 s so that, without the fix, the test ends (failing: no error raised) instead of hanging."""
    model = _Unloadable("churn", ModelRegistry.from_uri(str(tmp_path / "store")), "production")
    sock = bind_socket("127.0.0.1", 0)
    watchdog = threading.Timer(30, lambda: os.kill(os.getpid(), signal.SIGINT))
    watchdog.start()
    try:
        with sock, pytest.raises(ModelLoadError, match="RuntimeError: the pickle needs a module this image lacks"):
            serve_model(model, sock, grace_period=1)
    finally:
        watchdog.cancel()
