"""`shipyard models` on a model trained per segment: list the segments, act on one, roll back all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.stages.segments import PlannedSegment, SegmentPlan, record_segments, segment_model_name
from shipyard.store.registry import ModelRegistry
from tests.cli.test_cli import _register

SEGMENTS = ("eu", "us", "São Paulo")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """churn by region: each segment model has v1 and v2, production moved v1 -> v2 (so it can roll back)."""
    root = tmp_path / "store"
    planned = []
    for segment in SEGMENTS:
        model = segment_model_name("churn", segment)
        registry = _register(root, model, 2)
        registry.set_alias(model, "production", 1)
        registry.set_alias(model, "production", 2)
        planned.append(PlannedSegment(segment, model, 10))
    record_segments(registry, SegmentPlan("churn", "region", tuple(planned), ()))
    return str(root)


def production(store: str) -> dict[str, int | None]:
    registry = ModelRegistry.from_uri(store)
    return {segment: registry.aliases(segment_model_name("churn", segment)).get("production") for segment in SEGMENTS}


def test_segments_are_listed_a_page_at_a_time_with_their_aliases(store):
    ModelRegistry.from_uri(store).set_alias("churn--us", "staging", 1)
    seen, after = [], None
    while True:
        page = json.loads(
            run(
                "models",
                "segments",
                "churn",
                "--limit",
                "2",
                "--json",
                "--store",
                store,
                *(["--after", after] if after else []),
            ).stdout
        )
        assert page["model"] == "churn" and page["column"] == "region" and page["total"] == 3
        seen += page["segments"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert [s["segment"] for s in seen] == ["eu", "São Paulo", "us"]  # suffix order: eu, s-o-paulo-HASH, us
    assert len(seen) == 3 and after == seen[1]["model"].removeprefix("churn--")
    assert seen[2] == {"segment": "us", "model": "churn--us", "column": "region", "production": 2, "staging": 1}
    assert seen[0]["staging"] is None

    text = run("models", "segments", "churn", "--limit", "2", "--store", store).stdout.splitlines()
    assert text[0] == f"model churn ({store}): 3 segment(s) by region"
    assert text[2].split() == ["eu", "churn--eu", "v2", "-"]
    assert text[-1] == f"more segments: shipyard models segments churn --after {after}"
    last = run("models", "segments", "churn", "--after", after, "--store", store).stdout.splitlines()
    assert [line.split() for line in last[2:]] == [["us", "churn--us", "v2", "v1"]]  # the end: no footer


def test_promote_and_rollback_of_one_segment_leave_the_others_alone(store):
    moved = run("models", "rollback", "churn", "--segment", "eu", "--json", "--store", store)
    assert json.loads(moved.stdout) == {"model": "churn--eu", "alias": "production", "previous": 2, "current": 1}
    assert production(store) == {"eu": 1, "us": 2, "São Paulo": 2}

    promoted = run("models", "promote", "churn", "2", "--segment", "eu", "--store", store)
    assert promoted.stdout.strip() == "churn--eu: production promoted v1 -> v2"
    # A value that is not a safe name, and the segment model's own name, reach the same models.
    run("models", "rollback", "churn", "--segment", "São Paulo", "--store", store)
    assert production(store) == {"eu": 2, "us": 2, "São Paulo": 1}
    run("models", "rollback", "churn--us", "--store", store)
    run("models", "promote", "churn", "1", "--segment", "churn--eu", "--store", store)
    assert production(store) == {"eu": 1, "us": 1, "São Paulo": 1}


def test_rollback_all_segments_goes_on_past_a_failing_one_and_exits_1(store):
    run("models", "rollback", "churn", "--segment", "us", "--store", store)  # us has nothing left to go back to
    sao = next(p for p in (Path(store) / "models").iterdir() if p.name.startswith("churn--s-o-paulo-"))
    (sao / "aliases" / "production.json").write_text("{ not json")  # this segment's rollback fails
    result = run("models", "rollback", "churn", "--all-segments", "--json", "--store", store)
    assert result.exit_code == 1
    outcome = json.loads(result.stdout)
    assert (outcome["failed"], outcome["skipped"], outcome["total"]) == (1, 1, 3)
    by_segment = {entry["segment"]: entry for entry in outcome["segments"]}
    assert by_segment["eu"] == {
        "segment": "eu",
        "model": "churn--eu",
        "status": "rolled_back",
        "previous": 2,
        "current": 1,
    }
    assert by_segment["us"]["status"] == "skipped" and "no earlier version" in by_segment["us"]["reason"]
    assert by_segment["São Paulo"]["status"] == "failed", by_segment
    (sao / "aliases" / "production.json").unlink()
    run("models", "promote", "churn", "1", "--segment", "São Paulo", "--store", store)
    assert production(store) == {"eu": 1, "us": 1, "São Paulo": 1}

    run("models", "promote", "churn", "2", "--segment", "eu", "--store", store)
    run("models", "promote", "churn", "2", "--segment", "us", "--store", store)
    run("models", "promote", "churn", "2", "--segment", "São Paulo", "--store", store)
    text = run("models", "rollback", "churn", "--all-segments", "--store", store)
    assert text.exit_code == 0
    assert text.stdout.splitlines()[-1] == "production rolled back in 3 of 3 segment(s) of churn"
    assert "churn--us: production rolled back v2 -> v1" in text.stdout
    assert production(store) == {"eu": 1, "us": 1, "São Paulo": 1}


@pytest.mark.parametrize(
    "command",
    [
        ["show", "churn"],
        ["list", "churn"],
        ["promote", "churn", "1"],
        ["rollback", "churn"],
    ],
)
def test_an_unknown_segment_is_one_line_naming_the_known_ones(store, command):
    result = run("models", *command, "--segment", "asia", "--store", store)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == "error: model 'churn' has no segment 'asia'; its segments include ['eu', 'São Paulo', 'us']"
    )
    assert production(store) == {"eu": 2, "us": 2, "São Paulo": 2}


def test_the_parent_model_points_at_its_segments(store):
    shown = run("models", "show", "churn", "--store", store)
    assert shown.exit_code == 0
    assert "trained per segment, 3 segment model(s)" in shown.stdout
    assert "list them: shipyard models segments churn" in shown.stdout
    assert json.loads(run("models", "show", "churn", "--json", "--store", store).stdout)["segments"] == 3
    one = json.loads(run("models", "show", "churn", "--segment", "eu", "--json", "--store", store).stdout)
    assert one["name"] == "churn--eu" and [v["version"] for v in one["versions"]] == [1, 2]

    listed = run("models", "list", "churn", "--store", store)
    assert listed.exit_code == 1 and "`shipyard models segments churn`" in listed.stderr
    page = json.loads(run("models", "list", "churn", "--segment", "us", "--json", "--store", store).stdout)
    assert page["model"] == "churn--us" and page["aliases"] == {"production": 2}

    for args in (["segments", "churn--eu"], ["segments", "nope"], ["rollback", "nope", "--all-segments"]):
        result = run("models", *args, "--store", store)
        assert result.exit_code == 1 and "has no segments" in result.stderr, args
    assert (
        "--segment and --all-segments exclude each other"
        in run("models", "rollback", "churn", "--segment", "eu", "--all-segments", "--store", store).stderr
    )


def test_segments_help_has_an_example():
    result = run("models", "segments", "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_a_page_of_segments_costs_the_same_whatever_their_histories(tmp_path: Path, monkeypatch):
    """One listing of the index, then three reads per segment: its entry, production, staging."""
    import shipyard.cli.models as models_cli
    from shipyard.store.local import LocalStore
    from tests.store.counting import CountingStore, fill_history

    def page_cost(versions: int) -> dict[str, int]:
        store = LocalStore(tmp_path / f"store-{versions}")
        planned = []
        for segment in ("eu", "us"):
            model = segment_model_name("churn", segment)
            fill_history(store, model, versions)
            ModelRegistry(store).set_alias(model, "production", versions)
            planned.append(PlannedSegment(segment, model, 10))
        counting = CountingStore(store)
        registry = ModelRegistry(counting)
        record_segments(registry, SegmentPlan("churn", "region", tuple(planned), ()))
        monkeypatch.setattr(models_cli, "_registry", lambda _store: registry)
        counting.reset()
        page = json.loads(run("models", "segments", "churn", "--json").stdout)
        assert [(s["segment"], s["production"], s["staging"]) for s in page["segments"]] == [
            ("eu", versions, None),
            ("us", versions, None),
        ]
        return dict(counting.counts)

    assert page_cost(2) == page_cost(40) == {"list": 1, "read": 6}
