"""Which segments of a model can be served under an alias: read from the model's segment index.

Kept apart from shipyard.serving.segments (which needs kserve, seconds to import) so that
`shipyard serve` refuses a model none of whose segments can be served before importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import RegistryError
from shipyard.stages.segments import list_segments

if TYPE_CHECKING:
    from shipyard.store.registry import ModelRegistry


@dataclass(frozen=True)
class SegmentEntry:
    """One entry of a model's segment index: the value, the registry model holding it, the column."""

    segment: str
    model: str
    column: str


@dataclass(frozen=True)
class SegmentServing:
    """Which of a model's segments have a version under the alias (served) and which have not, and why."""

    column: str
    served: tuple[SegmentEntry, ...]
    unserved: tuple[tuple[SegmentEntry, str], ...]  # (segment, reason)


def read_segment_index(registry: ModelRegistry, model: str) -> list[SegmentEntry]:
    """Every entry of ``model``'s segment index (all pages), in suffix order."""
    entries: list[SegmentEntry] = []
    after: str | None = None
    while True:
        page = list_segments(registry, model, limit=500, after=after)
        entries.extend(SegmentEntry(str(e["segment"]), str(e["model"]), str(e["column"])) for e in page.segments)
        if page.next_after is None:
            return entries
        after = page.next_after


def plan_segment_serving(registry: ModelRegistry, model: str, alias: str) -> SegmentServing:
    """Which segments of ``model`` can be served under ``alias`` now.

    Raises:
        RegistryError: ``model`` has no segments, or they were split by more than one column
            (the index says; a request can be routed by one column only).
    """
    entries = read_segment_index(registry, model)
    if not entries:
        raise RegistryError(f"model '{model}' has no segments")
    columns = sorted({entry.column for entry in entries})
    if len(columns) > 1:
        by_column = "; ".join(
            f"{column}: {', '.join(e.segment for e in entries if e.column == column)}" for column in columns
        )
        raise RegistryError(
            f"model '{model}' has segments by more than one column ({by_column}); requests can be routed by one "
            f"column only: serve a segment's model by its name (shipyard serve {entries[0].model})"
        )
    served: list[SegmentEntry] = []
    unserved: list[tuple[SegmentEntry, str]] = []
    for entry in entries:
        version = registry.resolve_alias(entry.model, alias)
        if version is None:
            unserved.append((entry, f"alias '{alias}' of model '{entry.model}' points nowhere"))
        else:
            served.append(entry)
    return SegmentServing(columns[0], tuple(served), tuple(unserved))
