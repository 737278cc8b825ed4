"""Delivery and champion logic on a real local registry: smoke-failure rollback, fail-closed gate."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

from shipyard.config import SmokeTestSettings, load_config
from shipyard.errors import RegistryError, SmokeTestError
from shipyard.stages.champion import judge_challenger, saved_contract, score_champion
from shipyard.stages.deploy import deploy_to_staging, promote_to_production, smoke_test_staged
from shipyard.stages.validate import infer_contract
from shipyard.store.registry import ModelRegistry
from tests.unit.test_smoke import NaNRegressor

SETTINGS = SmokeTestSettings(rows=20, max_latency_ms=5000.0)


def holdout(rows: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": rng.normal(size=rows)})


def register(registry: ModelRegistry, tmp_path: Path, model, name: str = "m", **lineage) -> int:
    path = tmp_path / f"{name}-{len(registry.list_versions(name))}.joblib"
    joblib.dump(model, path)
    return registry.register_version(name, path, metrics={}, params={}, lineage=lineage, run_id="r").version


def test_a_failed_smoke_test_moves_staging_back_and_leaves_production(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    good = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", good, "r1")
    smoke_test_staged(registry, "m", good, frame, "y", "regression", SETTINGS, "r1")
    promote_to_production(registry, "m", good, "r1", None)

    bad = register(registry, tmp_path, NaNRegressor())
    deploy_to_staging(registry, "m", bad, "r2")
    with pytest.raises(SmokeTestError, match="NaN"):
        smoke_test_staged(registry, "m", bad, frame, "y", "regression", SETTINGS, "r2")
    assert registry.aliases("m") == {"staging": good, "production": good}


def test_a_first_model_failing_its_smoke_test_leaves_no_alias(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    bad = register(registry, tmp_path, NaNRegressor())
    deploy_to_staging(registry, "m", bad, "r1")
    with pytest.raises(SmokeTestError, match="staging unset again"):
        smoke_test_staged(registry, "m", bad, holdout(), "y", "regression", SETTINGS, "r1")
    assert registry.aliases("m") == {}


def test_promotion_refuses_when_production_moved_since_the_gate(tmp_path: Path):
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    v1, v2, v3 = (register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"])) for _ in range(3))
    promote_to_production(registry, "m", v1, "r1", None)
    promote_to_production(registry, "m", v3, "r3", v1)  # another run, also judged against v1, got there first
    deploy_to_staging(registry, "m", v2, "r2")
    with pytest.raises(RegistryError, match="not promoting 'm' version 2"):
        promote_to_production(registry, "m", v2, "r2", v1)
    assert registry.aliases("m") == {"production": v3}  # staging withdrawn (it never held anything else)


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


def test_staging_is_withdrawn_when_the_smoke_test_cannot_even_load_the_model(tmp_path: Path):
    from shipyard.errors import IntegrityError

    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    frame = holdout()
    version = register(registry, tmp_path, DummyRegressor().fit(frame[["x"]], frame["y"]))
    deploy_to_staging(registry, "m", version, "r1")
    Path(registry.get_version("m", version).model_uri).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        smoke_test_staged(registry, "m", version, frame, "y", "regression", SETTINGS, "r1")
    assert registry.aliases("m") == {}


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
