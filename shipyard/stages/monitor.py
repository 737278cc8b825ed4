"""Monitoring the model in production: drift of new data from its reference, and decay of its score.

:func:`monitor_production` resolves the production alias, loads the version's reference sample
(sha256-verified; or a reference the caller gives for a version registered before references were
stored), rejects data whose columns do not match the version's data contract in one line, checks
drift on every feature (and the target, when the new data has it) with the model's column kinds,
and, when the target is present, scores the production model on the new rows and judges decay
against its metrics at release and the gate's thresholds. Features the model server hashed or
excluded (a traffic window's ``left_out``) are not compared: drift is judged on the other columns,
decay is not judged (the model needs every feature) and no retrain can learn from such rows. The
result is a frozen :class:`MonitoringResult`; :func:`record_monitoring` stores it as the run record
section ``monitoring`` and as the latest verdict of that version, which ``shipyard models show`` prints.

Where monitoring writes in the store, beside (not inside) the immutable version directory a
KServe ``storageUri`` points at::

    models/NAME/monitoring/vVERSION/latest.json            # the latest verdict for that version
    models/NAME/monitoring/vVERSION/RUN_ID/drift-report.html  (+ .json)
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.config import ShipyardConfig
from shipyard.errors import DataValidationError, RegistryError, ShipyardError, StoreError
from shipyard.stages.contract import DataContract
from shipyard.stages.decay import DecayResult, detect_decay, score_current_data
from shipyard.stages.drift import DriftResult, detect_drift
from shipyard.stages.reference import REFERENCE_FILE
from shipyard.store import NotFound
from shipyard.store.documents import Document, dumps, iso, loads, utc_now
from shipyard.store.registry import ModelRegistry, ModelVersion
from shipyard.vocabulary import PRODUCTION, TaskKind

#: The run record section (and the document kind) monitoring writes.
RECORD_SECTION = "monitoring"


class NoReferenceData(ShipyardError):
    """The production version has no stored reference sample and none was given."""


class NoProductionModel(ShipyardError):
    """Nothing to monitor: the model has no production version."""


@dataclass(frozen=True)
class MonitoringResult:
    """What monitoring found for one production version on one batch of new data."""

    model: str
    version: int
    run_id: str
    target: str
    task: str
    has_target: bool
    drift: DriftResult
    decay: DecayResult | None  # None without a target
    reference_source: str  # "registry" (the version's reference.parquet) or the path given
    checked_at: str
    report_uri: str | None = None  # where the HTML drift report was saved, once it was
    left_out_columns: tuple[str, ...] = ()  # features the model server hashed or excluded: not compared
    decay_not_judged: str | None = None  # why decay was not judged although the data has the target
    retrain_blocked: str | None = None  # why these rows cannot be retrained on, whatever the verdict

    @property
    def drift_detected(self) -> bool:
        return self.drift.dataset_drift

    @property
    def decay_detected(self) -> bool:
        return self.decay is not None and self.decay.decay_detected

    @property
    def alert_needed(self) -> bool:
        return self.drift_detected or self.decay_detected

    @property
    def production_metrics(self) -> dict[str, float] | None:
        return None if self.decay is None else dict(self.decay.metrics)

    def with_report(self, report_uri: str) -> MonitoringResult:
        return MonitoringResult(**{**self.__dict__, "report_uri": report_uri})

    def summary(self) -> str:
        """One line for a person: what was found."""
        parts = []
        if self.drift_detected:
            parts.append(
                f"drift in {self.drift.number_of_drifted_columns} of {self.drift.number_of_columns} columns "
                f"({', '.join(self.drift.drifted_columns)})"
            )
        if self.decay_detected and self.decay is not None:
            parts.append("decay: " + "; ".join(reason.removeprefix("fail: ") for reason in self.decay.reasons))
        if not parts:
            if not self.has_target:
                parts.append("no drift (no target: performance not checked)")
            else:
                parts.append("no drift" if self.decay_not_judged else "no drift, no decay")
        if self.left_out_columns:
            parts.append(f"not compared: {', '.join(self.left_out_columns)} (left out by the model server)")
            if self.decay_not_judged:
                parts.append("decay not judged and no retrain: the model needs every feature")
        return f"model {self.model} v{self.version}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "target": self.target,
            "task": self.task,
            "checked_at": self.checked_at,
            "has_target": self.has_target,
            "left_out_columns": list(self.left_out_columns),
            "decay_not_judged": self.decay_not_judged,
            "retrain_blocked": self.retrain_blocked,
            "drift_detected": self.drift_detected,
            "drift_share": self.drift.drift_share,
            "drifted_columns": list(self.drift.drifted_columns),
            "decay_detected": self.decay_detected,
            "production_metrics": self.production_metrics,
            "alert": self.alert_needed,
            "summary": self.summary(),
            "reference_source": self.reference_source,
            "report_uri": self.report_uri,
            "drift": self.drift.to_dict(),
            "decay": None if self.decay is None else self.decay.to_dict(),
        }

    def to_markdown(self) -> str:
        """The verdicts for the Kubeflow UI: the headline, the drift table, the decay checks."""
        head = "ALERT" if self.alert_needed else "OK"
        lines = [
            f"# Monitoring {head}: model {self.model} v{self.version}",
            "",
            self.summary().replace("|", "\\|"),
            "",
            f"Reference: {self.reference_source} · run {self.run_id}",
            "",
            self.drift.to_markdown(),
        ]
        if self.decay is not None:
            lines.append(self.decay.to_markdown())
        elif self.decay_not_judged:
            reason = self.decay_not_judged
            lines.append(f"## PERFORMANCE NOT JUDGED\n\n{_md(reason[:1].upper() + reason[1:])}.\n")
        else:
            lines.append("## PERFORMANCE NOT CHECKED\n\nThe new data has no target column.\n")
        if self.left_out_columns:
            names = ", ".join(f"`{name}`" for name in self.left_out_columns)
            lines.append(
                f"## LEFT OUT\n\nThe model server hashed or excluded {names}: not compared with the reference. "
                f"Retraining: {_md(self.retrain_blocked or '')}.\n"
            )
        return "\n".join(lines)

    def to_metrics(self) -> dict[str, float]:
        """Flat numbers for KFP ``Metrics``: verdicts as 0/1, drift share, per-column scores, decay."""
        values = {
            "drift_detected": float(self.drift_detected),
            "drift_share": float(self.drift.drift_share),
            "drifted_columns": float(self.drift.number_of_drifted_columns),
            "decay_detected": float(self.decay_detected),
            "has_target": float(self.has_target),
            "left_out_columns": float(len(self.left_out_columns)),
        }
        for column in self.drift.columns:
            if math.isfinite(column.score):
                values[f"drift_score.{column.column}"] = float(column.score)
            values[f"drifted.{column.column}"] = float(column.drifted)
        if self.decay is not None:
            values.update({f"decay.{name}": value for name, value in self.decay.to_metrics().items()})
        return values


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames field by field would raise
class MonitoringRun:
    """The result, and the frames and column kinds the drift report is drawn from."""

    result: MonitoringResult
    reference: pd.DataFrame
    current: pd.DataFrame
    kinds: dict[str, str]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def production_version(registry: ModelRegistry, model_name: str) -> ModelVersion:
    version = registry.resolve_alias(model_name, PRODUCTION)
    if version is None:
        raise NoProductionModel(
            f"model '{model_name}' has no {PRODUCTION} version in {registry.uri}: train and deploy it first "
            "(shipyard run training)"
        )
    return version


def production_contract(version: ModelVersion) -> DataContract:
    data = version.lineage.get("data_contract")
    if not data:
        raise RegistryError(
            f"model '{version.name}' v{version.version} has no data contract in its lineage: cannot tell "
            "which columns monitoring should check"
        )
    return DataContract.from_dict(data)


def check_columns(contract: DataContract, current: pd.DataFrame, where: str, left_out: Sequence[str] = ()) -> bool:
    """True when ``current`` holds the target; raises one line naming every missing or unexpected column.

    The target may be absent (unlabelled data); every feature must be there and nothing else, except
    the features in ``left_out`` (hashed or excluded by the model server), which may be absent.
    """
    expected = [column.name for column in contract.columns]
    features = [name for name in expected if name != contract.target]
    present = [str(name) for name in current.columns]
    missing = [name for name in features if name not in present and name not in left_out]
    unexpected = [name for name in present if name not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(repr(name) for name in missing))
        if unexpected:
            parts.append("unexpected column(s) " + ", ".join(repr(name) for name in unexpected))
        raise DataValidationError(
            f"<table>: the data does not match {where}'s columns: {'; '.join(parts)} "
            f"(expected {', '.join(repr(name) for name in features)}, and optionally the target {contract.target!r})"
        )
    return contract.target in present and bool(current[contract.target].notna().any())


def load_reference(registry: ModelRegistry, version: ModelVersion) -> pd.DataFrame:
    """The version's reference sample, sha256-verified; NoReferenceData when it was registered without one."""
    if REFERENCE_FILE not in version.files:
        raise NoReferenceData(
            f"model '{version.name}' v{version.version} was registered without reference data (before shipyard "
            f"stored it beside each version): pass --reference PATH (the table it was trained on) to monitor it"
        )
    with tempfile.TemporaryDirectory(prefix="shipyard-reference-") as tmp:
        path = registry.download_file(version.name, version.version, REFERENCE_FILE, tmp)
        return pd.read_parquet(path)


