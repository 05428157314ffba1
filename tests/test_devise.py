"""mmcourse.devise: tags, targets, queries, the DeViSE map and the baseline, losses and metrics."""

from __future__ import annotations

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
    with pytest.raises(TypeError, match="text"):
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


def test_tagging_data_encodes_once_and_caches(tmp_path, monkeypatch):
    import mmcourse.encoders as encoders

    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    calls = []

    def tiny_encoder(config=None, device=None, progress=True):
        calls.append(1)
        torch.manual_seed(0)
        return encoders.GridEncoder(dim=8, width=8).eval()

    monkeypatch.setattr(encoders, "pretrained_grid_encoder", tiny_encoder)
    config = encoders.EncoderConfig(image_size=32, dim=8, width=8)
    data = dv.tagging_data(5, seed=3, exclude=[("red", "star")], encoder_config=config)
    assert data.features.shape == (5, 16, 8) and data.images.shape == (5, 32, 32, 3)
    assert not data.labels[:, dv.tag_index("red", "star")].any()
    again = dv.tagging_data(5, seed=3, exclude=[("red", "star")], encoder_config=config)
    assert len(calls) == 1 and torch.equal(again.features, data.features)
    with pytest.raises(ValueError, match="unknown tag"):
        dv.tagging_data(5, seed=3, exclude=[("red", "blob")], encoder_config=config)


def test_exercise_checks_pass_on_the_reference_and_explain_a_wrong_answer():
    assert dv.check_hinge_rank_loss(dv.hinge_rank_loss) < 1e-9
    assert dv.check_average_precision(dv.average_precision) < 1e-9

    def no_margin(scores, labels, margin):
        return dv.hinge_rank_loss(scores, labels, 0.0)

    def not_averaged_over_true_tags(scores, labels, margin):
        v = (margin - scores[:, :, None] + scores[:, None, :]).clamp(min=0)
        return (v * (labels[:, :, None] & ~labels[:, None, :])).sum((1, 2)).mean()

    with pytest.raises(checks.CheckFailed, match="relative error|one true tag"):
        dv.check_hinge_rank_loss(no_margin)
    with pytest.raises(checks.CheckFailed, match="relative error"):
        dv.check_hinge_rank_loss(not_averaged_over_true_tags)

    def share_relevant(scores, relevant):
        return float(relevant.float().mean())

    def precision_at_all_ranks(scores, relevant):  # averages precision over every rank, not the relevant ones
        hits = relevant[torch.argsort(scores, descending=True)].float()
        return float((hits.cumsum(0) / torch.arange(1, len(hits) + 1)).mean())

    with pytest.raises(checks.CheckFailed, match="sort by score"):
        dv.check_average_precision(share_relevant)
    with pytest.raises(checks.CheckFailed, match="relative error"):
        dv.check_average_precision(precision_at_all_ranks)
