"""The smoke test: holdout rows sent over HTTP to the server that serves the version under test.

A client of the model server (Open Inference Protocol V2, the request `shipyard serve` and the
KServe runtime decode), so it catches what unit metrics cannot: a pickle the server cannot load,
a pipeline that breaks on JSON-decoded input (null for a missing value), odd predictions, the
wrong version answering, or a slow model. The latency checked is the median of warm requests
against a per-row budget, so a busy machine does not fail a healthy model.
Failing checks are reported in ``problems``; nothing here raises for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard._lazy import lazy_module
from shipyard.config import SmokeTestSettings
from shipyard.serving import client
from shipyard.serving.client import Prediction, ServingError
from shipyard.stages.columns import finite_mask, finite_or_none
from shipyard.vocabulary import TaskKind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # loaded on first use: a task that only reads this module's types skips them (shipyard/_lazy.py)
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: Sends a frame to a server: ``(base_url, model_name, frame) -> Prediction``; :func:`client.infer` by default.
Infer = Callable[[str, str, "pd.DataFrame"], Prediction]

#: How far a row of predict_proba may stray from 1.
PROBABILITY_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SmokeReport:
    """Outcome of sending ``rows`` holdout rows to the server."""

    passed: bool
    rows: int
    latency_ms: float  # one whole request (HTTP round trip): median of the timed requests after warm-up
    problems: tuple[str, ...]
    budget_ms: float | None = None  # what latency_ms was checked against (None: not checked)
    model_version: str | None = None  # the version the server said answered

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "latency_ms": self.latency_ms,
            "budget_ms": self.budget_ms,
            "model_version": self.model_version,
            "problems": list(self.problems),
        }

    def to_markdown(self, model_name: str, version: int) -> str:
        """The report for the Kubeflow UI: verdict, rows, latency, and the record as JSON."""
        return (
            f"# Smoke test: {model_name} v{version}\n\n{'PASSED' if self.passed else 'FAILED'} on {self.rows} rows in "
            f"{self.latency_ms:.1f} ms\n\n```json\n{json.dumps(self.to_dict(), indent=2)}\n```\n"
        )


def failed_report(problems: Sequence[str], rows: int = 0, latency_ms: float = 0.0) -> SmokeReport:
    """A report of a smoke test that could not go further (no server, no rows)."""
    return SmokeReport(passed=False, rows=rows, latency_ms=latency_ms, problems=tuple(problems))


def latency_budget_ms(settings: SmokeTestSettings, rows: int) -> float:
    """The most one request of ``rows`` rows may take: a fixed overhead plus a per-row budget, capped."""
    budget = settings.request_overhead_ms + settings.max_ms_per_row * rows
    return budget if settings.max_latency_ms is None else min(budget, settings.max_latency_ms)


def answer_problems(answer: Prediction, rows: int, task: str, classes: Sequence[Any] | None, version: int) -> list[str]:
    """What is wrong with the server's answer to ``rows`` rows: version, count, classes, NaNs, probabilities.

    ``classes`` None falls back to the classes the server reports with its probabilities.
    """
    problems = []
    if answer.model_version != str(version):
        problems.append(
            f"the server answered with model_version {answer.model_version!r}; the version under test is {version}"
        )
    predictions = np.asarray(answer.predictions, dtype=object)
    if len(predictions) != rows:
        problems.append(f"model returned {len(predictions)} predictions for {rows} rows")
    if task == TaskKind.REGRESSION:
        try:
            values = np.array([np.nan if v is None else v for v in predictions.tolist()], dtype=float)
        except (TypeError, ValueError):
            return problems + ["regression predictions are not numbers"]
        bad = int((~finite_mask(values)).sum())
        if bad:
            problems.append(f"{bad} of {len(values)} predictions are NaN or infinite")
        return problems
    expected = classes if classes is not None else answer.classes
    if expected is not None:
        allowed = {str(c) for c in expected}  # labels travel as JSON text or numbers
        unexpected = sorted({str(v) for v in predictions.tolist() if str(v) not in allowed})
        if unexpected:
            problems.append(
                f"predicted classes {unexpected} are not among the expected classes {[str(c) for c in expected]}"
            )
    if answer.probabilities is not None:
        problems += _probability_problems(answer.probabilities, rows)
    return problems


def _probability_problems(probabilities: list[list[float]], rows: int) -> list[str]:
    try:
        proba = np.array([[np.nan if p is None else p for p in row] for row in probabilities], dtype=float)
    except (TypeError, ValueError):
        return ["probabilities are not numbers"]
    if proba.ndim != 2 or proba.shape[0] != rows:
        return [f"probabilities have shape {proba.shape} for {rows} rows"]
    sums = proba.sum(axis=1)
    bad = int((~finite_mask(sums) | (np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE)).sum())
    if bad:
        return [f"{bad} of {rows} probability rows do not sum to 1"]
    return []


def _timed(infer: Infer, base_url: str, model_name: str, request: pd.DataFrame) -> tuple[Prediction, float]:
    started = time.perf_counter()
    answer = infer(base_url, model_name, request)
    return answer, (time.perf_counter() - started) * 1000.0


def smoke_test_endpoint(
    base_url: str,
    model_name: str,
    version: int,
    holdout: pd.DataFrame,
    target: str,
    task: str,
    *,
    classes: Sequence[Any] | None,
    settings: SmokeTestSettings,
    infer: Infer | None = None,
) -> SmokeReport:
    """Sends the first ``settings.rows`` holdout rows to the server at ``base_url`` and checks what it answers.

    ``settings.warmup_requests`` requests go first, untimed (the answer to the first is the one
    checked); then ``settings.timed_requests`` are timed one after another and their median is
    checked against :func:`latency_budget_ms`. Every answer must come from ``version``.

    Args:
        base_url: a `shipyard serve` or a KServe predictor, e.g. ``http://127.0.0.1:8080``.
        classes: the classes the model was trained on (classification); None falls back to the
            classes the server reports.
        infer: how a request is sent (tests replace it); :func:`shipyard.serving.client.infer`.
    """
    send: Infer = infer or (lambda url, name, frame: client.infer(url, name, frame, timeout=60.0))
    request = holdout.head(settings.rows).drop(columns=[target], errors="ignore").reset_index(drop=True)
    rows = len(request)
    if rows == 0:
        return failed_report(["holdout has no rows to send"])

    try:
        answer, first_ms = _timed(send, base_url, model_name, request)
    except ServingError as exc:
        return failed_report([f"the server refused the holdout rows: {exc}"], rows)
    problems = answer_problems(answer, rows, task, classes, version)
    timings: list[float] = []
    try:
        for _ in range(settings.warmup_requests - 1):
            send(base_url, model_name, request)
        for _ in range(settings.timed_requests):
            later, elapsed = _timed(send, base_url, model_name, request)
            timings.append(elapsed)
            if later.model_version != answer.model_version:
                problems.append(f"model_version changed from {answer.model_version} to {later.model_version}")
                break
    except ServingError as exc:
        problems.append(f"a repeated request failed: {exc}")
    latency_ms = float(np.median(timings)) if timings else first_ms
    budget_ms = latency_budget_ms(settings, rows)
    if finite_or_none(latency_ms) is None or latency_ms > budget_ms:
        problems.append(
            f"a request of {rows} rows took {latency_ms:.1f} ms (median of {len(timings)} after warm-up); "
            f"the budget is {budget_ms:g} ms ({settings.request_overhead_ms:g} ms + "
            f"{settings.max_ms_per_row:g} ms per row"
            + (f", at most {settings.max_latency_ms:g} ms" if settings.max_latency_ms is not None else "")
            + ")"
        )
    return SmokeReport(
        passed=not problems,
        rows=rows,
        latency_ms=latency_ms,
        problems=tuple(problems),
        budget_ms=budget_ms,
        model_version=answer.model_version,
    )
