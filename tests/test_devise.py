"""mmcourse.devise: tags, targets, queries, the DeViSE map and the baseline, losses and metrics."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from mmcourse import checks
from mmcourse import devise as dv
from mmcourse.word2vec import WordVectors
from mmcourse.world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES


def _vectors() -> WordVectors:
    words = list(COLOUR_NAMES) + list(SHAPES) + list(SCENE_TYPES) + ["box"]
    table = torch.eye(len(words) - 1)  # (V-1, V-1) one axis per word
    box = table[len(COLOUR_NAMES) + SHAPES.index("square")] + 0.1 * table[0]  # (V-1,) box ~ square
    return WordVectors(words, torch.cat([table, box[None]]), [1] * len(words))


def _synthetic(n: int, seed: int = 0, noise: float = 0.1) -> dv.TaggingData:
    """Cells whose features are one-hot colour + one-hot shape, or the scene type for the
    two background cells (+ noise); 4 cells per image, 2 objects."""
    g = torch.Generator().manual_seed(seed)
    n_c, n_s, n_t = len(COLOUR_NAMES), len(SHAPES), len(SCENE_TYPES)
    colour = torch.randint(n_c, (n, 2), generator=g)  # (N, 2) two objects per image
    shape = torch.randint(n_s, (n, 2), generator=g)  # (N, 2)
    scene = torch.randint(n_t, (n,), generator=g)  # (N,)
    features = torch.zeros(n, 4, n_c + n_s + n_t)  # (N, L=4, C)
    rows = torch.arange(n)
    for k in range(2):
        features[rows, k, colour[:, k]] = 1.0
        features[rows, k, n_c + shape[:, k]] = 1.0
        features[rows, 2 + k, n_c + n_s + scene] = 1.0
    features += noise * torch.randn(features.shape, generator=g)
    labels = torch.zeros(n, len(dv.TAGS), dtype=torch.bool)  # (N, T)
    for k in range(2):
        labels[rows, colour[:, k] * n_s + shape[:, k]] = True
    labels[rows, dv.N_OBJECT_TAGS + scene] = True
    return dv.TaggingData(features, labels, None, np.zeros((n, 8, 8, 3), np.uint8))


def test_tags_and_labels_of_a_hand_made_scene():
    from mmcourse.world.scenes import make_scene

    scene = make_scene([{"shape": "star", "colour": "purple"}, {"shape": "circle", "colour": "red", "x": 0.2, "y": 0.2},
                        {"shape": "star", "colour": "purple", "x": 0.8, "y": 0.8}], "beach")
    labels = dv.tag_labels(scene)  # (1, T)
    assert labels.shape == (1, 34)
    assert {dv.TAGS[j] for j in torch.nonzero(labels[0]).flatten().tolist()} == {"purple star", "red circle", "beach"}
    assert dv.TAGS[dv.tag_index("red", "square")] == "red square"
    assert int(dv.seen_mask().sum()) == 34 - len(dv.UNSEEN)
    with pytest.raises(ValueError, match="unknown tag"):
        dv.tag_index("crimson", "star")


def test_targets_and_queries():
    wv = _vectors()
    targets = dv.tag_targets(wv)  # (T, D)
    assert targets.shape == (34, wv.dim) and torch.allclose(targets.norm(dim=1), torch.ones(34))
    vector, known, unknown = dv.parse_query(wv, "A purple Sparkle, box!")
    assert known == ["purple", "box"] and unknown == ["a", "sparkle"]
    assert torch.allclose(vector, dv.phrase_vector(wv, ["purple", "box"]))
    assert dv.parse_query(wv, "crimson")[0] is None
    with pytest.raises(ValueError, match="crimson"):
        dv.phrase_vector(wv, ["red", "crimson"])
    with pytest.raises(ValueError, match="text"):
        dv.parse_query(wv, 3)


def test_label_space_vector_reads_a_query_through_the_label_words():
    wv = _vectors()
    assert set(dv.LABEL_WORDS) == set(COLOUR_NAMES) | set(SHAPES) | set(SCENE_TYPES)
    square = wv.vector("square")  # (D,)
    raw = wv.vector("box")  # (D,) square plus a little of the first colour
    read = dv.label_space_vector(wv, ["box"])  # (D,)
    assert float(read.norm()) == pytest.approx(1.0)
    assert float(read @ square) > float(raw @ square)  # the off-label part of 'box' is gone
    assert float(read @ square) > 0.99  # nearly all the weight on square (cosine 0.995 against 0 for the others)
    # a label word is read as itself (all its weight on its own vector) at a low temperature
    assert torch.allclose(dv.label_space_vector(wv, ["red"], temperature=0.01), wv.vector("red"), atol=1e-6)
    # several words: each is read, then summed and normalised like phrase_vector
    both = dv.label_space_vector(wv, ["red", "square"], temperature=0.01)  # (D,)
    assert torch.allclose(both, dv.phrase_vector(wv, ["red", "square"]), atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        dv.label_space_vector(wv, ["box"], temperature=0.0)
    with pytest.raises(ValueError, match="crimson"):
        dv.label_space_vector(wv, ["crimson"])
    with pytest.raises(ValueError, match="at least one"):
        dv.label_space_vector(wv, [])
    # the tensor-level read-out: a word half-way between two label words is read as their mean
    labels = torch.eye(4)[:3]  # (W=3, D=4)
    mid = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0, 0.0, 0.5]]), dim=1)  # (1, D)
    mixed = dv.label_space_mix(mid, labels, 0.05)  # (D,)
    assert torch.allclose(mixed, torch.tensor([0.5 ** 0.5, 0.5 ** 0.5, 0.0, 0.0]), atol=1e-5)  # the third label weighs e^-14
    with pytest.raises(ValueError, match="query"):
        dv.label_space_mix(mid[0], labels)
    with pytest.raises(ValueError, match="labels"):
        dv.label_space_mix(mid, torch.full((3, 4), float("nan")))
    with pytest.raises(ValueError, match="same dimension"):
        dv.label_space_mix(mid, torch.eye(3))
    with pytest.raises(ValueError, match="temperature"):
        dv.label_space_mix(mid, labels, -1.0)


def test_off_label_share_and_span_dim():
    wv = _vectors()
    targets = dv.tag_targets(wv)  # (T, D)
    assert dv.span_dim(targets) == len(COLOUR_NAMES) + len(SHAPES) - 1 + len(SCENE_TYPES)  # colour + shape sums lose one
    share = dv.off_label_share(wv, ["red", "box"])
    assert share["red"] == pytest.approx(0.0, abs=1e-6)  # a label word lies in the label words' span
    assert share["box"] == pytest.approx(0.0, abs=1e-6)  # box = square + 0.1 red: also inside
    assert dv.off_label_share(wv, ["box"], label_words=["red", "circle"])["box"] == pytest.approx(1.0 / 1.01 ** 0.5)
    with pytest.raises(ValueError, match="crimson"):
        dv.off_label_share(wv, ["crimson"])
    assert dv.label_space_basis(wv).shape == (wv.dim, 15)
    basis = dv.label_space_basis(wv, ["red", "circle"])  # (D, 2)
    x = torch.zeros(3, wv.dim)  # (3, D)
    x[0, 0], x[1, -1], x[2, :2] = 1.0, 2.0, 1.0  # inside the span, at right angles, half-way (45 degrees)
    assert dv.outside_share(x, basis).tolist() == pytest.approx([0.0, 1.0, 0.5 ** 0.5], abs=1e-6)
    with pytest.raises(ValueError, match="basis"):
        dv.outside_share(x, basis[:3])
    with pytest.raises(ValueError, match="x must be"):
        dv.outside_share(x[0], basis)
    with pytest.raises(ValueError, match="targets"):
        dv.span_dim(torch.ones(3))


def test_devise_shapes_pools_and_bad_input():
    model = dv.DeViSE(12, 5)
    features = torch.randn(3, 4, 12)  # (B, L, C)
    targets = torch.nn.functional.normalize(torch.randn(34, 5), dim=1)  # (T, D)
    assert model(features, targets).shape == (3, 34) and model.embed(features).shape == (3, 4, 5)
    mean = dv.DeViSE(12, 5, pool="mean")
    assert mean.embed(features).shape == (3, 1, 5) and mean(features, targets).shape == (3, 34)
    assert dv.CombinationClassifier(12)(features).shape == (3, 34)
    with pytest.raises(ValueError, match="features"):
        model(torch.randn(3, 12), targets)
    with pytest.raises(ValueError, match="targets"):
        model(features, torch.randn(34, 4))
    with pytest.raises(ValueError, match="pool"):
        dv.DeViSE(12, 5, pool="sum")
    with pytest.raises(ValueError, match="feature_dim"):
        dv.CombinationClassifier(0)
    with pytest.raises(ValueError, match="batch_size"):
        dv.score_images(model, features, targets, batch_size=0)


def test_losses_values_gradients_and_bad_input():
    scores = torch.tensor([[0.5, 0.45, 0.1], [0.0, 0.2, 0.3]], requires_grad=True)  # (B=2, T=3)
    labels = torch.tensor([[True, False, False], [False, True, True]])  # (2, 3)
    # image 0: true 0 vs false 1: 0.1 - 0.5 + 0.45 = 0.05; vs 2: 0 -> 0.05 / 1 true
    # image 1: true 1 vs false 0: 0.1 - 0.2 + 0 = -0.1 -> 0; true 2 vs 0: 0 -> 0
    loss = dv.hinge_rank_loss(scores, labels, margin=0.1)
    assert float(loss.detach()) == pytest.approx(0.05 / 2)
    loss.backward()
    assert scores.grad is not None and scores.grad.abs().sum() > 0
    allowed = torch.tensor([True, False, True])
    assert float(dv.hinge_rank_loss(scores.detach(), labels, 0.1, allowed)) == pytest.approx(0.0)
    s = scores.detach()
    want0 = -np.log(np.exp(0.5 / 0.1) / (np.exp(0.5 / 0.1) + np.exp(0.45 / 0.1) + np.exp(0.1 / 0.1)))
    want1 = np.mean([-np.log(np.exp(v / 0.1) / (np.exp(v / 0.1) + 1.0)) for v in (0.2, 0.3)])
    assert float(dv.contrastive_loss(s, labels, 0.1)) == pytest.approx((want0 + want1) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="labels must be a bool"):
        dv.hinge_rank_loss(s, labels.float())
    with pytest.raises(ValueError, match="scores and labels"):
        dv.contrastive_loss(s, labels[:1])
    with pytest.raises(ValueError, match="temperature"):
        dv.contrastive_loss(s, labels, 0.0)
    with pytest.raises(ValueError, match="margin"):
        dv.hinge_rank_loss(s, labels, -0.1)
    with pytest.raises(ValueError, match="allowed"):
        dv.hinge_rank_loss(s, labels, 0.1, torch.tensor([True, False]))
    with pytest.raises(ValueError, match="allowed"):
        dv.contrastive_loss(s, labels, 0.1, torch.tensor([1, 0, 1]))


def test_config_rejects_bad_settings():
    assert dv.TaggingConfig().steps == 300
    for bad in ({"steps": 0}, {"batch_size": 2.5}, {"n_train": True}, {"lr": 0.0}, {"margin": -1.0}, {"temperature": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            dv.TaggingConfig(**bad)


def test_metrics_on_known_rankings():
    scores = torch.tensor([[0.9, 0.1, 0.8], [0.2, 0.9, 0.1], [0.5, 0.4, 0.3]])  # (N=3, T=3)
    labels = torch.tensor([[True, False, True], [True, False, False], [False, False, False]])  # (3, 3)
    assert dv.precision_at_k(scores, labels) == pytest.approx((1.0 + 0.0) / 2)  # the tagless image is skipped
    assert dv.average_precision(torch.tensor([0.9, 0.5, 0.7, 0.1]), torch.tensor([True, True, False, False])) == pytest.approx((1 + 2 / 3) / 2)
    # column 0: images ranked 0, 2, 1 -> relevant at 1 and 3 -> (1 + 2/3) / 2; column 2: relevant at 1 -> 1
    assert dv.mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    assert dv.mean_average_precision(scores, labels, [2]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no True"):
        dv.average_precision(torch.tensor([0.1, 0.2]), torch.tensor([False, False]))
    with pytest.raises(ValueError, match="relevant must be a bool"):
        dv.average_precision(torch.tensor([0.1, 0.2]), torch.tensor([1, 0]))
    full = torch.zeros(2, 34, dtype=torch.bool)
    full[0, dv.tag_index("blue", "circle")] = True
    full[1, dv.tag_index("blue", "star")] = True
    assert dv.shape_relevance(full, "circle").tolist() == [True, False]
    assert dv.tags_of(full[1]) == ["blue star"]
    with pytest.raises(ValueError, match="labels_row"):
        dv.tags_of(full)
    with pytest.raises(ValueError, match="labels"):
        dv.shape_relevance(full[:, :30], "circle")
    with pytest.raises(ValueError, match="columns"):
        dv.mean_average_precision(scores, labels, [0, 3])
    with pytest.raises(ValueError, match="columns"):
        dv.mean_average_precision(scores, labels, torch.tensor([True, False]))


def test_tagging_metrics_and_table():
    data = _synthetic(200, seed=2)
    seen = dv.seen_mask()
    perfect = data.labels.float()  # (N, T) every true tag above every false one
    row = dv.tagging_metrics(perfect, data.labels, seen)
    assert set(row) == {"P@k", "mAP seen objects", "mAP scenes", "mAP unseen", "P@k unseen images"}
    assert all(v == pytest.approx(1.0) for v in row.values())
    noisy = dv.tagging_metrics(torch.rand(data.labels.shape, generator=torch.Generator().manual_seed(0)), data.labels, seen)
    assert all(v < 0.6 for v in noisy.values())  # a random ranking is far from 1
    table = dv.metrics_table({"perfect": row, "random": noisy})
    assert table.splitlines()[1].startswith("perfect") and "1.000" in table
    with pytest.raises(ValueError, match="seen"):
        dv.tagging_metrics(perfect, data.labels, seen.float())
    with pytest.raises(ValueError, match="results"):
        dv.metrics_table({})


def test_devise_learns_and_tags_unseen_combinations_on_synthetic_features():
    wv = _vectors()
    targets = dv.tag_targets(wv)  # (T, D)
    seen = dv.seen_mask()
    train = _synthetic(400, seed=0)
    keep = ~(train.labels & ~seen[None]).any(1)  # (N,) drop images with an unseen combination
    train = dv.TaggingData(train.features[keep], train.labels[keep], None, train.images[keep])
    test = _synthetic(300, seed=1)
    config = dv.TaggingConfig(steps=200, batch_size=64, lr=0.03)
    torch.manual_seed(0)  # (on this toy with orthogonal word vectors, some initialisations converge slowly)
    model = dv.DeViSE(train.features.shape[-1], wv.dim)
    history = dv.train_tagger(model, train, targets, "hinge", config, allowed=seen, progress=False)
    assert history.steps["loss"][-1] < history.steps["loss"][0]
    scores = dv.score_images(model, test.features, targets)  # (N, T)
    assert dv.precision_at_k(scores, test.labels) > 0.9
    assert dv.mean_average_precision(scores, test.labels, ~seen) > 0.8  # zero-shot
    box = dv.score_images(model, test.features, dv.phrase_vector(wv, ["box"])[None])[:, 0]  # (N,)
    assert dv.average_precision(box, dv.shape_relevance(test.labels, "square")) > 0.8
    assert dv.word_query_ap(model, test, wv, "box", "square", label_space=True) > 0.8
    classifier = dv.CombinationClassifier(train.features.shape[-1])
    dv.train_tagger(classifier, train, None, "contrastive", dv.TaggingConfig(steps=100, batch_size=64, lr=0.03), progress=False)
    logits = dv.score_images(classifier, test.features, None)
    assert dv.mean_average_precision(logits, test.labels, seen) > 0.75  # linear per cell: colour + shape, no conjunction
    assert dv.mean_average_precision(logits, test.labels, ~seen) < 0.5  # it never saw them
    with pytest.raises(ValueError, match="loss"):
        dv.train_tagger(model, train, targets, "triplet", config, progress=False)


def test_random_batches_are_deterministic():
    data = _synthetic(20)
    a = [b[1] for b in dv.RandomBatches(data, 3, 4, seed=1)]
    b = [b[1] for b in dv.RandomBatches(data, 3, 4, seed=1)]
    assert len(a) == 3 and all(torch.equal(x, y) for x, y in zip(a, b)) and a[0].shape == (4, 34)
    with pytest.raises(ValueError, match="steps"):
        dv.RandomBatches(data, 0, 4)



def test_random_batches_are_the_same_gathered_on_a_device():
    data = _synthetic(20)
    plain = list(dv.RandomBatches(data, 4, 5, seed=3))
    on_cpu = list(dv.RandomBatches(data, 4, 5, seed=3, device="cpu"))
    assert len(plain) == len(on_cpu) == 4
    assert all(torch.equal(x, u) and torch.equal(y, v) and y.dtype == torch.bool
               for (x, y), (u, v) in zip(plain, on_cpu))

def test_tagging_data_encodes_once_and_caches(tmp_path, monkeypatch):
    import mmcourse.encoders as encoders

    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    init_seed = [0]

    def tiny_encoder(config=None, device=None, progress=True):
        torch.manual_seed(init_seed[0])
        return encoders.GridEncoder(dim=8, width=8, image_size=32).eval()

    monkeypatch.setattr(dv, "pretrained_grid_encoder", tiny_encoder)
    config = encoders.EncoderConfig(image_size=32, dim=8, width=8)
    data = dv.tagging_data(5, seed=3, exclude=[("red", "star")], encoder_config=config)
    assert data.features.shape == (5, 16, 8) and data.images.shape == (5, 32, 32, 3)
    assert not data.labels[:, dv.tag_index("red", "star")].any()
    assert data.object_counts().shape == (5,) and bool((data.object_counts() >= 1).all())
    files = sorted(tmp_path.rglob("*.pt"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = dv.tagging_data(5, seed=3, exclude=[("red", "star")], encoder_config=config)
    assert torch.equal(again.features, data.features)
    assert sorted(tmp_path.rglob("*.pt")) == files and [f.stat().st_mtime_ns for f in files] == stamps  # read, not rebuilt
    init_seed[0] = 1  # another encoder (e.g. retrained): its features are not those of the first
    other = dv.tagging_data(5, seed=3, exclude=[("red", "star")], encoder_config=config)
    assert not torch.equal(other.features, data.features)
    with pytest.raises(ValueError, match="unknown tag"):
        dv.tagging_data(5, seed=3, exclude=[("red", "blob")], encoder_config=config)


# ----------------------------------------------------------------------------------------
# Exercise checks: a correct answer passes, a typical wrong one is named, an unsolved one
# raises NotImplementedError (which checks.run reports as "not implemented yet")
# ----------------------------------------------------------------------------------------


def _unsolved(*args):
    raise NotImplementedError()


def _hinge(scores, labels, margin, pair_mask=None, divide="true", sign=1.0, use_margin=True, reduce="mean"):
    m = margin if use_margin else 0.0
    violation = (m - sign * (scores[:, :, None] - scores[:, None, :])).clamp(min=0)  # (B, T, T)
    pairs = labels[:, :, None] & ~labels[:, None, :] if pair_mask is None else pair_mask(labels)
    total = (violation * pairs).sum((1, 2))  # (B,)
    n = {"true": labels.sum(1), "none": torch.ones(len(labels)), "pairs": labels.sum(1) * (~labels).sum(1)}[divide]
    per_image = total / n.clamp(min=1)
    return per_image.mean() if reduce == "mean" else per_image.sum()


def test_check_hinge_rank_loss_passes_a_correct_answer():
    assert dv.check_hinge_rank_loss(dv.hinge_rank_loss) < 1e-9
    assert dv.check_hinge_rank_loss(_hinge) < 1e-9  # a second way of writing it


@pytest.mark.parametrize("wrong, words", [
    (lambda s, l, m: _hinge(s, l, m, sign=-1.0), "wrong way round"),
    (lambda s, l, m: _hinge(s, l, m, use_margin=False), "margin is missing"),
    (lambda s, l, m: _hinge(s, l, m, divide="none"), "not divided by its number of true tags"),
    (lambda s, l, m: _hinge(s, l, m, divide="pairs"), "number of (true, false) pairs"),
    (lambda s, l, m: _hinge(s, l, m, reduce="sum"), "summed over the batch"),
    (lambda s, l, m: _hinge(s, l, m, pair_mask=lambda l: torch.ones(l.shape + l.shape[1:], dtype=torch.bool)), "not (true, false)"),
    (lambda s, l, m: _hinge(s, l, 0.1) + 0 * m, "margin argument"),
    (lambda s, l, m: _hinge(s, l, m).detach(), "no gradient"),
    (lambda s, l, m: _hinge(s, l, m).item(), "must be a tensor"),
    (lambda s, l, m: (m - s[:, :, None] + s[:, None, :]).clamp(min=0).sum((1, 2)), "one number"),
])
def test_check_hinge_rank_loss_names_the_mistake(wrong, words):
    with pytest.raises(checks.CheckFailed, match=re.escape(words)):
        dv.check_hinge_rank_loss(wrong)


def _ap(scores, relevant, descending=True, at="relevant", divide="relevant"):
    hits = relevant[torch.argsort(scores, descending=descending)].float()  # (N,)
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)  # (N,)
    if at == "all":
        return float(precision.mean())
    return float((precision * hits).sum() / (hits.sum() if divide == "relevant" else len(hits)))


def test_check_average_precision_passes_a_correct_answer():
    assert dv.check_average_precision(dv.average_precision) < 1e-9
    assert dv.check_average_precision(_ap) < 1e-6


@pytest.mark.parametrize("wrong, words", [
    (lambda s, r: float(r.float().mean()), "sort the items by score"),
    (lambda s, r: _ap(s, r, descending=False), "from the highest"),
    (lambda s, r: _ap(s, r, at="all"), "only at the ranks where a relevant item sits"),
    (lambda s, r: _ap(s, r, divide="all"), "divide the sum of the precisions by the number of relevant items"),
    (lambda s, r: None, "forget to return"),
])
def test_check_average_precision_names_the_mistake(wrong, words):
    with pytest.raises(checks.CheckFailed, match=re.escape(words)):
        dv.check_average_precision(wrong)


def _mix(query, labels, temperature, dim=1, scale="divide", per_word=True, hard=False, final=True):
    cos = query @ labels.T  # (Q, W)
    logits = {"divide": cos / temperature, "multiply": cos * temperature, "none": cos}[scale]
    weights = torch.softmax(logits, dim=dim)  # (Q, W)
    if hard:
        weights = torch.nn.functional.one_hot(cos.argmax(1), labels.shape[0]).to(labels.dtype)
    mixed = weights @ labels  # (Q, D)
    if per_word:
        mixed = torch.nn.functional.normalize(mixed, dim=1)
    total = mixed.sum(0)  # (D,)
    return torch.nn.functional.normalize(total, dim=0) if final else total


def test_check_label_space_mix_passes_a_correct_answer():
    assert dv.check_label_space_mix(dv.label_space_mix) < 1e-9
    assert dv.check_label_space_mix(_mix) < 1e-9


@pytest.mark.parametrize("wrong, words", [
    (lambda q, l, t: _mix(q, l, t, final=False), "unit vector"),
    (lambda q, l, t: _mix(q, l, t, dim=0), "softmax over the label words"),
    (lambda q, l, t: _mix(q, l, t, scale="none"), "divide the cosines by the temperature"),
    (lambda q, l, t: _mix(q, l, t, scale="multiply"), "do not multiply"),
    (lambda q, l, t: _mix(q, l, t, hard=True), "not only the nearest one"),
    (lambda q, l, t: _mix(q, l, t, per_word=False), "each word's mix a unit vector"),
    (lambda q, l, t: _mix(q, l, t)[:4], "shape"),
])
def test_check_label_space_mix_names_the_mistake(wrong, words):
    with pytest.raises(checks.CheckFailed, match=re.escape(words)):
        dv.check_label_space_mix(wrong)


@pytest.mark.parametrize("check", [dv.check_hinge_rank_loss, dv.check_average_precision, dv.check_label_space_mix])
def test_checks_let_an_unsolved_exercise_say_so(check):
    with pytest.raises(NotImplementedError):
        check(_unsolved)
    if hasattr(checks, "run"):  # the lesson's check cell
        assert checks.run("unsolved", check, _unsolved).status == "not implemented"
