"""Delivery: stage a registered version, smoke-test it as a server would load it, promote it.

With ``deploy.target: registry`` "deployed" means the alias a ``shipyard serve`` follows. With
``deploy.target: kserve`` each alias moves only after its InferenceService was pointed at the
version and became Ready (:func:`deploy_staging`, :func:`promote_production`); a version that does
not become Ready leaves both the alias and the InferenceService as they were.
A run that fails on the way leaves the aliases as it found them: a failed smoke test withdraws
staging, and production moves only if it still holds the champion the gate compared against.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

import pandas as pd

from shipyard.config import DeploySettings, SmokeTestSettings
from shipyard.errors import ConfigError, RegistryError, ShipyardError, SmokeTestError
from shipyard.stages.inferenceservice import inference_service
from shipyard.stages.smoke import SmokeReport, smoke_test_model
from shipyard.store.registry import AliasMove, AliasMoved, ModelRegistry
from shipyard.vocabulary import PRODUCTION, STAGING

#: Final run states that mean success: kfp.local reports SUCCEEDED, a cluster COMPLETE.
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
) -> SmokeReport:
    """Smoke-tests the staged version from its verified registry copy; a pass is recorded in the run's record.

    Raises:
        SmokeTestError: a check failed; staging is moved back to where it was.
    """
    try:
        registered = registry.get_version(model_name, version)
        with tempfile.TemporaryDirectory(prefix="shipyard-smoke-") as tmp:
            model_path = registry.download_model(model_name, version, tmp)
            report = smoke_test_model(
                model_path, holdout, target, task, classes=registered.lineage.get("classes"), settings=settings
            )
    except BaseException:  # store down, hash mismatch, interrupted: the version did not pass
        _withdraw_staging(registry, model_name, version, run_id)  # recorded in the audit log
        raise
    if not report.passed:
        problems = "; ".join(report.problems)
        raise SmokeTestError(
            f"model '{model_name}' version {version} failed its smoke test: {problems}"
            + _withdraw_staging(registry, model_name, version, run_id)
        )
    registry.put_run_record(run_id, "smoke_test", report.to_dict())
    return report


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
    """Writes how the run ended to its record; a run that did not succeed has staging withdrawn.

    ``state`` is the final status the exit handler sees: ``SUCCEEDED`` under kfp.local,
    ``COMPLETE`` on a cluster (from ML Metadata); anything else is a run that did not ship.
    Returns the record written.
    """
    succeeded = state in SUCCEEDED_STATES
    withdrawn = None if succeeded else withdraw_failed_run(registry, model_name, run_id)
    record = {
        "model": model_name,
        "state": state,
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


# -- delivery to a cluster (deploy.target: kserve) --------------------------------------------


class InferenceServices(Protocol):
    """What delivery needs from a cluster (:class:`shipyard.adapters.kserve_cluster.KServeCluster`)."""

    def deploy(self, body: Mapping[str, Any], timeout_seconds: float) -> Any:
        """Points an InferenceService and waits for Ready; restores it and raises when it is not."""

    def restore(self, pointing: Any) -> None:
        """Undoes what :meth:`deploy` changed."""


def inferenceservice_for(settings: DeploySettings, alias: str) -> str | None:
    """The InferenceService that serves ``alias`` (None: no cluster target, or an alias without one)."""
    if settings.target != "kserve":
        return None
    return {STAGING: settings.staging_inferenceservice, PRODUCTION: settings.production_inferenceservice}.get(alias)


def deliver(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    alias: str,
    settings: DeploySettings,
    cluster: InferenceServices | None,
    move_alias: Callable[[], AliasMove],
) -> AliasMove:
    """Points ``alias``'s InferenceService at ``version``, waits for Ready, then calls ``move_alias``.

    Without a cluster target (or for an alias without an InferenceService) only ``move_alias`` runs.
    If the alias move fails after the InferenceService changed, the InferenceService is restored.

    Raises:
        InferenceServiceNotReady: not Ready in time; the alias was not moved and the
            InferenceService is back on its previous spec.
        ConfigError: ``deploy.target`` is kserve but no cluster was given.
    """
    name = inferenceservice_for(settings, alias)
    if name is None:
        return move_alias()
    if cluster is None:
        raise ConfigError("config key 'deploy.target' is kserve, but no Kubernetes cluster was connected")
    entry = registry.get_version(model_name, version)
    try:
        body = inference_service(
            name, settings.namespace, model=model_name, version=version, version_uri=entry.uri, alias=alias
        )
    except ValueError as exc:
        raise ConfigError(f"config key 'deploy.target' is kserve: {exc}") from None
    pointing = cluster.deploy(body, settings.ready_timeout_seconds)
    try:
        return move_alias()
    except BaseException:
        cluster.restore(pointing)  # the alias did not move, so neither does what it serves
        raise


def deploy_staging(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    run_id: str,
    settings: DeploySettings,
    cluster: InferenceServices | None = None,
) -> AliasMove:
    """Stages ``version``: its InferenceService Ready first (``deploy.target: kserve``), then the staging alias."""
    return deliver(
        registry,
        model_name,
        version,
        STAGING,
        settings,
        cluster,
        lambda: deploy_to_staging(registry, model_name, version, run_id),
    )


def promote_production(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    run_id: str,
    champion_version: int | None,
    settings: DeploySettings,
    cluster: InferenceServices | None = None,
) -> AliasMove:
    """Promotes ``version`` as :func:`promote_to_production` does, production's InferenceService Ready first.

    If production no longer holds ``champion_version``, the InferenceService is not touched.
    """

    def move() -> AliasMove:
        return promote_to_production(registry, model_name, version, run_id, champion_version)

    if registry.aliases(model_name).get(PRODUCTION) != champion_version:
        return move()  # raises RegistryError (and withdraws staging): nothing to point
    return deliver(registry, model_name, version, PRODUCTION, settings, cluster, move)
