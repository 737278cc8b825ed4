"""The schedules file: recurring runs declared in Git, validated before anything talks to Kubeflow.

A schedules file is YAML with one key, ``schedules``, a list of entries::

    schedules:
      - name: nightly-training          # the recurring run's display name in KFP; unique in the file
        pipeline: shipyard-training     # the uploaded pipeline's name (see `shipyard upload`)
        version: latest                 # or a pinned pipeline version name
        cron: "0 0 2 * * *"             # KFP's 6 fields, seconds first: 02:00:00 every day (or @daily, @every 6h)
        parameters: {data_uri: s3://bucket/churn.csv, target: churned}
        experiment: training            # optional; KFP's default experiment when left out
        max_concurrency: 1              # 1..10, as KFP allows
        catchup: false                  # run missed intervals after a pause?
        enabled: true

Every error names the file, the schedule and the field. The :func:`fingerprint` of an entry is
what :mod:`shipyard.schedules.plan` compares to decide whether a recurring run has to be replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from shipyard.errors import ConfigError
from shipyard.pipeline_ir import LATEST as LATEST  # re-exported: a schedule's "version: latest"

#: KFP's own limits for a recurring run's max_concurrency (the API server refuses others).
MAX_CONCURRENCY_RANGE = (1, 10)

# Lowercase letters, digits and dashes: the display name KFP shows, and safe in the generated
# Kubernetes ScheduledWorkflow name.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_MAX = 63

_CRON_FIELDS = ("second", "minute", "hour", "day of month", "month", "day of week")
#: The descriptors KFP's cron parser (robfig/cron v1 ``Parse``) accepts besides six fields.
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# ``@every <duration>``: a Go time.ParseDuration string, e.g. 1h30m, 90s, 1.5h.
_GO_DURATION = re.compile(
    r"^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$"
)


@dataclass(frozen=True)
class Schedule:
    """One declared recurring run, as read from a schedules file."""

    name: str
    pipeline: str
    cron: str
    version: str = LATEST  # "latest" or a pipeline version name
    parameters: dict[str, Any] = field(default_factory=dict)
    experiment: str | None = None
    max_concurrency: int = 1
    catchup: bool = False
    enabled: bool = True
    description: str = ""

    @property
    def follows_latest(self) -> bool:
        return self.version == LATEST

    def to_dict(self) -> dict[str, Any]:
        """The entry as it would be written in a schedules file (every field, defaults included)."""
        return {
            "name": self.name,
            "pipeline": self.pipeline,
            "version": self.version,
            "cron": self.cron,
            "parameters": dict(self.parameters),
            "experiment": self.experiment,
            "max_concurrency": self.max_concurrency,
            "catchup": self.catchup,
            "enabled": self.enabled,
            "description": self.description,
        }


def fingerprint(schedule: Schedule, pipeline_version_id: str) -> str:
    """A content hash of everything a recurring run is created from.

    ``pipeline_version_id`` is the version the entry resolved to at apply time, so a schedule on
    ``version: latest`` changes fingerprint when a newer version is uploaded and is moved to it.
    """
    content = {"schedule": schedule.to_dict(), "pipeline_version_id": pipeline_version_id}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_cron(expression: str) -> str | None:
    """Why ``expression`` is not a cron schedule KFP runs as meant, or None when it is.

    KFP reads six fields with seconds first (``0 0 2 * * *`` is 02:00:00 daily), or one of robfig/cron's
    descriptors (:data:`CRON_DESCRIPTORS`, ``@every <Go duration>`` such as ``@every 1h30m``). A classic
    five-field line would be read shifted by one field (``0 2 * * *`` runs at minute 2 of every
    hour), so it is refused with the six-field form as the fix. A valid expression that never fires
    (``0 0 2 31 2 *``, February 31st) is refused too: KFP would accept it and never start a run.
    """
    if expression.strip().startswith("@"):
        return _check_descriptor(" ".join(expression.split()))
    fields = expression.split()
    if len(fields) == 5:
        return (
            f"'{expression}' has 5 fields; KFP's cron has 6 with seconds first, e.g. '0 {expression}' "
            "for the same times at second 0"
        )
    if len(fields) != 6:
        return (
            f"'{expression}' has {len(fields)} field(s); KFP's cron has 6: "
            + " ".join(f"<{name}>" for name in _CRON_FIELDS)
            + " (e.g. '0 0 2 * * *' for 02:00:00 daily)"
        )
    for position in (3, 5):  # croniter knows Quartz's L, W and #; KFP's cron parser (robfig/cron) does not
        if re.search(r"[LW#]", fields[position].upper().replace("WED", "")):
            return (
                f"'{expression}': the {_CRON_FIELDS[position]} field '{fields[position]}' uses L, W or #, "
                "which KFP's cron does not support"
            )
    if _cron_accepts(expression):
        if not _cron_fires(expression):
            return f"'{expression}' never fires (no date matches its day-of-month and month fields)"
        return None
    for position, name in enumerate(_CRON_FIELDS):  # name the first field that is wrong on its own
        alone = ["*"] * len(_CRON_FIELDS)
        alone[position] = fields[position]
        if not _cron_accepts(" ".join(alone)):
            return f"'{expression}': the {name} field '{fields[position]}' is not valid"
    return f"'{expression}' is not a valid cron expression"


def _check_descriptor(expression: str) -> str | None:
    if expression in CRON_DESCRIPTORS:
        return None
    every, _, duration = expression.partition(" ")
    if every == "@every":
        if not _GO_DURATION.match(duration):
            return f"'{expression}': '@every' takes a duration such as 1h, 30m or 1h30m, got {duration!r}"
        if not re.search(r"[1-9]", duration):
            return f"'{expression}': '@every' needs a duration above zero"
        return None
    return f"'{expression}' is not a cron descriptor KFP knows: {', '.join(CRON_DESCRIPTORS)} or '@every <duration>'"


def _cron_fires(expression: str) -> bool:
    import datetime as dt

    from croniter import CroniterBadDateError, croniter

    try:  # croniter searches about 50 years ahead; February 31st is never found
        croniter(expression, dt.datetime(2000, 1, 1), second_at_beginning=True).get_next(dt.datetime)
    except CroniterBadDateError:
        return False
    return True


def _cron_accepts(expression: str) -> bool:
    from croniter import croniter

    try:
        croniter(expression, second_at_beginning=True)
    except (ValueError, KeyError):  # croniter's errors are ValueError subclasses
        return False
    return True


# --- parsing -----------------------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str
    pipeline: Annotated[str, Field(min_length=1)]
    cron: str
    version: Annotated[str, Field(min_length=1)] = LATEST
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    experiment: Annotated[str, Field(min_length=1)] | None = None
    max_concurrency: Annotated[int, Field(ge=MAX_CONCURRENCY_RANGE[0], le=MAX_CONCURRENCY_RANGE[1])] = 1
    catchup: bool = False
    enabled: bool = True
    description: str = ""


class _Document(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    schedules: list[Any]


_FIELD_RULES: dict[str, str] = {
    "name": "must be a string",
    "pipeline": "must be the name of an uploaded pipeline (a non-empty string)",
    "cron": "must be a string with KFP's 6 cron fields, e.g. '0 0 2 * * *', or a descriptor such as '@daily'",
    "version": f"must be '{LATEST}' or a pipeline version name",
    "parameters": "must be a mapping of pipeline parameter names to values",
    "experiment": "must be an experiment name (a non-empty string) or left out",
    "max_concurrency": f"must be a whole number from {MAX_CONCURRENCY_RANGE[0]} to {MAX_CONCURRENCY_RANGE[1]}",
    "catchup": "must be true or false",
    "enabled": "must be true or false",
    "description": "must be a string",
}


def load_schedules(path: Path) -> tuple[Schedule, ...]:
    """Reads and validates a schedules file.

    Raises:
        ConfigError: the file cannot be read or an entry is wrong; the message names the file,
            the schedule and the field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"schedules file '{path}' does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"schedules file '{path}' is not UTF-8 text (byte {exc.start})") from None
    return parse_schedules(text, source=str(path))


