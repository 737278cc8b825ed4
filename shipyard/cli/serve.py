"""`shipyard serve`: a registry model (or every segment's model) over HTTP, V1 and V2, following an alias."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shipyard.cli._common import (
    CliError,
    emit_json,
    existing_store,
    fail,
    json_option,
    read_config_file,
    reports_errors,
    status,
    store_option,
)
from shipyard.vocabulary import PRODUCTION

if TYPE_CHECKING:
    from shipyard.config import TrafficSettings
    from shipyard.serving.traffic_log import TrafficLogger
    from shipyard.store.base import ObjectStore
    from shipyard.store.registry import ModelRegistry, ModelVersion


@click.command("serve")
@click.argument("name", required=False)
@click.option("--alias", default=None, help=f"Alias to serve and follow.  [default: {PRODUCTION}]")
@click.option(
    "--version",
    "pinned",
    type=click.IntRange(min=1),
    default=None,
    help="Serve this version and follow no alias (the pipeline's smoke test serves the version under test so).",
)
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--poll-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between checks of the alias; a promote or rollback is served after the next check.",
)
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve the one registry version in this directory (models/NAME/VERSION/ as KServe's storage "
    "initializer downloads it to /mnt/models) instead of following an alias; NAME is then optional.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML merged over the built-in config; its traffic: section says what is logged.",
)
@click.option(
    "--log-traffic/--no-log-traffic",
    "log_traffic",
    default=None,
    help="Log answered requests to the store the model is served from.  [default: config traffic.enabled, "
    "true; SHIPYARD_TRAFFIC_LOG=off turns it off]",
)
@json_option
@reports_errors
def serve(
    name: str | None,
    alias: str | None,
    pinned: int | None,
    store: str,
    host: str,
    port: int,
    poll_interval: float,
    model_dir: Path | None,
    config_path: Path | None,
    log_traffic: bool | None,
    as_json: bool,
) -> None:
    """Serve the version an alias points at, and follow the alias without restarting.

    Speaks KServe's protocols through KServe's own model server: Open Inference Protocol V2
    (/v2/models/NAME/infer, /v2/health/ready) and V1 (/v1/models/NAME:predict). The model file is
    checked against its registered sha256 before it is loaded. /v2/health/ready is false until
    the model is in memory. After `shipyard models promote` or `rollback`, the new version is loaded
    in the background and answers within a few seconds; requests never fail during the swap.
    Stop with Ctrl-C (or SIGTERM).

    \b
    Examples:
      shipyard serve churn                        # production alias, http://127.0.0.1:8080
      shipyard serve churn --alias staging --port 8081
      shipyard serve churn --version 3 --port 0   # exactly v3, no alias; --port 0: any free port
      shipyard serve churn --store s3://mlpipeline/shipyard --host 0.0.0.0
    \b
      curl -s localhost:8080/v2/models/churn/infer -H 'Content-Type: application/json' -d '{
        "parameters": {"content_type": "pd"},
        "inputs": [
          {"name": "tenure_months", "datatype": "FP64", "shape": [2], "data": [3, null]},
          {"name": "plan", "datatype": "BYTES", "shape": [2], "data": ["basic", "pro"]}]}'
      curl -s localhost:8080/v1/models/churn:predict -d '{"instances": [{"tenure_months": 3, "plan": "basic"}]}'

    Every feature column must be sent (null for an unknown value); columns the model does not take
    are refused. The V2 response's model_version is the registry version that answered. Prediction
    runs on one OpenMP thread (OMP_NUM_THREADS=1 unless set): for the small requests a server gets,
    more threads only contend with other processes on a busy machine. With --json, a JSON object
    {"status": "serving", "url": ..., "version": ...} is printed once ready.

    A model with segments (trained with `shipyard run training --segment-by COLUMN`) has a model
    per segment and no versions of its own: `shipyard serve NAME` then serves every segment's model
    that has a version under the alias, each under its own name (/v2/models/NAME--SEGMENT/infer)
    following its own alias and logging its own traffic, and answers requests to NAME row by row
    with the model of each row's segment (the request must carry the segment column; a row of a
    segment not served refuses the whole request). Segments promoted later are served without a
    restart. /v2/health/ready is true once every served segment's model is loaded.

    \b
      shipyard serve churn                        # churn by region: churn--eu, churn--us, ...
      curl -s localhost:8080/v1/models/churn:predict -d '{"instances": [
        {"region": "eu", "tenure_months": 3, "plan": "basic"}, {"region": "us", "tenure_months": 9, "plan": "pro"}]}'

    With --model-dir it serves one downloaded version directory and follows nothing: this is how
    the `shipyard` KServe ServingRuntime (manifests/components/kserve) runs it on a cluster.

    \b
      shipyard serve --model-dir /mnt/models --host 0.0.0.0 --port 8080

    Traffic: every answered request is logged (the features the model saw, the version that
    answered, its predictions and probabilities) in batches under traffic/NAME/requests/ in the
    store the model is served from (with --model-dir: --store or SHIPYARD_STORE, else not logged).
    Logging never slows a request down on a store outage (rows wait in memory, then are dropped and
    counted) and never fails one. The config's traffic: section leaves columns out or hashes them;
    --no-log-traffic or SHIPYARD_TRAFFIC_LOG=off turns logging off.

    \b
      shipyard serve churn --config serve.yaml    # serve.yaml: traffic: {hash_columns: [email]}
      shipyard serve churn --no-log-traffic
    """
    # Before scikit-learn's OpenMP runtime loads: with every CPU busy elsewhere, OpenMP threads of
    # one small predict wait on each other (a 50-row hist_gradient_boosting request measured
    # 2.9 s with default threads and 0.2 s with one, under 2 x cores busy-loop processes).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from shipyard.config import load_config
    from shipyard.serving.traffic_log import logging_disabled_by_env
    from shipyard.store.registry import ModelRegistry

    traffic_settings = load_config(read_config_file(config_path)).traffic
    traffic_wanted = traffic_settings.enabled if log_traffic is None else log_traffic
    traffic_off_reason = None
    if not traffic_wanted:
        traffic_off_reason = "--no-log-traffic" if log_traffic is False else "config traffic.enabled: false"
    if traffic_wanted and logging_disabled_by_env():
        traffic_wanted, traffic_off_reason = False, "SHIPYARD_TRAFFIC_LOG=off"
    traffic_store: ObjectStore | None = None

    if alias is not None and pinned is not None:
        raise CliError("--alias and --version exclude each other: serve an alias (followed) or one version (pinned)")
    alias = alias or PRODUCTION
    entry: ModelVersion | None
    if model_dir is not None:
        if pinned is not None:
            raise CliError("--model-dir and --version exclude each other: the directory holds one version")
        from shipyard.serving.model_dir import open_version_dir

        registry, entry = open_version_dir(model_dir)
        if name is not None and name != entry.name:
            fail(f"{model_dir} holds model '{entry.name}' (version {entry.version}), not '{name}'")
        name, pinned = entry.name, entry.version
        if traffic_wanted:
            store_source = click.get_current_context().get_parameter_source("store")
            if store_source is click.core.ParameterSource.DEFAULT:
                traffic_wanted, traffic_off_reason = False, "no --store or SHIPYARD_STORE to log to"
            else:
                from shipyard.store import open_store

                # Not existing_store(): a store that is down at start must not keep the model from serving;
                # the traffic log keeps its rows and retries.
                traffic_store = open_store(store)
    elif name is None:
        raise CliError("name the model to serve (shipyard serve NAME), or give --model-dir")
    else:
        registry = ModelRegistry.from_uri(existing_store(store))
        if pinned is None and _has_segments(registry, name):
            if registry.latest_version(name) is not None:
                status(
                    f"note: model '{name}' has versions of its own and a model per segment; serving the segments "
                    f"(its own versions: serve one with --version)"
                )
            _serve_segments(
                registry,
                name,
                alias,
                host=host,
                port=port,
                poll_interval=poll_interval,
                traffic_settings=traffic_settings if traffic_wanted else None,
                traffic_off_reason=traffic_off_reason,
                as_json=as_json,
            )
            return
        if registry.latest_version(name) is None:
            if _has_segments(registry, name):  # only --version gets here
                raise CliError(
                    f"model '{name}' has a model per segment and no versions of its own: --version pins one "
                    f"version of one model; serve a segment's model by its name ({name}--SEGMENT), "
                    f"or serve '{name}' without --version to serve every segment"
                )
            known = registry.list_models()
            fail(
                f"model '{name}' is not in the registry at {registry.uri}; "
                + (f"its models are: {', '.join(known)}" if known else "it has no models yet")
            )
        entry = (
            registry.get_version(name, pinned)  # RegistryError naming the versions there are
            if pinned is not None
            else registry.resolve_alias(name, alias)
        )
        if entry is None:
            held = ", ".join(f"{a}=v{v}" for a, v in registry.aliases(name).items()) or "none"
            raise CliError(
                f"alias '{alias}' of model '{name}' points nowhere (its aliases: {held}); "
                f"point it at a version first: shipyard models promote {name} VERSION --alias {alias}"
            )
        traffic_store = registry.store if traffic_wanted else None

    sock, url = _listen(host, port)
    source = "pinned" if pinned is not None else f"alias {alias}"
    origin = model_dir or registry.uri
    status(f"shipyard serve: listening on {url}; loading '{name}' v{entry.version} ({source}) from {origin}")
    traffic_uri = None
    if traffic_store is not None:
        traffic_uri = traffic_store.uri_for(f"traffic/{name}/requests/")
        status(f"shipyard serve: logging traffic to {traffic_uri}")
    else:
        status(f"shipyard serve: not logging traffic ({traffic_off_reason})")

    from shipyard.serving.model import RegistryModel  # kserve: seconds to import, so only once all checks passed
    from shipyard.serving.server import serve_model

    def announce() -> None:
        served = model.served
        assert served is not None  # on_ready: loaded
        status(
            f"shipyard serve: '{name}' v{served.version} ({source}) ready at {url}  "
            f"V2: POST {url}/v2/models/{name}/infer  V1: POST {url}/v1/models/{name}:predict"
        )
        if as_json:
            emit_json(
                {
                    "status": "serving",
                    "url": url,
                    "model": name,
                    "alias": None if pinned is not None else alias,
                    "version": served.version,
                    "infer_url": f"{url}/v2/models/{name}/infer",
                    "traffic_log": traffic_uri,  # where answered requests are logged; null: not logged
                }
            )

    traffic = None if traffic_store is None else _traffic_logger(traffic_store, name, traffic_settings)
    model = RegistryModel(name, registry, alias, poll_interval=poll_interval, version=pinned, traffic=traffic)
    with sock:
        serve_model(model, sock, on_ready=announce)
    status("shipyard serve: stopped")


def _listen(host: str, port: int) -> tuple[socket.socket, str]:
    """The bound socket and its URL; a busy port or a bad address is one line on stderr."""
    from shipyard.serving.sockets import bind_socket

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is already in use; stop what holds it or pick another with --port")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound_port = int(sock.getsockname()[1])
    return sock, f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}"


def _has_segments(registry: ModelRegistry, name: str) -> bool:
    from shipyard.stages.segments import list_segments

    return list_segments(registry, name, limit=1).total > 0


def _serve_segments(
    registry: ModelRegistry,
    name: str,
    alias: str,
    *,
    host: str,
    port: int,
    poll_interval: float,
    traffic_settings: TrafficSettings | None,
    traffic_off_reason: str | None,
    as_json: bool,
) -> None:
    """Serves every segment of ``name`` with a version under ``alias``, each under its own name, and
    routes requests to ``name`` row by row to them by the segment column."""
    from shipyard.serving.segment_plan import plan_segment_serving
    from shipyard.stages.segments import SEPARATOR

    serving = plan_segment_serving(registry, name, alias)
    if not serving.served:
        (first, _), *_ = serving.unserved
        raise CliError(
            f"alias '{alias}' points nowhere in any of the {len(serving.unserved)} segment model(s) of model "
            f"'{name}' ({', '.join(entry.model for entry, _ in serving.unserved[:10])}); point it at a version "
            f"first: shipyard models promote {first.model} VERSION --alias {alias}"
        )
    sock, url = _listen(host, port)
    status(
        f"shipyard serve: listening on {url}; loading {len(serving.served)} segment model(s) of '{name}' "
        f"(alias {alias}, by column '{serving.column}') from {registry.uri}"
    )
    for entry, reason in serving.unserved:
        status(f"shipyard serve: segment {entry.segment!r} not served ({reason}); served once it has a version")
    traffic_uri = None
    if traffic_settings is not None:
        traffic_uri = registry.store.uri_for(f"traffic/{name}{SEPARATOR}*/requests/")
        status(f"shipyard serve: logging each segment model's traffic to {traffic_uri}")
    else:
        status(f"shipyard serve: not logging traffic ({traffic_off_reason})")

    from shipyard.serving.segments import SegmentedModel  # kserve: seconds to import, so only once all checks passed
    from shipyard.serving.server import serve_model

    def traffic_for(model: str) -> TrafficLogger | None:
        return None if traffic_settings is None else _traffic_logger(registry.store, model, traffic_settings)

    model = SegmentedModel(name, registry, alias, serving, poll_interval=poll_interval, traffic_for=traffic_for)

    def announce() -> None:
        segments = [
            {
                "segment": segment,
                "model": served_model.name,
                "version": served_model.served.version if served_model.served else None,
                "infer_url": f"{url}/v2/models/{served_model.name}/infer",
            }
            for segment, served_model in model.segments.items()
        ]
        versions = ", ".join(f"{s['model']} v{s['version']}" for s in segments[:10])
        more = f" and {len(segments) - 10} more" if len(segments) > 10 else ""
        status(
            f"shipyard serve: '{name}' ready at {url} with {len(segments)} segment model(s) ({versions}{more}; "
            f"alias {alias})  V2: POST {url}/v2/models/{name}/infer (each row answered by its '{serving.column}' "
            f"segment's model) or {url}/v2/models/{name}{SEPARATOR}SEGMENT/infer"
        )
        if as_json:
            emit_json(
                {
                    "status": "serving",
                    "url": url,
                    "model": name,
                    "alias": alias,
                    "version": None,  # each segment model has its own
                    "column": serving.column,
                    "infer_url": f"{url}/v2/models/{name}/infer",
                    "segments": segments,
                    "unserved": [
                        {"segment": entry.segment, "model": entry.model, "reason": reason}
                        for entry, reason in serving.unserved
                    ],
                    "traffic_log": traffic_uri,
                }
            )

    with sock:
        serve_model(model, sock, on_ready=announce)
    status("shipyard serve: stopped")


def _traffic_logger(store: ObjectStore, name: str, settings: TrafficSettings) -> TrafficLogger:
    from shipyard.serving.traffic_log import TrafficLogger

    return TrafficLogger(store, name, settings)
