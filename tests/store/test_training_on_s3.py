"""`shipyard run training --data s3://… --store s3://…` end to end against a live S3-protocol server.

The server is moto (see conftest.py for what it does not emulate); every pipeline task runs
under kfp.local as a subprocess that reads its endpoint and credentials from the environment,
exactly as a pod gets them from the shipyard-s3-credentials Secret on a cluster.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.store import open_store
from tests.store.conftest import SECRET_KEY, free_port, fresh_bucket

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_training_registers_servable_versions_on_s3_and_rolls_back(s3_env, tmp_path: Path):
    from shipyard.data.synthetic import make_demo_dataset

    data_root = f"s3://{fresh_bucket()}/incoming"
    data_store = open_store(data_root)
    for seed in (1, 2):
        data_store.write(
            f"churn-{seed}.csv", make_demo_dataset(400, seed=seed).to_csv(index=False, na_rep="NA").encode()
        )
    store = f"s3://{fresh_bucket()}/shipyard"
    config = tmp_path / "always-bless.yaml"
    config.write_text("gate: {margin: 1.0}\n")  # the second version is blessed whatever its score

    versions = []
    for seed in (1, 2):
        result = cli(
            "run",
            "training",
            "--data",
            f"{data_root}/churn-{seed}.csv",
            "--target",
            "churned",
            "--model",
            "churn",
            "--store",
            store,
            "--config",
            str(config),
            "--json",
        )
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["status"] == "succeeded" and summary["blessed"] is True, summary
        versions.append(summary["version"])
        assert summary["model_uri"] == f"{store}/models/churn/{summary['version']}/"
        log = Path(summary["log"]).read_text()
        assert SECRET_KEY not in log and SECRET_KEY not in result.stdout + result.stderr
    assert versions == [1, 2]

    # The layout is servable as is: a KServe storageUri can point at the version directory.
    registry_store = open_store(store)
    assert registry_store.exists("models/churn/2/model.joblib")

    shown = json.loads(cli("models", "show", "churn", "--store", store, "--json").stdout)
    assert shown["aliases"] == {"production": 2, "staging": 2}
    latest = shown["versions"][-1]
    assert len(latest["sha256"]) == 64
    lineage = latest["lineage"]
    assert lineage["data_uri"] == f"{data_root}/churn-2.csv" and lineage["data_hash"].startswith("sha256:")
    assert lineage["parent_version"] == 1 and lineage["data_contract"]["target"] == "churned"
    assert lineage["run_id"] and lineage["code_version"]

    rolled = json.loads(cli("models", "rollback", "churn", "--store", store, "--json").stdout)
    assert rolled == {"model": "churn", "alias": "production", "previous": 2, "current": 1}
    assert json.loads(cli("models", "list", "--store", store, "--json").stdout)["models"][0]["aliases"] == {
        "production": 1,
        "staging": 2,
    }
    assert json.loads(cli("models", "verify", "--store", store, "--json").stdout)["ok"] is True


def test_an_unreachable_store_is_one_clear_error_quickly(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens here
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["models", "list", "--store", "s3://models/shipyard"])
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert result.stderr.startswith("error:") and "127.0.0.1" in result.stderr
    assert SECRET_KEY not in result.stderr and "Traceback" not in result.stderr


def test_run_training_checks_store_and_data_before_any_task(s3_env, tmp_path: Path, monkeypatch, churn_csv: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where S3-store runs keep task logs
    missing = cli(
        "run",
        "training",
        "--data",
        f"s3://{fresh_bucket()}/nope.csv",
        "--target",
        "churned",
        "--store",
        f"s3://{fresh_bucket()}/shipyard",
    )
    assert missing.exit_code == 1 and "no data file at 's3://" in missing.stderr

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # the store is down
    started = time.monotonic()
    down = cli("run", "training", "--data", str(churn_csv), "--target", "churned", "--store", "s3://models/shipyard")
    assert down.exit_code == 1 and "cannot reach" in down.stderr
    assert time.monotonic() - started < 20
    assert not (tmp_path / "cache").exists(), "no pipeline task started"


@pytest.mark.parametrize("command", [["models", "list"], ["models", "verify"]])
def test_a_mistyped_bucket_is_not_an_empty_registry(s3_env, command):
    result = CliRunner().invoke(main, [*command, "--store", f"s3://{fresh_bucket()}/shipyard"])
    assert result.exit_code == 1 and "does not exist" in result.stderr
