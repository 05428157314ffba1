"""Runtime helpers: device choice, seeding, presets, a timer and the version check.

Nothing here is decided at import time: the device and the preset are looked up each
time you call :func:`device` or :func:`preset`, so an environment variable set in a
notebook takes effect at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from . import __version__

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


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[int]:
    """Run a block with Python, NumPy and torch seeded with ``seed``, then put them back.

    What happens inside (building a model, training it) is the same on every run, and the
    random numbers drawn after the block do not depend on whether it ran — a model read
    from the cache leaves the generators exactly as one trained on the spot::

        with seeded(1234):
            model = GridEncoder()  # the same initial weights every time
    """
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield seed_everything(seed)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@dataclasses.dataclass(frozen=True)
class Preset:
    """How big a lesson runs: data size, model width and training length.

    A preset has a name and the world's image size; every other number is picked by the
    lesson (or a configuration's ``for_preset``) with :meth:`pick`, the one way to choose
    a value per preset::

        P = mmcourse.preset()
        n_train = P.pick(cpu=4000, gpu=40000)
    """

    name: str
    image_size: int  # side of the world's images, in pixels

    def pick(self, cpu: Any, gpu: Any) -> Any:
        """Return ``cpu`` under the cpu preset and ``gpu`` under the gpu preset."""
        return cpu if self.name == "cpu" else gpu


_PRESETS = {
    "cpu": Preset("cpu", image_size=64),
    "gpu": Preset("gpu", image_size=128),
}


def preset(name: str | None = None) -> Preset:
    """Return the lesson preset.

    The choice is, in order: ``name`` if given, the environment variable
    ``MMCOURSE_PRESET``, ``"gpu"`` when a CUDA device is present, else ``"cpu"``.
    The tests run the ``cpu`` preset: what a laptop learner runs is what is tested.
    An unknown name — also an empty ``MMCOURSE_PRESET=""`` — is a ``ValueError``: a
    typo never silently becomes the other preset.
    """
    if name is not None:
        chosen, source = name, "name"
    elif PRESET_ENV in os.environ:
        chosen, source = os.environ[PRESET_ENV], f"the environment variable {PRESET_ENV}"
    else:
        chosen, source = ("gpu" if torch.cuda.is_available() else "cpu"), "the hardware"
    if chosen not in _PRESETS:
        hint = " (unset it to let mmcourse choose)" if source != "name" else ""
        raise ValueError(f"{source} must be one of {PRESET_NAMES}, got {chosen!r}{hint}")
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
    if _parse_version(__version__) < _parse_version(minimum):
        raise RuntimeError(
            f"This lesson needs mmcourse >= {minimum}, but {__version__} is installed. "
            "Update it from the course folder with `git pull && make lab` "
            "(or `pip install -e .` in your own environment), then restart the kernel."
        )
    return __version__
