"""Grading a class with nbgrader: a fixture lesson, a few fixture learners, one CSV."""

import csv
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.notebooknode import NotebookNode
from traitlets.config import Config

from mmcourse import exercises, grading

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "grading"
LESSON = "fixture_lesson"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
RIGHT = {"my_double": "    return x + x", "my_total": "    return sum(xs)", "my_largest": "    return sorted(xs)[-1]"}
TIME_LIMIT = 10  # seconds of execution per notebook; the fixture lesson needs about one (importing torch)


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _submission(release, bodies, path, edit=None):
    """Write a learner's notebook: the learners' copy with some function bodies filled in."""
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        for function, body in bodies.items():
            if _src(cell).startswith(f"def {function}(") and STUB in _src(cell):
                cell["source"] = _src(cell).replace(STUB, body)
    if edit:
        edit(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")


def _tamper(nb):
    """Try to get around the checks: rewrite the first check cell, delete the last one."""
    check_cells = [cell for cell in nb["cells"] if "checks.run(" in _src(cell)]
    check_cells[0]["source"] = 'print("✅ 1. double: all checks passed")'
    nb["cells"].remove(check_cells[-1])


def _lose_metadata(nb):
    """As when a learner pastes the work into a fresh notebook."""
    for cell in nb["cells"]:
        cell["metadata"] = {}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a small class once; the tests below read the CSV."""
    root = tmp_path_factory.mktemp("class")
    [copy] = exercises.write_exercises(FIXTURES, root / "exercises")
    release = json.loads(copy.read_text(encoding="utf-8"))
    class_dir = root / "submissions"
    _submission(release, RIGHT, class_dir / "ada" / f"{LESSON}.ipynb", edit=_lose_metadata)  # all correct
    _submission(release, dict(RIGHT, my_total="    return sum(xs[1:])"),  # one wrong, nbgrader's layout
                class_dir / "bob" / LESSON / f"{LESSON}.ipynb")
    _submission(release, {}, class_dir / "cy.ipynb", edit=_tamper)  # all unsolved, one notebook per learner
    _submission(release, dict(RIGHT, my_total="    while True:\n        pass"),  # loops in exercise 2
                class_dir / "dee" / "my work.ipynb")
    _submission(release, dict(RIGHT, my_total="    import os\n    os._exit(1)"),  # kills its kernel in exercise 2
                class_dir / "eve" / f"{LESSON}.ipynb")
    (class_dir / "fay").mkdir()
    (class_dir / "fay" / f"{LESSON}.ipynb").write_text('{"cells": [', encoding="utf-8")  # not a notebook any more
    (class_dir / "gus").mkdir()  # handed in nothing
    out = root / "grades"
    code = grading.main([str(class_dir), "--lessons", str(FIXTURES), "--out", str(out),
                         "--time-limit", str(TIME_LIMIT)])
    assert code == 0
    with (out / grading.CSV_NAME).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {(row["learner"], row["exercise"]): row for row in rows}, out


def _row(graded, learner, exercise):
    row = graded[0][(learner, exercise)]
    return float(row["points"]), row["status"], row["message"]


EXERCISES = ("1. double", "2. total", "3. largest")


def test_the_csv_has_one_row_per_learner_and_exercise(graded):
    rows, out = graded
    assert sorted(rows) == sorted((learner, exercise) for learner in ("ada", "bob", "cy", "dee", "eve", "fay", "gus")
                                  for exercise in EXERCISES)
    assert all(row["lesson"] == LESSON and float(row["max_points"]) == 1 for row in rows.values())
    assert (out / "nbgrader" / "gradebook.db").is_file()
    assert (out / "nbgrader" / "autograded" / "ada" / LESSON / f"{LESSON}.ipynb").is_file()


def test_a_learner_with_everything_right_gets_every_point(graded):
    """ada's notebook lost its nbgrader metadata: it is given back from the lesson before grading."""
    assert [_row(graded, "ada", e) for e in EXERCISES] == [(1.0, "passed", "all checks passed")] * 3


def test_a_wrong_answer_scores_zero_with_the_checks_message(graded):
    assert _row(graded, "bob", "1. double")[:2] == (1.0, "passed")
    assert _row(graded, "bob", "2. total") == (0.0, "failed", "total([4]) returned 0, expected 4")
    assert _row(graded, "bob", "3. largest")[:2] == (1.0, "passed")


def test_unsolved_exercises_score_zero_even_when_the_checks_were_tampered_with(graded):
    """nbgrader puts the locked check cells back (edited or deleted) before running them."""
    assert [_row(graded, "cy", e) for e in EXERCISES] == [(0.0, "not implemented", "not implemented yet")] * 3


def test_a_looping_submission_is_cut_off_and_keeps_what_ran_before(graded):
    assert _row(graded, "dee", "1. double")[:2] == (1.0, "passed")
    assert _row(graded, "dee", "2. total") == (0.0, "time limit",
                                               f"stopped: the notebook's time limit of {TIME_LIMIT} s was reached")
    points, status, message = _row(graded, "dee", "3. largest")
    assert (points, status) == (0.0, "not run") and "before this cell" in message


def test_a_crashing_kernel_and_a_broken_notebook_do_not_stop_the_class(graded):
    assert _row(graded, "eve", "1. double")[:2] == (1.0, "passed")
    assert _row(graded, "eve", "2. total")[:2] == (0.0, "crashed")
    assert _row(graded, "eve", "3. largest") == (0.0, "not run", "not run: the kernel died in an earlier cell")
    for exercise in EXERCISES:
        points, status, message = _row(graded, "fay", exercise)
        assert (points, status) == (0.0, "not graded") and "NotJSONError" in message
        assert _row(graded, "gus", exercise) == (0.0, "not handed in", "no notebook handed in")


def test_find_submissions_reads_each_layout_and_tells_lessons_apart(tmp_path):
    lessons = {"01_a": {"01_a-1-x"}, "02_b": {"02_b-1-y"}}
    (tmp_path / "ann" / "01_a").mkdir(parents=True)
    (tmp_path / "ann" / "01_a" / "01_a.ipynb").write_text("{}")
    (tmp_path / "ann" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "ann" / ".ipynb_checkpoints" / "02_b-checkpoint.ipynb").write_text("{}")
    by_ids = {"cells": [{"metadata": {"nbgrader": {"grade_id": "02_b-1-y"}}}]}
    (tmp_path / "ben.ipynb").write_text(json.dumps(by_ids))
    (tmp_path / "notes.txt").write_text("not a submission")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "scratch.ipynb").write_text("{}")
    found = {(s.learner, s.lesson): s for s in grading.find_submissions(tmp_path, lessons)}
    assert found[("ann", "01_a")].path.name == "01_a.ipynb"
    assert found[("ann", "02_b")].path is None, "a checkpoint is not a submission"
    assert found[("ben", "02_b")].path.name == "ben.ipynb", "lesson known from the nbgrader ids of its cells"
    assert found[("ben", "01_a")].problem == "no notebook handed in"
    assert "not a notebook of any lesson" in found[("cat", None)].problem
    assert {learner for learner, _ in found} == {"ann", "ben", "cat"}
    with pytest.raises(ValueError, match="submissions must be a folder"):
        grading.find_submissions(tmp_path / "ben.ipynb", lessons)


