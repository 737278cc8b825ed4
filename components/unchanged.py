"""check_unchanged: end a run early when a registered version was trained on the same data, config and code."""

from kfp import dsl

from shipyard._image import project_image


@dsl.component(base_image=project_image(), install_kfp_package=False)
def check_unchanged(
    data_hash: str,
    target: str,
    task: str,
    model_name: str,
    store_uri: str,
    config_yaml: str,
    contract_uri: str,
    code_version: str,
    force: bool,
    run_id: str,
    fingerprint: dsl.OutputPath(str),
) -> str:
    """Returns the version already trained on these inputs, or '' when the run must train.

    The run's fingerprint (see shipyard.stages.unchanged) is looked up in the registry with one
    read; on a match the run's record gets an "unchanged" section and everything after this step
    is skipped. A dirty or unknown code version never matches; force always trains.

    Args:
        data_hash: sha256 of the training table's raw bytes, from ingest.
        code_version: As the register step records it ('' = detected the same way).
        force: Train even when the inputs are unchanged.
        fingerprint: The fingerprint digest register records for the new version ('' when the
            code version cannot prove sameness).
    """
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("check-unchanged"):
        with attempt:
            from shipyard.stages.register import code_version as detect_code_version
            from shipyard.stages.unchanged import fingerprint_run, match_unchanged_run, unchanged_message
            from shipyard.store.registry import ModelRegistry

            registry = ModelRegistry.from_uri(store_uri)
            computed = fingerprint_run(
                data_hash=data_hash,
                config_text=config_yaml,
                code_version=code_version or detect_code_version(),
                target=target,
                task=task,
                contract_uri=contract_uri,
            )
            with open(fingerprint, "w", encoding="utf-8") as f:
                f.write(computed.digest if computed.provable else "")
            if not computed.provable:
                print(f"check-unchanged: training: {computed.unprovable}, so sameness cannot be proven")
            matched = match_unchanged_run(registry, model_name, run_id, computed, force=force)
            if matched is None:
                return ""
            print(unchanged_message(model_name, matched.version, registry.aliases(model_name)))
            return str(matched.version)
