"""Delivery: stage a registered version, smoke-test it through the model server, promote it.

With ``deploy.target: registry`` "deployed" means the alias a ``shipyard serve`` follows. With
``deploy.target: kserve`` each alias moves only after its InferenceService was pointed at the
version and became Ready (:func:`deploy_staging`, :func:`promote_production`); a version that does
not become Ready leaves both the alias and the InferenceService as they were.
A run that fails on the way leaves the aliases as it found them: a failed smoke test withdraws
staging (and marks the version in the registry), and production moves only if it still holds the
champion the gate compared against.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.config import DeploySettings, SmokeTestSettings
from shipyard.errors import ConfigError, RegistryError, ShipyardError, SmokeTestError
from shipyard.stages.inferenceservice import inference_service
from shipyard.stages.smoke import SmokeReport, failed_report, smoke_test_endpoint
from shipyard.stages.unchanged import UNCHANGED_SECTION
from shipyard.store.registry import AliasMove, AliasMoved, ModelRegistry
from shipyard.vocabulary import PRODUCTION, STAGING

if TYPE_CHECKING:  # annotations only: staging and promotion never load pandas
    import pandas as pd

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
    deploy: DeploySettings | None = None,
    cluster: InferenceServices | None = None,
) -> SmokeReport:
    """Smoke-tests the staged version through the model server; the result marks the version in the registry.

    Without ``base_url``, the version's registry copy is verified (sha256) and served by a
    `shipyard serve --version` started here for the test and stopped after it; with one (a
    cluster's staging endpoint), the requests go there. A pass is also recorded in the run's record.
    With ``deploy.target: kserve`` (``deploy`` and ``cluster`` given), a failure also points the
    staging InferenceService back at the version the staging alias returns to
    (:func:`realign_staging`), so the cluster never keeps serving what the registry took back.

    Raises:
        SmokeTestError: a check failed (or the server could not serve the version); staging is
            moved back to where it was and the version is marked ``smoke_test_failed``.
        IntegrityError: the stored model file does not match its sha256; staging is moved back.
    """
    try:
        registered = registry.get_version(model_name, version)
        classes = registered.lineage.get("classes")
        staging_service = None if deploy is None else inferenceservice_for(deploy, STAGING)
        if base_url is None and cluster is not None and staging_service is not None:
            base_url = cluster.url(staging_service)  # the InferenceService deploy_staging made Ready
        if base_url is not None:
            report = smoke_test_endpoint(
                base_url, model_name, version, holdout, target, task, classes=classes, settings=settings
            )
        else:
            report = _smoke_test_served(registry, model_name, version, holdout, target, task, classes, settings)
    except BaseException:  # store down, hash mismatch, interrupted: the version did not pass
        _withdraw_staging(registry, model_name, version, run_id)  # recorded in the audit log
        if deploy is not None:
            realign_staging(registry, model_name, deploy, cluster)
        raise
    if not report.passed:
        problems = "; ".join(report.problems)
        withdrawn = _withdraw_staging(registry, model_name, version, run_id)
        realigned = "" if deploy is None else realign_staging(registry, model_name, deploy, cluster)
        raise SmokeTestError(
            f"model '{model_name}' version {version} failed its smoke test: {problems}"
            + withdrawn
            + realigned
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
    record = registry.get_run_record(run_id)
    registered = record.get("register", {}).get("version")
    if registered is None:
        return None, False
    version = int(registered)
    if registry.aliases(model_name).get(PRODUCTION) == version:
        return version, True
    if record.get("promote", {}).get("version") != version:
        return version, False  # the run never tried to promote: no need to read the audit history
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
    deploy: DeploySettings | None = None,
    connect: Callable[[], InferenceServices | None] | None = None,
) -> dict[str, Any]:
    """Writes how the run ended to its record; a version the run registered but did not ship loses staging.

    With ``deploy.target: kserve`` in ``deploy``, a withdrawal also points the staging
    InferenceService back at what staging holds now (:func:`realign_staging`; ``connect`` gives
    the cluster, asked only then); the outcome's ``staging_realigned`` says what happened there
    (empty when nothing was to do), and a failure there never fails the outcome.

    Whether the run shipped comes from the registry (:func:`run_shipped`), never from ``state``:
    a run whose promotion is in the audit log keeps its staging alias whatever state the exit
    handler sees. ``state`` (``SUCCEEDED`` under kfp.local; ``COMPLETE``, ``FAILED``, ``RUNNING``
    or ``CANCELED`` on a cluster) is kept in the record for information. ``unchanged`` is the
    registered version the run found it would only repeat (it trained nothing), else None.
    Returns the record written.
    """
    version, shipped = run_shipped(registry, model_name, run_id)
    # A run that stopped because a registered version was trained on the same inputs
    # (shipyard.stages.unchanged) did nothing on purpose: its outcome says so.
    unchanged = registry.get_run_record(run_id).get(UNCHANGED_SECTION)
    withdrawn = None if shipped else withdraw_failed_run(registry, model_name, run_id)
    realigned = ""
    if withdrawn is not None and deploy is not None and inferenceservice_for(deploy, STAGING) is not None:
        try:
            cluster = connect() if connect is not None else None
        except ShipyardError as exc:
            realigned = f" (and InferenceService {deploy.staging_inferenceservice} could not be pointed back: {exc})"
        else:
            realigned = realign_staging(registry, model_name, deploy, cluster)
            if cluster is None:
                realigned = (
                    f" (and InferenceService {deploy.staging_inferenceservice} could not be pointed back: no cluster)"
                )
    record = {
        "model": model_name,
        "state": state,
        "version": version,
        "shipped": shipped,
        "unchanged": None if unchanged is None else unchanged.get("version"),
        "pipeline_run": pipeline_run,
        "error_code": error_code,
        "error_message": error_message,
        "staging_withdrawn_from": withdrawn,
        "staging_realigned": realigned.removeprefix("; ").strip(),
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
    # Written before the move: a run without it never promoted (run_shipped needs no audit scan).
    if run_id:
        intent = {"model": model_name, "version": version, "expected": champion_version}
        registry.put_run_record(run_id, "promote", intent)
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

    def remove(self, name: str) -> None:
        """Deletes the InferenceService ``name`` (nothing if there is none)."""

    def url(self, name: str) -> str:
        """The URL of the Ready InferenceService ``name``."""


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


def realign_staging(
    registry: ModelRegistry, model_name: str, settings: DeploySettings, cluster: InferenceServices | None
) -> str:
    """Points the staging InferenceService at the version the staging alias holds now; returns a note.

    Called once staging was withdrawn from a version that will not ship: the InferenceService goes
    back to the version the alias went back to, or is deleted when the alias is unset again.
    Nothing happens without a cluster target. Failures are reported in the note, never raised, so
    the error that caused the withdrawal is the one the run reports.
    """
    name = inferenceservice_for(settings, STAGING)
    if name is None or cluster is None:
        return ""
    try:
        current = registry.aliases(model_name).get(STAGING)
        if current is None:
            cluster.remove(name)
            return f"; InferenceService {name} deleted (staging holds no version)"
        entry = registry.get_version(model_name, current)
        body = inference_service(
            name, settings.namespace, model=model_name, version=current, version_uri=entry.uri, alias=STAGING
        )
        cluster.deploy(body, settings.ready_timeout_seconds)
    except (ShipyardError, ValueError) as exc:
        return f" (and InferenceService {name} could not be pointed back to what staging holds: {exc})"
    return f"; InferenceService {name} points at version {current} again"


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
