"""Unit tests for shipyard.stages.register: lineage, idempotent registration, run ids, code versions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyRegressor

from shipyard import __version__
from shipyard.stages.gate import GateVerdict
from shipyard.stages.register import build_lineage, code_version, register_blessed_model, resolve_run_id
from shipyard.stages.train import ModelFacts
from shipyard.store.registry import ModelRegistry
from tests.unit.registered import holdout

FACTS = ModelFacts(
    task="classification",
    target="churned",
    classes=(0, 1),
    feature_columns=("age", "plan"),
    train_rows=240,
    params={"estimator": "linear", "seed": 42, "holdout_fraction": 0.2, "split": "row-hash"},
)
VERDICT = GateVerdict(
    blessed=True,
    reasons=("pass: accuracy 0.9 meets min 0.6",),
    task="classification",
    primary_metric="f1_macro",
    challenger_metrics={"accuracy": 0.9},
    champion_metrics={"accuracy": 0.8},
    champion_version=3,
)
CONTRACT = {"target": "churned", "task": "classification", "columns": []}


def lineage(**changes):
    arguments = dict(
        data_contract=CONTRACT,
        verdict=VERDICT,
        data_uri="s3://data/churn.csv",
        data_hash="sha256:ab",
        code_version="git:abc",
        pipeline_run="run-7",
    )
    return build_lineage(FACTS, **{**arguments, **changes})


def test_lineage_names_data_code_run_parent_and_what_the_model_predicts():
    assert lineage() == {
        "data_uri": "s3://data/churn.csv",
        "data_hash": "sha256:ab",
        "data_contract": CONTRACT,
        "code_version": "git:abc",
        "pipeline_run": "run-7",
        "parent_version": 3,
        "task": "classification",
        "target": "churned",
        "classes": [0, 1],
        "feature_columns": ["age", "plan"],
        "train_rows": 240,
    }


def test_lineage_of_a_first_model_has_no_parent_and_detects_the_code_version(monkeypatch):
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", "release-5")
    first = GateVerdict.from_dict({**VERDICT.to_dict(), "champion_version": None, "champion_metrics": None})
    built = lineage(verdict=first, code_version="")
    assert built["parent_version"] is None and built["code_version"] == "release-5"


def test_a_retried_register_step_returns_the_version_its_run_made(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    path = tmp_path / "model.joblib"

    joblib.dump(DummyRegressor().fit(frame[["x"]], frame["y"]), path)
    first = register_blessed_model(
        registry, "m", path, facts=FACTS, metrics={"r2": 0.5}, lineage=lineage(), run_id="r1"
    )
    again = register_blessed_model(
        registry, "m", path, facts=FACTS, metrics={"r2": 0.5}, lineage=lineage(), run_id="r1"
    )
    other = register_blessed_model(
        registry, "m", path, facts=FACTS, metrics={"r2": 0.5}, lineage=lineage(), run_id="r2"
    )

    assert first.version == again.version == 1 and other.version == 2
    assert first.params == FACTS.params and first.lineage["parent_version"] == 3 and first.lineage["run_id"] == "r1"
    assert registry.get_run_record("r1")["register"] == {
        "model": "m",
        "version": 1,
        "uri": first.uri,
        "sha256": first.sha256,
    }


def test_a_retried_register_step_reads_two_documents_and_lists_nothing(tmp_path: Path):
    """The retry check must not grow with the history: it reads the run's index entry, not every version."""
    from shipyard.store.local import LocalStore
    from tests.store.counting import CountingStore, fill_history

    store = CountingStore(LocalStore(tmp_path / "store"))
    fill_history(store._inner, "m", 50)
    registry = ModelRegistry(store)
    frame = holdout()
    path = tmp_path / "model.joblib"
    joblib.dump(DummyRegressor().fit(frame[["x"]], frame["y"]), path)
    first = register_blessed_model(registry, "m", path, facts=FACTS, metrics={}, lineage=lineage(), run_id="r1")
    store.reset()
    again = register_blessed_model(registry, "m", path, facts=FACTS, metrics={}, lineage=lineage(), run_id="r1")
    assert again == first and first.version == 51
    assert store.counts == {"read": 2, "write": 1}  # index entry + metadata; the run record section


def test_run_id_is_the_callers_else_the_kfp_runs():
    assert resolve_run_id("mine", "uuid") == "mine"
    assert resolve_run_id("", "uuid") == "uuid"
    assert resolve_run_id("", "") == "unknown-run"


def test_code_version_prefers_the_environment_then_git_then_the_package(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", "explicit")
    assert code_version(tmp_path) == "explicit"
    monkeypatch.delenv("SHIPYARD_CODE_VERSION")
    # not a git checkout: shipyard's version, marked when the install is editable (as in this suite)
    assert code_version(tmp_path) in (f"shipyard=={__version__}", f"shipyard=={__version__}+editable")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run(["git", "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=tmp_path, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert code_version(tmp_path) == f"git:{sha}"
    (tmp_path / "f").write_text("2")
    assert code_version(tmp_path) == f"git:{sha}-dirty"


@pytest.mark.parametrize("champion_version", [None, 4])
def test_a_verdict_survives_its_json_form(champion_version):
    verdict = GateVerdict.from_dict({**VERDICT.to_dict(), "champion_version": champion_version})
    assert GateVerdict.from_dict(verdict.to_dict()) == verdict and verdict.champion_version == champion_version


def test_the_reference_sample_is_bounded_deterministic_and_order_independent():
    import numpy as np
    import pandas as pd

    from shipyard.stages.reference import reference_sample

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000), "y": rng.integers(0, 2, 2000)})
    sample = reference_sample(frame, 300, seed=42)
    shuffled = reference_sample(frame.sample(frac=1.0, random_state=7), 300, seed=42)
    assert sample.rows == 300 and sample.sampled and sample.source_rows == 2000
    key = ["x", "c", "y"]
    assert (
        sample.frame.sort_values(key)
        .reset_index(drop=True)
        .equals(shuffled.frame.sort_values(key).reset_index(drop=True))
    )
    assert not reference_sample(frame, 300, seed=1).frame.equals(sample.frame)  # the seed picks the rows
    whole = reference_sample(frame, 5000, seed=42)
    assert not whole.sampled and whole.frame.equals(frame)
    assert whole.to_metadata()["sample"] == "all training rows"
