"""Alias moves that check where the alias points, on both backends.

`expected=` keeps a pipeline from replacing a champion it never competed with; `withdraw`
undoes a staging move whose smoke test failed, including the first one (no earlier version).
"""

from __future__ import annotations

import pytest

from shipyard.store.registry import AliasMoved
from tests.store.test_model_registry import register


def test_promote_only_over_the_champion_the_gate_saw(registry, model_file):
    for run in ("r1", "r2", "r3"):
        register(registry, model_file, run_id=run)
    registry.set_alias("churn", "production", 1)

    # Runs A and B were both judged against v1; B promotes v3 first.
    registry.set_alias("churn", "production", 3, expected=1)
    with pytest.raises(AliasMoved, match="version 3, not version 1"):
        registry.set_alias("churn", "production", 2, expected=1)
    assert registry.aliases("churn") == {"production": 3}
    assert [e["version"] for e in registry.audit_log("churn") if e["event"] == "promoted"] == [1, 3]


def test_a_first_promote_expects_no_production_yet(registry, model_file):
    register(registry, model_file, run_id="r1")
    register(registry, model_file, run_id="r2")
    registry.set_alias("churn", "production", 1, expected=None)
    with pytest.raises(AliasMoved, match="points at version 1, not nothing"):
        registry.set_alias("churn", "production", 2, expected=None)


def test_withdraw_returns_staging_to_the_version_before(registry, model_file):
    register(registry, model_file, run_id="r1")
    register(registry, model_file, run_id="r2")
    registry.set_alias("churn", "staging", 1)
    registry.set_alias("churn", "staging", 2)
    move = registry.withdraw("churn", "staging", 2)
    assert (move.previous, move.current) == (2, 1)
    assert registry.aliases("churn") == {"staging": 1}
    assert registry.withdraw("churn", "staging", 2) is None  # already moved on: nothing changes


def test_withdrawing_a_first_move_unsets_the_alias(registry, model_file):
    register(registry, model_file, run_id="r1")
    register(registry, model_file, run_id="r2")
    registry.set_alias("churn", "staging", 1)
    move = registry.withdraw("churn", "staging", 1)
    assert (move.previous, move.current) == (1, None)
    assert registry.aliases("churn") == {}
    assert registry.resolve_alias("churn", "staging") is None
    events = [(e["event"], e["version"]) for e in registry.audit_log("churn") if e["alias"] == "staging"]
    assert events == [("promoted", 1), ("withdrawn", None)]

    # The alias works as new afterwards, with no phantom history to roll back to.
    registry.set_alias("churn", "staging", 2)
    assert registry.aliases("churn") == {"staging": 2}
    with pytest.raises(Exception, match="no earlier version"):
        registry.rollback("churn", "staging")
