"""Aliases and the audit trail, on both backends.

`expected=` keeps a pipeline from replacing a champion it never competed with; `withdraw`
undoes a staging move whose smoke test failed, including the first one (no earlier version).
"""

from __future__ import annotations

import json

import pytest

from shipyard.errors import RegistryError
from shipyard.store.registry import AliasMove, AliasMoved
from tests.store.conftest import register


def test_aliases_set_resolve_and_keep_history(registry, model_file):
    for _ in range(3):
        register(registry, model_file)
    assert registry.resolve_alias("churn", "production") is None
    assert registry.set_alias("churn", "production", 1, run_id="run-a") == AliasMove("churn", "production", None, 1)
    assert registry.set_alias("churn", "production", 2) == AliasMove("churn", "production", 1, 2)
    assert registry.set_alias("churn", "production", 3) == AliasMove("churn", "production", 2, 3)
    registry.set_alias("churn", "staging", 2, action="deployed")
    assert registry.aliases("churn") == {"production": 3, "staging": 2}
    assert registry.resolve_alias("churn", "production").version == 3

    document = json.loads(registry.store.read("models/churn/aliases/production.json"))
    assert document["version"] == 3 and document["history"] == [1, 2]
    assert {"updated_at", "run_id", "actor"} <= set(document) and document["actor"] == "tester@ci"

    # moving an alias to where it already is changes nothing
    assert registry.set_alias("churn", "production", 3) == AliasMove("churn", "production", 3, 3)
    assert json.loads(registry.store.read("models/churn/aliases/production.json"))["history"] == [1, 2]


def test_rollback_pops_history(registry, model_file):
    for _ in range(3):
        register(registry, model_file)
    for version in (1, 2, 3):
        registry.set_alias("churn", "production", version)
    assert registry.rollback("churn", run_id="run-rb") == AliasMove("churn", "production", 3, 2)
    assert registry.rollback("churn", "production") == AliasMove("churn", "production", 2, 1)
    assert registry.resolve_alias("churn", "production").version == 1
    with pytest.raises(
        RegistryError,
        match=r"no earlier version left to roll back to \(it points at version 1 and its rollback history is used "
        r"up\); move it with `shipyard models promote churn VERSION --alias production`",
    ):
        registry.rollback("churn")
    with pytest.raises(RegistryError, match="has no alias 'canary'"):
        registry.rollback("churn", "canary")
    assert json.loads(registry.store.read("models/churn/aliases/production.json"))["history"] == []


def test_set_alias_needs_an_existing_version(registry, model_file):
    register(registry, model_file)
    registry.set_alias("churn", "production", 1)
    with pytest.raises(RegistryError, match="model 'churn' has no version 5"):
        registry.set_alias("churn", "production", 5)
    with pytest.raises(RegistryError, match="has no version 1"):
        registry.set_alias("fraud", "production", 1)
    assert registry.aliases("churn") == {"production": 1}


def test_audit_log_records_every_event_oldest_first(registry, model_file):
    register(registry, model_file, run_id="run-1")
    register(registry, model_file, run_id="run-2")
    registry.set_alias("churn", "production", 1, run_id="run-1")
    registry.set_alias("churn", "production", 2, run_id="run-2")
    registry.rollback("churn", "production", run_id="run-3")
    events = registry.audit_log("churn")
    assert [(e["event"], e["version"], e["alias"], e["previous"], e["run_id"]) for e in events] == [
        ("registered", 1, None, None, "run-1"),
        ("registered", 2, None, None, "run-2"),
        ("promoted", 1, "production", None, "run-1"),
        ("promoted", 2, "production", 1, "run-2"),
        ("rolled_back", 1, "production", 2, "run-3"),
    ]
    assert all(e["actor"] == "tester@ci" and e["time"].endswith("Z") for e in events)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert registry.audit_log("never-registered") == []


def test_actor_defaults_to_user_at_host(registry, model_file, monkeypatch):
    monkeypatch.delenv("SHIPYARD_ACTOR")
    register(registry, model_file)
    actor = registry.audit_log("churn")[0]["actor"]
    assert "@" in actor and actor != "tester@ci"


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
