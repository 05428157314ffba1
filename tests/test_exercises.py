"""nbgrader metadata stamped from the exercise markers, and the learners' copies nbgrader writes."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mmcourse import checks, exercises

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "grading" / "fixture_lesson.ipynb"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

SOLUTION = '''def my_frames(x, n):
    """Cut x into frames of n samples."""
    # BEGIN SOLUTION
    frames = x.unfold(-1, n, n)  # (F, n)
    return frames
    # END SOLUTION
'''
CHECK = 'result = checks.run("1. Framing (no overlap)", audio.check_frames, my_frames)\nprint(result.value)\n'


def _notebook(*cells):
    return {
        "cells": [{"cell_type": kind, "id": f"cell{i}", "metadata": {}, "source": src,
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for i, (kind, src) in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_stamp_marks_solution_and_check_cells_from_the_markers():
    nb = _notebook(("markdown", "Cut a signal into frames."), ("code", SOLUTION), ("code", CHECK), ("code", "x = 1"))
    nb["cells"][3]["metadata"]["nbgrader"] = {"grade": True, "grade_id": "stale"}  # no marker any more
    exercises.stamp(nb, "07_stft")
    meta = [cell["metadata"].get("nbgrader") for cell in nb["cells"]]
    assert meta[0] is None and meta[3] is None
    assert meta[1] == {"grade": False, "grade_id": "07_stft-my_frames", "locked": False, "schema_version": 3,
                       "solution": True, "task": False}
    assert meta[2] == {"grade": True, "grade_id": "07_stft-1-framing-no-overlap", "locked": True, "points": 1,
                       "schema_version": 3, "solution": False, "task": False}
    before = json.dumps(nb, sort_keys=True)
    assert json.dumps(exercises.stamp(nb, "07_stft"), sort_keys=True) == before, "stamping twice changes nothing"


def test_stamp_keeps_points_an_author_set_and_makes_grade_ids_unique():
    nb = _notebook(("code", SOLUTION), ("code", CHECK), ("code", SOLUTION), ("code", CHECK))
    nb["cells"][1]["metadata"]["nbgrader"] = {"points": 3}
    exercises.stamp(nb, "lesson")
    ids = [cell["metadata"]["nbgrader"]["grade_id"] for cell in nb["cells"]]
    assert ids == ["lesson-my_frames", "lesson-1-framing-no-overlap",
                   "lesson-my_frames-2", "lesson-1-framing-no-overlap-2"]
    assert [cell["metadata"]["nbgrader"].get("points") for cell in nb["cells"]] == [None, 3, None, 1]
    nbformat.validate(nbformat.from_dict(nb))


@pytest.mark.parametrize("cells, words", [
    ([("code", "def f():\n    # BEGIN SOLUTION hint: return 1\n    return 1\n    # END SOLUTION\n")],
     "alone on its line"),
    ([("code", "def f():\n    # BEGIN SOLUTION\n    return 1\n")], "never closed"),
    ([("code", "x = 1\n# END SOLUTION\n")], "without # BEGIN SOLUTION"),
    ([("code", "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n")], "inside another"),
    ([("code", SOLUTION + CHECK)], "both a solution and a checks.run"),
    ([("code", CHECK + CHECK)], "2 checks.run calls"),
    ([("code", "checks.run(name, check, f)\n")], "string literal"),
    ([("markdown", "Write it between BEGIN SOLUTION and END SOLUTION.")], "markdown cell mentions"),
])
def test_markers_that_break_the_pattern_are_clear_errors(cells, words):
    with pytest.raises(exercises.MarkerError, match=words):
        exercises.stamp(_notebook(*cells), "lesson")


def test_lesson_name_is_validated():
    with pytest.raises(ValueError, match="lesson must be a notebook stem"):
        exercises.stamp(_notebook(("code", "x = 1")), "01 word2vec")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_committed_lessons_carry_the_metadata_their_markers_call_for(path):
    """tools/execute_notebooks.py stamps a lesson before running it; a lesson committed unstamped fails here."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    wanted = exercises.expected_metadata(nb, path.stem)
    have = [cell.get("metadata", {}).get("nbgrader") for cell in nb["cells"]]
    wrong = [index for index, (w, h) in enumerate(zip(wanted, have)) if w != h]
    assert not wrong, f"{path.name}: cells {wrong} lack the nbgrader metadata of their markers (run make notebooks)"
    assert sum(1 for w in wanted if w and w["grade"]) >= 3, f"{path.name}: fewer than 3 checked exercises"


@pytest.fixture(scope="module")
def learner_copy(tmp_path_factory):
    """The fixture lesson's learner copy, written by the command `make exercises` runs."""
    out = tmp_path_factory.mktemp("exercises")
    course = tmp_path_factory.mktemp("course")
    result = subprocess.run([sys.executable, "-m", "mmcourse.exercises", "--src", str(FIXTURE.parent),
                             "--out", str(out), "--course", str(course)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 learner notebooks" in result.stdout
    assert (course / "nbgrader_config.py").is_file() and (course / "gradebook.db").is_file()
    return nbformat.read(out / FIXTURE.name, as_version=4)


def test_learner_copy_has_no_solution_no_output_and_locked_checks(learner_copy):
    nbformat.validate(learner_copy)
    text = json.dumps(learner_copy)
    for solution_line in ("return 2 * x", "total += x", "return max(xs)", "BEGIN SOLUTION", "END SOLUTION"):
        assert solution_line not in text
    code = [cell for cell in learner_copy.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    solutions = [cell for cell in code if cell.metadata.get("nbgrader", {}).get("solution")]
    assert [cell.source for cell in solutions] == [
        f"def {name}:\n    # YOUR CODE HERE\n    raise NotImplementedError()"
        for name in ("my_double(x)", "my_total(xs)", "my_largest(xs)")]
    check_cells = [cell for cell in code if "checks.run(" in cell.source]
    assert len(check_cells) == 3
    assert all(cell.metadata["editable"] is False and cell.metadata["deletable"] is False for cell in check_cells)


def test_learner_copy_runs_to_the_end_with_every_exercise_unsolved(learner_copy, monkeypatch):
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)
    NotebookClient(learner_copy, timeout=120, kernel_name="python3").execute()  # raises on any error
    printed = ["".join(o.get("text", "")) for cell in learner_copy.cells if cell.cell_type == "code"
               for o in cell.outputs]
    statuses = [line for text in printed for line in text.splitlines() if line[:1] in "✅⏳❌"]
    assert statuses == ["⏳ 1. double: not implemented yet", "⏳ 2. total: not implemented yet",
                        "⏳ 3. largest: not implemented yet"]
    assert printed[-1] == "end of the lesson\n"


def test_learner_copy_of_a_notebook_leaves_the_input_alone():
    nb = _notebook(("code", SOLUTION), ("code", CHECK))
    before = json.dumps(nb, sort_keys=True)
    copy = exercises.learner_copy(nb, "07_stft")
    assert json.dumps(nb, sort_keys=True) == before
    assert "unfold" not in _src(copy["cells"][0]) and "raise NotImplementedError()" in _src(copy["cells"][0])


def test_missing_or_empty_source_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="src_dir .* is not a folder"):
        exercises.write_exercises(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ValueError, match="holds no notebooks"):
        exercises.write_exercises(tmp_path, tmp_path / "out")
