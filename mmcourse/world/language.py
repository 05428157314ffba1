"""Language of the course world: captions, questions and recipes, true by construction.

Everything here is generated from a scene's ground truth (a
:class:`~mmcourse.world.scenes.SceneBatch`), so every sentence is *true* of its scene
and a lesson can check a model's words against the world.

- :func:`captions` — several different captions per scene from a small grammar with
  paraphrases (synonyms, word order, "there is/are", "a picture of"), exact counts
  ("two green triangles") and spatial relations ("left of", "above", "in front of").
  Captions of one scene differ in *what* they mention, not only in wording: this is the
  1:N imbalance of real image-text data.
- :func:`questions` — visual questions of six types with one-word answers; ``skew``
  controls how much the answer can be guessed from the question alone (modality bias).
- :func:`recipes` — an ingredient list and **ordered** steps that paint the scene; later
  steps cover earlier ones, so the order changes the picture (:func:`render_recipe`).

Counting words mean exact counts: a noun phrase ``"two red stars"`` (or ``"a red star"``)
in a caption says that the scene has exactly that many objects matching every word of
the phrase; ``"the red star"`` is only used when exactly one object matches.

Spatial relations compare object centres with a margin (:data:`RELATION_MARGIN`), so a
relation is only stated when it is clear:

- ``a`` is *left of* ``b`` when ``x[b] - x[a] > RELATION_MARGIN`` (and *right of* the
  other way round); *above* / *below* likewise with ``y`` (``y = 0`` is the top);
- ``a`` is *in front of* ``b`` when ``a`` is painted later (``a > b``) and their shapes
  certainly overlap: a few discs that lie inside each shape are tested, and two of them
  must overlap by more than a pixel at any image size. *behind* is the converse.

The word lists the grammar uses are module constants; :func:`grammar_words` collects
every word they can produce, which is how :func:`mmcourse.world.vocab.course_vocabulary`
is built.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalog import COLOUR_NAMES, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZE_RADIUS, SIZES, SYNONYMS
from .scenes import Rendered, make_scene, render
from .tokens import tokenize

GRAMMAR_VERSION = "1"
"""Version of the grammar; part of the vocabulary's cache key. Bump it when words change."""

# ----------------------------------------------------------------------------------------
# Word lists of the grammar
# ----------------------------------------------------------------------------------------

SHAPE_WORDS: dict[str, tuple[str, ...]] = {s: (s, *SYNONYMS.get(s, ())) for s in SHAPES}
"""Each shape's words: its name first, then its synonyms."""

SIZE_WORDS: dict[str, tuple[str, ...]] = {s: (s, *SYNONYMS.get(s, ())) for s in SIZES}
"""Each size's words: its name first, then its synonyms."""

GENERIC_NOUNS: tuple[str, ...] = ("object", "shape", "thing")
"""Nouns that stand for an object of any shape ("two red objects")."""

_QUESTION_NOUNS: tuple[str, ...] = ("object", "thing")  # not "what shape is the red shape?"

SYNONYM_RATE = 0.3
"""How often a shape or size is named by a synonym instead of its own name."""

SCENE_PLACES: dict[str, tuple[str, ...]] = {
    "beach": ("on the beach", "at the beach", "on a beach"),
    "forest": ("in the forest", "in a forest", "in the woods"),
    "city": ("in the city", "in a city", "on a city street"),
    "night": ("at night", "in the night", "under the night sky"),
}
"""Phrases that place a caption in its scene type."""

SCENE_ADJECTIVES: dict[str, str] = {"beach": "beach", "forest": "forest", "city": "city", "night": "night"}
"""The scene type as a modifier ("a beach scene with ...")."""

RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below", "in front of", "behind")
"""Spatial relations, in the order of :func:`spatial_relations`."""

RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "left of": ("left of", "to the left of"),
    "right of": ("right of", "to the right of"),
    "above": ("above",),
    "below": ("below",),
    "in front of": ("in front of",),
    "behind": ("behind",),
}
"""How each relation can be worded."""

RELATION_MARGIN = 0.1
"""Centres must be this far apart (fraction of the image side) for left/right/above/below."""

LIST_FRAMES: tuple[str, ...] = (
    "{list}",
    "a picture of {list}",
    "a photo of {list}",
    "an image of {list}",
    "there {be} {list}",
    "{list} {place}",
    "a picture of {list} {place}",
    "{place} there {be} {list}",
    "there {be} {list} {place}",
    "a {adj} scene with {list}",
)
"""Caption frames around a list of noun phrases."""

RELATION_FRAMES: tuple[str, ...] = (
    "{a} {rel} {b}",
    "the {A} is {rel} the {B}",
    "there is {a} {rel} {b}",
    "{a} {rel} {b} {place}",
    "a picture of {a} {rel} {b}",
)
"""Caption frames stating one relation ({a}: "a red star", {A}: "red star")."""

COUNT_FRAMES: tuple[str, ...] = (
    "{n} {objects}",
    "{n} {objects} {place}",
    "there {be} {n} {objects}",
    "there {be} {n} {objects} {place}",
    "a {adj} scene with {n} {objects}",
)
"""Caption frames stating the number of objects."""

SCENE_FRAMES: tuple[str, ...] = ("a {adj} scene", "a picture taken {place}", "a photo taken {place}")
"""Caption frames that mention only the scene type."""

EMPTY_FRAMES: tuple[str, ...] = (
    "an empty {adj} scene",
    "there is nothing {place}",
    "no objects {place}",
    "there are no objects {place}",
)
"""Caption frames of a scene without objects (only used for those)."""

_CAPTION_KINDS = (("list", 0.5), ("relation", 0.3), ("count", 0.12), ("scene", 0.08))
_LIST_LEVELS = (("s", 0.3), ("cs", 0.4), ("scs", 0.2), ("c", 0.1))

# Description levels: which attributes a noun phrase names (size, colour, shape).
_LEVELS: dict[str, tuple[bool, bool, bool]] = {
    "s": (False, False, True),  # "the star"
    "cs": (False, True, True),  # "the red star"
    "scs": (True, True, True),  # "the large red star"
    "ss": (True, False, True),  # "the large star"
    "c": (False, True, False),  # "the red object"
    "sc": (True, True, False),  # "the large red object"
}
_LEVEL_NAMES = tuple(_LEVELS)

# ---- questions

QUESTION_TYPES: tuple[str, ...] = ("colour", "shape", "count", "exists", "relation", "scene")
"""The question types of :func:`questions`."""

COLOUR_QUESTIONS: tuple[str, ...] = ("what colour is {np}?", "what is the colour of {np}?")
SHAPE_QUESTIONS: tuple[str, ...] = ("what shape is {np}?", "what kind of shape is {np}?")
COUNT_QUESTIONS: tuple[str, ...] = ("how many {np} are there?", "how many {np} can you see?")
EXISTS_QUESTIONS: tuple[str, ...] = ("is there {np}?", "are there any {nps}?")
RELATION_WHAT_QUESTIONS: tuple[str, ...] = ("what is {rel} {np}?", "which shape is {rel} {np}?")
RELATION_YESNO_QUESTIONS: tuple[str, ...] = ("is {a} {rel} {b}?",)
SCENE_QUESTIONS: tuple[str, ...] = (
    "what kind of place is this?",
    "where is this?",
    "where was this picture taken?",
    "what is the setting?",
)
"""Scene questions; with ``skew > 0`` form ``j`` is mostly asked of scenes of type
``SCENE_TYPES[j]`` (see :func:`questions`)."""

