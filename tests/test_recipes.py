"""Lesson 03 (im2recipe): encoders, losses, CCA, order twins, metrics and the exercise checks."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

from mmcourse import checks, retrieval
from mmcourse import recipes as rc
from mmcourse.encoders import GridEncoder
from mmcourse.word2vec import random_word_vectors
from mmcourse.world.language import grammar_words, recipes, render_recipe
from mmcourse.world.scenes import sample_scenes


@pytest.fixture(scope="module")
def table():
    return rc.WordTable(random_word_vectors([w for w in grammar_words() if w.isalnum()], dim=16, seed=0))


@pytest.fixture(scope="module")
def some_recipes():
    return recipes(sample_scenes(40, seed=5, max_overlap=0.5), seed=5)


@pytest.fixture(scope="module")
def pairs(table):
    torch.manual_seed(0)
    encoder = GridEncoder(dim=64, width=8).eval()  # untrained: the tests check the plumbing
    return rc.pair_data("test", 24, 7, table, encoder, max_overlap=0.5), encoder


def _model(kind, table):
    torch.manual_seed(0)
    return rc.JointEmbedding(rc.build_model(kind, table, dim=16, hidden=16).recipe, rc.ImageEmbedding(dim=16), 16)


def test_recipe_batch_shapes_and_encoders_give_unit_vectors(table, some_recipes):
    batch = rc.recipe_batch(some_recipes[:5], table)
    assert batch.steps.dim() == 3 and batch.steps.shape[0] == 5 and batch.n_steps.tolist() == [len(r.steps) for r in some_recipes[:5]]
    for kind in ("ordered", "bag"):
        model = _model(kind, table)
        z = model.recipe(batch)  # (5, 16)
        assert z.shape == (5, 16) and torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)
    image = rc.ImageEmbedding(dim=16)(torch.randn(5, 64, 8, 8))
    assert image.shape == (5, 16)


def test_bag_of_words_ignores_order_and_the_ordered_encoder_does_not(table, some_recipes):
    r = next(r for r in some_recipes if len(r.steps) >= 4)
    swapped = rc.twin_steps(r, 0, 1)
    batch = rc.recipe_batch([(r.ingredients, r.steps), (r.ingredients, swapped)], table)
    bag, ordered = _model("bag", table).eval(), _model("ordered", table).eval()
    with torch.no_grad():
        b, o = bag.recipe(batch), ordered.recipe(batch)
    assert torch.allclose(b[0], b[1], atol=1e-5)
    assert not torch.allclose(o[0], o[1], atol=1e-4)


def test_gradient_flows_and_a_tiny_batch_overfits(pairs):
    data, _ = pairs
    model = _model("ordered", rc.WordTable(random_word_vectors([w for w in grammar_words() if w.isalnum()], dim=16, seed=0)))
    config = rc.RecipeConfig(n_train=8, n_val=8, n_test=8, steps=6, evaluations=1, batch_size=8)
    batch = data.grids[:8], data.recipes[:8], data.category[:8]
    loss, _ = rc.joint_loss(model, *batch, config)
    loss.backward()
    assert model.recipe.steps.weight_ih_l0.grad.abs().sum() > 0 and model.image.fc[0].weight.grad.abs().sum() > 0
    assert model.recipe.embed.weight.grad is None  # the word vectors stay frozen
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(120):
        loss, _ = rc.joint_loss(model, *batch, config)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # batch-norm statistics of this batch, as in training
        im, rec = model(data.grids[:8], data.recipes[:8])
    assert retrieval.rank_metrics(im @ rec.T)["R@1"] == 1.0 and float(loss.detach()) < 0.1


def test_losses_on_hand_computed_cases():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    match = torch.tensor([True, False, False])
    cos45 = 2 ** -0.5
    want = (0.0 + (cos45 - 0.1) + 0.0) / 3
    assert abs(float(rc.cosine_embedding_loss(a, b, match, 0.1)) - want) < 1e-6
    assert abs(float(rc.cosine_embedding_loss(a, b, match, 0.1))
               - float(F.cosine_embedding_loss(a, b, match.float() * 2 - 1, margin=0.1))) < 1e-6
    logits = torch.zeros(2, 5)
    assert abs(float(rc.semantic_regularization(logits, logits, torch.tensor([0, 1]), 0.5)) - 0.5 * 2 * torch.log(torch.tensor(5.0))) < 1e-5
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    i, j = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    off = i != j
    by_pairs = 0.2 * rc.cosine_embedding_loss(x, y, torch.ones(5, dtype=torch.bool)) + 0.8 * rc.cosine_embedding_loss(
        x[i[off]], y[j[off]], torch.zeros(20, dtype=torch.bool))
    assert abs(float(by_pairs) - float(rc.batch_cosine_loss(x, y, 0.1, 0.8))) < 1e-6


def test_bad_input_names_the_argument(table, some_recipes):
    with pytest.raises(ValueError, match="steps is empty"):
        rc.recipe_batch([(some_recipes[0].ingredients, [])], table)
    with pytest.raises(ValueError, match=r"steps\[1\]"):
        rc.recipe_batch([(some_recipes[0].ingredients, ["first spread the sand", "qqq zzz"])], table)
    with pytest.raises(ValueError, match="ingredients"):
        rc.recipe_batch([([], some_recipes[0].steps)], table)
    with pytest.raises(ValueError, match="grids"):
        rc.ImageEmbedding(dim=8)(torch.randn(2, 64, 16, 16))  # a 128x128 image's grid
    with pytest.raises(ValueError, match="match"):
        rc.cosine_embedding_loss(torch.randn(3, 2), torch.randn(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="category"):
        rc.semantic_regularization(torch.randn(3, 5), torch.randn(3, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="steps"):
        dataclasses.replace(rc.RecipeConfig(), steps=7)


def test_order_twins_differ_in_pixels_and_keep_the_words(some_recipes):
    twins = rc.order_twins(some_recipes)
    assert 0 < len(twins) <= twins.n_recipes == len(some_recipes)
    for t in range(len(twins)):
        a, b = twins.images[t]
        assert int((a != b).any(0).sum()) == int(twins.pixels[t]) >= 20
        (ing_o, steps_o), (ing_t, steps_t) = twins.originals[t], twins.twins[t]
        assert sorted(steps_o) == sorted(steps_t) and steps_o != steps_t and sorted(ing_o) == sorted(ing_t)
        painted = torch.from_numpy(render_recipe(steps_t).images[0]).permute(2, 0, 1)
        assert torch.equal(painted, b)


def test_twin_choices_tie_for_the_bag_of_words(table, some_recipes, pairs):
    _, encoder = pairs
    twins = rc.order_twins(some_recipes)
    c = rc.twin_choices(_model("bag", table), twins, encoder, table)
    assert c.shape == (len(twins), 2) and torch.all(c == 0.5)


def test_pair_data_twins_and_training_with_twins(pairs, table):
    data, _ = pairs
    assert len(data) == 24 and data.grids.shape == (24, 64, 8, 8)
    assert len(data.twin_index) == len(data.twin_grids) == len(data.twins)
    config = rc.RecipeConfig(steps=2, evaluations=1, batch_size=8, twin_weight=1.0)
    batch = next(iter(rc.PairBatches(data, 1, 8)))
    if len(data.twin_index):
        loss, parts = rc.joint_loss(_model("ordered", table), *batch[:3], config, batch[3])
        assert parts["twin"] > 0 and torch.isfinite(loss)


def test_cca_finds_a_shared_direction_and_purity():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 1, generator=g)
    x = torch.cat([z, torch.randn(200, 3, generator=g)], 1)
    y = torch.cat([torch.randn(200, 2, generator=g), -2 * z], 1)
    cca = rc.fit_cca(x, y, k=1, reg=1e-6)
    assert float(cca.correlations[0]) > 0.99
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0]])
    assert rc.neighbour_purity(q, items, torch.tensor([0, 1]), torch.tensor([0, 1, 1]), k=2) == 0.5  # each query: one of its two nearest shares its category


def _unsolved(*args):
    raise NotImplementedError


def _reference_cel(a, b, match, margin):
    return rc.cosine_embedding_loss(a, b, match, margin)


def _dot_cel(a, b, match, margin):
    dot = (a * b).sum(1)
    return torch.where(match, 1 - dot, (dot - margin).clamp(min=0)).mean()


def _one_modality(il, rl, c, w):
    return w * F.cross_entropy(il, c)


CHECKS = [
    (rc.check_cosine_embedding_loss, _reference_cel, _dot_cel, "cosine"),
    (rc.check_semantic_regularization, rc.semantic_regularization, _one_modality, "both modalities"),
    (retrieval.check_rank_metrics, retrieval.rank_metrics, lambda s, ks: retrieval.rank_metrics(-s, ks), "ascending"),
]


@pytest.mark.parametrize("check, reference, wrong, words", CHECKS)
def test_exercise_checks_pass_name_the_mistake_and_say_not_implemented(check, reference, wrong, words, capsys):
    assert checks.run("ref", check, reference).status == "passed"
    result = checks.run("wrong", check, wrong)
    assert result.status == "failed" and words in result.message
    assert checks.run("todo", check, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_more_named_mistakes():
    def no_clamp(a, b, match, margin):
        cos = F.cosine_similarity(a, b, dim=1)
        return torch.where(match, 1 - cos, cos - margin).mean()

    assert "max(0, cos - margin)" in checks.run("x", rc.check_cosine_embedding_loss, no_clamp).message

    def no_weight(il, rl, c, w):
        return F.cross_entropy(il, c) + F.cross_entropy(rl, c)

    assert "weight" in checks.run("x", rc.check_semantic_regularization, no_weight).message


# -- GPU-friendly training: detached extras, batches gathered on a device, no reads from the device

def test_joint_loss_logs_detached_0dim_tensors(pairs, table):
    data, _ = pairs
    config = rc.RecipeConfig(steps=2, evaluations=1, batch_size=8, twin_weight=1.0)
    batch = next(iter(rc.PairBatches(data, 1, 8)))
    for twin_weight in (0.0, 1.0):
        loss, extra = rc.joint_loss(_model("ordered", table), *batch[:3], config, batch[3], twin_weight=twin_weight)
        assert loss.dim() == 0 and set(extra) == {"cosine", "twin", "semantic"}
        for value in extra.values():
            assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad


def test_pair_batches_on_the_cpu_device_are_the_same_batches(pairs):
    data, _ = pairs

    def flat(x):
        if isinstance(x, rc.RecipeBatch):
            return [x.ingredients, x.n_ingredient_words, x.steps, x.n_steps]
        if isinstance(x, tuple):
            return [t for y in x for t in flat(y)]
        return [x]

    plain, on_cpu = rc.PairBatches(data, 3, 8, seed=4), rc.PairBatches(data, 3, 8, seed=4, device="cpu")
    for _ in range(2):  # two epochs: the generator goes on the same way
        for a, b in zip(plain, on_cpu, strict=True):
            assert all(torch.equal(x, y) and x.dtype == y.dtype for x, y in zip(flat(a), flat(b), strict=True))


def test_recipe_batch_keeps_cpu_lengths_on_an_accelerator(table, some_recipes):
    batch = rc.recipe_batch(some_recipes[:4], table)
    assert batch.cpu_lengths is None and batch.to("cpu").cpu_lengths is None
    moved = batch.to("meta")  # stands in for an accelerator: the lengths are kept on the CPU
    n_ing, n_steps = moved.lengths_cpu()
    assert torch.equal(n_ing, batch.n_ingredient_words) and torch.equal(n_steps, batch.n_steps)
    both = rc.concat_batches(moved, moved)
    assert torch.equal(both.lengths_cpu()[1], torch.cat([batch.n_steps, batch.n_steps]))
    rows = moved.take(torch.tensor([2, 0], device="meta"), torch.tensor([2, 0]))
    assert rows.steps.device.type == "meta" and torch.equal(rows.lengths_cpu()[0], batch.n_ingredient_words[[2, 0]])


def test_packing_and_the_batch_loss_match_the_library_exactly():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 5, 3, generator=g)  # (N, L, D)
    lengths = torch.tensor([2, 5, 1, 5, 3, 2])  # (N,) ties too
    ours = rc._pack(x, lengths)
    ref = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    for name in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
        assert torch.equal(getattr(ours, name), getattr(ref, name))
    image = torch.randn(7, 4, generator=g, requires_grad=True)  # (B, E)
    recipe = torch.randn(7, 4, generator=g)  # (B, E)
    cos = F.normalize(image, dim=1) @ F.normalize(recipe, dim=1).T  # (B, B)
    off = ~torch.eye(7, dtype=torch.bool)
    want = 0.2 * (1 - cos.diagonal()).mean() + 0.8 * (cos[off] - 0.1).clamp(min=0).mean()
    got = rc.batch_cosine_loss(image, recipe, 0.1, 0.8)
    assert torch.equal(got, want)
    (grad_want,) = torch.autograd.grad(want, image)
    (grad_got,) = torch.autograd.grad(got, image)
    assert torch.equal(grad_got, grad_want)
