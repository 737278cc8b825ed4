"""RegistryModel.check_alias in-process: a store outage or an alias that points nowhere keeps the old version."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shipyard.errors import StoreError
from shipyard.serving.model import RegistryModel
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import register


class FlakyRegistry:
    """The real registry, except resolve_alias fails (store down) or answers None while told to."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self.mode = "up"

    def resolve_alias(self, name: str, alias: str):
        if self.mode == "down":
            raise StoreError("cannot reach the store at http://127.0.0.1:9: connection refused")
        if self.mode == "nowhere":
            return None
        return self.registry.resolve_alias(name, alias)

    def download_model(self, name: str, version: int, dest_dir):
        return self.registry.download_model(name, version, dest_dir)


@pytest.fixture
def model(tmp_path: Path, classifier) -> tuple[RegistryModel, FlakyRegistry, ModelRegistry]:
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    registry.set_alias("churn", "production", 1)
    flaky = FlakyRegistry(registry)
    served = RegistryModel("churn", flaky, "production")  # type: ignore[arg-type]  # duck-typed registry
    served.load()
    return served, flaky, registry


def test_store_outage_and_alias_pointing_nowhere_keep_the_old_version(model, caplog):
    served, flaky, registry = model
    registry.set_alias("churn", "production", 2)
    caplog.set_level(logging.ERROR, logger="shipyard.serving")

    flaky.mode = "down"
    assert served.check_alias() is False and served.check_alias() is False
    flaky.mode = "nowhere"
    assert served.check_alias() is False
    assert served.served is not None and served.served.version == 1 and served.ready
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, "each problem is logged once while it lasts"
    assert "connection refused; still serving v1" in messages[0]
    assert "points nowhere; still serving v1" in messages[1]

    flaky.mode = "up"
    assert served.check_alias() is True
    assert served.served is not None and served.served.version == 2
