"""Exercises as nbgrader sees them: cell metadata stamped from the lesson's markers, and the learners' copies.

A lesson marks its exercises with two kinds of code cells (see the README, "Teaching with it"):

- the **solution cell** defines the learner's function; its body sits between
  ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines (nothing else on the marker lines);
- the **check cell** calls ``checks.run("N. title", module.check_xxx, my_function)``.

:func:`stamp` writes nbgrader's cell metadata from these markers (``tools/execute_notebooks.py``
calls it before running a lesson, so the committed lessons carry it):

- a solution cell -> ``solution: true, grade: false``, ``grade_id`` = ``{lesson}-{function name}``;
- a check cell -> ``grade: true, locked: true`` with ``points`` (1 unless the cell's metadata
  already gives some), ``grade_id`` = ``{lesson}-{slug of the exercise name}``;
- every other cell -> no nbgrader metadata.

``python -m mmcourse.exercises`` (``make exercises``) runs ``nbgrader generate_assignment`` on the
stamped lessons and writes the learners' copies to ``exercises/``: solution bodies replaced by
``raise NotImplementedError()``, outputs cleared, check cells locked. The rest of each lesson uses
the reference code in ``mmcourse``, so a learner's copy runs to the end with every exercise
unsolved: each check prints "not implemented yet". ``--course DIR`` keeps the nbgrader course
directory (source/, release/, gradebook.db, nbgrader_config.py) for ``nbgrader release_assignment``,
``collect`` and ``autograde``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log
from traitlets.config import Config

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
SOLUTION_WORDS = ("BEGIN SOLUTION", "END SOLUTION")  # nbgrader treats any line holding these as a marker
CHECK_CALL = re.compile(r"\bchecks\.run\(")
CHECK_NAME = re.compile(r"\bchecks\.run\(\s*(?P<quote>[\"'])(?P<name>.+?)(?P=quote)")
DEFINITION = re.compile(r"^(?:async\s+)?(?:def|class)\s+(?P<name>\w+)", re.M)
SCHEMA_VERSION = 3
DEFAULT_POINTS = 1
CONFIG_FILE = "nbgrader_config.py"
CONFIG_TEXT = '''"""nbgrader settings of an mmcourse class (run nbgrader from this folder)."""
from mmcourse import grading

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)
grading.configure(c, time_limit={time_limit})
'''


class MarkerError(ValueError):
    """A lesson's exercise markers do not follow the pattern (the message says which cell and why)."""


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def slug(text: str) -> str:
    """``"1. Negative-sampling loss"`` -> ``"1-negative-sampling-loss"`` (letters, digits, ``-``, ``_``)."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")


def validate_lesson_name(lesson: str) -> str:
    """A lesson name is a notebook's stem made of letters, digits, ``_`` and ``-``; returns it."""
    if not isinstance(lesson, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", lesson):
        raise ValueError(f"lesson must be a notebook stem of letters, digits, _ and - (e.g. '01_word2vec'), "
                         f"got {lesson!r}")
    return lesson


def _solution_lines(source: str, where: str) -> int:
    """Check the solution markers of a code cell; returns how many solution blocks it has."""
    blocks, inside = 0, False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if not any(word in line for word in SOLUTION_WORDS):
            continue
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution block")
            inside, blocks = True, blocks + 1
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        else:
            raise MarkerError(f"{where}, line {number}: a solution marker must be alone on its line "
                              f"({BEGIN!r} or {END!r}; nudges go in the markdown above), got {stripped!r}")
    if inside:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return blocks


def cell_role(cell: dict[str, Any], where: str = "cell") -> str:
    """``"solution"``, ``"check"`` or ``"other"``: what the markers make of a cell."""
    source = _source(cell)
    if cell.get("cell_type") != "code":
        if any(word in source for word in SOLUTION_WORDS):
            raise MarkerError(f"{where}: a {cell.get('cell_type')} cell mentions a solution marker; "
                              "nbgrader would treat it as a solution region")
        return "other"
    solutions = _solution_lines(source, where)
    checks_called = len(CHECK_CALL.findall(source))
    if solutions and checks_called:
        raise MarkerError(f"{where}: a cell holds both a solution and a checks.run call; "
                          "put the check in its own cell below the solution")
    if checks_called > 1:
        raise MarkerError(f"{where}: {checks_called} checks.run calls in one cell; "
                          "give each exercise its own check cell")
    if solutions:
        return "solution"
    return "check" if checks_called else "other"


def exercise_name(source: str, where: str = "cell") -> str:
    """The exercise name a check cell passes to ``checks.run`` (its first argument, a string literal)."""
    match = CHECK_NAME.search(source)
    if not match:
        raise MarkerError(f"{where}: checks.run must get the exercise name as a string literal first argument")
    return match.group("name")


def _unique(grade_id: str, taken: set[str]) -> str:
    candidate, number = grade_id, 2
    while candidate in taken:
        candidate, number = f"{grade_id}-{number}", number + 1
    taken.add(candidate)
    return candidate


def expected_metadata(notebook: dict[str, Any], lesson: str) -> list[dict[str, Any] | None]:
    """The nbgrader metadata each cell of ``notebook`` should carry (``None``: none), from its markers."""
    validate_lesson_name(lesson)
    taken: set[str] = set()
    wanted: list[dict[str, Any] | None] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        where = f"{lesson}, cell {index}"
        role = cell_role(cell, where)
        if role == "other":
            wanted.append(None)
            continue
        source = _source(cell)
        if role == "solution":
            definition = DEFINITION.search(source)
            grade_id = f"{lesson}-{definition.group('name') if definition else 'solution'}"
            meta = {"grade": False, "solution": True}
        else:
            grade_id = f"{lesson}-{slug(exercise_name(source, where)) or 'check'}"
            old = cell.get("metadata", {}).get("nbgrader", {}).get("points")
            points = old if isinstance(old, (int, float)) and not isinstance(old, bool) and old > 0 else DEFAULT_POINTS
            meta = {"grade": True, "solution": False, "points": points}
        meta.update({"grade_id": _unique(grade_id, taken), "locked": role == "check",
                     "schema_version": SCHEMA_VERSION, "task": False})
        wanted.append(dict(sorted(meta.items())))
    return wanted


def stamp(notebook: dict[str, Any], lesson: str) -> dict[str, Any]:
    """Write nbgrader's metadata into every cell of ``notebook`` from its markers (in place); returns it."""
    for cell, meta in zip(notebook.get("cells", []), expected_metadata(notebook, lesson)):
        metadata = cell.setdefault("metadata", {})
        if meta is None:
            metadata.pop("nbgrader", None)
        else:
            metadata["nbgrader"] = meta
    return notebook


def stamp_file(path: Path) -> bool:
    """Stamp the notebook at ``path`` in place; returns True when its metadata changed."""
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    before = json.dumps(notebook, sort_keys=True)
    stamp(notebook, path.stem)
    if json.dumps(notebook, sort_keys=True) == before:
        return False
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


@contextlib.contextmanager
def tools_on_path() -> Iterator[None]:
    """Put this Python's ``bin`` folder first on PATH while nbgrader runs.

    nbgrader runs the ``alembic`` command (installed next to it) by name when it creates a
    gradebook, which fails when the environment is used without being activated.
    """
    old = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


def prepare_course(lessons: Iterable[Path], course_dir: Path, time_limit: int = 600) -> dict[str, Path]:
    """Make ``course_dir`` an nbgrader course of ``lessons`` and generate each lesson's learners' copy.

    Each lesson (a notebook) becomes the assignment named by its stem, holding that one notebook:
    ``source/{lesson}/{lesson}.ipynb`` (stamped), and ``release/{lesson}/{lesson}.ipynb`` written by
    ``nbgrader generate_assignment``. ``nbgrader_config.py`` sets up grading (see
    :func:`mmcourse.grading.configure`) with ``time_limit`` seconds per notebook.
    Returns ``{lesson: path of the learners' copy}``.
    """
    course_dir = Path(course_dir).resolve()
    lessons = [Path(p) for p in lessons]
    if not lessons:
        raise ValueError("lessons must name at least one notebook")
    if not isinstance(time_limit, int) or time_limit <= 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    course_dir.mkdir(parents=True, exist_ok=True)
    (course_dir / CONFIG_FILE).write_text(CONFIG_TEXT.format(time_limit=time_limit), encoding="utf-8")
    config = Config()  # generating needs no settings; grading reads them from the config file
    released = {}
    for path in lessons:
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"lessons must be notebook files, got {path}")
        lesson = validate_lesson_name(path.stem)
        notebook = stamp(json.loads(path.read_text(encoding="utf-8")), lesson)
        source = course_dir / "source" / lesson / path.name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        coursedir = CourseDirectory(root=str(course_dir), assignment_id=lesson, config=config)
        generator = GenerateAssignment(coursedir=coursedir, config=config, force=True, create_assignment=True)
        with tools_on_path():
            outcome = capture_log(generator)
        if not outcome["success"]:
            details = outcome.get("error") or outcome.get("log")
            raise RuntimeError(f"nbgrader generate_assignment {lesson} failed:\n{details}")
        released[lesson] = course_dir / "release" / lesson / path.name
    return released


