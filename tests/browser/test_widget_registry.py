"""The widget registry (widgets.py) lists real notebooks and every lesson that has widgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab_driver import FIXTURES as FIXTURE_DIR
from lab_driver import ROOT
from widgets import BROKEN, BROKEN_FIXTURE, FIXTURES, LESSONS, Widget, slider

pytestmark = pytest.mark.browser

NOTEBOOKS = ROOT / "notebooks"
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


def _widget_modules() -> set[str]:
    """Dotted names of the course modules built on ipywidgets (e.g. ``mmcourse.widgets.audio``),
    and the package ``mmcourse.widgets`` that exports them all."""
    found = {"mmcourse.widgets"}
    for path in (ROOT / "mmcourse").rglob("*.py"):
        if re.search(r"^\s*(import ipywidgets|from ipywidgets\b)", path.read_text(encoding="utf-8"), re.M):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name != "mmcourse":  # a widget module, not the package every lesson imports
                found.add(name)
    return found


def _uses_widgets(path: Path, modules: set[str]) -> bool:
    """The notebook imports ipywidgets, or a course module that is built on it."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    if re.search(r"^\s*(import ipywidgets|from ipywidgets\b)", source, re.M):
        return True
    for module in modules:
        package, _, name = module.rpartition(".")
        if re.search(rf"\b{re.escape(module)}\b", source) or re.search(
            rf"^\s*from {re.escape(package)} import .*\b{re.escape(name)}\b", source, re.M
        ):
            return True
    return False


def test_every_registered_lesson_exists():
    for name, entries in LESSONS.items():
        assert LESSON_NAME.match(name), f"widgets.py: {name!r} is not a lesson file name like '07_stft_and_spectrograms.ipynb'"
        assert (NOTEBOOKS / name).is_file(), f"widgets.py registers notebooks/{name}, which does not exist"
        assert entries, f"widgets.py: {name} lists no widgets; list its controls or leave it out"


def test_every_lesson_with_widgets_is_registered():
    modules = _widget_modules()
    unregistered = [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb")) if _uses_widgets(p, modules) and p.name not in LESSONS]
    assert not unregistered, (
        f"these lessons show widgets (ipywidgets or {sorted(modules)}) but tests/browser/widgets.py "
        f"lists none of their controls: {unregistered}"
    )


def test_fixture_notebooks_exist():
    for name in [*FIXTURES, BROKEN_FIXTURE]:
        assert (FIXTURE_DIR / name).is_file(), name


@pytest.mark.parametrize("registry", [LESSONS, FIXTURES, {BROKEN_FIXTURE: [w for w, _ in BROKEN]}],
                         ids=["lessons", "fixtures", "broken"])
def test_no_widget_is_listed_twice(registry):
    for name, entries in registry.items():
        ids = [w.id for w in entries]
        assert all(isinstance(w, Widget) for w in entries), name
        assert len(ids) == len(set(ids)), f"widgets.py: {name} lists a widget twice: {ids}"


def test_widget_rejects_bad_entries():
    with pytest.raises(ValueError, match="kind"):
        Widget("gain", "knob")
    with pytest.raises(ValueError, match="description"):
        slider("  ")
    with pytest.raises(ValueError, match="scope"):
        slider("gain", scope="page")
    with pytest.raises(ValueError, match="nth"):
        slider("gain", nth=-1)
    with pytest.raises(ValueError, match="value"):
        Widget("gain", "slider", value="3")
    with pytest.raises(ValueError, match="timeout"):
        slider("gain", timeout=0)
