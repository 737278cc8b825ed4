"""alert: tell people about drift or decay (a webhook post, or one line in the log); never fails the run."""

from kfp import dsl
from kfp.dsl import Artifact, Input

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def send_monitoring_alert(verdict: Input[Artifact], store_uri: str, run_id: str) -> bool:
    """Posts the monitoring verdict to the webhook in $SHIPYARD_ALERT_WEBHOOK_URL (a Secret on a cluster).

    Without a URL the alert is printed as one line. Delivery problems are logged and recorded in
    the run record ("alert"), never raised: reporting a run must not make it fail.

    Args:
        verdict: The monitor step's JSON (its shipyard_monitoring section).

    Returns:
        Whether a webhook accepted the alert.
    """
    from shipyard.task_record import recorded_task

    with recorded_task("send-monitoring-alert"):
        import json
        import logging

        from shipyard.stages.notify import ALERT_SECTION, deliver, monitoring_alert

        try:
            with open(verdict.path, encoding="utf-8") as f:
                alert = monitoring_alert(json.load(f)["shipyard_monitoring"])
            result = deliver(alert)
            from shipyard.store.registry import ModelRegistry

            ModelRegistry.from_uri(store_uri).put_run_record(
                run_id, ALERT_SECTION, {"alert": alert.to_dict(), "delivery": result.to_dict()}
            )
            return bool(result.delivered)
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the run it reports
            logging.getLogger(__name__).error("alert not sent: %s: %s", type(exc).__name__, exc)
            return False
