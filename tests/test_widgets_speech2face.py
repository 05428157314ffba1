"""The voice-to-face explorer of lesson 09, without a browser: every control changes the status line."""

from __future__ import annotations

import pytest
import torch

from mmcourse import speech2face as s2f
from mmcourse.widgets import VoiceFaceExplorer
from mmcourse.world.speakers import render_faces, sample_people, synthesize_voices


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    model = s2f.Speech2Face(s2f.FaceEncoder(3, dim=8, width=4), s2f.FaceDecoder(8, hidden=8, width=8),
                            s2f.VoiceEncoder(dim=8, width=8), s2f.AttributeJudge(width=4))  # untrained: plumbing only
    people = sample_people(3, seed=2)
    waves = torch.from_numpy(synthesize_voices(people, per_person=1, duration=2.0, seed=2)[:, 0])  # (3, T)
    faces = torch.from_numpy(render_faces(people, per_person=1, size=32, seed=2)[:, 0]).permute(0, 3, 1, 2)  # (3, 3, 32, 32)
    return model, people, waves, faces


def test_explorer_moves_change_the_line(parts):
    model, people, waves, faces = parts
    ex = VoiceFaceExplorer(model, people, waves, faces, seconds=2.0)
    first = ex.line
    assert first.startswith("test person 0") and "2 s of voice" in first and "judged from the voice:" in first
    assert ex.status.outputs[0]["text"].startswith(first) and "truth:" in ex.status.outputs[0]["text"]
    assert ex.image.value[:4] == b"\x89PNG" and ex.player.value[:4] == b"RIFF"
    ex.seconds.value = 0.5
    assert ex.line != first and "0.5 s of voice" in ex.line
    before = ex.line
    ex.person.value = ex.person.options[2]
    assert ex.line != before and ex.line.startswith("test person 2")
    assert ex.judged.shape == (7,)


def test_bad_input(parts):
    model, people, waves, faces = parts
    with pytest.raises(ValueError, match="waves"):
        VoiceFaceExplorer(model, people, waves[:2], faces)
    with pytest.raises(ValueError, match="faces"):
        VoiceFaceExplorer(model, people, waves, faces.float())
    with pytest.raises(ValueError, match="seconds"):
        VoiceFaceExplorer(model, people, waves, faces, seconds=3.0)
