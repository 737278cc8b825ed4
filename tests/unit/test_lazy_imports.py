"""Tasks that only read types or move aliases do not import the data libraries (issue 10).

Each KFP task is a fresh Python process, so a module-level ``import pandas`` or ``from scipy import
stats`` in a stage module is paid by every task that imports it, needed or not. These checks run a
fresh interpreter, import what those tasks import, and look at ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "scipy", "sklearn", "pyarrow")

# What deploy_staging, promote_production, register_model and record_outcome import in their bodies.
LIGHT_TASK = """
import json, sys
from shipyard.adapters.kserve_cluster import cluster_for
from shipyard.config import load_config
from shipyard.stages.deploy import deploy_staging, promote_production, record_run_outcome
from shipyard.stages.gate import GateVerdict
from shipyard.stages.notify import alert_failed_run
from shipyard.stages.reference import reference_facts
from shipyard.stages.register import build_lineage, register_blessed_model, resolve_run_id
from shipyard.stages.train import ModelFacts
from shipyard.store.registry import ModelRegistry
load_config("")
loaded = [name for name in {heavy!r} if type(sys.modules.get(name)).__name__ == "module"]
print(json.dumps(loaded))
"""


def _loaded_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code.format(heavy=HEAVY)], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)


def test_alias_and_bookkeeping_tasks_load_no_data_library():
    assert _loaded_after(LIGHT_TASK) == []


def test_a_lazily_bound_library_loads_on_first_use():
    code = """
import json, sys
import shipyard.stages.columns as columns
before = type(sys.modules.get("pandas")).__name__ == "module"
kind = columns.column_kind(columns.pd.Series([1.5]).dtype)
print(json.dumps([before, kind, type(sys.modules["pandas"]).__name__]))
"""
    before, kind, after = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    )
    assert (before, kind, after) == (False, "numeric", "module")
