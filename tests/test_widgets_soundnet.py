"""The SoundNet explorer of lesson 08: built on an untrained student, moved like a learner moves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse import soundnet
from mmcourse.encoders import GridEncoder
from mmcourse.widgets import SoundNetExplorer
from mmcourse.world import render, sample_scenes, scene_clips


@pytest.fixture(scope="module")
def explorer():
    torch.manual_seed(0)
    scenes = sample_scenes(3, seed=11, min_objects=2)
    images = torch.from_numpy(render(scenes, size=64).images).permute(0, 3, 1, 2).contiguous()
    clips = torch.from_numpy(scene_clips(scenes, duration=0.25, seed=0))
    student = soundnet.SoundNet(soundnet.SoundNetConfig(channels=(4, 8, 8, 16))).eval()
    return SoundNetExplorer(student, GridEncoder(dim=16, width=8).eval(), scenes, clips, images)


def test_it_shows_the_first_clip(explorer):
    assert explorer.line.startswith("test clip 0")
    assert "student (sound)" in explorer.line and "teacher (frame)" in explorer.line
    assert explorer.image.value[:4] == b"\x89PNG" and explorer.player.value[:4] == b"RIFF"
    assert set(explorer.student_out) == {"object", "scene"}


def test_moving_the_controls_changes_the_view(explorer):
    explorer.clip.value = "test clip 2"
    assert explorer.line.startswith("test clip 2")
    before = explorer.line
    explorer.scene.value = "night" if explorer.scene.value != "night" else "beach"
    assert explorer.line != before and explorer.line.startswith("mix 1")
    box = explorer.objects[0]
    assert not box.disabled
    box.value = not box.value
    assert explorer.line.startswith("mix 2")
    for b in explorer.objects:
        if not b.disabled:
            b.value = False
    assert "nothing but the ambience" in explorer.line


def test_bad_arguments_are_refused():
    scenes = sample_scenes(2, seed=1)
    with pytest.raises(ValueError, match="same"):
        SoundNetExplorer(soundnet.SoundNet(), GridEncoder(dim=16, width=8), scenes, torch.zeros(3, 4000),
                         torch.zeros(3, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="images"):
        SoundNetExplorer(soundnet.SoundNet(), GridEncoder(dim=16, width=8), scenes, torch.zeros(2, 4000),
                         torch.zeros(2, 3, 64, 64))
