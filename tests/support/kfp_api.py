"""A local stand-in of the Kubeflow Pipelines v2beta1 REST API, for tests of code that uses ``kfp.Client``.

No KFP API server can run on our machines (no Kubernetes, no MySQL), so this is a real HTTP server on
127.0.0.1 that speaks the same JSON-over-HTTP protocol as KFP's gRPC gateway for the endpoints shipyard
calls. ``kfp.Client(host=stand_in.url)`` talks to it unchanged.

What it does, like the real server (checked against kubeflow/pipelines ``backend/src/apiserver``):

- pipelines and pipeline versions, including the multipart upload endpoints
  ``/apis/v2beta1/pipelines/upload`` and ``/apis/v2beta1/pipelines/upload_version`` (name from ``name``,
  else ``display_name``, else the file name); experiments (a ``Default`` one exists from the start, as
  in a single-user install); runs (create/get/list; new runs are PENDING and a test sets or scripts
  their state); recurring runs (create/get/list/delete/enable/disable — there is no update endpoint:
  a recurring run is immutable, so PATCH/PUT are refused with 405);
- ids are random UUIDs; unknown ids answer 404; duplicate names answer 409 where the real database
  has a unique index: pipeline name (per namespace), version name (per pipeline), experiment name (per
  namespace). Runs and recurring runs may share names, as on the real server. ``upload_version`` to an
  unknown pipeline id answers 400, as the real upload server does;
- recurring runs: ``max_concurrency`` must be 1..10, an interval at least 1 s, the cron expression
  robfig/cron-shaped (6 fields, seconds first; the day-of-week may be omitted; or a ``@`` descriptor),
  a missing mode means disabled;
- list endpoints: ``page_size`` / ``page_token`` paging (opaque tokens), ``sort_by`` (``"field"`` or
  ``"field desc"``), ``experiment_id`` for runs and recurring runs, and ``filter`` predicates with
  EQUALS / NOT_EQUALS / IN / IS_SUBSTRING on top-level string fields (others answer 400);
- optional bearer-token auth (:meth:`KfpApiStandIn.require_token`): no token 401, a wrong one 403.

Every request body is deserialized strictly with ``kfp_server_api``'s own models: an unknown field, a
value of the wrong type or a missing required field is answered with 400 AND recorded in
:attr:`KfpApiStandIn.protocol_errors`; the ``kfp_api`` fixture fails the test at teardown if any were
recorded (a test that sends malformed bodies on purpose takes them with ``take_protocol_errors()``).

What it does NOT check or do: namespaces and multi-user authorization (SubjectAccessReview), the
pipeline spec beyond "YAML with pipelineInfo.name", whether run parameters match the pipeline's inputs,
cron field values (only their shape), archiving, terminate/retry, run details and task lists, artifacts,
logs, the v1beta1 API, or anything that actually executes: runs change state only when a test says so.
Validation errors answer 400 where the real server sometimes answers 500 (an empty display name).
The gateway's exact error bodies are approximated as ``{"code", "message", "details"}``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import email.parser
import email.policy
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

API = "/apis/v2beta1"
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
RUN_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "SKIPPED", "FAILED", "CANCELING", "CANCELED", "PAUSED")

# gRPC status codes the gateway puts in error bodies.
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 500: 13}

# Fields the real server requires on create (it refuses the request without them). Dotted paths.
_REQUIRED = {
    "V2beta1Experiment": ("display_name",),
    "V2beta1Pipeline": ("name",),
    "V2beta1PipelineVersion": ("name", "pipeline_id"),
    "V2beta1Run": ("display_name",),
    "V2beta1RecurringRun": ("display_name", "trigger"),
}
# Fields the server assigns; a client that sends them is confused about the protocol.
_OUTPUT_ONLY = {
    "V2beta1Run": ("run_id", "created_at", "scheduled_at", "finished_at", "state", "state_history", "run_details"),
    "V2beta1RecurringRun": ("recurring_run_id", "created_at", "updated_at", "status"),
    "V2beta1Experiment": ("experiment_id", "created_at", "last_run_created_at"),
}
# proto int64 fields: protojson accepts a JSON number or a decimal string.
_INT64_FIELDS = {"max_concurrency", "interval_second"}


class ProtocolError(ValueError):
    """A request body that kfp_server_api's models do not describe."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_model(data: Any, type_name: str, where: str = "body") -> None:
    """Raises ProtocolError unless ``data`` (decoded JSON) is exactly a ``type_name`` of kfp_server_api.

    Unknown keys and wrongly typed values are errors (the generated client itself ignores unknown keys,
    so its own ``deserialize`` would hide them).
    """
    import kfp_server_api.models as models

    if data is None:
        return
    if type_name.startswith("list["):
        if not isinstance(data, list):
            raise ProtocolError(f"{where}: expected a list, got {type(data).__name__}")
        for index, item in enumerate(data):
            check_model(item, type_name[5:-1], f"{where}[{index}]")
        return
    if type_name.startswith("dict("):
        if not isinstance(data, dict):
            raise ProtocolError(f"{where}: expected an object, got {type(data).__name__}")
        value_type = type_name[5:-1].split(", ", 1)[1]
        for key, item in data.items():
            check_model(item, value_type, f"{where}.{key}")
        return
    simple: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "int": (int,),
        "bool": (bool,),
        "float": (int, float),
        "object": (dict, list, str, int, float, bool),
    }
    if type_name in simple:
        if isinstance(data, bool) and type_name in ("int", "float"):
            raise ProtocolError(f"{where}: expected {type_name}, got bool")
        if not isinstance(data, simple[type_name]):
            raise ProtocolError(f"{where}: expected {type_name}, got {type(data).__name__} {data!r}")
        return
    if type_name == "datetime":
        if not isinstance(data, str):
            raise ProtocolError(f"{where}: expected an RFC 3339 timestamp string, got {data!r}")
        try:
            dt.datetime.fromisoformat(data.replace("Z", "+00:00"))
        except ValueError:
            raise ProtocolError(f"{where}: not an RFC 3339 timestamp: {data!r}") from None
        return
    klass = getattr(models, type_name, None)
    if klass is None:
        raise ProtocolError(f"{where}: kfp_server_api has no model {type_name}")
    allowed = getattr(klass, "allowable_values", None)
    if allowed is not None:  # an enum
        if data not in allowed:
            raise ProtocolError(f"{where}: {data!r} is not one of {allowed}")
        return
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected a {type_name} object, got {type(data).__name__}")
    json_to_attr = {json_key: attr for attr, json_key in klass.attribute_map.items()}
    for key, value in data.items():
        if key not in json_to_attr:
            raise ProtocolError(f"{where}: unknown field {key!r} for {type_name}")
        attr_type = klass.openapi_types[json_to_attr[key]]
        if key in _INT64_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            continue
        if key in _INT64_FIELDS and isinstance(value, str) and not value.lstrip("-").isdigit():
            raise ProtocolError(f"{where}.{key}: not an integer: {value!r}")
        check_model(value, attr_type, f"{where}.{key}")


