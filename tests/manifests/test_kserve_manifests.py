"""The KServe ServingRuntime and the InferenceService bodies, against KServe v0.20.0's CRD schemas.

The runtime is rendered from manifests/base with `kubectl kustomize`; the InferenceServices are
what the deploy step sends (shipyard.stages.inferenceservice). Both are validated against the
trimmed schemas in tests/manifests/schemas/ (fields outside the ones shipyard uses are refused).
What these checks do not cover: KServe's admission webhooks and its controller (whether a cluster
really schedules the predictor); those need a cluster with KServe.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from shipyard._image import IMAGE_REPOSITORY, default_image
from shipyard.adapters.kserve_cluster import CALLS
from shipyard.config import load_config
from shipyard.stages import inferenceservice as isvc
from shipyard.vocabulary import PRODUCTION, STAGING
from tests.manifests.kserve_schemas import kserve_problems
from tests.manifests.test_manifests import (
    KSERVE_SA,
    KUSTOMIZATIONS,
    MANIFESTS,
    NAMESPACE,
    WITH_KSERVE,
    _find,
    _kubectl,
)

VERSION_URI = "s3://mlpipeline/shipyard/models/churn/3/"


@pytest.fixture(scope="module")
def runtime(rendered) -> dict:
    return _find(rendered["overlays/kind-kserve"], "ServingRuntime", isvc.RUNTIME)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_only_the_kserve_variants_ship_the_runtime_and_it_matches_kserves_schema(rendered, name):
    """KServe is opt-in: without KServe's CRDs, `kubectl apply -k` of any other rendering works."""
    if name in WITH_KSERVE:
        assert kserve_problems(_find(rendered[name], "ServingRuntime", isvc.RUNTIME)) == []
    else:
        assert not [o for o in rendered[name] if o["apiVersion"].startswith("serving.kserve.io/")]


def test_the_runtime_image_is_the_repository_that_images_rewrites(runtime):
    """The name `kustomize edit set image ghcr.io/shipyard-mlops/shipyard=...` matches (README)."""
    (container,) = runtime["spec"]["containers"]
    assert container["image"].rpartition(":")[0] == IMAGE_REPOSITORY


