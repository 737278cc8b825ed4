"""Run records, on both backends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shipyard.errors import RegistryError
from shipyard.store.local import LocalStore
from shipyard.store.runs import RunRecords


def test_run_records(registry):
    assert registry.get_run_record("run-1") == {}
    registry.put_run_record("run-1", "validation", {"ok": True, "problems": []})
    registry.put_run_record("run-1", "gate", {"blessed": False, "score": np.float32(0.5)})
    registry.put_run_record("run-1", "gate", {"blessed": True})  # a retried step replaces its section
    registry.put_run_record("run-2", "outcome", {"status": "failed"})
    assert registry.get_run_record("run-1") == {"gate": {"blessed": True}, "validation": {"ok": True, "problems": []}}
    assert registry.get_run_record("run-2") == {"outcome": {"status": "failed"}}
    with pytest.raises(RegistryError, match="invalid run record section"):
        registry.put_run_record("run-1", "../gate", {})
    with pytest.raises(RegistryError, match="must be a mapping"):
        registry.put_run_record("run-1", "gate", [1])


def test_sections_are_json_documents_under_the_run(tmp_path):
    records = RunRecords(LocalStore(tmp_path))
    records.put("run-1", "gate", {"blessed": True})
    assert json.loads((tmp_path / "runs" / "run-1" / "gate.json").read_text()) == {"blessed": True}
    assert records.get("run-1") == {"gate": {"blessed": True}}
