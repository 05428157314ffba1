"""`make test-gpu` runs the lessons with the gpu preset, and says plainly when there is no CUDA device."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_without_cuda_the_check_says_so_without_a_traceback():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # hide any GPU, as on a laptop
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "require_cuda.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "make test-gpu needs a CUDA GPU" in done.stderr and "make test" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_gpu_checks_for_cuda_then_runs_the_lessons_with_the_gpu_preset():
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    env["VENV"] = str(Path(sys.executable).parent.parent)
    dry = subprocess.run(["make", "--no-print-directory", "-o", "venv", "-n", "test-gpu"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert "require_cuda.py" in dry[0]
    assert dry[1].startswith("MMCOURSE_PRESET=gpu ") and "--nbval-lax" in dry[1] and "notebooks" in dry[1]
