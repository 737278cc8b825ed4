"""`shipyard demo`: CI → CD → CT end to end on the built-in synthetic dataset."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shipyard.cli._common import emit_json, json_option, normalise_store, reports_errors, status, store_option
from shipyard.cli.feedback import execute_feedback
from shipyard.cli.run import execute_monitoring, execute_training
from shipyard.store.uri import StoreURI

if TYPE_CHECKING:
    import pandas as pd

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
    help="How far the shifted traffic moves from the training data (0 = not at all).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@store_option
@json_option
@reports_errors
def demo(rows: int, drift: float, seed: int, store: str, as_json: bool) -> None:
    """Train, deploy and serve a model; send it traffic that shifts; feed back labels; detect, retrain, promote.

    \b
    1. CI/CD: generates synthetic churn data, runs the training pipeline and puts
       the model in production.
    2. Serving: starts `shipyard serve` for the production alias; it logs every
       request it answers to the store.
    3. Traffic: sends --rows customers like the training data, then --rows
       customers shifted by --drift, as V2 requests with their own ids.
    4. Feedback: the customers' true outcomes arrive and are stored as labels.
    5. CT: monitors the logged traffic since the shift began (the monitoring
       pipeline, --from-traffic): the drift report, an alert to a local webhook
       receiver the demo starts, a retrain on the labelled traffic plus the
       training data through the same gate, and promotion if it wins.
    6. The same server, never restarted, answers with the new version.

    \b
    Examples:
      shipyard demo
      shipyard demo --drift 0        # steady traffic: no drift, no alert, no retrain
      shipyard demo --drift 1        # a strong shift: the retrained model may lose to the champion
    """
    from shipyard.data.synthetic import write_demo_dataset

    store_uri = normalise_store(store)
    data_dir = (Path(store_uri) if StoreURI.parse(store_uri).is_local else Path.cwd() / ".shipyard") / "demo-data"
    training_data = write_demo_dataset(
        data_dir / f"churn-seed{seed}-period1.csv", n_rows=rows, drift=0.0, seed=seed, task="classification"
    )
    captured = io.StringIO()
    try:
        story = _run_story(training_data, data_dir, drift, rows, seed, store_uri, as_json, captured)
    except SystemExit:
        click.echo(captured.getvalue(), nl=False)  # with --json: the failed step's own JSON object
        raise
    if as_json:
        emit_json(story)
        return
    monitoring, traffic = story["monitoring"], story["traffic"]
    click.echo("\nnext:")
    click.echo(f"  open the drift report:   {monitoring['report']}")
    click.echo(f"  shipyard models show {MODEL} --store {store_uri}")
    click.echo(
        f"  shipyard run monitoring --model {MODEL} --from-traffic --from {traffic['started']}"
        f" --to {traffic['shift_started']} --store {store_uri}   # the steady part: no drift"
    )
    click.echo(f"  shipyard serve {MODEL} --store {store_uri}   # the production model, traffic logged")
    click.echo(f"  pipeline artifacts (reports, metrics, model): {monitoring['artifacts']}")


#: Rows per request the demo's client sends.
REQUEST_ROWS = 25
#: The demo server writes logged traffic every second (the default, 10 s, suits production).
DEMO_SERVER_CONFIG = "traffic:\n  flush_seconds: 1\n"


def _run_story(
    training_data: Path,
    data_dir: Path,
    drift: float,
    rows: int,
    seed: int,
    store_uri: str,
    as_json: bool,
    captured: io.StringIO,
) -> dict[str, Any]:
    import pandas as pd

    from shipyard.data.synthetic import DEMO_TARGETS, make_demo_dataset
    from shipyard.serving.process import serve_process

    def quiet() -> contextlib.AbstractContextManager[Any]:  # with --json, the steps' own output is kept back
        return contextlib.redirect_stdout(captured) if as_json else contextlib.nullcontext()

    def say(message: str) -> None:
        if not as_json:
            status(message)

    target = DEMO_TARGETS["classification"]
    say(f"== 1. CI/CD: train, gate and deploy on {rows} rows of synthetic churn data: {training_data}")
    with quiet():
        training = execute_training(
            data=str(training_data),
            target=target,
            model=MODEL,
            task="classification",
            config=None,
            store=store_uri,
            contract="",
            as_json=as_json,
        )
    server_config = data_dir / "serve-config.yaml"
    server_config.write_text(DEMO_SERVER_CONFIG, encoding="utf-8")
    say(f"\n== 2. Serving: shipyard serve {MODEL} (follows the production alias; logs its traffic to the store)")
    arguments = [MODEL, "--store", store_uri, "--poll-interval", "1", "--config", str(server_config)]
    with serve_process(arguments, timeout=120.0, log_dir=data_dir) as url:
        say(f"   serving at {url}; server log: {data_dir / 'serve.log'}")
        steady = make_demo_dataset(rows, drift=0.0, seed=seed + 1, task="classification")
        shifted = make_demo_dataset(rows, drift=drift, seed=seed + 2, task="classification")
        say(f"\n== 3. Traffic: {rows} customers like the training data, then {rows} shifted by {drift:g}")
        traffic_started = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        run = f"demo-{uuid.uuid4().hex[:8]}"  # this run's request ids: a reused store keeps earlier runs' traffic
        answered = _send_traffic(url, steady.drop(columns=[target]), f"{run}-steady")
        shift_started = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        say(f"   {answered} rows answered by v{training['version']}; the shift starts at {shift_started}")
        answered += _send_traffic(url, shifted.drop(columns=[target]), f"{run}-shifted")
        logged = _wait_until_logged(store_uri, run, answered, datetime.fromisoformat(traffic_started))
        say(f"   {answered} rows answered; {logged} logged in {store_uri}/traffic/{MODEL}/requests/")

        labels_file = data_dir / f"churn-seed{seed}-labels.csv"
        labels = pd.concat([_labels(steady, f"{run}-steady", target), _labels(shifted, f"{run}-shifted", target)])
        labels.to_csv(labels_file, index=False)
        say(f"\n== 4. Feedback: the customers' true outcomes arrive: shipyard feedback {MODEL} --labels {labels_file}")
        with quiet():
            feedback = execute_feedback(MODEL, str(labels_file), store_uri, as_json=as_json)

        say(f"\n== 5. CT: shipyard run monitoring --model {MODEL} --from-traffic --from {shift_started}")
        say("   the shifted traffic against production's reference data; alerts go to a local webhook receiver")
        with _local_webhook(as_json) as webhook, quiet():
            monitoring = execute_monitoring(
                data=None,
                model=MODEL,
                store=store_uri,
                reference="",
                retrain=True,
                config=None,
                webhook=webhook,
                as_json=as_json,
                from_traffic=True,
                start=shift_started,
            )
        served = _wait_for_production(url, store_uri, steady.drop(columns=[target]).head(1), run)
        say(f"\n== 6. The same server, not restarted, now answers with production v{served}")
    return {
        "training": training,
        "serving": {"url": url, "version_after": served},
        "traffic": {"rows": answered, "logged": logged, "started": traffic_started, "shift_started": shift_started},
        "feedback": feedback,
        "monitoring": monitoring,
    }


def _request_id(period: str, index: int) -> str:
    return f"{period}-{index:05d}"


def _send_traffic(url: str, features: pd.DataFrame, period: str) -> int:
    """Sends ``features`` as V2 requests of :data:`REQUEST_ROWS` rows with ids ``PERIOD-NNNNN``."""
    from shipyard.serving import client

    for index, first in enumerate(range(0, len(features), REQUEST_ROWS)):
        client.infer(url, MODEL, features.iloc[first : first + REQUEST_ROWS], request_id=_request_id(period, index))
    return len(features)


def _labels(frame: pd.DataFrame, period: str, target: str) -> pd.DataFrame:
    """The true outcomes of ``frame``'s rows, keyed as :func:`_send_traffic` sent them."""
    import numpy as np
    import pandas as pd

    position = np.arange(len(frame))
    ids = [_request_id(period, int(index)) for index in position // REQUEST_ROWS]
    return pd.DataFrame({"request_id": ids, "request_row": position % REQUEST_ROWS, target: frame[target].to_numpy()})


def _wait_until_logged(store_uri: str, run: str, rows: int, started: datetime, timeout: float = 60.0) -> int:
    """Rows of this ``run``'s requests logged in the store, once at least ``rows`` are there (or at ``timeout``).

    Only the day partitions from ``started`` on are listed: a reused store's earlier days are not read.
    """
    from shipyard.store import open_store
    from shipyard.store.traffic import REQUESTS, batch_keys, read_batch

    store = open_store(store_uri)
    seen: set[str] = set()
    logged = 0
    deadline = time.monotonic() + timeout
    while True:
        for key in batch_keys(store, MODEL, REQUESTS, started, None):
            if key not in seen:
                seen.add(key)
                logged += int(read_batch(store, key)["request_id"].str.startswith(f"{run}-").sum())
        if logged >= rows or time.monotonic() > deadline:
            return logged
        time.sleep(0.5)


def _wait_for_production(url: str, store_uri: str, features: pd.DataFrame, run: str, timeout: float = 30.0) -> int:
    """The version the server answers with, once it is the production alias's (or at ``timeout``)."""
    from shipyard.serving import client
    from shipyard.store.registry import ModelRegistry
    from shipyard.vocabulary import PRODUCTION

    wanted = ModelRegistry.from_uri(store_uri).resolve_alias(MODEL, PRODUCTION)
    deadline = time.monotonic() + timeout
    while True:
        answered = client.infer(url, MODEL, features, request_id=f"{run}-check").model_version
        if (wanted is not None and answered == str(wanted.version)) or time.monotonic() > deadline:
            return int(answered or 0)
        time.sleep(0.5)
