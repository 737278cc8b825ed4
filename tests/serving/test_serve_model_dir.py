"""`shipyard serve --model-dir`: one version directory as KServe's storage initializer leaves it.

The directory is a plain copy of a registry version directory (what the initializer downloads
from ``storageUri`` to /mnt/models). The slow tests start the server as a real process on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.errors import RegistryError
from shipyard.serving import client
from shipyard.serving.model_dir import open_version_dir
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import ROOT, ServerProcess, register


@pytest.fixture
def downloaded(tmp_path: Path, classifier) -> Path:
    """Version 2 of `churn`, copied out of its registry the way the storage initializer copies it."""
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    register(registry, "churn", classifier.pipeline, classifier, tmp_path)
    target = tmp_path / "mnt" / "models"
    shutil.copytree(tmp_path / "store" / "models" / "churn" / "2", target)
    return target


def test_a_downloaded_version_directory_opens_as_that_version(downloaded):
    registry, entry = open_version_dir(downloaded)
    assert (entry.name, entry.version) == ("churn", 2)
    assert registry.get_version("churn", 2).sha256 == entry.sha256


def test_a_directory_without_metadata_is_refused(tmp_path):
    with pytest.raises(RegistryError, match="not a registry version directory"):
        open_version_dir(tmp_path)


def test_serve_refuses_a_name_the_directory_does_not_hold(downloaded):
    result = CliRunner().invoke(main, ["serve", "fraud", "--model-dir", str(downloaded)])
    assert result.exit_code == 1
    assert "holds model 'churn' (version 2), not 'fraud'" in result.output


def _launch(model_dir: Path, logs: Path, **extra_env: str) -> ServerProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.update(extra_env)
    log, stdout = logs / "stderr.txt", logs / "stdout.txt"
    with log.open("wb") as err, stdout.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard.cli.main", "serve", "--model-dir", str(model_dir), "--port", "0"],
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(logs),
        )
    return ServerProcess(process, log, stdout)


@pytest.mark.slow
def test_serves_the_directory_version_under_the_registry_name(downloaded, tmp_path, classifier):
    """As on KServe: the traffic goes to $SHIPYARD_STORE (the shipyard-config ConfigMap's), here the directory store."""
    from shipyard.store import open_store
    from shipyard.store.traffic import REQUESTS, batch_keys, read_batch

    server = _launch(downloaded, tmp_path, SHIPYARD_STORE=str(tmp_path / "store"))
    try:
        url = server.wait_ready()
        frame = pd.DataFrame({"tenure": [1.5, None], "plan": ["pro", None], "seats": [3, 12]})
        answer = client.infer(url, "churn", frame)
        assert answer.model_version == "2"
        assert len(answer.predictions) == len(frame)
    finally:
        assert server.stop() == 0
    store = open_store(str(tmp_path / "store"))
    rows = [read_batch(store, key) for key in batch_keys(store, "churn", REQUESTS, None, None)]
    assert [len(b) for b in rows] == [2] and rows[0]["model_version"].tolist() == [2, 2]


@pytest.mark.slow
def test_a_tampered_model_file_is_never_served(downloaded, tmp_path):
    (downloaded / "model.joblib").write_bytes(b"not the registered model")
    server = _launch(downloaded, tmp_path)
    assert server.process.wait(timeout=120) != 0
    assert "sha256" in server.stderr()
    assert "not logging traffic (no --store or SHIPYARD_STORE to log to)" in server.stderr()
