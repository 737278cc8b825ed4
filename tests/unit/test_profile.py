"""Column profiles and the way findings quote values (shipyard.stages.profile)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard.stages.columns import CATEGORICAL, NUMERIC
from shipyard.stages.profile import format_number, numbers_with_text, percent, profile_column, quoted_examples


def test_a_numeric_profile_counts_missing_and_infinite_and_keeps_the_finite_range():
    profile = profile_column(pd.Series([1.0, np.nan, np.inf, -3.0, 7.0]), NUMERIC)
    assert (profile.rows, profile.missing, profile.infinite) == (5, 1, 1)
    assert (profile.min, profile.max) == (-3.0, 7.0)
    assert profile.present == 4 and profile.missing_fraction == 0.2


def test_a_numeric_column_with_one_text_cell_is_recognised():
    values = [str(v) for v in range(30)] + ["abc"]
    profile = profile_column(pd.Series(values, dtype=object), CATEGORICAL)
    assert numbers_with_text(profile) == (1, ["abc"])
    codes = profile_column(pd.Series(["A1", "B2", "3"] * 10, dtype=object), CATEGORICAL)
    assert numbers_with_text(codes) is None


def test_values_are_quoted_one_way():
    assert format_number(3) == "3.0" and format_number(0.000123456789) == "0.000123457"
    assert percent(0.256) == "25.6%"
    assert quoted_examples(["a", "b", "c", "d"]) == "'a', 'b', 'c', ..."
