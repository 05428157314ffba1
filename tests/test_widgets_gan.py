"""The text-to-image explorer of lesson 05, without a browser: every control changes the status line."""

from __future__ import annotations

import pytest
import torch

from mmcourse import gan
from mmcourse.widgets import TextToImageExplorer
from mmcourse.word2vec import pretrained_word_vectors


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    encoder = gan.TextEncoder(pretrained_word_vectors(progress=False))
    config = gan.GANConfig(width=4, noise_dim=8, text_code=4)
    models = {"a": gan.TextToImageGAN(config, encoder.dim).eval(), "b": gan.TextToImageGAN(config, encoder.dim).eval()}
    judge = gan.Judge(width=4, feature_dim=8).eval()  # untrained: the tests check the plumbing
    return models, encoder, judge


def test_explorer_walks_the_text_and_draws_new_noise(parts):
    models, encoder, judge = parts
    ex = TextToImageExplorer(models, encoder, judge, steps=5, n_styles=3)
    first = ex.line
    assert first.startswith('a | 1.00 x "a large red circle on the beach"') and "noise 0" in first and "judge:" in first
    assert ex.status.outputs[0]["text"].startswith(first) and ex.image.value[:4] == b"\x89PNG"
    before = ex.current.clone()
    ex.mix.value = 1.0
    assert ex.line != first and '0.00 x "a large red circle' in ex.line
    assert not torch.equal(before, ex.current)
    ex.new_noise.click()
    assert "noise 1" in ex.line
    assert ex.draw_new_noise().count("noise 2") == 1
    ex.model.value = "b"
    assert ex.line.startswith("b |")
    ex.caption_b.value = "a crimson blob"
    assert "crimson" in ex.line and "outside the vocabulary" in ex.line
    ex.caption_b.value = "a small green square in the forest"
    assert "judge:" in ex.line


def test_bad_input(parts):
    models, encoder, judge = parts
    with pytest.raises(ValueError, match="models"):
        TextToImageExplorer({}, encoder, judge)
    with pytest.raises(ValueError, match="steps"):
        TextToImageExplorer(models, encoder, judge, steps=1)
    with pytest.raises(ValueError, match="n_styles"):
        TextToImageExplorer(models, encoder, judge, n_styles=0)
