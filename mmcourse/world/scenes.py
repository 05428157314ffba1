"""Scenes of the course world: sampling them and rendering them to images.

A scene is a background of one scene type (beach, forest, city, night) and a few
objects, each with a shape, a colour, a size and a position. :func:`sample_scenes`
draws a whole :class:`SceneBatch` at once (vectorised, with rejection sampling of the
positions so that no object is hidden by the ones in front of it), and :func:`render`
turns a batch into images together with the exact ground truth: each object's mask,
its visible part and its box.

Everything is deterministic: the same ``seed`` gives the same bytes, and a scene looks
the same whether it is rendered alone or in a batch of ten thousand.

Backgrounds are textured and recognisable: a beach has sky, a sea band with waves and
sand; a forest leaves, tree trunks and a floor; a city buildings with windows and a
street; a night a dark sky with stars and hills. Each scene type has a few hundred
random layouts, and every scene shows one of them shifted sideways by a random amount,
so no two scenes need to look alike (see ``_layout_bank``).

Shapes are drawn from their signed distance functions (SDF): for every pixel the SDF
says how far (in pixels) its centre is from the shape's outline, negative inside. The
pixel's coverage ``clip(0.5 - sdf, 0, 1)`` gives smooth, anti-aliased edges, and the
mask is the set of pixels whose centre is inside (``coverage > 0.5``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from .catalog import COLOUR_NAMES, COLOURS, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZE_RADIUS, SIZES, index_of

GENERATOR_VERSION = "1"
"""Version of the scene generator and renderer; part of every dataset's cache key.

Bump it whenever a change makes the same seed give different scenes or pixels."""

ALLOWED_SIZES: tuple[int, ...] = (32, 64, 128)
"""Image sizes :func:`render` can make (pixels per side)."""

MAX_OBJECTS = len(COUNT_WORDS) - 1
"""At most this many objects in a scene (the captions have number words up to it)."""

RADIUS_JITTER = 0.1
"""An object's radius is its size's nominal radius times ``1 ± RADIUS_JITTER``."""

_EDGE_MARGIN = 0.02  # keep objects this far (fraction of the side) from the image border
_PLACE_TRIES = 10  # rounds of candidates per object before the scene's layout restarts
_RESTARTS = 20  # layout restarts before giving up on a scene
_GAP = 0.008  # with max_overlap=0, objects keep this gap (fraction of the side) between them
_REACH = 1.35  # every shape lies within this many radii of its centre
_CHUNK_PIXELS = 1 << 21  # render about this many pixels per chunk (bounds memory)

# Shape geometry in units of the object's radius (half-extent); see _sdf.
_SQUARE_HALF = 0.86  # a square's half side (so its area is close to the circle's)
_CROSS_ARM = 0.34  # half width of a cross's arms
_STAR_INNER = 0.45  # sharpness of the star's points (0 = needles, 1 = a pentagon)
_TRIANGLE_HEIGHT = 1.85  # apex at -1 (top), base at +0.85, half base 1


# ----------------------------------------------------------------------------------------
# The scene batch
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class SceneBatch:
    """A batch of ``N`` scenes with up to ``K`` objects each (padded arrays).

    Objects are painted in order ``k = 0 .. n-1``, so a later object is in front of
    earlier ones. Padding (``k >= n_objects``) is ``-1`` in the integer arrays, ``nan``
    in the float arrays and ``False`` in ``sounding``.
    """

    scene_type: np.ndarray  # (N,) int64 index into SCENE_TYPES
    n_objects: np.ndarray  # (N,) int64
    shape: np.ndarray  # (N, K) int64 index into SHAPES; -1 padding
    colour: np.ndarray  # (N, K) int64 index into COLOUR_NAMES; -1 padding
    size: np.ndarray  # (N, K) int64 index into SIZES; -1 padding
    x: np.ndarray  # (N, K) float32 centre, fraction of width (0 = left); nan padding
    y: np.ndarray  # (N, K) float32 centre, fraction of height (0 = top); nan padding
    radius: np.ndarray  # (N, K) float32 half-extent, fraction of the side; nan padding
    sounding: np.ndarray  # (N, K) bool: objects heard in the scene's sound clip
    variation: np.ndarray | None = None  # (N,) int64 seed of each scene's background details

    def __post_init__(self) -> None:
        if self.variation is None:
            self.variation = np.zeros(len(self.scene_type), dtype=np.int64)  # (N,)

    def __len__(self) -> int:
        return int(self.scene_type.shape[0])

    @property
    def max_objects(self) -> int:
        """``K``: the padded number of object slots."""
        return int(self.shape.shape[1])

    def __getitem__(self, index: Any) -> "SceneBatch":
        """A sub-batch: ``index`` is an int, a slice, or an index / boolean array."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            n = len(self)
            if not -n <= int(index) < n:
                raise IndexError(f"index {index} is out of range for a batch of {n} scenes")
            index = [int(index) % n]
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype != bool and not np.issubdtype(index.dtype, np.integer):
                raise TypeError(f"index must be an int, a slice or an int/bool array, got {index.dtype}")
        fields = {f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}
        return SceneBatch(**fields)

    def objects(self, i: int) -> list[dict]:
        """The objects of scene ``i`` as plain dicts, in painting order."""
        out = []
        for k in range(int(self.n_objects[i])):
            out.append(
                {
                    "shape": SHAPES[self.shape[i, k]],
                    "colour": COLOUR_NAMES[self.colour[i, k]],
                    "size": SIZES[self.size[i, k]],
                    "x": float(self.x[i, k]),
                    "y": float(self.y[i, k]),
                    "radius": float(self.radius[i, k]),
                    "sounding": bool(self.sounding[i, k]),
                }
            )
        return out

    def describe(self, i: int) -> str:
        """One line describing scene ``i``, for printing."""
        parts = [
            f"{o['size']} {o['colour']} {o['shape']} at ({o['x']:.2f}, {o['y']:.2f})"
            + (" (sounding)" if o["sounding"] else "")
            for o in self.objects(i)
        ]
        return f"{SCENE_TYPES[self.scene_type[i]]}: " + ("; ".join(parts) if parts else "no objects")

    def __repr__(self) -> str:
        return f"SceneBatch({len(self)} scenes, up to {self.max_objects} objects)"


# ----------------------------------------------------------------------------------------
# Shapes as signed distance functions
# ----------------------------------------------------------------------------------------
#
# Each function takes offsets ``u, v`` from the object's centre (v pointing down) and the
# radius ``r`` in the same unit, and returns the signed distance in that unit. The
# arguments broadcast: when rendering, ``u`` is (m, 1, P) and ``v`` is (m, P, 1), so most
# of the work happens on rows and columns and only a few operations touch the full
# (m, P, P) patch. Polygons are intersections of half-planes (``max`` of the distances to
# their edge lines): exact inside and along the edges, which is all that anti-aliasing
# needs; the star is folded onto one half point by its mirror symmetries and is exact.

_TRI_NORM = float(np.hypot(1.0, _TRIANGLE_HEIGHT))  # length of a slanted side's normal (H, 1)


