import random

import numpy as np
import pytest
import torch

import mmcourse
from mmcourse import runtime


def test_device_falls_back_to_cpu_without_accelerators(monkeypatch):
    monkeypatch.delenv("MMCOURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert mmcourse.device() == torch.device("cpu")


def test_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("MMCOURSE_DEVICE", raising=False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert mmcourse.device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert mmcourse.device() == torch.device("cuda")


def test_device_rejects_unavailable_or_unknown(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="prefer"):
        mmcourse.device("cuda")
    with pytest.raises(ValueError, match="prefer"):
        mmcourse.device("tpu")
    assert mmcourse.device("cpu") == torch.device("cpu")


def _draw():
    return (random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.nn.Linear(3, 2).weight.sum().item())


def test_seed_everything_makes_runs_repeatable():
    mmcourse.seed_everything(123)
    first = _draw()
    mmcourse.seed_everything(123)
    assert _draw() == first
    mmcourse.seed_everything(124)
    assert _draw() != first


def test_seeded_block_is_repeatable_and_puts_the_generators_back():
    mmcourse.seed_everything(5)
    expected = _draw()
    mmcourse.seed_everything(5)
    with runtime.seeded(9):
        inside = _draw()
    assert _draw() == expected  # as if the block had not run
    with runtime.seeded(9):
        assert _draw() == inside
    with pytest.raises(ValueError, match="seed"):
        with runtime.seeded(-1):
            pass


def test_seed_rejects_bad_values():
    with pytest.raises(ValueError, match="seed"):
        mmcourse.seed_everything(-1)
    with pytest.raises(ValueError, match="seed"):
        mmcourse.seed_everything(1.5)


def test_preset_from_environment(monkeypatch):
    monkeypatch.setenv("MMCOURSE_PRESET", "gpu")
    assert mmcourse.preset().name == "gpu"
    monkeypatch.setenv("MMCOURSE_PRESET", "cpu")
    p = mmcourse.preset()
    assert p.name == "cpu" and p.pick(cpu=1, gpu=2) == 1
    assert mmcourse.preset("gpu").pick(cpu=1, gpu=2) == 2
    assert mmcourse.preset("gpu").image_size > p.image_size
    for bad in ("huge", "", "  ", "CPU"):
        monkeypatch.setenv("MMCOURSE_PRESET", bad)
        with pytest.raises(ValueError, match="MMCOURSE_PRESET") as error:
            mmcourse.preset()
        assert repr(bad) in str(error.value)
    assert mmcourse.preset("cpu").name == "cpu"  # an explicit name wins over the environment
    with pytest.raises(ValueError, match="name"):
        mmcourse.preset("")


def test_preset_default_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("MMCOURSE_PRESET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert mmcourse.preset().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert mmcourse.preset().name == "gpu"


def test_timer_measures():
    with mmcourse.Timer() as t:
        sum(range(10000))
    assert t.seconds > 0 and "s)" in repr(t)


def test_require_version():
    assert mmcourse.require_version("0.0.1") == mmcourse.__version__
    with pytest.raises(RuntimeError, match="git pull"):
        mmcourse.require_version("99.0")


def test_show_source_returns_highlighted_source():
    src = mmcourse.show_source(mmcourse.seed_everything)
    assert "def seed_everything" in src.code
    assert "<span" in src._repr_html_()
    with pytest.raises(TypeError, match="obj"):
        mmcourse.show_source("seed_everything")
