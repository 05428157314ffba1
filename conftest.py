"""pytest configuration shared by the unit tests and the notebook tests.

When notebooks run under nbval, this prints how long each lesson took, so `make test`
shows at a glance whether a lesson still fits its time budget on a laptop.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_start: dict[str, float] = {}

# lessons run with the laptop preset unless the caller chose another
os.environ.setdefault("MMCOURSE_PRESET", "cpu")


def pytest_runtest_logstart(nodeid, location):
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_start.setdefault(path, time.perf_counter())


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("time per notebook (cpu preset)")
    total = 0.0
    for path in sorted(_notebook_seconds):
        seconds = _notebook_seconds[path]
        total += seconds
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{total:7.1f} s  all notebooks")
