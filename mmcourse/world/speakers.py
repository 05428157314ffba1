"""People of the course world: each has a rendered face and a synthesized voice.

Some attributes shape **both** the face and the voice, others only the face:

============  ===================================  ==========================================
attribute     face                                 voice
============  ===================================  ==========================================
sex           jaw shape, hair length, beard        pitch (adults), vocal-tract length
age           child: big low eyes, round face;     pitch (children high), tract length
              senior: grey hair, wrinkles
build         head and neck width, jaw             vocal-tract length (a little)
hair          hair colour                          --
hairstyle     short / long / curly                 --
skin          skin tone                            --
glasses       none / round / square frames         --
============  ===================================  ==========================================

So a voice can tell sex, age group and a little of build, never hair, skin or glasses:
what lesson 09 measures.

Voices come from a source-filter model. The source is a train of Rosenberg glottal pulses
(the derivative of the glottal flow, which includes lip radiation) at the person's pitch,
with slow intonation, jitter (cycle-to-cycle period noise), shimmer (cycle-to-cycle
amplitude noise) and a little breath noise. The filter is a cascade of second-order
resonators (formants). A uniform tube of length ``L`` closed at the glottis has resonances
``F_n = (2n - 1) c / (4 L)`` (``c`` = 35,000 cm/s), so every formant scales as ``1 / L``;
each vowel multiplies the neutral-tube formants by its own ratios (``VOWEL_RATIOS``). An
utterance is a few vowels (syllables) with amplitude envelopes and cross-faded transitions.

A person's looks and voice depend only on ``(people.seed, person_id)`` (plus the ``seed``
of each call for per-image and per-utterance variation), so a sub-population renders the
same faces and voices as the whole one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy.signal import lfilter

SEXES: tuple[str, ...] = ("female", "male")
AGES: tuple[str, ...] = ("child", "adult", "senior")
BUILDS: tuple[str, ...] = ("slim", "medium", "heavy")
HAIR: tuple[str, ...] = ("black", "brown", "blonde", "red")
HAIRSTYLES: tuple[str, ...] = ("short", "long", "curly")
SKIN: tuple[str, ...] = ("light", "medium", "tan", "dark")
GLASSES: tuple[str, ...] = ("none", "round", "square")

AGE_PROBS: tuple[float, ...] = (0.25, 0.5, 0.25)
GLASSES_PROBS: tuple[float, ...] = (0.6, 0.2, 0.2)
HAIRSTYLE_PROBS: dict[str, tuple[float, ...]] = {"female": (0.25, 0.55, 0.2), "male": (0.65, 0.1, 0.25)}

PITCH_HZ: dict[tuple[str, str], float] = {
    ("female", "child"): 265.0, ("female", "adult"): 210.0, ("female", "senior"): 190.0,
    ("male", "child"): 255.0, ("male", "adult"): 120.0, ("male", "senior"): 130.0,
}
"""Typical speaking pitch (Hz) by sex and age; each person varies by about 7 %."""

TRACT_CM: dict[tuple[str, str], float] = {
    ("female", "child"): 11.5, ("female", "adult"): 14.5, ("female", "senior"): 14.8,
    ("male", "child"): 11.8, ("male", "adult"): 17.0, ("male", "senior"): 17.3,
}
"""Typical vocal-tract length (cm) by sex and age, before the build offset."""

BUILD_TRACT_CM: tuple[float, ...] = (-0.4, 0.0, 0.5)
"""Vocal-tract length offset (cm) by build (70 % of it for children)."""

SPEED_OF_SOUND_CM_S: float = 35000.0

VOWELS: tuple[str, ...] = ("a", "i", "u", "e", "o")
VOWEL_RATIOS: dict[str, tuple[float, float, float, float]] = {
    "a": (1.46, 0.73, 0.98, 1.0),
    "i": (0.54, 1.53, 1.20, 1.05),
    "u": (0.60, 0.58, 0.90, 0.97),
    "e": (0.92, 1.26, 1.07, 1.02),
    "o": (0.90, 0.55, 0.95, 0.98),
}
"""F1..F4 of each vowel divided by the neutral tube's ``(2n - 1) c / (4 L)`` (from adult
vowel averages of the Peterson & Barney kind)."""

_SKIN_RGB = np.array([(238, 204, 178), (220, 170, 128), (180, 124, 84), (112, 74, 52)], np.float32)
_HAIR_RGB = np.array([(32, 28, 28), (98, 62, 38), (222, 188, 120), (168, 72, 36)], np.float32)
_GREY_RGB = np.array((196, 196, 200), np.float32)
_IRIS_RGB = np.array([(90, 60, 35), (60, 100, 160), (70, 120, 80), (40, 30, 25)], np.float32)
_LIP_RGB = np.array((178, 84, 84), np.float32)


# ----------------------------------------------------------------------------- input validation


def _seed_int(seed: Any, name: str = "seed") -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**62))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer or a numpy Generator, got {seed!r}")
    return int(seed)


def _pos_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _validate_people(people: Any) -> "People":
    if not isinstance(people, People):
        raise TypeError(f"people must be a People (from sample_people), got {type(people).__name__}")
    return people


# ----------------------------------------------------------------------------- population


@dataclasses.dataclass
class People:
    """A population of ``N`` people; attribute arrays are indices into the name tuples.

    ``sex``, ``age``, ``build``, ``hair``, ``skin``, ``glasses``, ``hairstyle``: (N,) int64;
    ``pitch_hz`` (N,) float32 speaking pitch; ``tract_cm`` (N,) float32 vocal-tract length;
    ``seed`` the population's seed; ``person_id`` (N,) int64 identity within it (kept by
    indexing, so a sub-population looks and sounds the same).
    """

    sex: np.ndarray
    age: np.ndarray
    build: np.ndarray
    hair: np.ndarray
    skin: np.ndarray
    glasses: np.ndarray
    pitch_hz: np.ndarray
    tract_cm: np.ndarray
    seed: int = 0
    hairstyle: np.ndarray | None = None
    person_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(np.atleast_1d(self.sex))
        for name, choices in (("sex", SEXES), ("age", AGES), ("build", BUILDS), ("hair", HAIR),
                              ("skin", SKIN), ("glasses", GLASSES)):
            arr = np.asarray(getattr(self, name), dtype=np.int64).reshape(-1)  # (N,)
            if len(arr) != n or (n and (arr.min() < 0 or arr.max() >= len(choices))):
                raise ValueError(f"People.{name} must be {n} indices in 0..{len(choices) - 1}")
            setattr(self, name, arr)
        if self.hairstyle is None:  # the most common style of each sex
            self.hairstyle = np.where(self.sex == 0, 1, 0).astype(np.int64)
        if self.person_id is None:
            self.person_id = np.arange(n, dtype=np.int64)
        self.hairstyle = np.asarray(self.hairstyle, dtype=np.int64).reshape(-1)  # (N,)
        self.person_id = np.asarray(self.person_id, dtype=np.int64).reshape(-1)  # (N,)
        if len(self.hairstyle) != n or (n and (self.hairstyle.min() < 0 or self.hairstyle.max() >= len(HAIRSTYLES))):
            raise ValueError(f"People.hairstyle must be {n} indices in 0..{len(HAIRSTYLES) - 1}")
        if len(self.person_id) != n or (n and self.person_id.min() < 0):
            raise ValueError(f"People.person_id must be {n} non-negative integers")
        self.pitch_hz = np.asarray(self.pitch_hz, dtype=np.float32).reshape(-1)  # (N,)
        self.tract_cm = np.asarray(self.tract_cm, dtype=np.float32).reshape(-1)  # (N,)
        if len(self.pitch_hz) != n or (n and not np.all((self.pitch_hz >= 50) & (self.pitch_hz <= 600))):
            raise ValueError(f"People.pitch_hz must be {n} values in 50..600 Hz")
        if len(self.tract_cm) != n or (n and not np.all((self.tract_cm >= 6) & (self.tract_cm <= 25))):
            raise ValueError(f"People.tract_cm must be {n} values in 6..25 cm")
        self.seed = _seed_int(self.seed, "People.seed")

    def __len__(self) -> int:
        return len(self.sex)

    def __getitem__(self, index: Any) -> "People":
        """A sub-population (an int gives a population of one)."""
        if isinstance(index, (int, np.integer)):
            if not -len(self) <= index < len(self):
                raise IndexError(f"person index {index} out of range for {len(self)} people")
            index = np.array([index])
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return People(**{k: (v if k == "seed" else v[index]) for k, v in fields.items()})

    def attributes(self, i: int) -> dict[str, Any]:
        """Person ``i``'s attributes by name, plus pitch (Hz) and tract length (cm)."""
        return {
            "sex": SEXES[self.sex[i]], "age": AGES[self.age[i]], "build": BUILDS[self.build[i]],
            "hair": HAIR[self.hair[i]], "hairstyle": HAIRSTYLES[self.hairstyle[i]],
            "skin": SKIN[self.skin[i]], "glasses": GLASSES[self.glasses[i]],
            "pitch_hz": float(self.pitch_hz[i]), "tract_cm": float(self.tract_cm[i]),
        }

    def describe(self, i: int) -> str:
        """One line, e.g. ``'female adult, slim, long brown hair, light skin, round glasses,
        pitch 204 Hz, vocal tract 14.3 cm'``."""
        a = self.attributes(i)
        glasses = "no glasses" if a["glasses"] == "none" else f"{a['glasses']} glasses"
        return (f"{a['sex']} {a['age']}, {a['build']}, {a['hairstyle']} {a['hair']} hair, "
                f"{a['skin']} skin, {glasses}, pitch {a['pitch_hz']:.0f} Hz, "
                f"vocal tract {a['tract_cm']:.1f} cm")


