"""Options and output helpers shared by the shipyard CLI commands."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

import click

from shipyard.errors import ShipyardError

DEFAULT_STORE = ".shipyard"


def normalise_store(uri: str) -> str:
    """s3:// URIs as given; local directories made absolute (tasks run in other directories)."""
    if uri.startswith("s3://"):
        return uri.rstrip("/")
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return str(Path(uri).expanduser().resolve())


store_option = click.option(
    "--store", "store", default=DEFAULT_STORE, show_default=True, envvar="SHIPYARD_STORE",
    help="Model registry root: a directory, or s3://BUCKET/PREFIX (endpoint and credentials from "
         "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Env: SHIPYARD_STORE.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of text.")


def default_model_name(data_uri: str) -> str:
    """A registry name from the data file's name: ``data/Churn Data.csv`` → ``churn-data``."""
    stem = Path(data_uri.rstrip("/").rsplit("/", 1)[-1]).stem.lower()
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:63] or "model"


def emit_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))


def status(message: str) -> None:
    """Progress and notes go to stderr, so stdout stays clean for --json."""
    click.echo(message, err=True)


def fail(message: str, *, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def reports_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turns shipyard's own errors into one clear line on stderr and exit code 1, no traceback."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ShipyardError as exc:
            fail(str(exc))

    return wrapper


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()) or "(none)"