def parse_schedules(text: str, source: str = "schedules file") -> tuple[Schedule, ...]:
    """Validates the YAML text of a schedules file (see :func:`load_schedules`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping with the key 'schedules', got {type(data).__name__}")
    try:
        document = _Document.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        if error["type"] == "missing":
            raise ConfigError(f"{source} has no 'schedules' key (a list of schedule entries)") from None
        if loc and loc[0] != "schedules":
            raise ConfigError(f"{source}: unknown key '{loc[0]}' (the file has one key, 'schedules')") from None
        raise ConfigError(f"{source}: 'schedules' must be a list of schedule entries") from None
    schedules = tuple(_schedule(source, index, entry) for index, entry in enumerate(document.schedules))
    seen: set[str] = set()
    for schedule in schedules:
        if schedule.name in seen:
            raise ConfigError(f"{source}: schedule '{schedule.name}' is declared more than once; names must be unique")
        seen.add(schedule.name)
    return schedules


def _schedule(source: str, index: int, raw: Any) -> Schedule:
    label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
    where = f"{source}: schedule '{label}'" if label else f"{source}: schedules[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    try:
        entry = _Entry.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_entry_error(where, raw, exc)) from None
    if not _NAME.match(entry.name) or len(entry.name) > _NAME_MAX:
        raise ConfigError(
            f"{where}: field 'name' must be lowercase letters, digits and dashes (at most {_NAME_MAX} characters, "
            f"starting and ending with a letter or digit), got {entry.name!r}"
        )
    problem = check_cron(entry.cron)
    if problem is not None:
        raise ConfigError(f"{where}: field 'cron': {problem}")
    return Schedule(
        name=entry.name,
        pipeline=entry.pipeline,
        cron=" ".join(entry.cron.split()),
        version=entry.version,
        parameters=dict(entry.parameters),
        experiment=entry.experiment,
        max_concurrency=entry.max_concurrency,
        catchup=entry.catchup,
        enabled=entry.enabled,
        description=entry.description,
    )


def _entry_error(where: str, raw: dict[str, Any], exc: ValidationError) -> str:
    error = exc.errors()[0]
    field_name = str(error["loc"][0]) if error["loc"] else "?"
    if error["type"] == "missing":
        return f"{where}: missing the field '{field_name}'"
    if error["type"] == "extra_forbidden":
        known = ", ".join(_FIELD_RULES)
        return f"{where}: unknown field '{field_name}' (known: {known})"
    rule = _FIELD_RULES.get(field_name, error["msg"])
    return f"{where}: field '{field_name}' {rule}, got {raw.get(field_name)!r}"
