"""The question explorer of lesson 06, without a browser: every control changes the status line."""

from __future__ import annotations

import pytest
import torch

from mmcourse import vqa
from mmcourse.encoders import GridEncoder
from mmcourse.widgets import VQAExplorer
from mmcourse.world import answer_vocabulary, course_vocabulary, render, sample_scenes

A = len(answer_vocabulary())


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=16, width=8).eval()  # untrained: the tests check the plumbing
    vocab = course_vocabulary()
    scenes = sample_scenes(2, seed=3)
    images = torch.from_numpy(render(scenes, size=64).images).permute(0, 3, 1, 2)  # (2, 3, 64, 64) uint8
    feats = vqa.extract_features(encoder, images)
    models = {
        "global": vqa.VQAModel(len(vocab), vqa.GLOBAL_DIM, A, dim=8, embed_dim=4, hidden=4, head_hidden=8),
        "attention": vqa.AttentionVQA(len(vocab), vqa.GLOBAL_DIM, 16, A, dim=8, att_dim=4, embed_dim=4, hidden=4,
                                      head_hidden=8),
    }
    return models, encoder, vocab, scenes, images, feats


def test_explorer_answers_lists_unknown_words_and_draws_new_scenes(parts):
    models, encoder, vocab, scenes, images, feats = parts
    ex = VQAExplorer(models, encoder, vocab, answer_vocabulary(), scenes, images, feats, question="is there a star?")
    first = ex.line
    assert first.startswith("test scene 0 | global:") and len(ex.top) == 5
    assert ex.status.outputs[0]["text"].startswith(first)
    ex.scene.value = "test scene 1"
    assert ex.line != first and ex.line.startswith("test scene 1")
    ex.model.value = "attention"
    assert "attention" in ex.line and ex.image.value[:4] == b"\x89PNG"
    ex.question.value = "is there a crimson blob?"
    assert "'crimson', 'blob'" in ex.line and "<unk>" in ex.line
    ex.question.value = "zzz qqq"  # nothing known at all: still an answer, no error
    assert "-> " in ex.line
    ex.question.value = "   "
    assert "type a question" in ex.line
    ex.question.value = "is there a star?"
    ex.new_scene.click()
    assert ex.scene.value == "new scene 1" and ex.line.startswith("new scene 1")
    drawn = render(sample_scenes(1, seed=10_000), size=64).images[0]  # (64, 64, 3), the first seed of new scenes
    assert ex.pictures["new scene 1"].dtype == torch.uint8 and ex.pictures["new scene 1"].shape == (3, 64, 64)
    assert torch.equal(ex.pictures["new scene 1"], torch.from_numpy(drawn).permute(2, 0, 1))
    assert ex.draw_new_scene().startswith("new scene 2") and ex.scene.value == "new scene 2"


def test_bad_input(parts):
    models, encoder, vocab, scenes, images, feats = parts
    answers = answer_vocabulary()
    with pytest.raises(ValueError, match="models"):
        VQAExplorer({}, encoder, vocab, answers, scenes, images, feats)
    with pytest.raises(ValueError, match="features must hold"):
        VQAExplorer(models, encoder, vocab, answers, scenes, images, {"global": feats["global"]})
    with pytest.raises(ValueError, match="must describe the same scenes"):
        VQAExplorer(models, encoder, vocab, answers, scenes, images[:1], feats)
    with pytest.raises(ValueError, match="top_k"):
        VQAExplorer(models, encoder, vocab, answers, scenes, images, feats, top_k=0)


def test_images_in_another_layout_are_refused(parts):
    models, encoder, vocab, scenes, images, feats = parts
    answers = answer_vocabulary()
    expected = r"images must be a uint8 tensor \(N, 3, S, S\), got "
    rendered = images.permute(0, 2, 3, 1).numpy()  # (2, 64, 64, 3) uint8, the world's rendered layout
    with pytest.raises(ValueError, match=expected + r"ndarray uint8 \(2, 64, 64, 3\).*permute\(0, 3, 1, 2\)"):
        VQAExplorer(models, encoder, vocab, answers, scenes, rendered, feats)
    with pytest.raises(ValueError, match=expected + r"torch.uint8 \(2, 64, 64, 3\)"):
        VQAExplorer(models, encoder, vocab, answers, scenes, torch.from_numpy(rendered), feats)
    with pytest.raises(ValueError, match=expected + r"torch.float32"):
        VQAExplorer(models, encoder, vocab, answers, scenes, images.float() / 255, feats)