def _sdf_circle(u: np.ndarray, v: np.ndarray, r: Any) -> np.ndarray:
    return np.sqrt(u * u + v * v) - r  # (...)


def _sdf_square(u: np.ndarray, v: np.ndarray, r: Any) -> np.ndarray:
    return np.maximum(np.abs(u) - _SQUARE_HALF * r, np.abs(v) - _SQUARE_HALF * r)  # (...)


def _sdf_triangle(u: np.ndarray, v: np.ndarray, r: Any) -> np.ndarray:
    """Isosceles triangle: apex up at v = -r, base at v = +0.85 r, half base r."""
    slant_u = np.abs(u) * (_TRIANGLE_HEIGHT / _TRI_NORM)  # (..., 1, P) slanted sides, u part
    slant_v = (v + r) * (1.0 / _TRI_NORM)  # (..., P, 1) v part
    base_cap = np.maximum(v - (_TRIANGLE_HEIGHT - 1.0) * r, -v - r)  # (..., P, 1) base line, apex cap
    return np.maximum(slant_u - slant_v, base_cap)  # (...)


def _sdf_cross(u: np.ndarray, v: np.ndarray, r: Any) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)  # (...)
    bar_h = np.maximum(au - r, av - _CROSS_ARM * r)  # (...) horizontal bar
    bar_v = np.maximum(au - _CROSS_ARM * r, av - r)  # (...) vertical bar
    return np.minimum(bar_h, bar_v)  # (...)


_K1 = (0.809016994375, -0.587785252292)  # (cos 36°, -sin 36°): the star's mirror axis


def _sdf_star(u: np.ndarray, v: np.ndarray, r: Any) -> np.ndarray:
    """Five-pointed star of outer radius r, one point up."""
    k1x, k1y = _K1
    px, py = np.abs(u), -v  # (...) y up
    for kx, ky in ((k1x, k1y), (-k1x, k1y)):  # fold onto one point
        d = 2.0 * np.maximum(kx * px + ky * py, 0.0)  # (...)
        px = px - d * kx  # (...)
        py = py - d * ky  # (...)
    px = np.abs(px)  # (...)
    py = py - r  # (...) tip at the origin
    bax, bay = -_STAR_INNER * k1y, _STAR_INNER * k1x - 1.0  # the point's edge, per unit radius
    h = np.clip((px * bax + py * bay) * (1.0 / (bax * bax + bay * bay)), 0.0, r)  # (...)
    dx, dy = px - bax * h, py - bay * h  # (...)
    return np.sqrt(dx * dx + dy * dy) * np.sign(py * bax - px * bay)  # (...)


_SDFS = {
    "circle": _sdf_circle,
    "square": _sdf_square,
    "triangle": _sdf_triangle,
    "star": _sdf_star,
    "cross": _sdf_cross,
}


def _sdf(shape: np.ndarray, u: np.ndarray, v: np.ndarray, r: np.ndarray | float = 1.0) -> np.ndarray:
    """Signed distances for objects of mixed shapes.

    ``shape`` is (M,) shape indices; ``u``, ``v`` are offsets from each object's centre
    with a leading axis of length M (they broadcast against each other); ``r`` is each
    object's radius, a number or an array with the same leading axis. Returns the
    broadcast shape (M, ...) in the unit of ``u``.
    """
    out = np.empty(np.broadcast_shapes(u.shape, v.shape), dtype=np.float32)  # (M, ...)
    r_arr = isinstance(r, np.ndarray)
    for s, name in enumerate(SHAPES):
        sel = np.flatnonzero(shape == s)  # (m,)
        if sel.size:
            out[sel] = _SDFS[name](u[sel], v[sel], r[sel] if r_arr else r)
    return out


def _corner_angles(name: str) -> list[float]:
    """Directions (radians, v pointing down) from the centre to a shape's corners."""
    if name == "square":
        return [np.pi / 4 + q * np.pi / 2 for q in range(4)]
    if name == "triangle":
        base = np.arctan2(_TRIANGLE_HEIGHT - 1.0, 1.0)
        return [-np.pi / 2, base, np.pi - base]
    if name == "star":
        return [-np.pi / 2 + q * np.pi / 5 for q in range(10)]
    if name == "cross":
        out = [np.pi / 4 + q * np.pi / 2 for q in range(4)]
        for q in range(4):
            out += [np.arctan2(_CROSS_ARM, 1.0) + q * np.pi / 2, np.arctan2(1.0, _CROSS_ARM) + q * np.pi / 2]
        return out
    return []


