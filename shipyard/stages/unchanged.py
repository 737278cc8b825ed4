"""Nothing changed, nothing done: a training run on inputs a registered version was trained on ends early.

A run's *fingerprint* is the sha256 of everything that decides the model it would produce:

* the data hash (sha256 of the raw bytes, :func:`shipyard.stages.source.data_hash`, as ingest records it);
* the effective config: the user's YAML merged over the defaults (what
  :func:`shipyard.config.load_config` validates and keeps as ``raw``), as canonical JSON, so
  comments and key order do not matter but any value does (monitoring and deploy settings
  included: a changed setting retrains, which is the safe side);
* the code version (:func:`shipyard.stages.register.code_version`), shipyard's own version and
  scikit-learn's (a project commit says nothing about an upgraded trainer);
* the target, the task as asked (``auto`` is not ``classification``), the contract URI and the
  contract file's hash.

Registering a version records ``models/NAME/fingerprints/<fingerprint>.json`` naming the version
(the newest one trained on those inputs); a later run looks its own fingerprint up with one GET.
The key's parent is not a version number, so the registry's listing and verification skip it.

A code version can only prove "same code" when it names one immutable state of the code: a
commit with uncommitted changes (``-dirty``) or an unknown version (empty, ``+unknown``) never
matches and is never recorded, so such runs always train (:func:`unprovable_reason` says why).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Any

from shipyard.config import default_config_text, merge_yaml, parse_yaml
from shipyard.errors import RegistryError
from shipyard.stages.code_version import EDITABLE_SUFFIX
from shipyard.stages.source import data_hash as hash_of_bytes
from shipyard.stages.source import read_data_file
from shipyard.store.base import NotFound
from shipyard.store.documents import dumps, json_default, loads
from shipyard.store.names import validate_model_name
from shipyard.store.registry import SMOKE_TEST_PASSED, ModelRegistry, ModelVersion
from shipyard.vocabulary import PRODUCTION

#: Bump when what goes into a fingerprint changes: old records then simply stop matching.
FINGERPRINT_FORMAT = 1
#: The run record section an unchanged run writes (and the exit handler's outcome copies).
UNCHANGED_SECTION = "unchanged"
_DIRTY_SUFFIX = "-dirty"
#: Libraries whose version is part of "the code" besides shipyard's own.
_TRAINING_LIBRARIES = ("shipyard-mlops", "scikit-learn")


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept, NaN refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=json_default
    )


#: Config sections no training stage reads, left out of the fingerprint.
NOT_TRAINING = ("traffic", "segments")


def effective_config_json(config_text: str) -> str:
    """The user's config merged over the defaults, as canonical JSON, without the sections training ignores.

    :data:`NOT_TRAINING` sections (how ``shipyard serve`` logs traffic, how a table is cut into
    segments: a segment's own rows are its data) change no model: a change there alone must not
    count as a new training input.

    Merged without validating (validation imports the drift stage's numpy and scipy, too slow for a
    run that may end here): a config that does not validate cannot equal one a version was trained
    with. Raises ConfigError when the text is not a YAML mapping.
    """
    merged = merge_yaml(parse_yaml(default_config_text(), "the built-in config"), parse_yaml(config_text, "the config"))
    for section in NOT_TRAINING:
        merged.pop(section, None)
    return canonical_json(merged)


def unprovable_reason(code_version: str) -> str:
    """'' when ``code_version`` names one fixed state of the code, else why it cannot prove "same code"."""
    if not code_version:
        return "the code version is unknown"
    if code_version.endswith(_DIRTY_SUFFIX):
        return f"the code ({code_version}) has uncommitted changes"
    if "+unknown" in code_version:
        return f"the code version ({code_version}) is unknown"
    if code_version.endswith(EDITABLE_SUFFIX):
        return f"the code ({code_version}: an editable install outside a git checkout) may have changed"
    return ""


def library_versions() -> dict[str, str]:
    """Installed versions of shipyard and the trainer, read from package metadata (no import)."""
    found = {}
    for name in _TRAINING_LIBRARIES:
        try:
            found[name] = distribution_version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


@dataclass(frozen=True)
class RunFingerprint:
    """What a training run's model depends on, and its digest."""

    digest: str  # hex sha256 of canonical_json(inputs)
    inputs: Mapping[str, Any]  # data_hash, config_sha256, code_version, libraries, target, task, contract...
    unprovable: str  # '' when the digest may be matched; else why not (see unprovable_reason)

    @property
    def provable(self) -> bool:
        return not self.unprovable


def fingerprint_run(
    *,
    data_hash: str,
    config_text: str,
    code_version: str,
    target: str,
    task: str,
    contract_uri: str = "",
    libraries: Mapping[str, str] | None = None,
) -> RunFingerprint:
    """The fingerprint of a training run on these inputs.

    Args:
        data_hash: ``sha256:<hex>`` of the training table's raw bytes.
        config_text: The user's config YAML ('' = the defaults); merged over the defaults here.
        code_version: The resolved code version ('' counts as unknown).
        contract_uri: The data contract file, if any; its bytes are hashed too (same URI, new
            contract: a different run).
        libraries: Versions of shipyard and scikit-learn (default: the installed ones).

    Raises:
        ConfigError: the config is not a YAML mapping (the run would fail anyway).
        DataValidationError: the contract file cannot be read.
    """
    contract_hash = hash_of_bytes(read_data_file(contract_uri)) if contract_uri else ""
    config_json = effective_config_json(config_text)
    inputs = {
        "format": FINGERPRINT_FORMAT,
        "data_hash": data_hash,
        "config_sha256": hashlib.sha256(config_json.encode("utf-8")).hexdigest(),
        "code_version": code_version,
        "libraries": dict(library_versions() if libraries is None else libraries),
        "target": target,
        "task": task,
        "contract_uri": contract_uri,
        "contract_hash": contract_hash,
    }
    digest = hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()
    return RunFingerprint(digest=digest, inputs=inputs, unprovable=unprovable_reason(code_version))


def fingerprint_key(model_name: str, digest: str) -> str:
    """``models/NAME/fingerprints/<digest>.json``: beside the versions, never parsed as one."""
    validate_model_name(model_name)
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r:.80}")
    return f"models/{model_name}/fingerprints/{digest}.json"


