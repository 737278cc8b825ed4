"""The drift report as a person sees it: opened in headless Chromium, after Evidently's scripts drew it.

The HTML is only useful if it renders: Evidently draws the whole page with JavaScript from an
inline data block, so a string test of the file proves little. Here a real browser opens it and
the test reads what is on screen: the banner, the drift table with the drifted columns on its first
page, column names shaped like HTML shown as text, no script error, and no script of the data's.

Chromium is Debian's ``chromium`` package (``apt-get install -y chromium``; ``.ci/run`` installs it
when missing). Without it the test skips locally and fails in CI (``CI`` set), like the manifest
tests without kubectl: CI must never pass by skipping the browser.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.adapters.evidently_report import write_drift_report
from shipyard.stages.drift import detect_drift
from tests.adapters.headless_chromium import DevToolsError, Page, chromium_page, find_chromium

# Slow tier: a real headless Chromium renders the report.
pytestmark = pytest.mark.slow

IMG_COLUMN = "<img src=x onerror=alert(1)>"
SCRIPT_COLUMN = "</script><script>document.title='pwned'</script>"
TITLE = "shipyard drift report"  # what evidently_report puts in <title>
STABLE = [f"stable_{i}" for i in range(7)]  # enough columns for a second page of Evidently's table

#: JavaScript: the rows on the drift table's visible page, each as {header: cell text}.
TABLE_ROWS = """(() => {
  const headers = Array.from(document.querySelectorAll('table thead th')).map(th => th.innerText.trim());
  return Array.from(document.querySelectorAll('table tbody tr')).map(row => Object.fromEntries(
    Array.from(row.querySelectorAll('td')).map((td, i) => [headers[i].replace(/\\s+/g, ' '), td.innerText.trim()])));
})()"""
#: JavaScript: true once the drift table is drawn, each row with its two distribution histograms (canvases).
TABLE_DRAWN = (
    "(() => { const rows = Array.from(document.querySelectorAll('table tbody tr'));"
    " return rows.length > 0 && rows.every(r => r.querySelectorAll('canvas').length === 2); })()"
)


@pytest.fixture(scope="module")
def chromium() -> str:
    executable = find_chromium()
    if executable:
        return executable
    message = (
        "chromium is not installed, so the drift report was not checked in a browser "
        "(apt-get update && apt-get install -y chromium; .ci/run installs it)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must never pass by skipping the browser check
    pytest.skip(message)


def _tables(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    """Small tables (K-S and chi-square: p-values, low means drifted): income and plan shift, the rest stay put."""
    rng = np.random.default_rng(seed)
    shift = 1.0 if shifted else 0.0
    columns = {
        "income": rng.normal(50 + 15 * shift, 10, n),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6 - 0.4 * shift, 0.3, 0.1 + 0.4 * shift]),
        "tenure": rng.exponential(2.0, n),
        IMG_COLUMN: rng.choice(["a", "b", "c"], n),
        SCRIPT_COLUMN: rng.normal(0, 1, n),
    }
    columns |= {name: rng.normal(0, 1, n) for name in STABLE}
    return pd.DataFrame(columns)


KINDS = {"income": "numeric", "plan": "categorical", "tenure": "numeric", IMG_COLUMN: "categorical"}
KINDS |= {SCRIPT_COLUMN: "numeric"} | {name: "numeric" for name in STABLE}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    reference, current = _tables(400, seed=1, shifted=False), _tables(300, seed=2, shifted=True)
    result = detect_drift(reference, current, KINDS)
    assert set(result.drifted_columns) == {"income", "plan"}, "the fixture itself must drift as intended"
    assert {c.method for c in result.columns} == {"ks", "chisquare"}  # p-values: low score = drifted
    files = write_drift_report(
        reference, current, result, KINDS, folder / "drift.html", folder / "drift.json", sample_rows=250
    )
    assert files.sampled  # so the banner has to say that the plots come from a sample
    return files.html


def _open(page: Page, report: Path) -> None:
    page.open(report.resolve().as_uri())
    try:
        page.wait_until(TABLE_DRAWN, timeout=20)
    except DevToolsError as error:  # say what the page did instead of drawing
        pytest.fail(f"{error}\ntitle: {page.evaluate('document.title')!r}\npage log: {page.log}")


def test_report_renders_the_drifted_columns_without_script_errors(chromium, report, tmp_path):
    with chromium_page(chromium, tmp_path / "profile") as page:
        _open(page, report)
        text = page.evaluate("document.body.innerText")
        rows = page.evaluate(TABLE_ROWS)
        screenshot = page.screenshot(tmp_path / "drift-report.png")
        log = page.log

    assert log.errors == [], "the report logged script or browser errors"
    assert log.dialogs == []
    banner = text.split("\n")[0]
    assert banner.startswith("No dataset drift: 2 of 12 columns drifted"), banner
    assert "computed by shipyard's drift stage on all rows (400 reference, 300 current)" in banner
    assert banner.endswith("drawn from a seeded sample of 250 reference and 250 current rows."), banner
    assert "Drift is detected for 16.667% of columns (2 out of 12)." in text
    # Evidently's table shows ten rows a page; the drifted columns are on the first one, at the top.
    assert len(rows) == 10
    assert [(row["Column"], row["Data Drift"]) for row in rows[:2]] == [("income", "Detected"), ("plan", "Detected")]
    assert {row["Data Drift"] for row in rows[2:]} == {"Not Detected"}
    assert {row["Stat Test"] for row in rows} == {"K-S p_value", "chi-square p_value"}
    assert screenshot.stat().st_size > 10_000  # a page with a banner, counters and histograms, not a blank


def test_column_names_shaped_like_html_show_as_text_and_run_nothing(chromium, report, tmp_path):
    with chromium_page(chromium, tmp_path / "profile") as page:
        _open(page, report)
        shown = [row["Column"] for row in page.evaluate(TABLE_ROWS)]
        page.evaluate("document.querySelector('button[aria-label=\"Next Page\"]').click()")
        page.wait_until("document.querySelectorAll('table tbody tr').length === 2", timeout=10)
        shown += [row["Column"] for row in page.evaluate(TABLE_ROWS)]
        page.evaluate(
            "Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() === 'Tests').click()"
        )
        page.wait_until("document.body.innerText.includes('Value Drift for column')", timeout=10)
        tests_text = page.evaluate("document.body.innerText")
        title = page.evaluate("document.title")
        injected_elements = page.evaluate("document.querySelectorAll('img[onerror]').length")
        scripts_running_names = page.evaluate(
            "Array.from(document.scripts).filter(s => s.text.includes('pwned')"
            " && !s.text.trimStart().startsWith('var metric_')).length"
        )
        log = page.log

    assert sorted(shown) == sorted(KINDS), "every column, tag-like names as they are spelled, across both pages"
    for name in (IMG_COLUMN, SCRIPT_COLUMN):
        assert f"Value Drift for column {name}" in tests_text, f"{name!r} is not shown as text in the Tests tab"
    assert title == TITLE, "a column name ran script in the report"
    assert log.dialogs == [], "a column name opened a dialog"
    assert injected_elements == 0 and scripts_running_names == 0
    assert log.errors == []
