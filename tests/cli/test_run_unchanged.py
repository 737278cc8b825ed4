"""Nothing changed, nothing done: `shipyard run training` on inputs a registered version was trained on.

The slow tests run the real pipeline under kfp.local (SubprocessRunner): one cold run trains v1 in
a module-scoped store, and each test works on its own copy of it. The fast tests register a
version directly and replace the pipeline run with a recorder, to check the CLI's decision alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import pytest
from click.testing import CliRunner
from sklearn.dummy import DummyClassifier

from shipyard.cli.main import main
from shipyard.cli.training import run_training
from shipyard.stages.source import data_hash
from shipyard.stages.unchanged import fingerprint_key, fingerprint_run, record_fingerprint
from shipyard.store.registry import ModelRegistry

CODE = "git:1234567"
UNCHANGED_V1 = "unchanged: production v1 was trained on this data, config and code"


def cli(store: Path, data: Path, *extra: str):
    return CliRunner().invoke(
        main,
        [
            "run",
            "training",
            "--data",
            str(data),
            "--target",
            "churned",
            "--model",
            "churn",
            "--store",
            str(store),
            *extra,
        ],
        catch_exceptions=False,
    )


def snapshot(store: Path) -> dict[str, bytes]:
    """Every file of a local store by key, but the directory backend's own lock files (``.locks/``)."""
    files = (path for path in store.rglob("*") if path.is_file() and not path.relative_to(store).parts[0] == ".locks")
    return {str(path.relative_to(store)): path.read_bytes() for path in files}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, dict[str, Any]]:
    """A store where `run training` trained, registered and released churn v1 (one real pipeline run)."""
    from shipyard.data.synthetic import write_demo_dataset

    root = tmp_path_factory.mktemp("trained")
    data = write_demo_dataset(root / "churn.csv", n_rows=300, seed=1, task="classification")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIPYARD_CODE_VERSION", CODE)
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        result = cli(root / "store", data, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["version"]) == ("succeeded", 1), summary
    return root / "store", data, summary


@pytest.fixture
def store(trained, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", CODE)
    copy = tmp_path / "store"
    shutil.copytree(trained[0], copy)
    return copy


@pytest.mark.slow
def test_an_identical_rerun_trains_registers_and_moves_nothing(trained, store: Path):
    _, data, first = trained
    before = snapshot(store)

    result = cli(store, data)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        UNCHANGED_V1,
        "nothing trained, registered or moved (`shipyard run training ... --force` retrains)",
    ]
    assert "training 'churn'" not in result.stderr  # kfp.local never started

    after = snapshot(store)
    assert {key for key in before if after.get(key) != before[key]} == set()  # nothing changed or removed
    added = sorted(key for key in after if key not in before)
    assert len(added) == 1 and added[0].startswith("runs/run-") and added[0].endswith("/unchanged.json"), added
    registry = ModelRegistry.from_uri(str(store))
    assert [v.version for v in registry.list_versions("churn")] == [1]
    assert registry.aliases("churn") == {"production": 1, "staging": 1}


@pytest.mark.slow
def test_the_json_summary_of_an_unchanged_run(trained, store: Path):
    _, data, first = trained
    result = cli(store, data, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)  # one object, nothing else on stdout
    assert set(summary) == set(first) | {"message", "fingerprint"}
    assert summary["status"] == "unchanged" and summary["version"] == 1 and summary["blessed"] is None
    assert summary["message"] == UNCHANGED_V1
    assert summary["model_uri"] == ModelRegistry.from_uri(str(store)).get_version("churn", 1).uri
    assert summary["metrics"] == first["metrics"]
    assert summary["aliases"] == {"production": 1, "staging": 1} and summary["task"] == "classification"
    assert summary["run_id"] != first["run_id"] and summary["error"] is None and summary["findings"] == []
    record = ModelRegistry.from_uri(str(store)).get_run_record(summary["run_id"])
    assert record["unchanged"]["version"] == 1 and record["unchanged"]["fingerprint"] == summary["fingerprint"]


@pytest.mark.slow
def test_force_retrains_and_the_next_identical_run_names_the_new_production(trained, store: Path):
    _, data, _ = trained
    forced = cli(store, data, "--force", "--json")
    assert forced.exit_code == 0, forced.stderr
    summary = json.loads(forced.stdout)
    assert (summary["status"], summary["blessed"], summary["version"]) == ("succeeded", True, 2), summary
    registry = ModelRegistry.from_uri(str(store))
    assert registry.get_version("churn", 2).sha256 == registry.get_version("churn", 1).sha256  # same inputs, same model
    assert registry.aliases("churn") == {"production": 2, "staging": 2}
    assert (
        registry.get_version("churn", 2).lineage["fingerprint"]
        == registry.get_version("churn", 1).lineage["fingerprint"]
    )

    again = cli(store, data, "--json")
    assert again.exit_code == 0, again.stderr
    assert (json.loads(again.stdout)["status"], json.loads(again.stdout)["version"]) == ("unchanged", 2)

    verified = CliRunner().invoke(main, ["models", "verify", "--store", str(store), "--json"])
    assert verified.exit_code == 0, verified.output
    assert "fingerprints" not in verified.stdout
    listed = CliRunner().invoke(main, ["models", "show", "churn", "--store", str(store), "--json"])
    assert [v["version"] for v in json.loads(listed.stdout)["versions"]] == [1, 2]


