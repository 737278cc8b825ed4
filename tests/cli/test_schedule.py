"""`shipyard schedule apply|list` end to end through kfp.Client, against the local KFP REST stand-in.

No KFP API server can run here, so these tests use ``tests/support/kfp_api.py``: a real HTTP server
speaking KFP's v2beta1 REST protocol, which checks every request body against kfp_server_api's models
(the fixture fails a test that sent a malformed one) and, like KFP, has no update endpoint for
recurring runs. What it cannot show: that KFP's ScheduledWorkflow controller then starts runs at the
cron times, multi-user namespaces and authorization, or cron field values beyond their shape (shipyard
checks those itself, before any call).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from shipyard.cli.main import main
from shipyard.schedules import load_schedules, read_marker

ROOT = Path(__file__).resolve().parents[2]
COMPILED = ROOT / "pipelines" / "compiled"
EXAMPLES = ROOT / "schedules"
WRITES = ("POST", "DELETE", "PATCH", "PUT")


def upload(api: Any, pipeline: str, version: str | None = None) -> str:
    """Uploads the compiled pipeline (a new version when it exists); returns the version id."""
    import kfp

    client = kfp.Client(host=api.url)
    path = str(COMPILED / f"{pipeline.removeprefix('shipyard-')}.yaml")
    pipeline_id = client.get_pipeline_id(pipeline)
    if pipeline_id is None:
        client.upload_pipeline(path, pipeline_name=pipeline)
        pipeline_id = client.get_pipeline_id(pipeline)
        return str(api.pipeline_versions(pipeline_id)[-1]["pipeline_version_id"])
    created = client.upload_pipeline_version(path, pipeline_version_name=version, pipeline_id=pipeline_id)
    return str(created.pipeline_version_id)


def apply(api: Any, path: Path, *options: str) -> Result:
    return CliRunner().invoke(main, ["schedule", "apply", str(path), "--host", api.url, *options])


def by_name(api: Any) -> dict[str, dict[str, Any]]:
    return {run["display_name"]: run for run in api.recurring_runs()}


def writes(api: Any) -> list[str]:
    return [call for call in api.calls() if call.split()[0] in WRITES]


@pytest.fixture
def stand_in(kfp_api: Any) -> Any:
    """The stand-in with both shipyard pipelines uploaded (one version each)."""
    upload(kfp_api, "shipyard-training")
    upload(kfp_api, "shipyard-monitoring")
    return kfp_api


@pytest.fixture
def schedules_dir(tmp_path: Path) -> Path:
    """A copy of the shipped example schedules, for tests that edit them."""
    folder = tmp_path / "schedules"
    shutil.copytree(EXAMPLES, folder)
    return folder


def test_apply_creates_the_example_schedules_as_declared(stand_in: Any) -> None:
    result = apply(stand_in, EXAMPLES)
    assert result.exit_code == 0, result.output
    runs = by_name(stand_in)
    assert set(runs) == {"churn-nightly-training", "churn-hourly-monitoring"}
    (declared,) = load_schedules(EXAMPLES / "training.yaml")
    run = runs["churn-nightly-training"]
    assert run["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert (run["max_concurrency"], run["no_catchup"], run["status"]) == ("1", True, "ENABLED")
    assert run["runtime_config"]["parameters"] == declared.parameters
    training = next(p for p in stand_in.pipelines() if p["name"] == "shipyard-training")
    assert run["pipeline_version_reference"] == {
        "pipeline_id": training["pipeline_id"],
        "pipeline_version_id": stand_in.pipeline_versions(training["pipeline_id"])[0]["pipeline_version_id"],
    }
    experiment = next(e for e in stand_in.experiments() if e["display_name"] == "churn")
    assert run["experiment_id"] == experiment["experiment_id"]  # created on first use
    marker = read_marker(run["description"])
    assert marker is not None and marker.schedule == "churn-nightly-training"
    assert run["description"].startswith(declared.description)
    assert "created        churn-nightly-training" in result.output
    assert result.output.rstrip().endswith("2 created, 0 replaced, 0 kept, 0 pruned")


def test_applying_the_same_file_twice_changes_nothing(stand_in: Any) -> None:
    assert apply(stand_in, EXAMPLES).exit_code == 0
    before = stand_in.recurring_runs()
    written = len(writes(stand_in))
    result = apply(stand_in, EXAMPLES, "--prune")
    assert result.exit_code == 0, result.output
    assert writes(stand_in)[written:] == []
    assert stand_in.recurring_runs() == before
    assert result.output.rstrip().endswith("0 created, 0 replaced, 2 kept, 0 pruned")


def test_a_changed_cron_replaces_exactly_that_schedule(stand_in: Any, schedules_dir: Path) -> None:
    assert apply(stand_in, schedules_dir).exit_code == 0
    old = by_name(stand_in)
    training = schedules_dir / "training.yaml"
    training.write_text(training.read_text().replace('"0 0 2 * * *"', '"0 30 3 * * *"'), encoding="utf-8")
    written = len(writes(stand_in))

    result = apply(stand_in, schedules_dir)

    assert result.exit_code == 0, result.output
    new = by_name(stand_in)
    assert new["churn-hourly-monitoring"] == old["churn-hourly-monitoring"]  # untouched
    replaced, previous = new["churn-nightly-training"], old["churn-nightly-training"]
    assert replaced["recurring_run_id"] != previous["recurring_run_id"]
    assert replaced["trigger"]["cron_schedule"]["cron"] == "0 30 3 * * *"
    old_id = previous["recurring_run_id"]
    assert writes(stand_in)[written:] == [  # the new one first, then the old one disabled and deleted
        "POST /apis/v2beta1/recurringruns",
        f"POST /apis/v2beta1/recurringruns/{old_id}:disable",
        f"DELETE /apis/v2beta1/recurringruns/{old_id}",
    ]
    assert "replaced       churn-nightly-training" in result.output
    assert result.output.rstrip().endswith("0 created, 1 replaced, 1 kept, 0 pruned")


def test_prune_removes_an_undeclared_schedule_and_never_one_shipyard_did_not_create(stand_in: Any) -> None:
    import kfp

    assert apply(stand_in, EXAMPLES).exit_code == 0
    client = kfp.Client(host=stand_in.url)
    pipeline_id = client.get_pipeline_id("shipyard-training")
    version_id = stand_in.pipeline_versions(pipeline_id)[0]["pipeline_version_id"]
    client.create_recurring_run(  # made by hand in the UI, say
        experiment_id=stand_in.default_experiment_id,
        job_name="made-by-hand",
        cron_expression="0 0 4 * * *",
        pipeline_id=pipeline_id,
        version_id=version_id,
    )

    kept = apply(stand_in, EXAMPLES / "training.yaml")
    assert kept.exit_code == 0, kept.output
    assert set(by_name(stand_in)) == {"churn-nightly-training", "churn-hourly-monitoring", "made-by-hand"}
    assert "unlisted       churn-hourly-monitoring  (not declared in the file; --prune deletes it)" in kept.output

    pruned = apply(stand_in, EXAMPLES / "training.yaml", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert set(by_name(stand_in)) == {"churn-nightly-training", "made-by-hand"}
    assert "pruned         churn-hourly-monitoring" in pruned.output


def test_dry_run_calls_nothing_that_writes(stand_in: Any, schedules_dir: Path) -> None:
    (schedules_dir / "training.yaml").write_text(
        (schedules_dir / "training.yaml").read_text().replace("experiment: churn", "experiment: not-yet-there")
    )
    first = apply(stand_in, schedules_dir, "--dry-run", "--prune")
    assert first.exit_code == 0, first.output
    assert writes(stand_in) == ["POST /apis/v2beta1/pipelines/upload"] * 2  # the fixture's uploads only
    assert stand_in.recurring_runs() == []
    assert "not-yet-there" not in {e["display_name"] for e in stand_in.experiments()}
    assert "would create   churn-nightly-training" in first.output
    assert first.output.rstrip().endswith("dry run, nothing written: 2 created, 0 replaced, 0 kept, 0 pruned")

    assert apply(stand_in, schedules_dir).exit_code == 0
    training = schedules_dir / "training.yaml"
    training.write_text(training.read_text().replace('"0 0 2 * * *"', '"0 0 5 * * *"'))
    before, written = stand_in.recurring_runs(), len(writes(stand_in))
    second = apply(stand_in, EXAMPLES / "monitoring.yaml", "--dry-run", "--prune")
    assert second.exit_code == 0, second.output
    assert "would prune    churn-nightly-training" in second.output
    assert writes(stand_in)[written:] == [] and stand_in.recurring_runs() == before


def test_latest_follows_a_newly_uploaded_version_and_a_pin_stays(stand_in: Any, tmp_path: Path) -> None:
    training = next(p for p in stand_in.pipelines() if p["name"] == "shipyard-training")
    first_version = stand_in.pipeline_versions(training["pipeline_id"])[0]
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(
        (EXAMPLES / "training.yaml")
        .read_text()
        .replace("churn-nightly-training", "churn-pinned-training")
        .replace("version: latest", f"version: {first_version['name']}")
    )
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(EXAMPLES / "training.yaml", both / "training.yaml")
    shutil.copy(pinned, both / "pinned.yaml")
    assert apply(stand_in, both).exit_code == 0

    new_version_id = upload(stand_in, "shipyard-training", version="shipyard-training-v2")
    result = apply(stand_in, both)

    assert result.exit_code == 0, result.output
    runs = by_name(stand_in)
    assert runs["churn-nightly-training"]["pipeline_version_reference"]["pipeline_version_id"] == new_version_id
    pin = runs["churn-pinned-training"]["pipeline_version_reference"]["pipeline_version_id"]
    assert pin == first_version["pipeline_version_id"]
    assert "a newer pipeline version is the latest: shipyard-training-v2" in result.output
    assert result.output.rstrip().endswith("0 created, 1 replaced, 1 kept, 0 pruned")


def test_a_foreign_run_with_a_declared_name_stops_apply_before_any_write(stand_in: Any) -> None:
    import kfp

    client = kfp.Client(host=stand_in.url)
    pipeline_id = client.get_pipeline_id("shipyard-training")
    client.create_recurring_run(
        experiment_id=stand_in.default_experiment_id,
        job_name="churn-nightly-training",
        cron_expression="0 0 4 * * *",
        pipeline_id=pipeline_id,
        version_id=stand_in.pipeline_versions(pipeline_id)[0]["pipeline_version_id"],
    )
    written = len(writes(stand_in))
    result = apply(stand_in, EXAMPLES)
    assert result.exit_code == 1
    assert "recurring run 'churn-nightly-training'" in result.output
    assert "was not created by shipyard" in result.output
    assert writes(stand_in)[written:] == []


def test_a_bad_cron_is_refused_before_any_call(kfp_api: Any, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("schedules:\n  - {name: nightly, pipeline: shipyard-training, cron: '0 2 * * *'}\n")
    result = apply(kfp_api, path)
    assert result.exit_code == 1
    assert "schedule 'nightly': field 'cron': '0 2 * * *' has 5 fields" in result.output
    assert kfp_api.calls() == []


def test_a_pipeline_not_uploaded_is_named(kfp_api: Any) -> None:
    result = apply(kfp_api, EXAMPLES / "training.yaml")
    assert result.exit_code == 1
    assert "schedule 'churn-nightly-training': field 'pipeline': no pipeline named 'shipyard-training'" in result.output
    assert writes(kfp_api) == []


def test_json_output_is_one_object(stand_in: Any) -> None:
    result = CliRunner().invoke(main, ["schedule", "apply", str(EXAMPLES), "--host", stand_in.url, "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "ok" and payload["dry_run"] is False
    assert payload["summary"] == {"create": 2, "replace": 0, "keep": 0, "prune": 0, "unlisted": 0}
    assert set(payload["created"]) == {"churn-nightly-training", "churn-hourly-monitoring"}
    assert {run["recurring_run_id"] for run in stand_in.recurring_runs()} == set(payload["created"].values())


def test_list_marks_the_runs_shipyard_manages(stand_in: Any) -> None:
    assert apply(stand_in, EXAMPLES / "training.yaml").exit_code == 0
    result = CliRunner().invoke(main, ["schedule", "list", "--host", stand_in.url, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["recurring_runs"]
    assert row["name"] == row["schedule"] == "churn-nightly-training"
    assert row["managed_by_shipyard"] is True and row["enabled"] is True
    text = CliRunner().invoke(main, ["schedule", "list", "--host", stand_in.url])
    assert "churn-nightly-training" in text.output and "shipyard (sha256:" in text.output


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schedule", "list", "--host", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot reach Kubeflow Pipelines at http://127.0.0.1:9 (connect)")
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["schedule"], ["schedule", "apply"], ["schedule", "list"]])
def test_help_shows_examples(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "shipyard schedule " in result.output and ("Examples:" in result.output or "Example:" in result.output)


def test_parameters_are_checked_against_the_resolved_version_before_any_write(stand_in: Any, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text((EXAMPLES / "training.yaml").read_text().replace("      target: churned", "      targt: churned"))
    written = len(writes(stand_in))
    result = apply(stand_in, path)
    assert result.exit_code == 1
    assert (
        "schedule 'churn-nightly-training': field 'parameters': pipeline 'shipyard-training' has no parameter 'targt'"
        in (result.output)
    )
    assert "'target' is required by pipeline 'shipyard-training'" in result.output
    assert writes(stand_in)[written:] == []


def test_an_interrupted_replace_is_finished_by_the_next_apply(stand_in: Any, schedules_dir: Path) -> None:
    from shipyard.adapters.kfp_client import KfpConnection
    from shipyard.adapters.kfp_schedules import KfpSchedules

    training = schedules_dir / "training.yaml"
    assert apply(stand_in, training).exit_code == 0
    (old,) = stand_in.recurring_runs()
    training.write_text(training.read_text().replace('"0 0 2 * * *"', '"0 0 4 * * *"'))
    (changed,) = load_schedules(training)
    kfp = KfpSchedules(KfpConnection(stand_in.url))
    new_id = kfp.create(kfp.resolve(changed))  # the replacement was created, then apply died before the delete

    result = apply(stand_in, training)

    assert result.exit_code == 0, result.output
    assert [run["recurring_run_id"] for run in stand_in.recurring_runs()] == [new_id]
    assert "kept           churn-nightly-training  [shipyard-training]  (up to date; deletes 1 stale duplicate(s))" in (
        result.output
    )
    assert f"disabled and deleted a duplicate recurring run {old['recurring_run_id']}" in result.output


def test_apply_authenticates_as_upload_does(stand_in: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in.require_token("team-a-token")
    monkeypatch.setenv("SHIPYARD_KFP_TOKEN", "team-a-token")
    result = apply(stand_in, EXAMPLES)
    assert result.exit_code == 0, result.output
    assert len(stand_in.recurring_runs()) == 2

    monkeypatch.delenv("SHIPYARD_KFP_TOKEN")
    refused = CliRunner().invoke(main, ["schedule", "list", "--host", stand_in.url, "--auth", "none"])
    assert refused.exit_code == 1
    assert "401" in refused.output and len(refused.output.strip().splitlines()) == 1


def test_a_folder_must_declare_each_name_once_and_hold_schedules(kfp_api: Any, tmp_path: Path) -> None:
    twice = tmp_path / "twice"
    twice.mkdir()
    shutil.copy(EXAMPLES / "training.yaml", twice / "a.yaml")
    shutil.copy(EXAMPLES / "training.yaml", twice / "b.yml")
    result = apply(kfp_api, twice)
    assert result.exit_code == 1
    assert "schedule 'churn-nightly-training' is declared in both" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no *.yaml schedules files in" in apply(kfp_api, empty).output
    assert kfp_api.calls() == []


def test_schedule_list_reports_an_auth_proxy_login_page(stand_in: Any) -> None:
    """The stand-in answers like oauth2-proxy: a redirect to an HTML login page, status 200."""
    stand_in.require_token("secret", login_redirect=True)
    result = CliRunner().invoke(main, ["schedule", "list", "--host", stand_in.url, "--auth", "none"])
    assert result.exit_code == 1, result.output
    assert "with text/html, not the API's JSON" in result.output
    assert "no recurring runs" not in result.output
    applied = apply(stand_in, EXAMPLES, "--auth", "none")
    assert applied.exit_code == 1 and "not the API's JSON" in applied.output


def test_schedule_list_json_has_the_status_key(stand_in: Any) -> None:
    assert apply(stand_in, EXAMPLES / "training.yaml").exit_code == 0
    result = CliRunner().invoke(main, ["schedule", "list", "--host", stand_in.url, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "ok"
    assert [run["name"] for run in payload["recurring_runs"]] == ["churn-nightly-training"]


def test_prune_with_no_declared_schedules_is_refused_unless_allowed(stand_in: Any, tmp_path: Path) -> None:
    assert apply(stand_in, EXAMPLES).exit_code == 0
    emptied = tmp_path / "emptied.yaml"
    emptied.write_text("schedules: []\n")
    written = len(writes(stand_in))

    refused = apply(stand_in, emptied, "--prune")

    assert refused.exit_code == 1
    assert "--allow-empty" in refused.output
    assert writes(stand_in)[written:] == [] and len(stand_in.recurring_runs()) == 2
    assert apply(stand_in, emptied).exit_code == 0  # without --prune an empty file changes nothing
    assert len(stand_in.recurring_runs()) == 2
    allowed = apply(stand_in, emptied, "--prune", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert stand_in.recurring_runs() == []


def test_a_cron_descriptor_is_applied_as_written(stand_in: Any, tmp_path: Path) -> None:
    path = tmp_path / "daily.yaml"
    path.write_text((EXAMPLES / "training.yaml").read_text().replace('"0 0 2 * * *"', '"@daily"'))
    result = apply(stand_in, path)
    assert result.exit_code == 0, result.output
    assert by_name(stand_in)["churn-nightly-training"]["trigger"] == {"cron_schedule": {"cron": "@daily"}}


def test_a_pinned_version_is_found_by_its_name(stand_in: Any, tmp_path: Path) -> None:
    pinned = upload(stand_in, "shipyard-training", version="training-v2")
    path = tmp_path / "pinned.yaml"
    path.write_text((EXAMPLES / "training.yaml").read_text().replace("version: latest", "version: training-v2"))
    result = apply(stand_in, path)
    assert result.exit_code == 0, result.output
    run = by_name(stand_in)["churn-nightly-training"]
    assert run["pipeline_version_reference"]["pipeline_version_id"] == pinned
    path.write_text(path.read_text().replace("training-v2", "training-v9"))
    unknown = apply(stand_in, path)
    assert unknown.exit_code == 1
    assert "schedule 'churn-nightly-training'" in unknown.output and "training-v9" in unknown.output
