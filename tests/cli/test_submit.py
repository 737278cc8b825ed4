"""`shipyard upload`, `submit` and `runs` against the local KFP v2beta1 stand-in (tests/support/kfp_api.py).

The commands go through the real kfp.Client and kfp_server_api over HTTP; the stand-in checks every
request body against kfp_server_api's models. What these tests cannot show: that a real cluster runs
the pipeline, authorizes the same way, or answers every error exactly like the stand-in (see its docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from tests.unit.test_pipeline_ir import TYPED_YAML


@pytest.fixture
def typed_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "typed.yaml"
    path.write_text(TYPED_YAML)
    return path


def shipyard(*args: str, host: str | None = None, env: dict[str, str] | None = None):
    full = [*args, "--host", host] if host else list(args)
    return CliRunner().invoke(main, full, catch_exceptions=False, env=env)


def one_json(result) -> dict:
    return json.loads(result.stdout)


def test_upload_creates_then_changes_nothing_then_adds_a_version_for_new_content(kfp_api, typed_yaml):
    first = shipyard("upload", str(typed_yaml), "--json", host=kfp_api.url)
    assert first.exit_code == 0, first.output
    created = one_json(first)
    assert (created["status"], created["changed"], created["pipeline"]) == ("created", True, "typed")
    assert created["version"].startswith("typed-")

    again = shipyard("upload", str(typed_yaml), host=kfp_api.url)
    assert again.exit_code == 0
    assert f"unchanged: typed version {created['version']} is already on {kfp_api.url}" in again.stdout
    assert [v["name"] for v in kfp_api.pipeline_versions()] == [created["version"]]
    assert not [call for call in kfp_api.calls("POST")[2:]], "the second upload must not write anything"

    typed_yaml.write_text(TYPED_YAML.replace("defaultValue: 0.5", "defaultValue: 0.25"))
    changed = one_json(shipyard("upload", str(typed_yaml), "--json", host=kfp_api.url))
    assert (changed["status"], changed["pipeline_id"]) == ("uploaded", created["pipeline_id"])
    assert changed["version"] != created["version"]
    assert len(kfp_api.pipelines()) == 1 and len(kfp_api.pipeline_versions()) == 2
    stored = kfp_api.pipeline_versions()[1]
    assert stored["pipeline_spec"]["root"]["inputDefinitions"]["parameters"]["rate"]["defaultValue"] == 0.25


def test_upload_by_pipeline_name_compiles_it_with_its_platform_spec(kfp_api):
    result = shipyard("upload", "monitoring", "--json", host=kfp_api.url)
    assert result.exit_code == 0, result.output
    assert one_json(result)["pipeline"] == "shipyard-monitoring"
    stored = kfp_api.pipeline_versions()[0]["pipeline_spec"]
    assert stored["pipeline_spec"]["pipelineInfo"]["name"] == "shipyard-monitoring"
    assert "kubernetes" in stored["platform_spec"]["platforms"]


def test_submit_refuses_unknown_or_mistyped_parameters_before_any_request(kfp_api, typed_yaml):
    result = shipyard("submit", str(typed_yaml), "--param", "cuont=3", "--param", "rate=fast", host=kfp_api.url)
    assert result.exit_code == 1
    assert "no parameter 'cuont'" in result.stderr and "expected a number, got 'fast'" in result.stderr
    assert kfp_api.requests == []


def test_submit_uploads_if_needed_runs_with_typed_parameters_and_waits_for_success(kfp_api, typed_yaml):
    kfp_api.script_run_states("RUNNING", "RUNNING", "SUCCEEDED")
    result = shipyard(
        "submit",
        str(typed_yaml),
        "--param",
        "count=3",
        "--param",
        "flag=false",
        "--experiment",
        "nightly",
        "--wait",
        "--poll-interval",
        "0",
        "--json",
        host=kfp_api.url,
    )
    assert result.exit_code == 0, result.output
    outcome = one_json(result)
    assert (outcome["status"], outcome["state"]) == ("succeeded", "SUCCEEDED")
    assert outcome["parameters"] == {"count": 3, "flag": False}
    assert "uploaded typed version" in result.stderr
    assert f"run {outcome['run_id']}: RUNNING after" in result.stderr
    assert f"run {outcome['run_id']}: SUCCEEDED after" in result.stderr
    (run,) = kfp_api.runs()
    assert run["runtime_config"]["parameters"] == {"count": 3, "flag": False}
    assert (
        run["pipeline_version_reference"]["pipeline_version_id"]
        == kfp_api.pipeline_versions()[0]["pipeline_version_id"]
    )
    nightly = [e for e in kfp_api.experiments() if e["display_name"] == "nightly"]
    assert run["experiment_id"] == nightly[0]["experiment_id"]

    again = shipyard("submit", str(typed_yaml), "--param", "count=4", host=kfp_api.url)
    assert again.exit_code == 0 and "uploaded" not in again.stderr  # same content: no new version
    assert len(kfp_api.pipeline_versions()) == 1 and len(kfp_api.runs()) == 2
    assert again.stdout.strip().endswith("PENDING")


@pytest.mark.parametrize("final", ["FAILED", "CANCELED"])
def test_submit_wait_exits_1_when_the_run_does_not_succeed(kfp_api, typed_yaml, final):
    kfp_api.script_run_states("RUNNING", final)
    result = shipyard(
        "submit", str(typed_yaml), "--param", "count=1", "--wait", "--poll-interval", "0", host=kfp_api.url
    )
    assert result.exit_code == 1
    assert result.stdout.strip().endswith(final)
    assert f": {final} after" in result.stderr


def test_submit_wait_gives_up_after_the_timeout_and_says_how_to_follow_the_run(kfp_api, typed_yaml):
    kfp_api.script_run_states("RUNNING")
    result = shipyard(
        "submit",
        str(typed_yaml),
        "--param",
        "count=1",
        "--wait",
        "--timeout",
        "0.2",
        "--poll-interval",
        "0.05",
        "--json",
        host=kfp_api.url,
    )
    assert result.exit_code == 1
    (run,) = kfp_api.runs()
    error = one_json(result)
    assert error["status"] == "error"
    assert "still RUNNING after 0.2s" in error["error"] and f"shipyard runs get {run['run_id']}" in error["error"]


def test_submit_a_version_already_on_the_server_typed_from_that_version(kfp_api, typed_yaml):
    assert shipyard("upload", str(typed_yaml), host=kfp_api.url).exit_code == 0
    newest = one_json(shipyard("upload", str(typed_yaml), "--json", host=kfp_api.url))["version"]
    # The local file now declares no 'count'; the server's version does, so it is accepted with --version.
    typed_yaml.write_text(
        TYPED_YAML.replace("count: {parameterType: NUMBER_INTEGER}", "other: {parameterType: STRING}")
    )
    for version in ("latest", newest):
        result = shipyard(
            "submit", str(typed_yaml), "--version", version, "--param", "count=2", "--json", host=kfp_api.url
        )
        assert result.exit_code == 0, result.output
        assert one_json(result)["version"] == newest and one_json(result)["status"] == "submitted"
    assert len(kfp_api.pipeline_versions()) == 1  # --version never uploads

    missing = shipyard(
        "submit", str(typed_yaml), "--version", "typed-000000000000", "--param", "count=2", host=kfp_api.url
    )
    assert missing.exit_code == 1 and "has no version 'typed-000000000000'" in missing.stderr


def test_submit_of_a_pipeline_the_server_does_not_have_says_to_upload_it(kfp_api, typed_yaml):
    result = shipyard("submit", str(typed_yaml), "--version", "latest", host=kfp_api.url)
    assert result.exit_code == 1
    assert f"no pipeline 'typed' on {kfp_api.url}: upload it with `shipyard upload` first" in result.stderr
    assert kfp_api.runs() == []


def test_runs_list_and_get_as_a_table_and_as_json(kfp_api, typed_yaml):
    for count in ("1", "2"):
        shipyard(
            "submit",
            str(typed_yaml),
            "--param",
            f"count={count}",
            "--run-name",
            f"run-{count}",
            "--experiment",
            "exp",
            host=kfp_api.url,
        )
    shipyard("submit", str(typed_yaml), "--param", "count=3", "--run-name", "elsewhere", host=kfp_api.url)
    first, second, _ = kfp_api.runs()
    kfp_api.set_run_state(first["run_id"], "FAILED", error="step train failed")

    table = shipyard("runs", "list", "--experiment", "exp", host=kfp_api.url)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["RUN", "ID", "STATE", "CREATED", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == [second["run_id"], first["run_id"]]  # newest first
    assert "FAILED" in lines[2] and lines[2].endswith("run-1")

    listed = one_json(shipyard("runs", "list", "--limit", "1", "--json", host=kfp_api.url))
    assert [run["name"] for run in listed["runs"]] == ["elsewhere"]

    shown = shipyard("runs", "get", first["run_id"], host=kfp_api.url)
    assert "state      FAILED: step train failed" in shown.stdout and "count = 1" in shown.stdout
    detail = one_json(shipyard("runs", "get", first["run_id"], "--json", host=kfp_api.url))
    assert (detail["state"], detail["error"], detail["parameters"]) == ("FAILED", "step train failed", {"count": 1})
    assert [step["state"] for step in detail["state_history"]] == ["PENDING", "FAILED"]

    unknown = shipyard("runs", "get", "0f6b7d0e-0000-4000-8000-000000000000", host=kfp_api.url)
    assert unknown.exit_code == 1 and "no run 0f6b7d0e-0000-4000-8000-000000000000" in unknown.stderr
    no_experiment = shipyard("runs", "list", "--experiment", "absent", host=kfp_api.url)
    assert no_experiment.exit_code == 1 and "no experiment 'absent'" in no_experiment.stderr


def test_a_token_from_the_environment_is_sent_and_refusals_are_explained(kfp_api):
    kfp_api.require_token("s3cret")
    refused = shipyard("runs", "list", host=kfp_api.url)
    assert refused.exit_code == 1
    assert "401 Unauthorized" in refused.stderr and "SHIPYARD_KFP_TOKEN" in refused.stderr
    wrong = shipyard("runs", "list", "--namespace", "team-a", host=kfp_api.url, env={"SHIPYARD_KFP_TOKEN": "nope"})
    assert wrong.exit_code == 1 and "403 Forbidden in namespace 'team-a'" in wrong.stderr
    allowed = shipyard("runs", "list", host=kfp_api.url, env={"SHIPYARD_KFP_TOKEN": "s3cret"})
    assert allowed.exit_code == 0 and "no runs on" in allowed.stdout
    assert {request.headers.get("authorization") for request in kfp_api.requests[-2:]} == {"Bearer s3cret"}
    ignored = shipyard("runs", "list", "--auth", "none", host=kfp_api.url, env={"SHIPYARD_KFP_TOKEN": "s3cret"})
    assert ignored.exit_code == 1 and "401" in ignored.stderr


def test_a_login_page_behind_a_redirect_is_reported_not_read_as_an_empty_answer(kfp_api, typed_yaml):
    """Multi-user Kubeflow behind oauth2-proxy/Dex redirects unauthenticated calls to an HTML login page."""
    kfp_api.require_token("s3cret", login_redirect=True)
    for args in (["runs", "list"], ["runs", "list", "--namespace", "team-a"], ["upload", str(typed_yaml)]):
        result = shipyard(*args, host=kfp_api.url)
        assert result.exit_code == 1, result.output
        assert "with text/html, not the API's JSON" in result.stderr and "SHIPYARD_KFP_TOKEN" in result.stderr
    assert kfp_api.pipelines() == []
    allowed = shipyard("upload", str(typed_yaml), host=kfp_api.url, env={"SHIPYARD_KFP_TOKEN": "s3cret"})
    assert allowed.exit_code == 0, allowed.output


def write_kubeconfig(path: Path, server: str, user: dict) -> Path:
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


def test_auth_kubeconfig_sends_the_contexts_bearer_token(kfp_api, tmp_path):
    kfp_api.require_token("from-kubeconfig")
    kubeconfig = write_kubeconfig(tmp_path / "config", "https://k8s.invalid", {"token": "from-kubeconfig"})
    result = shipyard("runs", "list", "--auth", "kubeconfig", host=kfp_api.url, env={"KUBECONFIG": str(kubeconfig)})
    assert result.exit_code == 0, result.output

    no_token = write_kubeconfig(tmp_path / "certs", "https://k8s.invalid", {"username": "u", "password": "p"})
    refused = shipyard("runs", "list", "--auth", "kubeconfig", host=kfp_api.url, env={"KUBECONFIG": str(no_token)})
    assert refused.exit_code == 1 and "has no bearer token" in refused.stderr


def test_auth_serviceaccount_reads_the_projected_token_file(kfp_api, tmp_path):
    kfp_api.require_token("projected")
    token = tmp_path / "token"
    token.write_text("projected\n")
    env = {"KF_PIPELINES_SA_TOKEN_PATH": str(token)}
    assert shipyard("runs", "list", host=kfp_api.url, env=env).exit_code == 0  # auto finds the file
    missing = shipyard(
        "runs",
        "list",
        "--auth",
        "serviceaccount",
        host=kfp_api.url,
        env={"KF_PIPELINES_SA_TOKEN_PATH": str(tmp_path / "absent")},
    )
    assert missing.exit_code == 1 and "no service-account token at" in missing.stderr


def test_an_unreachable_host_is_one_clear_line(typed_yaml):
    result = shipyard("upload", str(typed_yaml), host="http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "cannot reach Kubeflow Pipelines at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_pipeline_name_or_file_is_refused_before_any_request(kfp_api):
    result = shipyard("upload", "trainign", host=kfp_api.url)
    assert result.exit_code == 1
    assert "no pipeline 'trainign': pass one of monitoring, segments, training" in result.stderr
    assert kfp_api.requests == []


@pytest.mark.parametrize("command", [["upload"], ["submit"], ["runs"], ["runs", "list"], ["runs", "get"]])
def test_each_command_has_help_with_examples(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output


def test_upload_and_submit_compile_with_a_resources_file(kfp_api, tmp_path):
    settings = tmp_path / "resources.yaml"
    settings.write_text("components: {monitor-model: {memory_limit: 3Gi}}\n")
    plain = one_json(shipyard("upload", "monitoring", "--json", host=kfp_api.url))
    result = shipyard("upload", "monitoring", "--resources", str(settings), "--json", host=kfp_api.url)
    assert result.exit_code == 0, result.output
    uploaded = one_json(result)
    assert uploaded["status"] == "uploaded" and uploaded["version"] != plain["version"]
    stored = kfp_api.pipeline_versions()[-1]["pipeline_spec"]["pipeline_spec"]
    executor = stored["deploymentSpec"]["executors"]["exec-monitor-model"]
    assert executor["container"]["resources"]["resourceMemoryLimit"] == "3Gi"

    submitted = shipyard(
        "submit", "monitoring", "--resources", str(settings), "--json",
        "--param", "data_uri=s3://b/new.csv", "--param", "model_name=churn",
        host=kfp_api.url,
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    assert one_json(submitted)["version"] == uploaded["version"]  # same content: no third version
    assert len(kfp_api.pipeline_versions()) == 2


def test_resources_cannot_change_an_already_compiled_file(kfp_api, typed_yaml, tmp_path):
    settings = tmp_path / "resources.yaml"
    settings.write_text("components: {monitor-model: {memory_limit: 3Gi}}\n")
    for command in ("upload", "submit"):
        result = shipyard(command, str(typed_yaml), "--resources", str(settings), host=kfp_api.url)
        assert result.exit_code == 1
        assert "--resources applies when shipyard compiles" in result.stderr
    assert kfp_api.requests == []


def test_upload_and_compile_kubernetes_manifests_name_the_same_ir_the_same_way(kfp_api, tmp_path):
    out = tmp_path / "compiled"
    compiled = CliRunner().invoke(main, ["compile", "--out", str(out), "--kubernetes-manifests", "--json"])
    assert compiled.exit_code == 0, compiled.output
    manifests = json.loads(compiled.stdout)["kubernetes"]
    for name in ("training", "monitoring"):
        uploaded = one_json(shipyard("upload", str(out / f"{name}.yaml"), "--json", host=kfp_api.url))
        assert uploaded["version"] == manifests[name]["version"], name
        by_name = one_json(shipyard("upload", name, "--json", host=kfp_api.url))
        assert (by_name["status"], by_name["version"]) == ("unchanged", manifests[name]["version"]), name
