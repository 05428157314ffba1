"""Every lesson listed in widgets.py, in a real browser: its cells run, and each widget works.

Each lesson opens once: all its cells run (``<lesson>-cells run`` fails on an error), then
each registered control is moved and its output text must change. Widgets are checked even
when a later cell failed, so one failure does not hide the others. A lesson listed in
widgets.py that does not exist fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab_driver import ROOT
from widgets import LESSONS

pytestmark = pytest.mark.browser

CASES = []
for _name, _entries in LESSONS.items():
    CASES.append(pytest.param(_name, None, id=f"{Path(_name).stem}-cells run"))
    CASES += [pytest.param(_name, w, id=f"{Path(_name).stem}-{w.id}") for w in _entries]

if CASES:  # no lesson registered yet: nothing to collect (rather than a skipped test)

    @pytest.mark.parametrize("name, widget", CASES)
    def test_lesson_in_the_browser(notebooks, name, widget):
        assert (ROOT / "notebooks" / name).is_file(), f"tests/browser/widgets.py registers notebooks/{name}, which does not exist"
        notebook = notebooks.get(name, allow_errors=True)
        if widget is None:
            assert notebooks.run_error is None, notebooks.run_error
        else:
            change = notebook.check(widget)
            assert change.after != change.before
