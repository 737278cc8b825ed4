"""A temporary registry with trained models, and `shipyard serve` started as a real process on it."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.config import ModelConfig, load_config
from shipyard.serving import client
from shipyard.stages.train import TrainedModel, train_model
from shipyard.store.registry import ModelRegistry, ModelVersion

ROOT = Path(__file__).resolve().parents[2]
#: Bound for a server to start listening and load a model (kserve alone imports in 3-5 s on a busy machine).
START_TIMEOUT = 90.0


def churn_frame(rows: int = 200, seed: int = 0, regression: bool = False) -> pd.DataFrame:
    """Numeric + categorical features with missing values, like the ingest stage's output."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(size=rows)
    plan = rng.choice(["basic", "pro", "team"], size=rows).astype(object)
    seats = rng.integers(1, 20, size=rows).astype(np.int64)
    score = tenure + (plan == "pro") - 0.05 * seats
    tenure[::13] = np.nan
    plan[::11] = np.nan
    frame = pd.DataFrame({"tenure": tenure, "plan": plan, "seats": seats})
    frame["target"] = 3.0 * score + rng.normal(scale=0.1, size=rows) if regression else np.where(score > 0, "yes", "no")
    return frame


def train(task: str) -> TrainedModel:
    config = dataclasses.replace(load_config(), model=ModelConfig(estimator="linear", params={}))
    return train_model(churn_frame(regression=task == "regression"), "target", task, config)


def register(registry: ModelRegistry, name: str, pipeline: object, trained: TrainedModel, tmp: Path) -> ModelVersion:
    path = tmp / f"{name}-{len(registry.list_versions(name)) + 1}.joblib"
    joblib.dump(pipeline, path)
    return registry.register_version(
        name,
        path,
        metrics={},
        params={},
        lineage={
            "task": trained.task,
            "target": trained.target,
            "classes": list(trained.classes) if trained.classes is not None else None,
            "feature_columns": list(trained.feature_columns),
        },
        run_id=f"{name}-{len(registry.list_versions(name)) + 1}",
    )


@pytest.fixture(scope="session")
def classifier() -> TrainedModel:
    return train("classification")


@pytest.fixture(scope="session")
def regressor() -> TrainedModel:
    return train("regression")


@dataclasses.dataclass
class ServerProcess:
    """A running `shipyard serve`; ``log`` is its stderr, ``url`` known once it listens."""

    process: subprocess.Popen[bytes]
    log: Path
    stdout: Path
    url: str = ""

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_listening(self, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+?);", self.stderr())
            if found:
                self.url = found.group(1)
                return self.url
            if self.process.poll() is not None:
                raise AssertionError(f"shipyard serve exited {self.process.returncode}:\n{self.stderr()}")
            time.sleep(0.1)
        raise AssertionError(f"shipyard serve did not listen within {timeout} s:\n{self.stderr()}")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        url = self.wait_listening(timeout)
        while time.monotonic() < deadline:
            if client.ready(url, timeout=2.0):
                return url
            if self.process.poll() is not None:
                raise AssertionError(f"shipyard serve exited {self.process.returncode}:\n{self.stderr()}")
            time.sleep(0.1)
        raise AssertionError(f"shipyard serve was not ready within {timeout} s:\n{self.stderr()}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def launch(store: Path, name: str, logs: Path, *args: str) -> ServerProcess:
    """Starts `shipyard serve NAME --store STORE --port 0 ARGS...` as a real process (stderr to a file)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("SHIPYARD_STORE", None)
    log, stdout = logs / "stderr.txt", logs / "stdout.txt"
    with log.open("wb") as err, stdout.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shipyard.cli.main", "serve", name, "--store", str(store), "--port", "0", *args],
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(logs),
        )
    return ServerProcess(process, log, stdout)


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """``start(store, name, *args)`` launches a server; every one is stopped at teardown."""
    started: list[ServerProcess] = []

    def start(store: Path, name: str, *args: str) -> ServerProcess:
        started.append(launch(store, name, tmp_path_factory.mktemp("serve-logs"), *args))
        return started[-1]

    yield start
    for server in started:
        server.stop()


#: The segmented model of the segment tests: ``churn`` by ``region``, whose ``us`` customers churn the other way.
SEGMENTED = "churn"
REGION = "region"


def train_segment(segment: str) -> TrainedModel:
    """A classifier per region on different data: ``us`` labels are the opposite of ``eu``'s, so answers differ."""
    frame = churn_frame(seed={"eu": 1, "us": 2}.get(segment, 3))
    if segment == "us":
        frame["target"] = frame["target"].map({"yes": "no", "no": "yes"})
    config = dataclasses.replace(load_config(), model=ModelConfig(estimator="linear", params={}))
    return train_model(frame, "target", "classification", config)


def register_segments(registry: ModelRegistry, trained: dict[str, TrainedModel], tmp: Path) -> dict[str, str]:
    """Registers v1 of each segment's model, points production at it and writes the segment index.

    Returns each segment's model name (``churn--eu``).
    """
    from shipyard.stages.segments import PlannedSegment, SegmentPlan, record_segments, segment_model_name

    names = {segment: segment_model_name(SEGMENTED, segment) for segment in trained}
    for segment, model in trained.items():
        register(registry, names[segment], model.pipeline, model, tmp)
        registry.set_alias(names[segment], "production", 1)
    planned = tuple(PlannedSegment(segment, names[segment], 100) for segment in trained)
    record_segments(registry, SegmentPlan(SEGMENTED, REGION, planned, ()))
    return names
