"""A lesson's numbers depend on its settings and seed, not on what ran before or on the cache.

Lesson 00's audio-visual classifier (the modality-bias demo) is trained twice on a small
slice with the cpu preset's settings: the first run generates the data, the second reads
it from the cache, and other random numbers are drawn in between. Every loss and every
metric must come out identical.
"""

import random

import numpy as np
import pytest
import torch

import mmcourse
from mmcourse import modality
from mmcourse.encoders import EncoderConfig, build_encoder, encode
from mmcourse.training import train
from mmcourse.world import SHAPES, AudioVisualDataset


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    return tmp_path


def _lesson00_run(n_train: int = 160, n_val: int = 60) -> dict:
    preset = mmcourse.preset("cpu")
    encoder = build_encoder(EncoderConfig.for_preset(preset)).eval()  # seeded weights (not pre-trained: fast)
    splits = {}
    for split, n in (("train", n_train), ("val", n_val)):
        data = AudioVisualDataset(split, n, size=preset.image_size, min_objects=1, max_objects=1, verbose=False)
        splits[split] = (
            encode(encoder, data.data.images),  # (n, D, g, g)
            modality.log_mel_stats(data.clips.float() / 32767, data.sample_rate),  # (n, A)
            torch.from_numpy(data.data.scenes.shape[:, 0]),  # (n,)
        )
    grid, sound, label = splits["train"]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(grid, sound, label), batch_size=64,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    mmcourse.seed_everything(0)
    model = modality.AudioVisualClassifier(grid.shape[1], sound.shape[1], len(SHAPES), hidden=preset.pick(cpu=32, gpu=64),
                                           audio_dropout=0.5)
    history = train(model, loader, modality.classifier_loss, epochs=3, lr=3e-3, device="cpu", progress=False,
                    evaluate=lambda m: {"val_acc": modality.accuracy(m, *splits["val"])})
    return {"loss": history.steps["loss"], "acc": history.steps["acc"], "val_acc": history.epochs["val_acc"],
            "weights": [p.detach().clone() for p in model.parameters()]}


def test_lesson00_classifier_trains_to_identical_numbers_twice(tmp_cache):
    first = _lesson00_run()
    random.random(), np.random.rand(5), torch.rand(5)  # whatever ran in between
    second = _lesson00_run()  # its data now comes from the cache
    assert len(list(tmp_cache.glob("world-*.pt"))) == 4  # scenes and clips of two splits, read by the second run
    assert len(first["loss"]) == 9 and len(first["val_acc"]) == 3
    assert first["loss"] == second["loss"]
    assert first["acc"] == second["acc"]
    assert first["val_acc"] == second["val_acc"]
    assert all(torch.equal(a, b) for a, b in zip(first["weights"], second["weights"]))
