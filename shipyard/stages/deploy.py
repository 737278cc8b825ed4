"""Local delivery: stage a registered version, smoke-test it through the model server, promote it.

On a laptop "deployed" means the alias a local inference server and KServe manifests resolve.
A run that fails on the way leaves the aliases as it found them: a failed smoke test withdraws
staging (and marks the version in the registry), and production moves only if it still holds the
champion the gate compared against.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from shipyard.config import SmokeTestSettings
from shipyard.errors import RegistryError, ShipyardError, SmokeTestError
from shipyard.stages.smoke import SmokeReport, failed_report, smoke_test_endpoint
from shipyard.store.registry import AliasMove, AliasMoved, ModelRegistry
from shipyard.vocabulary import PRODUCTION, STAGING

#: Final run states that mean success: kfp.local reports SUCCEEDED, a cluster COMPLETE. Kept for
#: information only: whether a run shipped is decided from the registry (see record_run_outcome).
SUCCEEDED_STATES = ("SUCCEEDED", "COMPLETE")


def deploy_to_staging(registry: ModelRegistry, model_name: str, version: int, run_id: str) -> AliasMove:
    return registry.set_alias(model_name, STAGING, version, run_id=run_id, action="deployed")


def smoke_test_staged(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    holdout: pd.DataFrame,
    target: str,
    task: str,
    settings: SmokeTestSettings,
    run_id: str,
    *,
    base_url: str | None = None,
) -> SmokeReport:
    """Smoke-tests the staged version through the model server; the result marks the version in the registry.

    Without ``base_url``, the version's registry copy is verified (sha256) and served by a
    `shipyard serve --version` started here for the test and stopped after it; with one (a
    cluster's staging endpoint), the requests go there. A pass is also recorded in the run's record.

    Raises:
        SmokeTestError: a check failed (or the server could not serve the version); staging is
            moved back to where it was and the version is marked ``smoke_test_failed``.
        IntegrityError: the stored model file does not match its sha256; staging is moved back.
    """
    try:
        registered = registry.get_version(model_name, version)
        classes = registered.lineage.get("classes")
        if base_url is not None:
            report = smoke_test_endpoint(
                base_url, model_name, version, holdout, target, task, classes=classes, settings=settings
            )
        else:
            report = _smoke_test_served(registry, model_name, version, holdout, target, task, classes, settings)
    except BaseException:  # store down, hash mismatch, interrupted: the version did not pass
        _withdraw_staging(registry, model_name, version, run_id)  # recorded in the audit log
        raise
    if not report.passed:
        problems = "; ".join(report.problems)
        withdrawn = _withdraw_staging(registry, model_name, version, run_id)
        raise SmokeTestError(
            f"model '{model_name}' version {version} failed its smoke test: {problems}"
            + withdrawn
            + _mark(registry, model_name, version, report, run_id)
        )
    _mark(registry, model_name, version, report, run_id)
    registry.put_run_record(run_id, "smoke_test", report.to_dict())
    return report


def _smoke_test_served(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    holdout: pd.DataFrame,
    target: str,
    task: str,
    classes: Any,
    settings: SmokeTestSettings,
) -> SmokeReport:
    """Verifies the stored file, serves exactly ``version`` with `shipyard serve` and smoke-tests it there."""
    from shipyard.serving.process import ServerStartError, served_version

    with tempfile.TemporaryDirectory(prefix="shipyard-smoke-") as tmp:
        registry.download_model(model_name, version, tmp)  # IntegrityError before any server starts
    try:
        with served_version(registry.uri, model_name, version, timeout=settings.server_start_timeout_s) as url:
            return smoke_test_endpoint(
                url, model_name, version, holdout, target, task, classes=classes, settings=settings
            )
    except ServerStartError as exc:
        return failed_report([f"the server could not serve version {version}: {exc}"])


def _mark(registry: ModelRegistry, model_name: str, version: int, report: SmokeReport, run_id: str) -> str:
    """Records the smoke test in the version's status; returns a note for an error message if that failed."""
    try:
        registry.record_smoke_test(model_name, version, passed=report.passed, problems=report.problems, run_id=run_id)
    except ShipyardError as exc:
        return f" (and the version could not be marked as failed in the registry: {exc})"
    return ""


def withdraw_failed_run(registry: ModelRegistry, model_name: str, run_id: str) -> int | None:
    """Takes staging back from the version ``run_id`` registered, if it still points there.

    The exit handler calls this for every run that did not succeed, so staging never stays on a
    version whose run died between staging and promotion (a killed pod, a store outage).
    Returns the version withdrawn from, or None when there was nothing to undo.
    """
    registered = registry.get_run_record(run_id).get("register", {}).get("version")
    if registered is None:
        return None
    move = registry.withdraw(model_name, STAGING, int(registered), run_id=run_id)
    return None if move is None else int(registered)


def run_shipped(registry: ModelRegistry, model_name: str, run_id: str) -> tuple[int | None, bool]:
    """``(version the run registered or None, whether it shipped)``, from the registry alone.

    A run shipped when it registered a version and production holds it, or the audit log has
    the promotion of that version to production made by this run (production may have moved on
    since). The exit handler's state is not asked: on KFP 2.15/2.16 it can read RUNNING after a
    successful run (kubeflow/pipelines#11979).
    """
    registered = registry.get_run_record(run_id).get("register", {}).get("version")
    if registered is None:
        return None, False
    version = int(registered)
    if registry.aliases(model_name).get(PRODUCTION) == version:
        return version, True
    promoted = any(
        event.get("alias") == PRODUCTION and event.get("version") == version and event.get("run_id") == run_id
        for event in registry.audit_log(model_name)
    )
    return version, promoted


def record_run_outcome(
    registry: ModelRegistry,
    model_name: str,
    run_id: str,
    *,
    state: str,
    pipeline_run: str,
    error_code: int | None,
    error_message: str | None,
) -> dict[str, Any]:
    """Writes how the run ended to its record; a version the run registered but did not ship loses staging.

    Whether the run shipped comes from the registry (:func:`run_shipped`), never from ``state``:
    a run whose promotion is in the audit log keeps its staging alias whatever state the exit
    handler sees. ``state`` (``SUCCEEDED`` under kfp.local; ``COMPLETE``, ``FAILED``, ``RUNNING``
    or ``CANCELED`` on a cluster) is kept in the record for information. Returns the record written.
    """
    version, shipped = run_shipped(registry, model_name, run_id)
    withdrawn = None if shipped else withdraw_failed_run(registry, model_name, run_id)
    record = {
        "model": model_name,
        "state": state,
        "version": version,
        "shipped": shipped,
        "pipeline_run": pipeline_run,
        "error_code": error_code,
        "error_message": error_message,
        "staging_withdrawn_from": withdrawn,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    registry.put_run_record(run_id, "outcome", record)
    return record


def promote_to_production(
    registry: ModelRegistry, model_name: str, version: int, run_id: str, champion_version: int | None
) -> AliasMove:
    """Moves production to ``version`` only if it still holds ``champion_version`` (None: no champion).

    The gate blessed this model against that champion; if production moved meanwhile (another run
    promoted, or someone rolled back), this model never competed with what is there now.

    Raises:
        RegistryError: production moved since the gate; staging is withdrawn and production kept.
    """
    try:
        return registry.set_alias(
            model_name, PRODUCTION, version, run_id=run_id, action="promoted", expected=champion_version
        )
    except AliasMoved as exc:
        raise RegistryError(
            f"not promoting '{model_name}' version {version}: {exc}. It was judged against "
            f"{'no champion' if champion_version is None else f'version {champion_version}'}; "
            "run the pipeline again to compete with the current production model"
            + _withdraw_staging(registry, model_name, version, run_id)
        ) from None


def _withdraw_staging(registry: ModelRegistry, model_name: str, version: int, run_id: str) -> str:
    """Takes staging back from a version that will not ship; returns a note for the error message."""
    try:
        move = registry.withdraw(model_name, STAGING, version, run_id=run_id)
    except ShipyardError as exc:
        return f" (and staging could not be moved back from version {version}: {exc})"
    if move is None:
        return ""
    return f"; staging moved back to version {move.current}" if move.current is not None else "; staging unset again"