def parse_body(raw: bytes, type_name: str, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The JSON body as a dict after :func:`check_model`, the required fields present and no output-only ones."""
    import kfp_server_api

    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ProtocolError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"body: expected a {type_name} object, got {data!r}")
    check_model(data, type_name)
    for name in _OUTPUT_ONLY.get(type_name, ()):
        if data.get(name) not in (None, "", [], {}):
            raise ProtocolError(f"body: {name} is set by the server, not the client")
    for path in required if required is not None else _REQUIRED.get(type_name, ()):
        value: Any = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, "", {}):
            raise ProtocolError(f"body: required field {path!r} is missing")
    # And the generated client's own deserializer accepts it (the same code that reads server answers).
    client = kfp_server_api.ApiClient()
    client._ApiClient__deserialize(data, type_name)  # type: ignore[attr-defined]
    return data


def _validate_cron(expression: str) -> None:
    """robfig/cron v1 ``Parse`` shape: ``@descriptor`` or 5–6 fields, seconds first, day-of-week optional."""
    text = expression.strip()
    if text.startswith("@"):
        if text in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly") or (
            text.startswith("@every ") and text[7:].strip()
        ):
            return
        raise ApiError(400, f"Schedule cron is not a supported format: unrecognized descriptor {text!r}")
    fields = text.split()
    allowed = set("0123456789*/,-?LW#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    if len(fields) not in (5, 6) or any(not set(part) <= allowed for part in fields):
        raise ApiError(
            400,
            f"Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). "
            f"Expected 5 to 6 fields, found {len(fields)}: {text!r}",
        )


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]  # names lower-cased


@dataclass
class _State:
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    recurring_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripted_states: dict[str, list[str]] = field(default_factory=dict)  # run id → states still to come
    order: dict[str, int] = field(default_factory=dict)  # id → creation sequence (created_at tie-break)


class KfpApiStandIn:
    """The server, its state, and what a test may inspect or set. Start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = _State()
        self._sequence = 0
        self._token: str | None = None
        self._next_run_states: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.protocol_errors: list[str] = []
        self.multi_user = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        default = self._add(
            "experiments",
            {
                "display_name": "Default",
                "description": "All runs created without specifying an experiment will be grouped here.",
                "namespace": "",
            },
            "experiment_id",
        )
        self.default_experiment_id: str = default["experiment_id"]

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, port: int = 0) -> KfpApiStandIn:
        stand_in = self

        class Handler(_Handler):
            api = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="kfp-api-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` — what ``kfp.Client(host=...)`` takes."""
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what a test sets ----------------------------------------------------------------------------
    def require_token(self, token: str | None) -> None:
        """From now on every request needs ``Authorization: Bearer <token>`` (None: no auth)."""
        self._token = token

    def set_run_state(self, run_id: str, state: str, error: str | None = None) -> None:
        """Moves a run to ``state`` (one of RUN_STATES), as the backend would when its workflow progresses."""
        with self._lock:
            run = self._get("runs", run_id, "Run")
            self._apply_state(run, state, error)
            self._state.scripted_states.pop(run_id, None)

    def script_run_states(self, *states: str) -> None:
        """Runs created from now on advance one state per GET of that run: e.g. RUNNING, RUNNING, SUCCEEDED."""
        for state in states:
            if state not in RUN_STATES:
                raise ValueError(f"unknown run state {state!r}; one of {RUN_STATES}")
        self._next_run_states = list(states)

    def trigger_recurring_run(self, recurring_run_id: str) -> dict[str, Any]:
        """Starts one run of a recurring run now, as its schedule would (the run carries ``recurring_run_id``)."""
        with self._lock:
            recurring_run = self._get("recurring_runs", recurring_run_id, "RecurringRun")
            copied = ("pipeline_version_reference", "pipeline_spec", "runtime_config", "service_account")
            run = {key: copy.deepcopy(recurring_run[key]) for key in copied if key in recurring_run}
            run.update(
                display_name=recurring_run["display_name"],
                experiment_id=recurring_run["experiment_id"],
                recurring_run_id=recurring_run_id,
                storage_state="AVAILABLE",
                scheduled_at=_now(),
            )
            run = self._add("runs", run, "run_id")
            self._apply_state(run, "PENDING")
            return copy.deepcopy(run)

    def take_protocol_errors(self) -> list[str]:
        """The malformed-request errors so far, clearing them (for tests that send them on purpose)."""
        with self._lock:
            errors, self.protocol_errors = self.protocol_errors, []
        return errors

    # -- what a test inspects (deep copies, in creation order) -----------------------------------------
    def pipelines(self) -> list[dict[str, Any]]:
        return self._all("pipelines")

    def pipeline_versions(self, pipeline_id: str | None = None) -> list[dict[str, Any]]:
        return [v for v in self._all("versions") if pipeline_id is None or v["pipeline_id"] == pipeline_id]

    def experiments(self) -> list[dict[str, Any]]:
        return self._all("experiments")

    def runs(self) -> list[dict[str, Any]]:
        return self._all("runs")

    def recurring_runs(self) -> list[dict[str, Any]]:
        return self._all("recurring_runs")

    def calls(self, method: str | None = None) -> list[str]:
        """``"POST /apis/v2beta1/runs"``-style lines for the requests received (optionally one method)."""
        return [f"{r.method} {r.path}" for r in self.requests if method is None or r.method == method]

    # -- internals -------------------------------------------------------------------------------------
    def _all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            items = list(getattr(self._state, kind).values())
            return copy.deepcopy(items)

    def _add(self, kind: str, item: dict[str, Any], id_field: str) -> dict[str, Any]:
        with self._lock:
            item_id = str(uuid.uuid4())
            item[id_field] = item_id
            item.setdefault("created_at", _now())
            self._sequence += 1
            self._state.order[item_id] = self._sequence
            getattr(self._state, kind)[item_id] = item
            return item

    def _get(self, kind: str, item_id: str, label: str) -> dict[str, Any]:
        item: dict[str, Any] | None = getattr(self._state, kind).get(item_id)
        if item is None:
            raise ApiError(404, f"{label} {item_id} not found")
        return item

    def _apply_state(self, run: dict[str, Any], state: str, error: str | None = None) -> None:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}; one of {RUN_STATES}")
        now = _now()
        run["state"] = state
        run.setdefault("state_history", []).append({"update_time": now, "state": state})
        if state in TERMINAL_STATES:
            run["finished_at"] = now
        if error:
            run["error"] = {"code": 2, "message": error}

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


