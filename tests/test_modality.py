"""Tests of mmcourse.modality: matching, translating, referencing, the 1:N statistic and modality bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse import checks, modality as M
from mmcourse.encoders import GridEncoder
from mmcourse.world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES


def _reading(cells: dict[tuple[int, int], tuple[str, str]], scene: str = "beach", g: int = 8) -> M.Reading:
    """A hand-made encoder reading of one image: cell (row, col) -> (colour, shape)."""
    shape = torch.zeros(1, g, g, dtype=torch.long)  # (1, g, g)
    colour = torch.zeros(1, g, g, dtype=torch.long)  # (1, g, g)
    for (r, c), (col, sh) in cells.items():
        shape[0, r, c] = SHAPES.index(sh) + 1
        colour[0, r, c] = COLOUR_NAMES.index(col) + 1
    summary = torch.zeros(1, len(M.CONCEPTS))  # (1, C)
    return M.Reading(shape, colour, torch.tensor([SCENE_TYPES.index(scene)]), summary)


# ---------------------------------------------------------------- matching


def test_concept_words_know_synonyms_plurals_and_places():
    words = M.concept_words()
    assert words["box"] == words["blocks"] == M.CONCEPTS.index("square")
    assert words["crosses"] == words["plus"] == M.CONCEPTS.index("cross")
    assert words["woods"] == M.CONCEPTS.index("forest") and words["sand"] == M.CONCEPTS.index("beach")
    assert "the" not in words and "on" not in words


def test_text_concepts_and_match_scores():
    tc = M.text_concepts(["two red boxes in the woods", "there is one thing"])  # (2, C)
    assert tc.shape == (2, len(M.CONCEPTS))
    assert set(tc[0].nonzero().flatten().tolist()) == {M.CONCEPTS.index(w) for w in ("square", "red", "forest")}
    assert tc[1].sum() == 0
    image = torch.zeros(1, len(M.CONCEPTS))  # (1, C)
    image[0, M.CONCEPTS.index("square")] = image[0, M.CONCEPTS.index("red")] = 1.0
    scores = M.match_scores(image, tc)  # (1, 2)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx(2 / np.sqrt(6), abs=1e-6) and scores[0, 1] == 0
    with pytest.raises(ValueError, match="caption_concepts"):
        M.match_scores(image, torch.zeros(2, 4))
    with pytest.raises(TypeError, match="texts"):
        M.text_concepts("a single string")


def test_recall_at_k_counts_ties_against_the_image():
    scores = torch.tensor([[0.9, 0.1, 0.9], [0.2, 0.8, 0.1]])  # (2 images, 3 captions)
    owner = torch.tensor([0, 1, 1])  # caption 2 belongs to image 1
    # image 0: own caption 0 ties with caption 2 of image 1 -> not a top-1 hit; image 1: hit
    assert M.recall_at_k(scores, owner, 1) == 0.5
    assert M.recall_at_k(scores, owner, 2) == 1.0
    with pytest.raises(ValueError, match="owner"):
        M.recall_at_k(scores, torch.tensor([0, 1]), 1)
    with pytest.raises(ValueError, match="k must"):
        M.recall_at_k(scores, owner, 0)


# ---------------------------------------------------------------- translating and referencing


def test_describe_and_answer_by_looking_on_a_hand_made_reading():
    cells = {(1, 1): ("red", "star"), (1, 2): ("red", "star"), (5, 5): ("blue", "square"), (6, 1): ("blue", "square")}
    reading = _reading(cells, scene="forest")
    assert M.describe_reading(reading, 0) == "a red star and two blue squares in the forest"
    ask = lambda text: M.answer_by_looking(text, reading, 0)  # noqa: E731
    assert ask("what colour is the sparkle?") == "red"
    assert ask("what shape is the blue thing?") == "square"
    assert ask("is there a red star?") == "yes"
    assert ask("are there any green objects?") == "no"
    assert ask("how many blue boxes are there?") == "two"
    assert ask("where is this?") == "forest"
    assert ask("what is left of the red star?") is None
    with pytest.raises(ValueError, match="i must"):
        M.answer_by_looking("where is this?", reading, 3)


def test_question_kind():
    assert M.question_kind("what is the colour of the box?") == "colour"
    assert M.question_kind("what kind of shape is the red thing?") == "shape"
    assert M.question_kind("how many stars can you see?") == "count"
    assert M.question_kind("are there any red objects?") == "exists"
    assert M.question_kind("where was this picture taken?") == "scene"
    assert M.question_kind("is the star above the circle?") == "relation"


def test_read_grid_shapes_with_an_untrained_encoder():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=8, width=8).eval()
    images = torch.rand(3, 3, 64, 64)  # (N, 3, S, S)
    grid = M.encode_grid(encoder, images, batch_size=2)  # (N, D, g, g)
    assert grid.shape == (3, 8, 8, 8)
    reading = M.read_grid(encoder, grid)
    assert reading.shape.shape == (3, 8, 8) and reading.colour.shape == (3, 8, 8)
    assert reading.scene.shape == (3,) and reading.summary.shape == (3, len(M.CONCEPTS))
    assert torch.allclose(reading.summary, encoder.summary(images), atol=1e-5)
    with pytest.raises(ValueError, match="images"):
        M.encode_grid(encoder, torch.rand(3, 64, 64))


# ---------------------------------------------------------------- 1:N


def test_word_overlap_values_and_bad_input():
    assert M.word_overlap(["a red star", "a red star"]) == 1.0
    assert M.word_overlap(["a red star", "a red circle"]) == 0.5
    assert M.word_overlap(["a red star", "two blue boxes"]) == 0.0
    assert M.word_overlap(["a b", "a c", "a b"]) == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    with pytest.raises(ValueError, match="captions"):
        M.word_overlap(["only one"])


# ---------------------------------------------------------------- audio features and modality bias


def test_log_mel_stats_shape_and_silence_is_zero():
    rng = np.random.default_rng(0)
    clips = rng.standard_normal((3, 4000)).astype(np.float32)  # (N, T)
    clips[1] = 0.0
    feats = M.log_mel_stats(clips, n_mels=16, n_fft=256)  # (N, 32)
    assert feats.shape == (3, 32) and feats.dtype == torch.float32
    assert torch.all(feats[1] == 0) and torch.all(feats[0] > 0)
    assert torch.equal(feats, M.log_mel_stats(torch.from_numpy(clips), n_mels=16, n_fft=256, batch_size=1))
    with pytest.raises(ValueError, match="clips"):
        M.log_mel_stats(np.zeros(4000, np.float32))


def test_modality_dropout_drops_whole_rows_without_rescaling():
    x = torch.rand(1000, 4) + 1.0  # (B, A)
    assert torch.equal(M.modality_dropout(x, 0.0), x)
    assert torch.all(M.modality_dropout(x, 1.0) == 0)
    out = M.modality_dropout(x, 0.5, torch.Generator().manual_seed(0))  # (B, A)
    dropped = (out == 0).all(1)  # (B,)
    assert torch.equal(out[~dropped], x[~dropped]) and 0.4 < dropped.float().mean() < 0.6
    again = M.modality_dropout(x, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match="p must"):
        M.modality_dropout(x, 1.5)


def _toy_data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 6, 2, 2, generator=g), torch.rand(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_classifier_shapes_gradients_and_bad_input():
    torch.manual_seed(0)
    model = M.AudioVisualClassifier(image_dim=6, audio_dim=5, n_classes=3, hidden=8)
    grid, audio, label = _toy_data()
    logits = model(grid, audio)  # (B, 3)
    assert logits.shape == (40, 3)
    loss, extra = M.classifier_loss(model, (grid, audio, label))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="grid"):
        model(torch.rand(40, 7, 2, 2), audio)
    with pytest.raises(ValueError, match="audio"):
        model(grid, torch.rand(40, 4))
    with pytest.raises(ValueError, match="audio_dropout"):
        M.AudioVisualClassifier(6, 5, 3, audio_dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        M.AudioVisualClassifier(6, 5, 3, hidden=0)


def test_tiny_batch_overfits_and_dropout_only_while_training():
    torch.manual_seed(0)
    model = M.AudioVisualClassifier(6, 5, 3, hidden=32, audio_dropout=0.5)
    grid, audio, label = _toy_data(16)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(100):
        model.train()
        loss, _ = M.classifier_loss(model, (grid, audio, label))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model(grid, audio), model(grid, audio)), "eval mode must not drop the audio"
    assert M.accuracy(model, grid, audio, label) == 1.0
    assert model.training is False


def test_accuracy_without_audio_feeds_zeros():
    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = []

        def forward(self, grid, audio):
            self.seen.append(audio.clone())
            return torch.zeros(len(audio), 2)

    spy = Spy()
    grid, audio, _ = _toy_data(10)
    assert M.accuracy(spy, grid, audio, torch.zeros(10, dtype=torch.long), without_audio=True) == 1.0
    assert torch.all(spy.seen[-1] == 0)


# ---------------------------------------------------------------- exercise checks


def test_exercise_checks_pass_on_the_reference():
    M.check_modality_dropout(M.modality_dropout)
    M.check_word_overlap(M.word_overlap)


def _rescaled(x, p, generator=None):
    keep = (torch.rand(x.shape[0], generator=generator) >= p).float().view(-1, *([1] * (x.dim() - 1)))
    return x * keep / max(1 - p, 1e-6)


def _per_feature(x, p, generator=None):
    return x * (torch.rand(x.shape, generator=generator) >= p)


def _in_place(x, p, generator=None):
    keep = torch.rand(x.shape[0], generator=generator) >= p
    x[~keep] = 0
    return x


@pytest.mark.parametrize("wrong, message", [
    (_rescaled, "does not rescale"),
    (_per_feature, "whole examples"),
    (_in_place, "in place"),
    (lambda x, p, generator=None: x, "p=1"),
])
def test_modality_dropout_check_explains_mistakes(wrong, message):
    with pytest.raises(checks.CheckFailed, match=message):
        M.check_modality_dropout(wrong)


def _list_overlap(captions):
    from itertools import combinations

    from mmcourse.world.vocab import tokenize

    scores = []
    for a, b in combinations([tokenize(c) for c in captions], 2):
        shared = [w for w in a if w in b]
        scores.append(len(shared) / len(set(a) | set(b)))
    return float(np.mean(scores))


def _one_sided(captions):
    from itertools import combinations

    from mmcourse.world.vocab import tokenize

    sets = [set(tokenize(c)) for c in captions]
    return float(np.mean([len(a & b) / len(a) for a, b in combinations(sets, 2)]))


def _first_pair_only(captions):
    from mmcourse.world.vocab import tokenize

    a, b = set(tokenize(captions[0])), set(tokenize(captions[1]))
    return len(a & b) / len(a | b)


@pytest.mark.parametrize("wrong, message", [
    (_one_sided, "union"),
    (_list_overlap, "sets"),
    (_first_pair_only, "all 3 pairs"),
    (lambda captions: [1.0], "one number"),
])
def test_word_overlap_check_explains_mistakes(wrong, message):
    with pytest.raises(checks.CheckFailed, match=message):
        M.check_word_overlap(wrong)


def test_unsolved_exercise_says_not_implemented(capsys):
    def unsolved(x, p, generator=None):
        raise NotImplementedError("draw one random number per row")

    with checks.exercise("1. modality dropout") as result:
        M.check_modality_dropout(unsolved)
    assert result.status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out