@functools.lru_cache(maxsize=None)
def _shape_samples(per_side: int = 16, outline: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points that stand for each shape when measuring overlap.

    Returns ``(u, v, weight)``, each (len(SHAPES), Q), in units of the radius: a grid of
    points inside the shape (weight 1), then points just inside its outline in evenly
    spread directions and at its corners (weight 0: they only count when testing whether
    two shapes touch at all). Unused slots have weight 0 and sit at the centre.
    """
    g = (np.arange(per_side) + 0.5) / per_side * 2 - 1  # (G,)
    gu, gv = np.meshgrid(g, g)  # (G, G)
    gu, gv = gu.ravel(), gv.ravel()  # (G*G,)
    n_edge = outline + max(len(_corner_angles(name)) for name in SHAPES)
    q = per_side * per_side + n_edge
    us = np.zeros((len(SHAPES), q), np.float32)  # (S, Q)
    vs = np.zeros((len(SHAPES), q), np.float32)  # (S, Q)
    ws = np.zeros((len(SHAPES), q), np.float32)  # (S, Q)
    t = np.linspace(0, 1.5, 1501)[:, None]  # (T, 1) distances along a ray
    for s, name in enumerate(SHAPES):
        inside = _sdf(np.array([s]), gu[None], gv[None])[0] < 0  # (G*G,)
        n_in = int(inside.sum())
        us[s, :n_in], vs[s, :n_in], ws[s, :n_in] = gu[inside], gv[inside], 1.0
        # march rays from the centre, keep the last point of each ray still inside
        angle = np.concatenate([np.linspace(0, 2 * np.pi, outline, endpoint=False), _corner_angles(name)])  # (A,)
        ru, rv = np.cos(angle), np.sin(angle)  # (A,)
        sdf = _sdf(np.full(len(t), s), t * ru, t * rv)  # (T, A)
        last = (sdf < -0.005).cumprod(0).sum(0) - 1  # (A,)
        tb = t[last, 0]  # (A,)
        us[s, n_in : n_in + len(angle)] = tb * ru
        vs[s, n_in : n_in + len(angle)] = tb * rv
    for a in (us, vs, ws):
        a.setflags(write=False)  # shared by every call (cached)
    return us, vs, ws


# ----------------------------------------------------------------------------------------
# Sampling scenes
# ----------------------------------------------------------------------------------------


def _names_to_indices(kind: str, values: Iterable[Any], choices: tuple[str, ...]) -> list[int]:
    out = []
    for value in values:
        try:
            out.append(index_of(kind, value, choices))
        except ValueError as error:
            raise ValueError(f"{kind}: {error}") from None
    return out


def _validate_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _allowed_pairs(exclude: Iterable[Any] | None) -> np.ndarray:
    """Indices ``colour * len(SHAPES) + shape`` of the (colour, shape) pairs that may appear."""
    allowed = np.ones((len(COLOUR_NAMES), len(SHAPES)), dtype=bool)  # (C, S)
    if exclude is None:
        return np.flatnonzero(allowed)
    if isinstance(exclude, (str, bytes)):
        raise ValueError(f"exclude must be an iterable of (colour, shape) pairs, got the string {exclude!r}")
    for pair in exclude:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"exclude must hold (colour, shape) pairs, got {pair!r}")
        colour, shape = pair
        if colour not in COLOUR_NAMES:
            raise ValueError(f"exclude: unknown colour {colour!r}; expected one of {list(COLOUR_NAMES)}")
        if shape not in SHAPES:
            raise ValueError(f"exclude: unknown shape {shape!r}; expected one of {list(SHAPES)}")
        allowed[COLOUR_NAMES.index(colour), SHAPES.index(shape)] = False
    if not allowed.any():
        raise ValueError("exclude leaves no (colour, shape) pair to draw from")
    return np.flatnonzero(allowed)


def _place(
    rng: np.random.Generator,
    shape: np.ndarray,
    radius: np.ndarray,
    n_objects: np.ndarray,
    max_overlap: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw object centres so that no object has more than ``max_overlap`` of its area covered.

    Rejection sampling, vectorised over scenes. Objects are placed from the largest to
    the smallest (small ones fit in the gaps left), one slot at a time in all scenes at
    once; every scene draws a few candidate positions, keeps the first that breaks no
    rule, and the scenes left without one draw again (with more candidates each time).
    A scene that fails too often starts its layout again. The covered fraction of an
    object is measured on points spread over its shape (see :func:`_shape_samples`),
    counting only the objects painted after it; with ``max_overlap=0`` the shapes keep a
    small gap between them. Returns ``x, y`` (N, K) float32 with nan padding.
    """
    n, k_max = shape.shape
    su, sv, sw = _shape_samples()  # (S, Q) each
    w_total = sw.sum(1)  # (S,)
    order = np.argsort(-np.nan_to_num(radius, nan=-1.0), axis=1, kind="stable")  # (N, K) largest first
    x = np.full((n, k_max), np.nan, np.float32)  # (N, K)
    y = np.full((n, k_max), np.nan, np.float32)  # (N, K)
    todo = np.arange(n)  # scenes still to lay out
    for _restart in range(_RESTARTS):
        if todo.size == 0:
            break
        failed = np.zeros(n, dtype=bool)  # (N,)
        sh = np.where(shape[todo] >= 0, shape[todo], 0)  # (T, K)
        covered = np.zeros((len(todo), k_max, su.shape[1]), dtype=bool)  # (T, K, Q) points under later objects
        for j in range(k_max):
            pending = np.flatnonzero(n_objects[todo] > j)  # (m,) rows of todo that need a j-th object
            for attempt in range(_PLACE_TRIES):
                if pending.size == 0:
                    break
                per = min(64, 2 << attempt)  # candidates per scene
                cand = np.repeat(pending, per)  # (c,) row of todo of each candidate
                rows = todo[cand]  # (c,) scene of each candidate
                kk = order[rows, j]  # (c,) the object being placed
                r = radius[rows, kk]  # (c,)
                lo = r + _EDGE_MARGIN  # (c,)
                cx = (lo + rng.random(len(rows)) * (1 - 2 * lo)).astype(np.float32)  # (c,)
                cy = (lo + rng.random(len(rows)) * (1 - 2 * lo)).astype(np.float32)  # (c,)
                ok = np.ones(len(rows), dtype=bool)  # (c,)
                cover_new = covered[cand, kk]  # (c, Q) points of the new object under later objects
                updates = []  # (candidates, object, its covered points) to keep if a candidate is picked
                for slot in range(j):
                    ii = order[rows, slot]  # (c,) an object already placed
                    ri = radius[rows, ii]  # (c,)
                    reach = _REACH * (ri + r) + _GAP  # (c,) farther apart than this, the two cannot touch
                    near = np.flatnonzero((x[rows, ii] - cx) ** 2 + (y[rows, ii] - cy) ** 2 < reach**2)  # (c',)
                    if near.size == 0:
                        continue
                    rn, a, b = rows[near], ii[near], kk[near]  # (c',)
                    si, sk = sh[cand[near], a], sh[cand[near], b]  # (c',) shapes
                    # points of the placed object i, seen from the new object, and the other way round
                    d_ik = _sdf(
                        shape[rn, b],
                        x[rn, a, None] + ri[near, None] * su[si] - cx[near, None],
                        y[rn, a, None] + ri[near, None] * sv[si] - cy[near, None],
                        r[near, None],
                    )  # (c', Q) < 0: point of i under the new object
                    d_ki = _sdf(
                        shape[rn, a],
                        cx[near, None] + r[near, None] * su[sk] - x[rn, a, None],
                        cy[near, None] + r[near, None] * sv[sk] - y[rn, a, None],
                        ri[near, None],
                    )  # (c', Q) < 0: point of the new object under i
                    if max_overlap == 0:
                        bad = (d_ik < _GAP).any(1) | (d_ki < _GAP).any(1)  # (c',)
                    else:
                        first = a < b  # (c',) i is painted first, so the new object covers it
                        hit_i = covered[cand[near], a] | ((d_ik < 0) & first[:, None])  # (c', Q)
                        updates.append((near, a, hit_i))
                        cover_new[near] |= (d_ki < 0) & ~first[:, None]
                        bad = (hit_i * sw[si]).sum(1) / w_total[si] > max_overlap + 1e-9  # (c',)
                    ok[near[bad]] = False
                if max_overlap > 0 and j > 0:
                    sk = sh[cand, kk]  # (c,)
                    ok &= (cover_new * sw[sk]).sum(1) / w_total[sk] <= max_overlap + 1e-9
                ok = ok.reshape(-1, per)  # (m, per)
                placed = ok.any(1)  # (m,)
                pick = (np.arange(len(pending)) * per + ok.argmax(1))[placed]  # first good candidate
                done = pending[placed]
                x[todo[done], kk[pick]], y[todo[done], kk[pick]] = cx[pick], cy[pick]
                covered[done, kk[pick]] = cover_new[pick]
                chosen = np.zeros(len(rows), dtype=bool)  # (c,)
                chosen[pick] = True
                for near, a, hit_i in updates:
                    keep = chosen[near]  # (c',)
                    covered[cand[near[keep]], a[keep]] = hit_i[keep]
                pending = pending[~placed]
            failed[todo[pending]] = True
        x[failed], y[failed] = np.nan, np.nan
        todo = np.flatnonzero(failed)
    if todo.size:
        raise ValueError(
            f"could not place the objects of {todo.size} scenes without covering more than "
            f"max_overlap={max_overlap} of an object; lower max_objects or raise max_overlap"
        )
    return x, y


def sample_scenes(
    n: int,
    seed: int = 0,
    min_objects: int = 1,
    max_objects: int = 4,
    max_overlap: float = 0.25,
    exclude: Iterable[tuple[str, str]] | None = None,
    scene_types: Iterable[str] | None = None,
    sounding_fraction: float = 0.5,
) -> SceneBatch:
    """Draw ``n`` random scenes.

    Args:
        n: number of scenes (>= 1).
        seed: the same seed gives the same scenes.
        min_objects, max_objects: each scene has a uniformly drawn number of objects in
            this range (``max_objects`` <= 6).
        max_overlap: the largest fraction of an object's area that the objects painted
            after it may cover (0 = objects never touch, 1 = anything goes).
        exclude: (colour, shape) pairs that never appear, e.g. ``[("red", "star")]`` to
            hold out a combination for a zero-shot test.
        scene_types: the scene types to draw from (all by default).
        sounding_fraction: each object is heard in the scene's sound clip with this
            probability; when it is > 0 every scene has at least one sounding object.

    Returns:
        A :class:`SceneBatch` with ``K = max_objects`` object slots.
    """
    n = _validate_int("n", n, 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    min_objects = _validate_int("min_objects", min_objects, 0, MAX_OBJECTS)
    max_objects = _validate_int("max_objects", max_objects, 1, MAX_OBJECTS)
    if min_objects > max_objects:
        raise ValueError(f"min_objects ({min_objects}) must be <= max_objects ({max_objects})")
    if not isinstance(max_overlap, (int, float)) or not 0.0 <= max_overlap <= 1.0:
        raise ValueError(f"max_overlap must be a number in [0, 1], got {max_overlap!r}")
    if not isinstance(sounding_fraction, (int, float)) or not 0.0 <= sounding_fraction <= 1.0:
        raise ValueError(f"sounding_fraction must be a number in [0, 1], got {sounding_fraction!r}")
    pairs = _allowed_pairs(exclude)  # (P,)
    if scene_types is None:
        types = np.arange(len(SCENE_TYPES))  # (T,)
    else:
        if isinstance(scene_types, str):
            scene_types = [scene_types]
        types = np.array(_names_to_indices("scene_types", scene_types, SCENE_TYPES), dtype=np.int64)  # (T,)
        if types.size == 0:
            raise ValueError("scene_types must name at least one scene type")

    rng = np.random.default_rng(int(seed))
    k_max = max_objects
    scene_type = types[rng.integers(0, len(types), n)].astype(np.int64)  # (N,)
    n_objects = rng.integers(min_objects, max_objects + 1, n).astype(np.int64)  # (N,)
    present = np.arange(k_max)[None, :] < n_objects[:, None]  # (N, K)
    pair = pairs[rng.integers(0, len(pairs), (n, k_max))]  # (N, K)
    colour = np.where(present, pair // len(SHAPES), -1).astype(np.int64)  # (N, K)
    shape = np.where(present, pair % len(SHAPES), -1).astype(np.int64)  # (N, K)
    size = np.where(present, rng.integers(0, len(SIZES), (n, k_max)), -1).astype(np.int64)  # (N, K)
    jitter = 1 + RADIUS_JITTER * (2 * rng.random((n, k_max)) - 1)  # (N, K)
    nominal = np.asarray(SIZE_RADIUS, np.float64)[np.maximum(size, 0)]  # (N, K)
    radius = np.where(present, nominal * jitter, np.nan).astype(np.float32)  # (N, K)
    sounding = present & (rng.random((n, k_max)) < sounding_fraction)  # (N, K)
    if sounding_fraction > 0:
        silent = (n_objects > 0) & ~sounding.any(1)  # (N,)
        pick = (rng.random(n) * np.maximum(n_objects, 1)).astype(np.int64)  # (N,)
        sounding[np.flatnonzero(silent), pick[silent]] = True
    variation = rng.integers(0, 2**31 - 1, n).astype(np.int64)  # (N,)
    x, y = _place(rng, shape, radius, n_objects, float(max_overlap))  # (N, K) each
    return SceneBatch(scene_type, n_objects, shape, colour, size, x, y, radius, sounding, variation)


_OBJECT_KEYS = ("shape", "colour", "size", "x", "y", "radius", "sounding")


def make_scene(objects: list[dict], scene_type: str, variation: int = 0) -> SceneBatch:
    """One hand-made scene (a batch of length 1).

    Each object is a dict with ``"shape"`` and ``"colour"`` (names), and optionally
    ``"size"`` (default ``"large"``), ``"x"`` and ``"y"`` (centre as fractions of the
    side; by default the objects stand in a row across the middle), ``"radius"``
    (default: the size's nominal radius) and ``"sounding"`` (default ``True``).
    ``variation`` picks the background's random details.
    """
    if not isinstance(objects, (list, tuple)):
        raise ValueError(f"objects must be a list of dicts, got {type(objects).__name__}")
    if isinstance(variation, bool) or not isinstance(variation, (int, np.integer)) or variation < 0:
        raise ValueError(f"variation must be a non-negative integer, got {variation!r}")
    if len(objects) > MAX_OBJECTS:
        raise ValueError(f"objects: at most {MAX_OBJECTS} objects fit in a scene, got {len(objects)}")
    st = index_of("scene_type", scene_type, SCENE_TYPES)
    n = len(objects)
    k_max = max(n, 1)
    shape = np.full((1, k_max), -1, np.int64)  # (1, K)
    colour = np.full((1, k_max), -1, np.int64)  # (1, K)
    size = np.full((1, k_max), -1, np.int64)  # (1, K)
    x = np.full((1, k_max), np.nan, np.float32)  # (1, K)
    y = np.full((1, k_max), np.nan, np.float32)  # (1, K)
    radius = np.full((1, k_max), np.nan, np.float32)  # (1, K)
    sounding = np.zeros((1, k_max), bool)  # (1, K)
    for k, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise ValueError(f"objects[{k}] must be a dict, got {type(obj).__name__}")
        unknown = set(obj) - set(_OBJECT_KEYS)
        if unknown:
            raise ValueError(f"objects[{k}] has unknown keys {sorted(unknown)}; allowed: {list(_OBJECT_KEYS)}")
        for key in ("shape", "colour"):
            if key not in obj:
                raise ValueError(f"objects[{k}] needs a {key!r}")
        shape[0, k] = index_of(f"objects[{k}] shape", obj["shape"], SHAPES)
        colour[0, k] = index_of(f"objects[{k}] colour", obj["colour"], COLOUR_NAMES)
        size[0, k] = index_of(f"objects[{k}] size", obj.get("size", "large"), SIZES)
        r = float(obj.get("radius", SIZE_RADIUS[size[0, k]]))
        if not 0.02 <= r <= 0.45:
            raise ValueError(f"objects[{k}] radius must be in [0.02, 0.45], got {r}")
        radius[0, k] = r
        if ("x" in obj) != ("y" in obj):
            raise ValueError(f"objects[{k}] needs both 'x' and 'y' or neither")
        cx, cy = (float(obj["x"]), float(obj["y"])) if "x" in obj else ((k + 0.5) / n, 0.5)
        for name, value in (("x", cx), ("y", cy)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"objects[{k}] {name} must be in [0, 1], got {value}")
        x[0, k], y[0, k] = cx, cy
        sounding[0, k] = bool(obj.get("sounding", True))
    return SceneBatch(
        np.array([st], np.int64),
        np.array([n], np.int64),
        shape,
        colour,
        size,
        x,
        y,
        radius,
        sounding,
        np.array([int(variation)], np.int64),
    )


# ----------------------------------------------------------------------------------------
# Deterministic per-scene randomness (counter-based hashing)
# ----------------------------------------------------------------------------------------
#
# The random details of a background come from hashing (key, purpose, pixel) rather than
# from a random generator's stream, so a scene looks the same in any batch and any chunk.

_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)
_GOLDEN = np.uint32(0x9E3779B1)


def _mix(h: np.ndarray | int) -> np.ndarray:
    """A 32-bit integer hash (bijective avalanche mixer); uint32 in, uint32 out."""
    h = np.asarray(h).astype(np.uint32)
    with np.errstate(over="ignore"):  # multiplication modulo 2**32 is intended
        h = h ^ (h >> np.uint32(16))
        h = h * _M1
        h = h ^ (h >> np.uint32(15))
        h = h * _M2
        return h ^ (h >> np.uint32(16))


def _to_unit(h: np.ndarray) -> np.ndarray:
    """uint32 hashes -> float32 in [0, 1) (top 24 bits)."""
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))


