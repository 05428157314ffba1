"""Fixtures of the browser tests: one JupyterLab and one headless Chromium per session.

Every test here is marked ``browser``: `make test` deselects them (``-m "not browser"``)
and never starts a server or a browser; `make test-browser` runs them and fails loudly
when Chromium is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab_driver import ARTIFACTS, BrowserSession, LabServer, NotebookPool, find_chromium


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail(
            "the browser tests need Chromium and none was found (CHROMIUM, /usr/bin/chromium, chromium on PATH).\n"
            "Install it with `bash tools/setup_browser.sh` (Debian's chromium package), or run `make test-browser`.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def artifacts():
    """Failure screenshots and page texts of this run go to .test-artifacts/browser/ (emptied first)."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory, artifacts) -> LabServer:
    server = LabServer.start(tmp_path_factory.mktemp("jupyterlab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory) -> BrowserSession:
    session = BrowserSession(chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield session
    session.close()
    assert not session.off_host, (
        "the browser tried to reach hosts other than localhost (refused):\n" + "\n".join(sorted(set(session.off_host)))
    )


@pytest.fixture(scope="session")
def notebooks(browser, lab) -> NotebookPool:
    """``notebooks.get(path)``: the notebook open in JupyterLab with all cells run (once per session)."""
    pool = NotebookPool(browser, lab)
    yield pool
    pool.release()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder ``browser`` (before ``-m`` selects), even one that forgot to."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
