"""The committed IR YAML is what the code compiles to; every executor runs the project image.

Regenerate after an intended change with `shipyard compile --out pipelines/compiled`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shipyard._image import IMAGE_REPOSITORY, default_image
from shipyard.adapters.kfp_compile import compile_all
from shipyard.pipelines import pipelines

COMPILED = Path(__file__).resolve().parents[2] / "pipelines" / "compiled"
_IMAGE_TAG = re.compile(re.escape(IMAGE_REPOSITORY) + r":[\w.+-]+")


def normalise(text: str) -> list:
    """Parses the YAML documents, dropping only fields allowed to change: sdkVersion and image tags."""
    docs = list(yaml.safe_load_all(_IMAGE_TAG.sub(f"{IMAGE_REPOSITORY}:TAG", text)))
    for doc in docs:
        if isinstance(doc, dict):
            doc.pop("sdkVersion", None)
    return docs


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict[str, Path]:
    return compile_all(tmp_path_factory.mktemp("compiled"))


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_committed_yaml_matches_a_fresh_compile(name: str, fresh: dict[str, Path]):
    committed = COMPILED / f"{name}.yaml"
    assert committed.exists(), f"{committed} is missing: run `shipyard compile --out pipelines/compiled`"
    assert normalise(committed.read_text()) == normalise(fresh[name].read_text()), (
        f"{committed} is stale: run `shipyard compile --out pipelines/compiled` and review the diff"
    )


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_every_executor_runs_the_project_image(name: str):
    spec = next(yaml.safe_load_all((COMPILED / f"{name}.yaml").read_text()))
    executors = spec["deploymentSpec"]["executors"]
    assert executors
    images = {exec_name: e["container"]["image"] for exec_name, e in executors.items()}
    assert set(images.values()) == {default_image()}, images
    for exec_name, executor in executors.items():
        command = " ".join(executor["container"]["command"])
        assert "pip install" not in command, f"{exec_name} installs packages at run time"


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_credentials_come_from_a_secret_never_from_parameters(name: str):
    text = (COMPILED / f"{name}.yaml").read_text()
    docs = list(yaml.safe_load_all(text))
    spec = docs[0]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert not [p for p in params if re.search(r"secret|password|access_key|token", p, re.I)]
    platform = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for executor in platform.values():
        for secret in executor.get("secretAsEnv", []):
            if secret["secretName"] == "shipyard-alert-webhook":  # the alert URL: optional, one key only
                assert secret.get("optional") is True
                assert [m["envVar"] for m in secret["keyToEnv"]] == ["SHIPYARD_ALERT_WEBHOOK_URL"]
                continue
            assert secret["secretName"] == "shipyard-s3-credentials" or secret.get("secretNameParameter")
    storage_steps = {
        "training": {"exec-register-model", "exec-promote-production", "exec-deploy-staging", "exec-gate-challenger"},
        "monitoring": {"exec-monitor-model", "exec-build-retraining-data", "exec-register-model"},
        "segments": {"exec-plan-segments", "exec-deliver-segment"},
    }[name]
    assert storage_steps <= set(platform), "every step that writes the registry gets the store credentials"
    alerting = {"exec-record-outcome"} | {
        "monitoring": {"exec-send-monitoring-alert"},
        "segments": {"exec-deliver-segment"},  # a failed segment alerts for its own model
    }.get(name, set())
    for step in alerting:
        assert any(s["secretName"] == "shipyard-alert-webhook" for s in platform[step].get("secretAsEnv", [])), step
    assert "webhook" not in " ".join(params).lower(), "the webhook URL is a credential, never a parameter"


def _tasks(spec: dict):
    yield from spec["root"]["dag"]["tasks"].items()
    for component in spec["components"].values():
        yield from component.get("dag", {}).get("tasks", {}).items()


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_no_step_is_served_from_the_cache(name: str):
    """Data at one URI changes between runs, and registry writes must never be skipped."""
    spec = next(yaml.safe_load_all((COMPILED / f"{name}.yaml").read_text()))
    cached = [
        task
        for task, body in _tasks(spec)
        if body.get("componentRef") and body.get("cachingOptions", {}).get("enableCache")
    ]
    assert not cached, f"steps with caching on: {cached}"


@pytest.mark.parametrize("name", sorted(pipelines()))
def test_the_run_id_comes_from_the_run_uuid_not_its_display_name(name: str):
    """KFP fills the job-name placeholder with the display name ("Run of …"), which repeats."""
    text = (COMPILED / f"{name}.yaml").read_text()
    spec = next(yaml.safe_load_all(text))
    tasks = dict(_tasks(spec))
    for task in ("plan-segments", "record-outcome") if name == "segments" else ("ingest-data", "record-outcome"):
        params = tasks[task]["inputs"]["parameters"]
        assert params["pipeline_job_id"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}"
