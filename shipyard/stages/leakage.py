"""Too good to be true: features that give the target away, and holdout scores no real model reaches.

Two checks run before training (called by :func:`shipyard.stages.validate.check_dataset`):

- **renamed target**: a feature whose values map one-to-one onto the target's (``yes``/``no`` as
  ``1``/``0``, class names recoded). Only columns whose values repeat are compared, so an id or
  any other unique-per-row column never matches a unique-per-row regression target by accident.
- **predicts alone**: one feature, on its own, predicts the target on *held-out* rows with a score
  of at least ``validation.leakage_min_score`` (balanced accuracy for classification, R² for
  regression) through a per-value lookup (majority class or mean target; numbers by their bin
  among 256 quantiles, a one-feature step function like a shallow tree); it is fitted on one half of a
  deterministic sample and scored on the other, so a column that merely identifies rows (an id, a
  timestamp in seconds) scores like chance: its held-out values were never seen. For a numeric
  feature and a regression target, the held-out rank correlation also counts (a monotone
  transformation of the target is a leak a shallow tree only approximates).

Findings are warnings, or problems with ``validation.leakage: block``; ``off`` skips the checks.
After training, :func:`perfect_score_findings` flags a perfect holdout metric.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from shipyard.findings import Code, Finding, problem, warning
from shipyard.stages.columns import NUMERIC, column_kind
from shipyard.vocabulary import TaskKind

#: The predictive check needs this many labelled rows (half of them held out); below it a feature
#: can look perfect by chance, so only the renamed-target check runs.
MIN_ROWS_FOR_HOLDOUT = 100
#: Rows sampled for the predictive check; fewer when the table is wide, so the check stays cheap.
MAX_SAMPLE_ROWS = 20_000
SAMPLE_CELLS_BUDGET = 2_000_000
#: A column is compared for a renamed target only when its values repeat: at most this share distinct.
MAX_DISTINCT_SHARE_FOR_RENAMING = 0.5
#: A number is looked up by its bin among this many quantiles of the fit half: a threshold on it
#: (``y = x > 5``) is then missed on at most one bin's rows, well under 1% of them.
BINS = 256
_SEED = 0

#: Holdout metrics that cannot exceed 1.0; a model that reaches it on real data has usually seen the answer.
PERFECT_METRICS = ("accuracy", "f1_macro", "roc_auc", "r2")

LEAKAGE_HINT = (
    "drop the column if it is computed from the target or only known after it; if it is a legitimate "
    "predictor, set validation.leakage: off in --config"
)
PERFECT_SCORE_HINT = (
    "a perfect score on real data usually means a feature leaks the target: look at the validation "
    "report's leakage findings and at how each column is produced"
)


def find_leaks(frame: pd.DataFrame, target: str, task: str, *, mode: str, min_score: float) -> list[Finding]:
    """One finding per feature that gives ``target`` away; none when ``mode`` is ``off`` or the target unusable.

    ``frame`` holds ingest's normalised columns (numeric, or object holding ``str``); ``mode`` is
    ``warn`` (warnings) or ``block`` (problems); ``min_score`` the held-out score that counts as a leak.
    """
    if mode == "off" or target not in frame.columns:
        return []
    labelled = frame[frame[target].notna()]
    if labelled[target].nunique() < 2:
        return []
    report = problem if mode == "block" else warning
    found: list[Finding] = []
    renamed = set()
    for name in labelled.columns:
        if name == target:
            continue
        values = _renamed_target_values(labelled[name], labelled[target])
        if values is not None:
            renamed.add(name)
            found.append(
                report(
                    name,
                    Code.LEAKAGE,
                    f"column '{name}': its values map one-to-one onto the target '{target}' ({values} values "
                    "each): it is the target under another name (leakage)",
                    LEAKAGE_HINT,
                )
            )
    if len(labelled) < MIN_ROWS_FOR_HOLDOUT:
        return found
    fit, held = _halves(labelled, target)
    for name in labelled.columns:
        if name == target or name in renamed:
            continue
        scored = _holdout_score(fit[name], fit[target], held[name], held[target], task)
        if scored is not None and scored[1] >= min_score:
            metric, score = scored
            found.append(
                report(
                    name,
                    Code.LEAKAGE,
                    f"column '{name}': alone predicts the target '{target}' on held-out rows ({metric} "
                    f"{score:.3f}, at least validation.leakage_min_score {min_score:g}): it may be "
                    "derived from the target (leakage)",
                    LEAKAGE_HINT,
                )
            )
    return found


def perfect_score_findings(metrics: Mapping[str, object]) -> list[Finding]:
    """A warning per holdout metric at its perfect value 1.0 (accuracy, f1_macro, roc_auc, r2)."""
    perfect = [
        name
        for name in PERFECT_METRICS
        if isinstance(metrics.get(name), int | float) and float(metrics[name]) >= 1.0 - 1e-12  # type: ignore[arg-type]
    ]
    if not perfect:
        return []
    listed = ", ".join(f"{name} 1.0" for name in perfect)
    return [
        warning(
            None,
            Code.PERFECT_SCORE,
            f"model: a perfect holdout score ({listed}) is too good to be true on real data; "
            "check the features for leakage",
            PERFECT_SCORE_HINT,
        )
    ]


# --- renamed target ----------------------------------------------------------------------------


def _renamed_target_values(feature: pd.Series, target: pd.Series) -> int | None:
    """The number of distinct values when ``feature`` is ``target`` under a one-to-one renaming, else None.

    Compared on rows where both are present, which must be at least half of the labelled rows.
    """
    both = feature.notna().to_numpy()
    present = int(both.sum())
    if present * 2 < len(feature):
        return None
    distinct = int(feature.nunique())
    if distinct < 2 or distinct > MAX_DISTINCT_SHARE_FOR_RENAMING * present or distinct != target[both].nunique():
        return None
    codes, _ = pd.factorize(feature[both])
    target_codes, _ = pd.factorize(target[both])
    pairs = len(pd.unique(codes.astype(np.int64) * (distinct + 1) + target_codes))
    return distinct if pairs == distinct else None


# --- predicts alone ----------------------------------------------------------------------------


def _halves(labelled: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic sample of the labelled rows, shuffled and cut in two: fit half, held-out half."""
    width = max(len(labelled.columns), 1)
    size = min(len(labelled), MAX_SAMPLE_ROWS, max(MIN_ROWS_FOR_HOLDOUT, SAMPLE_CELLS_BUDGET // width))
    order = np.random.default_rng(_SEED).permutation(len(labelled))[:size]
    sample = labelled.iloc[order]
    half = size // 2
    return sample.iloc[:half], sample.iloc[half:]


def _holdout_score(
    fit_x: pd.Series, fit_y: pd.Series, held_x: pd.Series, held_y: pd.Series, task: str
) -> tuple[str, float] | None:
    """(metric name, score) of ``fit_x`` alone predicting the target on the held-out half, or None."""
    if fit_x.notna().sum() == 0 or held_x.notna().sum() == 0:
        return None
    numeric = column_kind(fit_x.dtype) == NUMERIC
    keys_fit, keys_held = _bin_keys(fit_x, held_x) if numeric else (_text_keys(fit_x), _text_keys(held_x))
    if task == TaskKind.CLASSIFICATION:
        predicted = _lookup_predictions(keys_fit, fit_y.astype(str), keys_held, classification=True)
        return "balanced accuracy", _balanced_accuracy(held_y.astype(str).to_numpy(), predicted)
    truth = held_y.to_numpy(dtype="float64")
    predicted = _lookup_predictions(keys_fit, fit_y.astype("float64"), keys_held, classification=False)
    score = _r2(truth, predicted.astype("float64"))
    if numeric:
        rho = _rank_correlation(_finite_or_nan(held_x), truth)
        if rho is not None and rho * rho > score:
            return "rank correlation²", rho * rho
    return "R²", score


def _finite_or_nan(values: pd.Series) -> np.ndarray:
    array: np.ndarray = np.array(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
    array[~np.isfinite(array)] = np.nan
    return array


def _text_keys(values: pd.Series) -> np.ndarray:
    return np.asarray(values.astype(str).where(values.notna(), "\x00missing").to_numpy(), dtype=object)


def _bin_keys(fit_x: pd.Series, held_x: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A number's bin among ``BINS`` quantiles of the fit half (each value its own bin when there are few).

    Binning makes the per-value lookup a one-feature step function, like a shallow tree without
    scikit-learn's import cost; missing and infinite values share bin -1.
    """
    fit, held = _finite_or_nan(fit_x), _finite_or_nan(held_x)
    finite = fit[~np.isnan(fit)]
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, BINS + 1))) if len(finite) else np.array([0.0])

    def keys(values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(edges, np.nan_to_num(values), side="right")
        return np.where(np.isnan(values), -1, bins)

    return keys(fit), keys(held)


def _lookup_predictions(
    keys_fit: np.ndarray, fit_y: pd.Series, keys_held: np.ndarray, *, classification: bool
) -> np.ndarray:
    """Each held-out key's majority class (or mean target) among fit rows; unseen keys get the overall one."""
    if classification:
        counts = pd.DataFrame({"key": keys_fit, "label": fit_y.to_numpy()}).value_counts()
        majority = counts.reset_index().drop_duplicates("key")  # value_counts sorts by count, descending
        table = pd.Series(majority["label"].to_numpy(), index=majority["key"].to_numpy())
        fallback: object = fit_y.value_counts().index[0]
    else:
        table = fit_y.groupby(keys_fit).mean()
        fallback = float(fit_y.mean())
    held = pd.Series(keys_held)
    return np.asarray(held.map(table).where(held.isin(table.index), fallback).to_numpy())


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    recalls = [float(np.mean(predicted[truth == label] == label)) for label in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else 0.0


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0.0:
        return 0.0
    return 1.0 - float(np.sum((truth - predicted) ** 2)) / total


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return None
    rx = pd.Series(x[keep]).rank().to_numpy()
    ry = pd.Series(y[keep]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])
