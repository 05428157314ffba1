"""Sounds of the course world: one sound per shape class, one ambience per scene type.

Every shape makes its own sound and every scene type has its own background ambience, so
the clip of a scene is the mix of what is in it: the sounds of its *sounding* objects
(``scenes.sounding`` is the ground truth) over the scene's ambience at a lower level.

Each sound is designed in frequency **and** in time, so a spectrogram tells them apart at a
glance. The peak band is where the clip's average power spectrum peaks (frequencies for a
16 kHz clip; below 16 kHz every frequency is scaled by ``sample_rate / 16000`` so each
design stays below the Nyquist frequency):

=========  =====================================================  ==========  =============
sound      design                                                 time        peak band Hz
=========  =====================================================  ==========  =============
circle     steady hum, f0 ~140 Hz, harmonics 1..5 falling         continuous  120 - 160
square     square-ish buzz, f0 ~440 Hz, odd harmonics 1/k         gated 6/s   400 - 480
triangle   bell pings ~2.1 kHz, partials x2.76 x5.4, decaying     4 pings/s   1950 - 2250
star       rapid up-chirps sweeping ~800 -> 1500 Hz               9 chirps/s  750 - 1600
cross      noise bursts band-limited to 4 - 5.5 kHz               3 per bar   3900 - 5600
beach      surf: noise 200 - 1000 Hz (+ faint foam), slow swell   swell ~2 s  190 - 1020
forest     bird chirps ~3.8 -> 2.6 kHz with warble, soft rustle   4-7/s       2500 - 4000
city       traffic rumble 25 - 110 Hz, two-tone horn honks        honks       25 - 115
night      crickets: narrow-band pulses ~6.4 kHz in trains        ~3 trains/s 5800 - 6900
=========  =====================================================  ==========  =============

Each call varies the sound a little (pitch, rate, timing, noise) from its ``seed``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import numpy as np
import soundfile

from .catalog import SCENE_TYPES, SHAPES, SIZES, index_of

SAMPLE_RATE: int = 16000
"""Default sample rate of every clip (Hz), mono."""

DESIGN_RATE: int = 16000
"""The designs below are in Hz for this rate; lower rates scale every frequency down."""

PEAK: float = 0.9
"""Clips are peak-normalised to this absolute value (never clipping at 1)."""

SIZE_GAIN: tuple[float, ...] = (0.6, 1.0)
"""Loudness (amplitude) of an object's sound by size index (``SIZES``): small, large."""

SHAPE_SOUND_DESIGN: dict[str, dict[str, Any]] = {
    "circle": {
        "sound": "steady low hum with harmonics",
        "pitch_hz": 140.0,
        "partials": "harmonics 1..5, amplitudes 1, .45, .3, .18, .1",
        "time": "continuous, gentle 2.5 Hz tremolo",
        "peak_band_hz": (120.0, 160.0),
    },
    "square": {
        "sound": "square-ish buzz at a mid pitch",
        "pitch_hz": 440.0,
        "partials": "odd harmonics k = 1, 3, 5, ... with amplitude 1/k",
        "time": "buzz gated on and off about 6 times a second",
        "peak_band_hz": (400.0, 480.0),
    },
    "triangle": {
        "sound": "high bell pings that decay",
        "pitch_hz": 2100.0,
        "partials": "inharmonic x1, x2.76, x5.4 (bell), higher ones decay faster",
        "time": "a ping every ~0.25 s, 80 ms decay",
        "peak_band_hz": (1950.0, 2250.0),
    },
    "star": {
        "sound": "rapid chirps sweeping up (a trill)",
        "pitch_hz": 1100.0,
        "partials": "exponential sweep ~800 -> 1500 Hz, weak 2nd harmonic",
        "time": "75 ms chirps about 9 times a second",
        "peak_band_hz": (750.0, 1600.0),
    },
    "cross": {
        "sound": "band-limited noise bursts (clicks) in a rhythm",
        "pitch_hz": 4750.0,
        "partials": "noise band 4000 - 5500 Hz",
        "time": "tick-tick-tick-pause, a 0.5 s bar, 12 ms decay per tick",
        "peak_band_hz": (3900.0, 5600.0),
    },
}
"""What makes each shape's sound recognisable; ``peak_band_hz`` is where its spectrum peaks
(at 16 kHz; see the module docstring)."""

