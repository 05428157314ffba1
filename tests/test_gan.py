"""mmcourse.gan (lesson 05): data, text encoder, generator and discriminator, the three losses,
the judge, the course FID and diversity, and the exercise checks (the widget: test_widgets_gan.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcourse import checks, gan
from mmcourse.word2vec import pretrained_word_vectors


@pytest.fixture(scope="module")
def encoder() -> gan.TextEncoder:
    return gan.TextEncoder(pretrained_word_vectors(progress=False))


def _tiny(seed: int = 0) -> gan.TextToImageGAN:
    torch.manual_seed(seed)
    return gan.TextToImageGAN(gan.GANConfig(width=4, noise_dim=8, text_code=4), text_dim=6)


def test_one_object_scenes_are_centred_and_simplified():
    scenes = gan.one_object_scenes(12, seed=1, exclude=gan.UNSEEN)
    assert scenes.max_objects == 1 and (scenes.n_objects == 1).all()
    assert (np.abs(scenes.x - 0.5) <= gan.CENTRE_JITTER + 1e-6).all()
    pairs = {(int(c), int(s)) for c, s in zip(scenes.colour[:, 0], scenes.shape[:, 0])}
    assert not pairs & {(gan.COLOUR_NAMES.index(c), gan.SHAPES.index(s)) for c, s in gan.UNSEEN}
    images = gan.render_simplified(scenes, 32)  # (N, 3, 32, 32)
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    corner = images[:, :, 0, 0]  # (N, 3): the background colour of each scene type
    table = torch.tensor([gan.BACKGROUNDS[n] for n in gan.SCENE_TYPES], dtype=torch.uint8)
    assert torch.equal(corner, table[torch.from_numpy(scenes.scene_type)])
    only = gan.one_object_scenes(8, seed=2, only=gan.UNSEEN)
    assert all((gan.COLOUR_NAMES[c], gan.SHAPES[s]) in gan.UNSEEN for c, s in zip(only.colour[:, 0], only.shape[:, 0]))


def test_simplify_keeps_the_object_and_checks_shapes():
    images = np.full((1, 4, 4, 3), 7, np.uint8)
    masks = np.zeros((1, 1, 4, 4), bool)
    masks[0, 0, 1, 1] = True
    out = gan.simplify(images, masks, np.array([0]))
    assert tuple(out[0, 1, 1]) == (7, 7, 7) and tuple(out[0, 0, 0]) == gan.BACKGROUNDS["beach"]
    with pytest.raises(ValueError, match="masks"):
        gan.simplify(images, masks[:, :, :2], np.array([0]))


def test_captions_and_text_encoder(encoder):
    caps = gan.captions_for("red", "circle", "large", "beach")
    assert len(caps) == len(gan.TEMPLATES) - 1 and all("red" in c and "beach" in c for c in caps)
    v = encoder(caps)  # (5, D)
    assert v.shape == (5, encoder.dim)
    # stop words do not count: two patterns of the same content give the same vector
    assert torch.allclose(encoder("a large red circle on the beach"), encoder("the beach with a red circle , large"), atol=1e-6)
    groups = encoder.encode_groups([caps, caps[:1]])
    assert groups.shape == (2, encoder.dim) and torch.allclose(groups[0], v.mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="captions.*crimson"):
        encoder("a crimson circle on the beach")
    with pytest.raises(ValueError, match="captions.*no content words"):
        encoder("a the of")
    with pytest.raises(ValueError, match="captions"):
        encoder(3)


def test_generator_and_discriminator_shapes_range_and_errors():
    model = _tiny()
    z, t = torch.randn(5, 8), torch.randn(5, 6)
    images = model.generator(z, t)
    assert images.shape == (5, 3, 32, 32) and images.abs().max() <= 1
    assert model.discriminator(images, t).shape == (5,)
    assert model.generate(t).shape == (5, 3, 32, 32)
    with pytest.raises(ValueError, match="noise"):
        model.generator(torch.randn(5, 7), t)
    with pytest.raises(ValueError, match="text"):
        model.generator(z, torch.randn(5, 3))
    with pytest.raises(ValueError, match="images"):
        model.discriminator(torch.randn(5, 3, 16, 16), t)
    with pytest.raises(ValueError, match="image_size"):
        gan.Generator(image_size=48)
    with pytest.raises(ValueError, match="norm"):
        gan.Discriminator(norm="layer")
    g64 = gan.Generator(text_dim=6, noise_dim=8, width=4, image_size=64)
    assert g64(z, t).shape == (5, 3, 64, 64)
    assert gan.Discriminator(text_dim=6, width=4, image_size=64, norm="spectral")(g64(z, t), t).shape == (5,)


@pytest.mark.parametrize("variant", gan.VARIANTS)
def test_every_variant_gives_gradients_to_its_own_network(variant):
    model = _tiny().train()
    x, t = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 6)
    fake = model.generator(torch.randn(4, 8), t)
    d_loss = gan.gan_d_loss(model, x, t, fake, variant)
    d_loss.backward()
    assert all(p.grad is None for p in model.generator.parameters())  # the fakes are detached
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.discriminator.parameters())
    g_loss = gan.gan_g_loss(model, t, fake, variant)
    g_loss.backward(inputs=list(model.generator.parameters()))
    assert all(p.grad is not None for p in model.generator.parameters())
    with pytest.raises(ValueError, match="variant"):
        gan.gan_d_loss(model, x, t, fake, "wgan")


def test_discriminator_loss_by_hand():
    zero = torch.zeros(3)
    assert float(gan.discriminator_loss(zero, None, zero)) == pytest.approx(2 * np.log(2))
    assert float(gan.discriminator_loss(zero, zero, zero)) == pytest.approx(2 * np.log(2))
    big = torch.full((3,), 30.0)
    assert float(gan.discriminator_loss(big, -big, -big)) == pytest.approx(0, abs=1e-6)
    assert torch.allclose(gan.interpolated_text(torch.tensor([[0.0], [2.0]]), 0.25), torch.tensor([[1.5], [0.5]]))


def test_discriminator_separates_real_from_noise():
    torch.manual_seed(0)
    d = gan.Discriminator(text_dim=6, text_code=4, width=4, norm="none")  # batch norm would see one kind per batch
    real = torch.zeros(16, 3, 32, 32)
    real[:, 0] = 0.8  # a flat red picture
    t = torch.randn(16, 6)
    opt = torch.optim.Adam(d.parameters(), 2e-3)
    for _ in range(40):
        noise = torch.rand(16, 3, 32, 32) * 2 - 1
        loss = gan.discriminator_loss(d(real, t), None, d(noise, t))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert (d(real, t) > 0).all() and (d(torch.rand(16, 3, 32, 32) * 2 - 1, t) < 0).all()


def test_frechet_distance_and_diversity_by_hand():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 4, generator=gen)
    assert gan.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = torch.tensor([3.0, 4.0, 0.0, 0.0])
    assert gan.frechet_distance(a, a + shift) == pytest.approx(25.0, abs=1e-6)
    a64 = a.double()  # |mu - 2 mu|² + tr(C + 4C - 4C)
    assert gan.frechet_distance(a, 2 * a) == pytest.approx(float(a64.mean(0).pow(2).sum() + torch.cov(a64.T).trace()), rel=1e-6)
    with pytest.raises(ValueError, match="feature size"):
        gan.frechet_distance(a, a[:, :3])
    with pytest.raises(ValueError, match="a must"):
        gan.frechet_distance(a[:1], a)
    same = torch.ones(10, 4)
    assert gan.diversity_score([same], [a]) == pytest.approx(0)
    assert gan.diversity_score([a], [a]) == pytest.approx(1)
    assert gan.diversity_score([2 * a], [a]) == pytest.approx(2)
    with pytest.raises(ValueError, match="generated and real"):
        gan.diversity_score([], [])


def test_judge_and_semantic_accuracy():
    torch.manual_seed(0)
    judge = gan.Judge(width=4, feature_dim=8).eval()
    out = gan.judge_images(judge, torch.rand(5, 3, 64, 64) * 2 - 1)  # resized to 32 inside
    assert out["features"].shape == (5, 8) and out["colour"].shape == (5,)
    labels = {k: out[k].clone() for k in gan.JUDGED}
    labels["shape"][0] = (labels["shape"][0] + 1) % 5
    acc = gan.semantic_accuracy(out, labels)
    assert acc["colour"] == 1 and acc["shape"] == pytest.approx(0.8) and acc["all"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="images"):
        judge.features(torch.rand(5, 32, 32))


def test_short_training_runs_and_records_history():
    model = _tiny()
    config = gan.GANConfig(width=4, noise_dim=8, text_code=4, steps=6, batch_size=4, eval_every=3)
    images = torch.randint(0, 255, (10, 3, 32, 32), dtype=torch.uint8)
    text = torch.randn(10, 6)
    judge = gan.Judge(width=4, feature_dim=8).eval()
    probe = {"text": text[:4], "labels": {k: torch.zeros(4, dtype=torch.long) for k in gan.JUDGED}}
    h = gan.train_gan(model, images, text, "int-cls", config, probe=probe, judge=judge, progress=False)
    assert h.n_steps == 6 and len(h.steps["d_loss"]) == 6 and h.epochs["step"] == [3, 6]
    assert not model.training
    rows = {"a": {k: 0.5 for k, _ in gan.TABLE_COLUMNS}}
    assert "course FID" in gan.results_table(rows)
    assert gan.mean_over_seeds({"v": [{"x": 1.0}, {"x": 3.0}]}) == {"v": {"x": 2.0}}


# -- exercise checks: the reference passes, a typical mistake is named, the placeholder is "not implemented"

def _equal_weights(rr, rw, fr):
    bce = F.binary_cross_entropy_with_logits
    if rw is None:
        return bce(rr, torch.ones_like(rr)) + bce(fr, torch.zeros_like(fr))
    return bce(rr, torch.ones_like(rr)) + bce(rw, torch.zeros_like(rw)) + bce(fr, torch.zeros_like(fr))


def _wrong_text_d(generator, discriminator, text, noise, beta=0.5):
    mixed = beta * text + (1 - beta) * text.roll(1, 0)
    logits = discriminator(generator(noise, mixed), text)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def _mean_only(a, b):
    return float((a.double().mean(0) - b.double().mean(0)).pow(2).sum())


EXERCISES = [
    (gan.check_discriminator_loss, gan.discriminator_loss, _equal_weights, "equal weight"),
    (gan.check_interpolation_loss, gan.interpolation_loss, _wrong_text_d, "D reads the original text"),
    (gan.check_frechet_distance, gan.frechet_distance, _mean_only, "only the mean term"),
]
IDS = ["discriminator_loss", "interpolation_loss", "frechet_distance"]


def _unsolved(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("check, reference, mistake, words", EXERCISES, ids=IDS)
def test_exercise_check_passes_the_reference(check, reference, mistake, words):
    assert checks.run("exercise", check, reference).status == "passed"


@pytest.mark.parametrize("check, reference, mistake, words", EXERCISES, ids=IDS)
def test_exercise_check_names_the_mistake(check, reference, mistake, words, capsys):
    result = checks.run("exercise", check, mistake)
    assert result.status == "failed"
    assert words in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistake, words", EXERCISES, ids=IDS)
def test_exercise_check_says_not_implemented_for_the_placeholder(check, reference, mistake, words, capsys):
    assert checks.run("exercise", check, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


# -- the training loops read their losses back in groups: CPU runs record plain floats, step by step

@pytest.mark.parametrize("variant", gan.VARIANTS)
def test_losses_of_a_step_are_0dim_tensors(variant):
    model = _tiny().train()
    x, t = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 6)
    fake = model.generator(torch.randn(4, 8), t)
    for loss in (gan.gan_d_loss(model, x, t, fake, variant), gan.gan_g_loss(model, t, fake, variant)):
        assert isinstance(loss, torch.Tensor) and loss.dim() == 0
        assert isinstance(loss.detach(), torch.Tensor) and loss.detach().dim() == 0


def test_training_histories_hold_one_float_per_step():
    torch.manual_seed(0)
    config = gan.GANConfig(width=4, noise_dim=8, text_code=4, steps=5, batch_size=4, judge_epochs=2)
    images = torch.randint(0, 255, (10, 3, 32, 32), dtype=torch.uint8)
    h = gan.train_gan(_tiny(), images, torch.randn(10, 6), "cls", config, progress=False)
    assert [len(h.steps[k]) for k in ("d_loss", "g_loss")] == [5, 5] and h.n_steps == 5
    assert all(type(v) is float for k in ("d_loss", "g_loss") for v in h.steps[k])
    labels = {k: torch.randint(0, 3, (128,)) for k in gan.JUDGED}
    data = {"judge": {"images": torch.randint(0, 255, (128, 3, 32, 32), dtype=torch.uint8), "labels": labels}}
    judge = gan.Judge(width=4, feature_dim=8)
    hj = gan.fit_judge(judge, data, config, progress=False)
    assert hj.n_steps == len(hj.steps["loss"]) == 4 and all(type(v) is float for v in hj.steps["loss"])
    assert not judge.training
