import numpy as np
import pytest
import torch

import mmcourse
from mmcourse.encoders import (
    EncoderConfig,
    GridEncoder,
    build_encoder,
    cell_labels,
    encode,
    encoder_loss,
    pretrained_grid_encoder,
    random_cell_crop,
    validate_images,
)
from mmcourse.world.scenes import make_scene, render, sample_scenes, to_tensor


def test_grid_shapes():
    model = GridEncoder(dim=16, width=8)
    images = torch.rand(2, 3, 64, 64)
    assert model(images).shape == (2, 16, 8, 8)
    assert model.annotations(images).shape == (2, 64, 16)
    assert model.summary(images).shape == (2, 5 + 6 + 4)
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 16, 4, 4)


def test_bad_images_are_named():
    model = GridEncoder(dim=8, width=8)
    with pytest.raises(ValueError, match="images"):
        model(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.rand(2, 3, 60, 60))


def test_cell_labels_mark_the_object_core():
    scene = make_scene([{"shape": "star", "colour": "red", "size": "large", "x": 0.3, "y": 0.7}], "beach")
    labels = cell_labels(scene, grid=8)
    row, col = int(0.7 * 8), int(0.3 * 8)
    assert labels["shape"][0, row, col] == 1 + mmcourse.world.SHAPES.index("star")
    assert labels["colour"][0, row, col] == 1 + mmcourse.world.COLOUR_NAMES.index("red")
    assert labels["shape"][0, 0, 7] == 0  # far corner is empty
    with pytest.raises(ValueError, match="grid"):
        cell_labels(scene, grid=0)


def test_every_object_has_a_labelled_cell():
    scenes = sample_scenes(50, seed=5)
    labels = cell_labels(scenes, grid=8)
    for i in range(len(scenes)):
        front = {(int(s), int(c)) for s, c in zip(scenes.shape[i], scenes.colour[i]) if s >= 0}
        seen = {(int(s) - 1, int(c) - 1) for s, c in zip(labels["shape"][i].ravel(), labels["colour"][i].ravel()) if s > 0}
        assert seen <= front


def test_crop_keeps_images_and_labels_aligned():
    images = torch.arange(64 * 64, dtype=torch.float32).view(1, 1, 64, 64).expand(1, 3, 64, 64)
    shape = torch.arange(64).view(1, 8, 8)
    crop, s, c = random_cell_crop(images, shape, shape.clone())
    assert crop.shape == (1, 3, 32, 32) and s.shape == (1, 4, 4)
    i, j = divmod(int(s[0, 0, 0]), 8)
    assert crop[0, 0, 0, 0] == images[0, 0, i * 8, j * 8]


def test_gradient_flows_and_a_tiny_batch_overfits():
    mmcourse.seed_everything(0)
    scenes = sample_scenes(8, seed=2)
    images = to_tensor(render(scenes, size=32).images)
    labels = cell_labels(scenes, grid=4)
    batch = (images, torch.from_numpy(labels["shape"]), torch.from_numpy(labels["colour"]),
             torch.from_numpy(np.asarray(scenes.scene_type)))
    model = GridEncoder(dim=16, width=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss, extra = encoder_loss(model, batch)
        assert torch.is_tensor(extra["object_acc"]) and extra["object_acc"].dim() == 0  # no wait for the device
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        assert model.features[0][0].weight.grad.abs().sum() > 0
        opt.step()
    assert loss.item() < 0.3 * first


# ----------------------------------------------------------------------------------------
# The one runner: encode() and the images it accepts
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    return build_encoder(EncoderConfig(dim=16, width=8)).eval()  # untrained: shapes, checks and plumbing


def test_encode_gives_float32_grids_on_the_cpu(encoder):
    images = render(sample_scenes(5, seed=3), size=64).images  # (5, 64, 64, 3) uint8
    as_uint8 = torch.from_numpy(images).permute(0, 3, 1, 2)  # (5, 3, 64, 64)
    grid = encode(encoder, as_uint8, batch_size=2)
    assert grid.shape == (5, 16, 8, 8) and grid.dtype == torch.float32 and grid.device.type == "cpu"
    as_float = encode(encoder, to_tensor(images))  # the same images as floats in [0, 1], one batch
    assert torch.allclose(grid, as_float, atol=1e-5)
    assert torch.allclose(grid.flatten(2).transpose(1, 2), encoder.annotations(to_tensor(images)), atol=1e-5)


def test_encode_runs_in_eval_mode_and_leaves_the_mode_alone(encoder):
    encoder.train()
    running = encoder.features[0][1].running_mean.clone()
    encode(encoder, torch.rand(4, 3, 64, 64))
    assert encoder.training  # put back
    assert torch.equal(encoder.features[0][1].running_mean, running)  # batch norm statistics untouched
    encoder.eval()


@pytest.mark.parametrize("images, words", [
    (torch.full((2, 3, 64, 64), float("nan")), "NaN"),
    (torch.rand(2, 3, 64, 64) * 255, "divide by 255"),
    (torch.rand(0, 3, 64, 64), "empty"),
    (torch.rand(2, 3, 32, 32), "64x64"),
    (torch.rand(2, 3, 128, 128), "64x64"),
    (torch.rand(2, 1, 64, 64), "(N, 3, S, S)"),
    (torch.rand(3, 64, 64), "(N, 3, S, S)"),
    (-torch.rand(2, 3, 64, 64), "smallest"),
    (torch.randint(0, 255, (2, 3, 64, 64)), "uint8"),
    (np.zeros((2, 64, 64, 3), dtype=np.uint8), "to_tensor"),
])
def test_bad_images_get_a_clear_error(encoder, images, words):
    with pytest.raises(ValueError, match="images") as error:
        encode(encoder, images)
    assert words in str(error.value)


def test_validate_images_accepts_good_batches_and_checks_the_size_it_is_given():
    validate_images(torch.rand(2, 3, 64, 64), 64)
    validate_images(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8), 64)
    validate_images(torch.rand(2, 3, 128, 128), None)  # no size check
    with pytest.raises(ValueError, match="128x128"):
        validate_images(torch.rand(2, 3, 64, 64), 128)
    with pytest.raises(ValueError, match="batch_size"):
        encode(GridEncoder(dim=8, width=8), torch.rand(1, 3, 64, 64), batch_size=0)