def _tidy(path: Path) -> None:
    """Drop what a learner's copy does not need: widget state (outputs are already cleared)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook.get("metadata", {}).pop("widgets", None)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_exercises(src_dir: Path, out_dir: Path, course_dir: Path | None = None) -> list[Path]:
    """Write the learners' copies of every lesson (``*.ipynb``) in ``src_dir`` into ``out_dir``.

    ``course_dir``: where to keep the nbgrader course folder (default: a temporary one).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise ValueError(f"src_dir {src_dir} is not a folder")
    lessons = sorted(src_dir.glob("*.ipynb"))
    if not lessons:
        raise ValueError(f"src_dir {src_dir} holds no notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmcourse-course-") as scratch:
        released = prepare_course(lessons, Path(course_dir) if course_dir else Path(scratch))
        written = []
        for lesson, release in released.items():
            target = out_dir / release.name
            shutil.copyfile(release, target)
            _tidy(target)
            written.append(target)
    return written


def learner_copy(notebook: dict[str, Any], lesson: str) -> dict[str, Any]:
    """The learners' version of one lesson notebook, made by nbgrader (a new dict; the input is unchanged)."""
    validate_lesson_name(lesson)
    with tempfile.TemporaryDirectory(prefix="mmcourse-copy-") as scratch:
        src = Path(scratch) / "src"
        src.mkdir()
        (src / f"{lesson}.ipynb").write_text(json.dumps(copy.deepcopy(notebook)), encoding="utf-8")
        [path] = write_exercises(src, Path(scratch) / "out")
        return json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write learners' copies of the lessons with nbgrader "
                                                 "(solutions removed, outputs cleared, checks locked).")
    parser.add_argument("--src", default="notebooks", help="folder of the lesson notebooks")
    parser.add_argument("--out", default="exercises", help="folder for the learners' copies")
    parser.add_argument("--course", default=None, help="keep the nbgrader course folder here (for release/collect)")
    args = parser.parse_args(argv)
    try:
        written = write_exercises(Path(args.src), Path(args.out), Path(args.course) if args.course else None)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} learner notebooks in {args.out}/ (solutions removed, outputs cleared, checks locked)")
    if args.course:
        print(f"nbgrader course folder: {args.course}/ (source/, release/, gradebook.db, {CONFIG_FILE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
