"""mmcourse.world.speakers: people, faces, voices and the pitch estimator."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from mmcourse.world import speakers as sp

SR = 16000


@pytest.fixture(scope="module")
def people() -> sp.People:
    return sp.sample_people(300, seed=7)


def by_group(people: sp.People, per_group: int) -> np.ndarray:
    """Indices of ``per_group`` people of every (sex, age) group."""
    picks = [np.nonzero((people.sex == s) & (people.age == a))[0][:per_group]
             for s in range(len(sp.SEXES)) for a in range(len(sp.AGES))]
    assert all(len(p) == per_group for p in picks)
    return np.concatenate(picks)


def with_fields(people: sp.People, **changes) -> sp.People:
    fields = {f.name: getattr(people, f.name) for f in dataclasses.fields(people)}
    fields.update(changes)
    return sp.People(**fields)


# ----------------------------------------------------------------------------- population


def test_sample_people_fields_and_ranges(people):
    assert len(people) == 300
    for name, choices in (("sex", sp.SEXES), ("age", sp.AGES), ("build", sp.BUILDS), ("hair", sp.HAIR),
                          ("skin", sp.SKIN), ("glasses", sp.GLASSES), ("hairstyle", sp.HAIRSTYLES)):
        arr = getattr(people, name)
        assert arr.shape == (300,) and arr.dtype == np.int64
        assert set(np.unique(arr)) == set(range(len(choices))), name
    assert people.pitch_hz.dtype == np.float32 and people.tract_cm.dtype == np.float32
    assert np.array_equal(people.person_id, np.arange(300))


def test_sample_people_deterministic(people):
    again = sp.sample_people(300, seed=7)
    for f in dataclasses.fields(people):
        assert np.array_equal(getattr(people, f.name), getattr(again, f.name)), f.name
    assert not np.array_equal(people.pitch_hz, sp.sample_people(300, seed=8).pitch_hz)


def test_pitch_and_tract_follow_sex_age_build(people):
    names = {"sex": sp.SEXES, "age": sp.AGES}

    def median(values, **where):
        mask = np.ones(len(people), bool)
        for name, value in where.items():
            mask &= getattr(people, name) == names[name].index(value)
        return float(np.median(values[mask]))
    pitch, tract = people.pitch_hz, people.tract_cm
    assert median(pitch, sex="male", age="adult") < 150 < median(pitch, sex="female", age="adult") < 240
    assert median(pitch, age="child") > median(pitch, sex="female", age="adult")
    assert median(tract, sex="male", age="adult") > median(tract, sex="female", age="adult")
    assert median(tract, sex="female", age="adult") > median(tract, age="child")
    adults = people.age == 1
    slim, heavy = adults & (people.build == 0), adults & (people.build == 2)
    assert tract[heavy].mean() > tract[slim].mean()


def test_indexing_describe_and_attributes(people):
    sub = people[5:9]
    assert len(sub) == 4 and np.array_equal(sub.person_id, np.arange(5, 9)) and sub.seed == people.seed
    one = people[3]
    assert len(one) == 1 and one.person_id[0] == 3
    assert len(people[np.array([1, 4, 4])]) == 3
    text = people.describe(0)
    attrs = people.attributes(0)
    assert attrs["sex"] in text and attrs["age"] in text and attrs["hair"] in text and "Hz" in text
    with pytest.raises(IndexError):
        people[300]


def test_bad_people_fields(people):
    with pytest.raises(ValueError, match="sex"):
        with_fields(people, sex=np.full(300, 5))
    with pytest.raises(ValueError, match="pitch_hz"):
        with_fields(people, pitch_hz=np.zeros(300))
    with pytest.raises(ValueError, match="glasses"):
        with_fields(people, glasses=people.glasses[:10])


# ----------------------------------------------------------------------------- faces


def test_faces_shape_dtype_deterministic(people):
    group = people[:6]
    faces = sp.render_faces(group, per_person=3, size=64, seed=1)
    assert faces.shape == (6, 3, 64, 64, 3) and faces.dtype == np.uint8
    assert faces.tobytes() == sp.render_faces(group, per_person=3, size=64, seed=1).tobytes()
    assert not np.array_equal(faces, sp.render_faces(group, per_person=3, size=64, seed=2))
    assert not np.array_equal(faces[:, 0], faces[:, 1])  # pose, expression and light jitter
    assert faces.std() > 20  # not a blank image


@pytest.mark.parametrize("size", [32, 128])
def test_face_sizes(people, size):
    assert sp.render_faces(people[:2], per_person=1, size=size).shape == (2, 1, size, size, 3)


def test_faces_of_a_sub_population_are_the_same(people):
    whole = sp.render_faces(people[:10], per_person=2)
    assert np.array_equal(sp.render_faces(people[4:7], per_person=2), whole[4:7])


def test_same_person_looks_alike(people):
    faces = sp.render_faces(people[:12], per_person=2).astype(np.float32)  # (12, 2, S, S, 3)
    within = np.abs(faces[:, 0] - faces[:, 1]).mean()
    between = np.abs(faces[:, 0] - np.roll(faces[:, 0], 1, axis=0)).mean()
    assert within < between


def test_face_only_attributes_are_visible(people):
    base = people[:8]
    faces = sp.render_faces(base, per_person=2).astype(np.float32)
    # glasses: changing only them changes the eye band and little else
    flipped = sp.render_faces(with_fields(base, glasses=(base.glasses == 0).astype(np.int64)), per_person=2)
    change = np.abs(flipped.astype(np.float32) - faces).mean(axis=(0, 1, 4))  # (S, S)
    assert change[16:40].mean() > 4 * change[48:].mean() and change.max() > 20
    # skin tone: light faces are brighter than dark ones (same people otherwise)
    light = sp.render_faces(with_fields(base, skin=np.zeros(8, np.int64)), per_person=2)
    dark = sp.render_faces(with_fields(base, skin=np.full(8, 3, np.int64)), per_person=2)
    centre = (slice(None), slice(None), slice(26, 38), slice(26, 38))
    assert light[centre].mean() > dark[centre].mean() + 40
    # hair colour: blonde hair is brighter than black hair at the top of the head
    blonde = sp.render_faces(with_fields(base, hair=np.full(8, 2, np.int64)), per_person=2)
    black = sp.render_faces(with_fields(base, hair=np.zeros(8, np.int64)), per_person=2)
    top = (slice(None), slice(None), slice(8, 16), slice(24, 40))
    assert blonde[top].mean() > black[top].mean() + 40


# ----------------------------------------------------------------------------- voices


def test_formants_scale_with_tract_length():
    assert np.allclose(sp.formants(17.5, "a") * 17.5, sp.formants(14.0, "a") * 14.0)
    neutral = sp.SPEED_OF_SOUND_CM_S / (4 * 17.5) * np.array([1, 3, 5, 7])
    assert np.allclose(sp.formants(17.5, "a") / neutral, sp.VOWEL_RATIOS["a"])
    assert sp.formants(17.0, "i")[0] < sp.formants(17.0, "a")[0]  # /i/ is a close vowel
    assert sp.formants(17.0, "i")[1] > sp.formants(17.0, "u")[1]  # front vs back
    with pytest.raises(ValueError, match="vowel"):
        sp.formants(17.0, "y")
    with pytest.raises(ValueError, match="tract_cm"):
        sp.formants(-1.0, "a")


def test_voices_shape_dtype_deterministic(people):
    group = people[:4]
    voices = sp.synthesize_voices(group, per_person=2, duration=1.0, seed=3)
    assert voices.shape == (4, 2, SR) and voices.dtype == np.float32
    assert np.all(np.isfinite(voices)) and np.abs(voices).max() <= 0.9 + 1e-6
    assert voices.tobytes() == sp.synthesize_voices(group, per_person=2, duration=1.0, seed=3).tobytes()
    assert not np.array_equal(voices[:, 0], voices[:, 1])
    assert not np.array_equal(voices, sp.synthesize_voices(group, per_person=2, duration=1.0, seed=4))
    sub = sp.synthesize_voices(people[2:3], per_person=2, duration=1.0, seed=3)
    assert np.array_equal(sub[0], voices[2])  # a person sounds the same in any population


def test_default_voice_length(people):
    assert sp.synthesize_voices(people[:1], per_person=1).shape == (1, 1, 24000)
    assert sp.synthesize_voices(people[:1], per_person=1, sample_rate=8000, duration=0.5).shape == (1, 1, 4000)


def test_estimated_pitch_matches_every_kind_of_speaker(people):
    idx = by_group(people, 6)  # 36 people: both sexes, all ages
    group = people[idx]
    voices = sp.synthesize_voices(group, per_person=2, duration=1.0, seed=0)
    for i in range(len(group)):
        for j in range(2):
            est = sp.estimate_pitch(voices[i, j], SR)
            assert abs(est / group.pitch_hz[i] - 1) < 0.05, group.describe(i)


def test_estimate_pitch_on_pulse_trains():
    t = np.arange(SR) / SR
    for f0 in (85.0, 150.0, 220.0, 330.0):
        wave = np.sign(np.sin(2 * np.pi * f0 * t)) * 0.5 + 0.3 * np.sin(2 * np.pi * 2 * f0 * t)
        assert abs(sp.estimate_pitch(wave, SR) / f0 - 1) < 0.01
    assert np.isnan(sp.estimate_pitch(np.zeros(SR), SR))
    times, f0 = sp.pitch_track(np.sin(2 * np.pi * 200 * t), SR)
    assert times.shape == f0.shape and np.nanmedian(f0) == pytest.approx(200, rel=0.01)


def test_shorter_tract_gives_higher_formants(people):
    person = people[by_group(people, 1)[1:2]]  # one adult woman
    def centroid(tract):
        voice = sp.synthesize_voices(with_fields(person, tract_cm=np.array([tract])), per_person=1, duration=1.0)
        spec = np.abs(np.fft.rfft(voice[0, 0])) ** 2
        freqs = np.fft.rfftfreq(voice.shape[-1], 1 / SR)
        return (spec * freqs).sum() / spec.sum()
    assert centroid(12.0) > 1.15 * centroid(17.0)


def test_voices_are_fast(people):
    group = people[:40]
    start = time.process_time()
    sp.synthesize_voices(group, per_person=5, duration=1.0)  # 200 utterances of 1 s
    assert time.process_time() - start < 2.0  # i.e. 1,000 in under 10 s


# ----------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument(people):
    with pytest.raises(ValueError, match="n"):
        sp.sample_people(-1)
    with pytest.raises(ValueError, match="seed"):
        sp.sample_people(3, seed=-2)
    with pytest.raises(ValueError, match="per_person"):
        sp.render_faces(people[:2], per_person=0)
    with pytest.raises(ValueError, match="size"):
        sp.render_faces(people[:2], size=8)
    with pytest.raises(TypeError, match="people"):
        sp.render_faces([1, 2])
    with pytest.raises(ValueError, match="sample_rate"):
        sp.synthesize_voices(people[:1], sample_rate=0)
    with pytest.raises(ValueError, match="duration"):
        sp.synthesize_voices(people[:1], duration=0)
    with pytest.raises(ValueError, match="per_person"):
        sp.synthesize_voices(people[:1], per_person=-1)
    with pytest.raises(ValueError, match="wave"):
        sp.estimate_pitch(np.zeros((2, SR)), SR)
    with pytest.raises(ValueError, match="sample_rate"):
        sp.estimate_pitch(np.zeros(SR), 0)
    with pytest.raises(ValueError, match="too short"):
        sp.estimate_pitch(np.zeros(100), SR)


def test_empty_population():
    nobody = sp.sample_people(0)
    assert len(nobody) == 0
    assert sp.render_faces(nobody, per_person=2).shape == (0, 2, 64, 64, 3)
    assert sp.synthesize_voices(nobody, per_person=2, duration=0.5).shape == (0, 2, 8000)
