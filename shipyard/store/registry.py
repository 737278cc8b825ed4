"""The model registry: immutable numbered versions, and the front for aliases and run records.

Versions live in an :class:`~shipyard.store.base.ObjectStore` (a directory or an S3 prefix),
laid out so a KServe ``storageUri`` can point straight at a version directory::

    models/NAME/VERSION/.claim           # create-only: reserves the number for one registering process
    models/NAME/VERSION/model.joblib
    models/NAME/VERSION/reference.parquet  # extra files (register_version's extra_files), sha256 in metadata
    models/NAME/VERSION/metadata.json    # create-only, written last: its presence makes the version visible
    models/NAME/status/VERSION.json      # replaceable: the version's latest smoke test (outside the version directory)
    models/NAME/latest.json              # replaceable hint: the newest visible version (shipyard.store.latest)
    models/NAME/by-run/RUN_ID/SHA256.json  # the version a run registered from that file (before metadata)

How the README's guarantees for versions are kept:

* a number is reserved by creating its ``.claim`` (holding a random token, so a retried create
  recognises its own: :func:`~shipyard.store.documents.create_or_recognise`); a register that
  loses the race tries the next number, and nobody writes into a directory they did not claim;
* ``metadata.json`` is created after the model file, the extra files (each with its sha256 in
  ``files``) and the ``registered`` audit event, and
  :meth:`ModelRegistry.audit_log` shows that event only once the version is visible.

What a call costs does not grow with a model's history: registering, resolving an alias,
reading the latest version and finding what a run registered take a handful of requests
whether the model has ten versions or ten thousand, because none of them lists the model's
keys. The next number comes from the ``latest`` hint (:mod:`shipyard.store.latest`), and a
claim that loses (to a concurrent register, or because the hint lags) simply tries the next
number; a missing, unreadable or wrong hint costs one listing, after which it is rewritten.
Only :meth:`ModelRegistry.list_versions`, :meth:`ModelRegistry.audit_log`,
:meth:`ModelRegistry.verify` and :meth:`ModelRegistry.list_models` read a whole history;
:meth:`ModelRegistry.versions_page` reads one page of it.

Aliases and the audit trail are :mod:`shipyard.store.aliases`; run records are
:mod:`shipyard.store.runs`. :class:`ModelRegistry` is the one object callers use for all three.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from shipyard.errors import IntegrityError, RegistryError
from shipyard.store import NotFound, ObjectStore, open_store
from shipyard.store.aliases import ANY, Aliases, AliasMove, AliasMoved
from shipyard.store.documents import (
    Document,
    create_or_recognise,
    current_actor,
    documents_under,
    dumps,
    iso,
    loads,
    plain,
    utc_now,
)
from shipyard.store.latest import LatestHint
from shipyard.store.names import validate_model_name, validate_run_id
from shipyard.store.runs import RunRecords
from shipyard.vocabulary import PRODUCTION

__all__ = [
    "ANY",
    "SMOKE_TEST_FAILED",
    "SMOKE_TEST_PASSED",
    "AliasMove",
    "AliasMoved",
    "ModelRegistry",
    "ModelVersion",
    "VersionPage",
    "sha256_file",
]

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CLAIM_FILE = ".claim"
#: Names a version's extra files may not take (the registry's own files).
_RESERVED_FILES = frozenset({MODEL_FILE, METADATA_FILE, CLAIM_FILE})
_EXTRA_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FORMAT = 1
_CLAIM_ATTEMPTS = 1000
#: Numbers tried past the hint (claims lost, versions the hint does not know yet) before the
#: registry stops trusting it and lists the model's keys instead.
_WALK_LIMIT = 16

_T = TypeVar("_T")

#: A version's status after its latest smoke test (the ``status`` field of its status document).
SMOKE_TEST_PASSED = "smoke_test_passed"
SMOKE_TEST_FAILED = "smoke_test_failed"


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a local file (what the registry records and verifies)."""
    return _sha256_file(Path(path))[0]


def _metadata_version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(value)
    return value


def _metadata_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RegistryError(f"model version must be a positive whole number, got {version!r}")
    return version


def _check_extra_file_name(filename: object) -> str:
    if (
        not isinstance(filename, str)
        or not _EXTRA_FILE_NAME.fullmatch(filename)
        or filename in _RESERVED_FILES
        or ".." in filename
    ):
        raise RegistryError(
            f"a version's extra file needs a plain file name (letters, digits, '.', '_', '-'; not "
            f"{sorted(_RESERVED_FILES)}), got {filename!r}"
        )
    return filename


