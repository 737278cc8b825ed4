"""The model registry: immutable numbered versions, movable aliases, an audit trail, run records.

Everything lives in an :class:`~shipyard.store.base.ObjectStore` (a directory or an S3
prefix), laid out so a KServe ``storageUri`` can point straight at a version directory::

    models/NAME/VERSION/.claim           # create-only: reserves the number for one registering process
    models/NAME/VERSION/model.joblib
    models/NAME/VERSION/metadata.json    # create-only, written last: its presence makes the version visible
    models/NAME/aliases/ALIAS.json       # {"version", "history", "previous", "action", "updated_at",
                                         #  "run_id", "actor", "move_id"}
    models/NAME/audit/<UTC time>-<uuid>.json      # append-only events; an alias move's event is
                                                  # <its updated_at>-<its move_id>.json
    runs/RUN_ID/SECTION.json             # what each pipeline step recorded about a run

Why it stays right under failure and concurrency ("a wrong alias ships a wrong model"):

* **Version numbers** are reserved with a create-only ``.claim``; of several processes
  registering at once exactly one gets each number, the others take the next. A register
  that dies after claiming leaves a number with no ``metadata.json``: invisible, skipped
  by the next register. Numbers may therefore have gaps; they are never reused.
* **Visibility** is a single create-only object, ``metadata.json``, written after the model
  file, so a reader sees either a complete version or none. Versions are immutable: the
  metadata cannot be overwritten and nobody writes into a version directory they did not claim.
* **Alias moves** are one whole-object compare-and-swap (``If-Match`` on S3, ``flock`` + hash
  locally), retried on conflict, so concurrent moves never lose an entry of ``history`` and
  a reader sees the old or the new alias, never half. ``rollback`` pops ``history``.
* **Ambiguous outcomes** (the store applied a write but the answer was lost and the client
  retried) are recognised: every claim and alias document carries a random token, and a
  failed conditional write whose stored content is our own counts as success.
* **A lost answer to the alias write itself** (the store applied it, then the connection
  died and the client's retry failed too) is resolved by re-reading the alias: if it holds
  our ``move_id`` the move happened and the call goes on normally; if it holds another, the
  StoreError says the alias did not move; if even the re-read fails, it says the alias *may*
  have moved and how to look (``shipyard models show NAME``), so nobody retries a rollback blind.
* **Loading** verifies the sha256 recorded at registration *before* unpickling.

The ``registered`` audit event is written before ``metadata.json`` and shown only once
that version is visible. The ``promoted``/``rolled_back`` event is written after the alias
moved, at a key derived from the move (its time and ``move_id``, which the event also
carries); if that write fails, the StoreError says the alias did move. A ``set_alias`` retried
with the same ``run_id`` (a pipeline step restarted after its first attempt moved the alias)
finds the alias already there and writes that move's event if it is missing: create-only at
the same key, so there is never a second one.

Stray entries under ``models/`` that are not valid model names (``models/Churn.old/...``) are
not models: :meth:`ModelRegistry.list_models` skips them silently, so they cannot break listing
or verifying the real ones. A version whose ``metadata.json`` is corrupt is listed by
:meth:`ModelRegistry.verify` as a failed row naming the problem.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import random
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from shipyard.errors import IntegrityError, RegistryError, StoreError
from shipyard.store import NotFound, ObjectStore, open_store
from shipyard.store.names import validate_alias, validate_model_name, validate_run_id, validate_section

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CLAIM_FILE = ".claim"
_FORMAT = 1
_CAS_ATTEMPTS = 200
_CLAIM_ATTEMPTS = 1000


def current_actor() -> str:
    """Who is acting: ``SHIPYARD_ACTOR`` if set (a CI job, a pipeline), else ``user@host``."""
    actor = os.environ.get("SHIPYARD_ACTOR", "").strip()
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except Exception:  # containers often run as a uid without a passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    # Microseconds: alias-move audit keys derive from this time, and the audit log is read in key
    # order, so millisecond ties between quick moves used to come back in random order.
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if callable(getattr(value, "tolist", None)):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _plain(value: Any, what: str) -> dict:
    """A deep, JSON-clean copy of a caller's mapping (numpy numbers become Python numbers)."""
    if not isinstance(value, Mapping):
        raise RegistryError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(dict(value), default=_json_default))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} must be JSON-serialisable: {exc}") from None


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=_json_default).encode("utf-8")