def _salted(key: np.ndarray, salt: int) -> np.ndarray:
    """Per-scene keys for one purpose: (m,) uint32."""
    return _mix(key ^ _mix(salt))


def _scene_params(key: np.ndarray, salt: int, count: int) -> np.ndarray:
    """``count`` uniform numbers in [0, 1) per scene: (m, count) float32."""
    with np.errstate(over="ignore"):
        counter = np.arange(1, count + 1, dtype=np.uint32) * _GOLDEN  # (count,)
    return _to_unit(_mix(_salted(key, salt)[:, None] ^ counter[None, :]))  # (m, count)


def _pixel_noise(key: np.ndarray, salt: int, s: int) -> np.ndarray:
    """Independent uniform noise per pixel: (m, S, S) float32 in [0, 1).

    The pixel part of the hash is shared by all scenes and the scene part by all
    pixels, so per pixel only one cheap mixing round is left to do.
    """
    with np.errstate(over="ignore"):
        cell = _mix(np.arange(s * s, dtype=np.uint32) * _GOLDEN + np.uint32(salt)).reshape(1, s, s)  # (1, S, S)
        h = (_salted(key, salt)[:, None, None] ^ cell) * _M1  # (m, S, S)
    h ^= h >> np.uint32(15)
    return _to_unit(h)  # (m, S, S)