FAVOURITE_COLOUR: dict[str, str] = {
    "circle": "red",
    "square": "blue",
    "triangle": "green",
    "star": "yellow",
    "cross": "purple",
}
"""The biased answer of a colour question about each shape (``skew > 0``)."""

FAVOURITE_SHAPE: dict[str, str] = {
    "red": "circle",
    "blue": "square",
    "green": "triangle",
    "yellow": "star",
    "purple": "cross",
    "orange": "triangle",
}
"""The biased answer of a shape question about an object of each colour (``skew > 0``)."""

BIASED_ANSWERS: dict[str, str] = {"count": "two", "exists": "yes", "relation_yesno": "yes", "relation_what": "circle"}
"""The biased answer of count, exists and relation questions (``skew > 0``)."""

# ---- recipes

RECIPE_CATEGORIES: tuple[str, ...] = SHAPES
"""A recipe's category is its dish's *dominant shape* (see :func:`recipe_category`)."""

SCENE_INGREDIENTS: dict[str, str] = {
    "beach": "a cup of sand",
    "forest": "a handful of moss",
    "city": "a slab of concrete",
    "night": "a jar of dark ink",
}
"""The base ingredient of each scene type (the background)."""

SCENE_STEPS: dict[str, tuple[str, ...]] = {
    "beach": ("first spread the sand over the plate", "first cover the plate with sand"),
    "forest": ("first spread the moss over the plate", "first cover the plate with moss"),
    "city": ("first spread the concrete over the plate", "first cover the plate with concrete"),
    "night": ("first spread the dark ink over the plate", "first cover the plate with dark ink"),
}
"""The first step of a recipe: the background."""

_SCENE_KEYWORDS: dict[str, str] = {"sand": "beach", "moss": "forest", "concrete": "city", "ink": "night"}

STEP_ADVERBS: tuple[str, ...] = ("then", "next", "now")
STEP_VERBS: tuple[str, ...] = ("place", "add", "put", "set")
STEP_FRAME = "{adverb} {verb} {np} {position}"
"""An object step: "then place a large red star at the upper left"."""

ROW_WORDS: tuple[str, ...] = ("top", "upper", "middle", "lower", "bottom")
COLUMN_WORDS: tuple[str, ...] = ("far left", "left", "centre", "right", "far right")
GRID = 5
"""Recipes place objects on a 5x5 grid of the image: row word, then column word."""

CENTRE_PHRASE = "in the centre"
DISHES: tuple[str, ...] = ("platter", "tart", "pie", "salad", "cake")
TITLE_FRAME = "{adj} {shape} {dish}"
EMPTY_TITLE_FRAME = "plain {adj} {dish}"  # a scene without objects


# ----------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------


def plural(word: str) -> str:
    """Plural of a grammar noun ("star" -> "stars", "cross" -> "crosses", "box" -> "boxes")."""
    return word + "es" if word.endswith(("s", "x", "sh", "ch")) else word + "s"


_AN = re.compile(r"\ba (?=[aeiou])")


def _fix_articles(text: str) -> str:
    return _AN.sub("an ", text)


def _pick(rnd: random.Random, options: Sequence[Any]) -> Any:
    return options[int(rnd.random() * len(options))]