def record_fingerprint(
    registry: ModelRegistry, model_name: str, digest: str, version: int, *, run_id: str = ""
) -> bool:
    """Records that ``version`` was trained on the inputs whose fingerprint is ``digest``; False if nothing written.

    ``digest`` is '' for a fingerprint that cannot prove sameness (nothing is written). The newest
    version trained on the inputs wins (a whole-object write): after a ``--force`` retrain that
    went to production, an identical run names the version in production, not the one it replaced.
    Either is a faithful answer, so two identical runs racing here need no compare-and-swap.
    """
    if not digest:
        return False
    document = {
        "format": FINGERPRINT_FORMAT,
        "fingerprint": digest,
        "model": model_name,
        "version": version,
        "run_id": run_id,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    registry.store.write(fingerprint_key(model_name, digest), dumps(document))
    return True


def find_trained_version(registry: ModelRegistry, model_name: str, fingerprint: RunFingerprint) -> int | None:
    """The version trained on exactly these inputs, or None; one GET. Never matches an unprovable fingerprint.

    A record that cannot be read as one (hand-edited, another format) is no match: the run trains.
    """
    if not fingerprint.provable:
        return None
    key = fingerprint_key(model_name, fingerprint.digest)
    try:
        document = loads(registry.store.read(key), key)
    except (NotFound, RegistryError):
        return None
    version = document.get("version")
    if document.get("fingerprint") != fingerprint.digest or isinstance(version, bool) or not isinstance(version, int):
        return None
    return version if version >= 1 else None


def match_unchanged_run(
    registry: ModelRegistry, model_name: str, run_id: str, fingerprint: RunFingerprint, *, force: bool = False
) -> ModelVersion | None:
    """The registered version this run would only repeat, or None when the run must train.

    On a match the run's ``unchanged`` record section is written (the exit handler's outcome and the
    CLI's summary read it). ``force`` always trains. A recorded version that no longer reads back
    (removed by hand) is no match, and neither is one that has not passed its smoke test: one that
    failed never proved deliverable (and the failure may have been the machine's: a slow server),
    and one without a result was never tested (its run was interrupted, killed, or failed at
    deploy), so the run tries again rather than point at an untested version.
    """
    if force:
        return None
    version = find_trained_version(registry, model_name, fingerprint)
    if version is None:
        return None
    try:
        matched = registry.get_version(model_name, version)
        status = registry.version_status(model_name, version)
    except RegistryError:
        return None
    if status is None or status.get("status") != SMOKE_TEST_PASSED:
        return None
    record_unchanged_run(registry, run_id, model_name, version, fingerprint)
    return matched


def unchanged_message(model_name: str, version: int, aliases: Mapping[str, int]) -> str:
    """The one line an unchanged run prints, naming where the matched version stands."""
    production = aliases.get(PRODUCTION)
    if production == version:
        return f"unchanged: production v{version} was trained on this data, config and code"
    where = "no version is in production" if production is None else f"production is v{production}"
    return (
        f"unchanged: v{version} of '{model_name}' was trained on this data, config and code ({where}; "
        f"`shipyard models promote {model_name} {version}` releases it, --force retrains)"
    )


def record_unchanged_run(
    registry: ModelRegistry, run_id: str, model_name: str, version: int, fingerprint: RunFingerprint
) -> dict[str, Any]:
    """Writes the run's ``unchanged`` record section: the version it matched and why; returns it."""
    record = {
        "model": model_name,
        "version": version,
        "fingerprint": fingerprint.digest,
        "inputs": dict(fingerprint.inputs),
    }
    registry.put_run_record(run_id, UNCHANGED_SECTION, record)
    return record