def _is_model_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except RegistryError:
        return False
    return True


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version."""

    name: str
    version: int
    uri: str  # the version directory, ending with "/": what a KServe storageUri points at
    model_uri: str  # .../model.joblib
    sha256: str
    size_bytes: int
    created_at: str  # ISO-8601 UTC
    metrics: Document = field(default_factory=dict)
    params: Document = field(default_factory=dict)
    lineage: Document = field(default_factory=dict)
    files: Document = field(default_factory=dict)  # extra file name -> {"sha256", "size_bytes"}

    def to_dict(self) -> Document:
        copy: Document = json.loads(
            json.dumps(
                {
                    "name": self.name,
                    "version": self.version,
                    "uri": self.uri,
                    "model_uri": self.model_uri,
                    "sha256": self.sha256,
                    "size_bytes": self.size_bytes,
                    "created_at": self.created_at,
                    "metrics": self.metrics,
                    "params": self.params,
                    "lineage": self.lineage,
                    "files": self.files,
                }
            )
        )
        return copy


@dataclass(frozen=True)
class VersionPage:
    """One page of a model's versions, newest first (:meth:`ModelRegistry.versions_page`)."""

    name: str
    versions: list[ModelVersion]
    latest: int | None  # the newest visible version; None for a model with none
    #: Pass as ``before`` for the next (older) page; None when this page reaches version 1.
    next_before: int | None
    #: How many older versions there can be at most: the numbers below this page. Exact unless
    #: a register failed after reserving its number (such numbers stay unused).
    older_at_most: int


