"""A table that grows by one period: the growth-or-change tests build on it (unit and CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def shipments(years: range, rows_per_year: int = 60, seed: int = 0) -> pd.DataFrame:
    """A delivery table, one block of rows per year, target 'late' (learnable from mode and weight).

    Built year by year from one random stream, so ``shipments(range(2020, 2024))`` starts with
    exactly the rows of ``shipments(range(2020, 2023))``. From 2023 on there is an 'air' mode and
    parcels are 15% heavier: the next period brings a new category and values beyond the old range.
    """
    rng = np.random.default_rng(seed)
    blocks = []
    for year in years:
        if year >= 2023:
            mode = rng.choice(["road", "rail", "sea", "air"], rows_per_year, p=[0.2, 0.2, 0.2, 0.4])
        else:
            mode = rng.choice(["road", "rail", "sea"], rows_per_year)
        weight = rng.uniform(200, 5000, rows_per_year) * (1.15 if year >= 2023 else 1.0)  # grams
        late = (mode == "sea") | (weight > 3500)
        late ^= rng.random(rows_per_year) < 0.05  # a little label noise
        blocks.append(
            pd.DataFrame(
                {
                    "year": float(year),
                    "weight_g": weight.round(1),
                    "insured_value": np.where(
                        rng.random(rows_per_year) < 0.6, 0.0, rng.uniform(10, 500, rows_per_year).round(2)
                    ),
                    "temperature_c": rng.uniform(-5, 30, rows_per_year).round(1),
                    "mode": mode,
                    "late": np.where(late, "yes", "no"),
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)
