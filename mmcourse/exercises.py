"""Write the learners' copies of the lessons.

``python -m mmcourse.exercises`` (or ``make exercises``) reads every notebook in
``notebooks/`` and writes a copy to ``exercises/`` where

- the code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` is replaced by a
  ``raise NotImplementedError(hint)`` at the same indentation (the hint is the text after
  ``# BEGIN SOLUTION``, if any);
- markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` becomes
  "*Your answer here.*";
- outputs and execution counts are cleared.

Because the rest of each lesson uses the reference code in ``mmcourse``, a learner's
copy runs to the end with the exercises unsolved: their checks print "not implemented yet".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?P<hint>.*)$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"


class MarkerError(ValueError):
    """The solution markers of a cell are unbalanced."""


def strip_code(source: str, where: str = "cell") -> str:
    """Replace each solution block of a code cell's source by a ``NotImplementedError``."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block")
            inside = True
            hint = begin.group("hint").strip(" :-—")
            if hint.lower().startswith("hint"):
                hint = hint[4:].strip(" :")
            message = hint or "this is your exercise"
            out.append(f"{begin.group('indent')}raise NotImplementedError({message!r})")
            continue
        if END.match(line):
            if not inside:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    text = "\n".join(out)
    return text + ("\n" if source.endswith("\n") else "")


def strip_markdown(source: str, where: str = "cell") -> str:
    """Replace each solution block of a markdown cell by a prompt for the learner's answer."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)
    text = pattern.sub("*Your answer here.*", source)
    if MD_BEGIN in text or MD_END in text:
        raise MarkerError(f"{where}: unbalanced {MD_BEGIN} / {MD_END}")
    return text


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def learner_copy(notebook: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return the learners' version of a notebook (a new dict; the input is not changed)."""
    nb = json.loads(json.dumps(notebook))
    for index, cell in enumerate(nb.get("cells", [])):
        where = f"{name}, cell {index}"
        source = _source(cell)
        if cell.get("cell_type") == "code":
            cell["source"] = strip_code(source, where)
            cell["outputs"] = []
            cell["execution_count"] = None
        elif cell.get("cell_type") == "markdown":
            cell["source"] = strip_markdown(source, where)
    metadata = nb.setdefault("metadata", {})
    metadata.pop("widgets", None)
    return nb


def write_exercises(src_dir: Path, out_dir: Path) -> list[Path]:
    """Write learners' copies of every ``*.ipynb`` in ``src_dir`` into ``out_dir``."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise ValueError(f"src_dir {src_dir} is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src_dir.glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        copy = learner_copy(notebook, path.name)
        target = out_dir / path.name
        target.write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write learners' copies of the lessons (solutions removed).")
    parser.add_argument("--src", default="notebooks", help="folder of the lesson notebooks")
    parser.add_argument("--out", default="exercises", help="folder for the learners' copies")
    args = parser.parse_args(argv)
    try:
        written = write_exercises(Path(args.src), Path(args.out))
    except (ValueError, MarkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} learner notebooks in {args.out}/ (solutions removed, outputs cleared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