class ModelRegistry:
    """Registers, finds, promotes and rolls back models in one store."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self.uri: str = store.uri
        self._aliases = Aliases(store, self.get_version)
        self._runs = RunRecords(store)
        self._hint = LatestHint(store)

    @classmethod
    def from_uri(cls, uri: str) -> ModelRegistry:
        """A registry on ``uri``: a directory, ``file://...`` or ``s3://bucket/prefix``."""
        return cls(open_store(uri))

    def __repr__(self) -> str:
        return f"ModelRegistry({self.uri!r})"

    # -- keys ------------------------------------------------------------------------------

    @staticmethod
    def _model_prefix(name: str) -> str:
        return f"models/{name}/"

    @staticmethod
    def _version_key(name: str, version: int, filename: str = "") -> str:
        return f"models/{name}/{version}/{filename}"

    @staticmethod
    def _run_index_key(name: str, run_id: str, sha256: str) -> str:
        return f"models/{name}/by-run/{run_id}/{sha256}.json"

    @staticmethod
    def _numbers(keys: list[str], name: str, filename: str | None) -> set[int]:
        """Version numbers among ``keys``: any file in the directory (filename None) or that file."""
        tail = re.escape(filename) if filename else r"[^/]+"
        pattern = re.compile(rf"models/{re.escape(name)}/([1-9][0-9]*)/{tail}")
        return {int(m.group(1)) for key in keys if (m := pattern.fullmatch(key))}

    def _version_from_metadata(self, document: Document, where: str) -> ModelVersion:
        """A ModelVersion from a metadata document; RegistryError naming the missing or bad field."""

        def get(key: str, convert: Callable[[Any], _T], required: bool = True) -> _T:
            if key not in document or document[key] is None:
                if required:
                    raise RegistryError(f"corrupt registry document {where}: missing field '{key}'")
                return convert({})
            try:
                return convert(document[key])
            except (TypeError, ValueError):
                raise RegistryError(
                    f"corrupt registry document {where}: bad value for field '{key}': {document[key]!r:.80}"
                ) from None

        name, version = get("name", str), get("version", _metadata_version)
        try:
            validate_model_name(name)
        except RegistryError:
            raise RegistryError(
                f"corrupt registry document {where}: bad value for field 'name': {name!r:.80}"
            ) from None
        return ModelVersion(
            name=name,
            version=version,
            uri=self.store.uri_for(self._version_key(name, version)),
            model_uri=self.store.uri_for(self._version_key(name, version, MODEL_FILE)),
            sha256=get("sha256", str),
            size_bytes=get("size_bytes", _metadata_size),
            created_at=get("created_at", str),
            metrics=get("metrics", dict, False),
            params=get("params", dict, False),
            lineage=get("lineage", dict, False),
            files=get("files", dict, False),
        )

    # -- versions --------------------------------------------------------------------------

    def register_version(
        self,
        name: str,
        model_path: str | Path,
        *,
        metrics: Mapping[str, Any],
        params: Mapping[str, Any],
        lineage: Mapping[str, Any],
        run_id: str = "",
        extra_files: Mapping[str, str | Path] | None = None,
    ) -> ModelVersion:
        """Stores ``model_path`` as the next version of ``name`` and returns it.

        The file (and each of ``extra_files``, file name in the version directory -> local path,
        such as the reference sample) is uploaded into a freshly claimed version directory, then
        ``metadata.json`` (with every file's sha256) is created; until then the version is
        invisible. If the store fails midway, nothing becomes visible and a retry gets a new number.

        Raises:
            RegistryError: bad name or run id, missing model or extra file, a reserved or unsafe
                extra file name, non-JSON metrics/params/lineage.
            StoreError: the store cannot be reached.
        """
        validate_model_name(name)
        if run_id:
            validate_run_id(run_id)
        path = Path(model_path)
        if not path.is_file():
            raise RegistryError(f"cannot register model '{name}': model file {str(path)!r} does not exist")
        metrics = plain(metrics, "metrics")
        params = plain(params, "params")
        lineage = plain(lineage, "lineage")
        if run_id:
            lineage.setdefault("run_id", run_id)
        extras = {_check_extra_file_name(filename): Path(source) for filename, source in (extra_files or {}).items()}
        for filename, source in extras.items():
            if not source.is_file():
                raise RegistryError(
                    f"cannot register model '{name}': its {filename} file {str(source)!r} does not exist"
                )
        sha256, size = _sha256_file(path)
        files: Document = {}
        for filename, source in extras.items():
            digest, length = _sha256_file(source)
            files[filename] = {"sha256": digest, "size_bytes": length}
        actor = current_actor()

        version = self._claim_version(name, run_id, actor)
        if run_id:  # before metadata: a retried step finds its version by run id (find_registered)
            self.store.write(self._run_index_key(name, run_id, sha256), dumps({"version": version}))
        self.store.write_file(self._version_key(name, version, MODEL_FILE), path)
        for filename, source in extras.items():
            self.store.write_file(self._version_key(name, version, filename), source)
        created_at = iso(utc_now())
        # Shown by audit_log() only once metadata.json exists, so a failed register leaves no trace.
        self._aliases.append_event(
            name,
            {
                "event": "registered",
                "model": name,
                "version": version,
                "alias": None,
                "previous": None,
                "time": created_at,
                "run_id": run_id,
                "actor": actor,
            },
        )
        metadata = {
            "format": _FORMAT,
            "name": name,
            "version": version,
            "sha256": sha256,
            "size_bytes": size,
            "created_at": created_at,
            "metrics": metrics,
            "params": params,
            "lineage": lineage,
            "files": files,
            "run_id": run_id,
            "actor": actor,
        }
        key = self._version_key(name, version, METADATA_FILE)
        if not create_or_recognise(self.store, key, dumps(metadata)):
            raise RegistryError(
                f"model '{name}' version {version} already has metadata written by someone else; "
                "its claim was not respected — check for a second registry writing to this store"
            )
        # The version is registered now; a hint that cannot be moved only makes readers walk one step.
        self._hint.advance(name, version)
        return self._version_from_metadata(metadata, self.store.uri_for(key))

    def _claim_version(self, name: str, run_id: str, actor: str) -> int:
        """Reserves the next number: the one after the hint, else after every claimed number listed."""
        hinted = self._hint.read(name)
        candidate = (self._scan(name)[1] if hinted is None else hinted) + 1
        claim = dumps({"token": uuid.uuid4().hex, "run_id": run_id, "actor": actor, "time": iso(utc_now())})
        for attempt in range(1, _CLAIM_ATTEMPTS + 1):
            if create_or_recognise(self.store, self._version_key(name, candidate, CLAIM_FILE), claim):
                return candidate
            # Taken by a concurrent register, a crashed one, or one the hint does not know of yet.
            if attempt == _WALK_LIMIT and hinted is not None:  # the hint lags far behind: list once
                candidate = max(candidate, self._scan(name)[1])
            candidate += 1
        raise RegistryError(f"could not reserve a version number for model '{name}' after {_CLAIM_ATTEMPTS} tries")

    def _scan(self, name: str) -> tuple[int, int]:
        """``(newest visible version, highest claimed number)`` from a listing of the model (0 for none).

        The one O(history) step of registering and of finding the latest version, taken only when
        the hint is missing, unreadable or wrong (a registry written before hints existed), after
        which the hint is written again.
        """
        keys = self.store.list(self._model_prefix(name))
        visible = max(self._numbers(keys, name, METADATA_FILE), default=0)
        claimed = max(self._numbers(keys, name, None), default=0)
        if visible:
            self._hint.advance(name, visible, exact=True)
        return visible, claimed

    def _read_metadata(self, name: str, version: int) -> Document | None:
        """The metadata document of ``version``, or None when it is not (yet) visible."""
        key = self._version_key(name, version, METADATA_FILE)
        try:
            return loads(self.store.read(key), self.store.uri_for(key))
        except NotFound:
            return None

    def _latest(self, name: str) -> tuple[int, Document | None]:
        """The newest visible version number (0 for none) and, when at hand, its metadata document.

        Steady state: the hint, one existence check of the claim above it, and the metadata it
        names. Claims above the hint (registers in flight, crashed ones, or finished ones whose
        hint update was lost) are walked over, up to ``_WALK_LIMIT``; beyond that, or when the
        hint is missing or names a version that is not visible, the model is listed once.
        """
        hinted = self._hint.read(name)
        if hinted is None:
            return self._scan(name)[0], None
        best, document = hinted, None
        for number in range(hinted + 1, hinted + 1 + _WALK_LIMIT):
            if not self.store.exists(self._version_key(name, number, CLAIM_FILE)):
                break
            found = self._read_metadata(name, number)
            if found is not None:
                best, document = number, found
        else:
            return self._scan(name)[0], None
        if document is None:
            document = self._read_metadata(name, hinted)
            if document is None:  # the hint names a version that is not visible: do not trust it
                return self._scan(name)[0], None
        elif best > hinted:
            self._hint.advance(name, best)
        return best, document

    def latest_version(self, name: str) -> ModelVersion | None:
        """The newest visible version of ``name`` (None for none), in a few requests whatever its history."""
        validate_model_name(name)
        number, document = self._latest(name)
        if not number:
            return None
        if document is None:
            return self.get_version(name, number)
        key = self._version_key(name, number, METADATA_FILE)
        return self._version_from_metadata(document, self.store.uri_for(key))

    def versions_page(self, name: str, *, limit: int | None = 20, before: int | None = None) -> VersionPage:
        """Up to ``limit`` visible versions of ``name`` below ``before`` (default: from the newest), newest first.

        Reads the metadata of each number walking down, so a page costs about ``limit`` reads
        (plus one per number a failed register left unused) and the latest-version lookup,
        whatever the history. ``limit=None`` walks down to version 1.

        Raises:
            RegistryError: bad name, or ``limit``/``before`` not a positive whole number.
        """
        validate_model_name(name)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise RegistryError(f"page size must be a positive whole number, got {limit!r}")
        if before is not None:
            _check_version(before)
        latest, document = self._latest(name)
        number = latest if before is None else min(latest, before - 1)
        versions: list[ModelVersion] = []
        while number >= 1 and (limit is None or len(versions) < limit):
            found = document if number == latest and document is not None else self._read_metadata(name, number)
            if found is not None:
                key = self._version_key(name, number, METADATA_FILE)
                versions.append(self._version_from_metadata(found, self.store.uri_for(key)))
            number -= 1
        return VersionPage(
            name=name,
            versions=versions,
            latest=latest or None,
            next_before=versions[-1].version if number >= 1 and versions else None,
            older_at_most=max(number, 0),
        )

    def find_registered(self, name: str, run_id: str, sha256: str) -> ModelVersion | None:
        """The visible version that run ``run_id`` registered from a model file with ``sha256``, if any.

        Two reads whatever the history: the run's index entry (written before the version's
        metadata) and that version's metadata. Versions registered before the index existed are
        not found.
        """
        validate_model_name(name)
        validate_run_id(run_id)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise RegistryError(f"not a sha256 hex digest: {sha256!r:.80}")
        key = self._run_index_key(name, run_id, sha256)
        try:
            entry = loads(self.store.read(key), self.store.uri_for(key))
        except NotFound:
            return None
        try:
            number = _metadata_version(entry.get("version"))
        except ValueError:
            return None
        document = self._read_metadata(name, number)
        if document is None:  # that attempt died before its version became visible
            return None
        found = self._version_from_metadata(
            document, self.store.uri_for(self._version_key(name, number, METADATA_FILE))
        )
        if found.sha256 != sha256 or document.get("run_id", found.lineage.get("run_id")) != run_id:
            return None
        return found

    def list_models(self) -> list[str]:
        """Names of models with at least one visible version, sorted.

        Directories under ``models/`` whose name breaks the model-name rule (say a hand-made copy
        ``models/Churn.old/``) are not models the registry could have written: they are skipped
        silently, so one stray entry cannot make listing or verifying every other model fail.
        """
        pattern = re.compile(r"models/([^/]+)/[1-9][0-9]*/" + re.escape(METADATA_FILE))
        found = {m.group(1) for key in self.store.list("models/") if (m := pattern.fullmatch(key))}
        return sorted(name for name in found if _is_model_name(name))

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every visible version of ``name``, oldest first; ``[]`` for an unknown model.

        Reads the whole history (a listing and one read per version): use :meth:`versions_page`
        or :meth:`latest_version` where a page or the newest one is enough.
        """
        validate_model_name(name)
        numbers = self._numbers(self.store.list(self._model_prefix(name)), name, METADATA_FILE)
        return [self.get_version(name, number) for number in sorted(numbers)]

    def get_version(self, name: str, version: int) -> ModelVersion:
        """Raises RegistryError naming the model and version when it does not exist."""
        validate_model_name(name)
        _check_version(version)
        key = self._version_key(name, version, METADATA_FILE)
        try:
            data = self.store.read(key)
        except NotFound:
            latest = self._latest(name)[0]
            have = f"its latest version is {latest}" if latest else "it has no registered versions"
            raise RegistryError(f"model '{name}' has no version {version}; {have}") from None
        return self._version_from_metadata(loads(data, self.store.uri_for(key)), self.store.uri_for(key))

    # -- aliases and audit (shipyard.store.aliases) ----------------------------------------

    def aliases(self, name: str) -> dict[str, int]:
        """Every alias of ``name`` and the version it points at."""
        return self._aliases.versions(name)

    def resolve_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version ``alias`` points at, or None if the alias was never set."""
        version = self._aliases.held(name, alias)
        return None if version is None else self.get_version(name, version)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        run_id: str = "",
        action: str = "promoted",
        expected: Any = ANY,
    ) -> AliasMove:
        """Points ``alias`` at ``version`` (which must exist), pushing the old version onto its history.

        A move to the version the alias already holds changes nothing and records nothing, except
        when the alias got there by a move made with this same (non-empty) ``run_id`` whose audit
        event is missing (the first attempt of a retried step died after moving it): that event
        is written then, once. With ``expected`` (a version, or None for "no alias yet") the move
        happens only if the alias still points there, checked in the same compare-and-swap as the
        write: a pipeline that judged its model against the champion in production never
        replaces a newer one.

        Raises:
            AliasMoved: ``expected`` was given and the alias points elsewhere; nothing changed.
            RegistryError: unknown model/version, bad names, or endless contention.
            StoreError: the store failed; the alias is unchanged unless the message says otherwise.
        """
        return self._aliases.set(name, alias, version, run_id=run_id, action=action, expected=expected)

    def withdraw(self, name: str, alias: str, version: int, *, run_id: str = "") -> AliasMove | None:
        """Undoes a move to ``version`` that did not work out (say, a failed smoke test).

        If ``alias`` still points at ``version`` it goes back to the version it held before, or
        is unset when it held none; the check and the write are one compare-and-swap. Returns
        None, changing nothing, when the alias already points elsewhere.
        """
        return self._aliases.withdraw(name, alias, version, run_id=run_id)

    def rollback(
        self, name: str, alias: str = PRODUCTION, *, run_id: str = "", expected: tuple[int, int] | None = None
    ) -> AliasMove:
        """Points ``alias`` back at the version it held before the last move (and pops that history entry).

        With ``expected`` (``(held now, target)`` from :meth:`rollback_target`) it rolls back only
        if that is still the move, checked in the same compare-and-swap as the write.

        Raises:
            AliasMoved: ``expected`` was given and the alias was moved meanwhile; nothing changed.
            RegistryError: the alias does not exist or has no earlier version.
        """
        return self._aliases.rollback(name, alias, run_id=run_id, expected=expected)

    def rollback_target(self, name: str, alias: str = PRODUCTION) -> tuple[int, int]:
        """``(version held now, version rollback moves to)``, without moving anything."""
        return self._aliases.rollback_target(name, alias)

    def audit_log(self, name: str) -> list[Document]:
        """Events for ``name``, oldest first: registered, promoted, rolled_back (and other actions)."""
        validate_model_name(name)
        keys = self.store.list(self._model_prefix(name))
        visible = self._numbers(keys, name, METADATA_FILE)
        return [
            event
            for event in self._aliases.events(name, keys)
            # a "registered" event whose register failed before the version became visible
            if not (event.get("event") == "registered" and event.get("version") not in visible)
        ]

    # -- version status (mutable, beside the immutable version) ----------------------------

    @staticmethod
    def _status_key(name: str, version: int) -> str:
        return f"models/{name}/status/{version}.json"

    def record_smoke_test(
        self, name: str, version: int, *, passed: bool, problems: Sequence[str], run_id: str = ""
    ) -> Document:
        """Records how ``version``'s smoke test went, replacing any earlier status, in one atomic write.

        A version that failed is marked ``smoke_test_failed`` with the reasons; ``models list`` and
        ``models show`` show the mark and ``models promote`` refuses such a version without
        ``--force``. The version itself (its directory and metadata) stays immutable.

        Raises:
            RegistryError: unknown model or version, bad run id.
        """
        self.get_version(name, version)
        if run_id:
            validate_run_id(run_id)
        document: Document = {
            "model": name,
            "version": version,
            "status": SMOKE_TEST_PASSED if passed else SMOKE_TEST_FAILED,
            "smoke_test": {
                "passed": bool(passed),
                "problems": [str(p) for p in problems],
                "run_id": run_id,
                "checked_at": iso(utc_now()),
                "actor": current_actor(),
            },
        }
        self.store.write(self._status_key(name, version), dumps(document))
        return document

    def version_status(self, name: str, version: int) -> Document | None:
        """The status document of ``version``, or None when it was never smoke-tested."""
        validate_model_name(name)
        _check_version(version)
        key = self._status_key(name, version)
        try:
            return loads(self.store.read(key), self.store.uri_for(key))
        except NotFound:
            return None

    def version_statuses(self, name: str) -> dict[int, Document]:
        """Every status document of ``name``, by version."""
        validate_model_name(name)
        found = documents_under(self.store, f"models/{name}/status/")
        return {int(key): doc for key, doc in found.items() if re.fullmatch(r"[1-9][0-9]*", key)}

    # -- run records (shipyard.store.runs) -------------------------------------------------

    def put_run_record(self, run_id: str, section: str, data: Mapping[str, Any]) -> None:
        """Stores (or replaces) one section of a run's record, e.g. ``validation`` or ``gate``."""
        self._runs.put(run_id, section, data)

    def get_run_record(self, run_id: str) -> dict[str, Document]:
        """Every section recorded for ``run_id``; ``{}`` when none."""
        return self._runs.get(run_id)

    # -- model files -----------------------------------------------------------------------

    def _download_verified(self, name: str, version: int, dest: Path) -> ModelVersion:
        model = self.get_version(name, version)
        try:
            self.store.read_file(self._version_key(name, version, MODEL_FILE), dest)
        except NotFound:
            raise IntegrityError(
                f"model '{name}' version {version}: {MODEL_FILE} is missing from "
                f"{model.uri}; the version cannot be used"
            ) from None
        actual, _ = _sha256_file(dest)
        if actual != model.sha256:
            with contextlib.suppress(OSError):
                dest.unlink()
            raise IntegrityError(
                f"model '{name}' version {version}: {model.model_uri} has sha256 {actual} but {model.sha256} was "
                "registered; the stored file was changed or corrupted — do not serve it, register the model again"
            )
        return model

    def load_model(self, name: str, version: int) -> Any:
        """The unpickled model, after checking its sha256 (never unpickles an unverified file)."""
        import joblib  # heavy; only needed here

        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as tmp:
            dest = Path(tmp) / MODEL_FILE
            self._download_verified(name, version, dest)
            return joblib.load(dest)

    def download_model(self, name: str, version: int, dest_dir: str | Path) -> Path:
        """A verified copy of the version's model file at ``dest_dir/model.joblib``."""
        target_dir = Path(dest_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target_dir / f".{MODEL_FILE}.{uuid.uuid4().hex}.part"
        try:
            self._download_verified(name, version, partial)
            final = target_dir / MODEL_FILE
            os.replace(partial, final)
            return final
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()

    def download_file(self, name: str, version: int, filename: str, dest_dir: str | Path) -> Path:
        """A verified copy of one of the version's extra files (say ``reference.parquet``) in ``dest_dir``.

        Raises:
            RegistryError: the version was registered without that file (the message says so).
            IntegrityError: the stored file is missing or does not match its registered sha256.
        """
        _check_extra_file_name(filename)
        model = self.get_version(name, version)
        expected = model.files.get(filename)
        if not isinstance(expected, dict) or not isinstance(expected.get("sha256"), str):
            raise RegistryError(f"model '{name}' version {version} was registered without a {filename} file")
        target_dir = Path(dest_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target_dir / f".{filename}.{uuid.uuid4().hex}.part"
        try:
            try:
                self.store.read_file(self._version_key(name, version, filename), partial)
            except NotFound:
                raise IntegrityError(
                    f"model '{name}' version {version}: {filename} is missing from {model.uri}"
                ) from None
            actual, _ = _sha256_file(partial)
            if actual != expected["sha256"]:
                raise IntegrityError(
                    f"model '{name}' version {version}: {filename} has sha256 {actual} but {expected['sha256']} "
                    "was registered; the stored file was changed or corrupted"
                )
            final = target_dir / filename
            os.replace(partial, final)
            return final
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()

    def verify(self, name: str | None = None) -> list[Document]:
        """Re-hashes every stored model file (of one model, or all) against its registered sha256.

        One row per version with a ``metadata.json``: ``ok`` False and a ``problem`` when the file
        is missing, differs, or the metadata itself is corrupt (not JSON, a missing or bad field,
        named in the problem). A broken version never stops the others from being checked; only a
        store that cannot be reached does (StoreError).
        """
        names = [validate_model_name(name)] if name is not None else self.list_models()
        report: list[Document] = []
        with tempfile.TemporaryDirectory(prefix="shipyard-verify-") as tmp:
            for model_name in names:
                keys = self.store.list(self._model_prefix(model_name))
                for number in sorted(self._numbers(keys, model_name, METADATA_FILE)):
                    report.append(self._verify_version(model_name, number, Path(tmp) / f"{model_name}-{number}"))
        return report

    def _verify_version(self, name: str, version: int, dest: Path) -> Document:
        entry = {"model": name, "version": version, "ok": False, "expected": None, "actual": None, "problem": ""}
        try:
            model = self.get_version(name, version)
        except RegistryError as exc:
            entry["problem"] = f"{METADATA_FILE} is unusable: {exc}"
            return entry
        entry["expected"] = model.sha256
        try:
            self.store.read_file(self._version_key(name, version, MODEL_FILE), dest)
        except NotFound:
            entry["problem"] = f"{MODEL_FILE} is missing"
            return entry
        entry["actual"], size = _sha256_file(dest)
        dest.unlink()
        if entry["actual"] != model.sha256:
            entry["problem"] = "sha256 mismatch: the stored file was changed or corrupted"
        elif size != model.size_bytes:
            entry["problem"] = f"size {size} bytes, registered {model.size_bytes}"
        else:
            entry["problem"] = self._extra_files_problem(model, dest)
            entry["ok"] = not entry["problem"]
        return entry

    def _extra_files_problem(self, model: ModelVersion, dest: Path) -> str:
        """'' when every extra file of ``model`` is present and matches its sha256, else what is wrong."""
        for filename, expected in sorted(model.files.items()):
            try:
                self.store.read_file(self._version_key(model.name, model.version, filename), dest)
            except NotFound:
                return f"{filename} is missing"
            actual, _ = _sha256_file(dest)
            dest.unlink()
            if not isinstance(expected, dict) or actual != expected.get("sha256"):
                return f"{filename}: sha256 mismatch: the stored file was changed or corrupted"
        return ""
