"""The alerts monitoring and the exit handlers send, built from their records; sending never fails a run.

The webhook URL comes from ``$SHIPYARD_ALERT_WEBHOOK_URL`` only (on a cluster, from the optional
Kubernetes Secret ``shipyard-alert-webhook``): the config travels as a pipeline parameter, so it
must not hold the URL. Without a URL the alert is printed as one line (see
:func:`shipyard.stages.alert.send_alert`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shipyard.stages.alert import Alert, AlertResult, AlertSettings, resolve_webhook_url, send_alert

log = logging.getLogger(__name__)

#: The run record section an alert's delivery is recorded under.
ALERT_SECTION = "alert"
#: States of a finished run that are not failures (kfp.local says SUCCEEDED, a cluster COMPLETE).
SUCCEEDED_STATES = frozenset({"SUCCEEDED", "COMPLETE"})


def alert_settings(environ: Mapping[str, str] | None = None) -> AlertSettings:
    """Alert settings from the environment; a malformed URL is logged and alerts go to stderr instead."""
    try:
        return AlertSettings(webhook_url=resolve_webhook_url(None, environ))
    except Exception as exc:  # an alert must never fail the run it reports
        log.error("alert webhook unusable, alerts go to stderr: %s", exc)
        return AlertSettings()


def monitoring_alert(verdict: Mapping[str, Any]) -> Alert:
    """The alert for a monitoring verdict (``MonitoringResult.to_dict()``): decay first, else drift."""
    details: dict[str, Any] = {
        "drift_share": round(float(verdict.get("drift_share") or 0.0), 4),
        "drifted_columns": list(verdict.get("drifted_columns") or []),
    }
    if verdict.get("has_target"):
        details["decay"] = bool(verdict.get("decay_detected"))
        details["production_metrics"] = verdict.get("production_metrics")
    else:
        details["target"] = "not in the new data: performance not checked, no retrain"
    return Alert(
        kind="decay" if verdict.get("decay_detected") else "drift",
        model=str(verdict.get("model")),
        version=verdict.get("version"),
        run_id=str(verdict.get("run_id")),
        summary=str(verdict.get("summary") or ""),
        details=details,
        report=verdict.get("report_uri"),
    )


def failed_run_alert(pipeline: str, model_name: str, run_id: str, state: str, error: str | None) -> Alert:
    return Alert(
        kind="run_failed",
        model=model_name,
        version=None,
        run_id=run_id,
        summary=f"the {pipeline} pipeline ended {state}" + (f": {error}" if error else ""),
        details={"pipeline": pipeline, "state": state},
    )


def deliver(alert: Alert, environ: Mapping[str, str] | None = None) -> AlertResult:
    """Sends ``alert`` with the environment's settings; never raises."""
    return send_alert(alert, alert_settings(environ))


def alert_failed_run(pipeline: str, model_name: str, run_id: str, state: str, error: str | None) -> None:
    """Alerts when ``state`` is not a success; never raises (it runs in an exit handler)."""
    try:
        if str(state).upper() in SUCCEEDED_STATES:
            return
        deliver(failed_run_alert(pipeline, model_name, run_id, str(state), error))
    except Exception as exc:  # an alert must never fail the run it reports
        log.error("run_failed alert not sent: %s: %s", type(exc).__name__, exc)
