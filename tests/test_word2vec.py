"""mmcourse.word2vec: corpus, subsampling, pairs, noise, the SGNS loss and model, the optimiser,
evaluation, the ablation, the figures and the exercise checks."""

from __future__ import annotations

import dataclasses

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mmcourse import checks
from mmcourse import word2vec as w2v
from mmcourse.training import History
from mmcourse.world.vocab import tokenize


@pytest.fixture(scope="module")
def corpus() -> w2v.Corpus:
    return w2v.build_corpus(n_scenes=30, seed=5, use_cache=False)


def test_corpus_arrays_line_up(corpus):
    assert len(corpus.tokens) == len(corpus.sentence) == len(corpus.scene) == len(corpus)
    assert np.all(np.diff(corpus.sentence) >= 0) and np.all(np.diff(corpus.scene) >= 0)
    assert corpus.n_scenes == 30 and corpus.counts.sum() == len(corpus)
    texts = w2v.scene_texts(__import__("mmcourse.world.scenes", fromlist=["x"]).sample_scenes(30, seed=5, max_objects=6), 5, 5)
    assert corpus.sentence_text(0) == " ".join(tokenize(texts[0][0]))
    assert corpus.n_sentences == sum(len(t) for t in texts)
    with pytest.raises(ValueError, match="n_scenes"):
        w2v.build_corpus(n_scenes=0, use_cache=False)


def test_keep_probabilities_formula_and_bad_input():
    counts = np.array([900, 90, 9, 1, 0])  # (5,)
    freq = counts / counts.sum()
    paper = w2v.keep_probabilities(counts, t=0.01, formula="paper")
    assert np.allclose(paper[:2], np.sqrt(0.01 / freq[:2]))
    assert paper[2] == pytest.approx(1.0) and paper[3] == 1.0 and paper[4] == 1.0
    code = w2v.keep_probabilities(counts, t=0.01)  # word2vec's code: sqrt(t/f) + t/f
    assert np.allclose(code[:2], np.minimum(1, np.sqrt(0.01 / freq[:2]) + 0.01 / freq[:2]))
    assert code[0] > paper[0] and code[1] > paper[1]  # keeps more of the frequent words
    with pytest.raises(ValueError, match="t must"):
        w2v.keep_probabilities(counts, t=0)
    with pytest.raises(ValueError, match="counts"):
        w2v.keep_probabilities([-1, 2])
    with pytest.raises(ValueError, match="formula"):
        w2v.keep_probabilities(counts, formula="gensim")


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        w2v.Word2VecConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        w2v.Word2VecConfig(lr=-0.1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        w2v.Word2VecConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule must be one of"):
        w2v.Word2VecConfig(schedule="cosine")
    with pytest.raises(ValueError, match="subsampling must be one of"):
        w2v.Word2VecConfig(subsampling="gensim")
    with pytest.raises(ValueError, match="weights"):
        w2v.Word2VecConfig(weights=())


def test_subsample_statistics_and_rng_type():
    shares = w2v.check_subsample(w2v.subsample)
    assert shares["word 0"] < 0.1 and shares["word 9"] == 1.0
    with pytest.raises(TypeError, match="rng"):
        w2v.subsample(np.zeros(3, int), [3], 1e-3, rng=0)


def test_window_pairs_stay_in_the_sentence_and_prefer_near_words():
    tokens = np.arange(10)  # (10,) ids equal positions
    sentence = np.array([0] * 6 + [1] * 4)  # (10,)
    c, x = w2v.window_pairs(tokens, sentence, 1, np.random.default_rng(0))
    assert sorted(zip(c.tolist(), x.tolist())) == sorted(
        [(i, i + 1) for i in range(5)] + [(i + 1, i) for i in range(5)] + [(i, i + 1) for i in range(6, 9)] + [(i + 1, i) for i in range(6, 9)])
    c, x = w2v.window_pairs(np.arange(4000), np.zeros(4000, int), 4, np.random.default_rng(1))
    d = np.abs(c - x)
    assert d.min() == 1 and d.max() == 4
    share = np.bincount(d)[1:] / np.bincount(d)[1]  # relative to distance 1
    assert np.allclose(share, [1, 3 / 4, 2 / 4, 1 / 4], atol=0.05)
    with pytest.raises(ValueError, match="window"):
        w2v.window_pairs(tokens, sentence, 0, np.random.default_rng(0))


def test_scene_pairs_stay_in_the_scene_and_never_pair_a_token_with_itself():
    tokens = np.arange(12)  # (12,)
    scene = np.repeat([0, 1, 2], 4)  # (12,)
    c, x = w2v.scene_pairs(tokens, scene, 3, np.random.default_rng(0))
    assert len(c) > 0 and np.all(scene[c] == scene[x]) and np.all(c != x)
    with pytest.raises(ValueError, match="per_token"):
        w2v.scene_pairs(tokens, scene, 0, np.random.default_rng(0))


def test_noise_distribution():
    noise = w2v.noise_distribution([16, 1, 0], power=0.75)
    assert noise.sum() == pytest.approx(1.0) and noise[2] == 0.0
    assert noise[0] / noise[1] == pytest.approx(8.0)


def test_negative_sampling_loss_value_and_shape_errors():
    u = torch.tensor([[1.0, 0.0]])  # (1, 2)
    v = torch.tensor([[2.0, 0.0]])  # (1, 2)
    n = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (1, 2, 2)
    want = -(np.log(1 / (1 + np.exp(-2))) + np.log(1 / (1 + np.exp(1))) + np.log(0.5))
    assert float(w2v.negative_sampling_loss(u, v, n)) == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="negatives"):
        w2v.negative_sampling_loss(u, v, n[0])
    with pytest.raises(ValueError, match="centre and context"):
        w2v.negative_sampling_loss(u, v[:, :1], n)