# The keys each list endpoint can filter and sort by (the real models' APIToModelFieldMap), mapped to the
# stand-in's JSON field; anything else answers 400 as on the real server ("Invalid sorting field").
_LIST_FIELDS = {
    "pipelines": {"pipeline_id": "pipeline_id", "name": "name", "display_name": "display_name",
                  "created_at": "created_at", "description": "description", "namespace": "namespace"},
    "pipeline_versions": {"pipeline_version_id": "pipeline_version_id", "name": "name",
                          "display_name": "display_name", "created_at": "created_at", "description": "description"},
    "experiments": {"experiment_id": "experiment_id", "name": "display_name", "display_name": "display_name",
                    "created_at": "created_at", "description": "description", "namespace": "namespace",
                    "storage_state": "storage_state"},
    "runs": {"run_id": "run_id", "display_name": "display_name", "name": "display_name", "created_at": "created_at",
             "finished_at": "finished_at", "description": "description", "scheduled_at": "scheduled_at",
             "storage_state": "storage_state", "experiment_id": "experiment_id", "state": "state",
             "recurring_run_id": "recurring_run_id"},
    "recurringRuns": {"recurring_run_id": "recurring_run_id", "name": "display_name", "display_name": "display_name",
                      "created_at": "created_at", "updated_at": "updated_at", "description": "description"},
}  # fmt: skip


