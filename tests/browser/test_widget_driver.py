"""The browser driver itself, on the tests' own notebooks: it passes working widgets and fails broken ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab_driver import FIXTURE_FOLDER, NotebookFailed, WidgetCheckFailed
from widgets import BROKEN, BROKEN_FIXTURE, FIXTURES

pytestmark = pytest.mark.browser

DEMO_CASES = [
    pytest.param(name, widget, id=f"{Path(name).stem}-{widget.id}")
    for name, entries in FIXTURES.items()
    for widget in entries
]


@pytest.mark.parametrize("name, widget", DEMO_CASES)
def test_driver_moves_a_working_widget(notebooks, name, widget):
    notebook = notebooks.get(f"{FIXTURE_FOLDER}/{name}")
    change = notebook.check(widget)
    assert change.after != change.before


@pytest.fixture(scope="module")
def broken_artifacts(tmp_path_factory) -> Path:
    """Screenshots of the failures this module provokes on purpose stay out of .test-artifacts/."""
    return tmp_path_factory.mktemp("expected-failures")


def test_driver_reports_a_cell_that_raises(notebooks, broken_artifacts):
    notebooks.get(f"{FIXTURE_FOLDER}/{BROKEN_FIXTURE}", allow_errors=True, artifacts=broken_artifacts)
    assert [(e["ename"], e["evalue"]) for e in notebooks.errors] == [("ZeroDivisionError", "division by zero")]


@pytest.mark.parametrize("widget, reason", BROKEN, ids=[w.id for w, _ in BROKEN])
def test_driver_fails_on_a_broken_widget(notebooks, broken_artifacts, widget, reason):
    notebook = notebooks.get(f"{FIXTURE_FOLDER}/{BROKEN_FIXTURE}", allow_errors=True, artifacts=broken_artifacts)
    with pytest.raises(WidgetCheckFailed) as failure:
        notebook.check(widget)
    message = str(failure.value)
    assert reason in message.lower(), message
    assert widget.id in message, message
    assert "stopped at an error: _fixtures/widget_broken.ipynb: cell 6 raised ZeroDivisionError" in message, message
    listed = re.search(r"\(screenshot and page text: ([^)]*)\)", message)
    assert listed, message
    saved = [broken_artifacts / Path(p).name for p in listed.group(1).split(", ")]
    assert [p.suffix for p in saved] == [".png", ".txt"] and all(p.stat().st_size > 0 for p in saved), message


def test_run_all_fails_on_a_cell_error_unless_allowed(notebooks, broken_artifacts):
    notebook = notebooks.get(f"{FIXTURE_FOLDER}/{BROKEN_FIXTURE}", allow_errors=True, artifacts=broken_artifacts)
    with pytest.raises(NotebookFailed, match=r"cell \d+ raised ZeroDivisionError: division by zero"):
        notebook.run_all(timeout=120)  # run again, this time without allowing errors
    assert (broken_artifacts / "widget_broken--run-all.png").exists()


def test_browser_refuses_every_host_but_localhost(browser):
    from playwright.sync_api import Error as PlaywrightError

    probes = ["http://10.20.30.40/probe", "https://example.org/probe"]
    page = browser.new_page()
    try:
        page.goto("about:blank")  # no content-security policy that would block the fetches first
        outcome = page.evaluate(
            "async (urls) => Promise.all(urls.map(u => fetch(u).then(() => 'answered', () => 'refused')))", probes
        )
        with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
            page.goto("https://example.org/probe-page")
    finally:
        page.close()
    assert outcome == ["refused", "refused"]
    assert {*probes, "https://example.org/probe-page"} <= set(browser.off_host), browser.off_host
    browser.off_host[:] = [u for u in browser.off_host if "/probe" not in u]  # provoked here on purpose