def sample_people(n: int, seed: Any = 0) -> People:
    """Sample ``n`` people: attributes, then pitch and vocal-tract length from them.

    Sex, build, hair colour, skin tone and glasses are uniform-ish and independent; age is
    25 % child, 50 % adult, 25 % senior; hairstyle depends on sex (mostly long for women,
    short for men). ``pitch_hz = PITCH_HZ[sex, age] * exp(0.07 * z)``; ``tract_cm =
    TRACT_CM[sex, age] + BUILD_TRACT_CM[build] (* 0.7 for children) + 0.35 * z``.
    """
    n = _pos_int(n, "n", minimum=0)
    seed = _seed_int(seed)
    rng = np.random.default_rng([seed, 100])
    sex = rng.integers(0, len(SEXES), n)  # (N,)
    age = rng.choice(len(AGES), size=n, p=AGE_PROBS)  # (N,)
    build = rng.integers(0, len(BUILDS), n)  # (N,)
    hair = rng.integers(0, len(HAIR), n)  # (N,)
    skin = rng.integers(0, len(SKIN), n)  # (N,)
    glasses = rng.choice(len(GLASSES), size=n, p=GLASSES_PROBS)  # (N,)
    u = rng.random(n)  # (N,)
    style_cdf = np.cumsum([HAIRSTYLE_PROBS[s] for s in SEXES], axis=1)  # (2, H)
    hairstyle = np.minimum((u[:, None] > style_cdf[sex]).sum(1), len(HAIRSTYLES) - 1)  # (N,)
    base_pitch = np.array([[PITCH_HZ[s, a] for a in AGES] for s in SEXES])[sex, age]  # (N,)
    pitch = np.clip(base_pitch * np.exp(0.07 * rng.standard_normal(n)), 70.0, 420.0)  # (N,)
    base_tract = np.array([[TRACT_CM[s, a] for a in AGES] for s in SEXES])[sex, age]  # (N,)
    build_cm = np.asarray(BUILD_TRACT_CM)[build] * np.where(age == 0, 0.7, 1.0)  # (N,)
    tract = np.clip(base_tract + build_cm + 0.35 * rng.standard_normal(n), 9.0, 20.0)  # (N,)
    return People(sex=sex, age=age, build=build, hair=hair, skin=skin, glasses=glasses,
                  pitch_hz=pitch, tract_cm=tract, seed=seed, hairstyle=hairstyle,
                  person_id=np.arange(n))


# ----------------------------------------------------------------------------- faces


def _identity_traits(people: People) -> dict[str, np.ndarray]:
    """Per-person constants of the face (same in every image), from (seed, person_id)."""
    rows = []
    for pid in people.person_id:
        r = np.random.default_rng([people.seed, int(pid), 101])
        rows.append(np.concatenate([r.uniform(-1, 1, 8), r.integers(0, 4, 1), r.random(3),
                                    r.uniform(40, 220, 3)]))
    t = np.array(rows, np.float32).reshape(len(people), 15)  # (N, 15)
    return {"eye_dx": t[:, 0], "eye_size": t[:, 1], "nose": t[:, 2], "mouth_w": t[:, 3],
            "aspect": t[:, 4], "hairline": t[:, 5], "skin_j": t[:, 6], "brow": t[:, 7],
            "iris": t[:, 8].astype(np.int64), "beard_u": t[:, 9], "bald_u": t[:, 10],
            "frame_u": t[:, 11], "shirt": t[:, 12:15]}


