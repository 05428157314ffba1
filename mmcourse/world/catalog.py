"""The catalogue of the course world: the shapes, colours, sizes and scene types, and
the words used for them.

Everything else in :mod:`mmcourse.world` indexes into these tuples, so an object's shape
is stored as an integer ``s`` with ``SHAPES[s]`` its name.
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
"""Shape classes. Each also has its own sound (see :mod:`mmcourse.world.sound`)."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "purple": (150, 60, 190),
    "orange": (245, 130, 30),
}
"""Colour names and their RGB values (0-255)."""

COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

SIZES: tuple[str, ...] = ("small", "large")
"""Size classes; an object's radius is drawn around the size's nominal value."""

SIZE_RADIUS: tuple[float, ...] = (0.09, 0.16)
"""Nominal radius of each size, as a fraction of the image side."""

SCENE_TYPES: tuple[str, ...] = ("beach", "forest", "city", "night")
"""Background scene types. Each has its own texture and its own ambient sound."""

SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("disc", "ring"),
    "square": ("box", "block"),
    "triangle": ("wedge",),
    "star": ("sparkle",),
    "cross": ("plus",),
    "small": ("little", "tiny"),
    "large": ("big", "huge"),
}
"""Paraphrases the captions use. They never appear as image labels: a model can only
learn their meaning from the text (lesson 02's zero-shot synonym queries)."""

COUNT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six")
"""Number words; ``COUNT_WORDS[n]`` names the count ``n``."""


def index_of(kind: str, value: str | int, choices: tuple[str, ...]) -> int:
    """Index of ``value`` in ``choices``; a clear ``ValueError`` naming ``kind`` otherwise."""
    if isinstance(value, (int,)) and not isinstance(value, bool):
        if 0 <= value < len(choices):
            return int(value)
        raise ValueError(f"{kind} index must be in 0..{len(choices) - 1}, got {value}")
    if value in choices:
        return choices.index(value)  # type: ignore[arg-type]
    raise ValueError(f"unknown {kind} {value!r}; expected one of {list(choices)}")
