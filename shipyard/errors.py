"""The exceptions shipyard raises on purpose; everything else is a bug.

Each carries a message written for the person at the terminal: it names the column, the
model, the version or the setting that is wrong, and what would fix it.
"""

from __future__ import annotations


class ShipyardError(Exception):
    """Base class for errors shipyard reports to the user without a traceback."""


class DataValidationError(ShipyardError):
    """New data breaks the data contract; training must not start.

    ``problems`` holds one line per failed check, each naming the column (or ``<table>``)
    and the problem, e.g. ``column 'age': 12.0% of values outside the contract range``.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]):
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "data validation failed" + (f" ({count} problems)" if count > 1 else "")
        super().__init__(f"{head}: " + "; ".join(self.problems))


class ConfigError(ShipyardError):
    """The YAML configuration cannot be read or has a wrong value; the message names the key."""


class StoreError(ShipyardError):
    """The artifact/model store is unreachable or refused an operation."""


class RegistryError(ShipyardError):
    """A registry operation is impossible (unknown model/version/alias, bad name, hash mismatch)."""


class IntegrityError(RegistryError):
    """A stored file does not match the sha256 the registry recorded for it."""


class SmokeTestError(ShipyardError):
    """The staged model failed its smoke test; production was not touched."""
