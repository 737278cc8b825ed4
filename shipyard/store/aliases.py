"""Movable aliases (``production``, ``staging``) and each model's audit trail.

Keys, under the model's directory in the store::

    models/NAME/aliases/ALIAS.json   # {"version", "history", "previous", "action", "updated_at",
                                     #  "run_id", "actor", "move_id"}
    models/NAME/audit/<UTC time>-<id>.json   # one create-only event each

How a move stays right under concurrency and failure:

* A move is one whole-document compare-and-swap (:meth:`ObjectStore.read_with_token` then
  :meth:`ObjectStore.replace_if`, or ``create`` for a new alias), re-read and re-applied when
  another writer won meanwhile; ``history`` is carried inside the same document, so it is never
  lost, and ``rollback``/``withdraw`` pop it.
* Every move carries a random ``move_id``. A refused conditional write, or a write that raised,
  is followed by re-reading the alias: if it holds our ``move_id`` the write landed (the store
  applied it and the answer was lost). If it holds another, the alias did not move. If even the
  re-read fails, the StoreError says the alias *may* have moved and how to look, so nobody
  retries a rollback blind.
* A move's audit event is written after the alias moved, create-only at a key derived from the
  move (its ``updated_at`` and ``move_id``) and built from the alias document alone, so writing
  it again yields the same key and bytes, never a second event. If that write fails, the
  StoreError says the alias did move. A ``set`` retried with the same ``run_id`` that finds the
  alias already there writes that move's event if it is missing.
* Other events (``registered``) get a random key; :meth:`Aliases.events` is the one reader.
"""

from __future__ import annotations

import enum
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from shipyard.errors import NothingToRollBack, RegistryError, StoreError
from shipyard.store.base import NotFound, ObjectStore
from shipyard.store.documents import (
    Document,
    create_or_recognise,
    current_actor,
    documents_under,
    dumps,
    iso,
    loads,
    utc_now,
)
from shipyard.store.names import validate_alias, validate_model_name, validate_run_id, validate_section

_CAS_ATTEMPTS = 200


class _Unchecked(enum.Enum):
    ANY = "any"


#: ``set(expected=ANY)``: move whatever the alias points at now.
ANY = _Unchecked.ANY

#: What a move does to the alias document it read (None: the alias does not exist yet). Returns
#: the new ``version`` and ``history``, or None when the alias is already where it should be.
Change = Callable[[Document | None], Document | None]


@dataclass(frozen=True)
class AliasMove:
    """What an alias change did; ``previous`` is None when the alias is new, ``current`` None once withdrawn."""

    model: str
    alias: str
    previous: int | None
    current: int | None


class AliasMoved(RegistryError):
    """The alias no longer points where the caller expected: someone else moved it meanwhile."""


def _version_of(document: Document | None) -> int | None:
    """The version an alias document points at; None for no alias or a withdrawn one."""
    if document is None or document.get("version") is None:
        return None
    return int(document["version"])


