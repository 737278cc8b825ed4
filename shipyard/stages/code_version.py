"""Which code produced a model: the version lineage records and run fingerprints compare.

Kept apart from the register stage so the CLI can ask it without importing pandas or scikit-learn.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from shipyard import __version__


def code_version(cwd: str | Path | None = None) -> str:
    """The code that produced a model: ``$SHIPYARD_CODE_VERSION``, the git commit, else shipyard's version.

    A commit with uncommitted changes is marked ``-dirty`` so lineage never claims a clean SHA, and
    an editable install outside a git checkout ``+editable``.
    """
    explicit = os.environ.get("SHIPYARD_CODE_VERSION")
    if explicit:
        return explicit
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"git:{sha}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        # An editable install runs whatever its source tree holds now: its version number does
        # not name one state of the code (unchanged runs cannot be recognised from it).
        return f"shipyard=={__version__}{EDITABLE_SUFFIX if _editable_install() else ''}"


EDITABLE_SUFFIX = "+editable"


def _editable_install() -> bool:
    """Whether shipyard is installed in editable mode (pip's direct_url.json, PEP 610)."""
    import json
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("shipyard").read_text("direct_url.json")
    except PackageNotFoundError:
        return False
    try:
        return bool(text and json.loads(text).get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False