def _page(api: KfpApiStandIn, items: list[dict[str, Any]], query: dict[str, list[str]], key: str) -> dict[str, Any]:
    """Filter, sort and page ``items`` the way the real list endpoints do; the response object."""
    one = {name: values[-1] for name, values in query.items()}
    fields = _LIST_FIELDS[key]
    if one.get("filter"):
        predicates = _parse_filter(one["filter"])
        for predicate_key, _, _ in predicates:
            if predicate_key not in fields:
                raise ApiError(400, f"Invalid filter: {predicate_key!r} is not a field of {key} one can filter on")
        predicates = [(fields[k], operation, value) for k, operation, value in predicates]
        items = [item for item in items if _matches(item, predicates)]
    sort_by = one.get("sort_by", "").strip()
    id_order = api._state.order
    if sort_by:
        api_field, _, direction = sort_by.partition(" ")
        if direction not in ("", "desc", "asc") or api_field not in fields:
            raise ApiError(400, f"Invalid sorting field: {sort_by!r}")
        field_name = fields[api_field]
        items = sorted(
            items,
            key=lambda item: (str(item.get(field_name, "")), id_order[_id_of(item)]),
            reverse=direction == "desc",
        )
    else:
        items = sorted(items, key=lambda item: id_order[_id_of(item)])
    total = len(items)
    try:
        size = int(one.get("page_size") or 0)
        start = int(base64.urlsafe_b64decode(one["page_token"]).decode()) if one.get("page_token") else 0
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Invalid page token or page size") from None
    end = total if size <= 0 else start + size
    response: dict[str, Any] = {key: items[start:end], "total_size": total}
    if end < total:
        response["next_page_token"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    if not response[key]:
        del response[key]  # protojson omits empty repeated fields
    return response


def _id_of(item: dict[str, Any]) -> str:
    for key in ("pipeline_version_id", "recurring_run_id", "run_id", "experiment_id", "pipeline_id"):
        if key in item:
            return str(item[key])
    raise KeyError("no id")


_OPERATIONS = {1: "EQUALS", 2: "NOT_EQUALS", 8: "IN", 9: "IS_SUBSTRING"}


def _parse_filter(text: str) -> list[tuple[str, str, Any]]:
    try:
        spec = json.loads(text)
    except ValueError:
        raise ApiError(400, f"Invalid filter: not JSON: {text!r}") from None
    predicates = []
    for predicate in spec.get("predicates", []):
        operation = predicate.get("operation")
        operation = _OPERATIONS.get(operation, operation) if isinstance(operation, int) else operation
        if operation not in _OPERATIONS.values():
            raise ApiError(400, f"filter operation {operation!r} is not supported by the stand-in")
        value = next(
            (predicate[k] for k in ("stringValue", "string_value", "intValue", "int_value") if k in predicate),
            None,
        )
        if value is None and "stringValues" in predicate:
            value = predicate["stringValues"].get("values", [])
        predicates.append((str(predicate.get("key")), operation, value))
    return predicates


def _matches(item: dict[str, Any], predicates: list[tuple[str, str, Any]]) -> bool:
    for key, operation, value in predicates:
        actual = item.get(key)
        if operation == "EQUALS" and actual != value:
            return False
        if operation == "NOT_EQUALS" and actual == value:
            return False
        if operation == "IN" and actual not in (value or []):
            return False
        if operation == "IS_SUBSTRING" and (not isinstance(actual, str) or str(value) not in actual):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    api: KfpApiStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        self.api._record(
            RecordedRequest(method, parts.path, query, body, {k.lower(): v for k, v in self.headers.items()})
        )
        try:
            self._authorize()
            with self.api._lock:
                status, payload = _route(
                    self.api, method, parts.path, query, body, self.headers.get("Content-Type", "")
                )
        except ProtocolError as exc:
            self.api.protocol_errors.append(f"{method} {parts.path}: {exc}")
            status, payload = 400, _error(400, f"malformed request: {exc}")
        except ApiError as exc:
            status, payload = exc.status, _error(exc.status, exc.message)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorize(self) -> None:
        expected = self.api._token
        if expected is None:
            return
        header = self.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, "Request header error: there is no user identity header.")
        if header != f"Bearer {expected}":
            raise ApiError(403, "PermissionDenied: the token is not authorized for this request")


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": _GRPC_CODE.get(status, 2), "message": message, "details": []}