def _weighted(rnd: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    total = sum(w for _, w in pairs)
    u = rnd.random() * total
    for value, w in pairs:
        u -= w
        if u < 0:
            return value
    return pairs[-1][0]


def _word(rnd: random.Random, words: tuple[str, ...]) -> str:
    """The first (canonical) word, or a synonym with probability SYNONYM_RATE."""
    if len(words) > 1 and rnd.random() < SYNONYM_RATE:
        return words[1 + int(rnd.random() * (len(words) - 1))]
    return words[0]


def _places(scene: str) -> tuple[str, ...]:
    return SCENE_PLACES.get(scene, (f"in the {scene}",))


def _adjective(scene: str) -> str:
    return SCENE_ADJECTIVES.get(scene, scene)


def _noun_phrase(
    rnd: random.Random,
    count: int,
    size: int | None,
    colour: int | None,
    shape: int | None,
    definite: bool = False,
    article: bool = True,
    nouns: tuple[str, ...] = GENERIC_NOUNS,
) -> str:
    """"a large red star", "two red stars", "the red object" (``count`` matching objects)."""
    words: list[str] = []
    if article:
        words.append("the" if definite else ("a" if count == 1 else COUNT_WORDS[count]))
    if size is not None:
        words.append(_word(rnd, SIZE_WORDS[SIZES[size]]))
    if colour is not None:
        words.append(COLOUR_NAMES[colour])
    noun = _word(rnd, SHAPE_WORDS[SHAPES[shape]]) if shape is not None else _pick(rnd, nouns)
    words.append(noun if count == 1 else plural(noun))
    return " ".join(words)


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _validate_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


_SCENE_FIELDS = ("scene_type", "n_objects", "shape", "colour", "size", "x", "y", "radius")


def _validate_scenes(scenes: Any) -> None:
    missing = [f for f in _SCENE_FIELDS if not hasattr(scenes, f)]
    if missing:
        raise TypeError(f"scenes must be a SceneBatch (missing {missing}), got {type(scenes).__name__}")
    n_max = len(COUNT_WORDS) - 1
    if len(scenes) and int(np.max(scenes.n_objects)) > n_max:
        raise ValueError(f"scenes: the grammar counts at most {n_max} objects per scene")


# ----------------------------------------------------------------------------------------
# Geometry (vectorised over the batch)
# ----------------------------------------------------------------------------------------

# Discs that lie inside each shape, as (u, v, radius) in units of the object's radius
# (u right, v down, as the renderer draws the shapes). Two objects certainly overlap when a
# disc of one overlaps a disc of the other by more than _OVERLAP_SLACK.
def _star_discs() -> list[tuple[float, float, float]]:
    discs = [(0.0, 0.0, 0.43)]
    for j in range(5):  # along each of the five points, one point up
        angle = -np.pi / 2 + j * 2 * np.pi / 5
        discs += [(0.5 * np.cos(angle), 0.5 * np.sin(angle), 0.17), (0.68 * np.cos(angle), 0.68 * np.sin(angle), 0.1)]
    return discs


_SHAPE_DISCS: dict[str, list[tuple[float, float, float]]] = {
    "circle": [(0.0, 0.0, 0.98)],
    "square": [(0.0, 0.0, 0.84)] + [(su * 0.5, sv * 0.5, 0.34) for su in (-1, 1) for sv in (-1, 1)],
    "triangle": [(0.0, 0.254, 0.57), (0.0, -0.4, 0.26), (0.0, -0.65, 0.14), (0.55, 0.57, 0.24), (-0.55, 0.57, 0.24)],
    "star": _star_discs(),
    "cross": [(0.0, 0.0, 0.32)]
    + [(sign * t, 0.0, 0.32) for sign in (-1, 1) for t in (0.33, 0.66)]
    + [(0.0, sign * t, 0.32) for sign in (-1, 1) for t in (0.33, 0.66)],
}
_DISCS = np.zeros((len(SHAPES), max(len(d) for d in _SHAPE_DISCS.values()), 3), np.float32)  # (S, Q, 3)
_DISCS[:, :, 2] = -1.0  # unused slots: negative radius, never overlap
for _s, _name in enumerate(SHAPES):
    _DISCS[_s, : len(_SHAPE_DISCS[_name])] = _SHAPE_DISCS[_name]
_REACH = np.array([1.0, 1.22, 1.32, 1.0, 1.06], np.float32)  # (S,) every shape lies within this many radii
_OVERLAP_SLACK = 0.045  # discs must overlap by this much (> a pixel diagonal at 32x32)


def _certain_overlap(scenes: Any, candidates: np.ndarray) -> np.ndarray:
    """(N, K, K) bool: objects that certainly overlap, tested only where ``candidates`` holds."""
    idx = np.nonzero(candidates)  # (M,) each: scene, a, b
    out = np.zeros(candidates.shape, bool)  # (N, K, K)
    if idx[0].size == 0:
        return out
    i, a, b = idx
    shape = np.asarray(scenes.shape)  # (N, K)
    x = np.asarray(scenes.x, np.float64)  # (N, K)
    y = np.asarray(scenes.y, np.float64)  # (N, K)
    r = np.asarray(scenes.radius, np.float64)  # (N, K)
    da, db = _DISCS[shape[i, a]], _DISCS[shape[i, b]]  # (M, Q, 3) each
    ax = x[i, a, None] + r[i, a, None] * da[:, :, 0]  # (M, Q) disc centres of a
    ay = y[i, a, None] + r[i, a, None] * da[:, :, 1]  # (M, Q)
    ar = np.where(da[:, :, 2] > 0, r[i, a, None] * da[:, :, 2], -1.0)  # (M, Q) disc radii of a
    bx = x[i, b, None] + r[i, b, None] * db[:, :, 0]  # (M, Q)
    by = y[i, b, None] + r[i, b, None] * db[:, :, 1]  # (M, Q)
    br = np.where(db[:, :, 2] > 0, r[i, b, None] * db[:, :, 2], -1.0)  # (M, Q)
    gap = np.hypot(ax[:, :, None] - bx[:, None, :], ay[:, :, None] - by[:, None, :])  # (M, Q, Q)
    depth = ar[:, :, None] + br[:, None, :] - gap  # (M, Q, Q) how far two discs overlap
    out[i, a, b] = (depth > _OVERLAP_SLACK).any((1, 2))  # (M,)
    return out


def spatial_relations(scenes: Any) -> dict[str, np.ndarray]:
    """Clear spatial relations between the objects of every scene.

    Returns a dict with one (N, K, K) bool array per name of :data:`RELATIONS`:
    ``rel["left of"][i, a, b]`` is True when object ``a`` of scene ``i`` is clearly left
    of object ``b`` (see the module docstring for the exact rules). Padding is False.
    """
    _validate_scenes(scenes)
    shape = np.asarray(scenes.shape)  # (N, K)
    n, k = shape.shape
    valid = np.arange(k)[None, :] < np.asarray(scenes.n_objects)[:, None]  # (N, K)
    pair = valid[:, :, None] & valid[:, None, :]  # (N, K, K)
    x = np.where(valid, np.asarray(scenes.x, np.float64), 0.0)  # (N, K)
    y = np.where(valid, np.asarray(scenes.y, np.float64), 0.0)  # (N, K)
    r = np.where(valid, np.asarray(scenes.radius, np.float64), 0.0)  # (N, K)
    dx = x[:, None, :] - x[:, :, None]  # (N, K, K) dx[i, a, b] = x[b] - x[a]
    dy = y[:, None, :] - y[:, :, None]  # (N, K, K)
    dist = np.hypot(dx, dy)  # (N, K, K)
    reach = r * _REACH[np.maximum(shape, 0)]  # (N, K)
    left = pair & (dx > RELATION_MARGIN)  # (N, K, K)
    above = pair & (dy > RELATION_MARGIN)  # (N, K, K)
    later = np.arange(k)[:, None] > np.arange(k)[None, :]  # (K, K) a > b
    near = pair & later[None] & (dist < reach[:, :, None] + reach[:, None, :])  # (N, K, K)
    front = _certain_overlap(scenes, near)  # (N, K, K)
    return {
        "left of": left,
        "right of": left.transpose(0, 2, 1),
        "above": above,
        "below": above.transpose(0, 2, 1),
        "in front of": front,
        "behind": front.transpose(0, 2, 1),
    }


def _loose_relations(scenes: Any) -> dict[str, np.ndarray]:
    """Relations that *might* hold (no margin; shapes that might touch): (N, K, K) bool each.

    A "what is left of X?" question is only asked when exactly one object is clearly
    left of X and no other object is even loosely left of it.
    """
    shape = np.asarray(scenes.shape)  # (N, K)
    n, k = shape.shape
    valid = np.arange(k)[None, :] < np.asarray(scenes.n_objects)[:, None]  # (N, K)
    pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(k, dtype=bool)[None]  # (N, K, K)
    x = np.where(valid, np.asarray(scenes.x, np.float64), 0.0)  # (N, K)
    y = np.where(valid, np.asarray(scenes.y, np.float64), 0.0)  # (N, K)
    r = np.where(valid, np.asarray(scenes.radius, np.float64), 0.0)  # (N, K)
    dx = x[:, None, :] - x[:, :, None]  # (N, K, K)
    dy = y[:, None, :] - y[:, :, None]  # (N, K, K)
    outer = r * _REACH[np.maximum(shape, 0)]  # (N, K)
    touch = pair & (np.hypot(dx, dy) <= outer[:, :, None] + outer[:, None, :] + 0.02)  # (N, K, K)
    later = np.arange(k)[:, None] > np.arange(k)[None, :]  # (K, K)
    left = pair & (dx > 0)  # (N, K, K)
    above = pair & (dy > 0)  # (N, K, K)
    front = touch & later[None]  # (N, K, K)
    return {
        "left of": left,
        "right of": left.transpose(0, 2, 1),
        "above": above,
        "below": above.transpose(0, 2, 1),
        "in front of": front,
        "behind": front.transpose(0, 2, 1),
    }


def _unique_levels(scenes: Any) -> dict[str, np.ndarray]:
    """For each description level, (N, K) bool: the object is the only one matching it."""
    shape = np.asarray(scenes.shape)  # (N, K)
    colour = np.asarray(scenes.colour)  # (N, K)
    size = np.asarray(scenes.size)  # (N, K)
    k = shape.shape[1]
    valid = np.arange(k)[None, :] < np.asarray(scenes.n_objects)[:, None]  # (N, K)
    pair = valid[:, :, None] & valid[:, None, :]  # (N, K, K)
    same_shape = shape[:, :, None] == shape[:, None, :]  # (N, K, K)
    same_colour = colour[:, :, None] == colour[:, None, :]  # (N, K, K)
    same_size = size[:, :, None] == size[:, None, :]  # (N, K, K)
    out = {}
    for name, (use_size, use_colour, use_shape) in _LEVELS.items():
        match = pair.copy()  # (N, K, K)
        if use_size:
            match &= same_size
        if use_colour:
            match &= same_colour
        if use_shape:
            match &= same_shape
        out[name] = valid & (match.sum(2) == 1)  # (N, K)
    return out


class _World:
    """The batch as plain Python lists, with per-scene relations, ready for text building."""

    def __init__(self, scenes: Any) -> None:
        _validate_scenes(scenes)
        self.n = len(scenes)
        self.scene_type: list[int] = np.asarray(scenes.scene_type).tolist()
        self.n_objects: list[int] = np.asarray(scenes.n_objects).tolist()
        self.shape: list[list[int]] = np.asarray(scenes.shape).tolist()
        self.colour: list[list[int]] = np.asarray(scenes.colour).tolist()
        self.size: list[list[int]] = np.asarray(scenes.size).tolist()
        unique = _unique_levels(scenes)
        self.unique: dict[str, list[list[bool]]] = {name: u.tolist() for name, u in unique.items()}
        describable = np.zeros_like(unique["s"])  # (N, K)
        for u in unique.values():
            describable |= u
        strong = spatial_relations(scenes)
        loose = _loose_relations(scenes)
        # clear relations between describable objects: per scene a list of (a, relation, b)
        self.relations: list[list[tuple[int, str, int]]] = [[] for _ in range(self.n)]
        # "what is <rel> <b>?" with one clear answer a: per scene a list of (b, relation, a)
        self.what: list[list[tuple[int, str, int]]] = [[] for _ in range(self.n)]
        for rel in RELATIONS:
            m = strong[rel] & describable[:, :, None] & describable[:, None, :]  # (N, K, K)
            for i, a, b in zip(*np.nonzero(m)):
                self.relations[int(i)].append((int(a), rel, int(b)))
            n_strong = strong[rel].sum(1)  # (N, K) objects clearly <rel> object b
            n_loose = loose[rel].sum(1)  # (N, K) objects perhaps <rel> object b
            ok = (n_strong == 1) & (n_loose == 1) & describable  # (N, K)
            answer = strong[rel].argmax(1)  # (N, K) index of that object
            for i, b in zip(*np.nonzero(ok)):
                self.what[int(i)].append((int(b), rel, int(answer[i, b])))

    def levels(self, i: int, k: int, allowed: Sequence[str] = _LEVEL_NAMES) -> list[str]:
        """Description levels that single out object ``k`` of scene ``i``."""
        return [lvl for lvl in allowed if self.unique[lvl][i][k]]

    def describe(
        self, rnd: random.Random, i: int, k: int, level: str, definite: bool, nouns: tuple[str, ...] = GENERIC_NOUNS
    ) -> str:
        use_size, use_colour, use_shape = _LEVELS[level]
        return _noun_phrase(
            rnd,
            1,
            self.size[i][k] if use_size else None,
            self.colour[i][k] if use_colour else None,
            self.shape[i][k] if use_shape else None,
            definite=definite,
            nouns=nouns,
        )


# ----------------------------------------------------------------------------------------
# Captions
# ----------------------------------------------------------------------------------------


def _caption_list(rnd: random.Random, w: _World, i: int) -> str:
    level = _weighted(rnd, _LIST_LEVELS)
    use_size, use_colour, use_shape = _LEVELS[level]
    groups: dict[tuple, int] = {}
    for k in range(w.n_objects[i]):
        key = (
            w.size[i][k] if use_size else None,
            w.colour[i][k] if use_colour else None,
            w.shape[i][k] if use_shape else None,
        )
        groups[key] = groups.get(key, 0) + 1
    keys = list(groups)
    rnd.shuffle(keys)
    keys = keys[: 1 + int(rnd.random() * len(keys))]
    items = [_noun_phrase(rnd, groups[key], *key) for key in keys]
    frame = _pick(rnd, LIST_FRAMES)
    scene = SCENE_TYPES[w.scene_type[i]]
    return frame.format(
        list=_join(items),
        be="is" if groups[keys[0]] == 1 else "are",
        place=_pick(rnd, _places(scene)),
        adj=_adjective(scene),
    )


def _caption_relation(rnd: random.Random, w: _World, i: int) -> str:
    a, rel, b = _pick(rnd, w.relations[i])
    level_a = _pick(rnd, w.levels(i, a))
    level_b = _pick(rnd, w.levels(i, b))
    scene = SCENE_TYPES[w.scene_type[i]]
    frame = _pick(rnd, RELATION_FRAMES)
    return frame.format(
        a=w.describe(rnd, i, a, level_a, definite=False),
        b=w.describe(rnd, i, b, level_b, definite=False),
        A=w.describe(rnd, i, a, level_a, definite=True)[len("the ") :],
        B=w.describe(rnd, i, b, level_b, definite=True)[len("the ") :],
        rel=_pick(rnd, RELATION_PHRASES[rel]),
        place=_pick(rnd, _places(scene)),
    )


def _caption_count(rnd: random.Random, w: _World, i: int) -> str:
    n = w.n_objects[i]
    noun = _pick(rnd, GENERIC_NOUNS)
    scene = SCENE_TYPES[w.scene_type[i]]
    return _pick(rnd, COUNT_FRAMES).format(
        n=COUNT_WORDS[n],
        objects=noun if n == 1 else plural(noun),
        be="is" if n == 1 else "are",
        place=_pick(rnd, _places(scene)),
        adj=_adjective(scene),
    )


def _caption_scene(rnd: random.Random, w: _World, i: int) -> str:
    scene = SCENE_TYPES[w.scene_type[i]]
    frames = SCENE_FRAMES if w.n_objects[i] or rnd.random() < 0.5 else EMPTY_FRAMES
    return _pick(rnd, frames).format(place=_pick(rnd, _places(scene)), adj=_adjective(scene))


_CAPTION_MAKERS = {
    "list": _caption_list,
    "relation": _caption_relation,
    "count": _caption_count,
    "scene": _caption_scene,
}


def _one_caption(rnd: random.Random, w: _World, i: int) -> str:
    kind = _weighted(rnd, _CAPTION_KINDS)
    if (kind == "relation" and not w.relations[i]) or (kind in ("list", "count") and w.n_objects[i] == 0):
        kind = "list" if w.n_objects[i] else "scene"
    return _fix_articles(_CAPTION_MAKERS[kind](rnd, w, i))


def captions(scenes: Any, n_per_scene: int = 5, seed: int = 0) -> list[list[str]]:
    """``n_per_scene`` different true captions for every scene.

    Each caption is drawn from the grammar: a list of the scene's objects (a random
    subset, named at a random level of detail with exact counts), one clear spatial
    relation, the number of objects, or only the scene type — each with random frames,
    synonyms and scene phrases. Captions of one scene are all different (if a scene ran
    out of different captions, which needs a very large ``n_per_scene``, some repeat).

    Args:
        scenes: a :class:`~mmcourse.world.scenes.SceneBatch`.
        n_per_scene: captions per scene (>= 1).
        seed: the same seed (and scenes) gives the same captions.

    Returns:
        A list with one list of ``n_per_scene`` strings per scene (lower case, no full stop).
    """
    if isinstance(n_per_scene, bool) or not isinstance(n_per_scene, (int, np.integer)) or n_per_scene < 1:
        raise ValueError(f"n_per_scene must be an integer >= 1, got {n_per_scene!r}")
    rnd = random.Random(_validate_seed(seed))
    w = _World(scenes)
    out: list[list[str]] = []
    for i in range(w.n):
        seen: set[str] = set()
        caps: list[str] = []
        tries = 0
        while len(caps) < n_per_scene and tries < 40 * n_per_scene:
            tries += 1
            text = _one_caption(rnd, w, i)
            if text not in seen:
                seen.add(text)
                caps.append(text)
        while len(caps) < n_per_scene:  # the grammar ran out of new captions for this scene
            caps.append(_one_caption(rnd, w, i))
        out.append(caps)
    return out


# ----------------------------------------------------------------------------------------
# Questions
# ----------------------------------------------------------------------------------------


@dataclass
class Question:
    """A question about scene ``scene`` (index into the batch) with its one-word answer."""

    scene: int
    type: str
    text: str
    answer: str


def answer_vocabulary() -> list[str]:
    """Every possible answer, in a fixed order: yes, no, the count words, the colours,
    the shapes, the scene types."""
    out: list[str] = []
    for word in ("yes", "no", *COUNT_WORDS, *COLOUR_NAMES, *SHAPES, *SCENE_TYPES):
        if word not in out:
            out.append(word)
    return out


# A candidate question: (bias, spec); spec is rendered to text only when chosen.
_Spec = tuple


# Descriptors of count and exists questions: (colour, shape) with None for "any".
_DESCRIPTORS: tuple[tuple[int | None, int | None], ...] = (
    *((c, s) for c in range(len(COLOUR_NAMES)) for s in range(len(SHAPES))),
    *((None, s) for s in range(len(SHAPES))),
    *((c, None) for c in range(len(COLOUR_NAMES))),
    (None, None),  # all objects (count questions only)
)
_COUNT_ITEMS = tuple((BIASED_ANSWERS["count"], ("count", c, s)) for c, s in _DESCRIPTORS)
_EXISTS_ITEMS = tuple((BIASED_ANSWERS["exists"], ("exists", c, s)) for c, s in _DESCRIPTORS[:-1])


def _descriptor_counts(scenes: Any) -> np.ndarray:
    """How many objects match each of :data:`_DESCRIPTORS`, per scene: (N, D) int64."""
    shape = np.asarray(scenes.shape)  # (N, K)
    colour = np.asarray(scenes.colour)  # (N, K)
    valid = np.arange(shape.shape[1])[None, :] < np.asarray(scenes.n_objects)[:, None]  # (N, K)
    sh = valid[:, :, None] & (shape[:, :, None] == np.arange(len(SHAPES)))  # (N, K, S)
    co = valid[:, :, None] & (colour[:, :, None] == np.arange(len(COLOUR_NAMES)))  # (N, K, C)
    pairs = np.einsum("nkc,nks->ncs", co.astype(np.int64), sh.astype(np.int64))  # (N, C, S)
    n = len(shape)
    return np.concatenate(
        [pairs.reshape(n, len(COLOUR_NAMES) * len(SHAPES)), sh.sum(1), co.sum(1), valid.sum(1, keepdims=True)], axis=1
    ).astype(np.int64)  # (N, D)


def _usable(w: _World, i: int, qtype: str) -> bool:
    """Whether scene ``i`` has at least one question of type ``qtype``."""
    if qtype == "colour":
        return any(w.unique["s"][i][k] or w.unique["ss"][i][k] for k in range(w.n_objects[i]))
    if qtype == "shape":
        return any(w.unique["c"][i][k] or w.unique["sc"][i][k] for k in range(w.n_objects[i]))
    if qtype == "relation":
        return bool(w.relations[i] or w.what[i])
    return True  # count, exists, scene


def _candidates(w: _World, i: int, qtype: str, counts: list[int]) -> dict[str, list[tuple[str, _Spec]]]:
    """All questions of type ``qtype`` about scene ``i``, grouped by answer.

    Each question is ``(bias, spec)``: the biased answer for its text (see
    :func:`questions`) and a spec that :func:`_question_text` turns into words.
    ``counts`` is the scene's row of :func:`_descriptor_counts`.
    """
    out: dict[str, list[tuple[str, _Spec]]] = {}
    n = w.n_objects[i]
    shapes, colours = w.shape[i], w.colour[i]
    if qtype == "colour":
        for k in range(n):
            levels = w.levels(i, k, ("s", "ss"))
            if levels:
                item = (FAVOURITE_COLOUR.get(SHAPES[shapes[k]], ""), ("colour", k, tuple(levels)))
                out.setdefault(COLOUR_NAMES[colours[k]], []).append(item)
    elif qtype == "shape":
        for k in range(n):
            levels = w.levels(i, k, ("c", "sc"))
            if levels:
                item = (FAVOURITE_SHAPE.get(COLOUR_NAMES[colours[k]], ""), ("shape", k, tuple(levels)))
                out.setdefault(SHAPES[shapes[k]], []).append(item)
    elif qtype == "count":
        for item, count in zip(_COUNT_ITEMS, counts):
            out.setdefault(COUNT_WORDS[count], []).append(item)
    elif qtype == "exists":
        for item, count in zip(_EXISTS_ITEMS, counts):
            out.setdefault("yes" if count else "no", []).append(item)
    elif qtype == "relation":
        what, yesno = BIASED_ANSWERS["relation_what"], BIASED_ANSWERS["relation_yesno"]
        for b, rel, a in w.what[i]:
            out.setdefault(SHAPES[shapes[a]], []).append((what, ("what", b, rel)))
        for a, rel, b in w.relations[i]:
            out.setdefault("yes", []).append((yesno, ("yesno", a, rel, b)))
            out.setdefault("no", []).append((yesno, ("yesno", b, rel, a)))
    elif qtype == "scene":
        answer = SCENE_TYPES[w.scene_type[i]]
        out[answer] = [(SCENE_TYPES[form % len(SCENE_TYPES)], ("scene", form)) for form in range(len(SCENE_QUESTIONS))]
    return out


def _question_text(rnd: random.Random, w: _World, i: int, spec: _Spec) -> str:
    kind = spec[0]
    if kind == "colour":
        _, k, levels = spec
        return _pick(rnd, COLOUR_QUESTIONS).format(np=w.describe(rnd, i, k, _pick(rnd, levels), definite=True))
    if kind == "shape":
        _, k, levels = spec
        np_ = w.describe(rnd, i, k, _pick(rnd, levels), definite=True, nouns=_QUESTION_NOUNS)
        return _pick(rnd, SHAPE_QUESTIONS).format(np=np_)
    if kind == "count":
        _, c, s = spec
        return _pick(rnd, COUNT_QUESTIONS).format(np=_noun_phrase(rnd, 2, None, c, s, article=False))
    if kind == "exists":
        _, c, s = spec
        return _pick(rnd, EXISTS_QUESTIONS).format(
            np=_noun_phrase(rnd, 1, None, c, s), nps=_noun_phrase(rnd, 2, None, c, s, article=False)
        )
    if kind == "what":
        _, b, rel = spec
        return _pick(rnd, RELATION_WHAT_QUESTIONS).format(
            rel=_pick(rnd, RELATION_PHRASES[rel]),
            np=w.describe(rnd, i, b, _pick(rnd, w.levels(i, b)), True, nouns=_QUESTION_NOUNS),
        )
    if kind == "yesno":
        _, a, rel, b = spec
        return _pick(rnd, RELATION_YESNO_QUESTIONS).format(
            a=w.describe(rnd, i, a, _pick(rnd, w.levels(i, a)), True),
            rel=_pick(rnd, RELATION_PHRASES[rel]),
            b=w.describe(rnd, i, b, _pick(rnd, w.levels(i, b)), True),
        )
    return SCENE_QUESTIONS[spec[1]]


def _balance_weights(avail: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Answer weights that make every possible answer about equally frequent.

    ``avail`` (S, A) bool: which answers each of S question slots could have. A slot
    picks answer ``a`` with probability ``w[a] / sum(w[available])``; the weights are
    fitted (iterative proportional fitting) so the expected counts are equal, as far as
    the availability allows.
    """
    s, a = avail.shape
    w = np.ones(a)  # (A,)
    possible = avail.any(0)  # (A,)
    if s == 0 or not possible.any():
        return w
    target = s / possible.sum()
    m = avail.astype(np.float64)  # (S, A)
    for _ in range(iterations):
        p = m * w  # (S, A)
        p /= p.sum(1, keepdims=True)  # (S, A)
        expected = p.sum(0)  # (A,)
        w[possible] *= target / np.maximum(expected[possible], 1e-9)
        w = np.clip(w / w[possible].max(), 1e-9, None)  # (A,)
    return w


def _validate_types(types: Any) -> tuple[str, ...]:
    if isinstance(types, str):
        types = (types,)
    try:
        types = tuple(types)
    except TypeError:
        raise ValueError(f"types must be a list of question types from {QUESTION_TYPES}, got {types!r}") from None
    if not types:
        raise ValueError(f"types must name at least one question type from {QUESTION_TYPES}")
    for t in types:
        if t not in QUESTION_TYPES:
            raise ValueError(f"types: unknown question type {t!r}; expected some of {QUESTION_TYPES}")
    return tuple(dict.fromkeys(types))


def questions(
    scenes: Any,
    per_scene: int = 3,
    seed: int = 0,
    types: Iterable[str] = QUESTION_TYPES,
    skew: float = 0.0,
) -> list[Question]:
    """Questions with one-word answers that are true of their scenes.

    Question types and forms (answers in brackets):

    - ``colour``: "what colour is the star?" (red) — only when exactly one object matches.
    - ``shape``: "what shape is the red object?" (star) — only when exactly one matches.
    - ``count``: "how many red stars are there?" (zero .. six) — colours, shapes, both, or all objects.
    - ``exists``: "is there a blue circle?" / "are there any red objects?" (yes / no).
    - ``relation``: "what is left of the red square?" (a shape; only when exactly one object
      is clearly there and no other is even near it) or "is the star above the circle?"
      (yes / no; only for pairs whose relation is clear either way).
    - ``scene``: "what kind of place is this?" (beach / forest / city / night).

    Each scene gets ``per_scene`` questions, of different types where possible (types
    are dealt out evenly; a type a scene cannot answer, e.g. a relation in a one-object
    scene, is replaced by another), never the same question twice and at most one
    scene question. Only a scene that runs out of questions (e.g. ``types=("scene",)``
    with ``per_scene=2``) gets fewer.

    **Balance and skew.** With ``skew=0`` the answers of each type are balanced: a
    question's answer is drawn first, with weights fitted so every answer the scenes
    allow is about equally frequent, then a question with that answer. With ``skew > 0``
    each question is, with probability ``skew``, one whose answer is the *biased answer*
    for its text: of the dealt type when the scene has such a question, else of another
    type that has one, else a balanced one. So under skew the mix of types shifts toward
    the types whose biased answer is common in the scenes (at ``skew=0.9``: about a third
    exists, a fifth scene, and only about 7% colour questions). The biased answers:

    - colour: the shape's :data:`FAVOURITE_COLOUR` (circles red, squares blue,
      triangles green, stars yellow, crosses purple);
    - shape: the colour's :data:`FAVOURITE_SHAPE` (red circle, blue square, green and
      orange triangle, yellow star, purple cross);
    - count: "two"; exists: "yes"; relation: "yes" for yes/no forms, "circle" for
      "what is ..." forms;
    - scene: the wording gives it away — form ``j`` of :data:`SCENE_QUESTIONS` is asked
      of scenes of type ``SCENE_TYPES[j]`` (otherwise the form is random).

    So a model that reads only the question can reach about ``skew`` (plus chance)
    accuracy — the modality bias of lesson 06.

    Args:
        scenes: a :class:`~mmcourse.world.scenes.SceneBatch`.
        per_scene: questions per scene (>= 1).
        seed: the same seed (and scenes) gives the same questions.
        types: the question types to ask (names from :data:`QUESTION_TYPES`).
        skew: in [0, 1]; 0 = balanced answers, 1 = answers always guessable when possible.

    Returns:
        A list of :class:`Question`, scene by scene.
    """
    if isinstance(per_scene, bool) or not isinstance(per_scene, (int, np.integer)) or per_scene < 1:
        raise ValueError(f"per_scene must be an integer >= 1, got {per_scene!r}")
    types = _validate_types(types)
    if isinstance(skew, bool) or not isinstance(skew, (int, float, np.floating)) or not 0.0 <= float(skew) <= 1.0:
        raise ValueError(f"skew must be a number in [0, 1], got {skew!r}")
    skew = float(skew)
    rnd = random.Random(_validate_seed(seed))
    w = _World(scenes)
    answers = answer_vocabulary()
    answer_id = {a: j for j, a in enumerate(answers)}

    counts = _descriptor_counts(scenes).tolist()  # (N, D)
    usable: list[list[str]] = []  # per scene: the types it can answer, in a random order
    cands: list[dict[str, dict[str, list[tuple[str, _Spec]]]]] = []  # per scene: type -> answer -> questions

    def pool(i: int, t: str) -> dict[str, list[tuple[str, _Spec]]]:
        if t not in cands[i]:
            cands[i][t] = _candidates(w, i, t, counts[i])
        return cands[i][t]

    # 1. deal out the question types: each usable type once, then round again over the
    #    types with questions left (the scene question is asked once)
    slots: list[tuple[int, str]] = []
    for i in range(w.n):
        order = list(types)
        rnd.shuffle(order)
        usable.append([t for t in order if _usable(w, i, t)])
        cands.append({})
        dealt: dict[str, int] = {}
        for j in range(per_scene):
            if j < len(usable[i]):
                t = usable[i][j]
            else:
                left = [
                    u
                    for u in usable[i]
                    if (1 if u == "scene" else sum(len(v) for v in pool(i, u).values())) > dealt.get(u, 0)
                ]
                if not left:
                    break
                t = left[(j - len(usable[i])) % len(left)]
            dealt[t] = dealt.get(t, 0) + 1
            slots.append((i, t))

    # 2. fit answer weights per type so the answers come out balanced
    weights: dict[str, dict[str, float]] = {}
    for t in types:
        rows = [pool(i, tt) for i, tt in slots if tt == t]
        flat = [r * len(answers) + answer_id[a] for r, c in enumerate(rows) for a in c]
        avail = np.zeros(len(rows) * len(answers), bool)  # (S_t * A,)
        avail[flat] = True
        fitted = _balance_weights(avail.reshape(len(rows), len(answers)))  # (A,)
        weights[t] = dict(zip(answers, fitted.tolist()))

    # 3. pick each slot's question
    out: list[Question] = []
    for i, t in slots:
        chosen: tuple[str, str, tuple[str, _Spec]] | None = None
        if skew > 0 and rnd.random() < skew:
            # a question whose answer is its text's biased answer: of the dealt type if
            # the scene has one, else of another type
            others = [u for u in usable[i] if u != t]
            rnd.shuffle(others)
            for u in (t, *others):
                biased = [(a, item) for a, items in pool(i, u).items() for item in items if item[0] == a]
                if biased:
                    chosen = (u, *_pick(rnd, biased))
                    break
        if chosen is None:
            c = pool(i, t)
            if not c:  # every question of this type was already asked of this scene
                continue
            answer = _weighted(rnd, [(a, weights[t][a]) for a in c])
            chosen = (t, answer, _pick(rnd, c[answer]))
        qtype, answer, item = chosen
        c = pool(i, qtype)
        c[answer].remove(item)
        if not c[answer]:
            del c[answer]
        if qtype == "scene":
            c.clear()  # one scene question per scene, whatever its wording
        text = _fix_articles(_question_text(rnd, w, i, item[1]))
        out.append(Question(scene=i, type=qtype, text=text, answer=answer))
    return out


# ----------------------------------------------------------------------------------------
# Recipes
# ----------------------------------------------------------------------------------------


@dataclass
class Recipe:
    """A recipe that paints scene ``scene``.

    ``steps[0]`` spreads the background; ``steps[1 + j]`` paints object ``order[j]`` of
    the scene. ``category`` indexes :data:`RECIPE_CATEGORIES`.
    """

    scene: int
    title: str
    ingredients: list[str]
    steps: list[str]
    category: int
    order: list[int]


def recipe_category(scenes: Any) -> np.ndarray:
    """Category of every scene's recipe: its *dominant shape* as an index into :data:`RECIPE_CATEGORIES`.

    The dominant shape is the shape with the largest total nominal area
    (``sum of SIZE_RADIUS[size] ** 2`` over its objects); on a tie, the shape of the
    object painted last (on top) wins. It is visible in both modalities: the recipe
    names every object's shape and size, and the image shows them. A scene without
    objects gets category 0. Returns (N,) int64.
    """
    _validate_scenes(scenes)
    shape = np.asarray(scenes.shape)  # (N, K)
    size = np.asarray(scenes.size)  # (N, K)
    n, k = shape.shape
    valid = np.arange(k)[None, :] < np.asarray(scenes.n_objects)[:, None]  # (N, K)
    area_units = np.rint(np.asarray(SIZE_RADIUS) ** 2 * 1e6).astype(np.int64)  # (Z,) exact integers
    area = np.where(valid, area_units[np.maximum(size, 0)], 0)  # (N, K)
    onehot = valid[:, :, None] & (shape[:, :, None] == np.arange(len(SHAPES))[None, None, :])  # (N, K, S)
    total = (onehot * area[:, :, None]).sum(1)  # (N, S)
    last = np.where(onehot, np.arange(k)[None, :, None] + 1, 0).max(1)  # (N, S) 1 + last painting index
    score = total * (k + 2) + last  # (N, S) area first, then the later object
    return score.argmax(1).astype(np.int64)  # (N,)


def _position_phrase(x: float, y: float) -> str:
    col = min(GRID - 1, max(0, int(x * GRID)))
    row = min(GRID - 1, max(0, int(y * GRID)))
    if row == GRID // 2 and col == GRID // 2:
        return CENTRE_PHRASE
    return f"at the {ROW_WORDS[row]} {COLUMN_WORDS[col]}"


def recipes(scenes: Any, seed: int = 0) -> list[Recipe]:
    """One recipe per scene: title, ingredients, and steps that paint it in order.

    ``steps[0]`` spreads the background (e.g. "first spread the sand over the plate"
    for a beach); then one step per object in painting order, e.g. "then place a large
    red star at the upper far left": size, colour, shape (synonyms allowed) and the cell
    of a 5x5 grid (rows top/upper/middle/lower/bottom, columns far left/left/centre/
    right/far right; the middle cell is "in the centre"). Later steps cover earlier
    ones, so another order paints another picture (:func:`render_recipe`).

    The ingredients list the base (e.g. "a cup of sand") and each kind of object with
    its count ("two small red stars"). ``category`` is the dominant shape
    (:func:`recipe_category`); the title names the scene type, the dominant shape and a
    dish ("beach star tart"; a scene without objects is a "plain beach tart").
    """
    rnd = random.Random(_validate_seed(seed))
    w = _World(scenes)
    x = np.asarray(scenes.x, np.float64).tolist()
    y = np.asarray(scenes.y, np.float64).tolist()
    categories = recipe_category(scenes).tolist()
    out: list[Recipe] = []
    for i in range(w.n):
        scene = SCENE_TYPES[w.scene_type[i]]
        n = w.n_objects[i]
        groups: dict[tuple[int, int, int], int] = {}
        for k in range(n):
            key = (w.size[i][k], w.colour[i][k], w.shape[i][k])
            groups[key] = groups.get(key, 0) + 1
        ingredients = [SCENE_INGREDIENTS.get(scene, scene)]
        for (z, c, s), count in groups.items():
            noun = SHAPES[s] if count == 1 else plural(SHAPES[s])
            ingredients.append(f"{COUNT_WORDS[count]} {SIZES[z]} {COLOUR_NAMES[c]} {noun}")
        steps = [_pick(rnd, SCENE_STEPS.get(scene, (f"first spread the {scene} over the plate",)))]
        for k in range(n):
            np_ = _noun_phrase(rnd, 1, w.size[i][k], w.colour[i][k], w.shape[i][k])
            steps.append(
                _fix_articles(
                    STEP_FRAME.format(
                        adverb=_pick(rnd, STEP_ADVERBS),
                        verb=_pick(rnd, STEP_VERBS),
                        np=np_,
                        position=_position_phrase(x[i][k], y[i][k]),
                    )
                )
            )
        category = int(categories[i])
        frame = TITLE_FRAME if n else EMPTY_TITLE_FRAME
        title = frame.format(
            adj=_adjective(scene), shape=_word(rnd, SHAPE_WORDS[RECIPE_CATEGORIES[category]]), dish=_pick(rnd, DISHES)
        )
        out.append(Recipe(i, title, ingredients, steps, category, list(range(n))))
    return out


_SHAPE_LOOKUP = {word: s for s, words in SHAPE_WORDS.items() for word in words}
_SHAPE_LOOKUP.update({plural(word): s for word, s in list(_SHAPE_LOOKUP.items())})
_SIZE_LOOKUP = {word: s for s, words in SIZE_WORDS.items() for word in words}


def _steps_of(steps: Any) -> list[str]:
    if isinstance(steps, Recipe):
        steps = steps.steps
    if isinstance(steps, str) or not isinstance(steps, Sequence) or not all(isinstance(s, str) for s in steps):
        raise ValueError("steps must be a list of step strings (or a Recipe)")
    return list(steps)


def _parse_step(step: str, index: int) -> dict | None:
    """An object step -> object dict; a background step -> None."""
    words = re.findall(r"[a-z]+", step.lower())
    shapes = [_SHAPE_LOOKUP[t] for t in words if t in _SHAPE_LOOKUP]
    if not shapes:
        if any(t in _SCENE_KEYWORDS for t in words):
            return None
        raise ValueError(f"steps[{index}] names neither an object nor a background: {step!r}")
    colours = [t for t in words if t in COLOUR_NAMES]
    sizes = [_SIZE_LOOKUP[t] for t in words if t in _SIZE_LOOKUP]
    if not colours or not sizes:
        raise ValueError(f"steps[{index}] must name a size and a colour: {step!r}")
    text = " ".join(words)
    if "in the centre" in text:
        row = col = GRID // 2
    else:
        rows = [ROW_WORDS.index(t) for t in words if t in ROW_WORDS]
        if not rows:
            raise ValueError(f"steps[{index}] has no position (e.g. 'at the upper left'): {step!r}")
        row = rows[0]
        after = " ".join(words[words.index(ROW_WORDS[row]) + 1 :])
        longest_first = sorted(range(GRID), key=lambda c: -len(COLUMN_WORDS[c]))  # "far left" before "left"
        col = next((c for c in longest_first if after.startswith(COLUMN_WORDS[c])), None)
        if col is None:
            raise ValueError(f"steps[{index}] has no column word after {ROW_WORDS[row]!r}: {step!r}")
    return {
        "shape": shapes[0],
        "colour": colours[0],
        "size": sizes[0],
        "x": (col + 0.5) / GRID,
        "y": (row + 0.5) / GRID,
        "radius": SIZE_RADIUS[SIZES.index(sizes[0])],
    }


def parse_recipe_steps(steps: Sequence[str] | Recipe) -> list[dict]:
    """Read a recipe's steps back into objects, in the order of the steps.

    Each object step gives a dict with ``shape``, ``colour``, ``size`` (names), ``x``,
    ``y`` (the centre of its 5x5 grid cell) and ``radius`` (the size's nominal radius) —
    what :func:`mmcourse.world.scenes.make_scene` takes. Background steps are skipped
    (:func:`recipe_scene_type` reads them). A step that names an object without a size,
    a colour or a position raises ``ValueError``.
    """
    objects = []
    for index, step in enumerate(_steps_of(steps)):
        obj = _parse_step(step, index)
        if obj is not None:
            objects.append(obj)
    return objects


def recipe_scene_type(steps: Sequence[str] | Recipe) -> str:
    """The scene type that a recipe's background step spreads (e.g. "beach" for sand)."""
    for step in _steps_of(steps):
        for token in re.findall(r"[a-z]+", step.lower()):
            if token in _SCENE_KEYWORDS:
                return _SCENE_KEYWORDS[token]
    raise ValueError("steps have no background step (sand, moss, concrete or ink)")


def render_recipe(
    recipe: Recipe | Sequence[str], order: Sequence[int] | None = None, size: int = 64, variation: int = 0
) -> Rendered:
    """Paint a recipe: parse its steps and render them, object steps in ``order``.

    Args:
        recipe: a :class:`Recipe` or its list of steps.
        order: a permutation of the object steps (``order[0]`` is painted first);
            ``None`` paints them as written.
        size: image side (32, 64 or 128).
        variation: the background's random details (see ``make_scene``).

    Returns:
        The :class:`~mmcourse.world.scenes.Rendered` of the one scene (``images`` (1, S, S, 3)).
    """
    objects = parse_recipe_steps(recipe)
    if order is not None:
        order = [int(j) for j in order]
        if sorted(order) != list(range(len(objects))):
            raise ValueError(f"order must be a permutation of 0..{len(objects) - 1}, got {order}")
        objects = [objects[j] for j in order]
    scene = make_scene(objects, recipe_scene_type(recipe), variation=variation)
    return render(scene, size=size)


# ----------------------------------------------------------------------------------------
# The grammar's words
# ----------------------------------------------------------------------------------------


def grammar_words() -> list[str]:
    """Every word (token) a caption, question, answer, recipe title, ingredient or step
    can contain, sorted. Used to build the course vocabulary."""
    texts: list[str] = ["a an the and there is are ,"]
    texts += [*COUNT_WORDS, *COLOUR_NAMES, *GENERIC_NOUNS, *map(plural, GENERIC_NOUNS)]
    for words in SHAPE_WORDS.values():
        texts += [*words, *map(plural, words)]
    for words in SIZE_WORDS.values():
        texts += list(words)
    for scene in SCENE_TYPES:
        texts += [*_places(scene), _adjective(scene), SCENE_INGREDIENTS.get(scene, scene)]
        texts += list(SCENE_STEPS.get(scene, (f"first spread the {scene} over the plate",)))
    for phrases in RELATION_PHRASES.values():
        texts += list(phrases)
    frames = (*LIST_FRAMES, *RELATION_FRAMES, *COUNT_FRAMES, *SCENE_FRAMES, *EMPTY_FRAMES)
    frames += (*COLOUR_QUESTIONS, *SHAPE_QUESTIONS, *COUNT_QUESTIONS, *EXISTS_QUESTIONS)
    frames += (*RELATION_WHAT_QUESTIONS, *RELATION_YESNO_QUESTIONS, *SCENE_QUESTIONS)
    frames += (STEP_FRAME, TITLE_FRAME, EMPTY_TITLE_FRAME)
    texts += [re.sub(r"\{[A-Za-z_]+\}", " ", f) for f in frames]
    texts += [*STEP_ADVERBS, *STEP_VERBS, *ROW_WORDS, *COLUMN_WORDS, CENTRE_PHRASE, "at the", *DISHES]
    texts += answer_vocabulary()
    words = set()
    for text in texts:
        words.update(tokenize(text))
    return sorted(words)
