"""`shipyard models` with versions marked by their smoke test: list, show, promote --force."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from shipyard.cli.main import main
from tests.cli.test_cli import _register

REASON = "the server answered with model_version '1'; the version under test is 2"


def _store_with_a_failed_version(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    registry = _register(store, "churn", 2)
    registry.set_alias("churn", "production", 1)
    registry.record_smoke_test("churn", 1, passed=True, problems=[], run_id="r0")
    registry.record_smoke_test("churn", 2, passed=False, problems=[REASON, "slow"], run_id="r1")
    return store


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_marks_versions_that_failed_their_smoke_test(tmp_path: Path):
    store = _store_with_a_failed_version(tmp_path)
    result = run("models", "list", "--store", str(store))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].endswith("production=v1  (failed smoke test: v2)")
    listed = json.loads(run("models", "list", "--store", str(store), "--json").stdout)
    assert listed["models"][0]["failed_smoke_test"] == [2]


def test_show_gives_each_versions_status_and_the_reasons(tmp_path: Path):
    store = _store_with_a_failed_version(tmp_path)
    shown = run("models", "show", "churn", "--store", str(store)).stdout
    assert "  status:   smoke test passed\n" in shown
    assert f"  status:   smoke test FAILED\n            - {REASON}\n            - slow\n" in shown
    versions = json.loads(run("models", "show", "churn", "--store", str(store), "--json").stdout)["versions"]
    assert versions[0]["status"]["status"] == "smoke_test_passed"
    assert versions[1]["status"]["status"] == "smoke_test_failed"
    assert versions[1]["status"]["smoke_test"]["problems"] == [REASON, "slow"]


def test_show_says_when_a_version_was_never_smoke_tested(tmp_path: Path):
    store = tmp_path / "store"
    _register(store, "churn", 1)
    assert "  status:   not smoke-tested\n" in run("models", "show", "churn", "--store", str(store)).stdout


def test_promote_refuses_a_failed_version_and_says_why(tmp_path: Path):
    store = _store_with_a_failed_version(tmp_path)
    result = run("models", "promote", "churn", "2", "--store", str(store))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: model 'churn' version 2 failed its smoke test: {REASON}; slow. Promote it anyway with: "
        "shipyard models promote churn 2 --alias production --force"
    )
    assert json.loads(run("models", "list", "--store", str(store), "--json").stdout)["models"][0]["aliases"] == {
        "production": 1
    }


def test_promote_with_force_moves_the_alias_and_keeps_the_mark(tmp_path: Path):
    store = _store_with_a_failed_version(tmp_path)
    result = run("models", "promote", "churn", "2", "--force", "--store", str(store))
    assert result.exit_code == 0 and "production promoted v1 -> v2" in result.stdout
    listed = json.loads(run("models", "list", "--store", str(store), "--json").stdout)["models"][0]
    assert listed["aliases"] == {"production": 2} and listed["failed_smoke_test"] == [2]


def test_promote_of_a_version_that_passed_needs_no_force(tmp_path: Path):
    store = _store_with_a_failed_version(tmp_path)
    run("models", "promote", "churn", "2", "--force", "--store", str(store))
    assert run("models", "promote", "churn", "1", "--store", str(store)).exit_code == 0


def test_serve_refuses_alias_and_version_together(tmp_path: Path):
    store = tmp_path / "store"
    _register(store, "churn", 1)
    result = run("serve", "churn", "--alias", "staging", "--version", "1", "--store", str(store))
    assert result.exit_code != 0 and "--alias and --version exclude each other" in result.stderr


def test_serve_of_an_unknown_version_names_the_versions_there_are(tmp_path: Path):
    store = tmp_path / "store"
    _register(store, "churn", 1)
    result = run("serve", "churn", "--version", "4", "--store", str(store))
    assert result.exit_code != 0 and "model 'churn' has no version 4; its latest version is 1" in result.stderr
