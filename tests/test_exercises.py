import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmcourse import exercises

ROOT = Path(__file__).resolve().parent.parent

SOLVED = '''def frame(x, n):
    """Cut x into frames."""
    # BEGIN SOLUTION hint: use x.unfold(-1, n, hop)
    frames = x.unfold(-1, n, n)  # (F, n)
    return frames
    # END SOLUTION

with checks.exercise("1. framing"):
    checks.close(frame(x, 4), reference(x, 4))
'''


def _notebook(*cells):
    return {
        "cells": [
            {"cell_type": kind, "id": f"cell{i}", "metadata": {}, "source": src,
             **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "secret"}], "execution_count": 3}
                if kind == "code" else {})}
            for i, (kind, src) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}, "widgets": {"state": {}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_strip_code_replaces_solution_with_hinted_placeholder():
    out = exercises.strip_code(SOLVED)
    assert "unfold" not in out.split("raise")[0] and "frames =" not in out
    assert "    raise NotImplementedError('use x.unfold(-1, n, hop)')" in out
    assert 'with checks.exercise("1. framing"):' in out
    compile(out, "<cell>", "exec")  # still valid Python


def test_strip_code_without_hint_and_unbalanced_markers():
    assert "NotImplementedError('this is your exercise')" in exercises.strip_code(
        "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(exercises.MarkerError, match="never closed"):
        exercises.strip_code("# BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(exercises.MarkerError, match="without BEGIN"):
        exercises.strip_code("x = 1\n# END SOLUTION\n")


def test_learner_copy_clears_outputs_and_markdown_answers():
    nb = _notebook(("markdown", "Why? <!-- BEGIN SOLUTION -->Because.<!-- END SOLUTION -->"), ("code", SOLVED))
    copy = exercises.learner_copy(nb)
    assert copy["cells"][0]["source"] == "Why? *Your answer here.*"
    assert copy["cells"][1]["outputs"] == [] and copy["cells"][1]["execution_count"] is None
    assert "widgets" not in copy["metadata"]
    assert nb["cells"][1]["outputs"], "the input notebook must not change"


def test_writer_command_on_a_folder(tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    (src / "01_demo.ipynb").write_text(json.dumps(_notebook(("code", SOLVED))))
    out = tmp_path / "ex"
    result = subprocess.run([sys.executable, "-m", "mmcourse.exercises", "--src", str(src), "--out", str(out)],
                            capture_output=True, text=True, check=True)
    assert "1 learner notebooks" in result.stdout
    copy = json.loads((out / "01_demo.ipynb").read_text())
    import nbformat

    nbformat.validate(nbformat.from_dict(copy))
    assert "frames = x.unfold" not in json.dumps(copy)


def test_learner_copies_of_the_lessons_hold_no_solution(tmp_path):
    written = exercises.write_exercises(ROOT / "notebooks", tmp_path)
    assert len(written) == len(list((ROOT / "notebooks").glob("*.ipynb")))
    for path in written:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            assert "BEGIN SOLUTION" not in src and "END SOLUTION" not in src, path.name
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], path.name
                compile(src.replace("%matplotlib inline", ""), path.name, "exec") if "%" not in src and "!" not in src else None


def test_missing_source_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="src_dir"):
        exercises.write_exercises(tmp_path / "nope", tmp_path / "out")