def test_an_images_setting_in_an_overlay_rewrites_the_runtime_image(manifests_copy, tmp_path):
    """What `kustomize edit set image ghcr.io/shipyard-mlops/shipyard=$SHIPYARD_IMAGE` writes, rendered."""
    import shutil
    import subprocess

    overlay = manifests_copy / "overlays" / "kind-kserve-own-image"
    shutil.copytree(manifests_copy / "overlays" / "kind-kserve", overlay)
    with (overlay / "kustomization.yaml").open("a", encoding="utf-8") as f:
        f.write(f"images:\n- name: {IMAGE_REPOSITORY}\n  newName: registry.example.com/team/shipyard\n  newTag: dev1\n")
    result = subprocess.run([_kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    (container,) = _find(objects, "ServingRuntime", isvc.RUNTIME)["spec"]["containers"]
    assert container["image"] == "registry.example.com/team/shipyard:dev1"


def test_the_runtime_runs_the_project_image_with_shipyard_serve_on_the_downloaded_model(runtime):
    (container,) = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe expects for the predictor
    assert container["image"] == default_image()
    args = container["args"]
    assert args[:2] == ["shipyard", "serve"]
    # /mnt/models is where KServe's storage initializer puts the storageUri's files.
    assert args[args.index("--model-dir") + 1] == "/mnt/models"
    port = int(args[args.index("--port") + 1])
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert container["ports"] == [{"containerPort": port, "protocol": "TCP"}]
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/v2/health/ready", port)
    assert container["securityContext"]["runAsNonRoot"] is True
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert isvc.MODEL_FORMAT in formats
    assert {"v1", "v2"} <= set(runtime["spec"]["protocolVersions"])


def test_the_runtime_is_namespaced_beside_shipyards_objects(runtime):
    assert runtime["kind"] == "ServingRuntime"
    assert runtime["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("alias", [STAGING, PRODUCTION])
def test_inferenceservice_bodies_match_kserves_schema(alias):
    settings = load_config().deploy
    name = settings.staging_inferenceservice if alias == STAGING else settings.production_inferenceservice
    body = isvc.inference_service(
        name, settings.namespace, model="churn", version=3, version_uri=VERSION_URI, alias=alias
    )
    assert kserve_problems(body) == []
    predictor = body["spec"]["predictor"]
    assert predictor["serviceAccountName"] == KSERVE_SA
    assert predictor["model"]["runtime"] == isvc.RUNTIME
    assert predictor["model"]["storageUri"] == VERSION_URI
    assert body["metadata"]["name"] == name and body["metadata"]["namespace"] == NAMESPACE
    # Only production's traffic is logged; the value is explicit for both, so re-pointing never leaves a stale one.
    assert predictor["model"]["env"] == [
        {"name": isvc.TRAFFIC_LOG_ENV, "value": "on" if alias == PRODUCTION else "off"}
    ]


def test_the_runtime_gets_the_store_and_its_credentials_for_traffic_logging(rendered, runtime):
    """From the ConfigMap and Secret rendered beside it, under the names shipyard.store reads, optionally."""
    from shipyard.serving.traffic_log import TRAFFIC_LOG_ENV

    assert TRAFFIC_LOG_ENV == isvc.TRAFFIC_LOG_ENV
    (container,) = runtime["spec"]["containers"]
    env = {item["name"]: item["valueFrom"] for item in container["env"]}
    salt = env.pop("SHIPYARD_TRAFFIC_HASH_SALT")["secretKeyRef"]  # a Secret the user creates (not rendered)
    assert salt == {"name": "shipyard-traffic-hash-salt", "key": "SHIPYARD_TRAFFIC_HASH_SALT", "optional": True}
    config_map = _find(rendered["overlays/kind-kserve"], "ConfigMap", "shipyard-config")
    secret = _find(rendered["overlays/kind-kserve"], "Secret", "shipyard-s3-credentials")
    for name, source in env.items():
        ref = source.get("configMapKeyRef") or source["secretKeyRef"]
        assert ref["optional"] is True, f"{name}: a missing store must not stop the model from serving"
        held = config_map["data"] if "configMapKeyRef" in source else secret.get("data", {})
        owner = config_map if "configMapKeyRef" in source else secret
        assert ref["name"] == owner["metadata"]["name"] and ref["key"] in held, name
    assert env["SHIPYARD_STORE"]["configMapKeyRef"]["key"] == "SHIPYARD_STORE"
    assert env["SHIPYARD_S3_ACCESS_KEY_ID"]["secretKeyRef"]["key"] == "AWS_ACCESS_KEY_ID"
    assert env["SHIPYARD_S3_SECRET_ACCESS_KEY"]["secretKeyRef"]["key"] == "AWS_SECRET_ACCESS_KEY"


def test_the_inferenceservice_service_account_exists_in_the_base(rendered):
    _find(rendered["base"], "ServiceAccount", isvc.SERVICE_ACCOUNT)


def test_the_status_fields_read_for_readiness_are_in_kserves_schema():
    body = isvc.inference_service("s", NAMESPACE, model="churn", version=1, version_uri=VERSION_URI, alias=STAGING)
    body["status"] = {
        "observedGeneration": 2,
        "url": "http://s.shipyard.example.com",
        "components": {
            "predictor": {"latestCreatedRevision": "s-predictor-00002", "latestReadyRevision": "s-predictor-00002"}
        },
        "address": {"url": "http://s-predictor.shipyard.svc.cluster.local"},
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }
    assert kserve_problems(body) == []


def test_the_schema_refuses_a_misspelt_or_unused_field():
    body = isvc.inference_service("s", NAMESPACE, model="churn", version=1, version_uri=VERSION_URI, alias=STAGING)
    wrong = copy.deepcopy(body)
    wrong["spec"]["predictor"]["model"]["storageURI"] = wrong["spec"]["predictor"]["model"].pop("storageUri")
    assert any("storageURI" in problem for problem in kserve_problems(wrong))
    no_format = copy.deepcopy(body)
    no_format["spec"]["predictor"]["model"]["modelFormat"] = {"version": "1"}
    assert any("'name' is a required property" in problem for problem in kserve_problems(no_format))


def test_a_registry_that_is_not_on_s3_cannot_be_served_by_kserve():
    with pytest.raises(ValueError, match="object storage"):
        isvc.inference_service(
            "s", NAMESPACE, model="m", version=1, version_uri="/tmp/store/models/m/1/", alias=STAGING
        )


# -- RBAC: exactly the calls the adapter makes --------------------------------------------------


def _granted(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_rbac_grants_exactly_the_calls_the_kserve_adapter_makes(rendered, name):
    role = _find(rendered[name], "Role", "shipyard-inferenceservice-deployer")
    assert _granted(role) == set(CALLS)


def test_the_rbac_file_is_the_one_role(rendered):
    docs = [d for d in yaml.safe_load_all((MANIFESTS / "base" / "rbac.yaml").read_text(encoding="utf-8")) if d]
    assert sorted(d["kind"] for d in docs) == ["Role"]  # bound per install mode (standalone-kfp, multi-user)


def test_the_only_service_account_is_kserves_and_it_mounts_no_token(rendered):
    accounts = {o["metadata"]["name"]: o for o in rendered["base"] if o["kind"] == "ServiceAccount"}
    # Pipeline pods run as KFP's pipeline-runner / default-editor; model servers never call the API.
    assert set(accounts) == {KSERVE_SA}
    assert accounts[KSERVE_SA]["automountServiceAccountToken"] is False
