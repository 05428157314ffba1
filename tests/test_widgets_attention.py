"""The attention explorer of lesson 04, without a browser: every control changes the status line."""

from __future__ import annotations

import pytest
import torch

from mmcourse import captioning as C
from mmcourse.encoders import GridEncoder
from mmcourse.widgets import AttentionExplorer, peak_cell
from mmcourse.world.vocab import END, PAD, START, Vocabulary


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small recurrent models run fastest on one thread (many threads wait on each other on a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=16, width=8).eval()
    vocab = Vocabulary(["a", "red", "star"])
    images = (torch.rand(3, 3, 64, 64) * 255).to(torch.uint8)  # (N, 3, S, S)
    return encoder, vocab, images


def _model(vocab_size: int, **kw) -> C.ShowAttendTell:
    torch.manual_seed(0)
    model = C.ShowAttendTell(vocab_size, feat_dim=16, embed_dim=16, hidden_dim=24, att_dim=12, **kw)
    if model.att is not None:
        torch.nn.init.normal_(model.att.score.weight)  # as after training: a fresh model's maps are uniform
    with torch.no_grad():
        model.out.bias[[PAD, START, END]] = -100.0  # never stop: the caption has many words to slide over
    return model.eval()


def test_every_control_changes_the_status_line(parts):
    encoder, vocab, images = parts
    explorer = AttentionExplorer(encoder, _model(len(vocab), attention="soft", query="updated"), vocab, images)
    lines = [explorer.line]
    explorer.word.value = 1
    lines.append(explorer.line)
    explorer.image.value = 2
    lines.append(explorer.line)
    assert explorer.word.value == 0  # a new caption starts at its first word
    explorer.new_scene.click()
    lines.append(explorer.line)
    assert len(set(lines)) == 4 and "word 2/" in lines[1] and "held-out image 2" in lines[2] and "seed" in lines[3]
    assert explorer.status.outputs[0]["text"].strip() == explorer.line
    assert explorer.picture.value[:4] == b"\x89PNG" and "<b" in explorer.caption_html.value


def test_peak_cell():
    alpha = torch.zeros(64)
    alpha[8 * 3 + 5] = 1.0
    assert peak_cell(alpha) == (3, 5, 1.0)


def test_bad_input(parts):
    encoder, vocab, images = parts
    model = _model(len(vocab), attention="soft", query="updated")
    with pytest.raises(ValueError, match="model must have attention"):
        AttentionExplorer(encoder, _model(len(vocab), attention="none"), vocab, images)
    with pytest.raises(ValueError, match="images must be a uint8 tensor"):
        AttentionExplorer(encoder, model, vocab, images.permute(0, 2, 3, 1))
    with pytest.raises(ValueError, match="boxes must hold"):
        AttentionExplorer(encoder, model, vocab, images, boxes=torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="n_choices"):
        AttentionExplorer(encoder, model, vocab, images, n_choices=0)
