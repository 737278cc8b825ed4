"""templates/ci/: the GitHub Actions workflow and the plain-shell CI script users copy into their repositories.

Checked here: the workflow parses as YAML with the expected jobs, order and main-only delivery, and its
shell steps pass shellcheck; ci.sh passes shellcheck and its --dry-run runs the right stages per branch
in a scratch "user repository". Not checked: GitHub's own workflow schema or the actions' inputs (no
GitHub runner here), and the commands running for real (they need Docker and a KFP server).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from shipyard.cli.main import main
from tests.scripts.shellcheck import shellcheck

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "templates" / "ci" / "github-actions.yml"
CI_SH = ROOT / "templates" / "ci" / "ci.sh"
MAIN_PUSH = "github.ref == 'refs/heads/main' && github.event_name == 'push'"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_workflow_has_test_image_compile_and_a_main_only_delivery(workflow: dict):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "image", "compile", "deliver"}
    assert "pytest" in _runs(jobs["test"])
    build = next(s for s in jobs["image"]["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["tags"] == "${{ env.SHIPYARD_IMAGE }}"
    assert build["with"]["push"] == "${{ " + MAIN_PUSH + " }}", "pull requests build but never push"
    assert "shipyard compile --out compiled" in _runs(jobs["compile"])
    assert "--kubernetes-manifests" in _runs(jobs["compile"])
    deliver = jobs["deliver"]
    assert deliver["if"] == MAIN_PUSH
    assert set(deliver["needs"]) == {"test", "image", "compile"}
    steps = _runs(deliver)
    for command in ('shipyard upload training --host "$KFP_HOST"', 'shipyard upload monitoring --host "$KFP_HOST"'):
        assert command in steps
    assert 'shipyard schedule apply "$schedule" --host "$KFP_HOST"' in steps
    assert "SHIPYARD_IMAGE" in workflow["env"], "build and compile share one image reference"
    for name, job in jobs.items():
        assert job["steps"][0]["uses"].startswith("actions/checkout@"), name


def test_the_workflow_shell_steps_pass_shellcheck(workflow: dict, tmp_path: Path):
    for name, job in workflow["jobs"].items():
        for i, step in enumerate(job["steps"]):
            if "run" not in step:
                continue
            script = tmp_path / f"{name}-{i}.sh"
            # GitHub substitutes ${{ … }} before bash runs; stand in a plain word for it.
            script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + re.sub(r"\$\{\{[^}]*\}\}", "X", step["run"]))
            result = shellcheck(script, shell="bash")
            assert result.returncode == 0, f"{name} step {i}:\n{result.stdout}"


def test_ci_sh_passes_shellcheck():
    result = shellcheck(CI_SH)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A scratch repository laid out as the templates assume, with ci.sh copied to its root."""
    shutil.copy(CI_SH, tmp_path / "ci.sh")
    (tmp_path / "resources.yaml").write_text("components: {train-model: {memory_limit: 4Gi}}\n")
    (tmp_path / "schedules").mkdir()
    for name in ("nightly.yaml", "weekly.yaml"):
        (tmp_path / "schedules" / name).write_text("schedules: []\n")
    return tmp_path


def ci(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("KFP_HOST", "GITHUB_REF_NAME", "CI_COMMIT_BRANCH")}
    return subprocess.run(
        ["bash", str(repo / "ci.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**keep, "SHIPYARD_IMAGE": "registry.example/ml/shipyard:abc", **env},
    )


def _commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_ci_sh_on_a_branch_tests_builds_and_compiles_but_never_delivers(user_repo: Path):
    result = ci(user_repo, BRANCH="feature/x")
    assert result.returncode == 0, result.stderr
    assert _commands(result.stdout) == [
        "python3 -m pytest",
        "docker build -t registry.example/ml/shipyard:abc .",
        "shipyard compile --out compiled --resources resources.yaml --kubernetes-manifests",
    ]


def test_ci_sh_on_main_pushes_uploads_and_applies_every_schedule(user_repo: Path):
    result = ci(user_repo, BRANCH="main", KFP_HOST="http://kfp:8080")
    assert result.returncode == 0, result.stderr
    commands = _commands(result.stdout)
    assert commands == [
        "python3 -m pytest",
        "docker build -t registry.example/ml/shipyard:abc .",
        "docker push registry.example/ml/shipyard:abc",
        "shipyard compile --out compiled --resources resources.yaml --kubernetes-manifests",
        "shipyard upload training --host http://kfp:8080",
        "shipyard upload monitoring --host http://kfp:8080",
        "shipyard schedule apply schedules/nightly.yaml --host http://kfp:8080",
        "shipyard schedule apply schedules/weekly.yaml --host http://kfp:8080",
    ]


def test_ci_sh_refuses_a_delivery_it_cannot_make_before_running_anything(user_repo: Path):
    no_host = ci(user_repo, BRANCH="main")
    assert no_host.returncode == 2 and "set KFP_HOST" in no_host.stderr
    assert _commands(no_host.stdout) == []
    off_main = ci(user_repo, "deliver", BRANCH="feature/x", KFP_HOST="http://kfp:8080")
    assert off_main.returncode == 2 and "main only" in off_main.stderr
    unknown = ci(user_repo, "publish", BRANCH="main")
    assert unknown.returncode == 2 and "unknown argument 'publish'" in unknown.stderr


def test_ci_sh_takes_the_branch_from_the_ci_system(user_repo: Path):
    result = ci(user_repo, "compile", GITHUB_REF_NAME="main")
    assert "ci: branch main" in result.stdout


def test_the_compile_options_the_templates_use_exist():
    help_text = CliRunner().invoke(main, ["compile", "--help"]).output
    assert "--kubernetes-manifests" in help_text and "--resources" in help_text


@pytest.mark.parametrize("command", [["upload", "--help"], ["schedule", "apply", "--help"]])
def test_the_delivery_commands_exist_once_merged(command: list[str]):
    """`shipyard upload` and `shipyard schedule apply` are built on the kfp-submit and kfp-schedule branches."""
    result = CliRunner().invoke(main, command)
    if result.exit_code == 2 and "No such command" in result.output:
        pytest.skip(f"shipyard {command[0]} is not on this branch yet")
    assert result.exit_code == 0, result.output
    assert "--host" in result.output