@pytest.mark.slow
def test_the_pipelines_own_check_ends_an_identical_run_after_ingest(trained, store: Path):
    """The cluster's short-circuit, run under kfp.local by calling the pipeline without the CLI's pre-check."""
    _, data, _ = trained
    progress: list[str] = []
    summary = run_training(
        data_uri=str(data),
        target="churned",
        model_name="churn",
        task="auto",
        store_uri=str(store),
        config_text="",
        contract_uri="",
        code_version=CODE,
        on_progress=lambda name, state, seconds, detail="": progress.append(f"{name}:{state}"),
    )
    assert summary["status"] == "unchanged" and summary["version"] == 1, summary
    assert summary["message"] == UNCHANGED_V1
    finished = {entry.split(":")[0] for entry in progress if not entry.endswith(":started")}
    assert finished == {"ingest", "check for changes", "record outcome"}, progress
    registry = ModelRegistry.from_uri(str(store))
    record = registry.get_run_record(summary["run_id"])
    assert set(record) == {"unchanged", "outcome"}  # no validation, gate or register sections
    assert record["outcome"]["unchanged"] == 1 and record["outcome"]["state"] == "SUCCEEDED"
    assert [v.version for v in registry.list_versions("churn")] == [1]


# -- the CLI's decision, without running the pipeline -------------------------------------------------


@pytest.fixture
def registered(tmp_path: Path, churn_csv: Path, monkeypatch) -> tuple[Path, list[dict[str, Any]]]:
    """A store with churn v1 in production recorded as trained on churn_csv, default config, CODE.

    The pipeline run is replaced by a recorder: the tests see whether the CLI would start it.
    """
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", CODE)
    store = tmp_path / "store"
    registry = ModelRegistry.from_uri(str(store))
    model = tmp_path / "model.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), model)
    registry.register_version("churn", model, metrics={}, params={}, lineage={"task": "classification"})
    registry.set_alias("churn", "production", 1)
    fingerprint = fingerprint_run(
        data_hash=data_hash(churn_csv.read_bytes()), config_text="", code_version=CODE, target="churned", task="auto"
    )
    record_fingerprint(registry, "churn", fingerprint.digest, 1)
    registry.record_smoke_test("churn", 1, passed=True, problems=[])  # a run that shipped v1
    assert registry.store.exists(fingerprint_key("churn", fingerprint.digest))

    started: list[dict[str, Any]] = []

    def recorder(**kwargs: Any) -> dict[str, Any]:
        started.append(kwargs)
        return {
            **dict.fromkeys(["task", "blessed", "version", "model_uri", "champion_version", "champion_metrics"]),
            **dict.fromkeys(["error", "error_type", "validation", "store", "log", "artifacts"]),
            "status": "succeeded",
            "run_id": "run-recorded",
            "model": "churn",
            "metrics": {},
            "aliases": {},
            "reasons": [],
            "findings": [],
        }

    monkeypatch.setattr("shipyard.cli.training.run_training", recorder)
    return store, started


def test_the_recorded_inputs_end_the_run_before_the_pipeline(registered, churn_csv: Path):
    store, started = registered
    result = cli(store, churn_csv)
    assert result.exit_code == 0 and result.stdout.startswith(UNCHANGED_V1), result.output
    assert started == []


def test_changed_data_trains(registered, churn_csv: Path, tmp_path: Path):
    store, started = registered
    changed = tmp_path / "changed.csv"
    changed.write_bytes(churn_csv.read_bytes().replace(b"\n", b"\r\n"))  # same table, other bytes
    assert cli(store, changed, "--json").exit_code == 0
    assert len(started) == 1 and started[0]["force"] is False


def test_a_changed_config_trains(registered, churn_csv: Path, tmp_path: Path):
    store, started = registered
    config = tmp_path / "c.yaml"
    config.write_text("seed: 42\n")  # a default, spelled out: the effective config is the same
    assert cli(store, churn_csv, "--config", str(config)).stdout.startswith(UNCHANGED_V1)
    config.write_text("seed: 7\n")
    assert cli(store, churn_csv, "--config", str(config), "--json").exit_code == 0
    assert len(started) == 1


def test_changed_target_or_task_trains(registered, churn_csv: Path):
    store, started = registered
    assert cli(store, churn_csv, "--task", "classification", "--json").exit_code == 0
    assert len(started) == 1


def test_another_code_version_trains(registered, churn_csv: Path, monkeypatch):
    store, started = registered
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", "git:7654321")
    assert cli(store, churn_csv, "--json").exit_code == 0
    assert len(started) == 1 and started[0]["code_version"] == "git:7654321"


def test_dirty_code_trains_and_says_why(registered, churn_csv: Path, monkeypatch):
    store, started = registered
    monkeypatch.setenv("SHIPYARD_CODE_VERSION", CODE + "-dirty")
    result = cli(store, churn_csv)
    assert result.exit_code == 0
    assert len(started) == 1
    assert f"note: the code ({CODE}-dirty) has uncommitted changes, so an unchanged run cannot be recognised" in (
        result.stderr
    )


def test_force_trains_and_passes_force_to_the_pipeline(registered, churn_csv: Path):
    store, started = registered
    assert cli(store, churn_csv, "--force", "--json").exit_code == 0
    assert len(started) == 1 and started[0]["force"] is True
