"""mmcourse.localization (lesson 10): the sound net, the attention map, the losses, the scores
(cIoU, AUC, pointing), the baselines and the exercise checks (the widget: test_widgets_localization.py)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mmcourse import checks
from mmcourse import localization as loc
from mmcourse import localization_figures as figures

matplotlib.use("Agg")


def _mels(b: int, seed: int = 0) -> torch.Tensor:
    clips = 0.1 * torch.randn(b, 16000, generator=torch.Generator().manual_seed(seed))  # (B, T)
    return loc.log_mels(clips)  # (B, M, F)


def _small(seed: int = 0) -> loc.SoundLocalizer:
    torch.manual_seed(seed)
    return loc.SoundLocalizer(grid_dim=8, dim=8, width=4)


def test_log_mels_shape_range_and_bad_sample_rate():
    m = _mels(2)
    assert m.shape == (2, loc.N_MELS, 16000 // loc.HOP + 1)
    assert float(m.max()) == pytest.approx(0.0) and float(m.min()) >= -4.0 - 1e-5
    with pytest.raises(ValueError, match="sample_rate"):
        loc.log_mels(torch.zeros(2, 8000), sample_rate=8000)
    with pytest.raises(ValueError, match="clips"):
        loc.log_mels(torch.zeros(2, 3, 100))


def test_model_shapes_unit_vectors_and_gradient():
    model = _small()
    grid = torch.randn(3, 8, 8, 8)  # (B, D, g, g)
    out = model(grid, _mels(3))
    assert out["map"].shape == (3, 8, 8) and out["sound"].shape == (3, 8) and out["z"].shape == (3, 8)
    assert torch.allclose(out["map"].flatten(1).sum(1), torch.ones(3), atol=1e-5)
    assert torch.allclose(out["sound"].norm(dim=1), torch.ones(3), atol=1e-5)
    loss = loc.triplet_loss(out["z"], out["sound"], out["sound"].roll(1, 0), scale=5.0)
    loss.backward()
    assert all(p.grad is not None for p in model.sound.parameters() if p.requires_grad)
    assert model.cells[0].weight.grad.abs().sum() > 0


def test_bad_grid_and_mels_give_clear_errors():
    model = _small()
    with pytest.raises(ValueError, match="grid"):
        model(torch.randn(2, 5, 8, 8), _mels(2))  # wrong channels
    with pytest.raises(ValueError, match="grid"):
        model(torch.randn(2, 8, 64), _mels(2))  # not a grid
    with pytest.raises(ValueError, match="mels"):
        model(torch.randn(2, 8, 8, 8), torch.randn(2, 20, 32))
    with pytest.raises(ValueError, match="sound"):
        loc.attention_map(torch.randn(2, 7), torch.randn(2, 8, 4, 4))


def test_attention_map_prefers_the_cell_pointing_like_the_sound():
    sound = torch.tensor([[1.0, 0.0]])
    grid = torch.zeros(1, 2, 2, 2)
    grid[0, :, 0, 1] = torch.tensor([2.0, 0.0])  # same direction
    grid[0, :, 1, 0] = torch.tensor([-1.0, 0.0])  # opposite: ReLU'd to 0
    grid[0, :, 0, 0] = torch.tensor([0.0, 1.0])  # orthogonal: 0
    grid[0, :, 1, 1] = torch.tensor([0.0, 1.0])
    alpha = loc.attention_map(sound, grid, temperature=0.5)  # (1, 2, 2)
    e = np.exp(1 / 0.5)
    assert float(alpha[0, 0, 1]) == pytest.approx(e / (e + 3), rel=1e-5)
    assert float(alpha[0, 1, 0]) == pytest.approx(1 / (e + 3), rel=1e-5)


def test_triplet_loss_hand_computed():
    z = torch.tensor([[0.0, 0.0]])
    s_pos, s_neg = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])  # distances 1 and 2
    p = torch.softmax(torch.tensor([1.0, 2.0]), 0)
    assert float(loc.triplet_loss(z, s_pos, s_neg)) == pytest.approx(float(p[0] ** 2 + (p[1] - 1) ** 2), rel=1e-6)
    with pytest.raises(ValueError, match="z, s_pos and s_neg"):
        loc.triplet_loss(z, s_pos, torch.zeros(1, 3))


def test_map_loss_is_smallest_at_the_truth():
    truth = torch.zeros(1, 2, 2)
    truth[0, 0, 0] = 1.0
    good = torch.tensor([[[0.97, 0.01], [0.01, 0.01]]])
    flat = torch.full((1, 2, 2), 0.25)
    assert loc.map_loss(good, truth) < loc.map_loss(flat, truth)


def test_binarize_rules_and_ciou_by_hand():
    truth = torch.zeros(1, 4, 4, dtype=torch.bool)
    truth[0, 0, 0] = truth[0, 0, 1] = True  # 2 of 16 pixels
    m = torch.zeros(1, 4, 4)
    m[0, 0, 0], m[0, 0, 1] = 1.0, 0.9  # a perfect map
    assert loc.binarize(m, truth, "area").sum() == 2
    assert float(loc.ciou(loc.binarize(m, truth, "area"), truth)[0]) == 1.0
    median = loc.binarize(m, truth, "median")  # a flat majority: every zero is at the median
    assert median.sum() == 16 and float(loc.ciou(median, truth)[0]) == pytest.approx(2 / 16)
    assert float(loc.ciou(loc.binarize(m, truth, "minmax"), truth)[0]) == 1.0
    flat = torch.ones(1, 4, 4)
    assert loc.binarize(flat, truth, "area").all() and loc.binarize(flat, truth, "minmax").all()
    with pytest.raises(ValueError, match="rule"):
        loc.binarize(m, truth, "mean")


def test_success_curve_and_auc():
    rates, auc = loc.success_auc(torch.tensor([1.0, 0.0]))
    assert rates[0] == 1.0 and rates[-1] == 0.5 and auc == pytest.approx(0.5 + 0.5 * 0.05 / 2, abs=1e-6)
    _, perfect = loc.success_auc(torch.ones(10))
    assert perfect == pytest.approx(1.0)


def test_peak_objects_names_the_object_under_the_peak():
    visible = torch.zeros(2, 2, 16, 16, dtype=torch.bool)  # 2 scenes, 2 objects, 16 px, grid 2
    visible[:, 0, :8, :8] = True  # object 0 top-left
    visible[:, 1, 8:, 8:] = True  # object 1 bottom-right
    maps = torch.zeros(2, 2, 2)
    maps[0, 1, 1] = 1.0  # bottom-right cell -> object 1
    maps[1, 0, 1] = 1.0  # top-right cell -> background
    assert loc.peak_objects(maps, visible).tolist() == [1, -1]


def test_grid_truth_and_flatness():
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[0, :4, :8] = True
    g = loc.grid_truth(mask, 2)
    assert torch.allclose(g, torch.tensor([[[0.5, 0.0], [0.0, 0.0]]]))
    assert float(loc.flatness(torch.ones(1, 4, 4))[0]) == pytest.approx(1.0)
    peaked = torch.zeros(1, 4, 4)
    peaked[0, 0, 0] = 1.0
    assert float(loc.flatness(peaked)[0]) == pytest.approx(0.0, abs=1e-5)


def _fake_split(n: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    visible = torch.zeros(n, 2, 16, 16, dtype=torch.bool)
    visible[:, 0, :8, :8] = True
    visible[:, 1, 8:, 8:] = True
    sounding = torch.zeros(n, 2, dtype=torch.bool)
    sounding[torch.arange(n), torch.arange(n) % 2] = True
    grid = torch.randn(n, 8, 2, 2, generator=gen)
    return {"grid": grid, "objectness": torch.rand(n, 2, 2, generator=gen), "mels": _mels(n, seed),
            "mels_other": _mels(n, seed + 1), "mels_swap": _mels(n, seed + 2), "sounding": sounding,
            "swap": (torch.arange(n) + 1) % 2, "visible": visible,
            "sound_mask": (visible & sounding[:, :, None, None]).any(1)}


def test_baselines_evaluate_and_the_perfect_map_scores_one():
    test = _fake_split()
    maps = loc.baseline_maps(test)
    assert set(maps) == {"whole image", "random", "object-ness", "perfect grid map"}
    perfect = loc.evaluate(maps["perfect grid map"], test)
    assert perfect["cIoU@0.5"] == 1.0 and perfect["pointing (sounding)"] == 1.0
    assert loc.evaluate(maps["perfect grid map"], test, "median")["cIoU@0.5"] == 0.0  # half the image vs a quarter
    assert loc.evaluate(maps["whole image"], test)["cIoU@0.5"] == 0.0
    print(loc.table({"perfect": perfect}, ["cIoU@0.5", "AUC"]))


@pytest.mark.parametrize("negatives", ["other scenes", "same scene", "both"])
def test_a_tiny_batch_overfits_and_the_swap_test_runs(negatives):
    torch.set_num_threads(1)
    data = _fake_split(8)
    model = _small()
    variant = loc.Variant(negatives, labelled=4, map_weight=1.0)
    first = float(loc.step_loss(model, data, torch.arange(8), variant)[0].detach())
    history = loc.fit(model, data, variant, epochs=40, batch_size=8, lr=1e-2, progress=False)
    assert history.steps["loss"][-1] < first
    swap = loc.swap_test(model, data)
    assert swap["scenes"] == 8 and 0 <= swap["on it after"] <= 1
    with pytest.raises(ValueError, match="negatives"):
        loc.step_loss(model, data, torch.arange(8), loc.Variant("nowhere"))


@pytest.mark.parametrize("negatives", ["other scenes", "same scene", "both"])
def test_step_loss_logs_detached_tensors(negatives):
    data = _fake_split(8)
    loss, extra = loc.step_loss(_small(), data, torch.arange(4), loc.Variant(negatives, labelled=4))
    assert set(extra) == {"triplet", "map"} and loss.dim() == 0
    for value in extra.values():  # tensors that train() reads back, not floats (a host sync per step)
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad


def test_batches_on_a_device_are_the_same_batches():
    plain, on_cpu = loc.Batches(10, 4, seed=3), loc.Batches(10, 4, seed=3, device="cpu")
    for _ in range(2):  # two epochs: the same shuffles
        a, b = list(plain), list(on_cpu)
        assert len(a) == len(b) == len(plain) == 3
        assert all(x.device.type == "cpu" and torch.equal(x, y) for x, y in zip(a, b))


def test_figures_draw():
    test = _fake_split(3)
    images = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    maps = loc.baseline_maps(test)
    fig = figures.plot_binarisations(images[0], maps["perfect grid map"][0], test["sound_mask"][0], "perfect")
    figures.plot_gallery(images, {"perfect": maps["perfect grid map"]}, test["sound_mask"], [0, 1], ["a", "b"])
    figures.plot_success_curves({"perfect": loc.success_auc(torch.ones(3))[0]}, "curves")
    matplotlib.pyplot.close("all")
    assert fig is not None


# ----------------------------------------------------------------------------- exercise checks


def _unsolved(*args, **kwargs):
    raise NotImplementedError


def _map_reference(sound, grid, temperature):
    return loc.attention_map(sound, grid, temperature)


def _map_dot(sound, grid, temperature):
    b, d, g, _ = grid.shape
    return torch.softmax(F.relu(torch.einsum("bd,bdl->bl", sound, grid.flatten(2))) / temperature, 1).view(b, g, g)


def _map_no_relu(sound, grid, temperature):
    b, d, g, _ = grid.shape
    cos = torch.einsum("bd,bdl->bl", F.normalize(sound, dim=1), F.normalize(grid.flatten(2), dim=1))
    return torch.softmax(cos / temperature, 1).view(b, g, g)


def _map_rows(sound, grid, temperature):
    cos = torch.einsum("bd,bdhw->bhw", F.normalize(sound, dim=1), F.normalize(grid, dim=1))
    return torch.softmax(F.relu(cos) / temperature, 2)


def _ciou_reference(pred, truth):
    cious = loc.ciou(pred, truth)
    return cious, loc.success_auc(cious)[1]


def _ciou_by_prediction(pred, truth):
    p, t = pred.flatten(1), truth.flatten(1)
    cious = (p & t).sum(1).float() / p.sum(1).float()
    return cious, loc.success_auc(cious)[1]


def _ciou_auc_at_half(pred, truth):
    cious = loc.ciou(pred, truth)
    return cious, float((cious >= 0.5).float().mean())


def _triplet_reference(z, s_pos, s_neg):
    return loc.triplet_loss(z, s_pos, s_neg)


def _triplet_swapped(z, s_pos, s_neg):
    return loc.triplet_loss(z, s_neg, s_pos)


def _triplet_negated(z, s_pos, s_neg):
    d = torch.stack([(z - s_pos).norm(dim=1), (z - s_neg).norm(dim=1)], 1)
    p = torch.softmax(-d, 1)
    return (p[:, 0] ** 2 + (p[:, 1] - 1) ** 2).mean()


EXERCISES = [
    (loc.check_attention_map, _map_reference, [(_map_dot, "cosine"), (_map_no_relu, "ReLU"), (_map_rows, "sum to 1")]),
    (loc.check_ciou_auc, _ciou_reference, [(_ciou_by_prediction, "false positives"), (_ciou_auc_at_half, "whole success curve")]),
    (loc.check_triplet_loss, _triplet_reference, [(_triplet_swapped, "wrong side"), (_triplet_negated, "wrong side")]),
]
EXERCISE_IDS = ["attention_map", "ciou_auc", "triplet_loss"]


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