def _smooth_noise(key: np.ndarray, salt: int, s: int, cells: int) -> np.ndarray:
    """Value noise: random values on a coarse lattice, smoothly interpolated: (m, S, S) in [0, 1].

    The noise is periodic from left to right (the lattice's last column repeats its first).
    """
    lattice = _scene_params(key, salt, (cells + 1) ** 2).reshape(-1, cells + 1, cells + 1)  # (m, C+1, C+1)
    lattice[:, :, cells] = lattice[:, :, 0]
    t = (np.arange(s, dtype=np.float32) + 0.5) / s * cells  # (S,)
    i0 = np.minimum(t.astype(np.int64), cells - 1)  # (S,)
    f = t - i0  # (S,)
    f = f * f * (3 - 2 * f)  # (S,) smoothstep: no visible lattice creases
    w = np.zeros((s, cells + 1), np.float32)  # (S, C+1) interpolation weights
    w[np.arange(s), i0] = 1 - f
    w[np.arange(s), i0 + 1] = f
    return np.matmul(np.matmul(w, lattice), w.T)  # (m, S, S)


# ----------------------------------------------------------------------------------------
# Backgrounds
# ----------------------------------------------------------------------------------------
#
# A background is painted with "materials": each material is a ramp of _LEVELS colours
# between two end colours, and a background function returns, per pixel, the code
# ``material * _LEVELS + level``; one table look-up then gives the RGB image.
#
# Each scene type has _LAYOUTS random layouts (horizon height, trunks, buildings, noise...),
# all periodic from left to right. A scene shows one layout, shifted sideways by a random
# number of pixels: so every scene gets its own background while a batch of ten thousand
# scenes only needs a few hundred layouts to be computed, and the shift is a cheap
# row-by-row copy.

_LEVELS = 32
_LAYOUTS = 256
_MATERIALS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "sky": ((118, 178, 228), (204, 226, 240)),
    "sea": ((26, 86, 136), (236, 246, 246)),  # deep water -> foam
    "sand": ((192, 168, 122), (240, 222, 178)),
    "leaves": ((14, 34, 16), (58, 104, 52)),
    "bark": ((34, 24, 16), (96, 72, 50)),
    "forest_floor": ((42, 33, 22), (104, 86, 58)),
    "city_sky": ((160, 168, 186), (204, 210, 220)),
    "wall": ((74, 74, 82), (170, 170, 178)),
    "window": ((58, 64, 80), (214, 220, 228)),  # dark -> lit
    "street": ((50, 50, 56), (96, 96, 102)),
    "night_sky": ((5, 8, 26), (44, 60, 116)),
    "star": ((110, 116, 150), (250, 250, 255)),
    "hill": ((3, 5, 12), (14, 18, 32)),
}
_MATERIAL = {name: i for i, name in enumerate(_MATERIALS)}


@functools.lru_cache(maxsize=None)
def _material_table() -> np.ndarray:
    """RGB of every (material, level) code: (M * _LEVELS, 3) uint8."""
    lo = np.array([a for a, _ in _MATERIALS.values()], np.float32)  # (M, 3)
    hi = np.array([b for _, b in _MATERIALS.values()], np.float32)  # (M, 3)
    t = np.linspace(0, 1, _LEVELS, dtype=np.float32)[None, :, None]  # (1, L, 1)
    table = lo[:, None] + t * (hi - lo)[:, None]  # (M, L, 3)
    table = np.round(table).astype(np.uint8).reshape(-1, 3)  # (M*L, 3)
    table.setflags(write=False)  # shared by every call (cached)
    return table


def _tone(material: str, t: np.ndarray | float) -> np.ndarray:
    """Codes of ``material`` at ramp positions ``t`` in [0, 1] (clipped): int32, t's shape."""
    level = np.clip(np.asarray(t, np.float32) * (_LEVELS - 1) + 0.5, 0, _LEVELS - 1)  # (...)
    return level.astype(np.int32) + np.int32(_MATERIAL[material] * _LEVELS)  # (...)


