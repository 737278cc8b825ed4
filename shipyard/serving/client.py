"""A small Open Inference Protocol V2 client for `shipyard serve` and KServe predictors.

Standard library HTTP only (no kserve import), so tests and the smoke test can use it cheaply.
The request it sends is the one the server decodes: one input per column,
``parameters.content_type: "pd"``, missing values as JSON null.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    import pandas as pd

#: V2 output with labels (classification) or numbers (regression); the server imports these names.
PREDICTIONS_OUTPUT = "predictions"
#: V2 output with one probability per class per row (classifiers with predict_proba).
PROBABILITIES_OUTPUT = "probabilities"
#: Parameter of the probabilities output: its classes as JSON text (V2 parameters are scalars).
CLASSES_PARAMETER = "classes"


class ServingError(ShipyardError):
    """The server refused a request or could not be reached; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Prediction:
    """What the server answered for one request."""

    predictions: list[Any]  # one label (classification) or number (regression) per row
    model_version: str | None  # the registry version that answered
    probabilities: list[list[float]] | None = None  # per row, one per class, in ``classes`` order
    classes: list[Any] | None = None


def _cell(value: Any) -> Any:
    """A JSON-ready value: numpy scalars unwrapped, NaN/NaT/None as null."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def v2_request(frame: pd.DataFrame) -> dict[str, Any]:
    """``frame`` as a V2 inference request: one input per column, ``content_type: "pd"``."""
    import pandas as pd

    inputs = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            datatype = "BOOL"
        elif pd.api.types.is_integer_dtype(values):
            datatype = "INT64"
        elif pd.api.types.is_numeric_dtype(values):
            datatype = "FP64"
        else:
            datatype = "BYTES"
        data = [_cell(v) for v in values.tolist()]
        if datatype == "BYTES":
            data = [v if v is None else str(v) for v in data]
        inputs.append({"name": str(column), "datatype": datatype, "shape": [len(frame)], "data": data})
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def _send(url: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    data = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        try:
            detail = str(json.loads(detail).get("error", detail))
        except (ValueError, AttributeError):
            pass
        raise ServingError(f"{url}: HTTP {exc.code}: {detail}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServingError(f"{url}: no answer: {reason}") from None
    if not isinstance(answer, dict):
        raise ServingError(f"{url}: expected a JSON object, got {type(answer).__name__}")
    return answer


def ready(base_url: str, *, timeout: float = 2.0) -> bool:
    """True if the server answers ``/v2/health/ready`` with ready (False if not ready or not reachable)."""
    try:
        return bool(_send(f"{base_url.rstrip('/')}/v2/health/ready", None, timeout).get("ready"))
    except ServingError:
        return False


def infer(
    base_url: str, model_name: str, frame: pd.DataFrame, *, timeout: float = 10.0, request_id: str | None = None
) -> Prediction:
    """Sends ``frame`` to ``/v2/models/NAME/infer`` and returns the predictions.

    ``request_id`` is sent as the V2 request's ``id``: the server logs the rows under it, and
    labels fed back later (``shipyard feedback``) are joined to them by it.

    Raises:
        ServingError: the server refused the request (the message is the server's) or did not answer.
    """
    url = f"{base_url.rstrip('/')}/v2/models/{model_name}/infer"
    body = v2_request(frame)
    if request_id is not None:
        body["id"] = request_id
    answer = _send(url, body, timeout)
    outputs = {str(output.get("name")): output for output in answer.get("outputs") or []}
    if PREDICTIONS_OUTPUT not in outputs:
        raise ServingError(f"{url}: the response has no '{PREDICTIONS_OUTPUT}' output (outputs: {list(outputs)})")
    probabilities = classes = None
    if PROBABILITIES_OUTPUT in outputs:
        output = outputs[PROBABILITIES_OUTPUT]
        rows, width = output["shape"]
        flat = output["data"]
        probabilities = [flat[i * width : (i + 1) * width] for i in range(rows)]
        classes = json.loads((output.get("parameters") or {}).get(CLASSES_PARAMETER, "null"))
    version = answer.get("model_version")
    return Prediction(
        predictions=list(outputs[PREDICTIONS_OUTPUT]["data"]),
        model_version=None if version is None else str(version),
        probabilities=probabilities,
        classes=classes,
    )
