"""The data contract's JSON form: round trips, plain types, and an error naming every bad field."""

from __future__ import annotations

import json

import pytest

from shipyard.errors import ConfigError
from shipyard.stages.contract import ColumnContract, DataContract
from shipyard.stages.validate import infer_contract
from tests.unit.tables import churn_frame


@pytest.fixture
def contract() -> DataContract:
    return infer_contract(churn_frame(), "churned", "classification")


def test_contract_round_trips_through_json(contract):
    text = contract.to_json()
    assert DataContract.from_json(text) == contract
    assert DataContract.from_dict(json.loads(text)) == contract


def test_contract_dict_holds_plain_json_types(contract):
    data = contract.to_dict()
    json.dumps(data, allow_nan=False)
    age = data["columns"][0]
    assert type(age["min"]) is float and type(age["missing_fraction"]) is float
    assert isinstance(data["columns"][2]["categories"], list)


def valid_contract_dict() -> dict:
    return infer_contract(churn_frame(), "churned", "classification").to_dict()


def broken(change) -> dict:
    data = valid_contract_dict()
    change(data)
    return data


@pytest.mark.parametrize(
    "data, fragment",
    [
        ([], "must be a JSON object"),
        (broken(lambda d: d.pop("columns")), "missing the key 'columns'"),
        (broken(lambda d: d.update(task="ranking")), "'task' must be one of"),
        (broken(lambda d: d.update(target="")), "'target' must be a column name"),
        (broken(lambda d: d.update(target="other")), "target 'other' is not one of its columns"),
        (broken(lambda d: d.update(row_count=-1)), "'row_count'"),
        (broken(lambda d: d.update(columns=[])), "non-empty list"),
        (broken(lambda d: d.update(schema_version=99)), "schema_version"),
        (broken(lambda d: d["columns"].append(d["columns"][0])), "more than once"),
        (broken(lambda d: d["columns"][0].update(kind="text")), "columns[0] ('age'): 'kind'"),
        (broken(lambda d: d["columns"][0].update(name=3)), "columns[0]: 'name'"),
        (broken(lambda d: d["columns"][0].update(nullable="no")), "'nullable'"),
        (broken(lambda d: d["columns"][0].update(missing_fraction=1.5)), "'missing_fraction'"),
        (broken(lambda d: d["columns"][0].update(min="low")), "'min' must be a finite number"),
        (broken(lambda d: d["columns"][0].update(min=100.0)), "min <= max"),
        (broken(lambda d: d["columns"][0].update(categories=["a"])), "numeric column has no 'categories'"),
        (broken(lambda d: d["columns"][2].update(categories="basic")), "'categories' must be a list of strings"),
        (broken(lambda d: d["columns"][2].update(min=1.0)), "categorical column has no 'min'"),
        (broken(lambda d: d["columns"].__setitem__(0, "age")), "columns[0] must be a JSON object"),
    ],
)
def test_malformed_contract_is_a_config_error(data, fragment):
    with pytest.raises(ConfigError) as caught:
        DataContract.from_dict(data)
    assert fragment in str(caught.value)


def test_contract_text_that_is_not_json_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid JSON"):
        DataContract.from_json("{not json")


@pytest.mark.parametrize(
    "data, message",
    [
        (
            broken(lambda d: d["columns"][0].pop("kind")),
            "data contract columns[0] ('age'): 'kind' must be 'numeric' or 'categorical', got None",
        ),
        (
            broken(lambda d: d["columns"][0].update(min=True)),
            "data contract columns[0] ('age'): 'min' must be a finite number or null, got True",
        ),
        (
            broken(lambda d: d["columns"][0].update(max=float("inf"))),
            "data contract columns[0] ('age'): 'max' must be a finite number or null, got inf",
        ),
        (
            broken(lambda d: d["columns"][2].update(categories=["basic", 3])),
            "data contract columns[2] ('plan'): 'categories' must be a list of strings or null",
        ),
        (broken(lambda d: d.update(row_count=True)), "data contract 'row_count' must be a whole number >= 0, got True"),
        (broken(lambda d: d.update(task=None)), "data contract 'task' must be one of"),
        (broken(lambda d: d.pop("target")), "data contract is missing the key 'target'"),
        (broken(lambda d: d.update(columns={"age": {}})), "data contract 'columns' must be a non-empty list"),
    ],
)
def test_each_error_names_the_field_and_the_value(data, message):
    with pytest.raises(ConfigError) as caught:
        DataContract.from_dict(data)
    assert str(caught.value).startswith(message)


def test_a_missing_key_is_reported_before_a_wrong_value():
    data = broken(lambda d: d.update(task="ranking"))
    del data["row_count"]
    with pytest.raises(ConfigError, match="missing the key 'row_count'"):
        DataContract.from_dict(data)


def test_keys_a_newer_writer_added_are_ignored_and_integers_are_numbers():
    data = valid_contract_dict()
    data["note"] = "written by hand"
    data["columns"][0].update(min=20, max=59, comment="ages")
    parsed = DataContract.from_dict(data)
    assert parsed.column("age") == ColumnContract("age", "numeric", False, 0.0, min=20.0, max=59.0)


def test_categories_are_sorted_and_unique_after_parsing():
    data = broken(lambda d: d["columns"][2].update(categories=["team", "basic", "team"]))
    assert DataContract.from_dict(data).column("plan").categories == ("basic", "team")
