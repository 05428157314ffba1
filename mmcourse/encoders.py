"""The course's "pre-trained" image encoder.

Real multi-modal systems start from an image network pre-trained on ImageNet. The course
world has its own stand-in: a small CNN trained by :func:`pretrained_grid_encoder` to say,
for every cell of an 8x8 grid, which shape and which colour covers it, and which scene the
image shows. Its last convolutional map is a grid of annotation vectors — the same kind of
features Show, Attend and Tell attends over (lesson 04), VQA pools (lesson 06), and DeViSE
projects (lesson 02). It is trained once on first use and cached under ``data/cache/``.

- :func:`pretrained_grid_encoder` — the trained, frozen encoder (built by :func:`build_encoder`).
- :func:`encode` — the one way to run it over a batch of images: ``(N, D, g, g)`` grids.
- :func:`validate_images` — what :func:`encode` accepts, with a clear error for the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cache
from .runtime import device as default_device, preset, seeded
from .training import History, TensorBatches, train
from .world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES
from .world.scenes import GENERATOR_VERSION, render, sample_scenes, to_tensor

NONE = 0
"""Cell label "no object" (shape and colour labels are shifted by one)."""

NONE_WEIGHT = 0.2
"""Weight of the "no object" class in the loss: most cells are empty."""


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class GridEncoder(nn.Module):
    """A small CNN that turns an image into a grid of annotation vectors.

    ``(B, 3, S, S)`` images in [0, 1] give a ``(B, dim, S/8, S/8)`` grid (8x8 for 64x64
    images). Three heads read the grid: per-cell shape and colour (``1 + n`` classes,
    class 0 = no object) and the scene type (from the mean of the grid).

    ``image_size`` is the side of the images it is trained on and meant to read (it learns
    from crops of them, so ``forward`` takes any multiple of 8; :func:`encode` insists on
    ``image_size``, because a grid of another size is not what the lessons expect).
    """

    def __init__(self, dim: int = 64, width: int = 32, image_size: int = 64) -> None:
        super().__init__()
        if dim < 1 or width < 1:
            raise ValueError(f"dim and width must be positive, got dim={dim}, width={width}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8 or image_size % 8:
            raise ValueError(f"image_size must be a positive multiple of 8, got {image_size!r}")
        self.dim = dim
        self.image_size = image_size
        self.features = nn.Sequential(
            _conv(3, width // 2),  # (B, w/2, S, S)
            nn.MaxPool2d(2),  # (B, w/2, S/2, S/2)
            _conv(width // 2, width),  # (B, w, S/2, S/2)
            _conv(width, width),  # (B, w, S/2, S/2)
            nn.MaxPool2d(2),  # (B, w, S/4, S/4)
            _conv(width, 2 * width),  # (B, 2w, S/4, S/4)
            nn.MaxPool2d(2),  # (B, 2w, S/8, S/8)
            _conv(2 * width, 2 * width),  # (B, 2w, S/8, S/8)
            nn.Conv2d(2 * width, dim, 1),  # (B, D, S/8, S/8)
            nn.ReLU(inplace=True),
        )
        self.shape_head = nn.Conv2d(dim, 1 + len(SHAPES), 1)
        self.colour_head = nn.Conv2d(dim, 1 + len(COLOUR_NAMES), 1)
        self.scene_head = nn.Linear(dim, len(SCENE_TYPES))
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, image_size={self.image_size}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Annotation grid ``(B, D, H', W')`` of ``(B, 3, S, S)`` images in [0, 1]."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, S, S), got {tuple(images.shape)}")
        if images.shape[-1] % 8 or images.shape[-2] % 8:
            raise ValueError(f"images must have sides divisible by 8, got {tuple(images.shape[-2:])}")
        x = (images - self.mean) / self.std  # (B, 3, S, S)
        return self.features(x)  # (B, D, S/8, S/8)

    def heads(self, grid: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of the three heads for a grid ``(B, D, H', W')``."""
        return {
            "shape": self.shape_head(grid),  # (B, 1+n_shapes, H', W')
            "colour": self.colour_head(grid),  # (B, 1+n_colours, H', W')
            "scene": self.scene_head(grid.mean((2, 3))),  # (B, n_scenes)
        }

    def annotations(self, images: torch.Tensor) -> torch.Tensor:
        """Annotation vectors as a sequence ``(B, L, D)`` with ``L = H' * W'`` (row-major)."""
        grid = self(images)  # (B, D, H', W')
        return grid.flatten(2).transpose(1, 2)  # (B, L, D)

    def summary(self, images: torch.Tensor) -> torch.Tensor:
        """A global description of *what* is in each image, ``(B, n_shapes + n_colours + n_scenes)``.

        The per-cell shape and colour probabilities (without the "none" class) are
        max-pooled over the grid — "is there a red object anywhere?" — and joined with the
        scene probabilities. It says what is there, not where.
        """
        grid = self(images)  # (B, D, H', W')
        out = self.heads(grid)
        shape = out["shape"].softmax(1)[:, 1:].amax((2, 3))  # (B, n_shapes)
        colour = out["colour"].softmax(1)[:, 1:].amax((2, 3))  # (B, n_colours)
        scene = out["scene"].softmax(1)  # (B, n_scenes)
        return torch.cat([shape, colour, scene], dim=1)  # (B, n_shapes + n_colours + n_scenes)


