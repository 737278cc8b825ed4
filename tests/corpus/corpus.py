"""The bad-input corpus: its files, the expected outcomes, and one way to run a file through the stages."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from shipyard.config import load_config
from shipyard.errors import DataValidationError
from shipyard.findings import Finding
from shipyard.stages.contract import DataContract
from shipyard.stages.ingest import ingest_table
from shipyard.stages.task import resolve_task
from shipyard.stages.validate import check_dataset

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
ROOT = HERE.parent.parent


@cache
def generator() -> ModuleType:
    """scripts/make_bad_inputs.py, imported from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_bad_inputs", ROOT / "scripts" / "make_bad_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@cache
def expected() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))


def names(*, outcome: str | None = None, large: bool | None = None, monitoring: bool = False) -> list[str]:
    return [
        name
        for name, entry in expected().items()
        if (outcome is None or entry["outcome"] == outcome)
        and (large is None or bool(entry.get("large")) == large)
        and (not monitoring or "monitoring" in entry)
    ]


@dataclass(frozen=True)
class StageOutcome:
    """What the stages made of a file: where it stopped (or 'accepted') and every finding."""

    stopped_at: str  # "ingest" | "validate" | "accepted"
    findings: tuple[Finding, ...]


def run_stages(path: Path, entry: dict[str, Any]) -> StageOutcome:
    """ingest, then validate as a training run does (task auto, the entry's contract and config)."""
    try:
        frame = ingest_table(str(path)).frame
    except DataValidationError as exc:
        return StageOutcome("ingest", exc.findings)
    config = (FILES / entry["config"]).read_text(encoding="utf-8") if entry.get("config") else None
    contract = (
        DataContract.from_json((FILES / entry["contract"]).read_text(encoding="utf-8"))
        if entry.get("contract")
        else None
    )
    try:
        task = resolve_task(frame, entry["target"], "auto")
    except DataValidationError as exc:
        return StageOutcome("validate", exc.findings)
    report = check_dataset(frame, entry["target"], task, load_config(config).validation, contract)
    return StageOutcome("accepted" if report.ok else "validate", report.findings)


def file_for(name: str, tmp_dir: Path) -> Path:
    """The committed file, or a large one written now into ``tmp_dir``."""
    if not expected()[name].get("large"):
        return FILES / name
    case = next(case for case in generator().CASES if case.name == name)
    path = tmp_dir / name
    path.write_bytes(case.make())
    return path
