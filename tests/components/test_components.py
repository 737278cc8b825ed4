"""Each component through its python function, on real files, with no orchestrator.

KFP artifacts are plain objects here whose ``uri`` is a local path; the functions run exactly the
code the project image runs in a pod.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kfp import dsl

from shipyard.components import (
    deploy_staging,
    evaluate_model,
    gate_challenger,
    ingest_data,
    promote_production,
    record_outcome,
    register_model,
    smoke_test,
    train_model,
    validate_data,
)
from shipyard.errors import DataValidationError
from shipyard.store.registry import ModelRegistry


def artifact(kind: type, tmp_path: Path, name: str):
    return kind(name=name, uri=str(tmp_path / name), metadata={})


@pytest.fixture
def chain(tmp_path: Path, churn_csv: Path):
    """Runs ingest → validate → train → evaluate → gate and returns everything they produced."""
    store = str(tmp_path / "store")
    out = {"store": store, "tmp": tmp_path}
    out["dataset"] = artifact(dsl.Dataset, tmp_path, "dataset.parquet")
    ingested = ingest_data.python_func(
        data_uri=str(churn_csv), run_id="", pipeline_job_id="job-1", dataset=out["dataset"]
    )
    out["ingest"] = ingested
    out["contract"] = artifact(dsl.Artifact, tmp_path, "contract.json")
    validated = validate_data.python_func(
        dataset=out["dataset"],
        target="churned",
        task="auto",
        model_name="churn",
        store_uri=store,
        contract_uri="",
        config_yaml="",
        run_id=ingested.run_id,
        contract=out["contract"],
        report=artifact(dsl.Markdown, tmp_path, "report.md"),
        report_json=artifact(dsl.Artifact, tmp_path, "r.json"),
    )
    out["task"] = validated.task
    out["model"] = artifact(dsl.Model, tmp_path, "model.joblib")
    out["holdout"] = artifact(dsl.Dataset, tmp_path, "holdout.parquet")
    out["reference"] = artifact(dsl.Dataset, tmp_path, "reference.parquet")
    train_model.python_func(
        dataset=out["dataset"],
        target="churned",
        task=validated.task,
        config_yaml="",
        model=out["model"],
        holdout=out["holdout"],
        reference=out["reference"],
    )
    out["metrics"] = artifact(dsl.Metrics, tmp_path, "metrics.json")
    evaluate_model.python_func(
        model=out["model"],
        holdout=out["holdout"],
        target="churned",
        task=validated.task,
        metrics=out["metrics"],
        classification_metrics=artifact(dsl.ClassificationMetrics, tmp_path, "cm.json"),
    )
    out["verdict"] = artifact(dsl.Artifact, tmp_path, "verdict.json")
    out["blessed"] = gate_challenger.python_func(
        model=out["model"],
        metrics=out["metrics"],
        holdout=out["holdout"],
        target="churned",
        task=validated.task,
        model_name="churn",
        store_uri=store,
        config_yaml="",
        run_id=ingested.run_id,
        verdict=out["verdict"],
        report=artifact(dsl.Markdown, tmp_path, "gate.md"),
    )
    return out


def test_ingest_records_hash_and_resolves_run_id(chain):
    assert chain["ingest"].data_hash.startswith("sha256:")
    assert chain["ingest"].run_id == "job-1"  # no explicit id: the KFP run's UUID
    assert chain["ingest"].rows == 300
    assert chain["dataset"].metadata["data_hash"] == chain["ingest"].data_hash
    assert len(pd.read_parquet(chain["dataset"].path)) == 300


def test_validate_writes_contract_and_resolves_task(chain):
    assert chain["task"] == "classification"
    contract = json.loads(Path(chain["contract"].path).read_text())
    assert contract["target"] == "churned"


def test_evaluate_logs_metrics_for_the_ui(chain):
    assert {"accuracy", "f1_macro", "roc_auc", "log_loss"} <= set(chain["metrics"].metadata)
    saved = json.loads(Path(chain["metrics"].path).read_text())
    assert saved["metrics"]["accuracy"] == chain["metrics"].metadata["accuracy"]


def test_first_model_is_blessed_then_registered_staged_smoked_and_promoted(chain):
    verdict = json.loads(Path(chain["verdict"].path).read_text())
    assert chain["blessed"] is True and verdict["champion_version"] is None, verdict["reasons"]
    store, tmp = chain["store"], chain["tmp"]
    registered = register_model.python_func(
        model=chain["model"],
        metrics=chain["metrics"],
        contract=chain["contract"],
        verdict=chain["verdict"],
        reference=chain["reference"],
        model_name="churn",
        store_uri=store,
        data_uri="data.csv",
        data_hash=chain["ingest"].data_hash,
        code_version="git:abc",
        run_id="job-1",
        pipeline_job_name="job-1",
    )
    assert registered.version == 1 and registered.model_uri.endswith("/models/churn/1/")
    assert deploy_staging.python_func(model_name="churn", store_uri=store, version=1, run_id="job-1") == -1
    smoke_test.python_func(
        holdout=chain["holdout"],
        model_name="churn",
        store_uri=store,
        version=1,
        target="churned",
        task="classification",
        config_yaml="",
        run_id="job-1",
        report=artifact(dsl.Markdown, tmp, "smoke.md"),
    )
    assert (
        promote_production.python_func(
            verdict=chain["verdict"], model_name="churn", store_uri=store, version=1, run_id="job-1"
        )
        == -1
    )
    registry = ModelRegistry.from_uri(store)
    assert registry.aliases("churn") == {"staging": 1, "production": 1}
    lineage = registry.get_version("churn", 1).lineage
    assert lineage["code_version"] == "git:abc" and lineage["data_hash"] == chain["ingest"].data_hash
    assert lineage["run_id"] == "job-1" and lineage["data_contract"]["target"] == "churned"
    assert set(registry.get_run_record("job-1")) >= {"validation", "gate", "register", "smoke_test"}

    # A retried register step finds the version its run already made instead of adding another.
    again = register_model.python_func(
        model=chain["model"],
        metrics=chain["metrics"],
        contract=chain["contract"],
        verdict=chain["verdict"],
        reference=chain["reference"],
        model_name="churn",
        store_uri=store,
        data_uri="data.csv",
        data_hash=chain["ingest"].data_hash,
        code_version="git:abc",
        run_id="job-1",
        pipeline_job_name="job-1",
    )
    assert again.version == 1 and len(registry.list_versions("churn")) == 1


def test_the_training_rows_are_registered_as_the_reference_sample(chain):
    registered = register_model.python_func(
        model=chain["model"],
        metrics=chain["metrics"],
        contract=chain["contract"],
        verdict=chain["verdict"],
        reference=chain["reference"],
        model_name="churn",
        store_uri=chain["store"],
        data_uri="data.csv",
        data_hash=chain["ingest"].data_hash,
        code_version="git:abc",
        run_id="job-1",
        pipeline_job_name="job-1",
    )
    registry = ModelRegistry.from_uri(chain["store"])
    version = registry.get_version("churn", registered.version)
    holdout = pd.read_parquet(chain["holdout"].path)
    facts = version.lineage["reference"]
    assert facts == {
        "file": "reference.parquet",
        "rows": 300 - len(holdout),  # every training row, none of the holdout
        "source_rows": 300 - len(holdout),
        "sampled": False,
        "max_rows": 50000,
        "sample": "all training rows",
    }
    assert version.files["reference.parquet"]["sha256"]
    stored = pd.read_parquet(registry.download_file("churn", 1, "reference.parquet", chain["tmp"] / "ref"))
    assert "churned" in stored.columns and len(stored) == facts["rows"]


def test_a_large_training_table_keeps_a_bounded_sample(tmp_path: Path, churn_csv: Path):
    dataset = artifact(dsl.Dataset, tmp_path, "d.parquet")
    ingest_data.python_func(data_uri=str(churn_csv), run_id="r", pipeline_job_id="", dataset=dataset)
    reference = artifact(dsl.Dataset, tmp_path, "r.parquet")
    train_model.python_func(
        dataset=dataset,
        target="churned",
        task="classification",
        config_yaml="monitoring: {reference_max_rows: 100}",
        model=artifact(dsl.Model, tmp_path, "m.joblib"),
        holdout=artifact(dsl.Dataset, tmp_path, "h.parquet"),
        reference=reference,
    )
    assert len(pd.read_parquet(reference.path)) == 100
    assert reference.metadata["sampled"] is True and reference.metadata["source_rows"] > 100


def test_gate_without_thresholds_blesses_nothing(chain):
    verdict = artifact(dsl.Artifact, chain["tmp"], "verdict2.json")
    blessed = gate_challenger.python_func(
        model=chain["model"],
        metrics=chain["metrics"],
        holdout=chain["holdout"],
        target="churned",
        task="classification",
        model_name="churn",
        store_uri=chain["store"],
        config_yaml="gate: null",
        run_id="r",
        verdict=verdict,
        report=artifact(dsl.Markdown, chain["tmp"], "gate2.md"),
    )
    assert blessed is False
    assert any("threshold" in reason for reason in json.loads(Path(verdict.path).read_text())["reasons"])


def test_validate_stops_on_bad_data_naming_the_column(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n" + "\n".join(f"{i},NA,{'x' if i % 2 else 'y'}" for i in range(40)) + "\n")
    dataset = artifact(dsl.Dataset, tmp_path, "d.parquet")
    ingest_data.python_func(data_uri=str(bad), run_id="r", pipeline_job_id="", dataset=dataset)
    with pytest.raises(DataValidationError, match="column 'b'"):
        validate_data.python_func(
            dataset=dataset,
            target="label",
            task="auto",
            model_name="m",
            store_uri=str(tmp_path / "s"),
            contract_uri="",
            config_yaml="",
            run_id="r",
            contract=artifact(dsl.Artifact, tmp_path, "c.json"),
            report=artifact(dsl.Markdown, tmp_path, "r.md"),
            report_json=artifact(dsl.Artifact, tmp_path, "r.json"),
        )
    assert not (tmp_path / "c.json").exists()  # no contract handed on to training


def test_record_outcome_writes_the_final_state(tmp_path: Path):
    status = dsl.PipelineTaskFinalStatus(
        state="FAILED",
        pipeline_job_resource_name="job-9",
        pipeline_task_name="train",
        error_code=1,
        error_message="boom",
    )
    record_outcome.python_func(
        status=status,
        model_name="m",
        store_uri=str(tmp_path),
        run_id="",
        pipeline_job_id="0b5e-uuid",
        pipeline_job_name="Run of shipyard-training (1a2b3)",
    )
    outcome = ModelRegistry.from_uri(str(tmp_path)).get_run_record("0b5e-uuid")["outcome"]
    assert outcome["state"] == "FAILED" and outcome["error_message"] == "boom"
    assert outcome["staging_withdrawn_from"] is None


def test_a_run_that_died_after_staging_gets_staging_withdrawn_by_the_exit_handler(chain):
    """The pod running smoke_test or promote was killed: only the exit handler is left to clean up."""
    store = chain["store"]
    register_model.python_func(
        model=chain["model"],
        metrics=chain["metrics"],
        contract=chain["contract"],
        verdict=chain["verdict"],
        reference=chain["reference"],
        model_name="churn",
        store_uri=store,
        data_uri="data.csv",
        data_hash=chain["ingest"].data_hash,
        code_version="git:abc",
        run_id="job-1",
        pipeline_job_name="job-1",
    )
    deploy_staging.python_func(model_name="churn", store_uri=store, version=1, run_id="job-1")
    status = dsl.PipelineTaskFinalStatus(
        state="FAILED",
        pipeline_job_resource_name="job-1",
        pipeline_task_name="smoke-test",
        error_code=137,
        error_message="OOMKilled",
    )
    record_outcome.python_func(
        status=status,
        model_name="churn",
        store_uri=store,
        run_id="job-1",
        pipeline_job_id="ignored",
        pipeline_job_name="job-1",
    )
    registry = ModelRegistry.from_uri(store)
    assert registry.aliases("churn") == {}
    assert registry.get_run_record("job-1")["outcome"]["staging_withdrawn_from"] == 1


def test_no_output_artifact_has_a_null_top_level_metadata_value(chain):
    """ML Metadata on a cluster rejects null values at the top level of artifact metadata."""
    for name in ("dataset", "contract", "model", "holdout", "reference", "metrics", "verdict"):
        metadata = chain[name].metadata
        assert all(value is not None for value in metadata.values()), (name, metadata)


def test_regression_model_metadata_has_no_null_classes(tmp_path: Path, regression_csv: Path):
    dataset = artifact(dsl.Dataset, tmp_path, "d.parquet")
    ingest_data.python_func(data_uri=str(regression_csv), run_id="r", pipeline_job_id="", dataset=dataset)
    model = artifact(dsl.Model, tmp_path, "m.joblib")
    train_model.python_func(
        dataset=dataset,
        target="lifetime_value",
        task="regression",
        config_yaml="",
        model=model,
        holdout=artifact(dsl.Dataset, tmp_path, "h.parquet"),
        reference=artifact(dsl.Dataset, tmp_path, "r.parquet"),
    )
    assert "classes" not in model.metadata and json.loads(model.metadata["facts_json"])["classes"] is None
    assert all(value is not None for value in model.metadata.values())