def cell_labels(scenes: Any, grid: int = 8, core: float = 0.6) -> dict[str, np.ndarray]:
    """Per-cell ground truth of a batch of scenes: which object sits at the heart of each cell.

    The image is cut into ``grid x grid`` cells. A cell takes an object's shape and
    colour when the cell's centre lies in the object's *core* — within ``core`` times its
    radius of the object's centre, in x and in y — or when the object's centre lies in
    the cell; a later (front) object wins over an earlier one. Every other cell is
    labelled 0 ("no object"). Cells that only graze an object's edge stay 0: from a bit
    of edge the shape cannot be told, while the encoder's receptive field (about 40
    pixels) sees the whole object around a core cell.

    Args:
        scenes: a :class:`~mmcourse.world.scenes.SceneBatch` of ``N`` scenes.
    Returns:
        ``{"shape": (N, grid, grid), "colour": (N, grid, grid)}`` int64 arrays.
    """
    if not isinstance(grid, int) or grid < 1:
        raise ValueError(f"grid must be a positive integer, got {grid!r}")
    if not 0 <= core <= 1:
        raise ValueError(f"core must be in [0, 1], got {core!r}")
    n = len(scenes)
    shapes, colours = np.asarray(scenes.shape), np.asarray(scenes.colour)  # (N, K) each
    x, y, r = (np.nan_to_num(np.asarray(a, dtype=np.float64)) for a in (scenes.x, scenes.y, scenes.radius))  # (N, K)
    centres = (np.arange(grid) + 0.5) / grid  # (grid,)
    shape = np.zeros((n, grid, grid), dtype=np.int64)  # (N, grid, grid)
    colour = np.zeros((n, grid, grid), dtype=np.int64)  # (N, grid, grid)
    for k in range(shapes.shape[1]):  # painting order: later objects overwrite earlier ones
        present = shapes[:, k] >= 0  # (N,)
        near_x = np.abs(centres[None, :] - x[:, k, None]) <= core * r[:, k, None]  # (N, grid)
        near_y = np.abs(centres[None, :] - y[:, k, None]) <= core * r[:, k, None]  # (N, grid)
        own_x = np.floor(x[:, k] * grid).clip(0, grid - 1).astype(np.int64)[:, None] == np.arange(grid)  # (N, grid)
        own_y = np.floor(y[:, k] * grid).clip(0, grid - 1).astype(np.int64)[:, None] == np.arange(grid)  # (N, grid)
        hit = (near_y[:, :, None] & near_x[:, None, :]) | (own_y[:, :, None] & own_x[:, None, :])  # (N, grid, grid)
        hit &= present[:, None, None]
        shape = np.where(hit, shapes[:, k, None, None] + 1, shape)
        colour = np.where(hit, colours[:, k, None, None] + 1, colour)
    return {"shape": shape, "colour": colour}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """How the course encoder is pre-trained (part of its cache key)."""

    image_size: int = 64
    dim: int = 64
    width: int = 32
    n_train: int = 6000
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 1234

    @classmethod
    def for_preset(cls, preset: Any) -> "EncoderConfig":
        """The configuration of a :class:`~mmcourse.runtime.Preset`."""
        return preset.pick(cpu=cls(), gpu=cls(image_size=preset.image_size, dim=128, width=64, n_train=40000,
                                              epochs=12, batch_size=128))


