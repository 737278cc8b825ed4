"""The deploy: config section (shipyard/defaults/config.yaml, shipyard.config.DeploySettings)."""

from __future__ import annotations

import pytest

from shipyard.config import load_config
from shipyard.errors import ConfigError


def test_the_default_is_registry_only_with_the_manifests_names():
    deploy = load_config().deploy
    assert deploy.target == "registry"
    assert (deploy.namespace, deploy.staging_inferenceservice, deploy.production_inferenceservice) == (
        "shipyard",
        "shipyard-staging",
        "shipyard-production",
    )
    assert deploy.ready_timeout_seconds == 600


def test_a_user_file_overrides_single_keys():
    deploy = load_config("deploy: {target: kserve, ready_timeout_seconds: 90}").deploy
    assert (deploy.target, deploy.ready_timeout_seconds, deploy.namespace) == ("kserve", 90, "shipyard")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deploy: {target: k8s}", "config key 'deploy.target' must be one of ['registry', 'kserve']"),
        ("deploy: {namespace: Shipyard_NS}", "config key 'deploy.namespace' must be a Kubernetes name"),
        ("deploy: {staging_inferenceservice: " + "a" * 46 + "}", "deploy.staging_inferenceservice"),
        ("deploy: {ready_timeout_seconds: 0}", "config key 'deploy.ready_timeout_seconds' must be at least 1"),
        ("deploy: {wait: 3}", "unknown config key(s) ['deploy.wait']"),
    ],
)
def test_wrong_values_name_the_key(text, message):
    with pytest.raises(ConfigError) as raised:
        load_config(text)
    assert message in str(raised.value)
