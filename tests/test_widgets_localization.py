"""The sound-source explorer of lesson 10, without a browser: every control changes the status line."""

from __future__ import annotations

import pytest
import torch

from mmcourse import localization as loc
from mmcourse.encoders import GridEncoder, encode
from mmcourse.widgets import LocalizationExplorer
from mmcourse.world import render, sample_scenes


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=16, width=8).eval()  # untrained: the tests check the plumbing
    scenes = sample_scenes(2, seed=5, min_objects=2, max_objects=3)
    images = torch.from_numpy(render(scenes, size=64).images).permute(0, 3, 1, 2).contiguous()  # (2, 3, 64, 64)
    grids = encode(encoder, images)  # (2, 16, 8, 8)
    models = {"a": loc.SoundLocalizer(grid_dim=16, dim=8, width=4).eval(),
              "b": loc.SoundLocalizer(grid_dim=16, dim=8, width=4, temperature=0.05).eval()}
    return models, scenes, images, grids


def test_explorer_remixes_the_clip_and_the_status_follows(parts):
    models, scenes, images, grids = parts
    ex = LocalizationExplorer(models, scenes, images, grids)
    first = ex.line
    assert first.startswith("test scene 0 | a: sounding") and "peak on" in first
    assert ex.status.outputs[0]["text"].startswith(first)
    assert ex.player.value[:4] == b"RIFF" and ex.image.value[:4] == b"\x89PNG"
    clip = ex.clip.copy()
    ex.objects[0].value = not ex.objects[0].value
    assert ex.line != first and not (clip == ex.clip).all()
    for box in ex.objects:
        if not box.disabled:
            box.value = False
    assert "nothing (ambience only)" in ex.line
    before = ex.line
    ex.model.value = "b"
    assert ex.line != before and "| b:" in ex.line
    ex.scene.value = 1
    assert ex.line.startswith("test scene 1")
    n = int(scenes.n_objects[1])
    assert [box.disabled for box in ex.objects] == [k >= n for k in range(scenes.max_objects)]
    assert [box.value for box in ex.objects][:n] == scenes.sounding[1, :n].tolist()


def test_explorer_rejects_bad_inputs(parts):
    models, scenes, images, grids = parts
    with pytest.raises(ValueError, match="images"):
        LocalizationExplorer(models, scenes, images.float(), grids)
    with pytest.raises(ValueError, match="grid"):
        LocalizationExplorer(models, scenes, images, grids.flatten(2))
    with pytest.raises(ValueError, match="models"):
        LocalizationExplorer({}, scenes, images, grids)
