"""Unit tests for shipyard.stages.champion on a real local registry: the champion scored fairly, or nothing blessed."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

from shipyard.config import load_config
from shipyard.stages.champion import judge_challenger, saved_contract, score_champion
from shipyard.stages.deploy import promote_to_production
from shipyard.stages.validate import infer_contract
from shipyard.store.registry import ModelRegistry
from tests.unit.registered import holdout, register


def test_the_champion_is_scored_on_the_challengers_holdout(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(
        registry, tmp_path, DummyRegressor(strategy="constant", constant=0.0).fit(frame[["x"]], frame["y"])
    )
    promote_to_production(registry, "m", version, "r", None)
    score = score_champion(registry, registry.resolve_alias("m", "production"), frame, "y", "regression")
    assert score.version == version
    assert score.metrics["rmse"] == pytest.approx(float(np.sqrt((frame["y"] ** 2).mean())))


def test_a_champion_that_cannot_score_the_holdout_blesses_nothing(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    old = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "label": ["p", "q", "p", "q"]})
    champion = DummyClassifier().fit(old[["a"]], old["label"])
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    needs_column_a = make_pipeline(ColumnTransformer([("a", "passthrough", ["a"])]), champion).fit(
        old[["a"]], old["label"]
    )
    promote_to_production(registry, "m", register(registry, tmp_path, needs_column_a), "r", None)

    new_schema = pd.DataFrame({"b": [1.0, 2.0, 3.0, 4.0], "label": ["p", "q", "p", "q"]})
    verdict = judge_challenger(
        registry, "m", {"accuracy": 0.99, "f1_macro": 0.99}, new_schema, "label", "classification", load_config().gate
    )
    assert verdict.blessed is False
    assert any("could not be scored" in reason for reason in verdict.reasons)


def test_new_data_is_checked_against_the_champions_contract(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    assert saved_contract(registry, "m") is None
    contract = infer_contract(frame, "y", "regression")
    version = register(
        registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]), data_contract=contract.to_dict()
    )
    promote_to_production(registry, "m", version, "r", None)
    assert saved_contract(registry, "m") == contract

    explicit = tmp_path / "contract.json"
    explicit.write_text(infer_contract(frame.rename(columns={"x": "z"}), "y", "regression").to_json())
    assert saved_contract(registry, "m", str(explicit)).column("z") is not None


def test_a_champion_split_differently_is_compared_only_on_rows_it_never_trained_on(tmp_path: Path):
    from shipyard.data.synthetic import make_demo_dataset
    from shipyard.stages.champion import rows_champion_never_trained_on
    from shipyard.stages.split import holdout_mask
    from shipyard.stages.train import train_model

    old = make_demo_dataset(1500, seed=0)
    grown = pd.concat([old, make_demo_dataset(500, seed=1)], ignore_index=True)
    champion_run = train_model(old, "churned", "classification", load_config("seed: 7"))
    challenger_run = train_model(grown, "churned", "classification", load_config("seed: 42"))
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    path = tmp_path / "champion.joblib"
    joblib.dump(champion_run.pipeline, path)
    champion = registry.register_version(
        "churn",
        path,
        metrics={},
        params=champion_run.params,
        lineage={"feature_columns": list(champion_run.feature_columns), "target": "churned"},
        run_id="r1",
    )

    rows, note = rows_champion_never_trained_on(champion, challenger_run.holdout, "churned", challenger_run.params)
    assert note.startswith(f"champion version {champion.version} was split with seed 7 (now 42)")
    assert 20 <= len(rows) < len(challenger_run.holdout)
    trained_on = old[~holdout_mask(old, "churned", "classification", 0.2, 7)]
    as_rows = lambda frame: set(map(tuple, frame[list(old.columns)].astype(str).values))  # noqa: E731
    assert not as_rows(trained_on) & as_rows(rows), "a row the champion trained on was used to compare"

    same, note = rows_champion_never_trained_on(champion, challenger_run.holdout, "churned", champion_run.params)
    assert note == "" and len(same) == len(challenger_run.holdout)


def test_a_champion_without_a_recorded_split_blesses_nothing(tmp_path: Path):
    from shipyard.data.synthetic import make_demo_dataset
    from shipyard.stages.train import train_model

    frame = make_demo_dataset(600, seed=0)
    trained = train_model(frame, "churned", "classification", load_config())
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    path = tmp_path / "old.joblib"
    joblib.dump(trained.pipeline, path)
    version = registry.register_version(
        "churn",
        path,
        metrics={},
        params={"estimator": "linear"},
        lineage={"feature_columns": list(trained.feature_columns), "target": "churned"},
        run_id="r0",
    ).version
    promote_to_production(registry, "churn", version, "r0", None)
    verdict = judge_challenger(
        registry,
        "churn",
        {"accuracy": 0.9, "f1_macro": 0.9},
        trained.holdout,
        "churned",
        "classification",
        load_config().gate,
        challenger=trained.pipeline,
        challenger_params=trained.params,
    )
    assert verdict.blessed is False
    assert any("records no row-hash split" in reason for reason in verdict.reasons)


def test_an_unreadable_gate_config_blesses_nothing_and_says_so_first(tmp_path: Path):
    from shipyard.stages.champion import gate_run
    from shipyard.stages.train import ModelFacts

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    challenger = DummyRegressor().fit(frame[["x"]], frame["y"])
    facts = ModelFacts("regression", "y", None, ("x",), 30, {"split": "row-hash", "seed": 42, "holdout_fraction": 0.2})
    good = {"rmse": 0.1, "mae": 0.1, "r2": 0.99}

    kwargs = dict(challenger_metrics=good, holdout=frame, target="y", task="regression", challenger=challenger)
    blessed = gate_run(registry, "m", "run-ok", config_yaml="", facts=facts, **kwargs)
    assert blessed.blessed is True, blessed.reasons
    assert registry.get_run_record("run-ok")["gate"] == blessed.to_dict()

    for broken in ("gate: {margin: -1}", "gate: [", "seed: many"):
        verdict = gate_run(registry, "m", "run-bad", config_yaml=broken, facts=facts, **kwargs)
        assert verdict.blessed is False
        assert verdict.reasons[0].startswith("fail: gate config unreadable: ")
        assert registry.get_run_record("run-bad")["gate"]["reasons"][0] == verdict.reasons[0]
        assert verdict.reasons[0] in verdict.to_markdown()
