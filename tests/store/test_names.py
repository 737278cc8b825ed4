"""Model, alias, run-id and section names: what becomes part of store keys and k8s names."""

from __future__ import annotations

import re

import pytest

from shipyard.errors import RegistryError
from shipyard.store.names import to_k8s_name, validate_alias, validate_model_name, validate_run_id, validate_section

BAD_NAMES = [
    "",
    "..",
    "../etc",
    "a/b",
    "a.b",
    ".hidden",
    "-lead",
    "_lead",
    "UPPER",
    "white space",
    "a" * 64,
    "a\x00",
    "caf\u00e9",
    None,
    3,
]


@pytest.mark.parametrize("name", ["iris", "iris-v2", "fraud_detector", "0day", "a" * 63])
def test_good_model_and_alias_names(name):
    assert validate_model_name(name) == name
    assert validate_alias(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_and_alias_names_state_the_rule(name):
    with pytest.raises(RegistryError, match=r"invalid model name .*lowercase letters, digits"):
        validate_model_name(name)
    with pytest.raises(RegistryError, match=r"invalid alias name"):
        validate_alias(name)


@pytest.mark.parametrize("run_id", ["4f1c9a2e-8d7b-4c1a-9e0f-123456789abc", "training-x7k2p", "Run_1.retry"])
def test_good_run_ids_and_sections(run_id):
    assert validate_run_id(run_id) == run_id
    assert validate_section(run_id) == run_id


@pytest.mark.parametrize("run_id", ["", "..", "a/../b", "a/b", ".x", "a..b", "a b", "x" * 129])
def test_bad_run_ids_and_sections(run_id):
    with pytest.raises(RegistryError, match="invalid run id"):
        validate_run_id(run_id)
    with pytest.raises(RegistryError, match="invalid run record section"):
        validate_section(run_id)


DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


@pytest.mark.parametrize(
    "name,expected", [("iris", "iris"), ("fraud_detector", "fraud-detector"), ("0day", "m-0day"), ("a_", "a")]
)
def test_to_k8s_name_gives_dns_1035_labels(name, expected):
    assert to_k8s_name(name) == expected


def test_to_k8s_name_stays_within_63_characters_and_is_deterministic():
    long = "9" + "x" * 62
    label = to_k8s_name(long)
    assert len(label) <= 63 and DNS_1035.fullmatch(label)
    assert label == to_k8s_name(long) != to_k8s_name("9" + "y" * 62)
    with pytest.raises(RegistryError):
        to_k8s_name("../x")
