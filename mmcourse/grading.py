"""Grade a class: run ``nbgrader autograde`` on every learner's notebooks and write one CSV.

    python -m mmcourse.grading SUBMISSIONS [--lessons notebooks] [--out grades] [--time-limit 600]
    make grade SUBMISSIONS=<folder>

``SUBMISSIONS`` holds one sub-folder per learner (any layout below it, e.g. nbgrader's
``{learner}/{lesson}/{lesson}.ipynb`` or ``{learner}/{lesson}.ipynb``) or one notebook per
learner (``{learner}.ipynb``). A notebook's lesson is known from its file name or else from the
nbgrader ids of its cells. Every submission runs with ``MMCOURSE_GRADING=1``, so a failed or
unsolved exercise raises in its locked check cell and scores 0.

Each notebook gets ``time_limit`` seconds of execution (:class:`TimedExecute`): the cell running
when the time is up is interrupted and every later cell is marked "not run", so a notebook
that loops still gets the points of the exercises it passed before. nbgrader runs in its own
process per notebook, killed if it outlives a generous backstop, so no submission can stop the
grading of the class.

Writes ``{out}/grades.csv`` (one row per learner x exercise: points, max_points, status and the
check's message) and keeps nbgrader's course folder in ``{out}/nbgrader/`` (gradebook.db and the
graded notebooks, for ``nbgrader generate_feedback`` or the formgrader).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute
from traitlets import Integer

from mmcourse import checks, exercises

GRADING_ENV = checks.GRADING_ENV
CSV_NAME = "grades.csv"
COURSE_FOLDER = "nbgrader"
COLUMNS = ("learner", "lesson", "exercise", "points", "max_points", "status", "message")
STATUS_OF_MARK = {"✅": "passed", "⏳": "not implemented", "❌": "failed"}
TIME_LIMIT_ERROR = "TimeLimit"
KERNEL_DIED_ERROR = "KernelDied"


class TimedExecute(Execute):
    """nbgrader's executor with a time limit for the whole notebook, not per cell.

    Its kernel runs in grading mode (``MMCOURSE_GRADING=1``), so a failed or unsolved exercise
    raises in its check cell. The clock starts at the first code cell (kernel start-up is not counted). The cell running
    when the time is up is interrupted (an error output, so a check cell scores 0); every later
    code cell is not run and gets a "not run" error output, so it scores 0 too. A kernel that
    dies is handled the same way: the cells run before keep their outcome.
    """

    notebook_timeout = Integer(600, help="seconds of execution allowed for the whole notebook").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._deadline: float | None = None
        self._stopped = ""  # why the remaining cells are not run
        limit = f"the notebook's time limit of {self.notebook_timeout} s was reached"
        self.error_on_timeout = {"ename": TIME_LIMIT_ERROR, "evalue": f"stopped: {limit}",
                                 "traceback": [f"{TIME_LIMIT_ERROR}: stopped: {limit}"]}
        return super().preprocess(nb, resources, km)

    def start_new_kernel(self, **kwargs: Any) -> None:
        """Start the kernel in grading mode, however nbgrader was started (``make grade`` or by hand)."""
        kwargs["env"] = {**os.environ, **kwargs.get("env", {}), GRADING_ENV: "1"}
        super().start_new_kernel(**kwargs)

    @staticmethod
    def _error(cell: NotebookNode, ename: str, evalue: str) -> None:
        cell.outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                         traceback=[f"{ename}: {evalue}"]))

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.notebook_timeout
        remaining = self._deadline - now
        if not self._stopped and remaining <= 0:
            self._stopped = f"the notebook's time limit of {self.notebook_timeout} s was reached before this cell"
        if self._stopped:
            cell.outputs, cell.execution_count = [], None
            self._error(cell, TIME_LIMIT_ERROR, f"not run: {self._stopped}")
            return cell, self.resources
        self.timeout = max(1, math.ceil(remaining))  # 0 would mean "no limit" to nbclient
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = "the kernel died in an earlier cell"
            self._error(cell, KERNEL_DIED_ERROR, "the kernel died while running this cell "
                                                 "(os._exit, a crash, or out of memory)")
            return cell, self.resources


def configure(config: Any, time_limit: int = 600) -> Any:
    """Set an nbgrader configuration (a traitlets ``Config``, or ``c`` in nbgrader_config.py) for the course.

    Autograding runs :class:`TimedExecute` with ``time_limit`` seconds per notebook, and a check
    cell a learner deleted is put back (and graded) instead of failing the notebook.
    """
    if not isinstance(time_limit, int) or isinstance(time_limit, bool) or time_limit <= 0:
        raise ValueError(f"time_limit must be a positive whole number of seconds, got {time_limit!r}")
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [TimedExecute if p is Execute else p for p in default]
    config.TimedExecute.notebook_timeout = time_limit
    config.OverwriteCells.add_missing_cells = True
    return config


@dataclass
class Submission:
    """One learner's notebook of one lesson (``path`` None: the learner handed in none)."""

    learner: str
    lesson: str | None
    path: Path | None
    problem: str = ""


