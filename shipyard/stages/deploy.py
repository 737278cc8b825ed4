"""Local delivery: stage a registered version, smoke-test it as a server would load it, promote it.

On a laptop "deployed" means the alias a local inference server and KServe manifests resolve;
a failed smoke test moves staging back and leaves production alone.
"""

from __future__ import annotations

import tempfile

import pandas as pd

from shipyard.config import SmokeTestSettings
from shipyard.errors import SmokeTestError
from shipyard.stages.smoke import SmokeReport, smoke_test_model
from shipyard.store.registry import AliasMove, ModelRegistry

STAGING = "staging"
PRODUCTION = "production"


def deploy_to_staging(registry: ModelRegistry, model_name: str, version: int, run_id: str) -> AliasMove:
    return registry.set_alias(model_name, STAGING, version, run_id=run_id, action="deployed")


def smoke_test_staged(registry: ModelRegistry, model_name: str, version: int, holdout: pd.DataFrame,
                      target: str, task: str, settings: SmokeTestSettings, run_id: str) -> SmokeReport:
    """Smoke-tests the staged version from its verified registry copy.

    Raises:
        SmokeTestError: a check failed; staging is moved back to where it was.
    """
    registered = registry.get_version(model_name, version)
    with tempfile.TemporaryDirectory(prefix="shipyard-smoke-") as tmp:
        model_path = registry.download_model(model_name, version, tmp)
        report = smoke_test_model(model_path, holdout, target, task,
                                  classes=registered.lineage.get("classes"), settings=settings)
    if not report.passed:
        if registry.aliases(model_name).get(STAGING) == version:
            try:
                registry.rollback(model_name, STAGING, run_id=run_id)
            except Exception:  # noqa: BLE001 - the smoke failure is the error to report
                pass
        raise SmokeTestError(f"model '{model_name}' version {version} failed its smoke test: "
                             + "; ".join(report.problems))
    return report


def promote_to_production(registry: ModelRegistry, model_name: str, version: int, run_id: str) -> AliasMove:
    return registry.set_alias(model_name, PRODUCTION, version, run_id=run_id, action="promoted")