def _route(
    api: KfpApiStandIn, method: str, path: str, query: dict[str, list[str]], body: bytes, content_type: str
) -> tuple[int, Any]:
    if not path.startswith(API + "/"):
        raise ApiError(404, "Not Found")
    segments = path[len(API) + 1 :].split("/")
    collection, rest = segments[0], segments[1:]
    handlers = {
        "healthz": _healthz,
        "pipelines": _pipelines,
        "experiments": _experiments,
        "runs": _runs,
        "recurringruns": _recurring_runs,
    }
    if collection not in handlers:
        raise ApiError(404, "Not Found")
    return handlers[collection](api, method, rest, query, body, content_type)


def _one(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[-1]


def _method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, f"Method Not Allowed: {method} {path}")


def _healthz(api: KfpApiStandIn, method: str, rest: list[str], *_: Any) -> tuple[int, Any]:
    if method != "GET" or rest:
        raise _method_not_allowed(method, "healthz")
    return 200, {"multi_user": api.multi_user, "pipeline_store": "database"}


# -- pipelines and versions ----------------------------------------------------------------------------


def _read_upload(body: bytes, content_type: str) -> tuple[str, Any]:
    """The uploaded file's name and its parsed pipeline spec from a multipart/form-data body."""
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "Failed to read pipeline from file")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            filename = part.get_filename() or ""
            payload = part.get_payload(decode=True) or b""
            try:
                documents = [doc for doc in yaml.safe_load_all(payload) if doc is not None]
            except yaml.YAMLError:
                raise ApiError(400, "Failed to read a pipeline spec file") from None
            # Like the real server: a "platforms" document is the platform spec, the other the pipeline spec,
            # and a version with both answers {"pipeline_spec": ..., "platform_spec": ...}.
            platform = [doc for doc in documents if isinstance(doc, dict) and "platforms" in doc]
            pipeline = [doc for doc in documents if not (isinstance(doc, dict) and "platforms" in doc)]
            if len(pipeline) != 1 or not isinstance(pipeline[0], dict) or len(platform) > 1:
                raise ApiError(400, "Failed to read a pipeline spec file")
            if not isinstance(pipeline[0].get("pipelineInfo"), dict):
                raise ApiError(400, "Failed to read a pipeline spec file")
            spec = {"pipeline_spec": pipeline[0], "platform_spec": platform[0]} if platform else pipeline[0]
            return filename, spec
    raise ApiError(400, "Failed to read pipeline from file")


