"""Talking to a Kubeflow Pipelines API server (the only module that uses ``kfp.Client``).

Returns shipyard's own types and raises :class:`KfpError` with a message for the person at the terminal:
an unreachable host, a refused token (401/403), an unknown pipeline, version or run each say what to fix.

Auth (``auth=``): ``auto`` sends ``SHIPYARD_KFP_TOKEN`` as a bearer token when it is set, else the
projected service-account token KFP mounts in pods (``KF_PIPELINES_SA_TOKEN_PATH``, default
``/var/run/secrets/kubeflow/pipelines/token``) when that file exists, else nothing; ``kubeconfig`` sends
the bearer token of the current (or ``kube_context``) kubeconfig context; ``serviceaccount`` requires the
projected token; ``none`` sends nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.pipeline_ir import LATEST, PipelineIR, parse_pipeline_ir

TOKEN_ENV = "SHIPYARD_KFP_TOKEN"
AUTH_MODES = ("auto", "none", "kubeconfig", "serviceaccount")
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
_SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
_SA_TOKEN_DEFAULT = "/var/run/secrets/kubeflow/pipelines/token"


class KfpError(ShipyardError):
    """The Kubeflow Pipelines server cannot be reached, refused a request, or lacks what was asked for."""


class KfpNotFound(KfpError):
    """The server has no pipeline, version or experiment of the name asked for (it answered, though)."""


@dataclass(frozen=True)
class VersionRef:
    pipeline_id: str
    pipeline_name: str
    version_id: str
    version_name: str
    created_at: str = ""


@dataclass(frozen=True)
class UploadResult:
    """What ``upload`` found or made; ``created_*`` say whether this call changed anything."""

    version: VersionRef
    created_pipeline: bool
    created_version: bool

    @property
    def changed(self) -> bool:
        return self.created_pipeline or self.created_version


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    name: str
    state: str
    experiment_id: str
    created_at: str
    finished_at: str
    pipeline_id: str
    version_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    recurring_run_id: str = ""
    state_history: tuple[tuple[str, str], ...] = ()  # (time, state)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "state": self.state,
            "experiment_id": self.experiment_id,
            "pipeline_id": self.pipeline_id,
            "pipeline_version_id": self.version_id,
            "recurring_run_id": self.recurring_run_id or None,
            "created_at": self.created_at,
            "finished_at": self.finished_at or None,
            "parameters": self.parameters,
            "error": self.error or None,
            "state_history": [{"time": time, "state": state} for time, state in self.state_history],
        }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return str(value)


def _run_info(run: Any) -> RunInfo:
    reference = run.pipeline_version_reference
    config = run.runtime_config
    return RunInfo(
        run_id=run.run_id,
        name=run.display_name or "",
        state=run.state or "RUNTIME_STATE_UNSPECIFIED",
        experiment_id=run.experiment_id or "",
        created_at=_text(run.created_at),
        finished_at=_text(run.finished_at),
        pipeline_id=(reference.pipeline_id if reference else "") or "",
        version_id=(reference.pipeline_version_id if reference else run.pipeline_version_id) or "",
        parameters=dict((config.parameters if config else None) or {}),
        error=(run.error.message if run.error else "") or "",
        recurring_run_id=run.recurring_run_id or "",
        state_history=tuple((_text(s.update_time), s.state or "") for s in (run.state_history or [])),
    )


def _equals(key: str, value: str) -> str:
    import json

    return json.dumps({"predicates": [{"operation": "EQUALS", "key": key, "string_value": value}]})


def resolve_token(auth: str, kube_context: str | None = None) -> tuple[str | None, Any]:
    """``(bearer token, kfp credentials object)`` for ``auth`` (see the module docstring); at most one is set.

    Raises:
        KfpError: the chosen source has no token.
    """
    if auth not in AUTH_MODES:
        raise KfpError(f"unknown auth mode {auth!r}: one of {', '.join(AUTH_MODES)}")
    if auth == "none":
        return None, None
    if auth == "auto" and os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip(), None
    if auth == "kubeconfig":
        return _kubeconfig_token(kube_context), None
    token_path = os.environ.get(_SA_TOKEN_ENV) or _SA_TOKEN_DEFAULT
    if auth == "serviceaccount" or Path(token_path).is_file():
        if not Path(token_path).is_file():
            raise KfpError(
                f"no service-account token at {token_path}: mount KFP's projected token there "
                f"(or set {_SA_TOKEN_ENV}), or use --auth kubeconfig or {TOKEN_ENV}"
            )
        from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

        return None, ServiceAccountTokenVolumeCredentials(path=token_path)
    return None, None


def _kubeconfig_token(kube_context: str | None) -> str:
    import kubernetes

    configuration = kubernetes.client.Configuration()
    try:
        # KUBECONFIG is read now, not when the kubernetes package was imported (it caches it then).
        kubernetes.config.load_kube_config(
            config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration, context=kube_context
        )
    except Exception as exc:  # ConfigException, a missing file, a YAML error: all "no usable kubeconfig"
        raise KfpError(f"cannot read a kubeconfig for --auth kubeconfig: {exc}") from None
    header = configuration.api_key.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""  # not Basic auth
    if not token:
        where = f"context '{kube_context}'" if kube_context else "the current context"
        raise KfpError(
            f"the kubeconfig's {where} has no bearer token (client certificates and basic auth cannot authenticate to "
            f"the KFP API through its gateway): set {TOKEN_ENV}, e.g. to `kubectl create token default-editor "
            "-n <profile-namespace>`"
        )
    return str(token)


class KfpConnection:
    """One Kubeflow Pipelines API endpoint, as seen through ``kfp.Client``."""

    def __init__(self, host: str, namespace: str | None = None, auth: str = "auto", kube_context: str | None = None):
        import kfp

        class _Client(kfp.Client):  # type: ignore[misc]
            def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
                # kfp.Client retries 5 times, 5 s apart, and then hides the cause; one attempt reports it.
                return self._healthz_api.healthz_service_get_healthz()

        self.host = host.rstrip("/")
        self.namespace = namespace
        token, credentials = resolve_token(auth, kube_context)
        with self.calls("connect"), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "This client only works with KFP v2.0.0-beta.2 and later"
            self._client = _Client(
                host=self.host,
                namespace=namespace or "kubeflow",
                existing_token=token,
                credentials=credentials,
            )

    @property
    def client(self) -> Any:
        """The ``kfp.Client``; call it inside :meth:`calls` so its errors are translated."""
        return self._client

    # -- errors ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def calls(self, what: str) -> Iterator[None]:
        """Runs kfp.Client calls: their printed links go nowhere, their exceptions become KfpError, and an
        answer that is not JSON (an auth proxy's login page after a redirect) is an error, not an empty result."""
        import kfp_server_api
        import urllib3

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        except kfp_server_api.ApiException as exc:
            raise KfpError(self._api_message(what, exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise KfpError(
                f"cannot reach Kubeflow Pipelines at {self.host} ({what}): {reason}; check --host (for a cluster, "
                "e.g. `kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80` and --host http://127.0.0.1:8080)"
            ) from None
        self._check_json_answer(what)

    def _check_json_answer(self, what: str) -> None:
        # kfp_server_api follows redirects and reads an HTML page as an empty object; its ApiClient keeps the
        # last response, so its content type tells an API answer from a login page.
        client = getattr(self, "_client", None)
        api_client = getattr(getattr(client, "_healthz_api", None), "api_client", None)
        last = getattr(api_client, "last_response", None)
        content_type = (last.getheader("content-type") or "") if last is not None else "application/json"
        if "json" not in content_type:
            kind = content_type.split(";")[0] or "no content type"
            raise KfpError(
                f"Kubeflow Pipelines at {self.host} answered {what} with {kind}, not the API's JSON: probably the "
                f"login page of an auth proxy (oauth2-proxy, Dex); set {TOKEN_ENV} to a token the proxy accepts, "
                "or point --host at the API itself"
            )

    def _api_message(self, what: str, exc: Any) -> str:
        import json

        status = int(exc.status or 0)
        detail = ""
        try:
            body = json.loads(exc.body or "{}")
            detail = str(body.get("message") or body.get("error_message") or body.get("error") or "")
        except (ValueError, AttributeError):
            detail = str(exc.body or "").strip()[:200]
        where = f"Kubeflow Pipelines at {self.host}"
        suffix = f": {detail}" if detail else ""
        if status == 401:
            return (
                f"{where} refused {what}: 401 Unauthorized (no valid credentials); set {TOKEN_ENV} to a bearer "
                "token or use --auth kubeconfig"
            )
        if status == 403:
            scope = f" in namespace '{self.namespace}'" if self.namespace else ""
            return (
                f"{where} refused {what}: 403 Forbidden{scope}; the token's identity lacks access (multi-user "
                f"installs: pass --namespace with a profile namespace you belong to){suffix}"
            )
        reason = f" {exc.reason}" if exc.reason else ""
        return f"{where} answered {status}{reason} to {what}{suffix}"

    # -- pipelines ---------------------------------------------------------------------------------------
    def find_pipeline_id(self, name: str) -> str | None:
        with self.calls(f"look up pipeline '{name}'"):
            result = self._client.list_pipelines(filter=_equals("name", name), namespace=self.namespace)
        pipelines = result.pipelines or []
        return pipelines[0].pipeline_id if pipelines else None

    def find_version(self, pipeline_name: str, version: str, pipeline_id: str | None = None) -> VersionRef:
        """The version named ``version`` of the pipeline, or with ``version="latest"`` its newest one.

        ``pipeline_id`` skips looking the pipeline up when the caller already has it.

        Raises:
            KfpNotFound: no such pipeline or version (the message says how to upload it).
            KfpError: the server refused or could not be reached.
        """
        pipeline_id = pipeline_id or self.find_pipeline_id(pipeline_name)
        if pipeline_id is None:
            raise KfpNotFound(f"no pipeline '{pipeline_name}' on {self.host}: upload it with `shipyard upload` first")
        with self.calls(f"list versions of pipeline '{pipeline_name}'"):
            if version == LATEST:
                listed = self._client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc")
            else:
                listed = self._client.list_pipeline_versions(pipeline_id, page_size=1, filter=_equals("name", version))
        versions = listed.pipeline_versions or []
        if not versions:
            what = "has no versions" if version == LATEST else f"has no version '{version}'"
            raise KfpNotFound(f"pipeline '{pipeline_name}' on {self.host} {what}: upload it with `shipyard upload`")
        found = versions[0]
        return VersionRef(pipeline_id, pipeline_name, found.pipeline_version_id, found.name, _text(found.created_at))

    def _version_named(self, pipeline_id: str, pipeline_name: str, version_name: str) -> VersionRef | None:
        with self.calls(f"look up version '{version_name}' of '{pipeline_name}'"):
            listed = self._client.list_pipeline_versions(pipeline_id, page_size=1, filter=_equals("name", version_name))
        found = (listed.pipeline_versions or [None])[0]
        if found is None:
            return None
        return VersionRef(pipeline_id, pipeline_name, found.pipeline_version_id, found.name, _text(found.created_at))

    def version_pipeline(self, ref: VersionRef) -> PipelineIR:
        """The compiled pipeline stored in a version on the server (for typing parameters against it)."""
        import yaml

        with self.calls(f"read pipeline version '{ref.version_name}'"):
            version = self._client.get_pipeline_version(ref.pipeline_id, ref.version_id)
        spec = version.pipeline_spec or {}
        documents = [spec["pipeline_spec"], spec.get("platform_spec")] if "pipeline_spec" in spec else [spec]
        text = yaml.safe_dump_all([doc for doc in documents if doc], sort_keys=False)
        return parse_pipeline_ir(text, f"pipeline version '{ref.version_name}' on {self.host}")

    def upload(self, pipeline: PipelineIR, package_path: Path) -> UploadResult:
        """Makes sure the server has ``pipeline`` (by its KFP name) with a version named from its content.

        Idempotent: the same content twice finds the version and changes nothing; new content adds a version.
        """
        import kfp_server_api

        created_pipeline = False
        pipeline_id = self.find_pipeline_id(pipeline.name)
        if pipeline_id is None:
            body = kfp_server_api.V2beta1Pipeline(
                name=pipeline.name,
                display_name=pipeline.name,
                description=pipeline.description or None,
                namespace=self.namespace,
            )
            with self.calls(f"create pipeline '{pipeline.name}'"):
                pipeline_id = self._client.pipelines.pipeline_service_create_pipeline(pipeline=body).pipeline_id
            created_pipeline = True
        else:
            existing = self._version_named(pipeline_id, pipeline.name, pipeline.version_name)
            if existing is not None:
                return UploadResult(existing, created_pipeline=False, created_version=False)
        with self.calls(f"upload version '{pipeline.version_name}' of '{pipeline.name}'"):
            try:
                version = self._client.upload_pipeline_version(
                    str(package_path),
                    pipeline.version_name,
                    pipeline_id=pipeline_id,
                    description=f"content sha256 {pipeline.content_hash}",
                )
            except kfp_server_api.ApiException as exc:
                if exc.status != 409:  # 409: someone uploaded the same content meanwhile
                    raise
                raced = self._version_named(pipeline_id, pipeline.name, pipeline.version_name)
                if raced is None:
                    raise
                return UploadResult(raced, created_pipeline, created_version=False)
        ref = VersionRef(
            pipeline_id, pipeline.name, version.pipeline_version_id, version.name, _text(version.created_at)
        )
        return UploadResult(ref, created_pipeline, created_version=True)

    # -- experiments and runs ----------------------------------------------------------------------------
    def experiment_id(self, name: str, create: bool = True) -> str:
        """The id of the experiment called ``name``; created when missing and ``create`` is set.

        Raises:
            KfpNotFound: no such experiment and ``create`` is not set.
        """
        if create:
            with self.calls(f"create experiment '{name}'"):
                return str(self._client.create_experiment(name, namespace=self.namespace).experiment_id)
        found = self.find_experiment_id(name)
        if found is None:
            raise KfpNotFound(f"no experiment '{name}' on {self.host}")
        return found

    def find_experiment_id(self, name: str) -> str | None:
        """The id of the experiment called ``name``, or None when the server has none."""
        with self.calls(f"look up experiment '{name}'"):
            try:
                return str(self._client.get_experiment(experiment_name=name, namespace=self.namespace).experiment_id)
            except ValueError:  # kfp.Client: no experiment with that name
                return None

    def create_run(
        self, ref: VersionRef, run_name: str, parameters: dict[str, Any], experiment_id: str | None
    ) -> RunInfo:
        with self.calls(f"create a run of '{ref.pipeline_name}' version '{ref.version_name}'"):
            run = self._client.run_pipeline(
                experiment_id=experiment_id,
                job_name=run_name,
                params=parameters,
                pipeline_id=ref.pipeline_id,
                version_id=ref.version_id,
            )
        return _run_info(run)

    def get_run(self, run_id: str) -> RunInfo:
        import kfp_server_api

        with self.calls(f"get run {run_id}"):
            try:
                run = self._client.get_run(run_id)
            except kfp_server_api.ApiException as exc:
                if exc.status == 404:
                    raise KfpError(f"no run {run_id} on {self.host}: list them with `shipyard runs list`") from None
                raise
        return _run_info(run)

    def list_runs(self, experiment_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        """The newest ``limit`` runs, newest first (of one experiment, or all the namespace's)."""
        with self.calls("list runs"):
            result = self._client.list_runs(
                page_size=limit, sort_by="created_at desc", experiment_id=experiment_id, namespace=self.namespace
            )
        return [_run_info(run) for run in (result.runs or [])][:limit]

    def run_link(self, run_id: str) -> str:
        return f"{self.host}/#/runs/details/{run_id}"
