"""The KFP v2beta1 stand-in, driven through the real ``kfp.Client`` and ``kfp_server_api``.

These tests pin the behaviour other tests rely on (ids, 404/409, recurring runs immutable, strict bodies);
they cannot prove the real server behaves the same — see the stand-in's docstring for what it checks.
"""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path

import pytest
import urllib3

from tests.support.kfp_api import KfpApiStandIn

PIPELINE_YAML = """\
pipelineInfo:
  name: tiny
root:
  inputDefinitions:
    parameters:
      n: {parameterType: NUMBER_INTEGER}
schemaVersion: 2.1.0
sdkVersion: kfp-2.17.3
"""


def client_for(stand_in: KfpApiStandIn, token: str | None = None, namespace: str = "kubeflow"):
    import kfp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=stand_in.url, existing_token=token, namespace=namespace)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(PIPELINE_YAML)
    return path


def status_of(call) -> int:
    import kfp_server_api

    with pytest.raises(kfp_server_api.ApiException) as caught:
        call()
    return int(caught.value.status)


def test_upload_pipeline_and_versions_with_uuid_ids_and_409_on_duplicate_names(kfp_api, package):
    client = client_for(kfp_api)
    pipeline = client.upload_pipeline(str(package), pipeline_name="tiny")
    uuid.UUID(pipeline.pipeline_id)
    assert pipeline.display_name == "tiny"
    assert [v["name"] for v in kfp_api.pipeline_versions(pipeline.pipeline_id)] == ["tiny"]

    version = client.upload_pipeline_version(str(package), "v2", pipeline_id=pipeline.pipeline_id)
    uuid.UUID(version.pipeline_version_id)
    assert version.pipeline_spec["pipelineInfo"]["name"] == "tiny"
    assert client.get_pipeline_id("tiny") == pipeline.pipeline_id
    assert client.get_pipeline_id("absent") is None

    assert status_of(lambda: client.upload_pipeline(str(package), pipeline_name="tiny")) == 409
    assert (
        status_of(lambda: client.upload_pipeline_version(str(package), "v2", pipeline_id=pipeline.pipeline_id)) == 409
    )
    # The real upload server answers 400, not 404, for an unknown pipeline id.
    assert status_of(lambda: client.upload_pipeline_version(str(package), "v3", pipeline_id=str(uuid.uuid4()))) == 400
    listed = client.list_pipeline_versions(pipeline.pipeline_id, sort_by="created_at desc")
    assert [v.name for v in listed.pipeline_versions] == ["v2", "tiny"]
    assert status_of(lambda: client.get_pipeline(str(uuid.uuid4()))) == 404