def test_skipgram_gradient_flows_and_a_tiny_batch_overfits():
    torch.manual_seed(0)
    model = w2v.SkipGram(20, 8)
    centre, context = torch.tensor([1, 2, 3, 4]), torch.tensor([5, 6, 7, 8])  # (4,), (4,)
    negatives = torch.tensor([[9, 10], [11, 12], [13, 14], [15, 16]])  # (4, 2)
    loss = model(centre, context, negatives)
    assert loss.dim() == 0
    loss.backward()
    assert model.output.weight.grad.abs().sum() > 0  # the input grad is 0 at step 0: output vectors start at 0
    opt = torch.optim.Adam(model.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        loss = model(centre, context, negatives)
        loss.backward()
        opt.step()
    assert model.input.weight.grad.abs().sum() > 0
    assert float(loss.detach()) < 0.05
    with pytest.raises(ValueError, match="centre"):
        model(torch.tensor([20]), torch.tensor([0]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="vocab_size"):
        w2v.SkipGram(0, 3)


def test_make_optimizer_is_word2vecs_sgd_with_a_linear_decay():
    model = w2v.SkipGram(10, 4)
    config = w2v.Word2VecConfig(batch_size=100, lr=0.025)
    optimizer, scheduler = w2v.make_optimizer(model, config, steps=10)
    assert isinstance(optimizer, torch.optim.SGD)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.025 * 100)  # the step per pair times the pairs of a batch
    assert np.allclose(np.diff(rates), -0.25)  # a straight line ...
    assert 0 < optimizer.param_groups[0]["lr"] < 1e-3  # ... down to almost zero
    adam, none = w2v.make_optimizer(model, dataclasses.replace(config, optimizer="adam", schedule="constant"), 10)
    assert isinstance(adam, torch.optim.Adam) and none is None and adam.param_groups[0]["lr"] == 0.025
    with pytest.raises(ValueError, match="steps"):
        w2v.make_optimizer(model, config, 0)


def test_pair_batches_and_training_are_deterministic(corpus):
    config = w2v.Word2VecConfig(dim=8, batch_size=256, epochs=2)
    batches = w2v.PairBatches(corpus, "sentence", config)
    centre, context, negatives = next(iter(batches))
    assert centre.shape == context.shape == (256,) and negatives.shape == (256, config.negatives)
    assert len(list(iter(batches))) == len(batches)  # a later epoch has as many batches
    a, history = w2v.train_skipgram(corpus, "scene", config, progress=False)
    b, _ = w2v.train_skipgram(corpus, "scene", config, progress=False)
    assert torch.equal(a.matrix, b.matrix) and history.n_steps == 2 * len(w2v.PairBatches(corpus, "scene", config, seed=1))
    assert len(history.epochs["movement"]) == 2 and all(0 < m < 2 for m in history.epochs["movement"])
    assert set(a.words) == {w for w, c in zip(corpus.words, corpus.counts) if c > 0}
    with pytest.raises(ValueError, match="context"):
        w2v.PairBatches(corpus, "page", config)


def _clustered_vectors() -> w2v.WordVectors:
    words = ["red", "blue", "green", "star", "circle", "square"]
    matrix = torch.tensor([[1, 0.1, 0], [1, -0.1, 0], [1, 0, 0.1], [0, 1, 0.1], [0.1, 1, 0], [0, 1, -0.1]])  # (6, 3)
    return w2v.WordVectors(words, matrix, [5] * 6)


def test_word_vectors_lookup_roundtrip_and_errors():
    wv = _clustered_vectors()
    assert torch.allclose(wv.matrix.norm(dim=1), torch.ones(6))
    assert [w for w, _ in wv.nearest("red", 2)] == ["blue", "green"] or {w for w, _ in wv.nearest("red", 2)} == {"blue", "green"}
    assert wv.nearest("star", 1, among=["red", "circle"])[0][0] == "circle"
    assert "red" in wv and "crimson" not in wv and wv.unknown(["red", "crimson", "crimson"]) == ["crimson"]
    with pytest.raises(ValueError, match="crimson"):
        wv.vector("crimson")
    with pytest.raises(ValueError, match="k must"):
        wv.nearest("red", 0)
    again = w2v.WordVectors.from_dict(wv.to_dict())
    assert again.words == wv.words and torch.allclose(again.matrix, wv.matrix)
    dropped = w2v.WordVectors.from_table(["a", "b"], torch.ones(2, 3), [0, 4])
    assert dropped.words == ["b"]


def test_category_purity_combine_and_weight_choice():
    wv = _clustered_vectors()
    cats = {"colours": ("red", "blue", "green"), "shapes": ("star", "circle", "square")}
    assert w2v.category_purity(wv, cats) == {"colours": 1.0, "shapes": 1.0, "mean": 1.0}
    assert w2v.category_purity(wv, {"colours": ("red", "blue", "green"), "shapes": ("star", "circle", "square")}, pool=wv.words)["mean"] == 1.0
    mixed = {"a": ("red", "star"), "b": ("blue", "circle")}
    assert w2v.category_purity(wv, mixed)["mean"] < 0.5
    with pytest.raises(ValueError, match="without a vector"):
        w2v.category_purity(wv, {"x": ("red", "crimson")})
    joined = w2v.combine(wv, wv, 2.0)
    assert joined.dim == 6 and joined.similarity("red", "star") == pytest.approx(wv.similarity("red", "star"), abs=1e-6)
    with pytest.raises(ValueError, match="weight"):
        w2v.combine(wv, wv, 0.0)


def test_the_weight_is_the_middle_of_the_best_ones():
    rows = [{"weight": w, "score": s} for w, s in ((0.5, 1.9), (1.0, 2.0), (1.5, 2.0), (2.0, 2.0), (3.0, 1.5))]
    assert w2v.middle_of_best(rows) == 1.5
    assert w2v.middle_of_best(rows[:3]) == 1.0  # of two middle ones, the smaller
    assert w2v.middle_of_best(rows[:1]) == 0.5
    with pytest.raises(ValueError, match="rows"):
        w2v.middle_of_best([])


def test_synonym_accuracy_and_random_vectors():
    from mmcourse.world.catalog import SHAPES, SIZES, SYNONYMS

    words = list(SHAPES) + list(SIZES) + [s for ss in SYNONYMS.values() for s in ss]
    rows = {w: i for i, w in enumerate(list(SHAPES) + list(SIZES))}
    for canonical, synonyms in SYNONYMS.items():
        for s in synonyms:
            rows[s] = rows[canonical]  # every synonym on its own word's axis
    right = w2v.WordVectors(words, torch.eye(len(SHAPES) + len(SIZES))[[rows[w] for w in words]] + 0.01 * torch.rand(len(words), len(SHAPES) + len(SIZES)))
    assert w2v.synonym_accuracy(right) == 1.0
    wrong = w2v.random_word_vectors(words, dim=2, seed=1)
    assert w2v.synonym_accuracy(wrong) < 1.0
    again = w2v.random_word_vectors(words, dim=2, seed=1)
    assert torch.equal(again.matrix, wrong.matrix)
    with pytest.raises(ValueError, match="dim"):
        w2v.random_word_vectors(words, dim=0)


def test_schedule_ablation_rows(corpus):
    config = w2v.Word2VecConfig(dim=8, batch_size=256, epochs=2)
    categories = {"colours": ("red", "blue", "green"), "shapes": ("star", "circle", "square")}
    trained = w2v.train_skipgram(corpus, "sentence", config, progress=False)
    variants = {"word2vec": {}, "constant": {"schedule": "constant"}}
    rows = w2v.schedule_ablation(corpus, config, variants, trained=trained, categories=categories)
    assert [r["name"] for r in rows] == ["word2vec", "constant"]
    assert rows[0]["movement"] == trained[1].epochs["movement"][-1]  # the trained model is reused
    assert all(0 <= r["purity"] <= 1 and r["movement"] > 0 and set(r["by_category"]) == {*categories, "mean"}
               for r in rows)
    # a constant step keeps the vectors moving more in the last epoch than one that falls to zero
    assert rows[1]["movement"] > rows[0]["movement"]
    with pytest.raises(ValueError, match="unknown config fields"):
        w2v.schedule_ablation(corpus, config, {"x": {"momentum": 0.9}})
    with pytest.raises(ValueError, match="variants"):
        w2v.schedule_ablation(corpus, config, {})


def test_figures_draw_and_reject_bad_input(corpus):
    matplotlib.use("Agg")
    config = w2v.Word2VecConfig()
    for fig in (w2v.plot_word_frequencies(corpus), w2v.plot_window("a red star left of a box".split(), 2, 2),
                w2v.plot_subsampling_and_noise(corpus, config)):
        assert fig.axes
        plt.close(fig)
    with pytest.raises(ValueError, match="centre"):
        w2v.plot_window(["a", "b"], 5, 1)
    with pytest.raises(ValueError, match="window"):
        w2v.plot_window(["a", "b"], 0, 0)
    fig = w2v.plot_embedding(_clustered_vectors(), {"colours": ("red", "blue", "green"), "shapes": ("star", "circle")})
    assert len(fig.axes[0].collections) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="without a vector"):
        w2v.plot_embedding(_clustered_vectors(), {"x": ("red", "crimson")})


