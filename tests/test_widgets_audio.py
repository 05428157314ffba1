"""The spectrogram explorer of lesson 07, without a browser: every control redraws."""

from __future__ import annotations

import numpy as np
import pytest

from mmcourse.widgets import SpectrogramExplorer, wav_bytes
from mmcourse.widgets.audio import SCALES


@pytest.fixture(scope="module")
def explorer() -> SpectrogramExplorer:
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000  # (T,) seconds
    clips = {"tone": np.sin(2 * np.pi * 440 * t), "noise": rng.standard_normal(8000).astype(np.float32)}
    return SpectrogramExplorer(clips, sample_rate=16000)


def test_every_control_changes_the_status_line_and_the_picture(explorer):
    lines, pictures = [explorer.line], [bytes(explorer.image.value)]
    for control, value in [("n_fft", 1024), ("hop", 64), ("window", "hann"), ("clip", "noise")] + [
        ("scale", s) for s in SCALES if s != explorer.scale.value
    ]:
        getattr(explorer, control).value = value
        lines.append(explorer.line)
        pictures.append(bytes(explorer.image.value))
        assert f"{control}={value}" in explorer.line
    assert len(set(lines)) == len(lines)
    assert all(p.startswith(b"\x89PNG") for p in pictures) and len(set(pictures)) == len(pictures)
    assert explorer.status.outputs[0]["text"].strip() == explorer.line
    assert bytes(explorer.player.value).startswith(b"RIFF")


def test_status_line_counts_frames_and_bins(explorer):
    explorer.clip.value, explorer.scale.value = "tone", "dB"
    explorer.n_fft.value, explorer.hop.value = 512, 128
    assert "126 frames x 257 bins" in explorer.line  # 1 s at 16 kHz, hop 128, centre padding


def test_bad_input():
    with pytest.raises(ValueError, match="clips must hold"):
        SpectrogramExplorer({})
    with pytest.raises(ValueError, match=r"clips\['stereo'\] must be 1-D"):
        SpectrogramExplorer({"stereo": np.zeros((2, 1000))})
    with pytest.raises(ValueError, match="n_fft, hop, window, scale"):
        SpectrogramExplorer({"x": np.zeros(1000)}, n_fft=500)
    with pytest.raises(ValueError, match="wave_ must be 1-D"):
        wav_bytes(np.zeros((2, 10)), 16000)
