"""Find numbers that a lesson's prose cites but its own run never printed.

    .venv/bin/python tools/check_prose_numbers.py notebooks/06_visual_question_answering.ipynb
    .venv/bin/python tools/check_prose_numbers.py            # every lesson

A lesson's markdown may only cite a measured number that the same run prints. The rule:
in the markdown (with math ``$...$``, inline code, code blocks, HTML comments and links
removed), every decimal number (``0.52``, ``14.2``) and every percentage (``86 %``) must
match a number in some output of the notebook, rounded to the digits the prose gives
(a percentage may also match a fraction: ``86 %`` is backed by ``0.858``), or appear in
a code cell's source (a setting the learner can see). A number quoted from a paper is
declared in its cell with ``<!-- from the literature: 24.3 96% -->``. Whole numbers
without ``%`` are not checked: they are counts, years and sizes more often than measurements.

Prints one line per unbacked number and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_STRIP = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"<!--.*?-->", re.S),  # HTML comments
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),  # bare addresses
    re.compile(r"arXiv:\S+", re.I),  # paper identifiers
]
# numbers quoted from papers are declared in the cell: <!-- from the literature: 24.3 24.6 96% -->
_LITERATURE = re.compile(r"<!--\s*from the literature:(.*?)-->", re.S | re.I)
# a cited number: 0.52, 14.2, 86 %, 86%, 2.5 % (not part of a version like 1.2.3 or a word like v2.1)
_CITED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s?%)?(?![\w.]*\d)")
_PRINTED = re.compile(r"(?<![\w])[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Unbacked:
    """A number cited in a markdown cell that nothing in the run backs."""

    cell: int
    text: str
    context: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.text!r} in “…{self.context}…”"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def prose_of(markdown: str) -> str:
    """The markdown with math, code, comments and link targets blanked out."""
    for pattern in _STRIP:
        markdown = pattern.sub(lambda m: " " * len(m.group(0)), markdown)
    return markdown


def output_text(notebook: dict) -> str:
    """Every text the run printed: streams, plain-text and HTML results (tags removed)."""
    parts = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if "text" in output:
                parts.append(_source({"source": output["text"]}))
            data = output.get("data", {})
            if "text/plain" in data:
                parts.append(_source({"source": data["text/plain"]}))
            if "text/html" in data:
                parts.append(_TAGS.sub(" ", _source({"source": data["text/html"]})))
            if "text/markdown" in data:
                parts.append(_source({"source": data["text/markdown"]}))
    return "\n".join(parts)


def _numbers(text: str) -> list[float]:
    values = []
    for match in _PRINTED.finditer(text.replace(",", "")):
        try:
            values.append(float(match.group(0)))
        except ValueError:
            continue
    return values


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def backed(text: str, percent: bool, printed: list[float], code: str) -> bool:
    """Whether a cited number (its digits as written) is backed by a printed number or the code."""
    value, digits = float(text), _decimals(text)
    candidates = [(value, 0.5 * 10 ** -digits)]
    if percent:  # 86 % may be printed as 0.858
        candidates.append((value / 100, 0.5 * 10 ** -(digits + 2)))
    for target, tolerance in candidates:
        if any(abs(abs(p) - target) <= tolerance + 1e-12 for p in printed):
            return True
    return re.search(rf"(?<![\w.]){re.escape(text)}(?!\w|\.\d)", code) is not None


def check_notebook(path: Path) -> list[Unbacked]:
    """Every number cited in ``path``'s markdown that its outputs and code do not back."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    printed = _numbers(output_text(notebook))
    code = "\n".join(_source(c) for c in notebook.get("cells", []) if c.get("cell_type") == "code")
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        source = _source(cell)
        quoted = {n.replace(" ", "") for m in _LITERATURE.finditer(source) for n in m.group(1).split()}
        prose = prose_of(source)
        for match in _CITED.finditer(prose):
            number, percent = match.group(1), bool(match.group(2))
            if "." not in number and not percent:
                continue
            if number in quoted or f"{number}%" in quoted:
                continue
            if not backed(number, percent, printed, code):
                start, end = max(0, match.start() - 40), min(len(prose), match.end() + 40)
                context = " ".join(prose[start:end].split())
                found.append(Unbacked(index, match.group(0).strip(), context))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every lesson in notebooks/)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    bad = 0
    for path in paths:
        for item in check_notebook(path):
            print(f"{path.name}: {item}")
            bad += 1
    if bad:
        print(f"{bad} number(s) cited in the prose are not printed by the run")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
