"""Alerts built from monitoring verdicts and failed runs; sending never raises."""

from __future__ import annotations

import io

from shipyard.stages.notify import alert_failed_run, alert_settings, failed_run_alert, monitoring_alert


def test_a_decay_verdict_alerts_as_decay_with_its_numbers():
    alert = monitoring_alert(
        {
            "model": "churn",
            "version": 3,
            "run_id": "run-1",
            "summary": "model churn v3: decay: f1 fell",
            "drift_share": 0.1,
            "drifted_columns": [],
            "has_target": True,
            "decay_detected": True,
            "production_metrics": {"f1_macro": 0.4},
            "report_uri": "/store/report.html",
        }
    )
    assert alert.kind == "decay" and alert.version == 3 and alert.report == "/store/report.html"
    assert alert.details["production_metrics"] == {"f1_macro": 0.4}


def test_an_unlabelled_drift_verdict_says_performance_was_not_checked():
    alert = monitoring_alert({"model": "m", "version": 1, "run_id": "r", "drift_share": 0.6, "has_target": False})
    assert alert.kind == "drift" and "not checked" in alert.details["target"]


def test_failed_runs_alert_and_successful_ones_do_not(capsys, monkeypatch):
    monkeypatch.delenv("SHIPYARD_ALERT_WEBHOOK_URL", raising=False)
    alert_failed_run("training", "churn", "run-1", "SUCCEEDED", None)
    alert_failed_run("training", "churn", "run-1", "COMPLETE", None)
    assert capsys.readouterr().err == ""
    alert_failed_run("monitoring", "churn", "run-2", "FAILED", "boom")
    line = capsys.readouterr().err
    assert line.startswith("ALERT [run_failed]") and "monitoring pipeline ended FAILED: boom" in line
    assert failed_run_alert("training", "m", "r", "FAILED", None).details == {"pipeline": "training", "state": "FAILED"}


def test_a_malformed_webhook_url_falls_back_to_the_log_instead_of_failing():
    settings = alert_settings({"SHIPYARD_ALERT_WEBHOOK_URL": "not a url"})
    assert settings.webhook_url is None
    stream = io.StringIO()
    from shipyard.stages.alert import send_alert

    assert send_alert(failed_run_alert("training", "m", "r", "FAILED", None), settings, stream=stream).channel == "log"