def _ellipse(u: np.ndarray, v: np.ndarray, cx: Any, cy: Any, a: Any, b: Any, px: Any,
             square: Any = 0.0) -> np.ndarray:
    """Anti-aliased coverage (b, h, w) of an ellipse centred (cx, cy) with half-axes (a, b).

    ``square`` in [0, 1] (scalar or per pixel) blends the ellipse's implicit function
    ``r2 = |(du/a, dv/b)|_2`` with the squarer ``r4 = |(du/a, dv/b)|_4``. The distance to the
    edge is ``(r - 1) / |grad r|``, so edges are about one pixel soft at any size; ``px``
    is the pixel size in face units."""
    uu = np.abs(u - cx) / a + 1e-6  # (b, h, w)
    vv = np.abs(v - cy) / b + 1e-6  # (b, h, w)
    uu2, vv2 = uu * uu, vv * vv  # (b, h, w)
    r = np.sqrt(uu2 + vv2)  # (b, h, w)
    gu, gv = uu / (a * r), vv / (b * r)  # (b, h, w) gradient of r2
    if not (np.isscalar(square) and square == 0.0):
        r4 = np.sqrt(np.sqrt(uu2 * uu2 + vv2 * vv2))  # (b, h, w)
        r4c = r4 * r4 * r4  # (b, h, w)
        r = r + square * (r4 - r)  # (b, h, w)
        gu = gu + square * (uu2 * uu / (a * r4c) - gu)  # (b, h, w)
        gv = gv + square * (vv2 * vv / (b * r4c) - gv)  # (b, h, w)
    grad = np.sqrt(gu * gu + gv * gv)  # (b, h, w)
    return np.clip(0.5 - (r - 1.0) / (grad * px + 1e-9), 0.0, 1.0)  # (b, h, w)


def _ring(u, v, cx, cy, a, b, width, px, square=0.0) -> np.ndarray:
    """Coverage (b, h, w) of an ellipse outline ``width`` thick."""
    outer = _ellipse(u, v, cx, cy, a + width / 2, b + width / 2, px, square)  # (b, h, w)
    inner = _ellipse(u, v, cx, cy, a - width / 2, b - width / 2, px, square)  # (b, h, w)
    return outer * (1.0 - inner)


def _segment(u, v, x0, y0, x1, y1, width, px) -> np.ndarray:
    """Coverage (b, h, w) of a line segment ``width`` thick with round ends."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0.0, 1.0)  # (b, h, w)
    d = np.sqrt((u - x0 - t * dx) ** 2 + (v - y0 - t * dy) ** 2)  # (b, h, w)
    return np.clip(0.5 - (d - width / 2) / px, 0.0, 1.0)


def _below(v, edge, px) -> np.ndarray:
    """Coverage (b, h, w) of the half-plane ``v > edge`` (edge may vary per pixel)."""
    return np.clip(0.5 + (v - edge) / px, 0.0, 1.0)


def _rgb(*values: float) -> np.ndarray:
    return np.array(values, np.float32)  # (3,)


class _Canvas:
    """B images being drawn, with face coordinates ``(u, v)`` of every pixel.

    Image coordinates run over [-1, 1] (y down); the pose maps them to face coordinates.
    Features are drawn in a *region*: the images that have the feature and the pixel
    window that covers its face-space box in all of them, so small features cost little.
    """

    def __init__(self, p: dict[str, np.ndarray], size: int) -> None:
        self.p, self.size = p, size
        n = len(p["dx"])
        grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0  # (S,)
        self.x, self.y = grid[None, None, :], grid[None, :, None]  # (1, 1, S), (1, S, 1)
        self.cos, self.sin = np.cos(p["rot"]), np.sin(p["rot"])  # (B,), (B,)
        c, s, sc = self.cos[:, None, None], self.sin[:, None, None], p["scale"][:, None, None]
        dx, dy = p["dx"][:, None, None], p["dy"][:, None, None]  # (B, 1, 1)
        self.u = ((c * (self.x - dx) + s * (self.y - dy)) / sc).astype(np.float32)  # (B, S, S)
        self.v = ((-s * (self.x - dx) + c * (self.y - dy)) / sc).astype(np.float32)  # (B, S, S)
        self.px = ((2.0 / size) / p["scale"]).astype(np.float32)  # (B,) pixel in face units
        self.img = np.broadcast_to(p["background"][:, None, None, :], (n, size, size, 3)).astype(np.float32)
        self.n = n

    def region(self, u0: Any, u1: Any, v0: Any, v1: Any, where: Any = None):
        """(images, rows, cols) covering the face box [u0, u1] x [v0, v1] (scalars or (B,))."""
        idx = np.arange(self.n) if where is None else np.nonzero(np.broadcast_to(where, (self.n,)))[0]
        if idx.size == 0:
            return None
        box = [np.broadcast_to(np.asarray(b, np.float64), (self.n,))[idx] for b in (u0, u1, v0, v1)]
        cu = np.stack([box[0], box[1], box[0], box[1]], 1)  # (b, 4) corner u
        cv = np.stack([box[2], box[2], box[3], box[3]], 1)  # (b, 4) corner v
        c, s, sc = self.cos[idx, None], self.sin[idx, None], self.p["scale"][idx, None]  # (b, 1)
        xs = self.p["dx"][idx, None] + sc * (c * cu - s * cv)  # (b, 4) image x of the corners
        ys = self.p["dy"][idx, None] + sc * (s * cu + c * cv)  # (b, 4)
        to_px = lambda z: (z + 1.0) / 2.0 * self.size  # noqa: E731
        c0, c1 = int(max(0, np.floor(to_px(xs.min())) - 1)), int(min(self.size, np.ceil(to_px(xs.max())) + 1))
        r0, r1 = int(max(0, np.floor(to_px(ys.min())) - 1)), int(min(self.size, np.ceil(to_px(ys.max())) + 1))
        if c1 <= c0 or r1 <= r0:
            return None
        rows_all = idx.size == self.n
        return (slice(None) if rows_all else idx, slice(r0, r1), slice(c0, c1), idx)

    def uv(self, reg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face coordinates (b, h, w) of the region's pixels and the pixel size (b, 1, 1)."""
        images, rows, cols, idx = reg
        return self.u[images, rows, cols], self.v[images, rows, cols], self.px[idx, None, None]

    def q(self, reg, name: str) -> np.ndarray:
        """Parameter ``name`` for the region's images: (b, 1, 1) scalars or (b, 3) colours."""
        val = np.asarray(self.p[name])[reg[3]]
        return val.astype(np.float32) if val.ndim == 2 else val.astype(np.float32)[:, None, None]

    def paint(self, reg, alpha: np.ndarray, colour: Any) -> None:
        """Blend ``colour`` ((3,), (b, 3) or a parameter name) into the region with ``alpha``."""
        images, rows, cols, idx = reg
        if isinstance(colour, str):
            colour = self.q(reg, colour)
        colour = np.broadcast_to(np.asarray(colour, np.float32), (len(idx), 3))[:, None, None, :]  # (b, 1, 1, 3)
        sub = self.img[images, rows, cols]  # (b, h, w, 3)
        sub += alpha[..., None] * (colour - sub)
        self.img[images, rows, cols] = sub


