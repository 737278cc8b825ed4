"""Runs a RegistryModel in KServe's model server on a socket we bound ourselves.

KServe's ``ModelServer.start()`` listens on 0.0.0.0, starts gRPC on 8081 and returns only once a
model is ready. Here the REST application is KServe's own (same endpoints, error handlers and
DataPlane), but: the socket is bound by the caller (so ``--host`` is honoured and a busy port is
reported before anything slow happens), the model loads after the server listens (so
``/v2/health/ready`` answers false until it is in memory, as a Kubernetes readiness probe expects),
and SIGINT/SIGTERM stop it gracefully.
"""

from __future__ import annotations

import copy
import logging
import signal
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.serving._kserve import (
    FASTAPI_APP_IMPORT_STRING,
    KSERVE_LOG_CONFIG,
    DataPlane,
    RESTServer,
    configure_logging,
    kserve,
)
from shipyard.serving.model import ModelLoadError, RegistryModel

if TYPE_CHECKING:
    from shipyard.serving.segments import SegmentedModel

log = logging.getLogger("shipyard.serving")

#: Seconds in-flight requests get to finish after SIGINT/SIGTERM.
GRACE_PERIOD_SECONDS = 5


class LoadedModelsDataPlane(DataPlane):  # type: ignore[misc]  # untyped kserve
    """KServe's DataPlane, except the server is ready only when every registered model is.

    KServe's own ``ready()`` is always true for a predictor, because ``ModelServer.start()`` does not
    listen until the models are loaded; here the server listens first.
    """

    async def ready(self) -> bool:
        models = list(self.model_registry.get_models().values())
        if not models or not all([await model.healthy() for model in models]):
            return False
        return bool(await super().ready())


def _configure_logging() -> None:
    """KServe's log format, with the access log on stderr (stdout is kept for ``--json``)."""
    config: dict[str, Any] = copy.deepcopy(KSERVE_LOG_CONFIG)
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    config["loggers"]["shipyard"] = {"handlers": ["kserve"], "level": "INFO", "propagate": False}
    configure_logging(config)


def serve_model(
    model: RegistryModel | SegmentedModel,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None] | None = None,
    grace_period: int = GRACE_PERIOD_SECONDS,
) -> None:
    """Serves ``model`` on ``sock`` until SIGINT or SIGTERM, then returns.

    The model loads in a background thread once the server listens; ``on_ready`` is called once
    it is loaded (``model.served`` says which version), then the model starts following its alias.
    A SegmentedModel is served under its name and each segment's model under its own; a segment
    added while serving is registered under its name as it is loaded.

    Raises:
        ModelLoadError: the first version (of any segment) could not be loaded (the server stops).
    """
    import warnings

    import uvicorn

    _configure_logging()
    # kserve answers with FastAPI's ORJSONResponse, deprecated in the FastAPI we pin: the warning is
    # kserve's to fix, not the user's, and came once per request on stderr.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    repository = kserve.ModelRepository()
    port = int(sock.getsockname()[1])
    server = kserve.ModelServer(
        http_port=port, enable_grpc=False, workers=1, registered_models=repository, grace_period=grace_period
    )
    server.dataplane = LoadedModelsDataPlane(model_registry=repository)
    for served_model in model.models():
        server.register_model(served_model)
    if not isinstance(model, RegistryModel):
        model.on_added = server.register_model
        model.on_removed = repository.unload
    rest = RESTServer(
        FASTAPI_APP_IMPORT_STRING,
        server.dataplane,
        server.model_repository_extension,
        port,
        grace_period=grace_period,
    )
    rest.create_application()
    http = uvicorn.Server(rest.config)

    failures: list[ModelLoadError] = []

    def load_then_follow() -> None:
        try:
            model.load()
        except ModelLoadError as exc:
            failures.append(exc)
            http.should_exit = True
            return
        except Exception as exc:  # noqa: BLE001 - anything else that stops loading also stops the server
            failures.append(ModelLoadError(f"model '{model.name}' could not be loaded: {type(exc).__name__}: {exc}"))
            http.should_exit = True
            return
        if on_ready is not None:
            on_ready()
        model.start_following()

    # uvicorn catches SIGINT/SIGTERM for a graceful stop, then re-raises them once it has stopped;
    # these no-op handlers receive that re-raise, so the command ends normally instead of dying.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    loader = threading.Thread(target=load_then_follow, name="load-model", daemon=True)
    try:
        loader.start()
        http.run(sockets=[sock])
    finally:
        model.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failures:
        raise failures[0]
