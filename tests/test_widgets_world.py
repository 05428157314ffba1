"""The scene explorer of lesson 00, without a browser: the slider changes the status lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse.modality import CONCEPTS, Reading
from mmcourse.widgets import WorldExplorer
from mmcourse.world import SceneData

N = 4


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:  # a private cache folder for the scenes
        mp.setenv("MMCOURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        data = SceneData("test", N, size=32, verbose=False)
    clips = np.random.default_rng(0).standard_normal((N, 1600)).astype(np.float32)  # (N, T)
    reading = Reading(  # an encoder that sees nothing anywhere
        shape=torch.zeros(N, 4, 4, dtype=torch.long), colour=torch.zeros(N, 4, 4, dtype=torch.long),
        scene=torch.zeros(N, dtype=torch.long), summary=torch.zeros(N, len(CONCEPTS)),
    )
    return data, clips, reading


def test_the_slider_shows_each_scene(parts):
    data, clips, reading = parts
    ex = WorldExplorer(data, clips, reading, sample_rate=16000)
    seen = {ex.line}
    first_picture = bytes(ex.picture.value)
    for i in range(1, N):
        ex.scene.value = i
        assert ex.line.startswith(f"scene {i} (") and "| Q: " in ex.line and "by looking:" in ex.line
        seen.add(ex.line)
    assert len(seen) == N
    text = ex.status.outputs[0]["text"]
    assert text.startswith(ex.line + "\n") and "  caption: " + data.captions[N - 1][0] in text
    assert "  recipe: " in text and "  sounding: " in text
    assert bytes(ex.picture.value) != first_picture and ex.picture.value[:4] == b"\x89PNG"
    assert bytes(ex.player.value).startswith(b"RIFF")


def test_bad_input(parts):
    data, clips, reading = parts
    with pytest.raises(ValueError, match="clips must be"):
        WorldExplorer(data, clips[:2], reading)
    with pytest.raises(ValueError, match="reading must describe"):
        WorldExplorer(data, clips, Reading(reading.shape[:1], reading.colour[:1], reading.scene[:1], reading.summary[:1]))
    with pytest.raises(ValueError, match="sample_rate"):
        WorldExplorer(data, clips, reading, sample_rate=0)
    with pytest.raises(ValueError, match="scene must be"):
        WorldExplorer(data, clips, reading, scene=N)
    with pytest.raises(ValueError, match="data must be"):
        WorldExplorer([], clips, reading)