def _draw_faces(p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Draw B faces from per-image parameters ``p`` (each (B,) or (B, 3)). Returns (B, S, S, 3)."""
    cv = _Canvas(p, size)
    a_all, b_all, ey_all = p["head_a"], p["head_b"], p["eye_y"]  # (B,) each

    # hair that falls behind the head: long (to the shoulders), curly (a bumpy mop), short
    reg = cv.region(-1.5, 1.5, -1.2, 1.1)
    u, v, px = cv.uv(reg)
    a, bh, style, bald = cv.q(reg, "head_a"), cv.q(reg, "head_b"), cv.q(reg, "style"), cv.q(reg, "bald")
    long_hair = _ellipse(u, v, 0.0, 0.1, a * 1.22, 0.82, px, 0.4) * (style == 1)  # (b, h, w)
    bumps = 1 + 0.05 * np.sin(14 * np.arctan2(v + 0.12, u))  # (b, h, w)
    curly = _ellipse(u, v, 0.0, -0.12, a * 1.22 * bumps, bh * 0.98, px) * (style == 2) * (1 - _below(v, 0.2, px))
    short = _ellipse(u, v, 0.0, -0.06, a * 1.06, bh, px) * (1 - _below(v, -0.05, px)) * (1 - bald)
    cv.paint(reg, np.maximum(np.maximum(long_hair, curly), short), "hair")

    # shirt and neck
    reg = cv.region(-1.3, 1.3, 0.7, 2.1)
    u, v, px = cv.uv(reg)
    cv.paint(reg, _ellipse(u, v, 0.0, 1.42, cv.q(reg, "shoulder"), 0.62, px), "shirt")
    reg = cv.region(-0.35, 0.35, 0.3, 1.25)
    u, v, px = cv.uv(reg)
    cv.paint(reg, _ellipse(u, v, 0.0, 0.8, cv.q(reg, "neck"), 0.42, px, 1.0), cv.q(reg, "skin") * 0.86)

    # ears and head (the lower half squarer for men's jaws and heavy builds)
    for side in (-1.0, 1.0):
        reg = cv.region(side * a_all * 0.97 - 0.09, side * a_all * 0.97 + 0.09, ey_all - 0.08, ey_all + 0.18)
        u, v, px = cv.uv(reg)
        cv.paint(reg, _ellipse(u, v, side * cv.q(reg, "head_a") * 0.97, cv.q(reg, "eye_y") + 0.05, 0.07, 0.11, px),
                 cv.q(reg, "skin") * 0.93)
    reg = cv.region(-a_all - 0.05, a_all + 0.05, -b_all - 0.05, b_all + 0.05)
    u, v, px = cv.uv(reg)
    a, bh = cv.q(reg, "head_a"), cv.q(reg, "head_b")
    head = _ellipse(u, v, 0.0, 0.0, a, bh, px, np.where(v > 0, cv.q(reg, "jaw"), 0.0))  # (b, h, w)
    cv.paint(reg, head, "skin")

    # beard-ish shading and a moustache (some adult and senior men)
    beard = p["beard"] > 0  # (B,)
    reg = cv.region(-a_all - 0.05, a_all + 0.05, p["mouth_y"] - 0.1, b_all + 0.05, beard)
    if reg is not None:
        u, v, px = cv.uv(reg)
        a, bh, my, mw = cv.q(reg, "head_a"), cv.q(reg, "head_b"), cv.q(reg, "mouth_y"), cv.q(reg, "mouth_w")
        jaw = _ellipse(u, v, 0.0, 0.0, a, bh, px, np.where(v > 0, cv.q(reg, "jaw"), 0.0))  # (b, h, w)
        chin = jaw * _below(v, my - 0.02, px) * np.clip((np.abs(u) / a - 0.2) * 3 + 0.6, 0.6, 1.0)
        tache = _segment(u, v, -mw - 0.01, my - 0.045, mw + 0.01, my - 0.045, 0.032, px)
        cv.paint(reg, np.maximum(chin * 0.35, tache * 0.55), cv.q(reg, "hair") * 0.55 + cv.q(reg, "skin") * 0.45)

    # front hair: a cap above a hairline curving down at the sides (bald on top for some seniors)
    reg = cv.region(-a_all * 1.1, a_all * 1.1, -b_all * 1.1, 0.35)
    u, v, px = cv.uv(reg)
    a, bh = cv.q(reg, "head_a"), cv.q(reg, "head_b")
    hairline = cv.q(reg, "hairline") + cv.q(reg, "hair_curve") * (u / a) ** 2  # (b, h, w)
    cap = _ellipse(u, v, 0.0, -0.02, a * 1.05, bh * 1.04, px) * (1 - _below(v, hairline, px))  # (b, h, w)
    cap *= np.maximum(1 - cv.q(reg, "bald"), np.clip((np.abs(u) / a - 0.6) * 6, 0, 1))
    cv.paint(reg, cap, "hair")

    # children: rosy cheeks; heavy builds: a chin crease
    for side in (-1.0, 1.0):
        reg = cv.region(side * 0.27 - 0.11, side * 0.27 + 0.11, ey_all + 0.12, ey_all + 0.28, p["child"] > 0)
        if reg is not None:
            u, v, px = cv.uv(reg)
            cv.paint(reg, _ellipse(u, v, side * 0.27, cv.q(reg, "eye_y") + 0.2, 0.09, 0.06, px) * 0.3,
                     _rgb(235, 120, 120))
    reg = cv.region(-0.16, 0.16, b_all * 0.86 - 0.04, b_all * 0.86 + 0.04, p["heavy"] > 0)
    if reg is not None:
        u, v, px = cv.uv(reg)
        y = cv.q(reg, "head_b") * 0.84
        cv.paint(reg, _segment(u, v, -0.11, y, 0.11, y, 0.02, px) * 0.35, cv.q(reg, "skin") * 0.72)

    # wrinkles (seniors): forehead lines, folds from nose to mouth, crow's feet
    reg = cv.region(-0.45, 0.45, ey_all - 0.45, p["mouth_y"] + 0.08, p["senior"] > 0)
    if reg is not None:
        u, v, px = cv.uv(reg)
        ey, my, mw, ex = cv.q(reg, "eye_y"), cv.q(reg, "mouth_y"), cv.q(reg, "mouth_w"), cv.q(reg, "eye_x")
        lines = [_segment(u, v, -0.2, ey - dy, 0.2, ey - dy, 0.014, px) for dy in (0.3, 0.36)]
        for side in (-1.0, 1.0):
            lines.append(_segment(u, v, side * 0.09, ey + 0.21, side * (mw + 0.05), my + 0.04, 0.014, px))
            lines.append(_segment(u, v, side * (ex + 0.1), ey - 0.01, side * (ex + 0.16), ey - 0.05, 0.012, px))
        cv.paint(reg, np.maximum.reduce(lines) * 0.55, cv.q(reg, "skin") * 0.68)

    # eyes (white, iris, pupil) and eyebrows
    for side in (-1.0, 1.0):
        reach = p["eye_a"] * 1.2 + 0.03
        reg = cv.region(side * p["eye_x"] - reach, side * p["eye_x"] + reach, ey_all - p["brow_y"] - 0.06,
                        ey_all + p["eye_a"])
        u, v, px = cv.uv(reg)
        ex, ey, ea, eb = cv.q(reg, "eye_x") * side, cv.q(reg, "eye_y"), cv.q(reg, "eye_a"), cv.q(reg, "eye_b")
        gaze = ex + cv.q(reg, "gaze")
        white = _ellipse(u, v, ex, ey, ea, eb, px)  # (b, h, w)
        cv.paint(reg, white, _rgb(245, 245, 240))
        cv.paint(reg, _ellipse(u, v, gaze, ey, ea * 0.55, ea * 0.55, px) * white, "iris")
        cv.paint(reg, _ellipse(u, v, gaze, ey, ea * 0.26, ea * 0.26, px) * white, _rgb(15, 15, 15))
        by = ey - cv.q(reg, "brow_y")
        brow = _segment(u, v, ex - side * ea * 0.9, by, ex + side * ea, by - 0.02, cv.q(reg, "brow_w"), px)
        cv.paint(reg, brow, "brow")

    # nose (a soft shadow) and mouth (a curved line; a positive smile turns the corners up)
    reg = cv.region(-0.08, 0.1, ey_all + 0.02, ey_all + 0.32)
    u, v, px = cv.uv(reg)
    cv.paint(reg, _ellipse(u, v, 0.02, cv.q(reg, "eye_y") + cv.q(reg, "nose_y"), 0.035, cv.q(reg, "nose_l"), px)
             * 0.45, cv.q(reg, "skin") * 0.78)
    reg = cv.region(-p["mouth_w"] - 0.04, p["mouth_w"] + 0.04, p["mouth_y"] - 0.1, p["mouth_y"] + 0.1)
    u, v, px = cv.uv(reg)
    my, mw = cv.q(reg, "mouth_y"), cv.q(reg, "mouth_w")
    curve = my - cv.q(reg, "smile") * 0.06 * ((u / mw) ** 2 - 0.35)  # (b, h, w) centre line
    band = np.clip(0.5 - (np.abs(v - curve) - cv.q(reg, "lip") / 2) / px, 0, 1)  # (b, h, w)
    cv.paint(reg, band * np.clip(0.5 - (np.abs(u) - mw) / px, 0, 1), cv.q(reg, "skin") * 0.35 + _LIP_RGB * 0.55)

    # glasses: round or square frames, a bridge and arms to the ears
    has = p["glasses"] > 0  # (B,)
    reg = cv.region(-a_all, a_all, ey_all - 0.16, ey_all + 0.16, has)
    if reg is not None:
        u, v, px = cv.uv(reg)
        ex, ey, ea, a = cv.q(reg, "eye_x"), cv.q(reg, "eye_y"), cv.q(reg, "eye_a"), cv.q(reg, "head_a")
        square = (cv.q(reg, "glasses") == 2).astype(np.float32)  # (b, 1, 1)
        ga, gb = ea * 1.05 + 0.035, np.maximum(ea * 0.8, 0.075)  # (b, 1, 1) lens half-axes
        parts, lens = [], []
        for side in (-1.0, 1.0):
            parts.append(_ring(u, v, side * ex, ey, ga, gb, 0.022, px, square))
            lens.append(_ellipse(u, v, side * ex, ey, ga, gb, px, square))
            parts.append(_segment(u, v, side * (ex + ga), ey - 0.02, side * a * 0.97, ey - 0.01, 0.016, px))
        inner = ex - ga
        parts.append(_segment(u, v, -inner, ey - 0.02, inner, ey - 0.02, 0.018, px))
        cv.paint(reg, np.maximum(*lens) * 0.12, _rgb(200, 225, 255))
        cv.paint(reg, np.maximum.reduce(parts), "frame")

    # lighting: overall brightness and a gradient across the image
    d = p["grad_dir"][:, None, None]  # (B, 1, 1)
    light = p["bright"][:, None, None] * (1 + p["grad"][:, None, None] * (np.cos(d) * cv.x + np.sin(d) * cv.y))
    return np.clip(cv.img * light[..., None].astype(np.float32), 0, 255)  # (B, S, S, 3)


def _face_params(people: People, per_person: int, seed: int) -> dict[str, np.ndarray]:
    """Per-image drawing parameters (B = N * M) from attributes, identity and jitter."""
    n, m = len(people), per_person
    tr = _identity_traits(people)
    rep = lambda a: np.repeat(np.asarray(a), m, axis=0)  # (N, ...) -> (N*M, ...)
    jit = np.zeros((n, m, 15), np.float32)  # (N, M, 15) per-image jitter in [0, 1)
    for i, pid in enumerate(people.person_id):
        jit[i] = np.random.default_rng([people.seed, int(pid), 202, seed]).random((m, 15))
    jit = jit.reshape(n * m, 15)  # (B, 15)

    sex, age, build = rep(people.sex), rep(people.age), rep(people.build)  # (B,)
    child, senior, male = (age == 0), (age == 2), (sex == 1)  # (B,)
    adult_male = male & ~child  # (B,)
    width = np.array([0.9, 1.0, 1.13])[build]  # (B,) head width by build
    skin = _SKIN_RGB[rep(people.skin)] + 10 * rep(tr["skin_j"])[:, None]  # (B, 3)
    hair = _HAIR_RGB[rep(people.hair)]  # (B, 3)
    hair = np.where(senior[:, None], 0.35 * hair + 0.65 * _GREY_RGB, hair)  # (B, 3) greying
    eye_scale = np.where(child, 1.35, 1.0) * (1 + 0.08 * rep(tr["eye_size"]))  # (B,)
    openness = np.where(jit[:, 0] < 0.04, 0.15, 0.55 + 0.5 * jit[:, 1])  # (B,) rare blinks
    eye_y = np.where(child, 0.08, 0.0) + 0.02 * rep(tr["aspect"])  # (B,) children's eyes sit lower
    head_a = 0.5 * width * (1 + 0.03 * rep(tr["aspect"]))  # (B,)
    head_b = np.where(child, 0.58, 0.66) * (1 - 0.02 * rep(tr["aspect"]))  # (B,) children rounder
    eye_a = 0.075 * eye_scale  # (B,)
    bald = senior & male & (rep(tr["bald_u"]) < 0.4)  # (B,)
    style = rep(people.hairstyle)  # (B,)
    return {
        "dx": 0.07 * (2 * jit[:, 2] - 1), "dy": 0.06 * (2 * jit[:, 3] - 1),
        "rot": 0.13 * (2 * jit[:, 4] - 1), "scale": 0.93 + 0.12 * jit[:, 5],
        "background": 140.0 + 90.0 * jit[:, 6:9],
        "skin": skin, "hair": hair, "child": child.astype(np.float32),
        "senior": senior.astype(np.float32), "heavy": (build == 2).astype(np.float32),
        "head_a": head_a, "head_b": head_b,
        "jaw": np.minimum(1.0, np.where(adult_male, 0.75, 0.2) + 0.25 * (build == 2)),
        "neck": 0.17 * width * np.where(adult_male, 1.15, 1.0), "shoulder": 0.9 * width,
        "shirt": rep(tr["shirt"]), "style": style, "bald": bald.astype(np.float32),
        "hairline": np.where(bald, -0.5, -0.33 + 0.04 * rep(tr["hairline"]))
        - np.where(senior & male, 0.05, 0.0) + np.where(style == 1, 0.03, 0.0),
        "hair_curve": np.where(style == 1, 0.5, 0.32),
        "beard": (adult_male & (rep(tr["beard_u"]) < 0.4)).astype(np.float32),
        "eye_y": eye_y, "eye_x": 0.36 * head_a * (1 + 0.06 * rep(tr["eye_dx"])),
        "eye_a": eye_a, "eye_b": eye_a * 0.62 * openness, "gaze": 0.015 * (2 * jit[:, 9] - 1),
        "iris": _IRIS_RGB[rep(tr["iris"])],
        "brow": np.where(senior[:, None], 0.5 * hair + 0.5 * _GREY_RGB, hair * 0.8),
        "brow_y": np.where(child, 0.13, 0.11) + 0.03 * jit[:, 10],
        "brow_w": np.where(male, 0.028, 0.018) * (1 + 0.2 * rep(tr["brow"])),
        "nose_y": np.where(child, 0.13, 0.17), "nose_l": np.where(child, 0.06, 0.09) * (1 + 0.15 * rep(tr["nose"])),
        "mouth_y": eye_y + np.where(child, 0.28, 0.34),
        "mouth_w": np.where(child, 0.11, 0.14) * (1 + 0.1 * rep(tr["mouth_w"])),
        "smile": 1.6 * jit[:, 11] - 0.4, "lip": np.where(sex == 0, 0.03, 0.024),
        "glasses": rep(people.glasses),
        "frame": np.where(rep(tr["frame_u"])[:, None] < 0.5, 25.0, 90.0) * np.array([1.0, 0.8, 0.7]),
        "bright": 0.88 + 0.2 * jit[:, 12], "grad": 0.25 * jit[:, 13],
        "grad_dir": 2 * np.pi * jit[:, 14],
    }


def render_faces(people: People, per_person: int = 4, size: int = 64, seed: Any = 0) -> np.ndarray:
    """Render ``per_person`` images of every person's face.

    Face geometry follows the attributes (see the module docstring); every image jitters
    the pose (shift, rotation, scale), the expression (smile, eye openness, gaze) and the
    lighting (brightness and a gradient). Drawing is vectorised over images with
    anti-aliased ellipses and lines.

    Args:
        people: from :func:`sample_people`.
        per_person: images per person (>= 1).
        size: image side in pixels (>= 16; 64 by default, 32 / 128 for the presets).
        seed: non-negative int or numpy Generator for the per-image jitter.

    Returns:
        ``(N, M, S, S, 3)`` uint8.
    """
    people = _validate_people(people)
    m = _pos_int(per_person, "per_person")
    size = _pos_int(size, "size", minimum=16)
    seed = _seed_int(seed)
    n = len(people)
    out = np.empty((n * m, size, size, 3), np.uint8)  # (B, S, S, 3)
    if n == 0:
        return out.reshape(0, m, size, size, 3)
    params = _face_params(people, m, seed)
    chunk = max(1, 65536 // (size * size)) * 2  # images drawn at once (bounds memory)
    for c0 in range(0, n * m, chunk):
        part = {k: np.asarray(v)[c0:c0 + chunk] for k, v in params.items()}
        out[c0:c0 + chunk] = np.rint(_draw_faces(part, size)).astype(np.uint8)
    return out.reshape(n, m, size, size, 3)


# ----------------------------------------------------------------------------- voices


def formants(tract_cm: float, vowel: str | int, n: int = 4) -> np.ndarray:
    """Formant frequencies (Hz) F1..Fn of ``vowel`` for a vocal tract ``tract_cm`` long:
    ``(2k - 1) c / (4 L)`` times the vowel's ratio. Returns (n,) float64."""
    if isinstance(vowel, (int, np.integer)) and not isinstance(vowel, bool):
        if not 0 <= vowel < len(VOWELS):
            raise ValueError(f"vowel index must be in 0..{len(VOWELS) - 1}, got {vowel}")
        vowel = VOWELS[vowel]
    if vowel not in VOWEL_RATIOS:
        raise ValueError(f"unknown vowel {vowel!r}; expected one of {list(VOWELS)}")
    if not isinstance(tract_cm, (int, float, np.number)) or not 5 <= float(tract_cm) <= 30:
        raise ValueError(f"tract_cm must be a length in 5..30 cm, got {tract_cm!r}")
    n = _pos_int(n, "n")
    k = np.arange(1, n + 1)  # (n,)
    ratios = np.ones(n)  # (n,)
    r = VOWEL_RATIOS[vowel]
    ratios[: min(n, len(r))] = r[: min(n, len(r))]
    return (2 * k - 1) * SPEED_OF_SOUND_CM_S / (4 * float(tract_cm)) * ratios  # (n,)


def _resonators(freqs: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Filter ``(b, a)`` of a cascade of unit-DC-gain second-order resonators at ``freqs``
    (Hz); bandwidths widen with frequency; resonances above 0.45 * sr are left out."""
    freqs = freqs[freqs < 0.45 * sr]  # (K,)
    bw = 45.0 + 0.05 * freqs  # (K,) Hz
    r = np.exp(-np.pi * bw / sr)  # (K,) pole radius
    a1, a2 = -2 * r * np.cos(2 * np.pi * freqs / sr), r * r  # (K,), (K,)
    a = np.ones(1)
    for k in range(len(freqs)):
        a = np.convolve(a, [1.0, a1[k], a2[k]])  # (2k+3,)
    return np.array([np.prod(1 + a1 + a2)]), a


def _voice_traits(people: People) -> np.ndarray:
    """Per-person voice constants (N, 9): rate, intonation range, breath, jitter, shimmer,
    open quotient, and F1..F3 idiosyncrasy factors."""
    rows = []
    for pid in people.person_id:
        r = np.random.default_rng([people.seed, int(pid), 111])
        rows.append(np.concatenate([
            [r.uniform(0.85, 1.15), r.uniform(0.6, 1.4), r.uniform(0.02, 0.07),
             r.uniform(0.004, 0.01), r.uniform(0.03, 0.07), r.uniform(0.5, 0.7)],
            r.uniform(0.96, 1.04, 3)]))
    return np.array(rows, np.float64).reshape(len(people), 9)  # (N, 9)


_CONTROL = 32  # samples per step of the slowly varying controls (pitch contour, envelope)
_LUT = 1024  # entries of the glottal pulse table


def _glottal_table(open_quotient: float) -> np.ndarray:
    """One cycle of the Rosenberg glottal-flow derivative, tabulated: (LUT,) float64.

    The flow opens as ``(1 - cos)`` over ``0.65 * OQ`` of the cycle and closes as a
    quarter cosine over ``0.35 * OQ``; the abrupt closure is the main excitation."""
    u = np.arange(_LUT) / _LUT  # (LUT,) position within the cycle
    tp, tn = 0.65 * open_quotient, 0.35 * open_quotient
    rising = np.sin(np.pi * np.clip(u / tp, 0, 1)) / tp  # (LUT,)
    falling = -np.sin(0.5 * np.pi * np.clip((u - tp) / tn, 0, 1)) / (0.5 * tn)  # (LUT,)
    return np.where(u < tp, rising, np.where(u < tp + tn, falling, 0.0))  # (LUT,)


def _utterance(rng: np.random.Generator, pitch: float, tract: float, tr: np.ndarray,
               n: int, sr: int, noise_bank: np.ndarray) -> np.ndarray:
    """One utterance (n,) float64: a few vowels at ``pitch`` Hz through ``tract`` cm formants.

    Slow controls (pitch contour, amplitude envelope) are computed every ``_CONTROL``
    samples and interpolated; the glottal pulse is read from a table."""
    rate, into, breath, jitter, shimmer, oq = tr[:6]
    dur = n / sr
    lead = min(rng.uniform(0.03, 0.08), 0.1 * dur)
    tail = min(rng.uniform(0.03, 0.08), 0.1 * dur)
    t0, t1 = lead, dur - tail  # voiced stretch (s)
    idx = np.arange(n)  # (T,) sample index
    tc = np.arange(0, n + _CONTROL, _CONTROL) / sr  # (C,) control times (s)
    ic = tc * sr  # (C,) control times (samples)

    # syllables: boundaries, vowels (no vowel twice in a row)
    n_syl = max(1, int(round((t1 - t0) * rate / 0.24)))
    widths = rng.uniform(0.7, 1.3, n_syl)  # (Y,)
    bounds = t0 + (t1 - t0) * np.concatenate([[0.0], np.cumsum(widths) / widths.sum()])  # (Y+1,)
    vowels = [int(rng.integers(len(VOWELS)))]
    for _ in range(n_syl - 1):
        vowels.append(int((vowels[-1] + rng.integers(1, len(VOWELS))) % len(VOWELS)))

    # pitch contour: declination + accents + a little vibrato, median-centred so that the
    # speaker's pitch is the median pitch of the utterance
    rel = np.clip((tc - t0) / max(t1 - t0, 1e-6), 0, 1)  # (C,)
    contour = rng.uniform(-0.12, 0.0) * (rel - 0.5)  # (C,) log-pitch
    for centre in rng.uniform(t0, t1, size=int(rng.integers(1, 3))):
        contour += rng.uniform(-0.06, 0.06) * np.exp(-0.5 * ((tc - centre) / 0.08) ** 2)
    contour = into * contour + 0.006 * np.sin(2 * np.pi * 5.0 * tc + rng.uniform(0, 6.3))  # (C,)
    voiced = (tc >= t0) & (tc < t1)  # (C,)
    contour -= np.median(contour[voiced]) if voiced.any() else 0.0
    f0 = pitch * np.exp(contour)  # (C,) Hz
    phase_c = rng.uniform(0, 1) + np.concatenate([[0.0], np.cumsum(f0[:-1]) * (_CONTROL / sr)])  # (C,)
    phase = np.interp(idx, ic, phase_c)  # (T,) glottal cycles elapsed

    # glottal cycles with jitter (period noise) and shimmer (amplitude noise)
    n_cyc = int(phase[-1] * 1.2) + 8
    period = np.clip(1 + jitter * rng.standard_normal(n_cyc), 0.9, 1.1)  # (C,) in cycles
    starts = np.concatenate([[0.0], np.cumsum(period)])  # (C+1,)
    first = np.searchsorted(phase, starts[1:n_cyc])  # (C-1,) first sample of cycles 1..C-1
    marks = np.bincount(first[first < n], minlength=n)  # (T,) cycles starting at each sample
    cyc = np.minimum(np.cumsum(marks), n_cyc - 1)  # (T,) cycle of every sample
    u = (phase - starts[cyc]) / period[cyc]  # (T,) position within the cycle, [0, 1)
    slot = np.minimum((u * _LUT).astype(np.int64), _LUT - 1)  # (T,)
    table = _glottal_table(oq)  # (LUT,)
    breath_table = breath * np.abs(table).max() * np.where(table != 0, 1.0, 0.4)  # (LUT,) louder when open
    gain = np.exp(shimmer * rng.standard_normal(n_cyc))  # (C,) per-cycle amplitude
    start = int(rng.integers(0, len(noise_bank) - n + 1))
    pulse = table[slot] * gain[cyc] + breath_table[slot] * noise_bank[start:start + n]  # (T,)

    # amplitude: fades at the ends, a dip between syllables
    env = np.clip((tc - t0) / 0.02, 0, 1) * np.clip((t1 - tc) / 0.03, 0, 1)  # (C,)
    syl = np.clip(np.searchsorted(bounds, tc, side="right") - 1, 0, n_syl - 1)  # (C,)
    pos = np.clip((tc - bounds[syl]) / (bounds[syl + 1] - bounds[syl]), 0, 1)  # (C,)
    env = env * (0.35 + 0.65 * np.sqrt(np.sin(np.pi * pos)))  # (C,)
    source = np.interp(idx, ic, env) * pulse  # (T,)

    # filter each syllable with its vowel's formants, cross-fading (linearly) at the boundaries
    out = np.zeros(n)
    fade, warm = int(0.05 * sr), int(0.025 * sr)  # cross-fade width, filter settling (samples)
    idio = np.concatenate([tr[6:9], [1.0]])  # (4,)
    edges = np.round(bounds * sr).astype(np.int64)  # (Y+1,)
    for k in range(n_syl):
        lo = 0 if k == 0 else max(0, edges[k] - fade // 2 - warm)
        hi = n if k == n_syl - 1 else min(n, edges[k + 1] + fade // 2)
        if hi <= lo:
            continue
        w = np.ones(hi - lo)  # (L,) cross-fade weight
        if k > 0:
            w = np.minimum(w, np.clip((idx[lo:hi] - (edges[k] - fade / 2)) / fade, 0, 1))
        if k < n_syl - 1:
            w = np.minimum(w, np.clip(((edges[k + 1] + fade / 2) - idx[lo:hi]) / fade, 0, 1))
        b, a = _resonators(formants(tract, vowels[k]) * idio, sr)  # (1,), (2K+1,)
        out[lo:hi] += w * lfilter(b, a, source[lo:hi])
    return out


def synthesize_voices(people: People, per_person: int = 3, sample_rate: int = 16000,
                      duration: float = 1.5, seed: Any = 0) -> np.ndarray:
    """Synthesize ``per_person`` utterances for every person with a source-filter model.

    Each utterance is a few vowels (/a/ /i/ /u/ /e/ /o/) with amplitude envelopes and
    cross-faded transitions; pitch follows ``people.pitch_hz`` (its median over the
    utterance) with intonation, jitter and shimmer; formants follow ``people.tract_cm``.

    Args:
        people: from :func:`sample_people`.
        per_person: utterances per person (>= 1).
        sample_rate: Hz (>= 8000).
        duration: seconds per utterance (0.1 .. 30).
        seed: non-negative int or numpy Generator for the per-utterance variation.

    Returns:
        ``(N, M, T)`` float32 with ``T = round(duration * sample_rate)``, each utterance
        peak-normalised to 0.9.
    """
    people = _validate_people(people)
    m = _pos_int(per_person, "per_person")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    sr = int(sample_rate)
    if (isinstance(duration, bool) or not isinstance(duration, (int, float, np.number))
            or not math.isfinite(float(duration)) or not 0.1 <= float(duration) <= 30):
        raise ValueError(f"duration must be a number of seconds in 0.1..30, got {duration!r}")
    seed = _seed_int(seed)
    n_samples = int(round(float(duration) * sr))
    traits = _voice_traits(people)  # (N, 9)
    noise_bank = np.random.default_rng([seed, 333]).standard_normal(2 * n_samples)  # (2T,) breath noise
    out = np.zeros((len(people), m, n_samples), np.float32)  # (N, M, T)
    for i, pid in enumerate(people.person_id):
        for j in range(m):
            rng = np.random.default_rng([people.seed, int(pid), 222, seed, j])
            wave = _utterance(rng, float(people.pitch_hz[i]), float(people.tract_cm[i]), traits[i],
                              n_samples, sr, noise_bank)  # (T,)
            top = np.abs(wave).max()
            out[i, j] = wave * (0.9 / top) if top > 0 else wave
    return out


def pitch_track(wave: np.ndarray, sample_rate: int, fmin: float = 60.0,
                fmax: float = 500.0) -> tuple[np.ndarray, np.ndarray]:
    """Frame-wise pitch by YIN: ``(times, f0)``, both (F,), f0 ``nan`` in unvoiced frames.

    Frames of 30 ms every 10 ms (``times`` are frame starts in seconds). For each, the
    cumulative-mean-normalised difference function ``d'(tau)``; a frame is voiced when it is
    loud enough (within 20 dB of the loudest) and periodic (``min d' < 0.3``); its period is
    the first dip of ``d'`` below 0.15, refined to the local minimum and by parabolic
    interpolation.
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"wave must be 1-D (T,), got shape {x.shape}")
    if (isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer, float))
            or not sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number (Hz), got {sample_rate!r}")
    if not 0 < fmin < fmax < sample_rate / 4:
        raise ValueError(f"need 0 < fmin < fmax < sample_rate / 4, got fmin={fmin}, fmax={fmax}")
    sr = float(sample_rate)
    width = int(0.03 * sr)
    tau_min, tau_max = max(2, int(sr / fmax)), int(math.ceil(sr / fmin))
    span = width + tau_max + 1
    if len(x) < span:
        raise ValueError(f"wave is too short: need at least {span} samples at {sr:g} Hz, got {len(x)}")
    hop = max(1, int(0.01 * sr))
    frames = np.lib.stride_tricks.sliding_window_view(x, span)[::hop]  # (F, span)
    times = np.arange(len(frames)) * hop / sr  # (F,)
    nfft = 1 << int(math.ceil(math.log2(span)))
    spec_a = np.fft.rfft(frames[:, :width], nfft)  # (F, nfft/2+1)
    spec_b = np.fft.rfft(frames, nfft)  # (F, nfft/2+1)
    corr = np.fft.irfft(np.conj(spec_a) * spec_b, nfft)[:, : tau_max + 1]  # (F, tau_max+1)
    sq = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)  # (F, span+1)
    e0 = sq[:, width]  # (F,) energy of the first W samples
    taus = np.arange(tau_max + 1)  # (tau_max+1,)
    e_tau = sq[:, taus + width] - sq[:, taus]  # (F, tau_max+1)
    diff = np.maximum(e0[:, None] + e_tau - 2 * corr, 0.0)  # (F, tau_max+1)
    cum = np.cumsum(diff[:, 1:], axis=1)  # (F, tau_max)
    cmnd = np.ones_like(diff)  # (F, tau_max+1)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)

    f0 = np.full(len(frames), np.nan)  # (F,)
    search = cmnd[:, tau_min:tau_max]  # (F, L) lags tau_min .. tau_max - 1
    loud = e0 > 0.01 * e0.max() if e0.max() > 0 else np.zeros(len(frames), bool)  # (F,)
    voiced = loud & (search.min(axis=1) < 0.3)  # (F,)
    if not voiced.any():
        return times, f0
    search, cm = search[voiced], cmnd[voiced]  # (V, L), (V, tau_max+1)
    below = search < 0.15  # (V, L)
    first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))  # (V,)
    lags = np.arange(search.shape[1])  # (L,)
    window = (lags[None, :] >= first[:, None]) & (lags[None, :] <= first[:, None] * 1.25 + 2)  # (V, L)
    best = np.where(window, search, np.inf).argmin(axis=1) + tau_min  # (V,) integer period
    rows = np.arange(len(best))  # (V,)
    left, mid = cm[rows, best - 1], cm[rows, best]  # (V,), (V,)
    right = cm[rows, np.minimum(best + 1, tau_max)]  # (V,)
    denom = left - 2 * mid + right  # (V,)
    shift = 0.5 * (left - right) / np.where(np.abs(denom) > 1e-12, denom, np.inf)  # (V,)
    f0[voiced] = sr / (best + np.clip(shift, -1, 1))
    return times, f0


