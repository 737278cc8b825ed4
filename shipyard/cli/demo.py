"""`shipyard demo`: CI → CD → CT end to end on the built-in synthetic dataset."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import click

from shipyard.cli._common import emit_json, json_option, normalise_store, reports_errors, status, store_option
from shipyard.cli.run import execute_monitoring, execute_training
from shipyard.store.uri import StoreURI

MODEL = "churn-demo"


@contextlib.contextmanager
def _local_webhook(as_json: bool) -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 for the demo's alerts: it prints the first line of each one.

    It prints to the terminal as it is now: while the pipeline runs, the local runner sends
    ``sys.stdout`` to the task log.
    """
    terminal = sys.stderr if as_json else sys.stdout

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                text = str(json.loads(body).get("text", ""))
            except ValueError:
                text = body.decode("utf-8", "replace")
            click.echo(f"  [webhook receiver] {text.splitlines()[0] if text else '(empty alert)'}", file=terminal)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/demo-alerts"
    finally:
        server.shutdown()
        server.server_close()


@click.command("demo")
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(200, 1_000_000))
@click.option(
    "--drift",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="How far the next period's data shifts from the training data (0 = not at all).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@store_option
@json_option
@reports_errors
def demo(rows: int, drift: float, seed: int, store: str, as_json: bool) -> None:
    """Train, gate, deploy, then monitor a shifted period: drift, alert, retrain, gate, promote.

    \b
    1. CI/CD: generates synthetic churn data, runs the training pipeline and puts
       the model in production.
    2. CT: generates the next period with --drift and runs the monitoring pipeline
       against production's reference data: the drift report, an alert to a local
       webhook receiver the demo starts, a retrain on old + new rows through the
       same gate, and promotion if the retrained model wins.

    \b
    Examples:
      shipyard demo
      shipyard demo --drift 0        # a quiet period: no drift, no alert, no retrain
      shipyard demo --drift 1        # a strong shift: the retrained model may lose to the champion
    """
    from shipyard.data.synthetic import write_demo_dataset

    store_uri = normalise_store(store)
    data_dir = (Path(store_uri) if StoreURI.parse(store_uri).is_local else Path.cwd() / ".shipyard") / "demo-data"
    training_data = write_demo_dataset(
        data_dir / f"churn-seed{seed}-period1.csv", n_rows=rows, drift=0.0, seed=seed, task="classification"
    )
    next_period = write_demo_dataset(
        data_dir / f"churn-seed{seed}-period2-drift{drift:g}.csv",
        n_rows=rows,
        drift=drift,
        seed=seed + 1,
        task="classification",
    )
    captured = io.StringIO()
    try:
        training, monitoring = _run_story(training_data, next_period, drift, rows, store_uri, as_json, captured)
    except SystemExit:
        click.echo(captured.getvalue(), nl=False)  # with --json: the failed step's own JSON object
        raise
    if as_json:
        emit_json({"training": training, "monitoring": monitoring})
        return
    click.echo("\nnext:")
    click.echo(f"  open the drift report:   {monitoring['report']}")
    click.echo(f"  shipyard models show {MODEL} --store {store_uri}")
    click.echo(f"  shipyard run monitoring --data {next_period} --model {MODEL} --store {store_uri}")
    click.echo(f"  pipeline artifacts (reports, metrics, model): {monitoring['artifacts']}")


def _run_story(
    training_data: Path,
    next_period: Path,
    drift: float,
    rows: int,
    store_uri: str,
    as_json: bool,
    captured: io.StringIO,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from shipyard.data.synthetic import DEMO_TARGETS

    if not as_json:
        status(f"== 1. CI/CD: train, gate and deploy on {rows} rows of synthetic churn data: {training_data}")
    with contextlib.redirect_stdout(captured) if as_json else contextlib.nullcontext():
        training = execute_training(
            data=str(training_data),
            target=DEMO_TARGETS["classification"],
            model=MODEL,
            task="classification",
            config=None,
            store=store_uri,
            contract="",
            as_json=as_json,
        )
    if not as_json:
        status(f"\n== 2. CT: a new period arrives, shifted by {drift:g}: {next_period}")
        status("   monitoring compares it with production's reference data; alerts go to a local webhook receiver")
    with _local_webhook(as_json) as webhook:
        with contextlib.redirect_stdout(captured) if as_json else contextlib.nullcontext():
            monitoring = execute_monitoring(
                data=str(next_period),
                model=MODEL,
                store=store_uri,
                reference="",
                retrain=True,
                config=None,
                webhook=webhook,
                as_json=as_json,
            )
    return training, monitoring