def _grid(s: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as fractions of the side: xs (1, 1, S), ys (1, S, 1)."""
    c = (np.arange(s, dtype=np.float32) + 0.5) / s  # (S,)
    return c.reshape(1, 1, s), c.reshape(1, s, 1)


def _col(p: np.ndarray) -> np.ndarray:
    """Per-layout numbers (m,) as (m, 1, 1), to broadcast over pixels."""
    return p.reshape(-1, 1, 1)


def _band(phase: np.ndarray, width: float) -> np.ndarray:
    """Periodic bands: 1 where ``phase`` is an integer + 0.5, falling linearly to 0 within ``width``."""
    return np.clip(1.0 - np.abs(phase - np.floor(phase) - 0.5) * (1.0 / width), 0.0, 1.0)


def _whole(p: np.ndarray, low: int, high: int) -> np.ndarray:
    """Uniform numbers in [0, 1) -> whole numbers in low..high (float32), for periodic patterns."""
    return np.floor(low + p * (high - low + 1)).astype(np.float32)


def _beach(key: np.ndarray, s: int) -> np.ndarray:
    """Sky, a sea band with wave crests, a foamy wavy shoreline and grainy sand."""
    xs, ys = _grid(s)
    p = _scene_params(key, 11, 6)  # (m, 6)
    horizon = _col(0.12 + 0.10 * p[:, 0])  # (m, 1, 1)
    shore_mid = _col(0.40 + 0.12 * p[:, 1])  # (m, 1, 1)
    wiggles = _col(_whole(p[:, 2], 1, 3))  # (m, 1, 1) shoreline waves across the width
    phase = _col(p[:, 3])  # (m, 1, 1)
    crest_f = _col(9.0 + 4.0 * p[:, 4])  # (m, 1, 1) crests per height
    sand_tone = _col(0.25 + 0.25 * p[:, 5])  # (m, 1, 1)
    grain = _pixel_noise(key, 12, s)  # (m, S, S)
    smooth = _smooth_noise(key, 13, s, 5)  # (m, S, S)
    shore = shore_mid + 0.03 * np.sin(2 * np.pi * (wiggles * xs + phase))  # (m, 1, S)

    code = _tone("sand", sand_tone + 0.25 * grain + 0.3 * smooth)  # (m, S, S)
    depth = np.clip((shore - ys) / np.maximum(shore - horizon, 1e-3), 0, 1)  # (m, S, S) 1 at the horizon
    crest = _band(crest_f * ys + 0.6 * smooth + 0.08 * np.sin(2 * np.pi * (3 * xs + phase)), 0.22)  # (m, S, S)
    sea = _tone("sea", 0.24 * (1 - depth) + 0.45 * crest)  # (m, S, S)
    code = np.where(ys < shore, sea, code)  # (m, S, S)
    foam = np.abs(ys - shore) < (0.8 / s + 0.012)  # (m, S, S)
    code[foam] = _tone("sea", 0.95)
    sky = _tone("sky", ys / 0.25)  # (1, S, 1)
    return np.where(ys < horizon, sky, code)  # (m, S, S)


def _forest(key: np.ndarray, s: int) -> np.ndarray:
    """Dark leafy green with tree trunks under the canopy and a forest floor."""
    xs, ys = _grid(s)
    n_trunks = 5
    p = _scene_params(key, 21, 3 + 3 * n_trunks)  # (m, 3 + 3T)
    leaves = _smooth_noise(key, 22, s, 7)  # (m, S, S)
    fine = _pixel_noise(key, 23, s)  # (m, S, S)
    code = _tone("leaves", _col(0.15 + 0.2 * p[:, 2]) + 0.45 * leaves + 0.25 * fine)  # (m, S, S)
    canopy = _col(0.10 + 0.15 * p[:, 0])  # (m, 1, 1) trunks start below the canopy
    ground = _col(0.82 + 0.08 * p[:, 1])  # (m, 1, 1)
    centre = p[:, 3 : 3 + n_trunks, None]  # (m, T, 1)
    width = 0.015 + 0.025 * p[:, 3 + n_trunks : 3 + 2 * n_trunks, None]  # (m, T, 1)
    shade = 0.2 + 0.5 * p[:, 3 + 2 * n_trunks :, None]  # (m, T, 1)
    offset = xs[:, 0] - centre + 0.5  # (m, T, S)
    inside = np.abs(offset - np.floor(offset) - 0.5) < width + 0.5 / s  # (m, T, S) periodic distance
    col_shade = np.where(inside, shade, -1.0).max(1)[:, None, :]  # (m, 1, S) trunk brightness, -1: none
    trunk = (col_shade >= 0) & (ys > canopy + 0.06 * (leaves - 0.5))  # (m, S, S) ragged canopy edge
    code = np.where(trunk, _tone("bark", col_shade + 0.3 * fine[:, ::-1]), code)  # (m, S, S)
    floor = (ys > ground + 0.03 * (leaves - 0.5)) & ~trunk  # (m, S, S)
    return np.where(floor, _tone("forest_floor", 0.2 + 0.6 * fine), code)  # (m, S, S)


def _city(key: np.ndarray, s: int) -> np.ndarray:
    """Grey buildings of random widths and heights with rows of windows, a pale sky and a street."""
    m = len(key)
    xs, ys = _grid(s)
    n_build = 7
    p = _scene_params(key, 31, 3 * n_build + 1)  # (m, 3B + 1)
    fine = _pixel_noise(key, 32, s)  # (m, S, S)
    widths = 0.5 + p[:, :n_build]  # (m, B)
    edges = np.cumsum(widths, 1) / widths.sum(1, keepdims=True)  # (m, B) right edges
    which = (xs[:, 0, :] >= edges[:, :-1, None]).sum(1)  # (m, S) building of each column
    left = np.concatenate([np.zeros((m, 1), np.float32), edges[:, :-1]], 1)  # (m, B) left edges
    top = 0.08 + 0.45 * p[:, n_build : 2 * n_build]  # (m, B)
    tone = 0.15 + 0.6 * p[:, 2 * n_build : 3 * n_build]  # (m, B)
    rows = np.arange(m)[:, None]  # (m, 1)
    col_top = top[rows, which][:, None, :]  # (m, 1, S)
    col_tone = tone[rows, which][:, None, :]  # (m, 1, S)
    col_x = (xs[:, 0, :] - left[rows, which])[:, None, :]  # (m, 1, S) position inside the building
    building = ys > col_top  # (m, S, S)
    code = np.where(building, _tone("wall", col_tone + 0.12 * fine), _tone("city_sky", ys / 0.55))  # (m, S, S)
    period = max(3.0, 0.065 * s)  # pixels between windows
    size = period / 2.2
    wx = (col_x * s) % period  # (m, 1, S)
    wy = ((ys - col_top) * s) % period  # (m, S, S)
    window = building & (wx >= 1.0) & (wx < 1.0 + size) & (wy >= 1.0) & (wy < 1.0 + size)  # (m, S, S)
    code = np.where(window, _tone("window", (fine > 0.55).astype(np.float32)), code)  # (m, S, S)
    street = ys > _col(0.86 + 0.06 * p[:, -1])  # (m, S, 1)
    return np.where(street, _tone("street", 0.2 + 0.6 * fine), code)  # (m, S, S)


def _night(key: np.ndarray, s: int) -> np.ndarray:
    """A dark blue sky with stars of random brightness, faint clouds and dark hills."""
    xs, ys = _grid(s)
    p = _scene_params(key, 41, 3)  # (m, 3)
    clouds = _smooth_noise(key, 42, s, 4)  # (m, S, S)
    star = _pixel_noise(key, 43, s)  # (m, S, S)
    code = _tone("night_sky", 0.05 + 0.35 * ys + 0.3 * clouds)  # (m, S, S)
    density = np.float32(0.03 * (64.0 / s) ** 0.5)  # fewer stars per pixel at larger sizes
    bright = (star - (1 - density)) / density  # (m, S, S) >= 0 on a star
    code = np.where(bright >= 0, _tone("star", bright), code)  # (m, S, S)
    hills = _col(_whole(p[:, 1], 1, 3))  # (m, 1, 1)
    hill = _col(0.82 + 0.08 * p[:, 0]) + 0.05 * np.sin(2 * np.pi * (hills * xs + _col(p[:, 2])))  # (m, 1, S)
    return np.where(ys > hill, _tone("hill", 0.5), code)  # (m, S, S)


_BACKGROUNDS = {"beach": _beach, "forest": _forest, "city": _city, "night": _night}


def _layout_bank(layouts: np.ndarray, s: int) -> np.ndarray:
    """RGB of background layouts (global ids ``scene_type * _LAYOUTS + i``), each twice side by side.

    Returns (U, S, 2S, 3) uint8: a window of width S starting at any column is the layout
    shifted sideways (the layouts are periodic).
    """
    bank = np.empty((len(layouts), s, 2 * s, 3), np.uint8)  # (U, S, 2S, 3)
    table = _material_table()  # (M*L, 3)
    chunk = max(1, _CHUNK_PIXELS // (s * s))
    for t, name in enumerate(SCENE_TYPES):
        rows = np.flatnonzero(layouts // _LAYOUTS == t)  # (u_t,)
        for start in range(0, rows.size, chunk):
            part = rows[start : start + chunk]  # (c,)
            key = _mix(layouts[part].astype(np.uint32) ^ np.uint32(0x5BD1E995))  # (c,)
            rgb = table[_BACKGROUNDS[name](key, s)]  # (c, S, S, 3)
            bank[part, :, :s] = rgb
            bank[part, :, s:] = rgb
    return bank


def _place_backgrounds(images: np.ndarray, bank: np.ndarray, layout: np.ndarray, shift: np.ndarray) -> None:
    """Copy each scene's shifted layout into ``images`` (n, S, S, 3), one pixel row at a time.

    ``layout`` (n,) indexes ``bank`` (U, S, 2S, 3); ``shift`` (n,) is each scene's shift in pixels.
    """
    n, s = images.shape[:2]
    row = np.dtype((np.void, 3 * s))  # one image row as a single item
    windows = np.ndarray(
        shape=(bank.shape[0], s, s),
        dtype=row,
        buffer=bank,
        strides=(bank.strides[0], bank.strides[1], 3),
    )  # (U, S, S): windows[u, y, dx] is row y of layout u shifted by dx
    rows = images.reshape(n, s, 3 * s).view(row)[..., 0]  # (n, S) rows of the images
    rows[...] = windows[layout[:, None], np.arange(s)[None, :], shift[:, None]]


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Rendered:
    """Images of a scene batch with each object's exact ground truth."""

    images: np.ndarray  # (N, S, S, 3) uint8
    masks: np.ndarray  # (N, K, S, S) bool: full silhouette of each object
    visible: np.ndarray  # (N, K, S, S) bool: part not covered by later objects
    boxes: np.ndarray  # (N, K, 4) float32 x0, y0, x1, y1 in pixels (x1, y1 exclusive); nan padding

    def __len__(self) -> int:
        return int(self.images.shape[0])


_COLOUR_TABLE = np.array([COLOURS[name] for name in COLOUR_NAMES], np.float32)  # (C, 3) 0..255


def _validate_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) not in ALLOWED_SIZES:
        raise ValueError(f"size must be one of {ALLOWED_SIZES}, got {size!r}")
    return int(size)


