import numpy as np
import pytest
import torch

import mmcourse
from mmcourse.encoders import GridEncoder, cell_labels, encoder_loss, random_cell_crop
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
        loss, _ = encoder_loss(model, batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        assert model.features[0][0].weight.grad.abs().sum() > 0
        opt.step()
    assert loss.item() < 0.3 * first
