"""Execute lesson notebooks top to bottom, in place, the way they are committed.

    .venv/bin/python tools/execute_notebooks.py notebooks/07_stft_and_spectrograms.ipynb
    make notebooks            # all of them

Each notebook runs in a fresh kernel of the current environment with the ``cpu`` preset
(unless MMCOURSE_PRESET is set), widget state is not stored, and the kernel metadata is
normalised, so the committed file is what `make test` checks. Before running, each cell gets the
nbgrader metadata its exercise markers call for (``mmcourse.exercises.stamp``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from mmcourse.exercises import stamp

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean_metadata(nb: nbformat.NotebookNode) -> None:
    """Drop widget state and per-machine metadata; keep the python3 kernelspec."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    language = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"} | {
        k: v for k, v in language.items() if k in ("codemirror_mode", "file_extension", "mimetype", "nbconvert_exporter")
    }
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                # widget views point at state that is not saved; keep the text fallback only
                data = output.get("data")
                if data and "application/vnd.jupyter.widget-view+json" in data:
                    data.pop("application/vnd.jupyter.widget-view+json")


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    stamp(nb, path.stem)  # nbgrader cell metadata from the exercise markers
    os.environ.setdefault("MMCOURSE_PRESET", "cpu")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    clean_metadata(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all in notebooks/)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        seconds = execute(path, args.timeout)
        print(f"{path}: executed in {seconds:.1f} s")
        json.loads(path.read_text())  # still valid JSON
    return 0


if __name__ == "__main__":
    sys.exit(main())