def _audit_stamp(moment: datetime) -> str:
    """The time part of an audit key: sorts like the time (UTC, fixed width)."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _alias_key(name: str, alias: str) -> str:
    return f"models/{name}/aliases/{alias}.json"


def _target(version: int | None) -> str:
    return f"version {version}" if version is not None else "no version (withdrawn)"


class Aliases:
    """The aliases and audit events of the models in one store.

    ``version_exists(name, version)`` raises RegistryError for a version that is not registered;
    a move never points an alias at one.
    """

    def __init__(self, store: ObjectStore, version_exists: Callable[[str, int], object]) -> None:
        self.store = store
        self._version_exists = version_exists

    # -- reading ---------------------------------------------------------------------------

    def versions(self, name: str) -> dict[str, int]:
        """Every alias of ``name`` and the version it points at (withdrawn ones left out)."""
        validate_model_name(name)
        documents = documents_under(self.store, f"models/{name}/aliases/")
        versions = {alias: _version_of(document) for alias, document in documents.items()}
        return {alias: version for alias, version in sorted(versions.items()) if version is not None}

    def held(self, name: str, alias: str) -> int | None:
        """The version ``alias`` of ``name`` points at; None if it was never set or is withdrawn."""
        validate_model_name(name)
        validate_alias(alias)
        key = _alias_key(name, alias)
        try:
            return _version_of(loads(self.store.read(key), self.store.uri_for(key)))
        except NotFound:
            return None

    # -- moving ----------------------------------------------------------------------------

    def set(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        run_id: str = "",
        action: str = "promoted",
        expected: int | None | _Unchecked = ANY,
    ) -> AliasMove:
        """Points ``alias`` at ``version``, pushing the old version onto its history.

        See :meth:`shipyard.store.registry.ModelRegistry.set_alias`.
        """
        validate_alias(alias)
        validate_section(action)
        if run_id:
            validate_run_id(run_id)
        self._version_exists(name, version)  # also validates name and version

        def change(old: Document | None) -> Document | None:
            current = _version_of(old)
            if current == version:
                return None
            if expected is not ANY and current != expected:
                raise AliasMoved(
                    f"alias '{alias}' of model '{name}' points at "
                    f"{'nothing' if current is None else f'version {current}'}, not "
                    f"{'nothing' if expected is None else f'version {expected}'} as expected; "
                    f"it was moved meanwhile, so version {version} was not put there"
                )
            history = [*(old or {}).get("history", []), *([current] if current is not None else [])]
            return {"version": version, "history": history}

        previous, now = self._move(name, alias, change, run_id, action)
        return AliasMove(model=name, alias=alias, previous=previous, current=now)

    def withdraw(self, name: str, alias: str, version: int, *, run_id: str = "") -> AliasMove | None:
        """See :meth:`shipyard.store.registry.ModelRegistry.withdraw`."""
        validate_model_name(name)
        validate_alias(alias)
        if run_id:
            validate_run_id(run_id)

        def change(old: Document | None) -> Document:
            if old is None or _version_of(old) != version:
                raise AliasMoved(f"alias '{alias}' of model '{name}' no longer points at version {version}")
            history = list(old.get("history", []))
            return {"version": history.pop() if history else None, "history": history}

        try:
            previous, now = self._move(name, alias, change, run_id, "withdrawn")
        except AliasMoved:
            return None
        return AliasMove(model=name, alias=alias, previous=previous, current=now)

    def rollback_target(self, name: str, alias: str) -> tuple[int, int]:
        """``(version held now, version a rollback moves to)``, read without moving anything.

        Reads the same alias document and history :meth:`rollback` pops, with the same checks.

        Raises:
            RegistryError: as :meth:`rollback` (no alias, no earlier version, unknown version).
        """
        validate_model_name(name)
        validate_alias(alias)
        key = _alias_key(name, alias)
        try:
            old: Document | None = loads(self.store.read(key), self.store.uri_for(key))
        except NotFound:
            old = None
        target = self._rollback_step(name, alias, old)
        assert old is not None
        return int(old["version"]), target

    def _rollback_step(self, name: str, alias: str, old: Document | None) -> int:
        """The version a rollback of the alias document ``old`` goes to (the top of its history)."""
        if old is None or _version_of(old) is None:
            raise NothingToRollBack(f"model '{name}' has no alias '{alias}' to roll back")
        history = list(old.get("history", []))
        if not history:
            raise NothingToRollBack(
                f"alias '{alias}' of model '{name}' has no earlier version left to roll back "
                f"to (it points at version {old['version']} and its rollback history is used "
                f"up); move it with `shipyard models promote {name} VERSION --alias {alias}`"
            )
        target = int(history[-1])
        self._version_exists(name, target)
        return target

    def rollback(
        self, name: str, alias: str, *, run_id: str = "", expected: tuple[int, int] | None = None
    ) -> AliasMove:
        """See :meth:`shipyard.store.registry.ModelRegistry.rollback`."""
        validate_model_name(name)
        validate_alias(alias)
        if run_id:
            validate_run_id(run_id)

        def change(old: Document | None) -> Document:
            target = self._rollback_step(name, alias, old)
            assert old is not None
            if expected is not None and (_version_of(old), target) != expected:
                raise AliasMoved(
                    f"alias '{alias}' of model '{name}' was moved meanwhile: a rollback now goes "
                    f"v{_version_of(old)} -> v{target}, not v{expected[0]} -> v{expected[1]}; nothing was rolled back"
                )
            return {"version": target, "history": list(old.get("history", []))[:-1]}

        previous, now = self._move(name, alias, change, run_id, "rolled_back")
        return AliasMove(model=name, alias=alias, previous=previous, current=now)

    def _move(self, name: str, alias: str, change: Change, run_id: str, event: str) -> tuple[int | None, int | None]:
        """Compare-and-swap loop: re-read and re-apply ``change`` until our write wins."""
        key = _alias_key(name, alias)
        move_id = uuid.uuid4().hex
        actor = current_actor()
        for attempt in range(_CAS_ATTEMPTS):
            old: Document | None
            try:
                raw, token = self.store.read_with_token(key)
                old = loads(raw, self.store.uri_for(key))
            except NotFound:
                token, old = "", None
            new = change(old)
            previous = _version_of(old)
            if new is None:  # already there: nothing to move
                if run_id and old is not None and old.get("run_id") == run_id:
                    self._recover_move_event(name, alias, old)
                return previous, previous
            document = {
                **new,
                "previous": previous,
                "action": event,
                "updated_at": iso(utc_now()),
                "run_id": run_id,
                "actor": actor,
                "move_id": move_id,
            }
            try:
                if old is None:
                    won = self.store.create(key, dumps(document))
                else:
                    won = self.store.replace_if(key, dumps(document), token)
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
        try:
            ours = self._is_move(key, move_id)
        except StoreError as again:
            raise StoreError(
                f"moving alias '{alias}' of model '{name}' to {_target(version)} failed ({cause}) and reading the "
                f"alias back failed too ({again}): the alias MAY have moved. Check where it points with "
                f"`shipyard models show {name}` before retrying (a repeated rollback would go back one more "
                "version)"
            ) from None
        if not ours:
            raise StoreError(f"alias '{alias}' of model '{name}' did not move to {_target(version)}: {cause}") from None

    def _confirmed_after_refusal(self, name: str, alias: str, key: str, move_id: str, version: int | None) -> bool:
        """After a refused conditional write: whether the refusal was our own retried write (412)."""
        try:
            return self._is_move(key, move_id)
        except StoreError as exc:
            raise StoreError(
                f"moving alias '{alias}' of model '{name}' to {_target(version)} got no clear answer and reading "
                f"the alias back failed ({exc}): the alias MAY have moved. Check where it points with "
                f"`shipyard models show {name}` before retrying"
            ) from None

    def _is_move(self, key: str, move_id: str) -> bool:
        try:
            return bool(loads(self.store.read(key), key).get("move_id") == move_id)
        except NotFound:
            return False

    # -- audit events ----------------------------------------------------------------------

    def append_event(self, name: str, event: Document) -> None:
        """Adds ``event`` to the audit trail of ``name`` under a fresh key."""
        key = f"models/{name}/audit/{_audit_stamp(utc_now())}-{uuid.uuid4().hex}.json"
        create_or_recognise(self.store, key, dumps(event))

    def events(self, name: str, keys: list[str]) -> list[Document]:
        """The audit events among ``keys`` (a listing of the model's directory), oldest first."""
        prefix = f"models/{name}/audit/"
        return [loads(self.store.read(key), key) for key in keys if key.startswith(prefix) and key.endswith(".json")]

    def _write_move_event(self, name: str, alias: str, document: Document) -> None:
        """The audit event of the alias move ``document`` records, create-only at a key derived from it."""
        moment = datetime.fromisoformat(document["updated_at"].replace("Z", "+00:00"))
        key = f"models/{name}/audit/{_audit_stamp(moment)}-{document['move_id']}.json"
        create_or_recognise(
            self.store,
            key,
            dumps(
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

    def _recover_move_event(self, name: str, alias: str, document: Document) -> None:
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
