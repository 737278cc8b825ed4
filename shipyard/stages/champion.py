"""The model in production (the champion): its data contract, and its score on a new holdout.

The gate compares a challenger with the champion on the *same* holdout rows, so the champion is
loaded from the registry (sha256 verified) and scored here rather than trusting old metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from shipyard.config import GateConfig
from shipyard.errors import ConfigError, ShipyardError
from shipyard.stages.contract import DataContract
from shipyard.stages.evaluate import evaluate_model
from shipyard.stages.gate import GateVerdict, evaluate_challenger, read_gate_config
from shipyard.stages.split import in_holdout
from shipyard.stages.train import ModelFacts
from shipyard.store.registry import ModelRegistry, ModelVersion
from shipyard.vocabulary import PRODUCTION

#: Fewer shared holdout rows than this cannot support a comparison; the gate then fails closed.
MIN_SHARED_ROWS = 20
_SPLIT_KEYS = ("split", "seed", "holdout_fraction")


class ChampionSplitUnknown(ShipyardError):
    """The holdout rows the champion never trained on cannot be told apart, or are too few."""


@dataclass(frozen=True)
class ChampionScore:
    version: int
    metrics: dict[str, float]


def saved_contract(registry: ModelRegistry, model_name: str, contract_uri: str = "") -> DataContract | None:
    """The contract new data is checked against: an explicit file, else the champion's, else none."""
    if contract_uri:
        from shipyard.stages.source import read_data_file

        try:
            return DataContract.from_json(read_data_file(contract_uri).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"data contract at '{contract_uri}' is not UTF-8 JSON: {exc}") from None
    champion = registry.resolve_alias(model_name, PRODUCTION)
    if champion is None or not champion.lineage.get("data_contract"):
        return None
    return DataContract.from_dict(champion.lineage["data_contract"])


def score_champion(
    registry: ModelRegistry, champion: ModelVersion, rows: pd.DataFrame, target: str, task: str
) -> ChampionScore:
    """Scores ``champion`` (loaded sha256-verified from the registry) on ``rows``."""
    model = registry.load_model(champion.name, champion.version)
    return ChampionScore(version=champion.version, metrics=dict(evaluate_model(model, rows, target, task).metrics))


def rows_champion_never_trained_on(
    champion: ModelVersion, holdout: pd.DataFrame, target: str, challenger_params: dict[str, Any] | None
) -> tuple[pd.DataFrame, str]:
    """The holdout rows fit for comparing with ``champion``, and a note when that is not all of them.

    The split is a stable row hash, so with the same seed, holdout fraction and columns the
    champion's training rows can never be in this holdout. When any of those changed, the rows
    the champion held out are recomputed with its own settings and only those are kept.

    Raises:
        ChampionSplitUnknown: the champion's split cannot be recomputed, or leaves too few rows.
    """
    theirs = {key: champion.params.get(key) for key in _SPLIT_KEYS}
    columns = [*(champion.lineage.get("feature_columns") or []), champion.lineage.get("target") or target]
    if challenger_params is None:  # the caller vouches the holdout comes from the same split
        return holdout, ""
    ours = {key: challenger_params.get(key) for key in _SPLIT_KEYS}
    if theirs == ours and set(columns) == set(holdout.columns):
        return holdout, ""
    if theirs["split"] != "row-hash" or theirs["seed"] is None or theirs["holdout_fraction"] is None:
        raise ChampionSplitUnknown(
            f"champion version {champion.version} records no row-hash split (params {theirs}), so the rows it "
            "trained on cannot be told apart from this holdout"
        )
    missing = [column for column in columns if column not in holdout.columns]
    if missing:
        raise ChampionSplitUnknown(
            f"champion version {champion.version} was trained on columns this data lacks: {missing}"
        )
    mask = in_holdout(holdout[columns], int(theirs["seed"]), float(theirs["holdout_fraction"]))
    shared = holdout[mask]
    changed = ", ".join(f"{key} {theirs[key]} (now {ours[key]})" for key in _SPLIT_KEYS if theirs[key] != ours[key])
    if set(columns) != set(holdout.columns):
        changed = ", ".join(filter(None, [changed, "other columns"]))
    if len(shared) < MIN_SHARED_ROWS:
        raise ChampionSplitUnknown(
            f"champion version {champion.version} was split with {changed}; only {len(shared)} of {len(holdout)} "
            f"holdout rows are ones it never trained on, fewer than {MIN_SHARED_ROWS} to compare on"
        )
    return shared, (
        f"champion version {champion.version} was split with {changed}: both models compared on the "
        f"{len(shared)} of {len(holdout)} holdout rows it never trained on"
    )


def judge_challenger(
    registry: ModelRegistry,
    model_name: str,
    challenger_metrics: dict[str, float],
    holdout: pd.DataFrame,
    target: str,
    task: str,
    gate: GateConfig | None,
    *,
    challenger: Any = None,
    challenger_params: dict[str, Any] | None = None,
) -> GateVerdict:
    """The gate's verdict for a challenger; fails closed when the champion cannot be scored fairly.

    ``challenger`` (the fitted model) and ``challenger_params`` let the gate re-score both models
    on the rows the champion never trained on when its split settings differ.
    """
    try:
        champion = registry.resolve_alias(model_name, PRODUCTION)
        if champion is None:
            return evaluate_challenger(challenger_metrics, task=task, gate=gate)
        rows, note = rows_champion_never_trained_on(champion, holdout, target, challenger_params)
        champion_metrics = score_champion(registry, champion, rows, target, task).metrics
        on_shared_rows = None
        if note:
            if challenger is None:
                raise ChampionSplitUnknown("the challenger model is needed to score it on the shared rows")
            on_shared_rows = evaluate_model(challenger, rows, target, task).metrics
    except (ShipyardError, ValueError, KeyError, TypeError) as exc:
        # A champion that cannot be scored fairly (changed schema, another split, tampered file,
        # unreachable store) leaves nothing to compare with: refuse rather than replace it blindly.
        verdict = evaluate_challenger(challenger_metrics, task=task, gate=gate)
        return GateVerdict(
            blessed=False,
            reasons=verdict.reasons
            + (
                f"fail: champion '{model_name}@{PRODUCTION}' could not be scored on this holdout ({exc}); "
                "not blessed. Promote by hand with `shipyard models promote` if the change is intended.",
            ),
            task=task,
            primary_metric=verdict.primary_metric,
            challenger_metrics=dict(challenger_metrics),
            champion_metrics=None,
            champion_version=None,
        )
    return evaluate_challenger(
        challenger_metrics,
        task=task,
        gate=gate,
        champion=champion_metrics,
        champion_version=champion.version,
        challenger_on_shared_rows=on_shared_rows,
        comparison_note=note,
    )


def gate_run(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    *,
    config_yaml: str,
    challenger_metrics: dict[str, float],
    holdout: pd.DataFrame,
    target: str,
    task: str,
    challenger: Any,
    facts: ModelFacts,
) -> GateVerdict:
    """The gate step of a run: reads the gate config, judges the challenger, records the verdict.

    An unreadable gate config blesses nothing; its reason comes first in the verdict.
    """
    gate, config_problem = read_gate_config(config_yaml)
    verdict = judge_challenger(
        registry,
        model_name,
        challenger_metrics,
        holdout,
        target,
        task,
        gate,
        challenger=challenger,
        challenger_params=facts.params,
    )
    if config_problem:
        verdict = replace(verdict, reasons=(config_problem, *verdict.reasons))
    registry.put_run_record(run_id, "gate", verdict.to_dict())
    return verdict
