"""Docs and docstrings claim only commands the CLI has (issue 9, defect 9).

pipelines/training.py used to say the `shipyard` CLI submits the pipeline to Kubeflow, which it
cannot. This reads the READMEs and every module's docstrings and checks two things: each
`shipyard VERB` they show is a real command, and no sentence says the CLI (or `shipyard`)
submits, uploads or schedules unless a command of that name exists. It checks wording, not
behaviour: a claim phrased some other way slips through.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shipyard.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "CONTRIBUTING.md", "manifests/README.md", "components/README.md"]
SOURCES = sorted(
    p
    for folder in ("shipyard", "components", "pipelines")
    for p in (ROOT / folder).rglob("*.py")
    if "compiled" not in p.parts
)
# `shipyard VERB` in backticks, or a command line in a code block / help example (indented or
# after ``$``), optionally after VAR=value assignments.
COMMAND = re.compile(r"(?:`{1,2}|^(?: {2,}|\t|\$ )(?:[A-Z_]+=\S+ )*)shipyard ([a-z][a-z-]*)", re.MULTILINE)
CODE_BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
CLUSTER_VERBS = {"submits": "submit", "uploads": "upload", "schedules": "schedule"}
# Within one sentence: a "." only ends it when a space follows (kfp.local does not).
CLAIM = re.compile(r"\b(?:CLI|`shipyard`)(?:[^.;]|\.(?=\S))*?\b(" + "|".join(CLUSTER_VERBS) + r")\b")


def _texts() -> list[tuple[str, str]]:
    out = [(doc, (ROOT / doc).read_text(encoding="utf-8")) for doc in DOCS if (ROOT / doc).exists()]
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc:
                    out.append((f"{path.relative_to(ROOT)}:{getattr(node, 'name', 'module')}", doc))
    return out


TEXTS = _texts()


def test_the_scan_sees_the_docs_and_the_pipelines():
    names = {where.split(":")[0] for where, _ in TEXTS}
    assert {"README.md", "pipelines/training.py", "pipelines/monitoring.py"} <= names


def _commands(text: str) -> list[str]:
    # Code blocks count line by line: indent them so the line-start form matches.
    blocks = "\n".join("  " + line for block in CODE_BLOCK.findall(text) for line in block.splitlines())
    return COMMAND.findall(CODE_BLOCK.sub("", text)) + COMMAND.findall(blocks)


def test_only_real_commands_are_shown():
    shown = {(where, verb) for where, text in TEXTS for verb in _commands(text)}
    assert {verb for _, verb in shown} >= {"run", "compile", "models"}, "the scan finds the documented commands"
    unknown = sorted((where, verb) for where, verb in shown if verb not in main.commands)
    assert not unknown, f"shown as `shipyard VERB` but not a command: {unknown}"


def test_the_cli_is_not_said_to_do_what_it_cannot():
    claims = sorted(
        (where, verb)
        for where, text in TEXTS
        for verb in CLAIM.findall(" ".join(text.split()))
        if CLUSTER_VERBS[verb] not in main.commands
    )
    assert not claims, f"these say the CLI submits/uploads/schedules, which it has no command for: {claims}"