def _loads(data: bytes, where: str) -> dict:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(f"corrupt registry document {where}: {exc}") from None
    if not isinstance(document, dict):
        raise RegistryError(f"corrupt registry document {where}: expected a JSON object")
    return document


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
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    lineage: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return json.loads(
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
                }
            )
        )


@dataclass(frozen=True)
class AliasMove:
    """What an alias change did; ``previous`` is None when the alias is new, ``current`` None once withdrawn."""

    model: str
    alias: str
    previous: int | None
    current: int | None


class AliasMoved(RegistryError):
    """The alias no longer points where the caller expected: someone else moved it meanwhile."""


#: ``set_alias(expected=ANY)``: move whatever the alias points at now.
ANY = object()


def _is_model_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except RegistryError:
        return False
    return True


def _audit_stamp(moment: datetime) -> str:
    """The time part of an audit key: sorts like the time (UTC, fixed width)."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _held(document: dict | None) -> int | None:
    """The version an alias document points at; None for no alias or a withdrawn one."""
    if document is None or document.get("version") is None:
        return None
    return int(document["version"])


class ModelRegistry:
    """Registers, finds, promotes and rolls back models in one store."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self.uri: str = store.uri

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
    def _alias_key(name: str, alias: str) -> str:
        return f"models/{name}/aliases/{alias}.json"

    @staticmethod
    def _numbers(keys: list[str], name: str, filename: str | None) -> set[int]:
        """Version numbers among ``keys``: any file in the directory (filename None) or that file."""
        tail = re.escape(filename) if filename else r"[^/]+"
        pattern = re.compile(rf"models/{re.escape(name)}/([1-9][0-9]*)/{tail}")
        return {int(m.group(1)) for key in keys if (m := pattern.fullmatch(key))}

    # -- primitives ------------------------------------------------------------------------

    def _create_or_recognise(self, key: str, data: bytes) -> bool:
        """create(); a "no" whose stored bytes are exactly ours (a retried request) counts as "yes"."""
        if self.store.create(key, data):
            return True
        try:
            return self.store.read(key) == data
        except NotFound:
            return False

    def _append_audit(self, name: str, event: dict) -> None:
        key = f"models/{name}/audit/{_audit_stamp(_utc_now())}-{uuid.uuid4().hex}.json"
        self._create_or_recognise(key, _dumps(event))

    def _write_move_event(self, name: str, alias: str, document: dict) -> None:
        """The audit event of the alias move ``document`` records, create-only at a key derived from it.

        The event is built from the alias document alone, so writing it again (a retry, or a later
        ``set_alias`` recovering it) produces the same key and bytes: never a second event.
        """
        moment = datetime.fromisoformat(document["updated_at"].replace("Z", "+00:00"))
        key = f"models/{name}/audit/{_audit_stamp(moment)}-{document['move_id']}.json"
        self._create_or_recognise(
            key,
            _dumps(
                {
                    "event": document["action"],
                    "model": name,
                    "version": document["version"],
                    "alias": alias,
                    "previous": document["previous"],
                    "time": document["updated_at"],
                    "run_id": document["run_id"],
                    "actor": document["actor"],
                    "move_id": document["move_id"],
                }
            ),
        )

    def _version_from_metadata(self, document: dict, where: str) -> ModelVersion:
        """A ModelVersion from a metadata document; RegistryError naming the missing or bad field."""

        def get(key: str, convert, required: bool = True):
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
    ) -> ModelVersion:
        """Stores ``model_path`` as the next version of ``name`` and returns it.

        The file is uploaded into a freshly claimed version directory, then ``metadata.json``
        (with the file's sha256) is created; until then the version is invisible. If the store
        fails midway, nothing becomes visible and a retry gets a new number.

        Raises:
            RegistryError: bad name or run id, missing model file, non-JSON metrics/params/lineage.
            StoreError: the store cannot be reached.
        """
        validate_model_name(name)
        if run_id:
            validate_run_id(run_id)
        path = Path(model_path)
        if not path.is_file():
            raise RegistryError(f"cannot register model '{name}': model file {str(path)!r} does not exist")
        metrics = _plain(metrics, "metrics")
        params = _plain(params, "params")
        lineage = _plain(lineage, "lineage")
        if run_id:
            lineage.setdefault("run_id", run_id)
        sha256, size = _sha256_file(path)
        actor = current_actor()

        version = self._claim_version(name, run_id, actor)
        self.store.write_file(self._version_key(name, version, MODEL_FILE), path)
        created_at = _iso(_utc_now())
        # Shown by audit_log() only once metadata.json exists, so a failed register leaves no trace.
        self._append_audit(
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
            "run_id": run_id,
            "actor": actor,
        }
        key = self._version_key(name, version, METADATA_FILE)
        if not self._create_or_recognise(key, _dumps(metadata)):
            raise RegistryError(
                f"model '{name}' version {version} already has metadata written by someone else; "
                "its claim was not respected — check for a second registry writing to this store"
            )
        return self._version_from_metadata(metadata, self.store.uri_for(key))

    def _claim_version(self, name: str, run_id: str, actor: str) -> int:
        claimed = self._numbers(self.store.list(self._model_prefix(name)), name, None)
        candidate = max(claimed, default=0) + 1
        claim = _dumps({"token": uuid.uuid4().hex, "run_id": run_id, "actor": actor, "time": _iso(_utc_now())})
        for _ in range(_CLAIM_ATTEMPTS):
            if self._create_or_recognise(self._version_key(name, candidate, CLAIM_FILE), claim):
                return candidate
            candidate += 1  # taken by a concurrent register (or a crashed one): try the next number
        raise RegistryError(f"could not reserve a version number for model '{name}' after {_CLAIM_ATTEMPTS} tries")

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
        """The visible versions of ``name``, oldest first; ``[]`` for an unknown model."""
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
            known = sorted(self._numbers(self.store.list(self._model_prefix(name)), name, METADATA_FILE))
            have = f"its versions are {', '.join(map(str, known))}" if known else "it has no registered versions"
            raise RegistryError(f"model '{name}' has no version {version}; {have}") from None
        return self._version_from_metadata(_loads(data, self.store.uri_for(key)), self.store.uri_for(key))

    # -- aliases ---------------------------------------------------------------------------

    def aliases(self, name: str) -> dict[str, int]:
        """Every alias of ``name`` and the version it points at."""
        validate_model_name(name)
        held = {alias: _held(document) for alias, document in self._json_documents(f"models/{name}/aliases/").items()}
        return {alias: version for alias, version in sorted(held.items()) if version is not None}

    def resolve_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version ``alias`` points at, or None if the alias was never set."""
        validate_model_name(name)
        validate_alias(alias)
        key = self._alias_key(name, alias)
        try:
            version = _held(_loads(self.store.read(key), self.store.uri_for(key)))
        except NotFound:
            return None
        return None if version is None else self.get_version(name, version)

    def set_alias(
        self, name: str, alias: str, version: int, *, run_id: str = "", action: str = "promoted", expected: Any = ANY
    ) -> AliasMove:
        """Points ``alias`` at ``version`` (which must exist), pushing the old version onto its history.

        A move to the version the alias already holds changes nothing and records nothing, except
        when the alias got there by a move made with this same (non-empty) ``run_id`` whose audit
        event is missing (the first attempt of a retried step died after moving it): that event
        is written then, once. With
        ``expected`` (a version, or None for "no alias yet") the move happens only if the alias
        still points there, checked in the same compare-and-swap as the write: a pipeline that
        judged its model against the champion in production never replaces a newer one.

        Raises:
            AliasMoved: ``expected`` was given and the alias points elsewhere; nothing changed.
            RegistryError: unknown model/version, bad names, or endless contention.
            StoreError: the store failed; the alias is unchanged unless the message says otherwise.
        """
        validate_alias(alias)
        validate_section(action)
        if run_id:
            validate_run_id(run_id)
        self.get_version(name, version)  # must exist (also validates name and version)

        def change(old: dict | None) -> dict | None:
            held = _held(old)
            if held == version:
                return None
            if expected is not ANY and held != expected:
                raise AliasMoved(
                    f"alias '{alias}' of model '{name}' points at "
                    f"{'nothing' if held is None else f'version {held}'}, not "
                    f"{'nothing' if expected is None else f'version {expected}'} as expected; "
                    f"it was moved meanwhile, so version {version} was not put there"
                )
            history = [*(old or {}).get("history", []), *([held] if held is not None else [])]
            return {"version": version, "history": history}

        previous, current = self._move_alias(name, alias, change, run_id, action)
        return AliasMove(model=name, alias=alias, previous=previous, current=current)

    def withdraw(self, name: str, alias: str, version: int, *, run_id: str = "") -> AliasMove | None:
        """Undoes a move to ``version`` that did not work out (say, a failed smoke test).

        If ``alias`` still points at ``version`` it goes back to the version it held before, or
        is unset when it held none; the check and the write are one compare-and-swap. Returns
        None, changing nothing, when the alias already points elsewhere.
        """
        validate_model_name(name)
        validate_alias(alias)
        if run_id:
            validate_run_id(run_id)

        def change(old: dict | None) -> dict:
            if _held(old) != version:
                raise AliasMoved(f"alias '{alias}' of model '{name}' no longer points at version {version}")
            history = list(old.get("history", []))
            return {"version": history.pop() if history else None, "history": history}

        try:
            previous, current = self._move_alias(name, alias, change, run_id, "withdrawn")
        except AliasMoved:
            return None
        return AliasMove(model=name, alias=alias, previous=previous, current=current)

    def rollback(self, name: str, alias: str = "production", *, run_id: str = "") -> AliasMove:
        """Points ``alias`` back at the version it held before the last move (and pops that history entry).

        Raises:
            RegistryError: the alias does not exist or has no earlier version.
        """
        validate_model_name(name)
        validate_alias(alias)
        if run_id:
            validate_run_id(run_id)

        def change(old: dict | None) -> dict:
            if _held(old) is None:
                raise RegistryError(f"model '{name}' has no alias '{alias}' to roll back")
            history = list(old.get("history", []))
            if not history:
                raise RegistryError(
                    f"alias '{alias}' of model '{name}' has no earlier version left to roll back "
                    f"to (it points at version {old['version']} and its rollback history is used "
                    f"up); move it with `shipyard models promote {name} VERSION --alias {alias}`"
                )
            target = int(history.pop())
            self.get_version(name, target)
            return {"version": target, "history": history}

        previous, current = self._move_alias(name, alias, change, run_id, "rolled_back")
        return AliasMove(model=name, alias=alias, previous=previous, current=current)

    def _move_alias(self, name: str, alias: str, change, run_id: str, event: str) -> tuple[int | None, int | None]:
        """Compare-and-swap loop: re-read and re-apply ``change`` until our write wins."""
        key = self._alias_key(name, alias)
        move_id = uuid.uuid4().hex
        actor = current_actor()
        for attempt in range(_CAS_ATTEMPTS):
            try:
                raw, token = self.store.read_with_token(key)
                old = _loads(raw, self.store.uri_for(key))
            except NotFound:
                raw, token, old = None, "", None
            new = change(old)
            previous = _held(old)
            if new is None:  # already there: nothing to move
                if run_id and old is not None and old.get("run_id") == run_id:
                    self._recover_move_event(name, alias, old)
                return previous, previous
            document = {
                **new,
                "previous": previous,
                "action": event,
                "updated_at": _iso(_utc_now()),
                "run_id": run_id,
                "actor": actor,
                "move_id": move_id,
            }
            try:
                if old is None:
                    won = self.store.create(key, _dumps(document))
                else:
                    won = self.store.replace_if(key, _dumps(document), token)
            except StoreError as exc:  # did the write land before the answer was lost?
                self._confirm_move(name, alias, key, move_id, new["version"], exc)
                break
            if won or self._confirmed_after_refusal(name, alias, key, move_id, new["version"]):
                break
            time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))  # lost a race: back off, retry
        else:
            raise RegistryError(
                f"could not move alias '{alias}' of model '{name}': it kept changing under {_CAS_ATTEMPTS} attempts"
            )
        try:
            self._write_move_event(name, alias, document)
        except StoreError as exc:
            raise StoreError(
                f"alias '{alias}' of model '{name}' now points at version {new['version']} "
                f"(was {previous}), but its audit event could not be written: {exc}"
            ) from None
        return previous, new["version"]

    def _confirm_move(
        self, name: str, alias: str, key: str, move_id: str, version: int | None, cause: StoreError
    ) -> None:
        """After the alias write raised: returns if our move is in the store, else raises a StoreError
        that says whether the alias moved (it did not) or may have (the re-read failed too)."""
        target = f"version {version}" if version is not None else "no version (withdrawn)"
        try:
            ours = self._is_move(key, move_id)
        except StoreError as again:
            raise StoreError(
                f"moving alias '{alias}' of model '{name}' to {target} failed ({cause}) and reading the "
                f"alias back failed too ({again}): the alias MAY have moved. Check where it points with "
                f"`shipyard models show {name}` before retrying (a repeated rollback would go back one more "
                "version)"
            ) from None
        if not ours:
            raise StoreError(f"alias '{alias}' of model '{name}' did not move to {target}: {cause}") from None

    def _confirmed_after_refusal(self, name: str, alias: str, key: str, move_id: str, version: int | None) -> bool:
        """After a refused conditional write: whether the refusal was our own retried write (412)."""
        target = f"version {version}" if version is not None else "no version (withdrawn)"
        try:
            return self._is_move(key, move_id)
        except StoreError as exc:
            raise StoreError(
                f"moving alias '{alias}' of model '{name}' to {target} got no clear answer and reading "
                f"the alias back failed ({exc}): the alias MAY have moved. Check where it points with "
                f"`shipyard models show {name}` before retrying"
            ) from None

    def _recover_move_event(self, name: str, alias: str, document: dict) -> None:
        """Writes the audit event of the move ``document`` records if it is missing (create-only, same key).

        Only for documents that record the action and previous version (older ones predate
        move ids in events, so a missing event cannot be told from an old one).
        """
        if (
            not {"action", "previous", "move_id", "updated_at", "actor"} <= document.keys()
            or not isinstance(document["move_id"], str)
            or not re.fullmatch(r"[0-9a-f]{32}", document["move_id"])
        ):
            return
        try:
            self._write_move_event(name, alias, document)
        except StoreError as exc:
            raise StoreError(
                f"alias '{alias}' of model '{name}' already points at version {document['version']}, "
                f"but the missing audit event of that move could not be written: {exc}"
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError):
            return  # a hand-edited document: nothing trustworthy to record

    def _is_move(self, key: str, move_id: str) -> bool:
        try:
            return _loads(self.store.read(key), key).get("move_id") == move_id
        except NotFound:
            return False

    # -- models ----------------------------------------------------------------------------

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

    def verify(self, name: str | None = None) -> list[dict]:
        """Re-hashes every stored model file (of one model, or all) against its registered sha256.

        One row per version with a ``metadata.json``: ``ok`` False and a ``problem`` when the file
        is missing, differs, or the metadata itself is corrupt (not JSON, a missing or bad field,
        named in the problem). A broken version never stops the others from being checked; only a
        store that cannot be reached does (StoreError).
        """
        names = [validate_model_name(name)] if name is not None else self.list_models()
        report: list[dict] = []
        with tempfile.TemporaryDirectory(prefix="shipyard-verify-") as tmp:
            for model_name in names:
                keys = self.store.list(self._model_prefix(model_name))
                for number in sorted(self._numbers(keys, model_name, METADATA_FILE)):
                    report.append(self._verify_version(model_name, number, Path(tmp) / f"{model_name}-{number}"))
        return report

    def _verify_version(self, name: str, version: int, dest: Path) -> dict:
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
            entry["ok"] = True
        return entry

    def audit_log(self, name: str) -> list[dict]:
        """Events for ``name``, oldest first: registered, promoted, rolled_back (and other actions)."""
        validate_model_name(name)
        keys = self.store.list(self._model_prefix(name))
        visible = self._numbers(keys, name, METADATA_FILE)
        prefix = f"models/{name}/audit/"
        events = []
        for key in keys:
            if not key.startswith(prefix) or not key.endswith(".json"):
                continue
            event = _loads(self.store.read(key), key)
            if event.get("event") == "registered" and event.get("version") not in visible:
                continue  # its register failed before the version became visible
            events.append(event)
        return events

    # -- run records -----------------------------------------------------------------------

    def put_run_record(self, run_id: str, section: str, data: Mapping[str, Any]) -> None:
        """Stores (or replaces) one section of a run's record, e.g. ``validation`` or ``gate``."""
        validate_run_id(run_id)
        validate_section(section)
        self.store.write(f"runs/{run_id}/{section}.json", _dumps(_plain(data, f"run record section '{section}'")))

    def get_run_record(self, run_id: str) -> dict[str, dict]:
        """Every section recorded for ``run_id``; ``{}`` when none."""
        validate_run_id(run_id)
        return self._json_documents(f"runs/{run_id}/")

    def _json_documents(self, prefix: str) -> dict[str, dict]:
        """Every ``NAME.json`` directly under ``prefix``, by NAME; one deleted meanwhile is skipped."""
        documents: dict[str, dict] = {}
        for key in self.store.list(prefix):
            name = key[len(prefix) :]
            if "/" in name or not name.endswith(".json"):
                continue
            with contextlib.suppress(NotFound):
                documents[name[: -len(".json")]] = _loads(self.store.read(key), key)
        return documents
