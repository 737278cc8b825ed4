"""The data contract: what training data looked like when a model was trained, and its JSON form.

A contract lists every column (target included) in data order with its kind, missing share,
numeric range or category set; :mod:`shipyard.stages.validate` infers contracts and checks new
data against them. Saved contracts are parsed with pydantic, and every error names the field.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from shipyard.errors import ConfigError
from shipyard.stages.columns import CATEGORICAL, NUMERIC
from shipyard.vocabulary import TASKS

CONTRACT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ColumnContract:
    """What one column looked like in the data a contract was inferred from."""

    name: str
    kind: str  # "numeric" | "categorical"
    nullable: bool  # had missing values in the data the contract was inferred from
    missing_fraction: float
    min: float | None = None  # numeric only; finite values only
    max: float | None = None
    categories: tuple[str, ...] | None = None  # categorical only, sorted; None: open set, not checked


@dataclass(frozen=True)
class DataContract:
    """The expected shape of training data: every column (target included) in data order."""

    target: str
    task: str  # "classification" | "regression"
    columns: tuple[ColumnContract, ...]
    row_count: int

    def column(self, name: str) -> ColumnContract | None:
        return next((column for column in self.columns if column.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable mapping (plain floats and lists)."""
        return {
            "schema_version": CONTRACT_SCHEMA_VERSION,
            "target": self.target,
            "task": self.task,
            "row_count": self.row_count,
            "columns": [
                {
                    "name": column.name,
                    "kind": column.kind,
                    "nullable": column.nullable,
                    "missing_fraction": column.missing_fraction,
                    "min": column.min,
                    "max": column.max,
                    "categories": None if column.categories is None else list(column.categories),
                }
                for column in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> DataContract:
        """Rebuilds a contract saved by :meth:`to_dict`.

        Raises:
            ConfigError: the mapping is not a data contract; the message names the bad field.
        """
        return _contract_from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> DataContract:
        """Raises ConfigError when ``text`` is not JSON or not a data contract."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"data contract is not valid JSON: {exc}") from None
        return _contract_from_dict(data)


# --- parsing -----------------------------------------------------------------------------------


def _one_of(allowed: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {list(allowed)}")
        return value

    return AfterValidator(check)


_Finite = Annotated[float, Field(allow_inf_nan=False)]


class _ColumnEntry(BaseModel):
    model_config = ConfigDict(strict=True)

    name: Annotated[str, Field(min_length=1)]
    kind: Annotated[str, _one_of((NUMERIC, CATEGORICAL))]
    nullable: bool
    missing_fraction: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    min: _Finite | None = None
    max: _Finite | None = None
    categories: list[str] | None = None


class _ContractDocument(BaseModel):
    model_config = ConfigDict(strict=True)

    target: Annotated[str, Field(min_length=1)]
    task: Annotated[str, _one_of(TASKS)]
    columns: Annotated[list[_ColumnEntry], Field(min_length=1)]
    row_count: Annotated[int, Field(ge=0)]


#: What each field must be, as the error message says it, and whether the message quotes the value.
_FIELD_RULES: dict[str, tuple[str, bool]] = {
    "target": ("must be a column name", True),
    "task": (f"must be one of {list(TASKS)}", True),
    "row_count": ("must be a whole number >= 0", True),
    "columns": ("must be a non-empty list of column entries", False),
    "name": ("must be a non-empty string", True),
    "kind": (f"must be '{NUMERIC}' or '{CATEGORICAL}'", True),
    "nullable": ("must be true or false", True),
    "missing_fraction": ("must be a number between 0 and 1", True),
    "min": ("must be a finite number or null", True),
    "max": ("must be a finite number or null", True),
    "categories": ("must be a list of strings or null", False),
}


def _contract_from_dict(data: Any) -> DataContract:
    if not isinstance(data, dict):
        raise ConfigError(f"data contract must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version", CONTRACT_SCHEMA_VERSION)
    if version != CONTRACT_SCHEMA_VERSION:
        raise ConfigError(
            f"data contract has schema_version {version!r}; this shipyard reads version {CONTRACT_SCHEMA_VERSION}"
        )
    try:
        document = _ContractDocument.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_error_message(data, exc)) from None
    columns = tuple(_column(index, entry) for index, entry in enumerate(document.columns))
    repeated = sorted(name for name, count in Counter(column.name for column in columns).items() if count > 1)
    if repeated:
        raise ConfigError(f"data contract lists column(s) {repeated} more than once")
    if document.target not in {column.name for column in columns}:
        raise ConfigError(f"data contract target '{document.target}' is not one of its columns")
    return DataContract(target=document.target, task=document.task, columns=columns, row_count=document.row_count)


def _column(index: int, entry: _ColumnEntry) -> ColumnContract:
    """The checks between an entry's fields, which pydantic's per-field messages would not explain."""
    where = f"data contract columns[{index}] ('{entry.name}')"
    common: dict[str, Any] = dict(
        name=entry.name, kind=entry.kind, nullable=entry.nullable, missing_fraction=entry.missing_fraction
    )
    if entry.kind == CATEGORICAL:
        if entry.min is not None or entry.max is not None:
            raise ConfigError(f"{where}: a categorical column has no 'min'/'max'")
        categories = None if entry.categories is None else tuple(sorted(set(entry.categories)))
        return ColumnContract(**common, categories=categories)
    if entry.categories is not None:
        raise ConfigError(f"{where}: a numeric column has no 'categories'")
    if (entry.min is None) != (entry.max is None) or (
        entry.min is not None and entry.max is not None and entry.min > entry.max
    ):
        raise ConfigError(f"{where}: 'min' and 'max' must both be numbers with min <= max, or both null")
    return ColumnContract(**common, min=entry.min, max=entry.max)


def _error_message(data: dict[str, Any], exc: ValidationError) -> str:
    """pydantic's first error as a ConfigError text naming the field (a missing top-level key first)."""
    errors = exc.errors()
    missing = [error for error in errors if error["type"] == "missing" and len(error["loc"]) == 1]
    if missing:
        return f"data contract is missing the key '{missing[0]['loc'][0]}'"
    loc = errors[0]["loc"]
    if loc[0] != "columns" or len(loc) == 1:
        field = str(loc[0])
        return _field_message("data contract", field, data.get(field))
    index = int(loc[1])
    entry = data["columns"][index]
    where = f"data contract columns[{index}]"
    if len(loc) == 2:
        return f"{where} must be a JSON object, got {type(entry).__name__}"
    field = str(loc[2])
    name = entry.get("name")
    if field != "name" and isinstance(name, str) and name:
        where = f"{where} ('{name}')"
    return _field_message(f"{where}:", field, entry.get(field))


def _field_message(where: str, field: str, value: Any) -> str:
    rule, quotes_value = _FIELD_RULES[field]
    return f"{where} '{field}' {rule}" + (f", got {value!r}" if quotes_value else "")
