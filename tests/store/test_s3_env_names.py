"""shipyard's own S3 variable names (issue 9, defect 5).

On a cluster, KFP's launcher in every pod opens the pipeline root with credentials from the pod's
``AWS_*`` environment (kubeflow/pipelines ``backend/src/v2/config/s3.go``), so shipyard's pods get
``SHIPYARD_S3_*`` names instead and :func:`s3_settings_from_env` reads those first. On a laptop
the ``AWS_*`` names (what boto3 and the AWS CLI read) keep working.
"""

from __future__ import annotations

import pytest

from shipyard.errors import ConfigError, StoreError
from shipyard.store.s3 import S3Store, s3_settings_from_env

SHIPYARD_ENV = {
    "SHIPYARD_S3_ENDPOINT_URL": "http://seaweedfs.kubeflow:9000",
    "SHIPYARD_S3_ACCESS_KEY_ID": "shipyard-key",
    "SHIPYARD_S3_SECRET_ACCESS_KEY": "shipyard-secret",
    "SHIPYARD_S3_REGION": "eu-central-1",
}
AWS_ENV = {
    "AWS_ENDPOINT_URL": "https://s3.example.com",
    "AWS_ENDPOINT_URL_S3": "https://s3-only.example.com",
    "AWS_ACCESS_KEY_ID": "kfp-key",
    "AWS_SECRET_ACCESS_KEY": "kfp-secret",
    "AWS_SESSION_TOKEN": "kfp-token",
    "AWS_REGION": "us-west-2",
}


def test_shipyard_names_are_read():
    settings = s3_settings_from_env(SHIPYARD_ENV)
    assert settings.endpoint_url == "http://seaweedfs.kubeflow:9000"
    assert (settings.access_key, settings.secret_key) == ("shipyard-key", "shipyard-secret")
    assert settings.region == "eu-central-1"


def test_shipyard_names_win_over_aws_names_and_credentials_are_never_mixed():
    """A pod can hold both: KFP's artifact credentials as AWS_*, shipyard's as SHIPYARD_S3_*."""
    settings = s3_settings_from_env({**AWS_ENV, **SHIPYARD_ENV})
    assert settings.endpoint_url == "http://seaweedfs.kubeflow:9000"
    assert (settings.access_key, settings.secret_key) == ("shipyard-key", "shipyard-secret")
    assert settings.session_token is None, "AWS_SESSION_TOKEN belongs to the AWS_* key pair"
    assert settings.region == "eu-central-1"


def test_shipyard_session_token_goes_with_the_shipyard_key_pair():
    settings = s3_settings_from_env({**AWS_ENV, **SHIPYARD_ENV, "SHIPYARD_S3_SESSION_TOKEN": "mine"})
    assert settings.session_token == "mine"


def test_aws_names_still_work_on_a_laptop():
    settings = s3_settings_from_env(AWS_ENV)
    assert settings.endpoint_url == "https://s3-only.example.com"
    assert (settings.access_key, settings.secret_key, settings.session_token) == ("kfp-key", "kfp-secret", "kfp-token")
    assert settings.region == "us-west-2"


@pytest.mark.parametrize(
    "env,match",
    [
        ({"SHIPYARD_S3_ENDPOINT_URL": "minio:9000"}, "SHIPYARD_S3_ENDPOINT_URL"),
        ({"SHIPYARD_S3_ACCESS_KEY_ID": "only-the-id"}, "SHIPYARD_S3_SECRET_ACCESS_KEY"),
        # Half a SHIPYARD_S3_* pair never borrows the other half from AWS_*.
        ({"SHIPYARD_S3_SECRET_ACCESS_KEY": "s", "AWS_ACCESS_KEY_ID": "a"}, "SHIPYARD_S3_ACCESS_KEY_ID"),
    ],
)
def test_bad_shipyard_settings_name_the_shipyard_variable(env, match):
    with pytest.raises(ConfigError, match=match):
        s3_settings_from_env(env)


def test_store_errors_name_the_variables_that_were_read():
    settings = s3_settings_from_env({**SHIPYARD_ENV, "SHIPYARD_S3_ENDPOINT_URL": "http://127.0.0.1:1"})
    with pytest.raises(StoreError) as err:
        S3Store("bucket-x", "p", settings).read("a.json")  # nothing listens on port 1
    assert "check SHIPYARD_S3_ENDPOINT_URL" in str(err.value)
