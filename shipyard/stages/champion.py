"""The model in production (the champion): its data contract, and its score on a new holdout.

The gate compares a challenger with the champion on the *same* holdout rows, so the champion is
loaded from the registry (sha256 verified) and scored here rather than trusting old metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shipyard.config import GateConfig
from shipyard.errors import ConfigError, ShipyardError
from shipyard.stages.evaluate import evaluate_model
from shipyard.stages.gate import GateVerdict, evaluate_challenger
from shipyard.stages.validate import DataContract
from shipyard.store.registry import ModelRegistry

CHAMPION_ALIAS = "production"


@dataclass(frozen=True)
class ChampionScore:
    version: int
    metrics: dict[str, float]


def saved_contract(registry: ModelRegistry, model_name: str, contract_uri: str = "") -> DataContract | None:
    """The contract new data is checked against: an explicit file, else the champion's, else none."""
    if contract_uri:
        from shipyard.store.uris import read_bytes

        try:
            return DataContract.from_json(read_bytes(contract_uri).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"data contract at '{contract_uri}' is not UTF-8 JSON: {exc}") from None
    champion = registry.resolve_alias(model_name, CHAMPION_ALIAS)
    if champion is None or not champion.lineage.get("data_contract"):
        return None
    return DataContract.from_dict(champion.lineage["data_contract"])


def score_champion(registry: ModelRegistry, model_name: str, holdout: pd.DataFrame,
                   target: str, task: str) -> ChampionScore | None:
    """Scores the production model on ``holdout``; ``None`` when there is no champion yet."""
    champion = registry.resolve_alias(model_name, CHAMPION_ALIAS)
    if champion is None:
        return None
    model = registry.load_model(model_name, champion.version)
    evaluation = evaluate_model(model, holdout, target, task)
    return ChampionScore(version=champion.version, metrics=dict(evaluation.metrics))


def judge_challenger(registry: ModelRegistry, model_name: str, challenger_metrics: dict[str, float],
                     holdout: pd.DataFrame, target: str, task: str, gate: GateConfig | None) -> GateVerdict:
    """The gate's verdict for a challenger; fails closed when the champion cannot be scored."""
    try:
        champion = score_champion(registry, model_name, holdout, target, task)
    except (ShipyardError, ValueError, KeyError, TypeError) as exc:
        # A champion that cannot score this holdout (changed schema, tampered file, unreachable
        # store) leaves nothing to compare with: refuse rather than replace it blindly.
        verdict = evaluate_challenger(challenger_metrics, task=task, gate=gate)
        return GateVerdict(
            blessed=False,
            reasons=verdict.reasons + (
                f"champion '{model_name}@{CHAMPION_ALIAS}' could not be scored on this holdout ({exc}); "
                "not blessed. Promote by hand with `shipyard models promote` if the change is intended.",),
            task=task,
            primary_metric=verdict.primary_metric,
            challenger_metrics=dict(challenger_metrics),
            champion_metrics=None,
            champion_version=None,
        )
    return evaluate_challenger(
        challenger_metrics, task=task, gate=gate,
        champion=champion.metrics if champion else None,
        champion_version=champion.version if champion else None,
    )
