"""scripts/build-image.sh and the one image setting (issue 9, defect 8).

No Docker engine or kind runs on these machines, so the script is checked with shellcheck and run
with --dry-run, which prints the docker/kind commands it would run and runs none of them. That
checks arguments, the tag rule and the command lines; it does not check that Docker builds the
image (tests/manifests/test_image.py reads the Dockerfile) or that kind accepts it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shipyard._image import default_image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-image.sh"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SHIPYARD_IMAGE"}
    env.update(extra)
    return env


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=_env(**env), cwd="/"
    )


def commands(result: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [shlex.split(line[2:]) for line in result.stdout.splitlines() if line.startswith("+ ")]


def test_shellcheck_passes():
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        message = "shellcheck is not installed (apt-get install -y shellcheck; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must never pass by skipping the script check
        pytest.skip(message)
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("*.sh")) + [str(ROOT / ".ci" / "run")]
    result = subprocess.run([shellcheck, "--severity=style", *scripts], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_build_tags_the_image_compile_uses():
    (build,) = commands(run_script("--dry-run"))
    assert build[:2] == ["docker", "build"] and build[-1] == "."
    assert build[build.index("-t") + 1] == default_image()
    version = default_image().rsplit(":", 1)[1]
    assert f"VERSION={version}" in build  # the Dockerfile's ARG VERSION (its label)


def test_shipyard_image_sets_the_tag_and_kind_load_and_push_use_it():
    image = "registry.example.com/ml/shipyard:dev"
    build, load, push = commands(run_script("--dry-run", "--kind-load", "shipyard", "--push", SHIPYARD_IMAGE=image))
    assert build[build.index("-t") + 1] == image
    assert load == ["kind", "load", "docker-image", image, "--name", "shipyard"]
    assert push == ["docker", "push", image]


@pytest.mark.parametrize("args", [["--kind-load"], ["--kind-load", "--push"], ["--frobnicate"]])
def test_bad_arguments_fail_before_running_anything(args):
    result = run_script("--dry-run", *args)
    assert result.returncode == 2 and not result.stdout and "build-image:" in result.stderr


def test_help_shows_examples():
    result = run_script("--help")
    assert result.returncode == 0 and "--kind-load shipyard" in result.stdout and "SHIPYARD_IMAGE" in result.stdout


def test_shipyard_compile_honours_shipyard_image(tmp_path: Path):
    """Every executor of every compiled pipeline runs $SHIPYARD_IMAGE when it is set."""
    image = "registry.example.com/ml/shipyard:dev"
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "compile", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(SHIPYARD_IMAGE=image),
    )
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*.yaml"))
    assert files
    for path in files:
        spec = next(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d and "deploymentSpec" in d)
        images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
        assert images == {image}, f"{path.name}: {images}"


def test_ci_installs_shellcheck_so_the_check_never_skips_there():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "command -v shellcheck" in ci and "apt-get install -y -qq shellcheck" in ci
