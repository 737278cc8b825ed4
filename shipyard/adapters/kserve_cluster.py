"""The Kubernetes API, for KServe InferenceServices: the one module that imports ``kubernetes``.

:class:`KServeCluster` points an InferenceService at a registry version (create it, or merge-patch
its labels and predictor), waits until its Ready condition is True for that spec, returns its
URL, and puts the previous spec back when the version never becomes Ready. The bodies come from
:mod:`shipyard.stages.inferenceservice`; this module only makes the calls.

Every call goes through :meth:`KServeCluster._call` with a verb from :data:`CALLS`, and
``manifests/base/rbac.yaml`` grants exactly :data:`CALLS` (a test compares them), so the pipeline
can do nothing in the cluster beyond what is listed here.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.config import DeploySettings
from shipyard.errors import ConfigError, ShipyardError
from shipyard.stages.inferenceservice import (
    API_GROUP,
    API_VERSION,
    PLURAL,
    InferenceServiceNotReady,
    changes_spec,
    pointing_patch,
    predictor_revision,
    readiness,
    restoring_patch,
)

log = logging.getLogger(__name__)

#: (API group, resource, verb) of every request this module sends; RBAC grants exactly these.
#: delete: an InferenceService this module created for a version that never became Ready is
#: removed again (there was no previous spec to restore).
CALLS: frozenset[tuple[str, str, str]] = frozenset(
    (API_GROUP, PLURAL, verb) for verb in ("get", "create", "patch", "delete")
)

#: Seconds between status reads while waiting, and between progress lines in the log.
POLL_SECONDS = 2.0
PROGRESS_SECONDS = 15.0


class ClusterError(ShipyardError):
    """The Kubernetes API refused or failed a call; the message names the object and the status."""


@dataclass(frozen=True)
class Pointing:
    """What :meth:`KServeCluster.point` changed, so :meth:`KServeCluster.restore` can undo it."""

    name: str
    previous: dict[str, Any] | None  # the object before; None: it was created
    patch: dict[str, Any] | None  # the merge patch applied to ``previous``
    #: The predictor revision the patch replaces (None: no new revision to wait for).
    replaced_revision: str | None = None


class KServeCluster:
    """InferenceServices in one namespace, through the official client's CustomObjectsApi.

    Args:
        api: a ``kubernetes.client.CustomObjectsApi``; :meth:`connect` builds one from the pod's
            service account or the local kubeconfig.
        report: where progress lines go (default: stderr, which a pipeline step's log and the
            CLI both show).
    """

    def __init__(
        self,
        api: Any,
        namespace: str,
        *,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.api, self.namespace = api, namespace
        self.poll_seconds, self._clock, self._sleep = poll_seconds, clock, sleep
        self._report = report or _to_stderr

    @classmethod
    def connect(cls, namespace: str, **kwargs: Any) -> KServeCluster:
        """In a pod: its service account (the pipeline runner); elsewhere: the current kubeconfig context.

        Raises:
            ConfigError: neither is available.
        """
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            try:
                config.load_kube_config()
            except (config.ConfigException, OSError) as exc:
                raise ConfigError(
                    "deploy.target is kserve but there is no Kubernetes access: not in a pod with a "
                    f"service account token, and no usable kubeconfig ({exc})"
                ) from None
        return cls(client.CustomObjectsApi(), namespace, **kwargs)

    # -- the calls ---------------------------------------------------------------------------

    def _call(self, verb: str, name: str, *args: Any) -> Any:
        """One request; ``verb`` must be in :data:`CALLS`. 404 on get is None."""
        from kubernetes.client import ApiException

        if (API_GROUP, PLURAL, verb) not in CALLS:
            raise AssertionError(f"{verb} {PLURAL} is not in CALLS, so RBAC does not grant it")
        group, version, namespace = API_GROUP, API_VERSION, self.namespace
        try:
            if verb == "get":
                return self.api.get_namespaced_custom_object(group, version, namespace, PLURAL, name)
            if verb == "create":
                return self.api.create_namespaced_custom_object(group, version, namespace, PLURAL, *args)
            if verb == "patch":  # a dict body is sent as application/merge-patch+json
                return self.api.patch_namespaced_custom_object(group, version, namespace, PLURAL, name, *args)
            return self.api.delete_namespaced_custom_object(group, version, namespace, PLURAL, name)
        except ApiException as exc:
            if verb == "get" and exc.status == 404:
                return None
            raise ClusterError(
                f"{verb} InferenceService {namespace}/{name} failed: HTTP {exc.status} {exc.reason}"
                + (
                    " (the pipeline's service account lacks this right; see manifests/base/rbac.yaml)"
                    if exc.status == 403
                    else ""
                )
            ) from None

    def get(self, name: str) -> dict[str, Any] | None:
        """The InferenceService, or None when there is none."""
        found: dict[str, Any] | None = self._call("get", name)
        return found

    def point(self, body: Mapping[str, Any]) -> Pointing:
        """Creates the InferenceService ``body`` describes, or points the existing one where ``body`` does."""
        name = str(body["metadata"]["name"])
        previous = self.get(name)
        if previous is None:
            self._call("create", name, dict(body))
            self._report(f"created InferenceService {self.namespace}/{name}: {_where(body)}")
            return Pointing(name, None, None)
        patch = pointing_patch(body)
        replaced = predictor_revision(previous) if changes_spec(previous, patch) else None
        self._call("patch", name, patch)
        self._report(f"patched InferenceService {self.namespace}/{name}: {_where(body)}")
        return Pointing(name, previous, patch, replaced)

    def restore(self, pointing: Pointing) -> None:
        """Undoes :meth:`point`: the previous labels and predictor back, or the created object deleted."""
        if pointing.previous is None:
            self._call("delete", pointing.name)
            self._report(f"deleted InferenceService {self.namespace}/{pointing.name} again")
        else:
            assert pointing.patch is not None
            self._call("patch", pointing.name, restoring_patch(pointing.previous, pointing.patch))
            self._report(f"restored InferenceService {self.namespace}/{pointing.name} to its previous spec")

    def remove(self, name: str) -> None:
        """Deletes the InferenceService ``name``, if there is one."""
        if self.get(name) is not None:
            self._call("delete", name)
            self._report(f"deleted InferenceService {self.namespace}/{name}")

    def wait_ready(self, name: str, timeout_seconds: float, replaced_revision: str | None = None) -> str:
        """Reads the status until Ready is True for the current spec; returns its URL.

        ``replaced_revision``: the predictor revision before the spec changed; Ready only counts
        for a newer one (see :func:`shipyard.stages.inferenceservice.readiness`).

        Raises:
            InferenceServiceNotReady: not Ready within ``timeout_seconds`` (or it disappeared).
        """
        start = self._clock()
        last_note = -PROGRESS_SECONDS
        while True:
            obj = self.get(name)
            if obj is None:
                raise InferenceServiceNotReady(f"InferenceService {self.namespace}/{name} disappeared while waiting")
            state = readiness(obj, replaced_revision=replaced_revision)
            elapsed = self._clock() - start
            if state.ready and state.url:
                self._report(f"InferenceService {self.namespace}/{name} Ready after {elapsed:.0f} s at {state.url}")
                return state.url
            if elapsed >= timeout_seconds:
                raise InferenceServiceNotReady(
                    f"InferenceService {self.namespace}/{name} not Ready after {timeout_seconds:.0f} s: {state.reason}"
                )
            if elapsed - last_note >= PROGRESS_SECONDS:
                self._report(
                    f"waiting for InferenceService {self.namespace}/{name} "
                    f"({elapsed:.0f} of {timeout_seconds:.0f} s): {state.reason}"
                )
                last_note = elapsed
            self._sleep(min(self.poll_seconds, max(timeout_seconds - elapsed, 0.0)))

    def deploy(self, body: Mapping[str, Any], timeout_seconds: float) -> Pointing:
        """Points, then waits for Ready; on any failure (timeout included) the previous spec is back.

        Returns what was changed, so a caller whose next step fails can :meth:`restore` it too.

        Raises:
            InferenceServiceNotReady: not Ready in time; the InferenceService was restored.
            ClusterError: a call failed; the InferenceService was restored if it had been changed.
        """
        pointing = self.point(body)
        try:
            self.wait_ready(pointing.name, timeout_seconds, pointing.replaced_revision)
        except BaseException as exc:
            try:
                self.restore(pointing)
                note = (
                    "; its previous spec was restored"
                    if pointing.previous is not None
                    else "; it was deleted again (it did not exist before)"
                )
            except ShipyardError as undo:
                note = f" (and restoring its previous spec failed: {undo})"
            if isinstance(exc, ShipyardError):
                raise type(exc)(f"{exc}{note}") from None
            log.error("InferenceService %s/%s interrupted%s", self.namespace, pointing.name, note)
            raise
        return pointing

    def url(self, name: str) -> str:
        """The URL of a Ready InferenceService.

        Raises:
            InferenceServiceNotReady: it does not exist or is not Ready.
        """
        obj = self.get(name)
        if obj is None:
            raise InferenceServiceNotReady(f"there is no InferenceService {self.namespace}/{name}")
        state = readiness(obj)
        if not state.ready or not state.url:
            raise InferenceServiceNotReady(f"InferenceService {self.namespace}/{name} is not Ready: {state.reason}")
        return state.url


def _to_stderr(message: str) -> None:
    print(f"shipyard deploy: {message}", file=sys.stderr, flush=True)


def _where(body: Mapping[str, Any]) -> str:
    return f"storageUri {body['spec']['predictor']['model']['storageUri']}"


def cluster_for(settings: DeploySettings) -> KServeCluster | None:
    """The cluster to deploy to: None for ``deploy.target: registry`` (aliases only)."""
    return KServeCluster.connect(settings.namespace) if settings.target == "kserve" else None


def staging_endpoint(settings: DeploySettings, cluster: KServeCluster | None = None) -> str:
    """The URL of the staging InferenceService (for the smoke test's requests).

    Raises:
        ConfigError: ``deploy.target`` is not kserve (there is no cluster endpoint).
        InferenceServiceNotReady: it does not exist or is not Ready.
    """
    if settings.target != "kserve":
        raise ConfigError("config key 'deploy.target' is not kserve: there is no staging endpoint on a cluster")
    cluster = cluster or KServeCluster.connect(settings.namespace)
    return cluster.url(settings.staging_inferenceservice)
