"""Runtime helpers: device choice, seeding, presets, a timer and the version check.

Nothing here is decided at import time: the device and the preset are looked up each
time you call :func:`device` or :func:`preset`, so an environment variable set in a
notebook takes effect at once.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from typing import Any

import numpy as np
import torch

PRESET_ENV = "MMCOURSE_PRESET"
DEVICE_ENV = "MMCOURSE_DEVICE"
PRESET_NAMES = ("cpu", "gpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` (or the environment variable ``MMCOURSE_DEVICE``) forces one of
    ``"cuda"``, ``"mps"`` or ``"cpu"``; asking for one that is not available raises a
    ``ValueError`` that says which ones are.
    """
    prefer = prefer if prefer is not None else os.environ.get(DEVICE_ENV) or None
    available = ["cpu"]
    if _mps_available():
        available.insert(0, "mps")
    if torch.cuda.is_available():
        available.insert(0, "cuda")
    if prefer is None:
        return torch.device(available[0])
    if not isinstance(prefer, str) or prefer.split(":")[0] not in ("cuda", "mps", "cpu"):
        raise ValueError(f"prefer must be 'cuda', 'mps' or 'cpu', got {prefer!r}")
    if prefer.split(":")[0] not in available:
        raise ValueError(
            f"prefer={prefer!r} but that device is not available here; available: {available}"
        )
    return torch.device(prefer)


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python's ``random``, NumPy and torch (all devices) with one call.

    With ``deterministic=True`` the deterministic flags that exist are switched on
    (cuDNN deterministic, no benchmark autotuning), so two runs on the same machine
    give the same numbers. Returns the seed.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed


@dataclasses.dataclass(frozen=True)
class Preset:
    """How big a lesson runs: data size, model width and training time.

    Lessons read a few shared fields and pick their own numbers with :meth:`pick`::

        P = mmcourse.preset()
        n_train = P.pick(cpu=4000, gpu=40000)
    """

    name: str
    image_size: int
    time_scale: float  # multiplies training time budgets / epochs
    width_scale: float  # multiplies model widths
    data_scale: float  # multiplies dataset sizes
    num_workers: int

    def pick(self, cpu: Any, gpu: Any) -> Any:
        """Return ``cpu`` under the cpu preset and ``gpu`` under the gpu preset."""
        return cpu if self.name == "cpu" else gpu


_PRESETS = {
    "cpu": Preset("cpu", image_size=64, time_scale=1.0, width_scale=1.0, data_scale=1.0, num_workers=0),
    "gpu": Preset("gpu", image_size=128, time_scale=4.0, width_scale=2.0, data_scale=8.0, num_workers=2),
}


def preset(name: str | None = None) -> Preset:
    """Return the lesson preset.

    The choice is, in order: ``name`` if given, the environment variable
    ``MMCOURSE_PRESET``, ``"gpu"`` when a CUDA device is present, else ``"cpu"``.
    The tests run the ``cpu`` preset: what a laptop learner runs is what is tested.
    """
    chosen = name if name is not None else os.environ.get(PRESET_ENV) or None
    if chosen is None:
        chosen = "gpu" if torch.cuda.is_available() else "cpu"
    if chosen not in _PRESETS:
        source = "name" if name is not None else PRESET_ENV
        raise ValueError(f"{source} must be one of {PRESET_NAMES}, got {chosen!r}")
    return _PRESETS[chosen]


class Timer:
    """Wall-clock timer, usable as a context manager.

    >>> with Timer() as t:
    ...     pass
    >>> t.seconds >= 0
    True
    """

    def __init__(self) -> None:
        self.start: float | None = None
        self.seconds: float = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - (self.start or time.perf_counter())

    def elapsed(self) -> float:
        """Seconds since the timer started (also while it is running)."""
        if self.start is None:
            return 0.0
        return time.perf_counter() - self.start

    def __repr__(self) -> str:
        return f"Timer({self.seconds:.2f} s)"


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def require_version(minimum: str) -> str:
    """Check that the installed mmcourse is at least ``minimum``.

    Every lesson calls this in its first cell. If the package is too old, the error says
    how to update it. Returns the installed version.
    """
    from . import __version__

    if _parse_version(__version__) < _parse_version(minimum):
        raise RuntimeError(
            f"This lesson needs mmcourse >= {minimum}, but {__version__} is installed. "
            "Update it from the course folder with `git pull && make lab` "
            "(or `pip install -e .` in your own environment), then restart the kernel."
        )
    return __version__
