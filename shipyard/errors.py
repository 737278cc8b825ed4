"""The exceptions shipyard raises on purpose; everything else is a bug.

Each carries a message written for the person at the terminal: it names the column, the
model, the version or the setting that is wrong, and what would fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipyard.findings import Finding


class ShipyardError(Exception):
    """Base class for errors shipyard reports to the user without a traceback."""


class DataValidationError(ShipyardError):
    """The data cannot be used; training must not start.

    ``findings`` holds one :class:`~shipyard.findings.Finding` per failed check, each
    naming the column (or the table) and the problem; ``problems`` holds their messages, e.g.
    ``column 'age': 12.0% of values outside the contract range``. A plain string is accepted in
    place of a Finding and becomes one with code ``invalid``.
    """

    def __init__(self, problems: Iterable[Finding | str]):
        if isinstance(problems, str):  # one message
            problems = [problems]
        self.findings: tuple[Finding, ...] = tuple(
            item if isinstance(item, Finding) else Finding.from_message(str(item)) for item in problems
        )
        self.problems: tuple[str, ...] = tuple(finding.message for finding in self.findings)
        count = len(self.problems)
        head = "data validation failed" + (f" ({count} problems)" if count > 1 else "")
        super().__init__(f"{head}: " + "; ".join(self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles with its findings, so a copy has the same message, codes and hints."""
        return (type(self), (self.findings,))


class ConfigError(ShipyardError):
    """The YAML configuration cannot be read or has a wrong value; the message names the key."""


class StoreError(ShipyardError):
    """The artifact/model store is unreachable or refused an operation."""


class RegistryError(ShipyardError):
    """A registry operation is impossible (unknown model/version/alias, bad name, hash mismatch)."""


class NothingToRollBack(RegistryError):
    """The alias was never set, or has no earlier version in its history: a rollback has nothing to undo."""


class IntegrityError(RegistryError):
    """A stored file does not match the sha256 the registry recorded for it."""


class SmokeTestError(ShipyardError):
    """The staged model failed its smoke test; production was not touched."""
