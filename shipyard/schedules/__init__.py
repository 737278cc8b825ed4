"""Recurring runs as code: the schedules file and the plan that reconciles a KFP server with it.

Pure: nothing here talks to Kubeflow (that is :mod:`shipyard.adapters.kfp_schedules`).
"""

from shipyard.schedules.plan import (
    Change,
    Marker,
    Plan,
    RecurringRun,
    Target,
    plan_schedules,
    read_marker,
)
from shipyard.schedules.spec import (
    LATEST,
    Schedule,
    check_cron,
    fingerprint,
    load_schedules,
    parse_schedules,
)

__all__ = [
    "LATEST",
    "Change",
    "Marker",
    "Plan",
    "RecurringRun",
    "Schedule",
    "Target",
    "check_cron",
    "fingerprint",
    "load_schedules",
    "parse_schedules",
    "plan_schedules",
    "read_marker",
]