def test_restore_metadata_matches_cells_by_function_and_exercise_name():
    lesson = json.loads((FIXTURES / f"{LESSON}.ipynb").read_text(encoding="utf-8"))
    submission = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": "def my_total(xs):\n    return sum(xs)\n"},
        {"cell_type": "code", "metadata": {}, "source": 'checks.run("2. total", check_total, my_total);'},
        {"cell_type": "code", "metadata": {}, "source": "def my_total(xs):\n    return 0\n"},  # a second one
        {"cell_type": "code", "metadata": {}, "source": "def helper():\n    pass\n"},
    ]}
    assert grading.restore_metadata(submission, lesson, LESSON) == 2
    ids = [cell["metadata"].get("nbgrader", {}).get("grade_id") for cell in submission["cells"]]
    assert ids == [f"{LESSON}-my_total", f"{LESSON}-2-total", None, None]


def test_learner_ids_are_safe_and_unique():
    ids = grading._learner_ids(["Ann Lee", "Ann/Lee", "bo"])
    assert ids == {"Ann Lee": "Ann_Lee", "Ann/Lee": "Ann_Lee_2", "bo": "bo"}


@pytest.mark.parametrize("outputs, outcome", [
    ([{"output_type": "stream", "name": "stdout", "text": "⚠️ UserWarning: slow\n❌ 2. total: off by one\n"},
      {"output_type": "error", "ename": "CheckFailed", "evalue": "2. total: off by one"}], ("failed", "off by one")),
    ([{"output_type": "stream", "name": "stdout", "text": "❌ 2. total: your code raised KeyError: 3\n  File ...\n"}],
     ("failed", "your code raised KeyError: 3")),
    ([{"output_type": "error", "ename": "NameError", "evalue": "name 'my_total' is not defined"}],
     ("error", "NameError: name 'my_total' is not defined")),
    ([{"output_type": "error", "ename": "TimeLimit", "evalue": "not run: limit"}], ("not run", "not run: limit")),
    ([], ("passed", "")),
])
def test_cell_outcome_reads_the_check_line_and_errors(outputs, outcome):
    assert grading._cell_outcome({"outputs": outputs}, "2. total") == outcome


