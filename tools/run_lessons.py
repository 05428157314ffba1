"""Run lessons without Jupyter: each notebook's code cells, in order, as one Python script.

    .venv/bin/python tools/run_lessons.py                                   # every lesson
    .venv/bin/python tools/run_lessons.py notebooks/05_text_to_image_gan.ipynb --out results
    MMCOURSE_PRESET=gpu python tools/run_lessons.py --out results           # on a CUDA machine

For a machine that has torch but no Jupyter (a GPU server, a batch job), and for timing a
lesson without a kernel in between. Each lesson's code cells are joined, in order, into
``OUT/<lesson>.py`` and run in a fresh Python process from ``notebooks/`` (where the
notebooks run), with figures going to matplotlib's Agg backend and closed after each cell.
What a cell would show becomes text: ``display(x)`` prints ``x``'s repr when IPython is not
installed, and a cell's last bare expression (a widget, a table) is not shown at all.
Everything the lesson prints goes to ``OUT/<lesson>.log``.

The lesson's own asserts run as in the notebook, so a lesson that misses one of its targets
exits non-zero and its log ends with the failed assert. ``OUT/summary.json`` holds, per
lesson: the preset, the device, the wall seconds, the exit status and the line the lesson
prints last about its time (``lesson ran in ... s``). The preset is ``MMCOURSE_PRESET``
(``cpu`` when it is not set); the cache is ``MMCOURSE_CACHE`` when set.

Exit status: 0 when every lesson ran to its end, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

PREAMBLE = '''\
# Generated from {notebook}: its code cells, in order, run as a script.
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as _plt
try:
    from IPython.display import display
except ImportError:  # no IPython: show what a cell would display as text
    def display(*objects, **kwargs):
        for shown in objects:
            print(repr(shown))
'''


def code_cells(notebook: Path) -> list[str]:
    """The sources of ``notebook``'s code cells, in order; a ``ValueError`` for IPython magics,
    which a plain script cannot run."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"notebook {notebook} cannot be read as a notebook: {error}") from None
    out = []
    for number, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        for line in source.splitlines():
            if line.lstrip().startswith(("%", "!")):
                raise ValueError(f"notebook {notebook.name}, cell {number}: an IPython magic or shell line "
                                 f"({line.strip()!r}) cannot run as a script")
        out.append(source)
    return out


def to_script(notebook: Path) -> str:
    """The script that runs ``notebook``'s code cells in order."""
    parts = [PREAMBLE.format(notebook=notebook.name)]
    for number, source in enumerate(code_cells(notebook)):
        parts.append(f"\n# ---- code cell {number} ----\n{source}\n_plt.close('all')\n")
    return "".join(parts)


def device_in_use() -> str:
    """``cpu``, or ``cuda (<card name>)`` when torch sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return "unknown (torch is not installed)"
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def run_lesson(notebook: Path, out: Path, timeout: float) -> dict:
    """Run one lesson as a script; return its summary row."""
    script = out / f"{notebook.stem}.py"
    log = out / f"{notebook.stem}.log"
    script.write_text(to_script(notebook), encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.setdefault("MMCOURSE_PRESET", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        try:
            status = subprocess.run([sys.executable, str(script)], cwd=notebook.parent, env=env, stdout=sink,
                                    stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            status = None
    seconds = time.perf_counter() - start
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    timing = [line.strip() for line in lines if line.strip().startswith("lesson ran in")]
    return {"lesson": notebook.stem, "preset": env["MMCOURSE_PRESET"], "device": device_in_use(),
            "seconds": round(seconds, 1), "exit_status": status, "timed_out": status is None,
            "lesson_time_line": timing[-1] if timing else None, "log": log.name, "last_lines": lines[-8:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run lesson notebooks as plain Python scripts (no Jupyter).")
    parser.add_argument("notebooks", nargs="*", type=Path, help="lesson notebooks (default: every notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / ".test-artifacts" / "run-lessons",
                        help="folder for the scripts, logs and summary.json (default: .test-artifacts/run-lessons)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds one lesson may run (default: 1200)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for notebook in notebooks:
        if notebook.suffix != ".ipynb" or not notebook.is_file():
            parser.error(f"notebooks must be existing .ipynb files, got {str(notebook)!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for notebook in notebooks:
        try:
            row = run_lesson(notebook.resolve(), args.out, args.timeout)
        except ValueError as error:
            row = {"lesson": notebook.stem, "exit_status": None, "error": str(error)}
        rows.append(row)
        state = ("ok" if row.get("exit_status") == 0 else
                 "timed out" if row.get("timed_out") else row.get("error") or f"failed (exit {row['exit_status']})")
        print(f"{row['lesson']:<40} {row.get('seconds', 0):>8.1f} s  {state}", flush=True)
        (args.out / "summary.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0 if all(row.get("exit_status") == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
