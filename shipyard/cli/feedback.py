"""`shipyard feedback`: store the true outcomes of served requests, so monitoring can score production on them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from shipyard.cli._common import emit_json, existing_store, json_option, reports_errors, status, store_option


def execute_feedback(model: str, labels: str, store: str, *, as_json: bool = False) -> dict[str, Any]:
    """Reads the label file, stores it as one labels batch of ``model`` and reports what it matched.

    Shared by `shipyard feedback` and the demo. Returns the summary: rows_stored, matched, unmatched,
    duplicates_in_file, replaced_earlier, target, model, uri (the labels batch written).

    Raises:
        CliError: unknown store. RegistryError: unknown model. DataValidationError: the label file lacks request_id or
            the target, or has an empty label (the message names the column and rows).
    """
    from shipyard.stages.traffic import read_label_file, store_feedback, traffic_target
    from shipyard.store import open_store
    from shipyard.store.names import validate_model_name

    store_uri = existing_store(store)
    validate_model_name(model)
    target = traffic_target(store_uri, model)
    frame = read_label_file(labels, target)
    object_store = open_store(store_uri)
    result = store_feedback(object_store, model, frame, datetime.now(timezone.utc), target=target)
    summary = {**result.to_dict(), "uri": object_store.uri_for(result.key)}
    summary.pop("key")
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"stored {result.rows_stored} label(s) of '{target}' for model '{model}': {summary['uri']}")
        click.echo(f"  matched to logged requests: {result.matched}")
        click.echo(f"  not logged yet (joined when they are): {result.unmatched}")
        if result.duplicates_in_file:
            click.echo(f"  duplicates in the file (the last row of each key kept): {result.duplicates_in_file}")
        if result.replaced_earlier:
            click.echo(f"  relabelled (had an earlier label; the newest wins): {result.replaced_earlier}")
    if not result.matched:
        status(f"note: no label matched a logged request of '{model}' yet; they are kept and join when it is logged")
    return summary


@click.command("feedback")
@click.argument("name")
@click.option(
    "--labels",
    required=True,
    help="CSV or Parquet (path or s3://bucket/key) with request_id, the target column and optionally "
    "request_row (the row's position in its request; default 0).",
)
@store_option
@json_option
@reports_errors
def feedback(name: str, labels: str, store: str, as_json: bool) -> None:
    """Store the true outcomes (labels) of requests the model server answered.

    Each row names a logged request by request_id (the id the client sent, or the one the server
    returned) and gives the target column's true value; request_row picks a row of a multi-row
    request (default 0). The target column is the one the model was trained to predict. Labels may
    arrive before their request is logged, and later files may relabel a request: monitoring joins
    the newest label of each row. Monitoring then scores production on the labelled traffic (decay)
    and can retrain on it: shipyard run monitoring --model NAME --from-traffic.

    \b
    Examples:
      shipyard feedback churn --labels outcomes-week-12.csv
      shipyard feedback churn --labels s3://data/churn/outcomes.parquet --store s3://models/shipyard --json
    """
    execute_feedback(name, labels, store, as_json=as_json)