@dataclass
class Row:
    """One line of the grades CSV."""

    learner: str
    lesson: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def lesson_exercises(lesson_path: Path) -> list[tuple[str, str, float]]:
    """``(grade_id, exercise name, points)`` of each check cell of a lesson, in order."""
    notebook = json.loads(Path(lesson_path).read_text(encoding="utf-8"))
    lesson = Path(lesson_path).stem
    found = []
    for index, (cell, meta) in enumerate(zip(notebook["cells"], exercises.expected_metadata(notebook, lesson))):
        if meta and meta["grade"]:
            found.append((meta["grade_id"], exercises.exercise_name(_source(cell), f"{lesson}, cell {index}"),
                          meta["points"]))
    return found


def _grade_ids(path: Path) -> set[str]:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        return {c["metadata"]["nbgrader"]["grade_id"] for c in notebook.get("cells", [])
                if isinstance(c, dict) and "grade_id" in c.get("metadata", {}).get("nbgrader", {})}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return set()


def _which_lesson(path: Path, lessons: dict[str, set[str]]) -> str | None:
    if path.stem in lessons:
        return path.stem
    ids = _grade_ids(path)
    overlap = {lesson: len(ids & known) for lesson, known in lessons.items()}
    best = max(overlap, key=overlap.get, default=None)
    if best is not None and overlap[best] > 0:
        return best
    return next(iter(lessons)) if len(lessons) == 1 else None