def _scene_keys(scenes: SceneBatch, seed: int | None) -> np.ndarray:
    """Each scene's background key: its variation, mixed with the render seed if given. (N,) uint32."""
    key = (np.asarray(scenes.variation, np.int64) & 0xFFFFFFFF).astype(np.uint32)  # (N,)
    if seed is not None:
        key = _mix(key ^ _mix(int(seed) % 2**32 ^ 0x632BE5AB))
    return _mix(key)


def _row_windows(planes: np.ndarray, width: int) -> np.ndarray:
    """Windows of ``width`` pixels along the rows of C-contiguous ``planes`` (B, S, S, ...).

    Returns a view (B, S, S - width + 1) whose items are ``width`` neighbouring pixels
    (all their channels) of one row: ``windows[b, y, x]`` holds pixels ``x .. x+width-1``
    of row ``y`` of plane ``b``. Indexing it with arrays reads or writes a patch of an
    image with one copy per row instead of one per pixel.
    """
    b, s = planes.shape[:2]
    pixel = planes.strides[2]  # bytes per pixel (all channels)
    return np.ndarray(
        shape=(b, s, s - width + 1),
        dtype=np.dtype((np.void, pixel * width)),
        buffer=planes,
        strides=(planes.strides[0], planes.strides[1], pixel),
    )


def _as_rows(patch: np.ndarray) -> np.ndarray:
    """A C-contiguous patch (m, P, P, ...) as (m, P) items of one row each (for ``_row_windows``)."""
    m, p = patch.shape[:2]
    flat = np.ascontiguousarray(patch).reshape(m, p, -1).view(np.uint8)  # (m, P, bytes per row)
    return flat.view(np.dtype((np.void, flat.shape[-1])))[..., 0]  # (m, P)


def _from_rows(rows: np.ndarray, dtype: Any, *tail: int) -> np.ndarray:
    """Items read through ``_row_windows`` (m, P) back to a patch (m, P, P, *tail) of ``dtype``."""
    m, p = rows.shape
    return np.ascontiguousarray(rows).view(np.uint8).view(dtype).reshape(m, p, p, *tail)


