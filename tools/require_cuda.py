"""Exit with a clear message (no traceback) unless torch sees a CUDA device.

    .venv/bin/python tools/require_cuda.py     # used by `make test-gpu`

Prints the card's name and exits 0 when a CUDA device is present; otherwise says what is
missing and what to run instead, and exits 1.
"""

from __future__ import annotations

import sys

import torch


def cuda_status() -> tuple[bool, str]:
    """(whether a CUDA device is usable, one line that says so)."""
    if not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else f"torch built for CUDA {torch.version.cuda}"
        return False, (f"make test-gpu needs a CUDA GPU, and none is visible here ({build}, "
                       "torch.cuda.is_available() is False). `make test` runs the lessons with the cpu preset.")
    return True, f"CUDA device: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"


def main() -> int:
    ok, line = cuda_status()
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