def estimate_pitch(wave: np.ndarray, sample_rate: int, fmin: float = 60.0, fmax: float = 500.0) -> float:
    """The median pitch (Hz) over the voiced frames of ``wave`` (YIN, see :func:`pitch_track`);
    ``nan`` if no frame is voiced.

    Frames an octave off the first median (a strong second harmonic can fool YIN) are
    folded back by a factor of two before the final median."""
    _, f0 = pitch_track(wave, sample_rate, fmin, fmax)
    f0 = f0[np.isfinite(f0)]  # (V,)
    if not f0.size:
        return float("nan")
    ratio = f0 / np.median(f0)  # (V,)
    f0 = np.where((ratio > 1.7) & (ratio < 2.3), f0 / 2, np.where((ratio > 0.43) & (ratio < 0.59), f0 * 2, f0))
    return float(np.median(f0))


__all__ = [
    "AGES",
    "BUILDS",
    "GLASSES",
    "HAIR",
    "HAIRSTYLES",
    "PITCH_HZ",
    "SEXES",
    "SKIN",
    "TRACT_CM",
    "VOWELS",
    "VOWEL_RATIOS",
    "People",
    "estimate_pitch",
    "formants",
    "pitch_track",
    "render_faces",
    "sample_people",
    "synthesize_voices",
]
