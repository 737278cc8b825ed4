"""Options and output helpers shared by the shipyard CLI commands."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from shipyard.errors import ConfigError, ShipyardError
from shipyard.findings import hints
from shipyard.store.uri import StoreURI

DEFAULT_STORE = ".shipyard"


def absolute_uri(uri: str) -> str:
    """``s3://`` URIs in canonical form, local paths and ``file://`` URIs as resolved absolute paths.

    Pipeline tasks run in other directories, so a relative path would name another file there.

    Raises:
        StoreError: the URI is malformed (see :meth:`shipyard.store.StoreURI.parse`).
    """
    return str(StoreURI.parse(uri).resolved())


def normalise_store(uri: str) -> str:
    """The ``--store`` value as every task can use it (see :func:`absolute_uri`)."""
    return absolute_uri(uri)


store_option = click.option(
    "--store",
    "store",
    default=DEFAULT_STORE,
    show_default=True,
    envvar="SHIPYARD_STORE",
    help="Model registry root: a directory, or s3://BUCKET/PREFIX (endpoint and credentials from "
    "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Env: SHIPYARD_STORE.",
)
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


class CliError(ShipyardError):
    """How the command was called cannot work: a missing file, conflicting options, an empty store."""


def fail(message: str) -> None:
    raise CliError(message)


def reports_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turns shipyard's own errors into one line on stderr and exit status 1, never a traceback.

    With --json, stdout still gets exactly one JSON object: ``{"status": "error", ...}``.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            raise  # stdout's reader went away (`| head`): not an error to report; see shipyard.cli.main
        except (ShipyardError, OSError) as exc:
            message = (
                str(exc)
                if isinstance(exc, ShipyardError)
                else (f"{exc.strerror or exc}: '{exc.filename}'" if exc.filename else f"{exc.strerror or exc}")
            )
            findings = getattr(exc, "findings", ())
            if kwargs.get("as_json"):
                listed = {"findings": [finding.to_dict() for finding in findings]} if findings else {}
                emit_json({"status": "error", "error": message, "error_type": type(exc).__name__, **listed})
            click.echo(f"error: {message}", err=True)
            for hint in hints(findings):
                click.echo(f"  hint: {hint}", err=True)
            sys.exit(1)

    return wrapper


def read_config_file(path: Path | None) -> str:
    """The text of a --config file ('' for none); a file that is not UTF-8 text is a ConfigError."""
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file '{path}' is not UTF-8 text (byte {exc.start}): save it as UTF-8 YAML") from None


def existing_store(uri: str) -> str:
    """``uri`` normalised; the directory or bucket must exist, so a typo is not mistaken for an empty registry."""
    from shipyard.store import open_store

    location = StoreURI.parse(uri).resolved()
    store_uri = str(location)
    problem = open_store(location).missing_root()  # an unknown scheme is a StoreError here
    if problem is not None:
        fix = (
            "check --store (or SHIPYARD_STORE) and AWS_ENDPOINT_URL"
            if location.is_s3
            else "pass --store (or set SHIPYARD_STORE) to the directory your runs used, or run `shipyard demo` "
            "to create one"
        )
        fail(f"no shipyard store at '{store_uri}': {problem}; {fix}")
    return store_uri


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()) or "(none)"
