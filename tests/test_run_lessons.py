"""tools/run_lessons.py: a notebook's code cells run as one script, its log and summary, failures reported."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("run_lessons", ROOT / "tools" / "run_lessons.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _notebook(path: Path, *cells: str) -> Path:
    nb = {"cells": [{"cell_type": "markdown", "source": ["# a lesson\n"], "metadata": {}}]
          + [{"cell_type": "code", "source": [c], "metadata": {}, "outputs": [], "execution_count": None} for c in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_cells_run_in_order_in_one_process(tmp_path, capsys):
    tool = _tool()
    nb = _notebook(tmp_path / "98_demo.ipynb",
                   "import matplotlib.pyplot as plt\nx = 20\nplt.plot([1, 2])\nplt.show()",
                   "import mmcourse\nprint('x doubled', 2 * x, mmcourse.preset().name)\ndisplay('shown')",
                   "print('lesson ran in 1 s')")
    out = tmp_path / "out"
    assert tool.main([str(nb), "--out", str(out)]) == 0
    log = (out / "98_demo.log").read_text()
    assert "x doubled 40 cpu" in log and "shown" in log
    row = json.loads((out / "summary.json").read_text())[0]
    assert row["lesson"] == "98_demo" and row["exit_status"] == 0 and row["preset"] == "cpu"
    assert row["lesson_time_line"] == "lesson ran in 1 s" and row["seconds"] > 0
    assert "98_demo" in capsys.readouterr().out


def test_a_failed_assert_is_reported_with_its_log(tmp_path):
    tool = _tool()
    nb = _notebook(tmp_path / "97_target.ipynb", "accuracy = 0.4", "assert accuracy >= 0.5, accuracy")
    out = tmp_path / "out"
    assert tool.main([str(nb), "--out", str(out)]) == 1
    row = json.loads((out / "summary.json").read_text())[0]
    assert row["exit_status"] not in (0, None)
    assert "AssertionError: 0.4" in "\n".join(row["last_lines"])


def test_a_magic_is_refused_by_cell(tmp_path):
    tool = _tool()
    nb = _notebook(tmp_path / "96_magic.ipynb", "x = 1", "%timeit x + 1")
    with pytest.raises(ValueError, match=r"cell 2: an IPython magic"):
        tool.to_script(nb)


@pytest.mark.parametrize("argv, needle", [(["no_such.ipynb"], "existing .ipynb"), (["--timeout", "0"], "--timeout")])
def test_bad_arguments_name_what_was_expected(argv, needle, capsys):
    tool = _tool()
    with pytest.raises(SystemExit) as exit_info:
        tool.main(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err