def monitor_production(
    registry: ModelRegistry,
    model_name: str,
    current: pd.DataFrame,
    config: ShipyardConfig,
    *,
    run_id: str,
    reference: pd.DataFrame | None = None,
    reference_source: str = "",
    left_out: Sequence[str] = (),
) -> MonitoringRun:
    """Checks ``current`` against the production version of ``model_name``: drift, and decay when labelled.

    Args:
        reference: use this instead of the version's stored reference sample (``reference_source``
            names where it came from).
        left_out: features ``current`` lacks on purpose (a traffic window's, see
            :func:`shipyard.stages.traffic.left_out_of`): they are not compared (dropped when present,
            their values being hashes), drift is judged on the other columns, decay is not judged
            (the model needs every feature) and the result says these rows cannot be retrained on.
            Names that are not features of the model are ignored.

    Raises:
        NoProductionModel, NoReferenceData: nothing to compare with.
        DataValidationError: the columns do not match the model's contract (one line), or a column
            cannot be tested (no finite value, text in a numeric column).
    """
    version = production_version(registry, model_name)
    contract = production_contract(version)
    where = f"model '{model_name}' v{version.version}"
    wanted = set(left_out)
    left_out = tuple(c.name for c in contract.columns if c.name != contract.target and c.name in wanted)
    if left_out and len(left_out) == sum(1 for c in contract.columns if c.name != contract.target):
        raise DataValidationError(
            f"<table>: the model server hashed or excluded every feature of {where}: nothing to compare"
        )
    present = [name for name in left_out if name in current.columns]
    if present:  # drop() copies the whole frame: only when there is something to drop
        current = current.drop(columns=present)
    has_target = check_columns(contract, current, where, left_out)
    if reference is None:
        reference = load_reference(registry, version)
        reference_source = f"{version.uri}{REFERENCE_FILE}"
    else:
        check_columns(contract, reference, f"{where} (the reference given)")
    kinds = {
        column.name: column.kind
        for column in contract.columns
        if (column.name != contract.target or has_target) and column.name not in left_out
    }
    if contract.target in kinds and contract.target not in reference.columns:
        del kinds[contract.target]  # a given reference without labels: the target cannot be compared
    drift = detect_drift(reference, current, kinds, config.monitoring.drift_settings())

    decay = None
    decay_not_judged = retrain_blocked = None
    if left_out:
        lacking = ", ".join(repr(name) for name in left_out)
        retrain_blocked = f"a model cannot learn from rows that lack {lacking} (hashed or excluded by the model server)"
        if has_target:
            decay_not_judged = (
                f"the model needs every feature to be scored and the data lacks {lacking} "
                "(hashed or excluded by the model server)"
            )
    if has_target and not left_out:
        model = registry.load_model(model_name, version.version)
        metrics = score_current_data(model, current, contract.target, contract.task)
        decay = detect_decay(
            metrics,
            version.metrics,
            task=contract.task,
            task_gate=None if config.gate is None else config.gate.for_task(contract.task),
            max_drop=config.monitoring.decay.max_drop,
        )
    result = MonitoringResult(
        model=model_name,
        version=version.version,
        run_id=run_id,
        target=contract.target,
        task=contract.task,
        has_target=has_target,
        drift=drift,
        decay=decay,
        reference_source=reference_source or "given",
        checked_at=iso(utc_now()),
        left_out_columns=left_out,
        decay_not_judged=decay_not_judged,
        retrain_blocked=retrain_blocked,
    )
    return MonitoringRun(result=result, reference=reference, current=current, kinds=kinds)


