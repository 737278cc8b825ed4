"""What an interrupted local run leaves behind, settled the way the exit handler would have.

A signal stops a local run before its exit handler (``record_outcome``) can run, so the runner
does that handler's work itself: a version the run registered but did not ship loses the staging
alias, and the run's outcome is recorded with state ``INTERRUPTED``
(:func:`shipyard.stages.deploy.record_run_outcome`). The exit status follows the shell's
convention: 128 + the signal number.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from shipyard.config import DeploySettings
from shipyard.stages.deploy import InferenceServices, record_run_outcome
from shipyard.store.registry import ModelRegistry

#: The state an interrupted run's outcome record carries (KFP's own states are upper case too).
INTERRUPTED = "INTERRUPTED"


def exit_status(signal_name: str) -> int:
    """130 for SIGINT, 143 for SIGTERM: 128 + the signal's number, as shells report a process a signal stopped."""
    return 128 + int(signal.Signals[signal_name])


def settle_interrupted_run(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    *,
    signal_name: str,
    stopped_tasks: list[str],
    deploy: DeploySettings | None = None,
    connect: Callable[[], InferenceServices | None] | None = None,
) -> dict[str, Any]:
    """Records ``run_id``'s outcome as interrupted; staging goes back if the run moved it and did not ship.

    Returns:
        The outcome record written (``version``, ``shipped``, ``staging_withdrawn_from``, ...).
    """
    during = f" during {', '.join(stopped_tasks)}" if stopped_tasks else ""
    return record_run_outcome(
        registry,
        model_name,
        run_id,
        state=INTERRUPTED,
        pipeline_run=f"local run {run_id}",
        error_code=None,
        error_message=f"interrupted by {signal_name}{during}",
        deploy=deploy,
        connect=connect,
    )


def left_state(outcome: dict[str, Any], aliases: dict[str, int]) -> str:
    """One line on what the interrupted run left: the version registered or not, staging taken back, the aliases."""
    version = outcome.get("version")
    if version is None:
        kept = "nothing was registered"
    elif outcome.get("shipped"):
        kept = f"version {version} was registered and promoted to production"
    else:
        kept = f"version {version} was registered but not released"
    withdrawn = outcome.get("staging_withdrawn_from")
    if withdrawn is not None:
        kept += f"; staging was taken back from version {withdrawn}"
    shown = ", ".join(f"{alias} -> v{number}" for alias, number in sorted(aliases.items())) or "none"
    return f"{kept} (aliases now: {shown})"