AMBIENCE_DESIGN: dict[str, dict[str, Any]] = {
    "beach": {
        "sound": "low-passed surf noise swelling slowly, faint foam hiss",
        "partials": "noise band 200 - 1000 Hz, foam 1000 - 2500 Hz",
        "time": "swell period ~2.4 s",
        "peak_band_hz": (190.0, 1020.0),
    },
    "forest": {
        "sound": "bird-like chirps over a soft rustle",
        "partials": "down-sweeps ~3.8 -> 2.6 kHz with 35 Hz warble; rustle 1 - 7 kHz",
        "time": "4 - 7 chirps a second at random times",
        "peak_band_hz": (2500.0, 4000.0),
    },
    "city": {
        "sound": "low traffic rumble with horn-ish honks",
        "partials": "rumble 25 - 110 Hz; horns 350 + 440 Hz with harmonics",
        "time": "rumble throughout, 1 - 2 honks of 0.15 - 0.35 s",
        "peak_band_hz": (25.0, 115.0),
    },
    "night": {
        "sound": "crickets: high narrow-band pulses",
        "partials": "carriers ~6.4 kHz (two crickets), faint low noise",
        "time": "trains of 3 - 4 pulses of 15 ms, ~3 trains a second",
        "peak_band_hz": (5800.0, 6900.0),
    },
}
"""What makes each scene type's ambience recognisable (same fields as the shapes)."""

_VARIANTS = 4  # templates per class in scene_clips
_CHUNK = 256  # clips mixed at once in scene_clips (bounds memory)


# ----------------------------------------------------------------------------- input validation


def _validate_rate(sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        if isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer():
            sample_rate = int(sample_rate)
        else:
            raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    if sample_rate < 1000:
        raise ValueError(f"sample_rate must be an integer >= 1000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def _validate_samples(duration: Any, sample_rate: int) -> int:
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.integer, np.floating)):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if not math.isfinite(float(duration)) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    n = int(round(float(duration) * sample_rate))
    if n < 1:
        raise ValueError(f"duration={duration!r} is shorter than one sample at {sample_rate} Hz")
    return n


def _rng(seed: Any, *stream: int) -> np.random.Generator:
    """A generator from a non-negative int seed (plus stream numbers) or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative integer or a numpy Generator, got {seed!r}"
        )
    return np.random.default_rng([int(seed), *stream])


# ----------------------------------------------------------------------------- building blocks


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz (soft 10 % edges), unit RMS. Returns (n,)."""
    spec = np.fft.rfft(rng.standard_normal(n))  # (n//2+1,) complex
    f = np.fft.rfftfreq(n, 1.0 / sr)  # (n//2+1,)
    edge_lo, edge_hi = 0.1 * lo + 1e-9, 0.1 * hi + 1e-9
    up = np.clip((f - (lo - edge_lo)) / (2 * edge_lo), 0.0, 1.0)  # (F,) ramp up around lo
    down = np.clip(((hi + edge_hi) - f) / (2 * edge_hi), 0.0, 1.0)  # (F,) ramp down around hi
    mask = np.sin(0.5 * np.pi * up) ** 2 * np.sin(0.5 * np.pi * down) ** 2  # (F,)
    x = np.fft.irfft(spec * mask, n)  # (n,)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _tone(t: np.ndarray, freq: float, sr: int, phase: float = 0.0) -> np.ndarray:
    """A sine at ``freq`` Hz (silent if at or above 0.45 * sr, to avoid aliasing). (T,)"""
    if freq >= 0.45 * sr:
        return np.zeros_like(t)
    return np.sin(2 * np.pi * freq * t + phase)  # (T,)


def _sweep(tau: np.ndarray, f_start: float, f_end: float, length: float, sr: int) -> np.ndarray:
    """Phase (radians) of exponential sweeps restarting wherever ``tau`` (time within an
    event, s) jumps back; frequency ``f_start * (f_end / f_start) ** (tau / length)``. (T,)"""
    f_inst = f_start * (f_end / f_start) ** np.clip(tau / length, 0.0, 1.0)  # (T,) Hz
    return 2 * np.pi * np.cumsum(f_inst) / sr  # (T,)


