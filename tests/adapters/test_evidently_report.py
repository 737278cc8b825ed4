"""The drift stage against Evidently itself: identical verdicts, and a report that repeats them.

Each equality case runs Evidently's own ``DataDriftPreset`` on the full frames and the drift stage
on the same frames, and compares per-column method, verdict and score, and the dataset verdict.
The large cases are marked slow (Evidently needs seconds there).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from shipyard.adapters.evidently_report import bounded_sample, evidently_verdicts, write_drift_report
from shipyard.stages.drift import DriftResult, DriftSettings, detect_drift

# Slow tier: Evidently itself runs here (about 8 s to import per process).
pytestmark = pytest.mark.slow

TAG_COLUMN = "</script><script>alert('drift')</script>"


def _mixed(n: int, seed: int, shift: float = 0.0, nan_share: float = 0.0) -> tuple[pd.DataFrame, dict[str, str]]:
    """Numeric (continuous, skewed, low-cardinality, binary) and categorical (3 levels, binary) columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50 + 8 * shift, 10, n),
            "tenure": rng.exponential(2 + shift, n),
            "rooms": rng.integers(1, 5 + (shift > 0), n),  # 4-5 unique values: chi-square / JS
            "flag": (rng.random(n) < 0.3 + shift / 3).astype(float),  # binary numeric: Z-test / JS
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]),
            "member": rng.choice(["yes", "no"], n, p=[0.6 - shift / 3, 0.4 + shift / 3]),
        }
    )
    if nan_share:
        for name in ("income", "tenure", "plan", "member"):
            frame.loc[rng.random(n) < nan_share, name] = np.nan if name in ("income", "tenure") else None
    kinds = {"income": "numeric", "tenure": "numeric", "rooms": "numeric", "flag": "numeric"}
    kinds |= {"plan": "categorical", "member": "categorical"}
    return frame, kinds


def assert_same_verdicts(ours: DriftResult, theirs: DriftResult) -> None:
    assert [c.column for c in ours.columns] == [c.column for c in theirs.columns]
    for mine, evidently in zip(ours.columns, theirs.columns, strict=True):
        where = f"column {mine.column!r}"
        assert (mine.method_label, mine.method) == (evidently.method_label, evidently.method), where
        assert mine.threshold == evidently.threshold, where
        assert mine.drifted == evidently.drifted, where
        assert mine.score == pytest.approx(evidently.score, rel=1e-9, abs=1e-12), where
    assert ours.number_of_drifted_columns == theirs.number_of_drifted_columns
    assert ours.drift_share == pytest.approx(theirs.drift_share, abs=1e-15)
    assert ours.dataset_drift == theirs.dataset_drift


def _compare(reference, current, kinds, settings=None) -> DriftResult:
    ours = detect_drift(reference, current, kinds, settings)
    assert_same_verdicts(ours, evidently_verdicts(reference, current, kinds, settings))
    return ours


@pytest.mark.parametrize("shift", [0.0, 0.6])
def test_small_samples_match_evidently(shift):
    reference, kinds = _mixed(400, seed=1)
    current, _ = _mixed(300, seed=2, shift=shift, nan_share=0.1)
    result = _compare(reference, current, kinds)
    assert {c.method for c in result.columns} == {"ks", "chisquare", "z"}
    assert result.dataset_drift is (shift > 0)


@pytest.mark.parametrize("shift", [0.0, 0.6])
def test_large_samples_with_missing_values_match_evidently(shift):
    reference, kinds = _mixed(2500, seed=3, nan_share=0.05)
    current, _ = _mixed(2000, seed=4, shift=shift, nan_share=0.2)
    result = _compare(reference, current, kinds)
    assert {c.method for c in result.columns} == {"wasserstein", "jensenshannon"}
    assert result.dataset_drift is (shift > 0)


def test_reference_size_boundary_and_overrides_match_evidently():
    reference, kinds = _mixed(1000, seed=5)
    current, _ = _mixed(1001, seed=6, shift=0.2)
    _compare(reference, current, kinds)  # exactly 1000: the small-sample tests
    _compare(current, reference, kinds)  # 1001: the distances
    settings = DriftSettings(drift_share=0.3, methods={"numeric": "ks"}, thresholds={"categorical": 0.02})
    _compare(current, reference, {k: v for k, v in kinds.items() if k in ("income", "tenure", "plan")}, settings)


@pytest.mark.slow
@pytest.mark.parametrize("shift", [0.0, 0.15])
def test_twenty_thousand_rows_match_evidently(shift):
    reference, kinds = _mixed(20_000, seed=7, nan_share=0.02)
    current, _ = _mixed(15_000, seed=8, shift=shift, nan_share=0.02)
    _compare(reference, current, kinds)


def test_numeric_jensen_shannon_override_with_many_values_matches_evidently():
    reference, kinds = _mixed(3000, seed=9)
    current, _ = _mixed(3000, seed=10, shift=0.1)
    _compare(reference, current, kinds, DriftSettings(methods={"numeric": "jensenshannon"}))


