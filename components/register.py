"""register: version the blessed model in the registry with its full lineage."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def register_model(
    model: Input[Model],
    metrics: Input[Metrics],
    contract: Input[Artifact],
    verdict: Input[Artifact],
    reference: Input[Dataset],
    model_name: str,
    store_uri: str,
    data_uri: str,
    data_hash: str,
    code_version: str,
    run_id: str,
    pipeline_job_name: str,
    fingerprint: str = "",
) -> NamedTuple("RegisterOutputs", [("version", int), ("model_uri", str)]):
    """Stores model.joblib at models/NAME/VERSION/ (a KServe storageUri) with its lineage.

    Args:
        code_version: Commit or version of the code that trained the model ('' = shipyard's version).
        verdict: The gate's verdict; the champion it compared with becomes the parent version.
        reference: The training rows (or their sample) stored beside the model as reference.parquet.
        fingerprint: The run's fingerprint from check_unchanged, recorded in lineage and as
            models/NAME/fingerprints/FINGERPRINT.json so an identical run finds this version ('' = none).

    Returns:
        version: The new, immutable version number.
        model_uri: The version's directory URI.
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("register-model"):
        with attempt:
            import json
            from collections import namedtuple

            from shipyard.stages.gate import GateVerdict
            from shipyard.stages.reference import reference_facts
            from shipyard.stages.register import build_lineage, register_blessed_model
            from shipyard.stages.train import ModelFacts
            from shipyard.stages.unchanged import record_fingerprint
            from shipyard.store.registry import ModelRegistry

            with open(metrics.path, encoding="utf-8") as f:
                evaluation = json.load(f)
            with open(contract.path, encoding="utf-8") as f:
                data_contract = json.load(f)
            with open(verdict.path, encoding="utf-8") as f:
                gate_verdict = GateVerdict.from_dict(json.load(f))
            facts = ModelFacts.from_metadata(model.metadata)
            lineage = build_lineage(
                facts,
                data_contract=data_contract,
                verdict=gate_verdict,
                data_uri=data_uri,
                data_hash=data_hash,
                code_version=code_version,
                pipeline_run=pipeline_job_name,
                reference=reference_facts(reference.metadata),
            )
            if fingerprint:
                lineage["fingerprint"] = fingerprint
            registry = ModelRegistry.from_uri(store_uri)
            registered = register_blessed_model(
                registry,
                model_name,
                model.path,
                facts=facts,
                metrics=evaluation["metrics"],
                lineage=lineage,
                run_id=run_id,
                reference_path=reference.path,
            )
            # After the version is visible: a fingerprint never names a version that does not exist.
            record_fingerprint(registry, model_name, fingerprint, registered.version, run_id=run_id)
            return namedtuple("RegisterOutputs", ["version", "model_uri"])(registered.version, registered.uri)