def retrain_wanted(verdict: Mapping[str, Any], enabled: bool) -> bool:
    """Retrain when a verdict (``MonitoringResult.to_dict()``) alerted and has labels, and retraining is on.

    Never when the rows lack features on purpose (``retrain_blocked``): a model cannot learn from them.
    """
    return bool(enabled and verdict.get("alert") and verdict.get("has_target") and not verdict.get("retrain_blocked"))


# --- retraining data -----------------------------------------------------------------------------


def build_retraining_table(version: ModelVersion, current: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The rows a retrain learns from: ``current``'s labelled rows, after production's training data (``accumulate``).

    With ``accumulate`` the old rows come from the version's lineage ``data_uri``; the row-hash
    split keeps the champion's training rows in training and its holdout rows held out.

    Raises:
        ShipyardError: the old data cannot be found or read (the message names the URI), no new
            row has a target, or ``current`` lacks features on purpose (a traffic window's attrs).
    """
    from shipyard.stages.ingest import ingest_table  # reads CSV/Parquet from a path or s3://
    from shipyard.stages.traffic import left_out_of

    contract = production_contract(version)
    features = {column.name for column in contract.columns if column.name != contract.target}
    left_out = [name for name in left_out_of(current) if name in features]  # as monitor_production counts them
    if left_out:
        raise DataValidationError(
            f"<table>: the new rows lack {', '.join(repr(name) for name in left_out)} (hashed or excluded by the "
            "model server): a model cannot learn from them"
        )
    labelled = current[current[contract.target].notna()] if contract.target in current.columns else current.iloc[:0]
    if labelled.empty:
        raise DataValidationError(f"column '{contract.target}': no new row has a target: nothing to retrain on")
    if mode == "current":
        return _whole_labels(labelled, contract, None).reset_index(drop=True)
    data_uri = version.lineage.get("data_uri")
    if not data_uri:
        raise RegistryError(
            f"model '{version.name}' v{version.version} has no data_uri in its lineage: set "
            "monitoring.retrain.data: current to retrain on the new rows alone"
        )
    previous = ingest_table(str(data_uri)).frame
    trained_on = previous[contract.target].dtype if contract.target in previous.columns else None
    labelled = _whole_labels(labelled, contract, trained_on)
    columns = list(previous.columns) + [c for c in labelled.columns if c not in previous.columns]
    return pd.concat([previous, labelled], ignore_index=True)[columns]


def _whole_labels(labelled: pd.DataFrame, contract: DataContract, trained_on: Any) -> pd.DataFrame:
    """A classifier's whole-number labels as integers again.

    Joined to traffic beside unlabelled rows' NaN, 0/1 labels became 0.0/1.0: a classifier retrained
    on those would answer in floats. Cast back when the task is classification, every label is a
    whole number an int64 holds, and the training data's target (``trained_on``; None: not known)
    was integers too.
    """
    target = labelled[contract.target]
    if contract.task != TaskKind.CLASSIFICATION.value or not pd.api.types.is_float_dtype(target.dtype):
        return labelled
    if trained_on is not None and not pd.api.types.is_integer_dtype(trained_on):
        return labelled
    if not bool(((target % 1 == 0) & (target.abs() < 2**53)).all()):
        return labelled
    return labelled.assign(**{contract.target: target.astype("int64")})


def save_retraining_table(registry: ModelRegistry, run_id: str, table: pd.DataFrame) -> str:
    """Writes ``table`` to ``runs/RUN_ID/retrain-data.parquet`` in the store; returns its URI (a path locally)."""
    from shipyard.stages.ingest import store_table

    return store_table(registry.store, f"runs/{run_id}/retrain-data.parquet", table)


# --- where monitoring keeps its documents ------------------------------------------------------


def monitoring_key(model_name: str, version: int, filename: str) -> str:
    return f"models/{model_name}/monitoring/v{version}/{filename}"


def save_report_files(
    registry: ModelRegistry, result: MonitoringResult, html_path: str | Path, json_path: str | Path
) -> str:
    """Copies the drift report beside the version; returns the HTML report's URI (a path for a local store).

    The two files are two writes; the run's verdict record, written after both, is what makes them
    part of the registry. If the second write fails, the first is deleted when the store still
    answers; when it does not, the lone file is left unreferenced by any record or verdict.
    """
    prefix = f"{result.run_id}/"
    html_key = monitoring_key(result.model, result.version, prefix + "drift-report.html")
    registry.store.write_file(html_key, Path(html_path))
    try:
        registry.store.write_file(
            monitoring_key(result.model, result.version, prefix + "drift-report.json"), Path(json_path)
        )
    except StoreError:
        with contextlib.suppress(StoreError):
            registry.store.delete(html_key)
        raise
    return registry.store.uri_for(html_key)


def record_monitoring(registry: ModelRegistry, result: MonitoringResult) -> None:
    """Stores the verdict as the run's ``monitoring`` record and as the version's latest verdict."""
    document = result.to_dict()
    registry.put_run_record(result.run_id, RECORD_SECTION, document)
    registry.store.write(monitoring_key(result.model, result.version, "latest.json"), dumps(document))


def latest_monitoring(registry: ModelRegistry, model_name: str, version: int) -> Document | None:
    """The latest verdict recorded for ``version`` of ``model_name``, or None when it was never monitored."""
    key = monitoring_key(model_name, version, "latest.json")
    try:
        return loads(registry.store.read(key), registry.store.uri_for(key))
    except NotFound:
        return None
