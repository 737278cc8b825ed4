"""The project image's Dockerfile, checked by reading it.

No Docker engine runs on the development and CI machines, so the image is not built here.
These tests parse the Dockerfile and hold it to what the components rely on: the base image,
a numeric non-root user, constraints-pinned dependencies, a non-editable install of this
package (with kfp), a version label that follows pyproject.toml, and no credentials.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
REQUIRED_OCI_LABELS = ("title", "description", "version", "revision", "source", "licenses")
CREDENTIAL_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|CREDENTIAL|AWS_|API_KEY", re.IGNORECASE)


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def _args(instructions, keyword: str) -> list[str]:
    return [args for kw, args in instructions if kw == keyword]


def _key_values(args: str) -> dict[str, str]:
    """KEY=VALUE pairs of a LABEL, ENV or ARG instruction (quotes removed)."""
    return dict(token.partition("=")[::2] for token in shlex.split(args))


def _pip_installs(instructions) -> list[list[str]]:
    """The argument lists of every `pip install` in a RUN (shell operators end a command)."""
    found = []
    for run in _args(instructions, "RUN"):
        lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token in ("&&", "||", ";", "|", "&"):
                for i in range(len(command) - 1):
                    if command[i].endswith("pip") and command[i + 1] == "install":
                        found.append(command[i + 2 :])
                command = []
            else:
                command.append(token)
    return found


def test_base_image_is_python_3_11_slim(instructions):
    froms = _args(instructions, "FROM")
    assert len(froms) == 1, "one stage: the image is what the components run in"
    assert froms[0].split()[0] == "python:3.11-slim"


def test_runs_as_a_numeric_non_root_user_created_in_the_image(instructions):
    users = _args(instructions, "USER")
    assert users, "the image must not run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, (
        "USER must be a numeric, non-zero uid so Kubernetes' runAsNonRoot can check it"
    )
    assert not group or (group.isdigit() and int(group) != 0)
    runs = " ".join(_args(instructions, "RUN"))
    assert re.search(rf"useradd\b[^&;]*--uid {user}\b", runs), f"no user with uid {user} is created"

    # Installing happens as root, before USER; nothing is pip-installed as the runtime user.
    last_user = max(i for i, (kw, _) in enumerate(instructions) if kw == "USER")
    assert not _pip_installs(instructions[last_user:])


def test_home_and_workdir_belong_to_the_user(instructions):
    env = {}
    for args in _args(instructions, "ENV"):
        env.update(_key_values(args))
    home = env.get("HOME")
    assert home, "set HOME: pip, matplotlib and friends write caches under it"
    assert _args(instructions, "WORKDIR")[-1] == home, "the final WORKDIR is the user's home"
    runs = " ".join(_args(instructions, "RUN"))
    assert re.search(rf"useradd\b[^&;]*--home-dir {re.escape(home)}\b[^&;]*--create-home", runs) or re.search(
        rf"useradd\b[^&;]*--create-home[^&;]*--home-dir {re.escape(home)}\b", runs
    ), f"{home} must be created for the user (useradd --create-home --home-dir {home})"


def test_dependencies_are_pinned_by_constraints_txt(instructions):
    assert (ROOT / "constraints.txt").is_file(), "the image build needs constraints.txt"
    copied = [src for args in _args(instructions, "COPY") for src in shlex.split(args)[:-1]]
    assert "constraints.txt" in copied
    installs = _pip_installs(instructions)
    assert installs, "no pip install in the Dockerfile"
    for words in installs:
        assert "--no-cache-dir" in words, f"pip install {' '.join(words)}: add --no-cache-dir"
        assert "constraints.txt" in words and words[words.index("constraints.txt") - 1] in ("-c", "--constraint"), (
            f"pip install {' '.join(words)}: every install is pinned with -c constraints.txt"
        )
        assert not {"-e", "--editable", "--pre", "--upgrade", "-U"} & set(words)


def test_the_package_itself_is_installed_non_editable(instructions):
    package_installs = [words for words in _pip_installs(instructions) if "." in words]
    assert len(package_installs) == 1, "pip install ... . installs shipyard from the build context"
    # Every folder setuptools maps into the package must be in the build context.
    copied = {src.rstrip("/") for args in _args(instructions, "COPY") for src in shlex.split(args)[:-1]}
    assert "." not in copied, "copy the package sources by name, not the whole context"
    package_dirs = set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())
    assert package_dirs | {"pyproject.toml", PYPROJECT["project"]["readme"]} <= copied


def test_kfp_is_in_the_image_and_importable_by_the_runtime_user(instructions):
    dependencies = [re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower() for d in PYPROJECT["project"]["dependencies"]]
    assert {"kfp", "kfp-kubernetes"} <= set(dependencies)
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^kfp==\S+$", pins, re.MULTILINE), "constraints.txt must pin kfp"
    # KFP starts lightweight components with `python3 -m kfp.dsl.executor_main`.
    last_user = max(i for i, (kw, _) in enumerate(instructions) if kw == "USER")
    checks = " ".join(args for kw, args in instructions[last_user:] if kw == "RUN")
    assert "python3" in checks and "kfp.dsl.executor_main" in checks and "shipyard" in checks, (
        "after USER, a RUN must import kfp.dsl.executor_main and shipyard with python3"
    )
    assert not _args(instructions, "ENTRYPOINT"), "KFP sets the command; no ENTRYPOINT to work around"


def test_oci_labels_and_version_follow_pyproject(instructions):
    labels = {}
    for args in _args(instructions, "LABEL"):
        labels.update(_key_values(args))
    for name in REQUIRED_OCI_LABELS:
        assert labels.get(f"org.opencontainers.image.{name}"), f"missing label org.opencontainers.image.{name}"
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    build_args = {}
    for args in _args(instructions, "ARG"):
        build_args.update(_key_values(args))
    assert build_args.get("VERSION") == PYPROJECT["project"]["version"], (
        "ARG VERSION's default must equal pyproject.toml's version (the image tag follows it)"
    )
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]["text"]


def test_no_credentials_are_baked_into_the_image(instructions):
    for keyword in ("ENV", "ARG"):
        for args in _args(instructions, keyword):
            for name in _key_values(args):
                assert not CREDENTIAL_NAME.search(name), (
                    f"{keyword} {name}: credentials reach pods from the Kubernetes Secret, never the image"
                )
    for args in _args(instructions, "COPY") + _args(instructions, "ADD"):
        assert ".env" not in args and "credentials" not in args and "manifests" not in args
    assert not _args(instructions, "ADD"), "use COPY; ADD fetches URLs and unpacks archives"


def test_dockerignore_keeps_secrets_out_and_package_sources_in(instructions):
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".git", "manifests", "**/*.env"):
        assert required in patterns, f".dockerignore must exclude {required}"
    copied = [src.rstrip("/") for args in _args(instructions, "COPY") for src in shlex.split(args)[:-1]]
    for src in copied:
        assert not [p for p in patterns if not p.startswith("!") and fnmatch.fnmatch(src, p)], (
            f".dockerignore excludes {src}, which the Dockerfile copies"
        )