def test_ppmi_and_count_baseline(corpus):
    counts = np.array([[0, 4, 0], [4, 0, 1], [0, 1, 0]], dtype=float)  # (3, 3)
    m = w2v.ppmi(counts, power=1.0)
    assert m.shape == (3, 3) and (m >= 0).all() and m[0, 2] == 0.0
    assert m[0, 1] == pytest.approx(np.log(4 / 10 / (4 / 10 * 5 / 10)))
    with pytest.raises(ValueError, match="counts"):
        w2v.ppmi(np.ones((2, 3)))
    c = w2v.cooccurrence(corpus, "sentence", 2)
    assert np.allclose(c, c.T) and c.shape == (len(corpus.words),) * 2
    s = w2v.cooccurrence(corpus, "scene")
    assert np.allclose(s, s.T) and s.sum() > c.sum()
    wv = w2v.ppmi_svd(corpus, "sentence", dim=6)
    assert wv.dim == 6 and len(wv) == int((corpus.counts > 0).sum())


def _unsolved(*args):
    raise NotImplementedError()


def test_check_negative_sampling_loss_three_ways(capsys):
    assert w2v.check_negative_sampling_loss(w2v.negative_sampling_loss) < 1e-9
    assert checks.run("1. loss", w2v.check_negative_sampling_loss, w2v.negative_sampling_loss).status == "passed"

    def positive_sign_error(u, v, n):  # forgot the minus inside the noise term
        return -(torch.nn.functional.logsigmoid((u * v).sum(-1))
                 + torch.nn.functional.logsigmoid((n * u[:, None]).sum(-1)).sum(-1)).mean()

    result = checks.run("1. loss", w2v.check_negative_sampling_loss, positive_sign_error)
    assert result.status == "failed" and "relative error" in result.message
    result = checks.run("1. loss", w2v.check_negative_sampling_loss, lambda u, v, n: (u * v).sum(-1))
    assert result.status == "failed" and "one number" in result.message

    def first_negative_only(u, v, n):
        return w2v.negative_sampling_loss(u, v, n[:, :1])

    result = checks.run("1. loss", w2v.check_negative_sampling_loss, first_negative_only)
    assert result.status == "failed" and "first negative" in result.message
    assert checks.run("1. loss", w2v.check_negative_sampling_loss, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_check_subsample_three_ways(capsys):
    assert checks.run("2. subsampling", w2v.check_subsample, w2v.subsample).status == "passed"

    def papers_rule(tokens, counts, t, rng):
        return w2v.subsample(tokens, counts, t, rng, formula="paper")

    def keeps_everything(tokens, counts, t, rng):
        return np.ones(len(tokens), bool)

    def drop_mask(tokens, counts, t, rng):  # True for the tokens to drop
        return ~w2v.subsample(tokens, counts, t, rng)

    def not_random(tokens, counts, t, rng):
        keep = w2v.keep_probabilities(counts, t)
        return np.random.default_rng(0).random(len(tokens)) < keep[tokens]

    for wrong, words in ((papers_rule, "paper's rule"), (keeps_everything, "never dropped"), (drop_mask, "DROPPING"),
                         (not_random, "use rng"), (lambda tokens, counts, t, rng: np.ones(len(tokens)), "boolean")):
        result = checks.run("2. subsampling", w2v.check_subsample, wrong)
        assert result.status == "failed" and words in result.message, (wrong, result.message)
    assert checks.run("2. subsampling", w2v.check_subsample, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_check_window_pairs_three_ways(capsys):
    result = checks.run("3. pairs", w2v.check_window_pairs, w2v.window_pairs)
    assert result.status == "passed" and result.value[4] == pytest.approx(0.25, abs=0.05)

    def fixed_window(tokens, sentence, window, rng):
        centres, contexts = [], []
        for d in range(1, window + 1):
            i = np.flatnonzero(sentence[:-d] == sentence[d:])
            centres += [tokens[i], tokens[i + d]]
            contexts += [tokens[i + d], tokens[i]]
        return np.concatenate(centres), np.concatenate(contexts)

    def b_from_zero(tokens, sentence, window, rng):  # rng.integers(0, window): never the full window
        return w2v.window_pairs(tokens, sentence, max(1, window - 1), rng) if window > 1 else \
            w2v.window_pairs(tokens, sentence, 1, rng)

    def across_sentences(tokens, sentence, window, rng):
        return w2v.window_pairs(tokens, np.zeros_like(sentence), window, rng)

    def right_only(tokens, sentence, window, rng):
        centres, contexts = w2v.window_pairs(tokens, sentence, window, rng)
        keep = contexts > centres
        return centres[keep], contexts[keep]

    for wrong, words in ((fixed_window, "fixed window"), (b_from_zero, "inclusive"),
                         (across_sentences, "crosses"), (right_only, "either side"),
                         (lambda tokens, sentence, window, rng: tokens, "two arrays")):
        result = checks.run("3. pairs", w2v.check_window_pairs, wrong)
        assert result.status == "failed" and words in result.message, (wrong, result.message)
    assert checks.run("3. pairs", w2v.check_window_pairs, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_pretrained_word_vectors_stores_a_fitted_result(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    wv = _clustered_vectors()
    fitted = {"combined": wv, "sentence": wv, "scene": wv, "weight": 1.5}
    config = dataclasses.replace(w2v.Word2VecConfig(), n_scenes=7)
    got = w2v.pretrained_word_vectors(config, fitted=fitted)
    assert got.words == wv.words and torch.allclose(got.matrix, wv.matrix)
    # read back from the cache without training
    again = w2v.pretrained_word_vectors(config, part="sentence", fitted=None)
    assert torch.allclose(again.matrix, wv.matrix)
    # the key holds a hash of the training code: changed code misses the cache
    other = w2v.WordVectors(wv.words, -wv.matrix, [5] * 6)
    monkeypatch.setattr(w2v, "TRAINING_CODE", (*w2v.TRAINING_CODE, _clustered_vectors))
    changed = w2v.pretrained_word_vectors(config, fitted={"combined": other, "sentence": other, "scene": other,
                                                          "weight": 1.0})
    assert torch.allclose(changed.matrix, other.matrix)
    # vectors from a run cut short by its time budget are returned, not stored
    short = History()
    short.stopped_early = True
    config = dataclasses.replace(config, n_scenes=8)
    stored = set(tmp_path.glob("word_vectors-*"))
    got = w2v.pretrained_word_vectors(config, fitted={"combined": other, "sentence": other, "scene": other,
                                                      "weight": 1.0, "histories": (short,)})
    assert torch.allclose(got.matrix, other.matrix)
    assert "NOT cached" in capsys.readouterr().out
    assert set(tmp_path.glob("word_vectors-*")) == stored
    with pytest.raises(ValueError, match="part"):
        w2v.pretrained_word_vectors(config, part="both")


def test_skipgram_loss_is_a_0dim_tensor_and_ids_are_checked_on_the_cpu():
    model = w2v.SkipGram(20, 8)
    loss = model(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6], [7, 8]]))
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0
    with pytest.raises(ValueError, match="negatives"):
        model(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, -1], [7, 8]]))
    with pytest.raises(ValueError, match="context"):
        model(torch.tensor([1, 2]), torch.tensor([3.0, 4.0]), torch.tensor([[5, 6], [7, 8]]))


def test_pair_batches_on_the_cpu_device_are_the_same_batches(corpus):
    config = w2v.Word2VecConfig(dim=8, batch_size=256)
    plain = w2v.PairBatches(corpus, "sentence", config, seed=3)
    on_cpu = w2v.PairBatches(corpus, "sentence", config, seed=3, device="cpu")
    assert len(plain) == len(on_cpu)
    for _ in range(2):  # the first epoch and a newly drawn one
        for a, b in zip(plain, on_cpu, strict=True):
            assert all(torch.equal(x, y) and x.dtype == y.dtype for x, y in zip(a, b, strict=True))
