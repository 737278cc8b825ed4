"""`shipyard serve` refuses what cannot work with one line on stderr, before kserve is even imported."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry
from tests.serving.conftest import ROOT, register, register_segments, train_segment


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, classifier) -> Path:
    root = tmp_path_factory.mktemp("serve-cli")
    registry = ModelRegistry.from_uri(str(root / "store"))
    register(registry, "churn", classifier.pipeline, classifier, root)
    registry.set_alias("churn", "staging", 1)  # production points nowhere
    return root / "store"


def serve(*args: str):
    return CliRunner().invoke(main, ["serve", *args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_shows_examples_and_a_v2_curl():
    result = serve("--help")
    assert result.exit_code == 0
    assert "Examples" in result.output and "curl" in result.output and "/v2/models/churn/infer" in result.output
    assert "/v2/models/NAME--SEGMENT/infer" in result.output and '"region": "eu"' in result.output


def test_unknown_model(store):
    assert_one_line_error(serve("nope", "--store", str(store)), "model 'nope' is not in the registry", "churn")


def test_alias_that_points_nowhere(store):
    assert_one_line_error(
        serve("churn", "--store", str(store)),
        "alias 'production' of model 'churn' points nowhere",
        "staging=v1",
        "shipyard models promote churn",
    )


def test_store_that_does_not_exist(tmp_path):
    assert_one_line_error(serve("churn", "--store", str(tmp_path / "missing")), "no shipyard store at")


def test_port_in_use(store):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = serve("churn", "--alias", "staging", "--store", str(store), "--port", str(port))
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use", "--port")


def test_errors_with_json_print_one_object(store):
    result = serve("nope", "--store", str(store), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "error"


def test_refusals_come_before_kserve_is_imported(store, segmented_store):
    """kserve takes seconds to import: a busy port or a wrong name must not wait for it."""
    script = (
        "import socket, sys\n"
        "from click.testing import CliRunner\n"
        "from shipyard.cli.main import main\n"
        "taken = socket.socket(); taken.bind(('127.0.0.1', 0)); taken.listen(1)\n"
        "port = str(taken.getsockname()[1])\n"
        f"busy = CliRunner().invoke(main, ['serve', 'churn', '--alias', 'staging', '--store', {str(store)!r}, "
        "'--port', port])\n"
        f"unknown = CliRunner().invoke(main, ['serve', 'nope', '--store', {str(store)!r}])\n"
        "unpromoted = CliRunner().invoke(main, ['serve', 'churn', '--alias', 'staging', '--store', "
        f"{str(segmented_store)!r}])\n"
        "print(busy.exit_code, unknown.exit_code, unpromoted.exit_code, 'kserve' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.split() == ["1", "1", "1", "False"], done.stderr


@pytest.fixture(scope="module")
def segmented_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``churn`` by region: eu and us have a v1 each under production, no version of ``churn`` itself."""
    root = tmp_path_factory.mktemp("serve-cli-segments")
    registry = ModelRegistry.from_uri(str(root / "store"))
    register_segments(registry, {segment: train_segment(segment) for segment in ("eu", "us")}, root)
    return root / "store"


def test_segments_without_a_version_under_the_alias(segmented_store):
    assert_one_line_error(
        serve("churn", "--alias", "staging", "--store", str(segmented_store)),
        "alias 'staging' points nowhere in any of the 2 segment model(s) of model 'churn' (churn--eu, churn--us)",
        "shipyard models promote churn--eu VERSION --alias staging",
    )


def test_a_pinned_version_of_a_model_that_has_only_segments(segmented_store):
    assert_one_line_error(
        serve("churn", "--version", "1", "--store", str(segmented_store)),
        "model 'churn' has a model per segment and no versions of its own",
        "(churn--SEGMENT)",
    )