def encoder_training_data(config: EncoderConfig) -> dict[str, torch.Tensor]:
    """Images and per-cell labels the encoder learns from (scenes of the training seed range)."""
    scenes = sample_scenes(config.n_train, seed=config.seed)
    rendered = render(scenes, size=config.image_size)
    labels = cell_labels(scenes, grid=config.image_size // 8)
    return {
        "images": to_tensor(rendered.images),  # (N, 3, S, S)
        "shape": torch.from_numpy(labels["shape"]),  # (N, g, g)
        "colour": torch.from_numpy(labels["colour"]),  # (N, g, g)
        "scene": torch.from_numpy(np.asarray(scenes.scene_type)),  # (N,)
    }


def random_cell_crop(images: torch.Tensor, shape: torch.Tensor, colour: torch.Tensor, cells: int = 4,
                     cell: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crop a random ``cells x cells`` window of the grid (one offset per batch).

    The encoder is fully convolutional, so it can learn from crops: a 32x32 crop of a
    64x64 image costs a quarter of the compute and still holds whole cells with their labels.
    """
    grid = shape.shape[-1]
    if cells >= grid:
        return images, shape, colour
    i, j = (int(v) for v in torch.randint(0, grid - cells + 1, (2,)))
    crop = images[:, :, i * cell:(i + cells) * cell, j * cell:(j + cells) * cell]  # (B, 3, cells*8, cells*8)
    return crop, shape[:, i:i + cells, j:j + cells], colour[:, i:i + cells, j:j + cells]  # (B, cells, cells) x2


def encoder_loss(model: GridEncoder, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of the three heads on a random crop; also logs the per-cell accuracy (a 0-dim tensor)."""
    images, shape, colour, scene = batch
    images, shape, colour = random_cell_crop(images, shape, colour)
    out = model.heads(model(images))
    shape_weight = torch.ones(out["shape"].shape[1], device=images.device)  # (1+n_shapes,)
    shape_weight[NONE] = NONE_WEIGHT
    colour_weight = torch.ones(out["colour"].shape[1], device=images.device)  # (1+n_colours,)
    colour_weight[NONE] = NONE_WEIGHT
    loss = (
        F.cross_entropy(out["shape"], shape, weight=shape_weight)  # per cell
        + F.cross_entropy(out["colour"], colour, weight=colour_weight)
        + 0.5 * F.cross_entropy(out["scene"], scene)
    )
    objects = shape > 0  # (B, g, g)
    hit = (out["shape"].argmax(1) == shape) & (out["colour"].argmax(1) == colour) & objects  # (B, g, g)
    n_objects = objects.sum()  # ()
    acc = torch.where(n_objects > 0, hit.sum().float() / n_objects.clamp(min=1).float(), 1.0)  # () 1 without objects
    return loss, {"object_acc": acc.detach()}  # read back by train(), no wait for the device here


def build_encoder(config: EncoderConfig) -> GridEncoder:
    """A new, untrained :class:`GridEncoder` of ``config``, its initial weights drawn from
    ``config.seed``: the same weights on every machine and every run. The random
    generators are put back afterwards, so building it changes nothing downstream."""
    with seeded(config.seed):
        return GridEncoder(dim=config.dim, width=config.width, image_size=config.image_size)


def fit_encoder(model: GridEncoder, config: EncoderConfig, device: torch.device | None = None,
                progress: bool = True) -> History:
    """Pre-train ``model`` on the world for ``config.epochs`` epochs (one-cycle AdamW), seeded by
    ``config.seed``; returns the :class:`~mmcourse.training.History`."""
    dev = device or default_device()
    with seeded(config.seed):
        data = encoder_training_data(config)
        loader = TensorBatches(data["images"], data["shape"], data["colour"], data["scene"],
                               batch_size=config.batch_size, generator=torch.Generator().manual_seed(config.seed),
                               device=dev)  # the training set moves to the device once
        steps = config.epochs * len(loader)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps)
        return train(model, loader, encoder_loss, optimizer, epochs=config.epochs, scheduler=scheduler,
                     device=dev, desc="pre-training the image encoder", progress=progress)


def pretrained_grid_encoder(config: EncoderConfig | None = None, device: torch.device | None = None,
                            progress: bool = True) -> GridEncoder:
    """The course's pre-trained image encoder, trained on first use and then read from the cache.

    The cache key holds the configuration, the world's version and the code that trains it
    (the encoder's class, :func:`fit_encoder`, the loss and the labels), so editing any of
    them trains it again. The returned encoder is frozen (``requires_grad=False``) and in
    eval mode.
    """
    config = config or EncoderConfig.for_preset(preset())
    dev = device or default_device()
    model = build_encoder(config)
    key = dataclasses.asdict(config) | {"world": GENERATOR_VERSION}
    model = cache.cached_model("grid_encoder", key, model, lambda m: fit_encoder(m, config, dev, progress),
                               code=(fit_encoder, encoder_loss, random_cell_crop, cell_labels, encoder_training_data))
    model.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def validate_images(images: Any, size: int | None) -> None:
    """Check a batch of images for :func:`encode`; a ``ValueError`` naming ``images`` says what is wrong.

    Expected: a torch tensor ``(N, 3, S, S)`` with ``N >= 1`` and ``S == size`` (skip the
    size check with ``size=None``), either uint8 (0..255) or float with every value finite
    and within [0, 1].
    """
    if isinstance(images, np.ndarray):
        raise ValueError(f"images must be a torch tensor (N, 3, S, S), got a NumPy array of shape {images.shape}; "
                         "rendered uint8 images (N, S, S, 3) convert with mmcourse.world.to_tensor(images)")
    if not torch.is_tensor(images):
        raise ValueError(f"images must be a torch tensor (N, 3, S, S), got {type(images).__name__}")
    shape = tuple(images.shape)
    if images.dim() != 4 or shape[1] != 3:
        raise ValueError(f"images must have shape (N, 3, S, S) (a batch of RGB images), got {shape}")
    if shape[0] == 0:
        raise ValueError(f"images is an empty batch (shape {shape}); pass at least one image")
    if size is not None and shape[2:] != (size, size):
        raise ValueError(f"images must be {size}x{size} pixels (the size the encoder was trained at), "
                         f"got {shape[2]}x{shape[3]}; render the scenes with size={size}")
    if images.dtype == torch.uint8:
        return
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 (0..255) or float in [0, 1], got dtype {images.dtype}")
    if not bool(torch.isfinite(images).all()):
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise ValueError(f"images contain NaN or infinite values ({bad} of {shape[0]} images)")
    low, high = float(images.min()), float(images.max())
    if high > 1:
        raise ValueError(f"images as floats must be in [0, 1], but the largest value is {high:g}: this looks like "
                         "0..255 pixel values; divide by 255")
    if low < 0:
        raise ValueError(f"images as floats must be in [0, 1], but the smallest value is {low:g}")


@torch.no_grad()
def encode(encoder: GridEncoder, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Run the frozen encoder over ``images`` in batches: the annotation grids ``(N, D, g, g)``,
    float32 on the CPU (``g = S / 8``).

    ``images``: a tensor ``(N, 3, S, S)``, uint8 or float in [0, 1], of the size the encoder
    was trained at (checked by :func:`validate_images`). The encoder runs on its own device in
    eval mode, forward only. For annotation vectors as a sequence ``(N, L, D)``, use
    ``encode(...).flatten(2).transpose(1, 2)``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    validate_images(images, getattr(encoder, "image_size", None))
    dev = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        grids = []
        for start in range(0, images.shape[0], batch_size):
            chunk = images[start:start + batch_size].to(dev)  # (b, 3, S, S)
            chunk = chunk.float() / 255.0 if chunk.dtype == torch.uint8 else chunk.float()  # (b, 3, S, S) in [0, 1]
            grids.append(encoder(chunk).float().cpu())  # (b, D, g, g)
    finally:
        encoder.train(was_training)
    return torch.cat(grids)  # (N, D, g, g)