def _paint_objects(
    scenes: SceneBatch,
    k: int,
    sel: np.ndarray,
    patch: int,
    s: int,
    images: np.ndarray,
    owner: np.ndarray,
    masks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paint object ``k`` of the scenes ``sel`` (m,) of a chunk, each on a ``patch`` x ``patch`` window.

    Updates ``images`` (n, S, S, 3) uint8, ``owner`` (n, S, S) int8 (the front-most
    object at each pixel so far) and ``masks`` (n, K, S, S). Returns the window rows and
    columns (m, P) and (m,), the object's mask on the window (m, P, P) and its boxes (m, 4).
    """
    ar = np.arange(patch)  # (P,)
    cx = scenes.x[sel, k].astype(np.float32) * s  # (m,) pixels
    cy = scenes.y[sel, k].astype(np.float32) * s  # (m,)
    r = scenes.radius[sel, k].astype(np.float32) * s  # (m,)
    x0 = np.clip(np.floor(cx - r).astype(np.int64) - 1, 0, s - patch)  # (m,)
    y0 = np.clip(np.floor(cy - r).astype(np.int64) - 1, 0, s - patch)  # (m,)
    u = (x0[:, None] + ar + 0.5 - cx[:, None])[:, None, :]  # (m, 1, P) pixels from the centre
    v = (y0[:, None] + ar + 0.5 - cy[:, None])[:, :, None]  # (m, P, 1)
    rr = r[:, None, None]  # (m, 1, 1)
    sdf = _sdf(scenes.shape[sel, k], u, v, rr)  # (m, P, P) pixels
    cover = np.clip(0.5 - sdf, 0.0, 1.0)  # (m, P, P) anti-aliased coverage
    # shading: light from the top left, and a darker rim so objects stand out on any background
    rim = 0.9 * s / 64  # pixels
    light = (1.0 - 0.05 * np.clip(u / rr, -1, 1)) * (0.9 - 0.05 * np.clip(v / rr, -1, 1))  # (m, P, P) <= 1
    ink = np.clip(sdf * (-0.45 / rim) + 0.55, 0.55, 1.0)  # (m, P, P) 1 inside, 0.55 at the outline
    ink *= light
    ink *= cover
    colour = _COLOUR_TABLE[scenes.colour[sel, k]][:, None, None, :]  # (m, 1, 1, 3)

    rows = y0[:, None] + ar  # (m, P) image rows of the window
    at = (sel[:, None], rows, x0[:, None])  # where the window's rows are in _row_windows
    pixels = _row_windows(images, patch)  # (n, S, S-P+1) view
    under = _from_rows(pixels[at], np.uint8, 3).astype(np.float32)  # (m, P, P, 3)
    under *= (1.0 - cover)[..., None]
    under += ink[..., None] * colour
    pixels[at] = _as_rows(under.astype(np.uint8))  # (truncates: at most one level darker)

    inside = sdf < 0  # (m, P, P): the mask is coverage > 0.5
    k_max = masks.shape[1]
    planes = _row_windows(masks.reshape(-1, s, s), patch)  # (n*K, S, S-P+1) view
    planes[sel[:, None] * k_max + k, rows, x0[:, None]] = _as_rows(inside)
    front = _row_windows(owner, patch)  # (n, S, S-P+1) view
    own = _from_rows(front[at], np.int8)  # (m, P, P)
    own[inside] = k
    front[at] = _as_rows(own)

    any_row = inside.any(2)  # (m, P)
    any_col = inside.any(1)  # (m, P)
    box = np.stack(
        [
            x0 + any_col.argmax(1),
            y0 + any_row.argmax(1),
            x0 + patch - any_col[:, ::-1].argmax(1),
            y0 + patch - any_row[:, ::-1].argmax(1),
        ],
        1,
    ).astype(np.float32)  # (m, 4)
    box[~any_row.any(1)] = np.nan
    return rows, x0, inside, box


def _render_chunk(
    scenes: SceneBatch, s: int, out: Rendered, start: int, bank: np.ndarray, layout: np.ndarray, shift: np.ndarray
) -> None:
    """Render ``scenes`` into ``out[start : start + len(scenes)]`` (masks and visible start all False)."""
    n, k_max = len(scenes), scenes.max_objects
    end = start + n
    images = out.images[start:end]  # (n, S, S, 3) view
    _place_backgrounds(images, bank, layout, shift)
    masks = out.masks[start:end]  # (n, K, S, S) view
    boxes = out.boxes[start:end]  # (n, K, 4) view
    owner = np.full((n, s, s), -1, np.int8)  # (n, S, S) front-most object at each pixel
    # each object is drawn on a window just big enough for it: two window sizes, small and large
    need = np.ceil(2 * np.nan_to_num(scenes.radius, nan=0.0) * s).astype(np.int64) + 3  # (n, K)
    small = min(s, int(np.ceil(2 * SIZE_RADIUS[0] * (1 + RADIUS_JITTER) * s)) + 3)
    painted = []
    for k in range(k_max):
        present = scenes.n_objects > k  # (n,)
        big = min(s, int(need[present, k].max(initial=0)))
        for patch, sel in (
            (small, np.flatnonzero(present & (need[:, k] <= small))),
            (big, np.flatnonzero(present & (need[:, k] > small))),
        ):
            if sel.size:
                rows, x0, inside, boxes[sel, k] = _paint_objects(scenes, k, sel, patch, s, images, owner, masks)
                painted.append((k, sel, patch, rows, x0, inside))
    # visible: the part of each mask where the object is the front-most one
    planes = out.visible[start:end].reshape(-1, s, s)  # (n*K, S, S) view
    for k, sel, patch, rows, x0, inside in painted:
        own = _from_rows(_row_windows(owner, patch)[sel[:, None], rows, x0[:, None]], np.int8)  # (m, P, P)
        _row_windows(planes, patch)[sel[:, None] * k_max + k, rows, x0[:, None]] = _as_rows(inside & (own == k))


def render(scenes: SceneBatch, size: int = 64, seed: int | None = None) -> Rendered:
    """Render a scene batch to images, masks, visible masks and boxes.

    Args:
        scenes: the scenes (from :func:`sample_scenes` or :func:`make_scene`).
        size: image side in pixels, one of 32, 64, 128.
        seed: ``None`` renders each scene's own background details (so a scene looks
            the same in any batch); an integer draws other details, e.g. to make a
            second view of the same scene.

    Returns:
        :class:`Rendered` with ``images`` (N, S, S, 3) uint8, ``masks`` and ``visible``
        (N, K, S, S) bool and ``boxes`` (N, K, 4) float32 ``x0, y0, x1, y1`` in pixels,
        tight around each mask (a mask pixel at ``(row, col)`` has ``x0 <= col < x1``
        and ``y0 <= row < y1``).
    """
    if not isinstance(scenes, SceneBatch):
        raise TypeError(f"scenes must be a SceneBatch, got {type(scenes).__name__}")
    s = _validate_size(size)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
    n, k_max = len(scenes), scenes.max_objects
    out = Rendered(
        images=np.empty((n, s, s, 3), np.uint8),
        masks=np.zeros((n, k_max, s, s), bool),
        visible=np.zeros((n, k_max, s, s), bool),
        boxes=np.full((n, k_max, 4), np.nan, np.float32),
    )
    key = _scene_keys(scenes, seed)  # (N,) uint32
    wanted = np.asarray(scenes.scene_type, np.int64) * _LAYOUTS + (key % _LAYOUTS)  # (N,) layout ids
    layouts, layout = np.unique(wanted, return_inverse=True)  # (U,), (N,)
    bank = _layout_bank(layouts, s)  # (U, S, 2S, 3)
    shift = ((key >> np.uint32(8)) % np.uint32(s)).astype(np.int64)  # (N,)
    chunk = max(1, _CHUNK_PIXELS // (s * s))
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        _render_chunk(scenes[start:end], s, out, start, bank, layout[start:end], shift[start:end])
    return out


def to_tensor(images_uint8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images (N, S, S, 3) or (S, S, 3) uint8 -> float32 tensor (N, 3, S, S) or (3, S, S) in [0, 1]."""
    images = images_uint8 if torch.is_tensor(images_uint8) else torch.from_numpy(np.ascontiguousarray(images_uint8))
    if images.dtype != torch.uint8:
        raise TypeError(f"images_uint8 must have dtype uint8, got {images.dtype}")
    if images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(f"images_uint8 must have shape (N, S, S, 3) or (S, S, 3), got {tuple(images.shape)}")
    return images.movedim(-1, -3).float().div_(255.0).contiguous()  # (N, 3, S, S)
