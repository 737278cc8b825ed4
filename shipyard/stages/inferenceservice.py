"""KServe InferenceService bodies for a registry version, and reading their status. Pure: no I/O.

An InferenceService serves exactly one registry version: its ``storageUri`` is the version's
directory in the store (``s3://BUCKET/PREFIX/models/NAME/VERSION/``), which KServe's storage
initializer downloads to /mnt/models for the ``shipyard`` ServingRuntime
(manifests/components/kserve). Moving to another version is a new ``storageUri``: KServe rolls out
a new revision and reports Ready once it answers. Fields used here are the ones in the trimmed
KServe schemas under tests/manifests/schemas/, which the tests validate these bodies against.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.vocabulary import PRODUCTION

API_GROUP = "serving.kserve.io"
API_VERSION = "v1beta1"
PLURAL = "inferenceservices"
KIND = "InferenceService"
#: The namespaced ServingRuntime in manifests/components/kserve and the model format it declares.
RUNTIME = "shipyard"
MODEL_FORMAT = "shipyard"
#: Exists in manifests/base: lists the S3 Secret whose serving.kserve.io/s3-* annotations KServe reads.
SERVICE_ACCOUNT = "shipyard-kserve-sa"

MODEL_LABEL = "shipyard.io/model"
VERSION_LABEL = "shipyard.io/version"
ALIAS_LABEL = "shipyard.io/alias"
#: The server's switch for traffic logging (shipyard/serving/traffic_log.py, ``TRAFFIC_LOG_ENV``; not
#: imported: that module is the server's). Only production's traffic is real traffic: the staging
#: endpoint answers the pipeline's smoke test, whose rows would pass for production requests.
TRAFFIC_LOG_ENV = "SHIPYARD_TRAFFIC_LOG"


class InferenceServiceNotReady(ShipyardError):
    """An InferenceService did not become Ready (in time), or is not Ready when its URL is asked for."""


def storage_uri(version_uri: str) -> str:
    """The ``storageUri`` of a registry version directory; only object storage a cluster can reach.

    Raises:
        ValueError: the registry is not on S3 (a local directory is not visible to the cluster).
    """
    if not version_uri.startswith("s3://"):
        raise ValueError(
            f"KServe pulls models from object storage; the version is at {version_uri}. "
            "Use a registry on S3 (--store s3://BUCKET/PREFIX) with deploy.target: kserve"
        )
    return version_uri if version_uri.endswith("/") else version_uri + "/"


def inference_service(
    name: str, namespace: str, *, model: str, version: int, version_uri: str, alias: str
) -> dict[str, Any]:
    """The InferenceService ``name`` serving registry ``model`` version ``version`` (for ``alias``).

    Its server logs traffic only for the production alias: the env is set for every alias (``on``
    or ``off``) so that re-pointing one object from one alias to another never leaves a stale value.
    """
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/part-of": "shipyard",
                MODEL_LABEL: model,
                VERSION_LABEL: str(version),
                ALIAS_LABEL: alias,
            },
        },
        "spec": {
            "predictor": {
                "serviceAccountName": SERVICE_ACCOUNT,
                "model": {
                    "runtime": RUNTIME,
                    "modelFormat": {"name": MODEL_FORMAT},
                    "protocolVersion": "v2",
                    "storageUri": storage_uri(version_uri),
                    "env": [{"name": TRAFFIC_LOG_ENV, "value": "on" if alias == PRODUCTION else "off"}],
                },
            }
        },
    }


def pointing_patch(body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that points an existing InferenceService where ``body`` points.

    Only the labels shipyard owns and the predictor's model: anything else a user set on the
    object (annotations, replicas, resources) is left alone.
    """
    return {
        "metadata": {"labels": copy.deepcopy(dict(body["metadata"]["labels"]))},
        "spec": {"predictor": copy.deepcopy(dict(body["spec"]["predictor"]))},
    }