def test_report_repeats_the_stage_verdicts_over_a_sample(tmp_path):
    reference, kinds = _mixed(3000, seed=11)
    current, _ = _mixed(3000, seed=12, shift=0.6)
    result = detect_drift(reference, current, kinds)
    files = write_drift_report(
        reference, current, result, kinds, tmp_path / "drift.html", tmp_path / "drift.json", sample_rows=500
    )
    assert files.sampled and (files.reference_sample_rows, files.current_sample_rows) == (500, 500)
    document = json.loads(files.json.read_text())
    assert document["shipyard_drift"] == json.loads(json.dumps(result.to_dict()))
    shown = {
        m["config"]["column"]: m["value"]
        for m in document["evidently"]["metrics"]
        if m["config"]["type"] == "evidently:metric_v2:ValueDrift"
    }
    assert shown == {c.column: c.score for c in result.columns}  # full-data scores, not the sample's
    statuses = {t["metric_config"]["metric_id"]: t["status"] for t in document["evidently"]["tests"]}
    drifted_shown = {
        m["config"]["column"]
        for m in document["evidently"]["metrics"]
        if statuses.get(m["id"]) == "FAIL" and m["config"]["type"] == "evidently:metric_v2:ValueDrift"
    }
    assert drifted_shown == set(result.drifted_columns)
    page = files.html.read_text()
    assert "computed by shipyard&#x27;s drift stage on all rows (3,000 reference, 3,000 current)" in page
    assert "seeded sample of 500 reference and 500 current rows" in page


def test_report_of_small_data_uses_all_rows_and_a_tag_named_column_stays_text(tmp_path):
    reference, kinds = _mixed(200, seed=13)
    current, _ = _mixed(200, seed=14, shift=0.6)
    reference = reference.rename(columns={"income": TAG_COLUMN})
    current = current.rename(columns={"income": TAG_COLUMN})
    kinds = {TAG_COLUMN if k == "income" else k: v for k, v in kinds.items()}
    result = detect_drift(reference, current, kinds)
    files = write_drift_report(reference, current, result, kinds, tmp_path / "r.html", tmp_path / "r.json")
    assert not files.sampled
    page = files.html.read_text()
    assert "Plots and distributions below use all rows." in page
    assert "alert(" in page  # the name is in the report ...
    assert "<script>alert(" not in page  # ... but never as markup
    scripts = _script_bodies(page)
    holding_name = [body for body in scripts if "alert('drift')" in body]
    assert len(holding_name) == 1  # the name stays inside Evidently's data block ...
    assert holding_name[0].lstrip().startswith("var metric_")
    assert "\\u003c/script>\\u003cscript>alert('drift')" in holding_name[0]
    assert not any(body.lstrip().startswith("alert") for body in scripts)  # ... and opens no script of its own


def test_report_table_lists_the_drifted_columns_first(tmp_path):
    """Evidently sorts by score, highest first: p-value tests would put the drifted columns last."""
    reference, kinds = _mixed(400, seed=15)
    current, _ = _mixed(300, seed=16, shift=0.1)
    result = detect_drift(reference, current, kinds)
    assert {c.method for c in result.columns} == {"ks", "chisquare", "z"}
    assert 0 < result.number_of_drifted_columns < len(kinds)
    files = write_drift_report(reference, current, result, kinds, tmp_path / "r.html", tmp_path / "r.json")
    rows = _drift_table_rows(files.html.read_text())
    drifted = [c.column for c in result.columns if c.drifted]
    assert [row["column_name"] for row in rows[: len(drifted)]] == sorted(
        drifted, key=lambda name: -result.column(name).score
    )  # Evidently's order (score, highest first) within the drifted rows
    assert [row["data_drift"] for row in rows] == ["Detected"] * len(drifted) + ["Not Detected"] * (
        len(kinds) - len(drifted)
    )


def _drift_table_rows(page: str) -> list[dict]:
    """The rows of Evidently's drift table, as its inline data block hands them to the page's script."""
    body = re.search(r"<script>\n\s*var metric_[0-9a-f]+ = (.*?)\n</script>", page, re.DOTALL).group(1)
    document, _ = json.JSONDecoder().raw_decode(body)

    def walk(widget):
        yield widget
        for child in widget.get("widgets") or []:
            yield from walk(child)

    tables = [w for top in document["widgets"] for w in walk(top) if w.get("type") == "big_table"]
    assert len(tables) == 1
    return tables[0]["params"]["data"]


def _script_bodies(page: str) -> list[str]:
    """The text of every <script> element, as a browser's HTML parser splits them."""
    bodies: list[str] = []

    class Scripts(HTMLParser):
        def handle_starttag(self, tag, attrs):
            self.in_script = tag == "script"

        def handle_endtag(self, tag):
            self.in_script = False

        def handle_data(self, data):
            if getattr(self, "in_script", False):
                bodies.append(data)

    Scripts().feed(page)
    return bodies


def test_bounded_sample_is_deterministic_and_keeps_every_column_usable():
    frame = pd.DataFrame({"x": np.arange(50_000.0), "rare": [np.nan] * 49_999 + [1.0]})
    kinds = {"x": "numeric", "rare": "numeric"}
    first = bounded_sample(frame, kinds, 1000, seed=0)
    assert first.equals(bounded_sample(frame, kinds, 1000, seed=0))
    assert not first.equals(bounded_sample(frame, kinds, 1000, seed=1))
    assert first["rare"].notna().sum() == 1
    assert len(first) in (1000, 1001)
    assert first.index.is_monotonic_increasing
