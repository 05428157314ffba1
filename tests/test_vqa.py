"""mmcourse.vqa (lesson 06): features, the point-wise fusion model and its baselines, attention,
per-type accuracy, the language prior, training with the cache, the exercise checks and the figures
(the question widget: test_widgets_vqa.py)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from mmcourse import checks, vqa, vqa_figures
from mmcourse.encoders import GridEncoder
from mmcourse.world import (QUESTION_TYPES, Question, answer_vocabulary, course_vocabulary, questions, render,
                            sample_scenes)
from mmcourse.world.datasets import split_seed

matplotlib.use("Agg")

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
    rendered = render(sample_scenes(3, seed=1), size=64).images  # (3, 64, 64, 3) uint8, the world's layout
    images = torch.from_numpy(rendered).permute(0, 3, 1, 2)  # (3, 3, 64, 64) uint8, the course's layout
    feats = vqa.extract_features(encoder, images, batch_size=2)
    assert feats["global"].shape == (3, vqa.GLOBAL_DIM) and feats["grid"].shape == (3, 64, 16)
    assert torch.isfinite(feats["global"]).all()
    what, pairs = feats["global"][:, :15], feats["global"][:, 15:45]
    assert torch.allclose(what.norm(dim=1), torch.ones(3), atol=1e-5)  # L2-normalised blocks
    assert torch.allclose(pairs.norm(dim=1), torch.ones(3), atol=1e-5)
    for same in (vqa.extract_features(encoder, images.float() / 255),  # float in [0, 1]
                 vqa.extract_features(encoder, images.contiguous()),
                 vqa.extract_features(encoder, rendered)):  # the rendered NumPy layout is still read
        assert torch.allclose(same["global"], feats["global"], atol=1e-5)
    assert torch.equal(vqa.extract_features(encoder, rendered, batch_size=2)["global"], feats["global"])
    with pytest.raises(ValueError, match="images"):
        vqa.extract_features(encoder, rendered.astype(np.float32))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, S, S\)"):
        vqa.extract_features(encoder, torch.from_numpy(rendered))  # a channel-last tensor
    with pytest.raises(ValueError, match="grid"):
        vqa.global_features(encoder, torch.zeros(2, 16, 8))


@pytest.mark.parametrize("size", [32, 128])
def test_extract_features_refuses_images_of_another_size(encoder, size):
    """A 32x32 or 128x128 image would give a 4x4 or 16x16 grid that the models cannot read: refused."""
    images = render(sample_scenes(2, seed=1), size=size).images  # (2, size, size, 3) uint8
    with pytest.raises(ValueError, match=f"images must be 64x64 .* got {size}x{size}"):
        vqa.extract_features(encoder, images)
    with pytest.raises(ValueError, match="images"):
        vqa.extract_features(encoder, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)


def test_extract_features_refuses_nan_and_0_to_255_floats(encoder):
    images = torch.from_numpy(render(sample_scenes(2, seed=1), size=64).images).permute(0, 3, 1, 2).float()  # (2, 3, 64, 64)
    with pytest.raises(ValueError, match="0..255"):
        vqa.extract_features(encoder, images)
    images = images / 255
    images[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        vqa.extract_features(encoder, images)


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



def test_vqa_step_logs_a_detached_tensor_not_a_float(vocab):
    tokens, lengths, image = _batch(vocab, ["is there a star?", "what colour is the circle?"])
    model = vqa.VQAModel(len(vocab), vqa.GLOBAL_DIM, A, dim=8, embed_dim=4, hidden=4, head_hidden=8)
    loss, stats = vqa.vqa_step(model, (tokens, lengths, image, torch.tensor([0, 1])))
    assert loss.dim() == 0 and set(stats) == {"acc"}
    assert all(torch.is_tensor(v) and v.dim() == 0 and not v.requires_grad for v in stats.values())

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



def _same_batches(a, b):
    a, b = list(a), list(b)
    return len(a) == len(b) and all(len(x) == len(y) and all(u.dtype == v.dtype and torch.equal(u, v)
                                                              for u, v in zip(x, y)) for x, y in zip(a, b))


@pytest.mark.parametrize("grid", [False, True])
def test_batches_are_the_same_gathered_on_a_device_and_one_at_a_time(vocab, grid):
    qs, feats = _tiny_training_set(vocab)
    listed = vqa.batches(qs, feats, 7, True, 5, grid=grid)
    assert len(listed) == math.ceil(len(qs) / 7) and len(listed[0]) == (5 if grid else 4)
    assert _same_batches(listed, vqa.batches(qs, feats, 7, True, 5, grid=grid, device="cpu"))
    lazy = vqa.iter_batches(qs, feats, 7, True, 5, grid=grid, device="cpu")
    assert not isinstance(lazy, list) and _same_batches(listed, lazy)
    plain = vqa.EpochBatches(qs, feats, 7, seed=2, grid=grid)
    on_cpu = vqa.EpochBatches(qs, feats, 7, seed=2, grid=grid, device="cpu")
    for epoch in (1, 2):  # a new shuffle every epoch, the same one on either
        expected = vqa.batches(qs, feats, 7, True, 2 * 1000 + epoch, grid=grid)
        assert _same_batches(plain, expected) and _same_batches(on_cpu, expected)
    with pytest.raises(ValueError, match="batch_size"):
        vqa.iter_batches(qs, feats, 0)

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


def _unsolved(*args):
    raise NotImplementedError()


def _fusion_sum(q, v, w1, b1, w2, b2):
    return torch.tanh((q + v) @ w1.T + b1) @ w2.T + b2


def _fusion_no_tanh(q, v, w1, b1, w2, b2):
    return ((q * v) @ w1.T + b1) @ w2.T + b2


def _fusion_image_only(q, v, w1, b1, w2, b2):
    return torch.tanh(v @ w1.T + b1) @ w2.T + b2


def _fusion_no_return(q, v, w1, b1, w2, b2):
    torch.tanh((q * v) @ w1.T + b1) @ w2.T + b2


def _per_type_mean_of_types(pred, true, kind, names):
    out = vqa.per_type_accuracy(pred, true, kind, names)
    out["overall"] = float(np.nanmean([out[n] for n in names]))
    return out


def _per_type_zero_for_empty(pred, true, kind, names):
    return {k: (0.0 if math.isnan(v) else v) for k, v in vqa.per_type_accuracy(pred, true, kind, names).items()}


def _per_type_list(pred, true, kind, names):
    return [0.5]


def _prior_one_answer(keys, answers, query, n):  # the most frequent answer overall, for every query
    return torch.full((len(query),), int(torch.bincount(torch.as_tensor(answers), minlength=n).argmax()))


def _prior_unseen_zero(keys, answers, query, n):  # unseen keys get answer 0
    out = vqa.most_frequent_answer(keys, answers, query, n)
    out[torch.as_tensor(query) > int(torch.as_tensor(keys).max())] = 0
    return out


def _prior_per_key(keys, answers, query, n):  # one answer per key, not per query
    keys = torch.as_tensor(keys)
    return vqa.most_frequent_answer(keys, answers, torch.arange(int(keys.max()) + 1), n)


def _prior_least_frequent(keys, answers, query, n):
    keys, answers, query = (torch.as_tensor(a) for a in (keys, answers, query))
    counts = torch.zeros(int(max(keys.max(), query.max())) + 1, n).index_put_((keys, answers), torch.ones(len(keys)),
                                                                              accumulate=True)
    counts[counts == 0] = float("inf")
    return counts.argmin(1)[query]


EXERCISES = [  # (check, reference solution, [(typical mistake, words of the message)])
    (vqa.check_fusion_head, _fusion_reference,
     [(_fusion_sum, "the sum q + v"), (_fusion_no_tanh, "no tanh"), (_fusion_image_only, "image vector alone"),
      (_fusion_no_return, "forget to return")]),
    (vqa.check_per_type_accuracy, vqa.per_type_accuracy,
     [(_per_type_mean_of_types, "mean over all questions"), (_per_type_zero_for_empty, "must be nan"),
      (_per_type_list, "expected a dict")]),
    (vqa.check_most_frequent_answer, vqa.most_frequent_answer,
     [(_prior_one_answer, "most frequent answer overall: count the answers of each key separately"),
      (_prior_unseen_zero, "never occurs in the training questions"), (_prior_per_key, "index them by query_keys"),
      (_prior_least_frequent, "the most frequent answer of that key")]),
]
EXERCISE_IDS = ["fusion-head", "per-type-accuracy", "most-frequent-answer"]


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_passes_the_reference(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, reference).status == "passed"
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_names_the_typical_mistakes(check, reference, mistakes, capsys):
    for wrong, words in mistakes:
        result = checks.run("exercise", check, wrong)
        assert result.status == "failed" and words in result.message, (wrong.__name__, result.message)
        assert words in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_says_not_implemented_for_the_placeholder(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_fusion_check_returns_the_logits_and_catches_a_wrong_shape():
    assert checks.run("fusion", vqa.check_fusion_head, _fusion_reference).value.shape == (5, 4)
    result = checks.run("fusion", vqa.check_fusion_head, lambda q, v, w1, b1, w2, b2: q * v)
    assert result.status == "failed" and "shape" in result.message


# ---------------------------------------------------------------- the answer prior and the analysis helpers


def test_most_frequent_answer_per_key_with_a_fallback_for_unseen_keys():
    keys = [0, 0, 0, 1, 1, 2]
    answers = [2, 2, 1, 3, 3, 0]
    got = vqa.most_frequent_answer(keys, answers, [1, 0, 2, 7], n_answers=4)
    assert got.tolist() == [3, 2, 0, 2]  # key 7 never occurs: the overall favourite, 2
    assert vqa.most_frequent_answer([0, 0], [1, 0], [0], 2).tolist() == [0]  # a tie goes to the smaller id
    with pytest.raises(ValueError, match="keys and answers"):
        vqa.most_frequent_answer([0, 1], [1], [0], 2)
    with pytest.raises(ValueError, match="answers must be ids"):
        vqa.most_frequent_answer([0, 1], [1, 5], [0], 2)
    with pytest.raises(ValueError, match="n_answers"):
        vqa.most_frequent_answer([0], [0], [0], 0)
    with pytest.raises(ValueError, match="non-negative"):
        vqa.most_frequent_answer([0], [0], [-1], 2)


def test_a_prior_table_answers_skewed_questions_but_not_balanced_ones(vocab):
    """Without looking at any image: the per-type prior, and the stronger per-wording prior."""
    accuracy = {}
    for skew in (0.0, 0.9):
        train, test = (vqa.QuestionSet.build(questions(sample_scenes(n, seed=seed), per_scene=3, seed=seed, skew=skew),
                                             vocab, answer_vocabulary(), QUESTION_TYPES)
                       for n, seed in ((300, 5), (200, 6)))
        ids = {t: i for i, t in enumerate(dict.fromkeys(train.texts + test.texts))}
        by_type = vqa.most_frequent_answer(train.types, train.answers, test.types, A)
        by_text = vqa.most_frequent_answer([ids[t] for t in train.texts], train.answers, [ids[t] for t in test.texts], A)
        accuracy[skew] = [float((p == test.answers).float().mean()) for p in (by_type, by_text)]
    assert max(accuracy[0.0]) < 0.35, accuracy
    assert 0.5 < accuracy[0.9][0] < accuracy[0.9][1], accuracy


def test_relation_forms_and_type_mix(vocab):
    qs = [Question(0, "relation", "is the star above the circle?", "yes"),
          Question(0, "relation", "what is left of the red square?", "circle"),
          Question(1, "exists", "is there a red star?", "no"), Question(1, "scene", "where is this?", "forest")]
    s = vqa.QuestionSet.build(qs, vocab, answer_vocabulary(), QUESTION_TYPES)
    yes_no, what = vqa.relation_forms(s, QUESTION_TYPES)
    assert yes_no.tolist() == [True, False, False, False] and what.tolist() == [False, True, False, False]
    mix = vqa.type_mix(s, len(QUESTION_TYPES))
    assert mix.shape == (len(QUESTION_TYPES),) and float(mix.sum()) == pytest.approx(1.0)
    assert float(mix[QUESTION_TYPES.index("relation")]) == 0.5
    with pytest.raises(ValueError, match="relation"):
        vqa.relation_forms(s, ("colour", "shape"))


def test_describe_counts_and_feature_report(encoder):
    g = torch.zeros(vqa.GLOBAL_DIM)  # (G,)
    start = 45  # the small-object counts begin after the 15 + 30 probabilities
    g[start + 0] = 1 / vqa.MAX_OBJECTS  # one small red circle (pair 0)
    g[-1] = 1 / vqa.MAX_OBJECTS
    assert vqa.describe_counts(g) == "1.0 red circle | 1.0 objects in all"
    with pytest.raises(ValueError, match="global_vec"):
        vqa.describe_counts(torch.zeros(5))
    scenes = sample_scenes(4, seed=2)
    feats = vqa.extract_features(encoder, render(scenes, size=64).images)
    report = vqa.feature_report(encoder, feats, scenes)
    assert set(report) == {"cells", "objects", "sizes"} and all(0 <= v <= 1 for v in report.values())
    with pytest.raises(ValueError, match="features"):
        vqa.feature_report(encoder, feats, scenes[:2])


# ---------------------------------------------------------------- training: fixed steps, the cache


def _tiny_training_set(vocab, n=40):
    scenes = sample_scenes(n // 2, seed=4)
    qs = vqa.QuestionSet.build(questions(scenes, per_scene=2, seed=4), vocab, answer_vocabulary(), QUESTION_TYPES)
    feats = {"global": torch.rand(len(scenes), vqa.GLOBAL_DIM, generator=torch.Generator().manual_seed(0)),
             "grid": torch.rand(len(scenes), 64, 16, generator=torch.Generator().manual_seed(1)).half()}
    return qs, feats


def _tiny_model(vocab):
    torch.manual_seed(0)
    return vqa.VQAModel(len(vocab), vqa.GLOBAL_DIM, A, dim=8, embed_dim=4, hidden=4, head_hidden=8)


def test_fit_trains_a_fixed_number_of_steps_and_keeps_the_model_in_the_cache(vocab, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    qs, feats = _tiny_training_set(vocab)
    settings = dict(epochs=2, batch_size=16, lr=1e-2, progress=False)
    model = _tiny_model(vocab)
    threads = torch.get_num_threads()
    history = vqa.fit(model, qs, feats, cache_name="vqa-test", time_budget=600, **settings)
    assert torch.get_num_threads() == threads  # one thread while training, then as before
    assert history.n_steps == 2 * math.ceil(len(qs) / 16) and not history.stopped_early
    assert "training vqa-test" in capsys.readouterr().out
    again = _tiny_model(vocab)
    replay = vqa.fit(again, qs, feats, cache_name="vqa-test", time_budget=900, **settings)  # the budget is no key
    assert "loaded trained vqa-test" in capsys.readouterr().out
    assert replay.steps["loss"] == history.steps["loss"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    other = _tiny_model(vocab)
    retrained = vqa.fit(other, qs, feats, cache_name="vqa-test", **{**settings, "epochs": 3})
    assert retrained.n_steps == 3 * math.ceil(len(qs) / 16)


def test_fit_does_not_cache_a_run_cut_short_by_its_safety_stop(vocab, tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    qs, feats = _tiny_training_set(vocab)
    history = vqa.fit(_tiny_model(vocab), qs, feats, epochs=50, batch_size=4, lr=1e-2, time_budget=1e-3,
                      progress=False, cache_name="vqa-stopped")
    assert history.stopped_early and history.n_steps < 50 * math.ceil(len(qs) / 4)
    assert not list(tmp_path.glob("vqa-stopped*"))


def test_fit_checks_its_settings(vocab):
    qs, feats = _tiny_training_set(vocab)
    for bad, match in ((dict(epochs=0), "epochs"), (dict(epochs=1.5), "epochs"), (dict(batch_size=0), "batch_size"),
                       (dict(lr=0.0), "lr")):
        settings = {**dict(epochs=1, batch_size=8, lr=1e-2, progress=False), **bad}
        with pytest.raises(ValueError, match=match):
            vqa.fit(_tiny_model(vocab), qs, feats, **settings)


# ---------------------------------------------------------------- figures


def test_figures_draw(encoder, vocab):
    import matplotlib.pyplot as plt

    scenes = sample_scenes(3, seed=2)
    rendered = render(scenes, size=64).images  # (3, 64, 64, 3) uint8, the world's layout
    images = torch.from_numpy(rendered).permute(0, 3, 1, 2)  # (3, 3, 64, 64) uint8, the course's layout
    feats = vqa.extract_features(encoder, images)
    qs = vqa.QuestionSet.build(questions(scenes, per_scene=2, seed=2), vocab, answer_vocabulary(), QUESTION_TYPES)
    att = vqa.AttentionVQA(len(vocab), vqa.GLOBAL_DIM, 16, A, grid_size=8, dim=8, att_dim=4, embed_dim=4, hidden=4,
                           head_hidden=8)
    probs = torch.full((len(qs), A), 1 / A)  # (Q, A)
    figures = [
        vqa_figures.plot_model(256, A),
        vqa_figures.plot_scene_questions(images, qs, [0, 1]),
        vqa_figures.plot_bars({"a": {"x": 0.5, "y": 0.2}, "b": {"x": 0.1, "y": 0.9}}, ["x", "y"],
                              marks=("level", {"x": 0.3, "y": 0.3})),
        vqa_figures.plot_scene_features(encoder, images[0], feats["grid"][0], feats["global"][0], "scene 0"),
        vqa_figures.plot_glimpses(att, qs, feats, images, [0, 1], answer_vocabulary()),
        vqa_figures.plot_answers(images, qs, [0, 1, 2], probs, answer_vocabulary(), QUESTION_TYPES),
    ]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    assert len(figures[4].axes) == 2 * 3  # two questions, the scene and two glimpses each
    shown = figures[1].axes[0].images[0].get_array()  # (S, S, 3) what imshow got for scene 0
    assert np.array_equal(np.asarray(shown), rendered[0])  # the same picture as the rendered one
    plt.close("all")
    old_layout = r"images must be a uint8 tensor \(N, 3, S, S\), got a NumPy array uint8 \(3, 64, 64, 3\)"
    with pytest.raises(ValueError, match=old_layout):
        vqa_figures.plot_scene_questions(rendered, qs, [0, 1])
    with pytest.raises(ValueError, match=old_layout):
        vqa_figures.plot_glimpses(att, qs, feats, rendered, [0, 1], answer_vocabulary())
    with pytest.raises(ValueError, match=old_layout):
        vqa_figures.plot_answers(rendered, qs, [0, 1, 2], probs, answer_vocabulary(), QUESTION_TYPES)
    with pytest.raises(ValueError, match=r"image must be a uint8 tensor \(3, S, S\)"):
        vqa_figures.plot_scene_features(encoder, rendered[0], feats["grid"][0], feats["global"][0])
    with pytest.raises(ValueError, match=r"images must be a uint8 tensor \(N, 3, S, S\), got torch.float32"):
        vqa_figures.plot_answers(images.float() / 255, qs, [0], probs, answer_vocabulary(), QUESTION_TYPES)
    with pytest.raises(ValueError, match="AttentionVQA"):
        vqa_figures.plot_glimpses(_tiny_model(vocab), qs, feats, images, [0], answer_vocabulary())
    with pytest.raises(ValueError, match="rows"):
        vqa_figures.plot_bars({}, ["x"])


def test_lesson_data_gives_test_images_in_the_course_layout(encoder, tmp_path, monkeypatch):
    """``test_images`` is a uint8 tensor (N, 3, S, S), built or read back from the cache."""
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(vqa, "pretrained_grid_encoder", lambda *args, **kwargs: encoder)
    rendered = render(sample_scenes(3, seed=split_seed("test")), size=64).images  # (3, 64, 64, 3)
    for _ in ("built", "from the cache"):
        data = vqa.lesson_data(4, 3, per_scene=1, test_per_scene=1, image_size=64, verbose=False)
        images = data["test_images"]
        assert torch.is_tensor(images) and images.dtype == torch.uint8 and images.shape == (3, 3, 64, 64)
        assert torch.equal(images, torch.from_numpy(rendered).permute(0, 3, 1, 2))
        assert torch.allclose(vqa.extract_features(encoder, images)["global"], data["test"]["global"], atol=1e-5)
    assert len(list(tmp_path.glob("vqa-lesson-data*"))) == 1


def test_lesson_data_checks_its_arguments():
    with pytest.raises(ValueError, match="n_train"):
        vqa.lesson_data(0, 10)
    with pytest.raises(ValueError, match="skew"):
        vqa.lesson_data(10, 10, skew=1.5)