def test_configure_swaps_in_the_timed_executor():
    config = grading.configure(Config(), time_limit=42)
    assert grading.TimedExecute in config.Autograde.autograde_preprocessors
    assert grading.Execute not in config.Autograde.autograde_preprocessors
    assert config.TimedExecute.notebook_timeout == 42 and config.OverwriteCells.add_missing_cells
    with pytest.raises(ValueError, match="time_limit must be a positive"):
        grading.configure(Config(), time_limit=0)


def test_timed_executor_runs_in_grading_mode_and_cuts_a_loop_off(monkeypatch):
    monkeypatch.delenv(grading.GRADING_ENV, raising=False)  # as when nbgrader is run by hand
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"import os\nprint(os.environ.get({grading.GRADING_ENV!r}))"),
        nbformat.v4.new_code_cell("while True:\n    pass"),
        nbformat.v4.new_code_cell("print('after')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    grading.TimedExecute(notebook_timeout=3).preprocess(nb, {"metadata": {"path": "."}})
    assert nb.cells[0].outputs[0].text == "1\n"
    assert {o.ename for o in nb.cells[1].outputs if o.output_type == "error"} >= {"TimeLimit"}
    assert [o.ename for o in nb.cells[2].outputs] == ["TimeLimit"]
    assert nb.cells[2].outputs[0].evalue.startswith("not run")


def test_timed_executor_does_not_run_cells_after_the_deadline():
    executor = grading.TimedExecute(notebook_timeout=5)
    executor._deadline, executor._stopped = 0.0, ""  # long past
    cell = NotebookNode(cell_type="code", source="print(1)", outputs=[], execution_count=None, metadata={})
    cell, _ = executor.preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].ename == "TimeLimit" and cell.outputs[0].evalue.startswith("not run")


def test_a_grading_process_that_outlives_its_backstop_is_killed(tmp_path):
    finished, log = grading.run_autograde(tmp_path, LESSON, "ann", backstop=0.2)
    assert not finished and log == "grading stopped after 0.2 s"


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="lessons_dir must be the folder"):
        grading.grade(tmp_path, tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ValueError, match=r"lessons \['nope'\] are not in"):
        grading.grade(tmp_path, FIXTURES, tmp_path / "out", lessons=["nope"])
    (tmp_path / "out" / "nbgrader").mkdir(parents=True)
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ann.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="not a course folder this command wrote"):
        grading.grade(tmp_path / "class", FIXTURES, tmp_path / "out")
