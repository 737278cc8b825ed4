"""The column-kind rule and the finite-number helpers (shipyard.stages.columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard.stages.columns import CATEGORICAL, NUMERIC, column_kinds, finite_mask, finite_or_none


def test_column_kinds_bool_and_text_are_categorical():
    frame = pd.DataFrame({"n": [1, 2], "f": [0.5, np.nan], "b": [True, False], "t": ["a", "b"]})
    assert column_kinds(frame) == {"n": NUMERIC, "f": NUMERIC, "b": CATEGORICAL, "t": CATEGORICAL}


def test_finite_helpers():
    assert finite_mask([1.0, np.nan, np.inf, -2]).tolist() == [True, False, False, True]
    assert [finite_or_none(v) for v in (1, "2.5", np.nan, np.inf, "x", None, True)] == [
        1.0,
        2.5,
        None,
        None,
        None,
        None,
        None,
    ]