def find_submissions(folder: Path, lessons: dict[str, set[str]]) -> list[Submission]:
    """The learners' notebooks in ``folder`` (see the module docstring), one per learner and lesson.

    ``lessons`` maps each lesson name to the grade ids of its cells. A learner without a notebook
    of a lesson another learner handed in gets a ``Submission`` with ``path=None``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submissions must be a folder of learners' notebooks, got {folder}")
    found: dict[str, dict[str, list[Path]]] = {}
    problems: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            learner = entry.name
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if not any(part.startswith(".") for part in p.relative_to(entry).parts))
        elif entry.suffix == ".ipynb":
            learner, notebooks = entry.stem, [entry]
        else:
            continue
        found.setdefault(learner, {})  # a learner with no notebook gets "not handed in" rows
        for path in notebooks:
            lesson = _which_lesson(path, lessons)
            if lesson is None:
                problems.append(Submission(learner, None, path, f"{path.name}: not a notebook of any lesson graded"))
            else:
                found[learner].setdefault(lesson, []).append(path)
    handed_in = sorted({lesson for by_lesson in found.values() for lesson in by_lesson})
    submissions = []
    for learner, by_lesson in found.items():
        for lesson in handed_in:
            paths = by_lesson.get(lesson, [])
            if not paths:
                submissions.append(Submission(learner, lesson, None, "no notebook handed in"))
                continue
            # several notebooks of one lesson: the one named like the lesson, else the newest
            named = [p for p in paths if p.stem == lesson]
            chosen = named[0] if named else max(paths, key=lambda p: p.stat().st_mtime)
            note = f"graded {chosen.name} of {len(paths)} notebooks of this lesson" if len(paths) > 1 else ""
            submissions.append(Submission(learner, lesson, chosen, note))
    return submissions + problems


def _cell_key(source: str) -> tuple[str, str] | None:
    """What identifies an exercise cell without metadata: the exercise it checks, or the function it defines."""
    check = exercises.CHECK_NAME.search(source)
    if check:
        return "check", check.group("name")
    definition = exercises.DEFINITION.search(source)
    return ("def", definition.group("name")) if definition else None


def restore_metadata(submission: dict[str, Any], lesson_notebook: dict[str, Any], lesson: str) -> int:
    """Give nbgrader metadata back to a submission's cells that lost it; returns how many cells got it.

    A notebook loses it when a learner pastes the work into a fresh notebook, or an editor drops
    it; nbgrader then cannot grade it. A code cell without metadata gets the metadata of the
    lesson's check cell for the same exercise name, or of the solution cell defining the same
    function, unless another cell of the submission already has that grade id.
    """
    wanted = {}
    for cell, meta in zip(lesson_notebook["cells"], exercises.expected_metadata(lesson_notebook, lesson)):
        key = _cell_key(_source(cell)) if meta else None
        if key:
            wanted.setdefault(key, meta)
    present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in submission.get("cells", [])}
    restored = 0
    for cell in submission.get("cells", []):
        if cell.get("cell_type") != "code" or "nbgrader" in cell.get("metadata", {}):
            continue
        meta = wanted.get(_cell_key(_source(cell)))
        if meta and meta["grade_id"] not in present:
            cell.setdefault("metadata", {})["nbgrader"] = dict(meta)
            present.add(meta["grade_id"])
            restored += 1
    return restored


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _learner_ids(learners: list[str]) -> dict[str, str]:
    """nbgrader student ids (letters, digits, ``_.-``), one per learner name."""
    ids: dict[str, str] = {}
    for learner in learners:
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", learner).strip(".") or "learner"
        candidate, number = base, 2
        while candidate in ids.values():
            candidate, number = f"{base}_{number}", number + 1
        ids[learner] = candidate
    return ids


def _stop(process: subprocess.Popen) -> None:
    """Kill nbgrader and whatever it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def run_autograde(course_dir: Path, lesson: str, student: str, backstop: float) -> tuple[bool, str]:
    """``nbgrader autograde {lesson} --student {student}`` in ``course_dir``, in grading mode.

    Returns (finished, log). The process is killed after ``backstop`` seconds.
    """
    env = dict(os.environ, **{GRADING_ENV: "1"})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent)] + ([env["PATH"]] if env.get("PATH") else []))
    command = [sys.executable, "-m", "nbgrader", "autograde", lesson, "--student", student, "--force"]
    process = subprocess.Popen(command, cwd=course_dir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = process.communicate(timeout=backstop)
    except subprocess.TimeoutExpired:
        _stop(process)
        return False, f"grading stopped after {backstop:g} s"
    return process.returncode == 0, log


def _cell_outcome(cell: dict[str, Any], name: str) -> tuple[str, str]:
    """(status, message) of a graded check cell, read from its outputs."""
    printed: tuple[str, str] | None = None
    error: tuple[str, str] | None = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
            for line in text.splitlines():
                mark, _, rest = line.partition(" ")
                if printed is None and mark in STATUS_OF_MARK:
                    message = rest[len(name) + 2:] if rest.startswith(f"{name}: ") else rest
                    printed = (STATUS_OF_MARK[mark], message.strip())
        elif output.get("output_type") == "error":
            if output.get("ename") in (TIME_LIMIT_ERROR, KERNEL_DIED_ERROR):
                evalue = output.get("evalue", "")
                if evalue.startswith("not run"):
                    return "not run", evalue
                return ("time limit" if output["ename"] == TIME_LIMIT_ERROR else "crashed"), evalue
            if output.get("ename") != "CheckFailed" and error is None:
                error = ("error", f"{output.get('ename')}: {output.get('evalue')}")
    if printed:
        return printed
    return error or ("passed", "")


def _graded_rows(course_dir: Path, learner: str, student: str, lesson: str,
                 expected: list[tuple[str, str, float]], failure: str) -> list[Row]:
    graded_path = course_dir / "autograded" / student / lesson / f"{lesson}.ipynb"
    cells = {}
    if not failure and graded_path.is_file():
        notebook = json.loads(graded_path.read_text(encoding="utf-8"))
        cells = {c["metadata"]["nbgrader"]["grade_id"]: c for c in notebook["cells"]
                 if "grade_id" in c.get("metadata", {}).get("nbgrader", {})}
    rows = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        for grade_id, name, points in expected:
            score, status, message = 0.0, "not graded", f"nbgrader could not grade this notebook: {failure}"
            if not failure:
                try:
                    grade = gradebook.find_grade(grade_id, lesson, lesson, student)
                    score = float(grade.score or 0.0)
                except MissingEntry:
                    message = "not graded (nbgrader has no grade for this cell)"
                if grade_id in cells:
                    status, message = _cell_outcome(cells[grade_id], name)
            rows.append(Row(learner, lesson, name, score, float(points), status, message))
    return rows


def _last_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    text = (errors or lines or ["nbgrader failed"])[-1]
    return re.sub(r"^\[[^\]]*\]\s*", "", text)[:300]


def grade(submissions: Path, lessons_dir: Path, out_dir: Path, time_limit: int = 600,
          lessons: list[str] | None = None) -> list[Row]:
    """Grade every learner's notebooks in ``submissions``; writes ``{out_dir}/grades.csv`` and returns its rows.

    ``lessons_dir``: the lesson notebooks (with solutions); ``lessons``: only these lessons
    (names without ``.ipynb``; default all in ``lessons_dir``).
    """
    lessons_dir, out_dir = Path(lessons_dir), Path(out_dir)
    if not lessons_dir.is_dir():
        raise ValueError(f"lessons_dir must be the folder of the lesson notebooks, got {lessons_dir}")
    paths = {p.stem: p for p in sorted(lessons_dir.glob("*.ipynb"))}
    if lessons:
        unknown = sorted(set(lessons) - set(paths))
        if unknown:
            raise ValueError(f"lessons {unknown} are not in {lessons_dir} (known: {sorted(paths)})")
        paths = {name: paths[name] for name in lessons}
    if not paths:
        raise ValueError(f"lessons_dir {lessons_dir} holds no lesson notebooks")
    lesson_notebooks = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in paths.items()}
    known = {name: {meta["grade_id"] for meta in exercises.expected_metadata(notebook, name) if meta}
             for name, notebook in lesson_notebooks.items()}
    found = find_submissions(Path(submissions), known)
    handed_in = sorted({s.lesson for s in found if s.lesson})
    course_dir = (out_dir / COURSE_FOLDER).resolve()
    if course_dir.exists():
        if not (course_dir / exercises.CONFIG_FILE).is_file():
            raise ValueError(f"out_dir: {course_dir} exists and is not a course folder this command wrote")
        shutil.rmtree(course_dir)
    if handed_in:
        exercises.prepare_course([paths[name] for name in handed_in], course_dir, time_limit)
    expected = {name: lesson_exercises(paths[name]) for name in handed_in}
    students = _learner_ids(sorted({s.learner for s in found}))
    backstop = 2 * time_limit + 120  # start-up, sanitising and saving on top of the execution limit
    rows: list[Row] = []
    for submission in found:
        learner, lesson = submission.learner, submission.lesson
        if lesson is None:
            rows.append(Row(learner, "", "", 0.0, 0.0, "not graded", submission.problem))
            continue
        if submission.path is None:
            rows += [Row(learner, lesson, name, 0.0, float(points), "not handed in", submission.problem)
                     for _, name, points in expected[lesson]]
            continue
        student = students[learner]
        target = course_dir / "submitted" / student / lesson / f"{lesson}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission.path, target)
        try:
            notebook = json.loads(target.read_text(encoding="utf-8"))
            if restore_metadata(notebook, lesson_notebooks[lesson], lesson):
                target.write_text(json.dumps(notebook), encoding="utf-8")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            pass  # not a readable notebook: nbgrader says so in the grades
        start = time.monotonic()
        finished, log = run_autograde(course_dir, lesson, student, backstop)
        failure = "" if finished else _last_error(log)
        graded = _graded_rows(course_dir, learner, student, lesson, expected[lesson], failure)
        if submission.problem:
            for row in graded:
                row.message = f"{row.message} ({submission.problem})" if row.message else submission.problem
        rows += graded
        total = sum(r.points for r in graded)
        print(f"{learner} / {lesson}: {total:g} of {sum(r.max_points for r in graded):g} points "
              f"({time.monotonic() - start:.1f} s){'' if finished else ' - ' + failure}", flush=True)
    write_csv(rows, out_dir / CSV_NAME)
    return rows


def write_csv(rows: list[Row], path: Path) -> Path:
    """Write the grade rows to ``path`` (columns: see ``COLUMNS``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a folder of learners' notebooks with nbgrader; write a CSV.")
    parser.add_argument("submissions", type=Path, help="one sub-folder or notebook per learner")
    parser.add_argument("--lessons", type=Path, default=Path("notebooks"), help="folder of the lesson notebooks")
    parser.add_argument("--lesson", action="append", default=None, help="grade only this lesson (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="folder for grades.csv and nbgrader's files")
    parser.add_argument("--time-limit", type=int, default=600, help="seconds of execution per notebook")
    args = parser.parse_args(argv)
    try:
        rows = grade(args.submissions, args.lessons, args.out, args.time_limit, args.lesson)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    learners = len({r.learner for r in rows})
    print(f"{len(rows)} rows for {learners} learners in {args.out / CSV_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
