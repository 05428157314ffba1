"""Tests of the scene world: sampling, rendering and their ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse.world.catalog import COLOUR_NAMES, COLOURS, SCENE_TYPES, SHAPES, SIZE_RADIUS, SIZES
from mmcourse.world.scenes import (
    GENERATOR_VERSION,
    Rendered,
    SceneBatch,
    make_scene,
    render,
    sample_scenes,
    to_tensor,
)


@pytest.fixture(scope="module")
def scenes() -> SceneBatch:
    return sample_scenes(120, seed=5, min_objects=1, max_objects=5)


@pytest.fixture(scope="module")
def rendered(scenes: SceneBatch) -> Rendered:
    return render(scenes, size=64)


def _valid(scenes: SceneBatch) -> np.ndarray:
    return np.arange(scenes.max_objects)[None, :] < scenes.n_objects[:, None]  # (N, K)


# ---------------------------------------------------------------------------- sampling


def test_sample_shapes_and_padding(scenes: SceneBatch) -> None:
    n, k = 120, 5
    assert len(scenes) == n and scenes.max_objects == k
    assert isinstance(GENERATOR_VERSION, str) and GENERATOR_VERSION
    for name in ("shape", "colour", "size", "x", "y", "radius", "sounding"):
        assert getattr(scenes, name).shape == (n, k), name
    assert scenes.scene_type.dtype == np.int64 and scenes.shape.dtype == np.int64
    assert scenes.x.dtype == np.float32 and scenes.sounding.dtype == bool
    valid = _valid(scenes)
    assert scenes.n_objects.min() >= 1 and scenes.n_objects.max() <= k
    assert set(np.unique(scenes.n_objects)) == {1, 2, 3, 4, 5}
    assert (scenes.shape[~valid] == -1).all() and (scenes.colour[~valid] == -1).all()
    assert (scenes.size[~valid] == -1).all() and np.isnan(scenes.x[~valid]).all()
    assert not scenes.sounding[~valid].any()
    assert scenes.shape[valid].min() >= 0 and scenes.shape[valid].max() < len(SHAPES)
    assert scenes.colour[valid].max() < len(COLOUR_NAMES) and scenes.size[valid].max() < len(SIZES)
    nominal = np.asarray(SIZE_RADIUS)[scenes.size[valid]]
    assert np.all(np.abs(scenes.radius[valid] / nominal - 1) <= 0.1 + 1e-6)
    r = scenes.radius[valid]
    for c in (scenes.x[valid], scenes.y[valid]):
        assert np.all(c - r >= 0) and np.all(c + r <= 1)  # objects lie inside the image
    assert scenes.sounding.any(1).all()  # every scene has a sounding object
    assert set(np.unique(scenes.scene_type)) == set(range(len(SCENE_TYPES)))


def test_sampling_is_deterministic() -> None:
    a, b = sample_scenes(30, seed=11), sample_scenes(30, seed=11)
    c = sample_scenes(30, seed=12)
    for name in ("scene_type", "n_objects", "shape", "colour", "size", "x", "y", "radius", "sounding", "variation"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.shape, c.shape)


def test_indexing_objects_and_describe(scenes: SceneBatch) -> None:
    one = scenes[3]
    assert isinstance(one, SceneBatch) and len(one) == 1 and one.max_objects == scenes.max_objects
    assert len(scenes[2:7]) == 5 and len(scenes[np.array([0, 4, 9])]) == 3
    assert len(scenes[scenes.scene_type == 0]) == int((scenes.scene_type == 0).sum())
    assert len(scenes[-1]) == 1
    objs = scenes.objects(3)
    assert len(objs) == scenes.n_objects[3]
    assert set(objs[0]) == {"shape", "colour", "size", "x", "y", "radius", "sounding"}
    assert objs[0]["shape"] in SHAPES and objs[0]["colour"] in COLOUR_NAMES
    line = scenes.describe(3)
    assert line.startswith(SCENE_TYPES[scenes.scene_type[3]]) and "\n" not in line
    with pytest.raises(IndexError):
        scenes[len(scenes)]


def test_exclude_scene_types_and_sounding() -> None:
    held_out = [("red", "star"), ("blue", "circle")]
    s = sample_scenes(400, seed=2, exclude=held_out, scene_types=["beach", "night"], sounding_fraction=0.0)
    valid = _valid(s)
    pairs = set(zip(s.colour[valid].tolist(), s.shape[valid].tolist()))
    for colour, shape in held_out:
        assert (COLOUR_NAMES.index(colour), SHAPES.index(shape)) not in pairs
    assert len(pairs) == len(COLOUR_NAMES) * len(SHAPES) - 2  # every other pair still appears
    assert set(np.unique(s.scene_type)) == {SCENE_TYPES.index("beach"), SCENE_TYPES.index("night")}
    assert not s.sounding.any()


def test_max_overlap_is_respected() -> None:
    s = sample_scenes(60, seed=4, min_objects=3, max_objects=6, max_overlap=0.15)
    r = render(s, size=128)
    valid = _valid(s)
    area = r.masks.sum((2, 3))  # (N, K)
    hidden = (r.masks & ~r.visible).sum((2, 3))  # (N, K)
    frac = hidden[valid] / area[valid]
    assert frac.max() <= 0.15 + 0.06  # measured on pixels, allowed on sample points
    s0 = sample_scenes(60, seed=4, min_objects=3, max_objects=6, max_overlap=0.0)
    m0 = render(s0, size=64).masks
    assert (m0.sum(1) <= 1).all()  # no pixel belongs to two objects


# ---------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_shapes_and_sizes(size: int) -> None:
    s = sample_scenes(6, seed=1, max_objects=3)
    r = render(s, size=size)
    assert r.images.shape == (6, size, size, 3) and r.images.dtype == np.uint8
    assert r.masks.shape == (6, 3, size, size) and r.masks.dtype == bool
    assert r.visible.shape == r.masks.shape and r.visible.dtype == bool
    assert r.boxes.shape == (6, 3, 4) and r.boxes.dtype == np.float32
    valid = _valid(s)
    assert (r.masks.sum((2, 3))[valid] > 0).all()  # every object has pixels
    assert not r.masks[~valid].any() and np.isnan(r.boxes[~valid]).all()
    assert len(r) == 6


def test_render_is_deterministic_and_batch_independent(scenes: SceneBatch, rendered: Rendered) -> None:
    again = render(scenes, size=64)
    assert again.images.tobytes() == rendered.images.tobytes()
    assert again.masks.tobytes() == rendered.masks.tobytes()
    alone = render(scenes[7:9], size=64)  # a scene looks the same in any batch
    np.testing.assert_array_equal(alone.images, rendered.images[7:9])
    other = render(scenes[:5], size=64, seed=3)  # another view: same objects, other details
    np.testing.assert_array_equal(other.masks, rendered.masks[:5])
    assert not np.array_equal(other.images, rendered.images[:5])


def test_boxes_contain_masks_tightly(scenes: SceneBatch, rendered: Rendered) -> None:
    s, r = scenes, rendered
    for i in range(len(s)):
        for k in range(s.n_objects[i]):
            rows, cols = np.nonzero(r.masks[i, k])
            x0, y0, x1, y1 = r.boxes[i, k]
            assert x0 <= cols.min() and cols.max() < x1 and y0 <= rows.min() and rows.max() < y1
            assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


def test_visible_is_mask_minus_later_objects(scenes: SceneBatch, rendered: Rendered) -> None:
    m, v = rendered.masks, rendered.visible
    assert not (v & ~m).any()  # visible is inside the mask
    later = np.zeros_like(m[:, 0])
    for k in reversed(range(m.shape[1])):
        np.testing.assert_array_equal(v[:, k], m[:, k] & ~later)
        later |= m[:, k]


def test_later_objects_cover_earlier_ones() -> None:
    square = {"shape": "square", "colour": "red", "size": "large", "x": 0.5, "y": 0.5}
    dot = {"shape": "circle", "colour": "blue", "size": "small", "x": 0.5, "y": 0.5}
    front = render(make_scene([square, dot], "city"), size=64)
    centre = front.images[0, 32, 32].astype(int)
    assert np.abs(centre - COLOURS["blue"]).sum() < np.abs(centre - COLOURS["red"]).sum()
    assert not front.visible[0, 0, 32, 32] and front.visible[0, 1, 32, 32]
    assert front.visible[0, 1].sum() == front.masks[0, 1].sum()
    behind = render(make_scene([dot, square], "city"), size=64)  # the dot is hidden
    centre = behind.images[0, 32, 32].astype(int)
    assert np.abs(centre - COLOURS["red"]).sum() < np.abs(centre - COLOURS["blue"]).sum()
    assert behind.masks[0, 0].sum() > 0 and behind.visible[0, 0].sum() == 0


def test_edges_are_anti_aliased() -> None:
    objs = [{"shape": "circle", "colour": "yellow", "size": "large", "x": 0.5, "y": 0.5}]
    with_obj = render(make_scene(objs, "night", variation=4), size=64)
    without = render(make_scene([], "night", variation=4), size=64)  # the same background
    diff = np.abs(with_obj.images[0].astype(int) - without.images[0].astype(int)).sum(-1)  # (S, S)
    mask = with_obj.masks[0, 0]
    ring = np.zeros_like(mask)  # pixels next to the mask
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ring |= np.roll(mask, (dy, dx), axis=(0, 1))
    ring &= ~mask
    fringe = diff[ring]
    assert (fringe > 0).sum() >= 8  # outside the mask, partly covered pixels took some colour
    assert np.median(diff[mask]) > 2 * fringe.max()  # ... but less than the inside
    assert (diff[~mask & ~ring] == 0).all()  # nothing changed farther away


def test_every_shape_is_drawn_distinctly() -> None:
    objs = [{"shape": s, "colour": "red", "size": "large", "x": 0.5, "y": 0.5} for s in SHAPES]
    masks = np.stack([render(make_scene([o], "beach"), size=64).masks[0, 0] for o in objs])  # (5, S, S)
    areas = masks.sum((1, 2))
    assert (areas > 60).all()
    for a in range(len(SHAPES)):
        for b in range(a + 1, len(SHAPES)):
            assert (masks[a] ^ masks[b]).sum() > 40, (SHAPES[a], SHAPES[b])


def test_make_scene_defaults_and_fields() -> None:
    s = make_scene([{"shape": "star", "colour": "green"}, {"shape": "cross", "colour": "orange", "size": "small"}], "forest")
    assert len(s) == 1 and s.n_objects[0] == 2 and s.scene_type[0] == SCENE_TYPES.index("forest")
    objs = s.objects(0)
    assert objs[0]["size"] == "large" and objs[0]["sounding"] is True
    assert objs[1]["radius"] == pytest.approx(SIZE_RADIUS[0])
    assert objs[0]["x"] < objs[1]["x"]  # placed in a row by default
    empty = make_scene([], "night")
    assert empty.n_objects[0] == 0 and render(empty, size=32).masks.sum() == 0


def test_to_tensor() -> None:
    images = render(sample_scenes(3, seed=0), size=32).images
    t = to_tensor(images)
    assert t.shape == (3, 3, 32, 32) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert t[1, 2, 5, 7].item() == pytest.approx(images[1, 5, 7, 2] / 255.0)
    assert to_tensor(images[0]).shape == (3, 32, 32)
    with pytest.raises(TypeError, match="uint8"):
        to_tensor(images.astype(np.float32))


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n": 0}, "n"),
        ({"n": -3}, "n"),
        ({"n": 5, "max_objects": 7}, "max_objects"),
        ({"n": 5, "max_objects": 0}, "max_objects"),
        ({"n": 5, "min_objects": 3, "max_objects": 2}, "min_objects"),
        ({"n": 5, "max_overlap": 1.5}, "max_overlap"),
        ({"n": 5, "exclude": [("pink", "star")]}, "exclude"),
        ({"n": 5, "exclude": [("red", "hexagon")]}, "exclude"),
        ({"n": 5, "exclude": "red star"}, "exclude"),
        ({"n": 5, "scene_types": ["moon"]}, "scene_types"),
        ({"n": 5, "sounding_fraction": -0.1}, "sounding_fraction"),
        ({"n": 5, "seed": -1}, "seed"),
    ],
)
def test_sample_scenes_bad_input(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        sample_scenes(**kwargs)


def test_exclude_everything_is_refused() -> None:
    every = [(c, s) for c in COLOUR_NAMES for s in SHAPES]
    with pytest.raises(ValueError, match="exclude"):
        sample_scenes(5, exclude=every)


@pytest.mark.parametrize(
    "objects, scene_type, word",
    [
        ([{"shape": "hexagon", "colour": "red"}], "beach", "shape"),
        ([{"shape": "star", "colour": "pink"}], "beach", "colour"),
        ([{"shape": "star", "colour": "red", "size": "medium"}], "beach", "size"),
        ([{"shape": "star"}], "beach", "colour"),
        ([{"shape": "star", "colour": "red", "x": 0.5}], "beach", "'y'"),
        ([{"shape": "star", "colour": "red", "x": 1.5, "y": 0.5}], "beach", "x"),
        ([{"shape": "star", "colour": "red", "color": "red"}], "beach", "unknown keys"),
        ([{"shape": "star", "colour": "red"}] * 7, "beach", "objects"),
        ([{"shape": "star", "colour": "red"}], "moon", "scene_type"),
        ("star", "beach", "objects"),
    ],
)
def test_make_scene_bad_input(objects, scene_type: str, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        make_scene(objects, scene_type)


@pytest.mark.parametrize("size", [48, 0, 64.0, "64"])
def test_render_bad_size(size) -> None:
    with pytest.raises(ValueError, match="size"):
        render(sample_scenes(2), size=size)


def test_object_colours_stand_out_from_every_background() -> None:
    backgrounds = np.concatenate(
        [render(make_scene([], t, variation=v), size=64).images.reshape(-1, 3) for t in SCENE_TYPES for v in range(6)]
    ).astype(float)  # (P, 3) every background pixel
    for name, rgb in COLOURS.items():
        distance = np.linalg.norm(backgrounds - np.array(rgb, float), axis=1)
        assert distance.min() > 60, name
    per_type = [render(make_scene([], t, variation=1), size=64).images[0].reshape(-1, 3).mean(0) for t in SCENE_TYPES]
    for a in range(len(per_type)):  # the scene types look different on average
        for b in range(a + 1, len(per_type)):
            assert np.linalg.norm(per_type[a] - per_type[b]) > 30
