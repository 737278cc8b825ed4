"""The thin KFP components of shipyard.

Each is a ``@dsl.component`` on the project image that maps Input/Output paths onto a core
function from ``shipyard.stages``; the logic, and its tests, live there.
"""

from shipyard.components.alert import send_monitoring_alert
from shipyard.components.current_data import current_data
from shipyard.components.deploy import deploy_staging, promote_production, smoke_test
from shipyard.components.evaluate import evaluate_model
from shipyard.components.gate import gate_challenger
from shipyard.components.ingest import ingest_data
from shipyard.components.monitor import monitor_model
from shipyard.components.outcome import record_outcome
from shipyard.components.register import register_model
from shipyard.components.retrain_data import build_retraining_data, decide_retrain
from shipyard.components.segments import deliver_segment, plan_segments
from shipyard.components.train import train_model
from shipyard.components.unchanged import check_unchanged
from shipyard.components.validate import validate_data

__all__ = [
    "ingest_data",
    "current_data",
    "check_unchanged",
    "validate_data",
    "train_model",
    "evaluate_model",
    "gate_challenger",
    "register_model",
    "deploy_staging",
    "smoke_test",
    "promote_production",
    "record_outcome",
    "monitor_model",
    "send_monitoring_alert",
    "decide_retrain",
    "build_retraining_data",
    "plan_segments",
    "deliver_segment",
]