def restoring_patch(previous: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that undoes ``applied`` (a :func:`pointing_patch`) on ``previous``.

    Every key ``applied`` set gets its value from ``previous`` back, or null (removed) where
    ``previous`` did not have it.
    """

    def undo(before: Any, patch: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in patch.items():
            old = before.get(key) if isinstance(before, Mapping) else None
            if isinstance(value, Mapping) and isinstance(old, Mapping):
                out[key] = undo(old, value)
            else:
                out[key] = copy.deepcopy(old)  # None becomes null: the key is removed
        return out

    return undo(previous, applied)


def changes_spec(previous: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether the JSON merge patch ``patch`` changes ``previous``'s ``spec`` (so KServe rolls out a revision).

    The API server bumps ``metadata.generation`` only on a spec change, and only then does KServe
    create a new predictor revision; a patch that repoints to the same spec must not wait for one.
    """

    def changes(before: Any, change: Any) -> bool:
        if not isinstance(change, Mapping):
            return bool(before != change)
        if not isinstance(before, Mapping):
            return True
        return any(
            (key in before) if value is None else changes(before.get(key), value) for key, value in change.items()
        )

    return "spec" in patch and changes(previous.get("spec"), patch["spec"])


def predictor_revision(obj: Mapping[str, Any]) -> str | None:
    """``status.components.predictor.latestCreatedRevision``: the newest revision KServe rolled out, or None."""
    predictor = ((obj.get("status") or {}).get("components") or {}).get("predictor") or {}
    revision = predictor.get("latestCreatedRevision")
    return str(revision) if revision else None


@dataclass(frozen=True)
class Readiness:
    """What an InferenceService's status says about the spec it was last given."""

    ready: bool
    reason: str  # why not ready (empty when ready)
    url: str | None


def readiness(obj: Mapping[str, Any], *, replaced_revision: str | None = None) -> Readiness:
    """Ready when the Ready condition is True and the predictor's newest revision is the Ready one.

    ``status.observedGeneration`` is NOT read: KServe copies it from the child Knative Service
    or Deployment, not from the InferenceService's own ``metadata.generation`` (kserve/kserve#6081),
    so comparing the two can wait forever, or take a stale Ready as fresh. Instead, as KServe's
    own status does (``pkg/apis/serving/v1beta1/inference_service_status.go``: ``PropagateStatus``
    copies Knative's revision names), the predictor's ``latestCreatedRevision`` must equal its
    ``latestReadyRevision``, and must differ from ``replaced_revision``, the revision it had before
    the spec changed (None: no new revision is expected, e.g. it was just created). This needs
    KServe's Serverless mode (Knative revisions); RawDeployment reports no revisions.
    """
    status = obj.get("status") or {}
    # The cluster-local address first: the smoke test runs in a pipeline pod inside the cluster,
    # and status.url is the external host under KServe's ingress domain (example.com unless
    # configured), which pods often cannot resolve.
    url = (status.get("address") or {}).get("url") or status.get("url")
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if condition is None:
        return Readiness(False, "no Ready condition yet", url)
    if condition.get("status") != "True":
        detail = condition.get("message") or condition.get("reason") or f"Ready is {condition.get('status')}"
        return Readiness(False, str(detail), url)
    predictor = (status.get("components") or {}).get("predictor") or {}
    created, latest_ready = predictor.get("latestCreatedRevision"), predictor.get("latestReadyRevision")
    if not created:
        return Readiness(False, "no predictor revision in its status yet", url)
    if replaced_revision is not None and created == replaced_revision:
        return Readiness(False, f"no new predictor revision yet (still {created})", url)
    if latest_ready != created:
        return Readiness(False, f"predictor revision {created} is not Ready yet (Ready: {latest_ready})", url)
    if not url:
        return Readiness(False, "Ready, but no URL in its status yet", None)
    return Readiness(True, "", str(url))
