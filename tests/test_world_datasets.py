"""Tests of the world's datasets: splits, caching, items and batching (small sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mmcourse.world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES
from mmcourse.world.datasets import (
    ATTRIBUTES,
    SPLITS,
    TAGS,
    AudioVisualDataset,
    CaptionDataset,
    QuestionDataset,
    RecipeDataset,
    SceneData,
    VoiceFaceDataset,
    collate,
    split_seed,
)
from mmcourse.world.vocab import tokenize


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory: pytest.TempPathFactory):
    """Every test of this file uses a fresh, private cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMCOURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _signature(data: SceneData, i: int) -> tuple:
    objs = data.scenes.objects(i)
    return (int(data.scenes.scene_type[i]),) + tuple((o["shape"], o["colour"], round(o["x"], 4), round(o["y"], 4)) for o in objs)


def test_split_seeds_never_collide() -> None:
    seeds = {split_seed(split, seed) for split in SPLITS for seed in range(20)}
    assert len(seeds) == 20 * len(SPLITS)
    with pytest.raises(ValueError, match="split"):
        split_seed("training", 0)
    with pytest.raises(ValueError, match="seed"):
        split_seed("train", -1)


def test_scene_splits_are_disjoint() -> None:
    data = {split: SceneData(split, 40, size=32, text=False, verbose=False) for split in SPLITS}
    sigs = {split: {_signature(d, i) for i in range(len(d))} for split, d in data.items()}
    assert all(len(s) == 40 for s in sigs.values())
    assert not sigs["train"] & sigs["val"] and not sigs["train"] & sigs["test"] and not sigs["val"] & sigs["test"]
    other_seed = SceneData("train", 40, size=32, seed=1, text=False, verbose=False)
    assert not sigs["train"] & {_signature(other_seed, i) for i in range(40)}


def test_scene_data_items_and_cache() -> None:
    data = SceneData("val", 12, size=32, max_objects=3, verbose=False)
    again = SceneData("val", 12, size=32, max_objects=3, verbose=False)  # read from the cache
    assert torch.equal(data.images, again.images) and data.captions == again.captions
    assert len(data) == 12 and len(data.captions) == 12 and len(data.recipes) == 12
    assert all(len(c) == 5 for c in data.captions) and len(data.questions) > 0
    item = data[5]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    assert item["masks"].shape == (3, 32, 32) and item["masks"].dtype == torch.bool
    assert not (item["visible"] & ~item["masks"]).any()
    n = int(item["n_objects"])
    for k in range(n):  # each box holds its mask
        rows, cols = torch.nonzero(item["masks"][k], as_tuple=True)
        x0, y0, x1, y1 = item["boxes"][k].tolist()
        assert x0 <= cols.min() and cols.max() < x1 and y0 <= rows.min() and rows.max() < y1
    assert (item["shape"][n:] == -1).all()
    tags = {TAGS[t] for t in torch.nonzero(item["tags"]).flatten().tolist()}
    present = {SHAPES[s] for s in item["shape"][:n].tolist()} | {COLOUR_NAMES[c] for c in item["colour"][:n].tolist()}
    assert present <= tags and SCENE_TYPES[int(item["scene_type"])] in tags
    batch = next(iter(DataLoader(data, batch_size=4)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["masks"].shape == (4, 3, 32, 32)


def test_caption_dataset_and_padding() -> None:
    ds = CaptionDataset("train", 8, size=32, captions_per_scene=5, verbose=False)
    assert len(ds) == 40
    item = ds[7]
    assert int(item["scene"]) == 1 and item["text"] in ds.data.captions[1]
    tokens = item["caption"]
    assert tokens[0].item() == 1 and tokens[-1].item() == 2  # <start> ... <end>
    assert tokenize(ds.vocabulary.decode(tokens)) == tokenize(item["text"])
    batch = collate([ds[i] for i in range(6)])
    lengths = batch["length"]
    assert batch["caption"].shape == (6, int(lengths.max()))
    for b in range(6):  # padded with 0 after each caption
        assert (batch["caption"][b, lengths[b] :] == 0).all() and (batch["caption"][b, : lengths[b]] != 0).all()
    assert isinstance(batch["text"], list) and len(batch["text"]) == 6
    loaded = next(iter(DataLoader(ds, batch_size=5, collate_fn=collate)))
    assert loaded["image"].shape == (5, 3, 32, 32)


def test_question_and_recipe_datasets() -> None:
    qs = QuestionDataset("test", 10, size=32, questions_per_scene=3, verbose=False)
    assert len(qs) == len(qs.data.questions) > 0
    for i in range(len(qs)):
        item = qs[i]
        assert qs.answers[int(item["answer"])] == item["answer_text"]
        assert qs.types[int(item["type"])] == qs.questions[i].type
    batch = collate([qs[i] for i in range(4)])
    assert batch["question"].shape[0] == 4 and batch["answer"].shape == (4,)
    rs = RecipeDataset("test", 10, size=32, verbose=False)  # shares the cached scenes
    item = rs[3]
    assert len(rs) == 10 and int(item["n_steps"]) == len(rs.recipes[3].steps)
    assert 0 <= int(item["category"]) < len(SHAPES) and rs.recipes[3].steps[-1] in item["text"]
    assert not rs.vocabulary.unknown_words(item["text"])


def test_audio_visual_dataset() -> None:
    ds = AudioVisualDataset("train", 6, size=32, duration=0.5, verbose=False)
    item = ds[2]
    assert item["audio"].shape == (8000,) and item["audio"].dtype == torch.float32
    assert float(item["audio"].abs().max()) <= 1.0 and float(item["audio"].abs().max()) > 0.1
    assert item["sound_mask"].shape == (32, 32)
    sounding_visible = item["visible"][item["sounding"]].any(0)
    assert torch.equal(item["sound_mask"], sounding_visible)
    assert item["sounding"].any()


def test_voice_face_dataset_and_people_splits() -> None:
    train = VoiceFaceDataset("train", 4, size=32, faces_per_person=2, voices_per_person=2, duration=0.3, verbose=False)
    val = VoiceFaceDataset("val", 4, size=32, faces_per_person=2, voices_per_person=2, duration=0.3, verbose=False)
    assert len(train) == 8
    item = train[3]
    assert int(item["person"]) == 1 and item["face"].shape == (3, 32, 32) and item["voice"].shape == (4800,)
    assert item["attributes"].shape == (len(ATTRIBUTES),)
    assert torch.equal(item["attributes"], train[2]["attributes"])  # same person, other face
    people = lambda d: {(float(p), float(t)) for p, t in zip(d.people.pitch_hz, d.people.tract_cm)}  # noqa: E731
    assert not people(train) & people(val)
    assert not torch.equal(train.faces, val.faces)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"split": "training"}, "split"),
        ({"n": 0}, "n"),
        ({"size": 48}, "size"),
        ({"max_objects": 9}, "max_objects"),
        ({"exclude": [("pink", "star")]}, "exclude"),
    ],
)
def test_scene_data_bad_input(kwargs: dict, word: str) -> None:
    args = {"split": "train", "n": 5, "size": 32, "verbose": False, **kwargs}
    with pytest.raises(ValueError, match=word):
        SceneData(**args)


def test_collate_rejects_empty_batch() -> None:
    with pytest.raises(ValueError, match="batch"):
        collate([])
    assert np.array_equal(collate([{"a": 1}, {"a": 2}])["a"].numpy(), [1, 2])
