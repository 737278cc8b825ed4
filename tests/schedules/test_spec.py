"""The schedules file: what it accepts, and errors that name the schedule and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import ConfigError
from shipyard.schedules import (
    LATEST,
    Schedule,
    check_cron,
    fingerprint,
    load_schedules,
    parse_schedules,
)

MINIMAL = """
schedules:
  - name: nightly
    pipeline: shipyard-training
    cron: "0 0 2 * * *"
"""


def with_line(line: str) -> str:
    return MINIMAL + f"    {line}\n"


def test_minimal_entry_gets_the_documented_defaults() -> None:
    (schedule,) = parse_schedules(MINIMAL)
    assert schedule == Schedule(name="nightly", pipeline="shipyard-training", cron="0 0 2 * * *")
    assert schedule.version == LATEST and schedule.follows_latest
    assert (schedule.max_concurrency, schedule.catchup, schedule.enabled, schedule.experiment) == (1, False, True, None)


def test_every_field_is_read() -> None:
    text = """
schedules:
  - name: churn-hourly
    pipeline: shipyard-monitoring
    version: v-abc123
    cron: "0  15 * * * *"
    parameters: {data_uri: s3://b/k.parquet, allow_retrain: false, weights: [1, 2]}
    experiment: churn
    max_concurrency: 3
    catchup: true
    enabled: false
    description: hourly checks
"""
    (schedule,) = parse_schedules(text)
    assert schedule.version == "v-abc123" and not schedule.follows_latest
    assert schedule.cron == "0 15 * * * *"  # whitespace normalised, so spacing alone changes no fingerprint
    assert schedule.parameters == {"data_uri": "s3://b/k.parquet", "allow_retrain": False, "weights": [1, 2]}
    assert (schedule.experiment, schedule.max_concurrency, schedule.catchup, schedule.enabled) == (
        "churn",
        3,
        True,
        False,
    )
    assert schedule.description == "hourly checks"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "max_concurrency: 11",
            "schedule 'nightly': field 'max_concurrency' must be a whole number from 1 to 10, got 11",
        ),
        ("max_concurrency: 0", "field 'max_concurrency' must be a whole number from 1 to 10, got 0"),
        ("max_concurrency: '2'", "field 'max_concurrency' must be a whole number from 1 to 10, got '2'"),
        ("catchup: 'no'", "schedule 'nightly': field 'catchup' must be true or false, got 'no'"),
        ("enabled: 1", "field 'enabled' must be true or false, got 1"),
        ("parameters: [a, b]", "field 'parameters' must be a mapping of pipeline parameter names to values"),
        ("experiment: ''", "field 'experiment' must be an experiment name"),
        ("version: ''", "field 'version' must be 'latest' or a pipeline version name"),
        ("schedule: daily", "schedule 'nightly': unknown field 'schedule' (known: name, pipeline, cron"),
    ],
)
def test_a_wrong_field_is_named_with_the_schedule(line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_schedules(with_line(line), source="schedules/x.yaml")
    assert str(caught.value).startswith("schedules/x.yaml: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 2 * * *", "'0 2 * * *' has 5 fields; KFP's cron has 6 with seconds first, e.g. '0 0 2 * * *'"),
        ("0 0 2 * * * 2027", "has 7 field(s); KFP's cron has 6: <second> <minute> <hour>"),
        ("daily", "has 1 field(s)"),
        ("61 0 2 * * *", "the second field '61' is not valid"),
        ("0 0 25 * * *", "the hour field '25' is not valid"),
        ("0 0 0 1 13 *", "the month field '13' is not valid"),
        ("0 0 2 * * FOO", "the day of week field 'FOO' is not valid"),
        ("0 0 0 L * *", "the day of month field 'L' uses L, W or #, which KFP's cron does not support"),
        ("0 0 0 * * 5#2", "the day of week field '5#2' uses L, W or #"),
    ],
)
def test_cron_is_checked_as_kfp_reads_it(cron: str, expected: str) -> None:
    problem = check_cron(cron)
    assert problem is not None and expected in problem
    with pytest.raises(ConfigError, match="schedule 'nightly': field 'cron': "):
        parse_schedules(MINIMAL.replace("0 0 2 * * *", cron))


@pytest.mark.parametrize(
    "cron", ["0 0 2 * * *", "*/10 * * * * *", "0 0 0 ? * MON-FRI", "0 30 9 1,15 * WED", "0 0 */6 * * *"]
)
def test_six_field_cron_is_accepted(cron: str) -> None:
    assert check_cron(cron) is None


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"schedule 'nightly': missing the field 'cron'"):
        parse_schedules(MINIMAL.replace('    cron: "0 0 2 * * *"\n', ""))


def test_an_entry_without_a_usable_name_is_named_by_position() -> None:
    with pytest.raises(ConfigError, match=r"schedules\[1\]: missing the field 'name'"):
        parse_schedules(MINIMAL + "  - pipeline: p\n    cron: '0 0 2 * * *'\n")
    with pytest.raises(ConfigError, match=r"schedules\[0\] must be a mapping, got str"):
        parse_schedules("schedules: [nightly]")


@pytest.mark.parametrize("name", ["Nightly", "nightly_run", "-nightly", "n" * 64, ""])
def test_names_are_lowercase_dns_labels(name: str) -> None:
    with pytest.raises(ConfigError, match="field 'name' must be lowercase letters, digits and dashes"):
        parse_schedules(MINIMAL.replace("name: nightly", f"name: '{name}'"))


def test_names_are_unique_in_a_file() -> None:
    with pytest.raises(ConfigError, match="schedule 'nightly' is declared more than once"):
        parse_schedules(MINIMAL + MINIMAL.split("schedules:\n", 1)[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "must be a mapping with the key 'schedules', got list"),
        ("other: []", "has no 'schedules' key"),
        ("schedules: {a: 1}", "'schedules' must be a list of schedule entries"),
        ("schedules: []\nextra: 1", "unknown key 'extra'"),
        ("schedules: [", "is not valid YAML"),
    ],
)
def test_the_document_shape_is_checked(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_schedules(text)


def test_an_empty_list_declares_no_schedules() -> None:
    assert parse_schedules("schedules: []") == ()


def test_load_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schedules file '.*nope.yaml' does not exist"):
        load_schedules(tmp_path / "nope.yaml")
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_schedules(path)[0].name == "nightly"


def test_fingerprint_changes_with_every_declared_field_and_the_resolved_version() -> None:
    (base,) = parse_schedules(MINIMAL)
    reference = fingerprint(base, "version-1")
    assert reference == fingerprint(parse_schedules(MINIMAL)[0], "version-1")
    assert reference != fingerprint(base, "version-2")
    for line in [
        "max_concurrency: 2",
        "catchup: true",
        "enabled: false",
        "experiment: other",
        "version: pinned",
        "parameters: {a: 1}",
        "description: x",
    ]:
        assert fingerprint(parse_schedules(with_line(line))[0], "version-1") != reference, line
    assert fingerprint(parse_schedules(MINIMAL.replace("0 0 2", "0 0 3"))[0], "version-1") != reference


@pytest.mark.parametrize(
    "cron",
    ["@daily", "@hourly", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@every 1h", "@every 1h30m"],
)
def test_the_descriptors_kfp_accepts_are_accepted(cron: str) -> None:
    assert check_cron(cron) is None
    (schedule,) = parse_schedules(MINIMAL.replace("0 0 2 * * *", cron))
    assert schedule.cron == cron


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("@fortnightly", "is not a cron descriptor KFP knows"),
        ("@every", "'@every' takes a duration"),
        ("@every soon", "'@every' takes a duration"),
        ("@every 0s", "needs a duration above zero"),
        ("0 0 2 31 2 *", "'0 0 2 31 2 *' never fires"),
    ],
)
def test_unknown_descriptors_and_a_cron_that_never_fires_are_refused(cron: str, expected: str) -> None:
    problem = check_cron(cron)
    assert problem is not None and expected in problem
    assert check_cron("0 0 2 29 2 *") is None  # leap days do come
