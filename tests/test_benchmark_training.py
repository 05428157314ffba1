"""tools/benchmark_training.py: one cheap lesson timed, the gpu preset without CUDA, bad arguments."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("benchmark_training", ROOT / "tools" / "benchmark_training.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_one_lesson_gives_a_positive_throughput(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / "throughput.json"
    assert tool.main(["--lessons", "01", "--steps", "2", "--warmup", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["lesson"] for row in rows] == ["01"]
    row = rows[0]
    assert row["samples_per_s"] > 0 and row["seconds"] > 0 and row["steps"] == 2
    assert row["parameters"] > 0 and row["batch_size"] > 0
    printed = capsys.readouterr().out
    assert "samples/s" in printed and "CPU threads = 1" in printed


def test_missing_lessons_and_functions_are_skipped(monkeypatch, capsys):
    tool = _tool()
    monkeypatch.setitem(tool.LESSONS, "97", lambda P, n: tool.need("mmcourse.vqa", "no_such_function"))
    assert tool.main(["--lessons", "97,99", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "skipped: mmcourse.vqa has no no_such_function" in out
    assert "skipped: no training benchmark for lesson 99 yet" in out


def test_both_presets_without_cuda_say_so_in_one_line(monkeypatch, capsys):
    tool = _tool()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tool.main(["--preset", "both", "--lessons", "98", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if "needs a CUDA device" in line] == [tool.NO_CUDA]
    assert "Traceback" not in out


@pytest.mark.parametrize("value", ["0x", "1,,2", "100", ""])
def test_a_bad_lessons_value_names_the_argument(value, capsys):
    tool = _tool()
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--lessons", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --lessons" in err and "lesson numbers" in err
