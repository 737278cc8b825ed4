"""Every corpus file through ingest and validate in one process: each ends as expected.yaml says."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.findings import PROBLEM, WARNING
from tests.corpus.corpus import FILES, expected, file_for, generator, names, run_stages


def test_the_corpus_is_big_enough_and_covers_every_outcome():
    outcomes = [entry["outcome"] for entry in expected().values()]
    assert len(outcomes) >= 30
    assert {outcome: outcomes.count(outcome) for outcome in set(outcomes)}.keys() == {
        "ingest",
        "validate",
        "warning",
        "accepted",
    }


def test_the_generator_rewrites_the_committed_files_byte_for_byte(tmp_path: Path):
    """The corpus is the script's output: regenerate it after a change (python scripts/make_bad_inputs.py)."""
    written = generator().write_corpus(tmp_path, large=False)
    committed = sorted(path.name for path in FILES.iterdir())
    assert sorted(path.name for path in written) == committed
    for path in written:
        assert path.read_bytes() == (FILES / path.name).read_bytes(), f"{path.name} differs: rerun the script"
    assert generator().expected_yaml() == (FILES.parent / "expected.yaml").read_text(encoding="utf-8")
    sizes = sum(path.stat().st_size for path in written)
    assert sizes < 1_000_000  # the committed corpus stays small; large cases are written by the tests


@pytest.mark.parametrize("name", names())
def test_each_file_ends_as_expected_through_the_stages(name: str, tmp_path: Path):
    entry = expected()[name]
    outcome = run_stages(file_for(name, tmp_path), entry)
    codes = [(finding.code.value, finding.column, finding.severity) for finding in outcome.findings]
    for finding in outcome.findings:  # one line each, in our words
        assert "\n" not in finding.message and "Traceback" not in finding.message
        assert finding.message.startswith(("table: ", "column '", "model: ")), finding.message
    if entry["outcome"] == "ingest":
        assert outcome.stopped_at == "ingest", codes
        assert {code for code, _, _ in codes} == {entry["code"]}
        assert all(finding.column is None or entry["code"] == "duplicate_column" for finding in outcome.findings)
        if "message" in entry:
            assert any(entry["message"] in finding.message for finding in outcome.findings)
    elif entry["outcome"] == "validate":
        assert outcome.stopped_at == "validate", codes
        assert (entry["code"], entry["column"], PROBLEM) in codes
    elif entry["outcome"] == "warning":
        assert outcome.stopped_at == "accepted", codes
        assert (entry["code"], entry["column"], WARNING) in codes
    else:
        assert (outcome.stopped_at, codes) == ("accepted", [])
