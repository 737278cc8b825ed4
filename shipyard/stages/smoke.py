"""Loads the saved model the way KServe's scikit-learn server does and sends it holdout rows.

Catches what unit metrics cannot: a pickle that does not load, a pipeline that breaks on
JSON-decoded input (``None`` instead of ``NaN``), odd predictions, or a slow model.
Failing checks are reported in ``problems``; nothing here raises for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.config import SmokeTestSettings
from shipyard.stages.columns import finite_mask, finite_or_none
from shipyard.vocabulary import TaskKind

#: File names KServe's scikit-learn server looks for in a model directory, in its order.
MODEL_FILE_NAMES = ("model.joblib", "model.pkl", "model.pickle")

#: How far a row of predict_proba may stray from 1.
PROBABILITY_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SmokeReport:
    """Outcome of sending ``rows`` holdout rows through the loaded model."""

    passed: bool
    rows: int
    latency_ms: float  # predict only, for the whole batch: median of warm calls; loading excluded
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "latency_ms": self.latency_ms,
            "problems": list(self.problems),
        }

    def to_markdown(self, model_name: str, version: int) -> str:
        """The report for the Kubeflow UI: verdict, rows, latency, and the record as JSON."""
        return (
            f"# Smoke test: {model_name} v{version}\n\n{'PASSED' if self.passed else 'FAILED'} on {self.rows} rows in "
            f"{self.latency_ms:.1f} ms\n\n```json\n{json.dumps(self.to_dict(), indent=2)}\n```\n"
        )


def _model_file(model_path: Path) -> Path:
    if model_path.is_dir():
        for name in MODEL_FILE_NAMES:
            if (model_path / name).is_file():
                return model_path / name
        return model_path / MODEL_FILE_NAMES[0]
    return model_path


def _as_served_request(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows after a JSON round trip, decoded as KServe does (``pd.DataFrame(instances)``)."""
    records = json.loads(rows.to_json(orient="records"))
    return pd.DataFrame(records)


def _failed(rows: int, latency_ms: float, problems: list[str]) -> SmokeReport:
    return SmokeReport(passed=False, rows=rows, latency_ms=latency_ms, problems=tuple(problems))


def _prediction_problems(predictions: np.ndarray, rows: int, task: str, expected: Sequence[Any] | None) -> list[str]:
    problems = []
    if len(predictions) != rows:
        problems.append(f"model returned {len(predictions)} predictions for {rows} rows")
    if task == TaskKind.REGRESSION:
        try:
            values = predictions.astype(float)
        except (TypeError, ValueError):
            return problems + [f"regression predictions are not numbers (dtype {predictions.dtype})"]
        bad = int((~finite_mask(values)).sum())
        if bad:
            problems.append(f"{bad} of {len(values)} predictions are NaN or infinite")
    elif expected is not None:
        allowed = set(expected)
        unexpected = sorted({str(v) for v in predictions.tolist() if v not in allowed})
        if unexpected:
            problems.append(
                f"predicted classes {unexpected} are not among the expected classes {[str(c) for c in expected]}"
            )
    return problems


def _probability_problems(model: Any, request: pd.DataFrame, rows: int) -> list[str]:
    try:
        proba = np.asarray(model.predict_proba(request), dtype=float)
    except Exception as exc:  # noqa: BLE001 - any failure of the served call is the finding
        return [f"predict_proba failed: {type(exc).__name__}: {exc}"]
    if proba.ndim != 2 or proba.shape[0] != rows:
        return [f"predict_proba returned shape {proba.shape} for {rows} rows"]
    sums = proba.sum(axis=1)
    bad = int((~finite_mask(sums) | (np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE)).sum())
    if bad:
        return [f"{bad} of {rows} predict_proba rows do not sum to 1"]
    return []


#: Timed predict calls after the first (cold) one; the median is the latency checked against the limit.
TIMED_CALLS = 5


def _warm_latency_ms(model: Any, request: pd.DataFrame) -> float:
    """The median time of :data:`TIMED_CALLS` predict calls on ``request``, after the first call warmed up.

    The first call pays one-off costs (lazy imports, caches) and a busy machine adds noise to any
    single call; the median of warm calls is what a served model's steady latency looks like.
    """
    timings = []
    for _ in range(TIMED_CALLS):
        started = time.perf_counter()
        model.predict(request)
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(timings))


def smoke_test_model(
    model_path: str | Path,
    holdout: pd.DataFrame,
    target: str,
    task: str,
    *,
    classes: Sequence[Any] | None,
    settings: SmokeTestSettings,
) -> SmokeReport:
    """Sends the first ``settings.rows`` holdout rows, JSON-encoded, to the model file at ``model_path``.

    Args:
        model_path: ``model.joblib``, or the directory KServe would be pointed at.
        classes: the classes the model was trained on (classification); None falls back to
            the loaded model's ``classes_``.
    """
    path = _model_file(Path(model_path))
    try:
        import joblib

        model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - whatever stops loading also stops the server
        return _failed(0, 0.0, [f"cannot load model from {path}: {type(exc).__name__}: {exc}"])
    if not callable(getattr(model, "predict", None)):
        return _failed(0, 0.0, [f"object loaded from {path} ({type(model).__name__}) has no predict method"])

    rows = holdout.head(settings.rows).drop(columns=[target], errors="ignore")
    if len(rows) == 0:
        return _failed(0, 0.0, ["holdout has no rows to send"])
    request = _as_served_request(rows)

    started = time.perf_counter()
    try:
        predictions = np.asarray(model.predict(request))
    except Exception as exc:  # noqa: BLE001 - a failing predict is the finding
        latency_ms = (time.perf_counter() - started) * 1000.0
        return _failed(len(request), latency_ms, [f"predict failed on JSON-decoded rows: {type(exc).__name__}: {exc}"])
    latency_ms = _warm_latency_ms(model, request)

    if task == TaskKind.CLASSIFICATION and classes is None:
        model_classes = getattr(model, "classes_", None)
        classes = None if model_classes is None else np.asarray(model_classes).tolist()
    problems = _prediction_problems(predictions, len(request), task, classes)
    if task == TaskKind.CLASSIFICATION and hasattr(model, "predict_proba"):
        problems += _probability_problems(model, request, len(request))
    if finite_or_none(latency_ms) is None or latency_ms > settings.max_latency_ms:
        problems.append(
            f"predict took {latency_ms:.1f} ms for {len(request)} rows; limit is {settings.max_latency_ms:g} ms"
        )
    return SmokeReport(passed=not problems, rows=len(request), latency_ms=latency_ms, problems=tuple(problems))
