"""`shipyard models list NAME`: the newest versions, a page at a time, and what lies beyond."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.store.local import LocalStore
from shipyard.store.registry import ModelRegistry
from tests.store.counting import fill_history


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """30 versions of churn; production on 28, v29 failed its smoke test."""
    root = tmp_path / "store"
    fill_history(LocalStore(root), "churn", 30)
    registry = ModelRegistry.from_uri(str(root))
    registry.set_alias("churn", "production", 28)
    registry.record_smoke_test("churn", 29, passed=False, problems=["too slow"])
    return str(root)


def test_a_models_versions_are_listed_newest_first_twenty_at_a_time(store):
    result = run("models", "list", "churn", "--store", store)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"model churn ({store}): latest v30"
    rows = [line.split()[0] for line in lines[2:-1]]
    assert rows == [f"v{n}" for n in range(30, 10, -1)]
    assert "production" in lines[4] and "smoke test FAILED" in lines[3]
    assert lines[-1] == (
        "older versions not shown: v1-v10 (at most 10); next page: shipyard models list churn --before 11; "
        "every version: --all"
    )
    tail = run("models", "list", "churn", "--before", "11", "--store", store).stdout.splitlines()
    assert [line.split()[0] for line in tail[2:]] == [f"v{n}" for n in range(10, 0, -1)]  # no footer: the end


def test_json_pages_cover_every_version_once(store):
    seen, before = [], None
    while True:
        args = ["models", "list", "churn", "--limit", "7", "--json", "--store", store]
        page = json.loads(run(*args, *(["--before", str(before)] if before else [])).stdout)
        assert page["latest"] == 30 and page["aliases"] == {"production": 28}
        seen += [v["version"] for v in page["versions"]]
        if page["next_before"] is None:
            assert page["older_at_most"] == 0
            break
        assert page["older_at_most"] == page["next_before"] - 1
        before = page["next_before"]
    assert seen == list(range(30, 0, -1))
    everything = json.loads(run("models", "list", "churn", "--all", "--json", "--store", store).stdout)
    assert [v["version"] for v in everything["versions"]] == seen and everything["next_before"] is None
    newest = everything["versions"][1]
    assert newest["version"] == 29 and newest["status"]["status"] == "smoke_test_failed"
    assert everything["versions"][2]["aliases"] == ["production"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["churn", "--all", "--limit", "3"], "--limit and --all exclude each other"),
        (["--before", "3"], "give the model NAME too"),
        (["--all"], "give the model NAME too"),
        (["nope"], "no model named 'nope'"),
    ],
)
def test_bad_combinations_are_one_clear_line(store, args, message):
    result = run("models", "list", *args, "--store", store)
    assert result.exit_code != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_model_summary_checks_the_newest_versions_for_failed_smoke_tests(store):
    listed = json.loads(run("models", "list", "--json", "--store", store).stdout)["models"]
    assert listed == [
        {
            "name": "churn",
            "latest": 30,
            "aliases": {"production": 28},
            "production_metrics": {"accuracy": 0.5},
            "failed_smoke_test": [29],
        }
    ]
    assert (
        json.loads(run("models", "list", "--limit", "1", "--json", "--store", store).stdout)["models"][0][
            "failed_smoke_test"
        ]
        == []
    )
