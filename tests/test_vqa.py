"""mmcourse.vqa (lesson 06): features, the point-wise fusion model and its baselines, attention,
per-type accuracy, the language prior, the exercise checks and the question widget."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmcourse import checks, vqa
from mmcourse.encoders import GridEncoder
from mmcourse.world import QUESTION_TYPES, Question, answer_vocabulary, course_vocabulary, render, sample_scenes

A = len(answer_vocabulary())


@pytest.fixture(scope="module")
def encoder() -> GridEncoder:
    torch.manual_seed(0)
    return GridEncoder(dim=16, width=8).eval()  # untrained: the tests check shapes and plumbing


@pytest.fixture(scope="module")
def vocab():
    return course_vocabulary()


def _batch(vocab, texts, g=vqa.GLOBAL_DIM, seed=0):
    tokens, lengths = vocab.encode_batch(texts)  # (B, T), (B,)
    image = torch.rand(len(texts), g, generator=torch.Generator().manual_seed(seed))  # (B, G)
    return tokens, lengths, image


def test_grid_coordinates_are_cell_centres_row_major():
    xy = vqa.grid_coordinates(2, 4)  # (8, 2)
    assert xy.shape == (8, 2)
    assert torch.allclose(xy[0], torch.tensor([-0.75, -0.5])) and torch.allclose(xy[7], torch.tensor([0.75, 0.5]))
    assert torch.allclose(xy[1, 1], xy[0, 1])  # the same row, one cell to the right
    with pytest.raises(ValueError, match="height and width"):
        vqa.grid_coordinates(0, 3)


def test_local_peaks_count_objects_not_cells():
    score = torch.zeros(1, 8, 8)  # (B, H, W)
    score[0, 1:3, 1:3] = torch.tensor([[0.9, 0.8], [0.7, 0.6]])  # one object over 2x2 cells
    score[0, 6, 6] = 0.95  # a second, small one
    score[0, 4, 0] = 0.3  # below the threshold
    assert vqa.local_peaks(score).sum() == 2
    with pytest.raises(ValueError, match="score"):
        vqa.local_peaks(torch.zeros(8, 8))


def test_extract_features_shapes_and_bad_input(encoder):
    images = render(sample_scenes(3, seed=1), size=64).images  # (3, 64, 64, 3) uint8
    feats = vqa.extract_features(encoder, images, batch_size=2)
    assert feats["global"].shape == (3, vqa.GLOBAL_DIM) and feats["grid"].shape == (3, 64, 16)
    assert torch.isfinite(feats["global"]).all()
    what, pairs = feats["global"][:, :15], feats["global"][:, 15:45]
    assert torch.allclose(what.norm(dim=1), torch.ones(3), atol=1e-5)  # L2-normalised blocks
    assert torch.allclose(pairs.norm(dim=1), torch.ones(3), atol=1e-5)
    same = vqa.extract_features(encoder, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert torch.allclose(same["global"], feats["global"], atol=1e-5)
    with pytest.raises(ValueError, match="images"):
        vqa.extract_features(encoder, images.astype(np.float32))
    with pytest.raises(ValueError, match="grid"):
        vqa.global_features(encoder, torch.zeros(2, 16, 8))


def test_question_encoder_ignores_padding_and_checks_tokens(vocab):
    torch.manual_seed(0)
    enc = vqa.QuestionEncoder(len(vocab), dim=16, embed_dim=8, hidden=12)
    tokens, lengths = vocab.encode_batch(["is there a star?"])  # (1, T)
    padded = torch.cat([tokens, torch.zeros(1, 5, dtype=torch.long)], 1)  # (1, T + 5)
    out = enc(tokens, lengths)
    assert out.shape == (1, 16) and out.abs().max() <= 1
    assert torch.allclose(out, enc(padded, lengths), atol=1e-6)
    with pytest.raises(ValueError, match="tokens"):
        enc(tokens.float(), lengths)
    with pytest.raises(ValueError, match="lengths"):
        enc(tokens, lengths + 10)
    with pytest.raises(ValueError, match="tokens must be ids"):
        enc(tokens + len(vocab), lengths)


@pytest.mark.parametrize("fusion", vqa.FUSIONS)
def test_every_fusion_gives_logits_and_gradients(vocab, fusion):
    torch.manual_seed(0)
    model = vqa.VQAModel(len(vocab), vqa.GLOBAL_DIM, A, fusion=fusion, dim=16, embed_dim=8, hidden=12, head_hidden=16)
    tokens, lengths, image = _batch(vocab, ["what colour is the star?", "how many objects are there?"])
    logits = model(tokens, lengths, image)
    assert logits.shape == (2, A)
    logits.sum().backward()
    if fusion != "image":
        assert model.question.embed.weight.grad.abs().sum() > 0
    if fusion != "question":
        assert model.image.fc.weight.grad.abs().sum() > 0
    assert (model.question is None) == (fusion == "image") and (model.image is None) == (fusion == "question")


def test_model_checks_its_arguments(vocab):
    with pytest.raises(ValueError, match="fusion"):
        vqa.VQAModel(len(vocab), 10, A, fusion="sum")
    with pytest.raises(ValueError, match="n_answers"):
        vqa.VQAModel(len(vocab), 10, 1)
    model = vqa.VQAModel(len(vocab), 10, A, dim=8, embed_dim=4, hidden=4, head_hidden=8)
    tokens, lengths, image = _batch(vocab, ["is there a star?"], g=10)
    with pytest.raises(ValueError, match="image"):
        model(tokens, lengths, torch.zeros(1, 11))
    with pytest.raises(ValueError, match="batch size"):
        model(tokens, lengths, torch.zeros(2, 10))
    with pytest.raises(ValueError, match="q and v"):
        vqa.pointwise_fusion(torch.zeros(2, 3), torch.zeros(2, 4), torch.nn.Identity())


def test_point_wise_fusion_overfits_a_tiny_batch(vocab):
    torch.manual_seed(0)
    texts = ["what colour is the star?", "what colour is the circle?"] * 4  # the answer needs both modalities
    tokens, lengths, _ = _batch(vocab, texts)
    image = torch.rand(8, 12, generator=torch.Generator().manual_seed(3))  # (8, 12)
    answers = torch.randint(0, A, (8,), generator=torch.Generator().manual_seed(4))  # (8,)
    model = vqa.VQAModel(len(vocab), 12, A, dim=32, embed_dim=8, hidden=16, head_hidden=32)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        loss, stats = vqa.vqa_step(model, (tokens, lengths, image, answers))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert stats["acc"] == 1.0 and loss.item() < 0.1


def test_attention_model_shapes_weights_and_errors(vocab):
    torch.manual_seed(0)
    model = vqa.AttentionVQA(len(vocab), vqa.GLOBAL_DIM, 16, A, grid_size=4, glimpses=2, dim=16, att_dim=8,
                             embed_dim=8, hidden=12, head_hidden=16)
    tokens, lengths, image = _batch(vocab, ["is the star above the circle?", "what is left of the red square?"])
    grid = torch.rand(2, 16, 16)  # (B, L, D)
    logits = model(tokens, lengths, image, grid)
    assert logits.shape == (2, A)
    assert model.last_attention.shape == (2, 2, 16)
    assert torch.allclose(model.last_attention.sum(2), torch.ones(2, 2))
    logits.sum().backward()
    assert model.keys.weight.grad.abs().sum() > 0 and model.feedback[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="grid"):
        model(tokens, lengths, image, torch.rand(2, 9, 16))
    with pytest.raises(ValueError, match="glimpses"):
        vqa.AttentionVQA(len(vocab), 10, 16, A, glimpses=0)


def test_question_sets_batches_and_predict(vocab):
    qs = [Question(0, "count", "how many stars are there?", "two"), Question(1, "exists", "is there a red star?", "no"),
          Question(1, "scene", "where is this?", "forest")]
    s = vqa.QuestionSet.build(qs, vocab, answer_vocabulary(), QUESTION_TYPES)
    assert len(s) == 3 and s.types.tolist() == [2, 3, 5] and s.answer_texts[2] == "forest"
    feats = {"global": torch.rand(2, 10), "grid": torch.rand(2, 16, 4).half()}
    out = vqa.batches(s, feats, batch_size=2, shuffle=False, grid=True)
    assert len(out) == 2 and out[0][3].shape == (2, 16, 4) and out[0][3].dtype == torch.float32
    assert out[1][0].shape[1] == out[1][1].max()  # cut to the longest question of the batch
    model = vqa.VQAModel(len(vocab), 10, A, dim=8, embed_dim=4, hidden=4, head_hidden=8)
    probs = vqa.predict(model, s, feats)
    assert probs.shape == (3, A) and torch.allclose(probs.sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="answer vocabulary"):
        vqa.QuestionSet.build([Question(0, "count", "how many?", "seven")], vocab, answer_vocabulary(), QUESTION_TYPES)


def test_per_type_accuracy_and_its_table():
    acc = vqa.per_type_accuracy([1, 2, 3, 0], [1, 2, 0, 0], [0, 0, 0, 2], ("a", "b", "c"))
    assert acc["a"] == pytest.approx(2 / 3) and math.isnan(acc["b"]) and acc["c"] == 1.0 and acc["overall"] == 0.75
    with pytest.raises(ValueError, match="predictions"):
        vqa.per_type_accuracy([1, 2], [1], [0, 0], ("a",))
    with pytest.raises(ValueError, match="types"):
        vqa.per_type_accuracy([1], [1], [3], ("a",))
    table = vqa.accuracy_table({"model": {"a": 0.5, "overall": 0.25}}, ["a", "overall"])
    assert "50.0" in table and "25.0" in table


def test_biased_answers_follow_the_skewed_generator():
    assert vqa.biased_answer("what colour is the small sparkle?", "colour") == "yellow"  # a star, by its synonym
    assert vqa.biased_answer("what shape is the red object?", "shape") == "circle"
    assert vqa.biased_answer("how many stars are there?", "count") == "two"
    assert vqa.biased_answer("is the star above the circle?", "relation") == "yes"
    assert vqa.biased_answer("what is left of the red square?", "relation") == "circle"
    assert vqa.biased_answer("where is this?", "scene") == "forest"
    with pytest.raises(ValueError, match="qtype"):
        vqa.biased_answer("where is this?", "place")


def test_skewed_training_questions_are_guessable_from_their_text():
    scenes = sample_scenes(150, seed=5)
    from mmcourse.world import questions

    for skew, low, high in ((0.0, 0.0, 0.45), (0.9, 0.8, 1.0)):
        qs = questions(scenes, per_scene=3, seed=5, skew=skew)
        share = np.mean([vqa.biased_answer(q.text, q.type) == q.answer for q in qs])
        assert low <= share <= high, (skew, share)


def _fusion_reference(q, v, w1, b1, w2, b2):
    return torch.tanh((q * v) @ w1.T + b1) @ w2.T + b2


def test_fusion_exercise_check_passes_and_explains_mistakes():
    vqa.check_fusion_head(_fusion_reference)
    with pytest.raises(checks.CheckFailed, match="sum q \\+ v"):
        vqa.check_fusion_head(lambda q, v, w1, b1, w2, b2: torch.tanh((q + v) @ w1.T + b1) @ w2.T + b2)
    with pytest.raises(checks.CheckFailed, match="no tanh"):
        vqa.check_fusion_head(lambda q, v, w1, b1, w2, b2: ((q * v) @ w1.T + b1) @ w2.T + b2)
    with pytest.raises(checks.CheckFailed, match="forget to return"):
        vqa.check_fusion_head(lambda *args: None)
    with pytest.raises(checks.CheckFailed, match="shape"):
        vqa.check_fusion_head(lambda q, v, w1, b1, w2, b2: q * v)

    def unsolved(*args):
        raise NotImplementedError("multiply q and v")

    with checks.exercise("test: fusion unsolved") as result:
        vqa.check_fusion_head(unsolved)
    assert result.status == "not implemented"


def test_per_type_exercise_check_passes_and_explains_mistakes():
    vqa.check_per_type_accuracy(vqa.per_type_accuracy)

    def mean_of_types(pred, true, kind, names):
        out = vqa.per_type_accuracy(pred, true, kind, names)
        out["overall"] = float(np.nanmean([out[n] for n in names]))
        return out

    with pytest.raises(checks.CheckFailed, match="mean over all questions"):
        vqa.check_per_type_accuracy(mean_of_types)

    def zero_for_empty(pred, true, kind, names):
        return {k: (0.0 if math.isnan(v) else v) for k, v in vqa.per_type_accuracy(pred, true, kind, names).items()}

    with pytest.raises(checks.CheckFailed, match="nan"):
        vqa.check_per_type_accuracy(zero_for_empty)
    with pytest.raises(checks.CheckFailed, match="dict"):
        vqa.check_per_type_accuracy(lambda *args: [0.5])


def test_lesson_data_checks_its_arguments():
    with pytest.raises(ValueError, match="n_train"):
        vqa.lesson_data(0, 10)
    with pytest.raises(ValueError, match="skew"):
        vqa.lesson_data(10, 10, skew=1.5)


def test_explorer_answers_lists_unknown_words_and_draws_new_scenes(encoder, vocab):
    from mmcourse.vqa_explorer import VQAExplorer

    torch.manual_seed(0)
    scenes = sample_scenes(2, seed=3)
    images = render(scenes, size=64).images  # (2, 64, 64, 3)
    feats = vqa.extract_features(encoder, images)
    models = {
        "global": vqa.VQAModel(len(vocab), vqa.GLOBAL_DIM, A, dim=8, embed_dim=4, hidden=4, head_hidden=8),
        "attention": vqa.AttentionVQA(len(vocab), vqa.GLOBAL_DIM, 16, A, dim=8, att_dim=4, embed_dim=4, hidden=4,
                                      head_hidden=8),
    }
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
    ex.new_scene.click()
    assert ex.scene.value == "new scene 1" and ex.line.startswith("new scene 1")
    with pytest.raises(ValueError, match="models"):
        VQAExplorer({}, encoder, vocab, answer_vocabulary(), scenes, images, feats)
