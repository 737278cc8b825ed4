"""The drift stage's core: Evidently's method choice, statistics and dataset rule, without Evidently.

Equality with Evidently itself is tested in tests/adapters/test_evidently_report.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shipyard.errors import ConfigError, DataValidationError
from shipyard.stages.drift import DriftSettings, detect_drift, markdown_text


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5]),
            "flag": rng.integers(0, 2, n).astype(float),
            "rooms": rng.integers(1, 5, n),
            "member": rng.choice(["yes", "no"], n),
        }
    )


KINDS = {"age": "numeric", "plan": "categorical", "flag": "numeric", "rooms": "numeric", "member": "categorical"}


def test_identical_samples_do_not_drift():
    frame = _frame(3000, seed=1)
    result = detect_drift(frame, frame.copy(), KINDS)
    assert not result.dataset_drift
    assert result.number_of_drifted_columns == 0
    assert result.drifted_columns == ()
    for column in result.columns:
        assert column.score == pytest.approx(1.0 if column.method in {"ks", "chisquare", "z"} else 0.0, abs=1e-12)


def test_a_clearly_shifted_column_drifts_and_the_others_do_not():
    reference, current = _frame(3000, seed=1), _frame(3000, seed=2)
    current["age"] = current["age"] + 15
    result = detect_drift(reference, current, KINDS)
    assert result.drifted_columns == ("age",)
    assert result.drift_share == pytest.approx(1 / 5)
    assert not result.dataset_drift


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (1000, {"age": "ks", "plan": "chisquare", "flag": "z", "rooms": "chisquare", "member": "z"}),
        (1001, {"age": "wasserstein", **{name: "jensenshannon" for name in ("plan", "flag", "rooms", "member")}}),
    ],
)
def test_method_follows_evidentlys_rule_on_reference_size_and_unique_values(rows, expected):
    result = detect_drift(_frame(rows, seed=3), _frame(500, seed=4), KINDS)
    assert {column.column: column.method for column in result.columns} == expected
    labels = {column.method: column.method_label for column in result.columns}
    assert labels.get("wasserstein", "Wasserstein distance (normed)") == "Wasserstein distance (normed)"
    assert labels.get("ks", "K-S p_value") == "K-S p_value"


def test_unique_values_are_counted_over_both_sides_after_dropping_missing():
    # Three values in reference, three more only in current: 6 > 5 → K-S, not chi-square.
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan] * 50})
    current = pd.DataFrame({"x": [4.0, 5.0, 6.0, np.inf] * 50})
    column = detect_drift(reference, current, {"x": "numeric"}).column("x")
    assert column.unique_values == 6
    assert column.method == "ks"
    assert (column.reference_values, column.current_values) == (150, 150)


def test_reference_size_is_counted_on_finite_values():
    rng = np.random.default_rng(5)
    values = rng.normal(size=1500)
    values[:600] = np.nan  # 900 finite values: a "small" reference for Evidently
    result = detect_drift(pd.DataFrame({"x": values}), pd.DataFrame({"x": rng.normal(size=1500)}), {"x": "numeric"})
    assert result.column("x").method == "ks"


def test_wasserstein_matches_scipy_with_ties_and_is_normed_by_reference_std():
    rng = np.random.default_rng(6)
    reference = np.round(rng.normal(0, 2, 4000), 1)  # many ties
    current = np.round(rng.normal(0.3, 2, 2500), 1)
    column = detect_drift(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), {"x": "numeric"}).column("x")
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert column.method == "wasserstein"
    assert column.score == pytest.approx(expected, rel=1e-12)


def test_constant_reference_uses_evidentlys_minimum_norm():
    reference = pd.DataFrame({"x": np.r_[np.zeros(1995), np.arange(1, 6) * 1e-9]})
    current = pd.DataFrame({"x": np.full(2000, 0.5)})
    column = detect_drift(reference, current, {"x": "numeric"}).column("x")
    assert column.method == "wasserstein"
    assert column.score == pytest.approx(0.5 / 0.001, rel=1e-9)


def test_binary_column_with_one_identical_value_on_both_sides_has_p_value_one():
    frame = pd.DataFrame({"c": ["a"] * 100})
    column = detect_drift(frame, frame.copy(), {"c": "categorical"}).column("c")
    assert (column.method, column.score, column.drifted) == ("z", 1.0, False)


def test_a_category_new_in_current_makes_chi_square_drift():
    reference = pd.DataFrame({"c": ["a", "b", "c"] * 100})
    current = pd.DataFrame({"c": ["a", "b", "c", "d"] * 75})
    column = detect_drift(reference, current, {"c": "categorical"}).column("c")
    assert column.method == "chisquare"
    assert column.score == 0.0
    assert column.drifted


def test_dataset_drifts_when_the_share_reaches_drift_share():
    reference, current = _frame(3000, seed=1), _frame(3000, seed=2)
    current["age"] = current["age"] + 15
    current["rooms"] = current["rooms"] + 3
    kinds = {"age": "numeric", "rooms": "numeric", "plan": "categorical", "member": "categorical"}
    assert detect_drift(reference, current, kinds, DriftSettings(drift_share=0.5)).dataset_drift  # 2/4 >= 0.5
    assert not detect_drift(reference, current, kinds, DriftSettings(drift_share=0.51)).dataset_drift


def test_method_and_threshold_overrides_per_kind():
    reference, current = _frame(3000, seed=1), _frame(3000, seed=2)
    settings = DriftSettings(methods={"numeric": "ks"}, thresholds={"categorical": 0.001, "numeric": 0.2})
    result = detect_drift(reference, current, KINDS, settings)
    assert {column.method for column in result.columns if column.kind == "numeric"} == {"ks"}
    assert {column.threshold for column in result.columns if column.kind == "numeric"} == {0.2}
    assert {(column.method, column.threshold) for column in result.columns if column.kind == "categorical"} == {
        ("jensenshannon", 0.001)
    }


@pytest.mark.parametrize(
    "settings",
    [
        {"drift_share": 0.0},
        {"drift_share": 1.5},
        {"methods": {"numeric": "psi"}},
        {"methods": {"categorical": "wasserstein"}},
        {"methods": {"text": "ks"}},
        {"thresholds": {"numeric": -1}},
        {"thresholds": {"numeric": float("nan")}},
    ],
)
def test_bad_settings_name_the_key(settings):
    with pytest.raises(ConfigError, match="drift"):
        DriftSettings(**settings)


def test_bad_data_names_the_column():
    frame = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"], "empty": [np.nan, np.nan]})
    with pytest.raises(DataValidationError, match="'missing'.*missing from the current"):
        detect_drift(frame, frame.drop(columns=[]), {"missing": "numeric"})
    with pytest.raises(DataValidationError, match="'s': declared numeric"):
        detect_drift(frame, frame, {"s": "numeric"})
    with pytest.raises(DataValidationError, match="'empty': no finite value in the reference"):
        detect_drift(frame, frame, {"empty": "numeric"})
    with pytest.raises(DataValidationError, match="'empty': no value in the reference"):
        detect_drift(frame, frame, {"empty": "categorical"})


def test_kinds_default_to_the_column_rule():
    frame = _frame(200, seed=1)
    result = detect_drift(frame, frame)
    assert {column.column: column.kind for column in result.columns} == KINDS


def test_to_dict_is_strict_json():
    result = detect_drift(_frame(300, seed=1), _frame(300, seed=2), KINDS)
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["number_of_columns"] == 5
    assert [column["column"] for column in document["columns"]] == list(KINDS)


def test_markdown_shows_a_tag_like_or_pipe_column_name_as_text():
    tag, pipe = "<script>alert(1)</script>", "a|b"
    reference = pd.DataFrame({tag: np.arange(100.0), pipe: ["x", "y"] * 50})
    current = pd.DataFrame({tag: np.arange(100.0) + 80, pipe: ["x", "y"] * 50})
    markdown = detect_drift(reference, current, {tag: "numeric", pipe: "categorical"}).to_markdown()
    assert "<script>" not in markdown
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in markdown
    row = next(line for line in markdown.splitlines() if "a\\|b" in line)
    assert row.replace("\\|", "").count("|") == 7  # the escaped pipe does not add a cell
    assert markdown_text("a\nb") == "a b"