def test_the_encoder_knows_its_image_size():
    assert GridEncoder(dim=8, width=8).image_size == 64
    assert build_encoder(EncoderConfig(dim=8, width=8, image_size=128)).image_size == 128
    with pytest.raises(ValueError, match="image_size"):
        GridEncoder(image_size=60)
    assert EncoderConfig.for_preset(mmcourse.preset("gpu")).image_size == mmcourse.preset("gpu").image_size
    assert EncoderConfig.for_preset(mmcourse.preset("cpu")) == EncoderConfig()


def test_callers_reject_bad_images_too(encoder):
    from mmcourse import captioning, vqa
    from mmcourse.world.vocab import course_vocabulary

    vocab = course_vocabulary()
    model = captioning.ShowAttendTell(len(vocab), feat_dim=16, embed_dim=8, hidden_dim=8, att_dim=8).eval()
    out = captioning.caption_images(torch.rand(2, 3, 64, 64), encoder, model, vocab, max_len=3)
    assert len(out) == 2  # good images are captioned
    for bad, words in ((torch.full((1, 3, 64, 64), float("nan")), "NaN"),
                       (torch.rand(1, 3, 64, 64) * 255, "divide by 255"),
                       (torch.rand(0, 3, 64, 64), "empty")):
        with pytest.raises(ValueError, match="images") as error:
            captioning.caption_images(bad, encoder, model, vocab)
        assert words in str(error.value)
    assert vqa.extract_features(encoder, torch.rand(2, 3, 64, 64))["grid"].shape == (2, 64, 16)
    for size in (32, 128):
        with pytest.raises(ValueError, match="images must be 64x64"):
            vqa.extract_features(encoder, torch.rand(2, 3, size, size))
        with pytest.raises(ValueError, match="images must be 64x64"):
            vqa.extract_features(encoder, render(sample_scenes(2, seed=1), size=size).images)


# ----------------------------------------------------------------------------------------
# Seeded initial weights
# ----------------------------------------------------------------------------------------


def test_the_encoder_is_built_with_the_same_weights_every_time():
    config = EncoderConfig(dim=16, width=8)
    torch.manual_seed(1)
    first = build_encoder(config).state_dict()
    torch.manual_seed(2)  # whatever ran before does not matter
    second = build_encoder(config).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = build_encoder(EncoderConfig(dim=16, width=8, seed=config.seed + 1)).state_dict()
    assert not torch.equal(first["features.0.0.weight"], other["features.0.0.weight"])


def test_building_the_encoder_leaves_the_random_generators_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    build_encoder(EncoderConfig(dim=8, width=8))
    assert torch.equal(torch.rand(3), expected)


def test_the_encoder_cache_key_follows_its_training_code(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    config = EncoderConfig(dim=8, width=8, n_train=16, epochs=1, batch_size=8, image_size=32)
    first = pretrained_grid_encoder(config, device=torch.device("cpu"), progress=False)
    again = pretrained_grid_encoder(config, device=torch.device("cpu"), progress=False)
    assert len(list(tmp_path.glob("grid_encoder-*.pt"))) == 1  # trained once, then read back
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert not any(p.requires_grad for p in again.parameters()) and not again.training
    assert again.image_size == 32