def _name_from(query: dict[str, list[str]], filename: str) -> str:
    """The real server's buildPipelineName: ``name``, else ``display_name``, else the file's base name."""
    name = _one(query, "name") or _one(query, "display_name")
    if not name:
        name = filename.rsplit("/", 1)[-1]
        for suffix in (".tar.gz", ".tgz", ".zip", ".yaml", ".yml", ".json"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
    return name


def _pipeline_by_name(api: KfpApiStandIn, name: str, namespace: str) -> dict[str, Any] | None:
    return next(
        (p for p in api._state.pipelines.values() if p["name"] == name and p.get("namespace", "") == namespace),
        None,
    )


def _new_version(
    api: KfpApiStandIn,
    pipeline_id: str,
    name: str,
    display_name: str,
    description: str,
    spec: Any,
    code_source_url: str = "",
) -> dict[str, Any]:
    if any(v["pipeline_id"] == pipeline_id and v["name"] == name for v in api._state.versions.values()):
        raise ApiError(
            409, f"Failed to create a new pipeline version. The name {name} already exist. Specify a new name"
        )
    version = {
        "pipeline_id": pipeline_id,
        "name": name,
        "display_name": display_name or name,
        "description": description,
        "pipeline_spec": spec,
    }
    if code_source_url:
        version["code_source_url"] = code_source_url
    return api._add("versions", version, "pipeline_version_id")


def _new_pipeline(api: KfpApiStandIn, name: str, display_name: str, description: str, namespace: str) -> dict[str, Any]:
    if _pipeline_by_name(api, name, namespace) is not None:
        raise ApiError(
            409, f"Failed to create a new pipeline. The name {name} already exist. Please specify a new name"
        )
    pipeline = {"name": name, "display_name": display_name or name, "description": description, "namespace": namespace}
    return api._add("pipelines", pipeline, "pipeline_id")


def _pipelines(
    api: KfpApiStandIn, method: str, rest: list[str], query: dict[str, list[str]], body: bytes, content_type: str
) -> tuple[int, Any]:
    state = api._state
    if rest == ["upload"]:
        if method != "POST":
            raise _method_not_allowed(method, "pipelines/upload")
        filename, spec = _read_upload(body, content_type)
        name = _name_from(query, filename)
        namespace = _one(query, "namespace")
        if _pipeline_by_name(api, name, namespace) is not None:
            raise ApiError(409, "Failed to create a pipeline and a pipeline version")
        pipeline = _new_pipeline(api, name, _one(query, "display_name"), _one(query, "description"), namespace)
        _new_version(api, pipeline["pipeline_id"], name, _one(query, "display_name"), _one(query, "description"), spec)
        return 200, pipeline
    if rest == ["upload_version"]:
        if method != "POST":
            raise _method_not_allowed(method, "pipelines/upload_version")
        filename, spec = _read_upload(body, content_type)
        pipeline_id = _one(query, "pipelineid")
        if not pipeline_id or pipeline_id not in state.pipelines:
            raise ApiError(400, "Failed to create a pipeline version")  # the real upload server answers 400 here
        name = _name_from(query, filename)
        try:
            version = _new_version(
                api,
                pipeline_id,
                name,
                _one(query, "display_name"),
                _one(query, "description"),
                spec,
                _one(query, "code_source_url"),
            )
        except ApiError as exc:
            if exc.status == 409:
                raise ApiError(409, "Failed to create a pipeline version") from None
            raise
        return 200, version
    if rest == ["create"]:
        if method != "POST":
            raise _method_not_allowed(method, "pipelines/create")
        data = parse_body(body, "V2beta1CreatePipelineAndVersionRequest", ("pipeline", "pipeline_version"))
        check_required(data["pipeline"], "V2beta1Pipeline", "pipeline")
        pipeline = _new_pipeline(
            api,
            data["pipeline"]["name"],
            data["pipeline"].get("display_name", ""),
            data["pipeline"].get("description", ""),
            data["pipeline"].get("namespace", ""),
        )
        pv = data["pipeline_version"]
        _new_version(
            api,
            pipeline["pipeline_id"],
            pv.get("name") or pipeline["name"],
            pv.get("display_name", ""),
            pv.get("description", ""),
            pv.get("pipeline_spec"),
        )
        return 200, pipeline
    if len(rest) == 2 and rest[0] == "names":
        pipeline = _pipeline_by_name(api, rest[1], _one(query, "namespace"))
        if pipeline is None:
            raise ApiError(404, f"Pipeline {rest[1]} not found")
        return 200, pipeline
    if not rest or rest == [""]:
        if method == "GET":
            return 200, _page(api, list(state.pipelines.values()), query, "pipelines")
        if method == "POST":
            data = parse_body(body, "V2beta1Pipeline")
            return 200, _new_pipeline(
                api, data["name"], data.get("display_name", ""), data.get("description", ""), data.get("namespace", "")
            )
        raise _method_not_allowed(method, "pipelines")
    pipeline_id = rest[0]
    if len(rest) == 1:
        pipeline = api._get("pipelines", pipeline_id, "Pipeline")
        if method == "GET":
            return 200, pipeline
        if method == "DELETE":
            versions = [v for v in state.versions.values() if v["pipeline_id"] == pipeline_id]
            if versions and _one(query, "cascade") != "true":
                raise ApiError(400, f"Failed to delete pipeline {pipeline_id}: it has {len(versions)} versions")
            for version in versions:
                del state.versions[version["pipeline_version_id"]]
            del state.pipelines[pipeline_id]
            return 200, {}
        raise _method_not_allowed(method, f"pipelines/{pipeline_id}")
    if rest[1] != "versions" or len(rest) > 3:
        raise ApiError(404, "Not Found")
    api._get("pipelines", pipeline_id, "Pipeline")
    if len(rest) == 2:
        if method == "GET":
            versions = [v for v in state.versions.values() if v["pipeline_id"] == pipeline_id]
            return 200, _page(api, versions, query, "pipeline_versions")
        if method == "POST":
            data = parse_body(body, "V2beta1PipelineVersion", ("name",))
            if data.get("pipeline_id") not in (None, "", pipeline_id):
                raise ApiError(400, "pipeline_id in the body differs from the URL")
            return 200, _new_version(
                api,
                pipeline_id,
                data["name"],
                data.get("display_name", ""),
                data.get("description", ""),
                data.get("pipeline_spec"),
            )
        raise _method_not_allowed(method, "versions")
    version = state.versions.get(rest[2])
    if version is None or version["pipeline_id"] != pipeline_id:
        raise ApiError(404, f"PipelineVersion {rest[2]} not found")
    if method == "GET":
        return 200, version
    if method == "DELETE":
        del state.versions[rest[2]]
        return 200, {}
    raise _method_not_allowed(method, "versions")


def check_required(data: dict[str, Any], type_name: str, where: str) -> None:
    for name in _REQUIRED.get(type_name, ()):
        if data.get(name) in (None, "", {}):
            raise ProtocolError(f"{where}: required field {name!r} is missing")


# -- experiments ---------------------------------------------------------------------------------------


def _experiments(
    api: KfpApiStandIn, method: str, rest: list[str], query: dict[str, list[str]], body: bytes, _: str
) -> tuple[int, Any]:
    state = api._state
    if not rest:
        if method == "GET":
            return 200, _page(api, list(state.experiments.values()), query, "experiments")
        if method == "POST":
            data = parse_body(body, "V2beta1Experiment")
            namespace = data.get("namespace") or ""
            if any(
                e["display_name"] == data["display_name"] and e.get("namespace", "") == namespace
                for e in state.experiments.values()
            ):
                raise ApiError(
                    409,
                    f"Failed to create a new experiment. The name {data['display_name']} already "
                    "exists. Please specify a new name",
                )
            experiment = {
                "display_name": data["display_name"],
                "description": data.get("description") or "",
                "namespace": namespace,
                "storage_state": "AVAILABLE",
            }
            return 200, api._add("experiments", experiment, "experiment_id")
        raise _method_not_allowed(method, "experiments")
    if len(rest) != 1:
        raise ApiError(404, "Not Found")
    experiment_id = rest[0]
    if method == "GET":
        return 200, api._get("experiments", experiment_id, "Experiment")
    if method == "DELETE":
        api._get("experiments", experiment_id, "Experiment")
        del state.experiments[experiment_id]
        return 200, {}
    raise _method_not_allowed(method, "experiments")


# -- runs ----------------------------------------------------------------------------------------------


def _resolve_pipeline(api: KfpApiStandIn, data: dict[str, Any], kind: str) -> None:
    """A run or recurring run names an existing pipeline version, or carries its own spec."""
    reference = data.get("pipeline_version_reference") or {}
    if data.get("pipeline_spec"):
        if reference:
            raise ApiError(400, f"{kind}: set either pipeline_spec or pipeline_version_reference, not both")
        return
    version_id = reference.get("pipeline_version_id") or data.get("pipeline_version_id")
    if not version_id:
        raise ProtocolError(f"{kind}: neither pipeline_version_reference.pipeline_version_id nor pipeline_spec")
    version = api._get("versions", version_id, "PipelineVersion")
    if reference.get("pipeline_id") and reference["pipeline_id"] != version["pipeline_id"]:
        raise ApiError(
            400, f"{kind}: pipeline version {version_id} does not belong to pipeline {reference['pipeline_id']}"
        )


def _experiment_for(api: KfpApiStandIn, experiment_id: str | None) -> str:
    if not experiment_id:
        return api.default_experiment_id
    api._get("experiments", experiment_id, "Experiment")
    return experiment_id


def _runs(
    api: KfpApiStandIn, method: str, rest: list[str], query: dict[str, list[str]], body: bytes, _: str
) -> tuple[int, Any]:
    state = api._state
    if not rest:
        if method == "GET":
            runs = list(state.runs.values())
            if _one(query, "experiment_id"):
                runs = [r for r in runs if r["experiment_id"] == _one(query, "experiment_id")]
            return 200, _page(api, runs, query, "runs")
        if method == "POST":
            data = parse_body(body, "V2beta1Run")
            _resolve_pipeline(api, data, "run")
            run = {key: value for key, value in data.items() if value not in (None, "", {}, [])}
            run["experiment_id"] = _experiment_for(api, data.get("experiment_id"))
            run["storage_state"] = "AVAILABLE"
            run["scheduled_at"] = _now()
            run = api._add("runs", run, "run_id")
            api._apply_state(run, "PENDING")
            if api._next_run_states:
                state.scripted_states[run["run_id"]] = list(api._next_run_states)
            return 200, run
        raise _method_not_allowed(method, "runs")
    if len(rest) != 1 or ":" in rest[0]:
        raise ApiError(404, "Not Found")
    run = api._get("runs", rest[0], "Run")
    if method == "GET":
        upcoming = state.scripted_states.get(rest[0])
        if upcoming:
            api._apply_state(run, upcoming.pop(0))
        return 200, run
    if method == "DELETE":
        del state.runs[rest[0]]
        return 200, {}
    raise _method_not_allowed(method, "runs")


# -- recurring runs ------------------------------------------------------------------------------------


def _recurring_runs(
    api: KfpApiStandIn, method: str, rest: list[str], query: dict[str, list[str]], body: bytes, _: str
) -> tuple[int, Any]:
    state = api._state
    if not rest:
        if method == "GET":
            items = list(state.recurring_runs.values())
            if _one(query, "experiment_id"):
                items = [r for r in items if r["experiment_id"] == _one(query, "experiment_id")]
            return 200, _page(api, items, query, "recurringRuns")  # the proto field is recurringRuns
        if method == "POST":
            return 200, _create_recurring_run(api, parse_body(body, "V2beta1RecurringRun"))
        raise _method_not_allowed(method, "recurringruns")
    if len(rest) != 1:
        raise ApiError(404, "Not Found")
    target, _, action = rest[0].partition(":")
    recurring_run = api._get("recurring_runs", target, "RecurringRun")
    if action:
        if method != "POST" or action not in ("enable", "disable"):
            raise ApiError(404, "Not Found")
        enabled = action == "enable"
        recurring_run["mode"] = "ENABLE" if enabled else "DISABLE"
        recurring_run["status"] = "ENABLED" if enabled else "DISABLED"
        recurring_run["updated_at"] = _now()
        return 200, {}
    if method == "GET":
        return 200, recurring_run
    if method == "DELETE":
        del state.recurring_runs[target]
        return 200, {}
    raise _method_not_allowed(method, f"recurringruns/{target} (recurring runs cannot be updated)")


def _create_recurring_run(api: KfpApiStandIn, data: dict[str, Any]) -> dict[str, Any]:
    _resolve_pipeline(api, data, "recurring run")
    raw_concurrency = data.get("max_concurrency") or 0
    max_concurrency = int(raw_concurrency)
    if not 1 <= max_concurrency <= 10:
        raise ApiError(
            400, f"Max concurrency of a recurring run must be at least 1 and at most 10. Received {max_concurrency}"
        )
    trigger = data["trigger"]
    cron = (trigger.get("cron_schedule") or {}).get("cron")
    interval = (trigger.get("periodic_schedule") or {}).get("interval_second")
    if cron is None and interval is None:
        raise ProtocolError(
            "recurring run: trigger has neither cron_schedule.cron nor periodic_schedule.interval_second"
        )
    if cron is not None and interval is not None:
        raise ApiError(400, "recurring run: a trigger has either a cron or a periodic schedule, not both")
    if cron is not None:
        _validate_cron(cron)
    if interval is not None and int(interval) < 1:
        raise ApiError(400, f"Found invalid period schedule interval {interval}. Set at interval to least 1 second")
    enabled = data.get("mode") == "ENABLE"
    now = _now()
    recurring_run = {key: value for key, value in data.items() if value not in (None, "", {}, [])}
    recurring_run.update(
        max_concurrency=str(max_concurrency),  # protojson writes int64 as a string
        experiment_id=_experiment_for(api, data.get("experiment_id")),
        mode="ENABLE" if enabled else "DISABLE",
        status="ENABLED" if enabled else "DISABLED",
        no_catchup=bool(data.get("no_catchup")),
        updated_at=now,
        created_at=now,
    )
    if interval is not None:
        recurring_run["trigger"]["periodic_schedule"]["interval_second"] = str(int(interval))
    return api._add("recurring_runs", recurring_run, "recurring_run_id")


# -- pytest fixture ------------------------------------------------------------------------------------


@pytest.fixture
def kfp_api() -> Iterator[KfpApiStandIn]:
    """A fresh KFP v2beta1 REST stand-in on 127.0.0.1 (see the module docstring for what it checks).

    Fails the test at teardown if any request body did not match kfp_server_api's models.
    """
    stand_in = KfpApiStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()
    errors = stand_in.take_protocol_errors()
    if errors:
        pytest.fail("malformed requests reached the KFP stand-in:\n  " + "\n  ".join(errors), pytrace=False)


if __name__ == "__main__":  # pragma: no cover - a stand-in to try the CLI against by hand
    import sys
    import time

    server = KfpApiStandIn().start(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"KFP v2beta1 stand-in listening on {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