def test_upload_refuses_a_file_that_is_not_a_pipeline_spec(kfp_api, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: a mapping\n")
    assert status_of(lambda: client_for(kfp_api).upload_pipeline(str(bad), pipeline_name="bad")) == 400
    assert kfp_api.pipelines() == []


def test_experiments_default_exists_and_names_are_unique(kfp_api):
    client = client_for(kfp_api)
    assert [e["display_name"] for e in kfp_api.experiments()] == ["Default"]
    created = client.create_experiment("nightly")
    again = client.create_experiment("nightly")  # kfp.Client looks it up by name first
    assert again.experiment_id == created.experiment_id
    assert (
        status_of(
            lambda: client._experiment_api.experiment_service_create_experiment(experiment={"display_name": "nightly"})
        )
        == 409
    )
    assert status_of(lambda: client.get_experiment(experiment_id=str(uuid.uuid4()))) == 404


def test_runs_are_created_pending_listed_and_their_state_set_by_the_test(kfp_api, package):
    client = client_for(kfp_api)
    pipeline = client.upload_pipeline(str(package), pipeline_name="tiny")
    version_id = kfp_api.pipeline_versions(pipeline.pipeline_id)[0]["pipeline_version_id"]
    experiment = client.create_experiment("exp")
    run = client.run_pipeline(
        experiment.experiment_id, "first", params={"n": 3}, pipeline_id=pipeline.pipeline_id, version_id=version_id
    )
    uuid.UUID(run.run_id)
    assert run.state == "PENDING"
    assert run.runtime_config.parameters == {"n": 3}
    kfp_api.set_run_state(run.run_id, "FAILED", error="boom")
    fetched = client.get_run(run.run_id)
    assert (fetched.state, fetched.error.message) == ("FAILED", "boom")
    assert [s.state for s in fetched.state_history] == ["PENDING", "FAILED"]
    assert fetched.finished_at is not None

    kfp_api.script_run_states("RUNNING", "SUCCEEDED")
    second = client.run_pipeline(
        experiment.experiment_id, "second", pipeline_id=pipeline.pipeline_id, version_id=version_id
    )
    assert [client.get_run(second.run_id).state for _ in range(3)] == ["RUNNING", "SUCCEEDED", "SUCCEEDED"]

    listed = client.list_runs(experiment_id=experiment.experiment_id, sort_by="created_at desc", page_size=1)
    assert [r.display_name for r in listed.runs] == ["second"]
    assert listed.total_size == 2
    rest = client.list_runs(
        experiment_id=experiment.experiment_id,
        sort_by="created_at desc",
        page_size=1,
        page_token=listed.next_page_token,
    )
    assert [r.display_name for r in rest.runs] == ["first"] and not rest.next_page_token
    assert status_of(lambda: client.get_run(str(uuid.uuid4()))) == 404
    # A run of a version that does not exist is refused.
    assert (
        status_of(
            lambda: client.run_pipeline(
                experiment.experiment_id, "x", pipeline_id=pipeline.pipeline_id, version_id=str(uuid.uuid4())
            )
        )
        == 404
    )


def test_recurring_runs_create_get_list_enable_disable_delete(kfp_api, package):
    client = client_for(kfp_api)
    pipeline = client.upload_pipeline(str(package), pipeline_name="tiny")
    version_id = kfp_api.pipeline_versions(pipeline.pipeline_id)[0]["pipeline_version_id"]
    experiment = client.create_experiment("schedules")
    created = client.create_recurring_run(
        experiment.experiment_id,
        "nightly",
        cron_expression="0 0 2 * * *",
        max_concurrency=2,
        no_catchup=True,
        params={"n": 1},
        pipeline_id=pipeline.pipeline_id,
        version_id=version_id,
    )
    uuid.UUID(created.recurring_run_id)
    assert (created.status, created.mode, created.max_concurrency) == ("ENABLED", "ENABLE", "2")
    assert created.trigger.cron_schedule.cron == "0 0 2 * * *"
    assert created.no_catchup is True

    client.disable_recurring_run(created.recurring_run_id)
    assert client.get_recurring_run(created.recurring_run_id).status == "DISABLED"
    client.enable_recurring_run(created.recurring_run_id)
    assert client.get_recurring_run(created.recurring_run_id).status == "ENABLED"

    # Names need not be unique (the real job table has no unique index on them).
    client.create_recurring_run(
        experiment.experiment_id,
        "nightly",
        interval_second=3600,
        pipeline_id=pipeline.pipeline_id,
        version_id=version_id,
    )
    listed = client.list_recurring_runs(experiment_id=experiment.experiment_id)
    assert [r.display_name for r in listed.recurring_runs] == ["nightly", "nightly"]
    assert listed.recurring_runs[1].trigger.periodic_schedule.interval_second == "3600"

    triggered = kfp_api.trigger_recurring_run(created.recurring_run_id)
    fetched = client.get_run(triggered["run_id"])
    assert (fetched.recurring_run_id, fetched.state) == (created.recurring_run_id, "PENDING")
    assert fetched.runtime_config.parameters == {"n": 1}

    client.delete_recurring_run(created.recurring_run_id)
    assert [r["recurring_run_id"] for r in kfp_api.recurring_runs()] == [listed.recurring_runs[1].recurring_run_id]
    for call in (
        lambda: client.get_recurring_run(created.recurring_run_id),
        lambda: client.delete_recurring_run(created.recurring_run_id),
        lambda: client.enable_recurring_run(created.recurring_run_id),
        lambda: client.disable_recurring_run(created.recurring_run_id),
    ):
        assert status_of(call) == 404


def test_recurring_runs_are_immutable_and_validated_like_the_real_server(kfp_api, package):
    client = client_for(kfp_api)
    pipeline = client.upload_pipeline(str(package), pipeline_name="tiny")
    version_id = kfp_api.pipeline_versions(pipeline.pipeline_id)[0]["pipeline_version_id"]
    experiment_id = kfp_api.default_experiment_id
    existing = client.create_recurring_run(
        experiment_id, "r", cron_expression="0 0 * * * *", pipeline_id=pipeline.pipeline_id, version_id=version_id
    )

    http = urllib3.PoolManager()
    for method in ("PATCH", "PUT"):
        response = http.request(
            method,
            f"{kfp_api.url}/apis/v2beta1/recurringruns/{existing.recurring_run_id}",
            body=json.dumps({"display_name": "renamed"}),
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 405
    assert client.get_recurring_run(existing.recurring_run_id).display_name == "r"

    def create(**kwargs):
        base = dict(
            experiment_id=experiment_id, job_name="bad", pipeline_id=pipeline.pipeline_id, version_id=version_id
        )
        return lambda: client.create_recurring_run(**{**base, **kwargs})

    assert status_of(create(cron_expression="0 0 * *")) == 400  # too few fields
    assert status_of(create(cron_expression="0 0 2 * * * *")) == 400  # too many fields
    assert status_of(create(cron_expression="0 0 * * * *", max_concurrency=11)) == 400
    assert status_of(create(cron_expression="0 0 * * * *", max_concurrency=0)) == 400
    assert status_of(create(cron_expression="0 0 * * * *", version_id=str(uuid.uuid4()))) == 404
    assert len(kfp_api.recurring_runs()) == 1


def test_malformed_bodies_are_refused_and_recorded_for_the_fixture_to_fail_the_test(kfp_api):
    http = urllib3.PoolManager()

    def post(path: str, body: dict) -> int:
        return http.request(
            "POST", kfp_api.url + path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        ).status

    assert post("/apis/v2beta1/experiments", {"display_name": "x", "colour": "red"}) == 400  # unknown field
    assert post("/apis/v2beta1/experiments", {"description": "no name"}) == 400  # missing required field
    assert post("/apis/v2beta1/runs", {"display_name": 7}) == 400  # wrong type
    assert (
        post(
            "/apis/v2beta1/recurringruns", {"display_name": "r", "trigger": {"cron_schedule": {}}, "mode": "SOMETIMES"}
        )
        == 400
    )  # not an enum value
    assert post("/apis/v2beta1/runs", {"display_name": "r", "run_id": "mine"}) == 400  # output-only field
    errors = kfp_api.take_protocol_errors()
    assert len(errors) == 5
    assert "unknown field 'colour'" in errors[0] and "'display_name' is missing" in errors[1]
    assert kfp_api.take_protocol_errors() == []
    assert [e["display_name"] for e in kfp_api.experiments()] == ["Default"]


def test_bearer_token_401_without_and_403_with_a_wrong_one(kfp_api):
    kfp_api.require_token("s3cret")
    # A namespace keeps kfp.Client from asking /healthz (with five retries 5 s apart) on construction.
    assert status_of(lambda: client_for(kfp_api, namespace="team-a").list_experiments()) == 401
    assert status_of(lambda: client_for(kfp_api, token="wrong", namespace="team-a").list_experiments()) == 403
    assert client_for(kfp_api, token="s3cret", namespace="team-a").list_experiments().total_size == 1
    assert kfp_api.requests[-1].headers["authorization"] == "Bearer s3cret"


def test_filters_and_sorting_on_unsupported_operations_or_fields_are_refused_not_ignored(kfp_api):
    client = client_for(kfp_api)
    bad = json.dumps({"predicates": [{"operation": "GREATER_THAN", "key": "created_at", "stringValue": "x"}]})
    assert status_of(lambda: client.list_runs(filter=bad)) == 400
    # Only the fields the real server maps (APIToModelFieldMap) can be filtered or sorted on.
    unknown = json.dumps({"predicates": [{"operation": "EQUALS", "key": "colour", "stringValue": "x"}]})
    assert status_of(lambda: client.list_recurring_runs(filter=unknown)) == 400
    assert status_of(lambda: client.list_runs(sort_by="colour desc")) == 400
    # v2beta1 experiments answer to "name" and "display_name" alike (both map to the Name column).
    client.create_experiment("nightly")
    by_name = json.dumps({"predicates": [{"operation": "EQUALS", "key": "name", "string_value": "nightly"}]})
    assert [e.display_name for e in client.list_experiments(filter=by_name).experiments] == ["nightly"]


def test_a_pipeline_with_a_platform_spec_is_stored_as_the_real_server_answers_it(kfp_api, tmp_path):
    """kfp-kubernetes settings compile into a second YAML document; the server returns both as one struct."""
    package = tmp_path / "with-platform.yaml"
    package.write_text(PIPELINE_YAML + "---\nplatforms:\n  kubernetes:\n    deploymentSpec: {}\n")
    client = client_for(kfp_api)
    pipeline = client.upload_pipeline(str(package), pipeline_name="tiny")
    version_id = kfp_api.pipeline_versions(pipeline.pipeline_id)[0]["pipeline_version_id"]
    stored = client.get_pipeline_version(pipeline.pipeline_id, version_id).pipeline_spec
    assert stored["pipeline_spec"]["pipelineInfo"]["name"] == "tiny"
    assert stored["platform_spec"] == {"platforms": {"kubernetes": {"deploymentSpec": {}}}}
