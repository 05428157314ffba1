"""Every lesson notebook is committed clean: named, executed in order, small, no widget state."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert NOTEBOOKS, "notebooks/ holds no lesson"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    assert re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", path.name), "name must be NN_lower_snake.ipynb"
    assert path.stat().st_size < 2_000_000, "over 2 MB: shrink figures"
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "widget state is saved in the notebook metadata"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert all(n is not None for n in counts), "some code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), "not executed top to bottom in one fresh kernel"
    for cell in code:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", "a cell was committed with an error"
            assert "application/vnd.jupyter.widget-state+json" not in output.get("data", {})
    first = "".join(code[0]["source"])
    assert "require_version" in first, "the first cell must check the mmcourse version"
    last = "".join(code[-1]["source"])
    assert "assert" in last, "the last cell must assert the lesson's targets"


def hidden_displays(source: str) -> list[str]:
    """Bare ``show_source(...)`` expressions that are not a cell's last statement: Jupyter
    shows only the last expression of a cell, so these would never be seen."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    return [ast.unparse(st) for st in body[:-1]
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and "show_source" in ast.unparse(st.value.func)]


def test_hidden_displays_finds_a_listing_before_the_last_line():
    assert hidden_displays("mmcourse.show_source(f)\nmmcourse.show_source(g)") == ["mmcourse.show_source(f)"]
    assert hidden_displays("display(mmcourse.show_source(f))\nmmcourse.show_source(g)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_source_listing_is_shown(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    hidden = [(i, h) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
              for h in hidden_displays("".join(c["source"]))]
    assert not hidden, f"wrap these in display(...), or they are never shown (cell, code): {hidden}"


def _prose_checker():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_prose_numbers", ROOT / "tools" / "check_prose_numbers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_number_in_the_prose_is_printed_by_the_run(path):
    unbacked = _prose_checker().check_notebook(path)
    assert not unbacked, "cited in the prose but not printed by the run:\n" + "\n".join(map(str, unbacked))


DRAFTING = ("first version", "while preparing", "we found it necessary", "in our first attempt", "an earlier version")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_prose_speaks_of_the_method_not_of_its_drafts(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    prose = " ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").lower()
    assert not [p for p in DRAFTING if p in prose], "the prose tells how the lesson was drafted"


def test_prose_checker_finds_an_unprinted_number_and_accepts_printed_ones(tmp_path):
    checker = _prose_checker()

    def notebook(markdown, printed, code="x = 1"):
        return {"cells": [
            {"cell_type": "code", "metadata": {}, "source": code, "execution_count": 1,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]},
            {"cell_type": "markdown", "metadata": {}, "source": markdown},
        ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps(notebook("Accuracy 0.86 (86 %), 13 points above; $p = 0.5$.", "acc 0.858, gap 13.0")))
    assert checker.check_notebook(path) == []
    path.write_text(json.dumps(notebook("The gap is 14.2 points and 93 % agree.", "gap 13.0")))
    assert [u.text for u in checker.check_notebook(path)] == ["14.2", "93 %"]
    path.write_text(json.dumps(notebook("A rate of 0.25 and 24.3 BLEU. <!-- from the literature: 24.3 -->",
                                        "nothing", code="lr = 0.25")))
    assert checker.check_notebook(path) == []