# ----------------------------------------------------------------------------- shape sounds
# Each maker gets (rng, t, sr, fs) with t the sample times (T,) in seconds and fs the
# frequency scale (1 at 16 kHz and above) and returns an unnormalised wave (T,).


def _circle(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    f0 = 140.0 * fs * rng.uniform(0.95, 1.05)
    amps = (1.0, 0.45, 0.3, 0.18, 0.1)
    x = sum(a * _tone(t, k * f0, sr, rng.uniform(0, 2 * np.pi)) for k, a in enumerate(amps, 1))
    tremolo = 1.0 + 0.12 * np.sin(2 * np.pi * 2.5 * rng.uniform(0.8, 1.2) * t + rng.uniform(0, 6.3))
    return x * tremolo  # (T,)


def _square(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    f0 = 440.0 * fs * rng.uniform(0.96, 1.04)
    phase = rng.uniform(0, 2 * np.pi)
    x = sum(_tone(t, k * f0, sr, k * phase) / k for k in range(1, 16, 2))  # (T,)
    rate = 6.0 * rng.uniform(0.9, 1.1)
    gate = np.clip(0.5 + 2.0 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0, 1)  # (T,)
    pulse = 0.1 + 0.9 * gate  # (T,) buzz on about 60 % of the time
    return x * pulse


def _triangle(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    period = 0.25 * rng.uniform(0.9, 1.1)
    tau = np.mod(t + rng.uniform(0, period), period)  # (T,) time since the last ping
    f = 2100.0 * fs * rng.uniform(0.96, 1.04)
    attack = (1.0 - np.exp(-tau / 0.002)) * np.clip((period - tau) / 0.01, 0, 1)  # (T,) no steps
    x = np.zeros_like(t)
    for ratio, amp, decay in ((1.0, 1.0, 0.08), (2.76, 0.35, 0.04), (5.4, 0.15, 0.02)):
        x += amp * np.exp(-tau / decay) * _tone(t, ratio * f, sr, rng.uniform(0, 2 * np.pi))
    return x * attack  # (T,)


def _star(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    period, length = 0.11 * rng.uniform(0.9, 1.1), 0.075
    tau = np.mod(t + rng.uniform(0, period), period)  # (T,) time within the chirp
    scale = fs * rng.uniform(0.95, 1.05)
    phase = _sweep(tau, 800.0 * scale, 1500.0 * scale, length, sr)  # (T,)
    env = np.where(tau < length, np.sin(np.pi * np.clip(tau / length, 0, 1)) ** 2, 0.0)  # (T,)
    return env * (np.sin(phase) + 0.15 * np.sin(2 * phase))


def _cross(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    bar = 0.5 * rng.uniform(0.9, 1.1)
    tau = np.mod(t + rng.uniform(0, bar), bar)  # (T,) time within the bar
    env = np.zeros_like(t)
    for beat in (0.0, 0.22 * bar, 0.44 * bar):  # tick-tick-tick-pause
        d = tau - beat  # (T,)
        d = np.clip(d, 0, None) * ((d >= 0) & (d < 0.06))  # (T,) 0 outside the tick
        env += np.where(d > 0, np.clip(d / 0.002, 0, 1) * np.exp(-d / 0.012), 0.0)
    noise = _band_noise(rng, len(t), sr, 4000.0 * fs, 5500.0 * fs)  # (T,)
    return env * noise


# ----------------------------------------------------------------------------- ambiences


def _beach(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    period = 2.4 * rng.uniform(0.8, 1.2)
    swell = 0.25 + 0.75 * np.sin(np.pi * t / period + rng.uniform(0, np.pi)) ** 2  # (T,)
    surf = _band_noise(rng, len(t), sr, 200.0 * fs, 1000.0 * fs)  # (T,)
    foam = _band_noise(rng, len(t), sr, 1000.0 * fs, 2500.0 * fs)  # (T,)
    return swell * surf + 0.12 * swell**2 * foam


def _forest(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    n, duration = len(t), len(t) / sr
    wind = 0.7 + 0.3 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6.3))  # (T,)
    x = 0.03 * wind * _band_noise(rng, n, sr, 1000.0 * fs, 7000.0 * fs)  # (T,) rustle
    n_birds = max(1, int(round(duration * rng.uniform(4.0, 7.0))))
    for onset in rng.uniform(-0.05, duration, size=n_birds):
        length = rng.uniform(0.05, 0.12)
        i0, i1 = max(0, int(onset * sr)), min(n, int((onset + length) * sr))
        if i1 <= i0:
            continue
        tau = t[i0:i1] - onset  # (L,)
        scale = fs * rng.uniform(0.95, 1.05)
        warble = 120.0 * fs * np.sin(2 * np.pi * 35.0 * tau)  # (L,) Hz
        f_inst = 3800.0 * scale * (2600.0 / 3800.0) ** (tau / length) + warble  # (L,)
        phase = 2 * np.pi * np.cumsum(f_inst) / sr  # (L,)
        x[i0:i1] += rng.uniform(0.6, 1.0) * np.sin(np.pi * tau / length) ** 2 * np.sin(phase)
    return x


def _city(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    n, duration = len(t), len(t) / sr
    traffic = 0.7 + 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))  # (T,)
    x = traffic * _band_noise(rng, n, sr, 25.0 * fs, 110.0 * fs)  # (T,) rumble, unit RMS
    n_honks = max(1, int(round(duration * rng.uniform(1.0, 2.0))))
    for onset in rng.uniform(-0.1, duration - 0.1, size=n_honks):
        length = rng.uniform(0.15, 0.35)
        i0, i1 = max(0, int(onset * sr)), min(n, int((onset + length) * sr))
        if i1 <= i0:
            continue
        tau = t[i0:i1] - onset  # (L,)
        env = np.clip(tau / 0.02, 0, 1) * np.clip((length - tau) / 0.03, 0, 1)  # (L,)
        tone = np.zeros_like(tau)
        for f0 in (350.0, 440.0):
            f0 = f0 * fs * rng.uniform(0.97, 1.03)
            tone += sum(_tone(tau, k * f0, sr) / k for k in range(1, 7))
        x[i0:i1] += 0.3 * env * tone
    return x


def _night(rng: np.random.Generator, t: np.ndarray, sr: int, fs: float) -> np.ndarray:
    x = 0.05 * _band_noise(rng, len(t), sr, 100.0 * fs, 2000.0 * fs)  # (T,) faint night air
    for carrier, level in ((6400.0, 1.0), (6150.0, 0.6)):  # two crickets
        period = 0.32 * rng.uniform(0.85, 1.15)
        tau = np.mod(t + rng.uniform(0, period), period)  # (T,) time within the train
        pulses = int(rng.integers(3, 5))
        env = np.zeros_like(t)
        for p in range(pulses):  # 15 ms pulses, 28 ms apart
            d = (tau - 0.028 * p) / 0.015  # (T,)
            env += np.where((d >= 0) & (d < 1), np.sin(np.pi * np.clip(d, 0, 1)) ** 2, 0.0)
        x += level * env * _tone(t, carrier * fs * rng.uniform(0.97, 1.03), sr, rng.uniform(0, 6.3))
    return x


_SHAPE_MAKERS: dict[str, Callable[..., np.ndarray]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
}
_AMBIENCE_MAKERS: dict[str, Callable[..., np.ndarray]] = {
    "beach": _beach,
    "forest": _forest,
    "city": _city,
    "night": _night,
}


def _make(maker: Callable[..., np.ndarray], rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr  # (T,) seconds
    fs = min(1.0, sr / DESIGN_RATE)
    return np.asarray(maker(rng, t, sr, fs), dtype=np.float64)  # (T,)


def _peak_normalise(x: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale each row (last axis) so its largest absolute value is ``peak``; silence stays 0."""
    top = np.max(np.abs(x), axis=-1, keepdims=True)  # (..., 1)
    return (x * (peak / np.where(top > 1e-12, top, 1.0))).astype(np.float32)


# ----------------------------------------------------------------------------- public API


def shape_sound(
    shape: str | int, sample_rate: int = SAMPLE_RATE, duration: float = 1.0, seed: Any = 0
) -> np.ndarray:
    """The sound of one shape class (see ``SHAPE_SOUND_DESIGN``), peak-normalised.

    Args:
        shape: a name from ``SHAPES`` or its index.
        sample_rate: Hz (>= 1000); below 16 kHz the design's frequencies scale down.
        duration: seconds (> 0).
        seed: non-negative int or ``numpy.random.Generator``; varies pitch, rate and timing.

    Returns:
        ``(T,)`` float32 with ``T = round(duration * sample_rate)``, peak 0.9.
    """
    s = index_of("shape", shape, SHAPES)
    sr = _validate_rate(sample_rate)
    n = _validate_samples(duration, sr)
    wave = _make(_SHAPE_MAKERS[SHAPES[s]], _rng(seed, 1, s), n, sr)  # (T,)
    return _peak_normalise(wave)


def ambience(
    scene_type: str | int, sample_rate: int = SAMPLE_RATE, duration: float = 1.0, seed: Any = 0
) -> np.ndarray:
    """The background ambience of one scene type (see ``AMBIENCE_DESIGN``), peak-normalised.

    Args:
        scene_type: a name from ``SCENE_TYPES`` or its index.
        sample_rate, duration, seed: as in :func:`shape_sound`.

    Returns:
        ``(T,)`` float32, peak 0.9.
    """
    a = index_of("scene_type", scene_type, SCENE_TYPES)
    sr = _validate_rate(sample_rate)
    n = _validate_samples(duration, sr)
    wave = _make(_AMBIENCE_MAKERS[SCENE_TYPES[a]], _rng(seed, 2, a), n, sr)  # (T,)
    return _peak_normalise(wave)


def _int_array(scenes: Any, name: str, ndim: int, n: int) -> np.ndarray:
    if not hasattr(scenes, name):
        raise TypeError(f"scenes must have a .{name} array (a SceneBatch), got {type(scenes).__name__}")
    arr = np.asarray(getattr(scenes, name))
    if arr.ndim != ndim or arr.shape[0] != n:
        raise ValueError(f"scenes.{name} must have {ndim} dims and {n} rows, got shape {arr.shape}")
    return arr


def scene_clips(
    scenes: Any,
    sample_rate: int = SAMPLE_RATE,
    duration: float = 1.0,
    seed: Any = 0,
    ambience_level: float = 0.35,
) -> np.ndarray:
    """One clip per scene: its sounding objects' sounds over its ambience, peak-normalised.

    Each class is rendered as a few seeded template variations (a bit longer than the
    clip); each object then takes one template at a random time offset with a gain from
    its size (``SIZE_GAIN``) times a random factor, so mixing is a vectorised gather-and-add.
    Templates are normalised to equal RMS before mixing (equal loudness per class).

    Args:
        scenes: anything with ``.shape``, ``.size``, ``.sounding`` (N, K) arrays, a
            ``.scene_type`` (N,) array and ``len()`` (a ``SceneBatch``). Padding slots
            (shape -1) never sound.
        sample_rate, duration: as in :func:`shape_sound`.
        seed: non-negative int or ``numpy.random.Generator``.
        ambience_level: loudness of the ambience relative to one large object (>= 0).

    Returns:
        ``(N, T)`` float32, each clip peak-normalised to 0.9 (a silent clip stays 0).
    """
    sr = _validate_rate(sample_rate)
    n_samples = _validate_samples(duration, sr)
    if isinstance(ambience_level, bool) or not isinstance(ambience_level, (int, float, np.number)):
        raise ValueError(f"ambience_level must be a number >= 0, got {ambience_level!r}")
    if not math.isfinite(float(ambience_level)) or ambience_level < 0:
        raise ValueError(f"ambience_level must be a number >= 0, got {ambience_level!r}")
    n = len(scenes)
    shape = _int_array(scenes, "shape", 2, n).astype(np.int64)  # (N, K)
    k_max = shape.shape[1]
    size = _int_array(scenes, "size", 2, n).astype(np.int64)  # (N, K)
    sounding = _int_array(scenes, "sounding", 2, n).astype(bool)  # (N, K)
    scene_type = _int_array(scenes, "scene_type", 1, n).astype(np.int64)  # (N,)
    if size.shape != shape.shape or sounding.shape != shape.shape:
        raise ValueError(
            f"scenes.shape, .size and .sounding must have one shape, got "
            f"{shape.shape}, {size.shape}, {sounding.shape}"
        )
    if shape.size and (shape.min() < -1 or shape.max() >= len(SHAPES)):
        raise ValueError(f"scenes.shape must hold -1 or indices into SHAPES (0..{len(SHAPES) - 1})")
    active = sounding & (shape >= 0)  # (N, K)
    if np.any(active & ((size < 0) | (size >= len(SIZES)))):
        raise ValueError(f"scenes.size must index SIZES (0..{len(SIZES) - 1}) for every object")
    if scene_type.size and (scene_type.min() < 0 or scene_type.max() >= len(SCENE_TYPES)):
        raise ValueError(f"scenes.scene_type must index SCENE_TYPES (0..{len(SCENE_TYPES) - 1})")

    rng = _rng(seed, 3)
    margin = max(1, n_samples // 2)
    length = n_samples + margin

    def bank(makers: dict[str, Callable[..., np.ndarray]]) -> np.ndarray:
        waves = np.stack(
            [[_make(m, rng, length, sr) for _ in range(_VARIANTS)] for m in makers.values()]
        )  # (C, V, L)
        rms = np.sqrt(np.mean(waves**2, axis=-1, keepdims=True))  # (C, V, 1)
        waves = (waves / np.where(rms > 1e-12, rms, 1.0)).astype(np.float32)  # (C, V, L)
        return np.lib.stride_tricks.sliding_window_view(waves, n_samples, axis=-1)  # (C, V, M+1, T)

    shape_bank = bank(_SHAPE_MAKERS)  # (S, V, M+1, T) view
    amb_bank = bank(_AMBIENCE_MAKERS)  # (A, V, M+1, T) view

    variant = rng.integers(0, _VARIANTS, size=(n, k_max))  # (N, K)
    offset = rng.integers(0, margin + 1, size=(n, k_max))  # (N, K)
    gain = np.asarray(SIZE_GAIN)[np.clip(size, 0, None)] * rng.uniform(0.75, 1.25, (n, k_max))  # (N, K)
    gain = np.where(active, gain, 0.0).astype(np.float32)  # (N, K)
    amb_variant = rng.integers(0, _VARIANTS, size=n)  # (N,)
    amb_offset = rng.integers(0, margin + 1, size=n)  # (N,)
    amb_gain = (float(ambience_level) * rng.uniform(0.8, 1.2, n)).astype(np.float32)  # (N,)

    out = np.empty((n, n_samples), dtype=np.float32)  # (N, T)
    for c0 in range(0, n, _CHUNK):
        rows = np.arange(c0, min(n, c0 + _CHUNK))  # (B,)
        mix = amb_gain[rows, None] * amb_bank[scene_type[rows], amb_variant[rows], amb_offset[rows]]  # (B, T)
        for k in range(k_max):
            on = rows[active[rows, k]]  # (B_k,) clips where object k sounds
            if on.size:
                wave = shape_bank[shape[on, k], variant[on, k], offset[on, k]]  # (B_k, T)
                mix[on - c0] += gain[on, k, None] * wave
        out[rows] = _peak_normalise(mix)  # (B, T)
    return out


def write_wav(path: str | os.PathLike, wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono ``(T,)`` (or ``(T, C)``) float wave in [-1, 1] as 16-bit PCM WAV."""
    sr = _validate_rate(sample_rate)
    x = np.asarray(wave, dtype=np.float32)  # (T,) or (T, C)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"wave must be a non-empty (T,) or (T, C) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("wave must be finite (no nan or inf)")
    soundfile.write(os.fspath(path), np.clip(x, -1.0, 1.0), sr, subtype="PCM_16")


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a sound file; returns ``(wave, sample_rate)`` with wave ``(T,)`` float32 mono
    (several channels are averaged)."""
    x, sr = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)  # (T, C)
    return x.mean(axis=1).astype(np.float32), int(sr)  # (T,)


__all__ = [
    "AMBIENCE_DESIGN",
    "SAMPLE_RATE",
    "SHAPE_SOUND_DESIGN",
    "SIZE_GAIN",
    "ambience",
    "read_wav",
    "scene_clips",
    "shape_sound",
    "write_wav",
]
