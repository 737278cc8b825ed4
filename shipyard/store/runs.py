"""What each pipeline step recorded about a run: ``runs/RUN_ID/SECTION.json`` in the store.

Each step writes its own section (``validation``, ``gate``, ``outcome``...), replacing it whole,
so steps never write the same document and need no compare-and-swap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.store.base import ObjectStore
from shipyard.store.documents import Document, documents_under, dumps, plain
from shipyard.store.names import validate_run_id, validate_section


class RunRecords:
    """The run records kept in one store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def put(self, run_id: str, section: str, data: Mapping[str, Any]) -> None:
        """Stores (or replaces) one section of a run's record.

        Raises:
            RegistryError: a bad run id or section name, or ``data`` is not a JSON-able mapping.
        """
        validate_run_id(run_id)
        validate_section(section)
        self.store.write(f"runs/{run_id}/{section}.json", dumps(plain(data, f"run record section '{section}'")))

    def get(self, run_id: str) -> dict[str, Document]:
        """Every section recorded for ``run_id``; ``{}`` when none."""
        validate_run_id(run_id)
        return documents_under(self.store, f"runs/{run_id}/")
