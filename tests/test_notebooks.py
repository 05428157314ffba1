"""Every lesson notebook is committed clean: named, executed in order, small, no widget state."""

from __future__ import annotations

import json
import re
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
