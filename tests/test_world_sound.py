"""mmcourse.world.sound: shape sounds, ambiences, scene clips and WAV files."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import welch

from mmcourse.world import sound
from mmcourse.world.catalog import SCENE_TYPES, SHAPES, SIZES

SR = sound.SAMPLE_RATE


class StandIn:
    """The few fields of a scene batch that scene_clips reads."""

    def __init__(self, shape, size, sounding, scene_type):
        self.shape = np.asarray(shape, np.int64)  # (N, K)
        self.size = np.asarray(size, np.int64)  # (N, K)
        self.sounding = np.asarray(sounding, bool)  # (N, K)
        self.scene_type = np.asarray(scene_type, np.int64)  # (N,)

    def __len__(self) -> int:
        return len(self.scene_type)


def random_scenes(n: int, k: int = 4, seed: int = 0) -> StandIn:
    rng = np.random.default_rng(seed)
    n_obj = rng.integers(1, k + 1, n)  # (N,)
    pad = np.arange(k)[None, :] >= n_obj[:, None]  # (N, K)
    shape = np.where(pad, -1, rng.integers(0, len(SHAPES), (n, k)))
    size = np.where(pad, -1, rng.integers(0, len(SIZES), (n, k)))
    sounding = ~pad & (rng.random((n, k)) < 0.6)
    return StandIn(shape, size, sounding, rng.integers(0, len(SCENE_TYPES), n))


def band_power(wave: np.ndarray, lo: float, hi: float) -> float:
    f, p = welch(wave, SR, nperseg=1024)
    return float(p[(f >= lo) & (f <= hi)].sum())


def peak_frequency(wave: np.ndarray) -> float:
    f, p = welch(wave, SR, nperseg=1024)
    return float(f[np.argmax(p)])


def log_spectrum(wave: np.ndarray) -> np.ndarray:
    _, p = welch(wave, SR, nperseg=512)
    return np.log(p + 1e-10)


# ----------------------------------------------------------------------------- single sounds


@pytest.mark.parametrize("name", SHAPES)
def test_shape_sound_shape_dtype_peak(name):
    w = sound.shape_sound(name)
    assert w.shape == (SR,) and w.dtype == np.float32
    assert np.all(np.isfinite(w)) and abs(np.abs(w).max() - sound.PEAK) < 1e-5
    short = sound.shape_sound(SHAPES.index(name), sample_rate=8000, duration=0.25)
    assert short.shape == (2000,) and np.abs(short).max() <= 1.0


@pytest.mark.parametrize("name", SCENE_TYPES)
def test_ambience_shape_dtype_peak(name):
    w = sound.ambience(name, duration=0.5)
    assert w.shape == (SR // 2,) and w.dtype == np.float32
    assert abs(np.abs(w).max() - sound.PEAK) < 1e-5


def test_same_seed_same_bytes_other_seed_differs():
    for name in SHAPES:
        assert sound.shape_sound(name, seed=3).tobytes() == sound.shape_sound(name, seed=3).tobytes()
        assert not np.array_equal(sound.shape_sound(name, seed=3), sound.shape_sound(name, seed=4))
    for name in SCENE_TYPES:
        assert sound.ambience(name, seed=1).tobytes() == sound.ambience(name, seed=1).tobytes()


def test_every_class_is_designed():
    assert set(sound.SHAPE_SOUND_DESIGN) == set(SHAPES)
    assert set(sound.AMBIENCE_DESIGN) == set(SCENE_TYPES)
    for design in [*sound.SHAPE_SOUND_DESIGN.values(), *sound.AMBIENCE_DESIGN.values()]:
        lo, hi = design["peak_band_hz"]
        assert 0 < lo < hi < SR / 2 and design["sound"] and design["time"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectrum_peaks_where_designed(seed):
    for name in SHAPES:
        lo, hi = sound.SHAPE_SOUND_DESIGN[name]["peak_band_hz"]
        assert lo <= peak_frequency(sound.shape_sound(name, seed=seed)) <= hi, name
    for name in SCENE_TYPES:
        lo, hi = sound.AMBIENCE_DESIGN[name]["peak_band_hz"]
        assert lo <= peak_frequency(sound.ambience(name, seed=seed)) <= hi, name


def test_spectra_tell_the_classes_apart():
    """Nearest-centroid on average log spectra: new seeds are always recognised."""
    makers = [(sound.shape_sound, n) for n in SHAPES] + [(sound.ambience, n) for n in SCENE_TYPES]
    centroids = np.stack([np.mean([log_spectrum(f(n, seed=s)) for s in range(3)], 0) for f, n in makers])
    for c, (f, n) in enumerate(makers):
        for s in (10, 11):
            dist = np.abs(centroids - log_spectrum(f(n, seed=s))).mean(1)  # (C,)
            assert int(np.argmin(dist)) == c, n


def test_time_patterns_differ():
    """Steady sounds stay steady; pinging, chirping and clicking ones are modulated."""
    def modulation(w):
        env = np.sqrt(np.convolve(w.astype(np.float64) ** 2, np.ones(160) / 160, "valid"))[::80]
        return env.std() / env.mean()
    steady = modulation(sound.shape_sound("circle"))
    for name in ("square", "triangle", "star", "cross"):
        assert modulation(sound.shape_sound(name)) > 3 * steady, name


def test_low_sample_rate_scales_the_design():
    w = sound.shape_sound("cross", sample_rate=8000)
    f, p = welch(w, 8000, nperseg=512)
    lo, hi = sound.SHAPE_SOUND_DESIGN["cross"]["peak_band_hz"]
    assert lo / 2 <= f[np.argmax(p)] <= hi / 2


# ----------------------------------------------------------------------------- scene clips


def test_scene_clips_shape_dtype_no_clipping_deterministic():
    scenes = random_scenes(40)
    clips = sound.scene_clips(scenes, seed=5, duration=0.5)
    assert clips.shape == (40, SR // 2) and clips.dtype == np.float32
    assert np.all(np.isfinite(clips)) and np.abs(clips).max() <= sound.PEAK + 1e-5
    assert clips.tobytes() == sound.scene_clips(scenes, seed=5, duration=0.5).tobytes()
    assert not np.array_equal(clips, sound.scene_clips(scenes, seed=6, duration=0.5))


def test_only_sounding_objects_are_heard():
    # scene 0: circle sounds, triangle silent; scene 1: the other way round
    scenes = StandIn([[0, 2], [0, 2]], [[1, 1], [1, 1]], [[True, False], [False, True]], [3, 3])
    clips = sound.scene_clips(scenes, ambience_level=0.0)
    circle_band = sound.SHAPE_SOUND_DESIGN["circle"]["peak_band_hz"]
    bell_band = sound.SHAPE_SOUND_DESIGN["triangle"]["peak_band_hz"]
    assert band_power(clips[0], *circle_band) > 100 * band_power(clips[1], *circle_band)
    assert band_power(clips[1], *bell_band) > 100 * band_power(clips[0], *bell_band)


def test_silent_scene_is_its_ambience():
    scenes = StandIn([[1, -1]] * 4, [[0, -1]] * 4, [[False, False]] * 4, [0, 1, 2, 3])
    clips = sound.scene_clips(scenes)
    for i, name in enumerate(SCENE_TYPES):
        lo, hi = sound.AMBIENCE_DESIGN[name]["peak_band_hz"]
        assert lo <= peak_frequency(clips[i]) <= hi, name
    assert np.all(sound.scene_clips(scenes, ambience_level=0) == 0)


def test_large_objects_are_louder():
    def ratio(circle_size: int) -> float:
        scenes = StandIn([[0, 2]], [[circle_size, 1]], [[True, True]], [0])
        clip = sound.scene_clips(scenes, ambience_level=0.0, seed=2)[0]
        return band_power(clip, 100, 200) / band_power(clip, 1900, 2300)
    assert ratio(1) > 2.0 * ratio(0)  # amplitude 1.0 vs 0.6 -> power x2.8


def test_scene_clips_no_objects_and_short_clips():
    scenes = StandIn(np.zeros((3, 0)), np.zeros((3, 0)), np.zeros((3, 0), bool), [0, 1, 2])
    assert sound.scene_clips(scenes, duration=0.2, sample_rate=8000).shape == (3, 1600)


def test_scene_clips_with_real_scenes():
    scenes_module = pytest.importorskip("mmcourse.world.scenes")
    if not hasattr(scenes_module, "sample_scenes"):
        pytest.skip("scenes.sample_scenes not available")
    batch = scenes_module.sample_scenes(12, seed=0)
    clips = sound.scene_clips(batch, duration=0.5)
    assert clips.shape == (12, SR // 2) and clips.dtype == np.float32


def test_thousand_clips_are_fast():
    scenes = random_scenes(1000, seed=1)
    start = time.process_time()
    clips = sound.scene_clips(scenes)
    assert clips.shape == (1000, SR)
    assert time.process_time() - start < 10.0


# ----------------------------------------------------------------------------- files and bad input


def test_wav_round_trip(tmp_path):
    wave = sound.shape_sound("star", duration=0.5)
    path = tmp_path / "star.wav"
    sound.write_wav(path, wave, SR)
    back, sr = sound.read_wav(path)
    assert sr == SR and back.dtype == np.float32 and back.shape == wave.shape
    assert np.abs(back - wave).max() < 2.0 / 32768
    with pytest.raises(ValueError, match="wave"):
        sound.write_wav(tmp_path / "bad.wav", np.full(10, np.nan), SR)


@pytest.mark.parametrize("fn, first", [(sound.shape_sound, "circle"), (sound.ambience, "beach")])
def test_bad_input_names_the_argument(fn, first):
    for rate in (0, -16000, 1.5):
        with pytest.raises(ValueError, match="sample_rate"):
            fn(first, sample_rate=rate)
    for duration in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="duration"):
            fn(first, duration=duration)
    with pytest.raises(ValueError, match="seed"):
        fn(first, seed=-1)


def test_unknown_classes_and_bad_scenes():
    with pytest.raises(ValueError, match="shape"):
        sound.shape_sound("hexagon")
    with pytest.raises(ValueError, match="shape"):
        sound.shape_sound(len(SHAPES))
    with pytest.raises(ValueError, match="scene_type"):
        sound.ambience("desert")
    good = random_scenes(3)
    with pytest.raises(ValueError, match="sample_rate"):
        sound.scene_clips(good, sample_rate=0)
    with pytest.raises(ValueError, match="duration"):
        sound.scene_clips(good, duration=-1)
    with pytest.raises(ValueError, match="ambience_level"):
        sound.scene_clips(good, ambience_level=-0.5)
    with pytest.raises(ValueError, match="scene_type"):
        sound.scene_clips(StandIn(good.shape, good.size, good.sounding, [0, 1, 9]))
    with pytest.raises(ValueError, match="shape"):
        sound.scene_clips(StandIn(good.shape + 10, good.size, good.sounding, good.scene_type))
    with pytest.raises(ValueError, match="size"):
        sound.scene_clips(StandIn([[0]], [[-1]], [[True]], [0]))
    with pytest.raises(TypeError, match="sounding"):
        sound.scene_clips(type("Half", (), {"__len__": lambda s: 1, "shape": np.zeros((1, 1)),
                                            "size": np.zeros((1, 1))})())
