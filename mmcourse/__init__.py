"""mmcourse — the helper package of the hands-on course on multi-modal deep learning.

Every lesson notebook starts with::

    import mmcourse
    mmcourse.require_version("0.1.0")

and then uses the topic modules (``mmcourse.world``, ``mmcourse.audio``, ...). The core
utilities are re-exported here:

- :func:`device` — the best available torch device (CUDA, then Apple MPS, then CPU).
- :func:`seed_everything` — one call seeds Python, NumPy and torch.
- :func:`preset` — the ``cpu`` or ``gpu`` preset (``MMCOURSE_PRESET`` overrides).
- :class:`Timer` — a tiny wall-clock timer.
- :func:`show_source` — show the highlighted source of any mmcourse object in a notebook.
"""

__version__ = "0.1.0"

from .runtime import Preset, Timer, device, preset, require_version, seed_everything
from .source import show_source

__all__ = [
    "__version__",
    "Preset",
    "Timer",
    "device",
    "preset",
    "require_version",
    "seed_everything",
    "show_source",
]
