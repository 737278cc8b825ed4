"""The `shipyard` CLI through click's test runner: the contract users and later stages rely on."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner
from sklearn.dummy import DummyClassifier

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["run", "--help"],
        ["models", "--help"],
        ["data", "--help"],
        ["run", "training", "--help"],
        ["models", "list", "--help"],
        ["models", "show", "--help"],
        ["models", "promote", "--help"],
        ["models", "rollback", "--help"],
        ["models", "verify", "--help"],
        ["compile", "--help"],
        ["demo", "--help"],
        ["run", "monitoring", "--help"],
        ["data", "demo", "--help"],
        ["data", "contract", "--help"],
        ["data", "validate", "--help"],
    ],
)
def test_every_command_has_help_with_an_example(runner, command):
    result = invoke(runner, *command)
    assert result.exit_code == 0
    assert "Example" in result.output


def test_compile_writes_ir_yaml(runner, tmp_path: Path):
    result = invoke(runner, "compile", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["pipelines"]
    assert Path(written["training"]).read_text().startswith("# PIPELINE DEFINITION")


def test_missing_data_file_is_a_clear_error(runner, tmp_path: Path):
    result = invoke(
        runner, "run", "training", "--data", str(tmp_path / "nope.csv"), "--target", "y", "--store", str(tmp_path / "s")
    )
    assert result.exit_code == 1
    assert "no data file" in result.stderr and "Traceback" not in result.stderr


def test_broken_config_names_the_key(runner, tmp_path: Path, churn_csv: Path):
    config = tmp_path / "c.yaml"
    config.write_text("model: {estimator: xgboost}\n")
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--config",
        str(config),
        "--store",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 1
    assert "model.estimator" in result.stderr


def test_invalid_model_name_is_refused_before_running(runner, tmp_path: Path, churn_csv: Path):
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--model",
        "../etc",
        "--store",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 1 and "invalid model name '../etc'" in result.stderr
    assert not (tmp_path / "s").exists(), "no task ran and nothing was written"


def _register(store: Path, name: str, count: int) -> ModelRegistry:
    registry = ModelRegistry.from_uri(str(store))
    for i in range(count):
        path = store.parent / f"m{i}.joblib"
        joblib.dump(DummyClassifier(strategy="constant", constant=i).fit([[0], [1]], [i, i]), path)
        registry.register_version(
            name,
            path,
            metrics={"accuracy": 0.5 + i / 10},
            params={},
            lineage={"data_uri": "d.csv", "data_hash": f"sha256:{i}"},
            run_id=f"r{i}",
        )
    return registry


def test_models_promote_rollback_show_and_verify(runner, tmp_path: Path):
    store = tmp_path / "store"
    registry = _register(store, "churn", 2)
    assert invoke(runner, "models", "promote", "churn", "1", "--store", str(store)).exit_code == 0
    moved = invoke(runner, "models", "promote", "churn", "2", "--store", str(store), "--json")
    assert json.loads(moved.stdout) == {"model": "churn", "alias": "production", "previous": 1, "current": 2}

    rolled = invoke(runner, "models", "rollback", "churn", "--store", str(store), "--json")
    assert json.loads(rolled.stdout)["current"] == 1
    assert registry.aliases("churn") == {"production": 1}

    shown = json.loads(invoke(runner, "models", "show", "churn", "--store", str(store), "--json").stdout)
    assert shown["aliases"] == {"production": 1}
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert all(len(v["sha256"]) == 64 and v["lineage"]["data_uri"] == "d.csv" for v in shown["versions"])
    assert [e["event"] for e in shown["audit"]].count("rolled_back") == 1

    listed = json.loads(invoke(runner, "models", "list", "--store", str(store), "--json").stdout)
    assert listed["models"][0]["name"] == "churn" and listed["models"][0]["aliases"] == {"production": 1}

    assert invoke(runner, "models", "verify", "--store", str(store)).exit_code == 0
    Path(registry.get_version("churn", 2).model_uri.removeprefix("file://")).write_bytes(b"tampered")
    verify = runner.invoke(main, ["models", "verify", "churn", "--store", str(store), "--json"])
    assert verify.exit_code == 1
    assert [r["version"] for r in json.loads(verify.stdout)["results"] if not r["ok"]] == [2]


def test_unknown_model_and_version_are_clear_errors(runner, tmp_path: Path):
    store = tmp_path / "store"
    _register(store, "churn", 1)
    result = invoke(runner, "models", "promote", "churn", "7", "--store", str(store))
    assert result.exit_code == 1 and "7" in result.stderr and "Traceback" not in result.stderr
    assert ModelRegistry.from_uri(str(store)).aliases("churn") == {}
    assert invoke(runner, "models", "show", "nope", "--store", str(store)).exit_code == 1


@pytest.mark.slow
def test_run_training_json_is_one_object_with_the_contract_keys(runner, tmp_path: Path, churn_csv: Path):
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--model",
        "churn",
        "--store",
        str(tmp_path / "s"),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)  # exactly one JSON document, nothing else on stdout
    assert {"status", "model", "blessed", "version", "metrics", "aliases", "reasons"} <= set(payload)
    assert payload["status"] == "succeeded" and payload["blessed"] is True and payload["version"] == 1
    assert payload["aliases"] == {"production": 1, "staging": 1}


@pytest.mark.slow
def test_invalid_data_exits_non_zero_with_one_clear_message(runner, tmp_path: Path):
    data = tmp_path / "bad.csv"
    data.write_text("x,empty,label\n" + "\n".join(f"{i},,{'a' if i % 3 else 'b'}" for i in range(60)) + "\n")
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(data),
        "--target",
        "label",
        "--model",
        "bad",
        "--store",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 1
    assert "column 'empty'" in result.stderr
    assert "task logs:" in result.stderr and "Traceback" not in result.stderr
    # The message says the fix; advice about tolerances and contracts does not apply to an empty column.
    assert "drop the column or fill it" in result.stderr
    assert "shipyard data contract" not in result.stderr and "hint:" not in result.stderr
    assert ModelRegistry.from_uri(str(tmp_path / "s")).list_versions("bad") == []


@pytest.mark.slow
def test_demo_leaves_a_production_model(runner, tmp_path: Path):
    store = tmp_path / "store"
    result = invoke(runner, "demo", "--rows", "400", "--drift", "1", "--store", str(store))
    assert result.exit_code == 0, result.stderr
    # CI/CD: the first model is blessed and deployed; CT: the shifted period drifts, alerts the local
    # webhook receiver, retrains through the gate and promotes the retrained model.
    assert "BLESSED" in result.stdout and "drift: DETECTED" in result.stdout
    assert "[webhook receiver] *shipyard: Drift detected — model churn-demo version 1*" in result.stdout
    assert "new version: v2 (promoted to production)" in result.stdout
    # The loop closed on logged traffic: every answered row logged, every label joined, and the
    # server that was never restarted answers with the retrained version.
    assert "800 rows answered; 800 logged" in result.stderr and "matched to logged requests: 800" in result.stdout
    assert "on its traffic from" in result.stderr and "400 row(s), 400 labelled" in result.stderr
    assert "The same server, not restarted, now answers with production v2" in result.stderr
    report = next(line.split(": ", 1)[1] for line in result.stdout.splitlines() if "open the drift report" in line)
    assert Path(report.strip()).is_file()
    listed = invoke(runner, "models", "list", "--store", str(store))
    assert "churn-demo" in listed.stdout and "production=v2" in listed.stdout
    shown = invoke(runner, "models", "show", "churn-demo", "--store", str(store))
    assert "monitoring: v2 not monitored yet" in shown.stdout  # the verdict was for v1, now replaced


def test_data_contract_then_validate_without_training(runner, tmp_path: Path, churn_csv: Path):
    contract = tmp_path / "contracts" / "churn.json"
    written = invoke(
        runner, "data", "contract", "--data", str(churn_csv), "--target", "churned", "--out", str(contract)
    )
    assert written.exit_code == 0 and json.loads(contract.read_text())["target"] == "churned"

    ok = invoke(
        runner,
        "data",
        "validate",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--contract",
        str(contract),
        "--json",
    )
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True

    import pandas as pd

    frame = pd.read_csv(churn_csv)
    frame["monthly_charges"] = frame["monthly_charges"] * 100
    shifted = tmp_path / "shifted.csv"
    frame.to_csv(shifted, index=False)
    bad = runner.invoke(
        main, ["data", "validate", "--data", str(shifted), "--target", "churned", "--contract", str(contract), "--json"]
    )
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False and any("monthly_charges" in p for p in report["problems"])
    assert not (tmp_path / "store").exists()  # nothing trained, nothing registered


def test_data_validate_against_a_model_without_production_is_a_clear_error(runner, tmp_path: Path, churn_csv: Path):
    result = invoke(
        runner,
        "data",
        "validate",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--model",
        "churn",
        "--store",
        str(tmp_path / "store"),
    )
    assert result.exit_code == 1 and "no production version" in result.stderr


def test_errors_before_a_run_still_give_one_json_object(runner, tmp_path: Path):
    result = runner.invoke(
        main,
        [
            "run",
            "training",
            "--data",
            str(tmp_path / "nope.csv"),
            "--target",
            "y",
            "--store",
            str(tmp_path / "s"),
            "--json",
        ],
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["status"] == "error" and "no data file" in payload["error"]
    assert result.stderr.startswith("error: no data file")


def test_a_missing_contract_file_is_reported_before_running(runner, tmp_path: Path, churn_csv: Path):
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--contract",
        str(tmp_path / "nope.json"),
        "--store",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 1 and "no data contract file" in result.stderr
    assert not (tmp_path / "s" / "local-runs").exists()


@pytest.mark.parametrize("command", [["models", "list"], ["models", "verify"], ["models", "show", "churn"]])
def test_a_mistyped_store_is_not_an_empty_registry(runner, tmp_path: Path, command):
    result = invoke(runner, *command, "--store", str(tmp_path / "typo"))
    assert result.exit_code == 1 and "no shipyard store at" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["models", "list"], ["models", "verify"], ["models", "promote", "churn", "1"], ["models", "list", "--json"]],
)
def test_a_store_scheme_no_backend_serves_is_one_clear_line(runner, command):
    result = invoke(runner, *command, "--store", "gs://bucket/shipyard")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: unsupported store URI scheme 'gs://' in 'gs://bucket/shipyard': use a directory path, "
        "file:///path or s3://bucket/prefix"
    ]
    if "--json" in command:
        assert json.loads(result.stdout)["error_type"] == "InvalidURI"


def test_promoting_to_the_current_version_says_nothing_moved(runner, tmp_path: Path):
    store = tmp_path / "store"
    _register(store, "churn", 1)
    invoke(runner, "models", "promote", "churn", "1", "--store", str(store))
    again = invoke(runner, "models", "promote", "churn", "1", "--store", str(store))
    assert again.exit_code == 0 and "already points at v1; nothing moved" in again.stdout


@pytest.mark.slow
def test_a_failed_smoke_test_leaves_no_alias_and_says_what_was_kept(runner, tmp_path: Path, churn_csv: Path):
    config = tmp_path / "impossible-latency.yaml"
    config.write_text("smoke_test: {max_latency_ms: 0}\n")
    store = tmp_path / "s"
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(churn_csv),
        "--target",
        "churned",
        "--model",
        "smk",
        "--config",
        str(config),
        "--store",
        str(store),
        "--json",
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and summary["error_type"] == "SmokeTestError"
    assert summary["version"] == 1 and summary["aliases"] == {}
    assert "version 1 was registered but not released (aliases now: none)" in result.stderr
    assert ModelRegistry.from_uri(str(store)).aliases("smk") == {}


def test_a_config_that_is_not_utf8_is_one_clear_error(runner, tmp_path: Path, churn_csv: Path):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("model: {estimator: linéar}\n".encode("latin-1"))
    result = runner.invoke(
        main,
        [
            "run",
            "training",
            "--data",
            str(churn_csv),
            "--target",
            "churned",
            "--config",
            str(config),
            "--store",
            str(tmp_path / "s"),
            "--json",
        ],
    )
    assert result.exit_code == 1 and "not UTF-8" in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.stderr


def test_an_unwritable_output_path_is_one_clear_error(runner, tmp_path: Path, churn_csv: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(
        main,
        [
            "data",
            "contract",
            "--data",
            str(churn_csv),
            "--target",
            "churned",
            "--out",
            str(blocker / "contract.json"),
            "--json",
        ],
    )
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "error"
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_data_demo_has_json(runner, tmp_path: Path):
    result = invoke(runner, "data", "demo", "--out", str(tmp_path / "d.csv"), "--rows", "60", "--json")
    payload = json.loads(result.stdout)
    assert payload["rows"] == 60 and payload["target"] == "churned" and Path(payload["path"]).exists()


@pytest.mark.slow
def test_data_warnings_are_shown_on_a_successful_run(runner, tmp_path: Path, churn_csv: Path):
    import pandas as pd

    frame = pd.read_csv(churn_csv)
    frame.loc[:2, "churned"] = None
    data = tmp_path / "some-unlabelled.csv"
    frame.to_csv(data, index=False, na_rep="NA")
    result = invoke(
        runner,
        "run",
        "training",
        "--data",
        str(data),
        "--target",
        "churned",
        "--model",
        "w",
        "--store",
        str(tmp_path / "s"),
    )
    assert result.exit_code == 0, result.stderr
    assert "data warning: column 'churned': 3 of 300 rows" in result.stdout


def test_models_show_prints_the_latest_monitoring_verdict_of_production(runner, tmp_path: Path):
    from shipyard.store.documents import dumps

    store = tmp_path / "store"
    registry = _register(store, "churn", 2)
    registry.set_alias("churn", "production", 2)
    shown = invoke(runner, "models", "show", "churn", "--store", str(store))
    assert "monitoring: v2 not monitored yet" in shown.stdout
    assert (
        json.loads(invoke(runner, "models", "show", "churn", "--store", str(store), "--json").stdout)["monitoring"]
        is None
    )

    verdict = {
        "model": "churn",
        "version": 2,
        "run_id": "run-x",
        "checked_at": "2025-01-01T00:00:00Z",
        "alert": True,
        "has_target": False,
        "summary": "model churn v2: drift in 1 of 2 columns (tenure)",
        "drift_detected": True,
        "drift_share": 0.5,
        "drifted_columns": ["tenure"],
        "decay_detected": False,
        "report_uri": "/tmp/report.html",
    }
    registry.store.write("models/churn/monitoring/v2/latest.json", dumps(verdict))
    registry.store.write("models/churn/monitoring/v1/latest.json", dumps({**verdict, "version": 1, "run_id": "old"}))
    text = invoke(runner, "models", "show", "churn", "--store", str(store)).stdout
    assert "monitoring: v2 ALERT at 2025-01-01T00:00:00Z (run run-x)" in text
    assert "drifted: tenure; decay: not checked" in text and "report: /tmp/report.html" in text
    shown = json.loads(invoke(runner, "models", "show", "churn", "--store", str(store), "--json").stdout)
    assert shown["monitoring"]["run_id"] == "run-x"  # production's verdict, not an older version's
