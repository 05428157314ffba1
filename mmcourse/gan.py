"""Text-to-image GAN (lesson 05): GAN-INT-CLS of Reed et al. (2016), in miniature.

- **data** (:func:`lesson_data`): one object of the course world, centred-ish and zoomed in
  (like the paper's cropped birds and flowers), on a plain background whose colour names the
  scene type (:func:`simplify`); every image has several captions from a small grammar
  (:func:`captions_for`), one template of which is held out for testing.
- **text** (:class:`TextEncoder`): a caption is the mean of lesson 01's word vectors, frozen,
  standardised with the training captions' statistics; the captions of one image are averaged
  (the 1:N imbalance, as the paper's code does).
- **generator** (:class:`Generator`): ``[z ; LeakyReLU(FC(text))]`` → a DCGAN of transposed
  convolutions → an image in ``[-1, 1]``.
- **discriminator** (:class:`Discriminator`): strided convolutions down to a 4x4 map; the
  compressed text vector is copied over its cells and concatenated; a 1x1 convolution, then a
  4x4 convolution to one logit.
- **losses** (:func:`gan_d_loss`, :func:`gan_g_loss`): the plain conditional GAN, GAN-CLS (the matching-aware
  discriminator, :func:`discriminator_loss`) and GAN-INT (the generator also fooled on
  interpolated text, :func:`interpolation_loss`) on one code path; :func:`fit` trains any of
  them for a fixed number of steps and keeps it in the cache.
- **the judge** (:class:`Judge`): a small CNN that reads colour, shape and scene type, trained
  on real images only; it scores generated images (:func:`evaluate`): semantic accuracy, a
  Fréchet distance in its feature space (:func:`frechet_distance`, the "course FID") and the
  spread of its features over noise (:func:`diversity_score`).

The ``check_*`` functions check the lesson's exercises; the figures are in
:mod:`mmcourse.gan_figures`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import cache, checks
from .devise import UNSEEN
from .runtime import Preset, device as default_device, preset, seeded
from .training import PROGRESS_INTERVAL, History, _warn_stopped_early
from .word2vec import WordVectors, pretrained_word_vectors
from .world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES, SIZE_RADIUS, SIZES, SYNONYMS
from .world.scenes import GENERATOR_VERSION, SceneBatch, render, sample_scenes
from .world.vocab import tokenize

VARIANTS: tuple[str, ...] = ("conditional", "cls", "int", "int-cls")
"""The loss variants: the plain conditional GAN, GAN-CLS, GAN-INT and GAN-INT-CLS."""

VARIANT_NAMES: dict[str, str] = {"conditional": "conditional GAN", "cls": "GAN-CLS", "int": "GAN-INT",
                                 "int-cls": "GAN-INT-CLS"}

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "beach": (236, 214, 160),   # sand
    "forest": (38, 88, 48),     # dark green
    "city": (128, 128, 136),    # concrete grey
    "night": (20, 24, 56),      # dark blue
}
"""The plain background colour (RGB 0-255) that names each scene type in the simplified images."""

ZOOM = 1.6
"""The objects are drawn this much larger than in the world, as if the picture were cropped
around them (the paper's birds and flowers fill their pictures too)."""

CENTRE_JITTER = 0.12
"""The object's centre is drawn uniformly within this distance (a fraction of the side) of the middle."""

TEMPLATES: tuple[str, ...] = (
    "a {size} {colour} {shape} on the {scene}",
    "a picture of a {size} {colour} {shape} in the {scene}",
    "the {scene} with a {colour} {shape} , {size}",
    "there is a {size} {colour} {shape} at the {scene}",
    "a photo of a {colour} {shape} taken at the {scene}",
    "an image of a {size} {colour} {shape} in the {scene} scene",
)
"""Caption templates. The last one is held out: the test captions use only it, so every
evaluated sentence is one the models never read in training."""

HELD_OUT_TEMPLATE = len(TEMPLATES) - 1

STOP_WORDS: frozenset[str] = frozenset({"a", "an", "the", "of", "on", "in", "at", "with", "there", "is", "picture",
                                         "photo", "image", "scene", "taken", ",", ".", "?", "!"})
"""Function words the text encoder drops (a stop list, as classic bag-of-words retrieval uses):
they are in almost every caption and say nothing about the picture."""

JUDGED: tuple[str, ...] = ("colour", "shape", "scene")
"""What the judge reads from an image."""

CHANCE: dict[str, float] = {"colour": 1 / len(COLOUR_NAMES), "shape": 1 / len(SHAPES), "scene": 1 / len(SCENE_TYPES)}


# ----------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GANConfig:
    """Sizes and training length of the lesson; :meth:`for_preset` picks them per preset."""

    image_size: int = 32
    width: int = 8             # channels of the generator's last and the discriminator's first layer
    noise_dim: int = 32
    text_code: int = 32        # the compressed text vector (the FC after the text encoder)
    d_norm: str = "batch"      # the discriminator's normalisation: "batch", "spectral" or "none"
    batch_size: int = 32
    steps: int = 1000
    lr: float = 1e-3           # the paper's 2e-4 learns too slowly for a few CPU seconds (the lesson measures it)
    beta1: float = 0.5
    beta: float = 0.5          # interpolation weight of GAN-INT
    n_train: int = 4000
    n_test: int = 480
    n_zero_shot: int = 320
    n_judge: int = 4000
    judge_epochs: int = 4
    eval_every: int = 100
    seeds: tuple[int, ...] = (0, 1)

    @classmethod
    def for_preset(cls, p: Preset | None = None) -> "GANConfig":
        p = p or preset()
        return cls(image_size=p.pick(cpu=32, gpu=64), width=p.pick(cpu=8, gpu=32),
                   batch_size=p.pick(cpu=32, gpu=64), steps=p.pick(cpu=1000, gpu=6000), lr=p.pick(cpu=1e-3, gpu=5e-4),
                   n_train=p.pick(cpu=4000, gpu=20000), n_judge=p.pick(cpu=4000, gpu=12000),
                   judge_epochs=p.pick(cpu=4, gpu=6), eval_every=p.pick(cpu=100, gpu=250),
                   seeds=p.pick(cpu=(0, 1), gpu=(0, 1, 2)))


# ----------------------------------------------------------------------------------------
# Data: simplified one-object images and their captions
# ----------------------------------------------------------------------------------------

def one_object_scenes(n: int, seed: int = 0, exclude: Sequence[tuple[str, str]] | None = None,
                      only: Sequence[tuple[str, str]] | None = None) -> SceneBatch:
    """``n`` world scenes of one object each, centred-ish and zoomed in by :data:`ZOOM`.

    ``exclude`` holds (colour, shape) pairs out; ``only`` keeps just these pairs (for the
    zero-shot set).
    """
    if only is not None:
        exclude = [(c, s) for c in COLOUR_NAMES for s in SHAPES if (c, s) not in set(map(tuple, only))]
    scenes = sample_scenes(n, seed=seed, min_objects=1, max_objects=1, exclude=exclude, sounding_fraction=0.0)
    rng = np.random.default_rng(seed + 7919)
    xy = 0.5 + CENTRE_JITTER * (2 * rng.random((n, 2)) - 1)  # (N, 2)
    return dataclasses.replace(scenes, x=xy[:, :1].astype(np.float32), y=xy[:, 1:].astype(np.float32),
                               radius=(scenes.radius * ZOOM).astype(np.float32))


def simplify(images: np.ndarray, masks: np.ndarray, scene_type: np.ndarray) -> np.ndarray:
    """Replace every pixel outside the objects' masks by the scene type's plain colour.

    ``images`` (N, S, S, 3) uint8 as the world renders them, ``masks`` (N, K, S, S) bool,
    ``scene_type`` (N,) indices; returns new (N, S, S, 3) uint8 images.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, S, S, 3), got {images.shape}")
    if masks.ndim != 4 or masks.shape[0] != images.shape[0] or masks.shape[2:] != images.shape[1:3]:
        raise ValueError(f"masks must have shape (N, K, S, S) matching images, got {masks.shape}")
    table = np.array([BACKGROUNDS[name] for name in SCENE_TYPES], np.uint8)  # (T, 3)
    inside = masks.any(1)[..., None]  # (N, S, S, 1)
    plain = table[np.asarray(scene_type)][:, None, None, :]  # (N, 1, 1, 3)
    return np.where(inside, images, plain).astype(np.uint8)  # (N, S, S, 3)


def captions_for(colour: str, shape: str, size: str, scene: str, templates: Sequence[int] = (0, 1, 2, 3, 4),
                 rng: np.random.Generator | None = None) -> list[str]:
    """One caption per template index for an object; with ``rng`` the shape and size words may
    be paraphrased by their synonyms (as the world's grammar does)."""
    out = []
    for t in templates:
        sh, sz = shape, size
        if rng is not None and rng.random() < 0.3:
            sh = SYNONYMS[shape][int(rng.integers(len(SYNONYMS[shape])))]
        if rng is not None and rng.random() < 0.3:
            sz = SYNONYMS[size][int(rng.integers(len(SYNONYMS[size])))]
        out.append(TEMPLATES[t].format(colour=colour, shape=sh, size=sz, scene=scene))
    return out


def render_simplified(scenes: SceneBatch, size: int) -> torch.Tensor:
    """Render ``scenes`` with :func:`mmcourse.world.scenes.render` and :func:`simplify` them:
    a uint8 tensor (N, 3, S, S)."""
    r = render(scenes, size=size)
    images = simplify(r.images, r.masks, scenes.scene_type)  # (N, S, S, 3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S)


def _labels(scenes: SceneBatch) -> dict[str, torch.Tensor]:
    return {"colour": torch.from_numpy(scenes.colour[:, 0].copy()), "shape": torch.from_numpy(scenes.shape[:, 0].copy()),
            "size": torch.from_numpy(scenes.size[:, 0].copy()), "scene": torch.from_numpy(scenes.scene_type.copy())}


def _caption_lists(scenes: SceneBatch, templates: Sequence[int], seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [captions_for(COLOUR_NAMES[scenes.colour[i, 0]], SHAPES[scenes.shape[i, 0]], SIZES[scenes.size[i, 0]],
                         SCENE_TYPES[scenes.scene_type[i]], templates, rng) for i in range(len(scenes))]


def lesson_data(config: GANConfig | None = None) -> dict[str, Any]:
    """The lesson's images, labels and captions, built once and cached.

    Returns a dict of splits ``"train"`` (the UNSEEN colour-shape pairs held out; five
    captions per image from the training templates), ``"test"`` (new images of seen pairs,
    one caption each from the held-out template), ``"zero_shot"`` (the UNSEEN pairs, held-out
    template), ``"reference"`` (more real images of seen pairs, for the Fréchet distance's
    floor) and ``"judge"`` (real images of every pair, to train the judge). Each split holds
    ``images`` uint8 (N, 3, S, S), ``labels`` (a dict of (N,) tensors) and ``captions``
    (a list of lists of strings).
    """
    config = config or GANConfig.for_preset()
    s = config.image_size
    key = {"s": s, "n": [config.n_train, config.n_test, config.n_zero_shot, config.n_judge], "world": GENERATOR_VERSION,
           "zoom": ZOOM, "jitter": CENTRE_JITTER, "bg": BACKGROUNDS, "templates": TEMPLATES, "unseen": UNSEEN}
    train_templates = tuple(i for i in range(len(TEMPLATES)) if i != HELD_OUT_TEMPLATE)

    def build() -> dict[str, Any]:
        plans = {"train": (one_object_scenes(config.n_train, 500, exclude=UNSEEN), train_templates),
                 "test": (one_object_scenes(config.n_test, 501, exclude=UNSEEN), (HELD_OUT_TEMPLATE,)),
                 "zero_shot": (one_object_scenes(config.n_zero_shot, 502, only=UNSEEN), (HELD_OUT_TEMPLATE,)),
                 "reference": (one_object_scenes(config.n_test, 503, exclude=UNSEEN), (HELD_OUT_TEMPLATE,)),
                 "judge": (one_object_scenes(config.n_judge, 504), train_templates[:1])}
        out = {}
        for k, (name, (scenes, templates)) in enumerate(plans.items()):
            out[name] = {"images": render_simplified(scenes, s), "labels": _labels(scenes),
                         "captions": _caption_lists(scenes, templates, 600 + k)}
        return out

    return cache.cached("lesson05-data", key, build)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 3, S, S) -> float in [-1, 1], what the networks read and write."""
    return images.float().div(127.5).sub(1.0)  # (N, 3, S, S)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 (N, 3, S, S) for showing."""
    return images.detach().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()  # (N, 3, S, S)


# ----------------------------------------------------------------------------------------
# The text encoder: mean of frozen word vectors
# ----------------------------------------------------------------------------------------

class TextEncoder:
    """Caption -> fixed vector: the mean of lesson 01's word vectors over the caption's content
    words (:data:`STOP_WORDS` dropped), then standardised per dimension with the training captions' mean and spread.

    Frozen on purpose: the word vectors already tell the words apart, training a text network
    through the GAN's noisy gradient would cost CPU time and could let the generator and
    discriminator agree on a private code (the paper pre-trains its text encoder separately).
    Dropping the stop words keeps the sentence pattern out of the vector; the standardisation
    removes what all captions share (the common direction of the word vectors), so the words
    that differ — colour, shape, size, scene — carry the vector.
    """

    def __init__(self, vectors: WordVectors, mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        self.vectors = vectors
        self.dim = vectors.dim
        self.mean = mean if mean is not None else torch.zeros(self.dim)  # (D,)
        self.std = std if std is not None else torch.ones(self.dim)  # (D,)

    @classmethod
    def fitted(cls, vectors: WordVectors, captions: Sequence[str]) -> "TextEncoder":
        """An encoder standardised on ``captions`` (the training captions)."""
        raw = cls(vectors).raw(captions)  # (N, D)
        return cls(vectors, raw.mean(0), raw.std(0).clamp_min(1e-4))

    def validate_captions(self, captions: Any) -> list[list[str]]:
        """Token lists of ``captions`` (a string or a list of strings); a ``ValueError`` naming
        ``captions`` for an empty caption or words the vectors do not know."""
        if isinstance(captions, str):
            captions = [captions]
        if not isinstance(captions, (list, tuple)) or not all(isinstance(c, str) for c in captions):
            raise ValueError(f"captions must be a string or a list of strings, got {type(captions).__name__}")
        out = []
        for i, caption in enumerate(captions):
            words = [w for w in tokenize(caption) if w not in STOP_WORDS]
            if not words:
                raise ValueError(f"captions[{i}] ({caption!r}) has no content words (only stop words or nothing)")
            unknown = self.vectors.unknown(words)
            if unknown:
                raise ValueError(f"captions[{i}] ({caption!r}) has words outside the vocabulary: {unknown}; "
                                 f"the word vectors know e.g. {list(COLOUR_NAMES)}, {list(SHAPES)}, {list(SCENE_TYPES)}")
            out.append(words)
        return out

    def raw(self, captions: Any) -> torch.Tensor:
        """Mean word vector of each caption, before standardising: (N, D)."""
        tokens = self.validate_captions(captions)
        return torch.stack([torch.stack([self.vectors.vector(w) for w in words]).mean(0) for words in tokens])  # (N, D)

    def __call__(self, captions: Any) -> torch.Tensor:
        """Encode a caption or a list of captions: (N, D)."""
        return (self.raw(captions) - self.mean) / self.std  # (N, D)

    def encode_groups(self, groups: Sequence[Sequence[str]]) -> torch.Tensor:
        """One vector per image from its several captions, averaged: (N, D)."""
        flat = [c for g in groups for c in g]
        sizes = [len(g) for g in groups]
        vectors = self(flat)  # (sum sizes, D)
        return torch.stack([chunk.mean(0) for chunk in vectors.split(sizes)])  # (N, D)

    def state(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "std": self.std}


def text_encoder(data: dict[str, Any]) -> TextEncoder:
    """The lesson's text encoder, standardised on the training captions of ``data``."""
    vectors = pretrained_word_vectors(progress=False)
    return TextEncoder.fitted(vectors, [c for g in data["train"]["captions"] for c in g])


# ----------------------------------------------------------------------------------------
# Generator and discriminator
# ----------------------------------------------------------------------------------------

def _validate_batch(name: str, value: Any, dim: int) -> torch.Tensor:
    if not torch.is_tensor(value) or value.dim() != 2 or value.shape[1] != dim:
        got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
        raise ValueError(f"{name} must be a tensor (B, {dim}), got {got}")
    return value


def _levels(image_size: int) -> int:
    if image_size not in (32, 64, 128):
        raise ValueError(f"image_size must be 32, 64 or 128, got {image_size}")
    return int(math.log2(image_size // 4))


class Generator(nn.Module):
    """``[z ; LeakyReLU(FC(text))]`` -> FC to a 4x4 map -> transposed convolutions (each doubles
    the side, batch norm, ReLU) -> an RGB image in ``[-1, 1]`` (tanh).

    ``forward(noise (B, noise_dim), text (B, text_dim))`` -> (B, 3, S, S).
    """

    def __init__(self, text_dim: int = 64, noise_dim: int = 32, text_code: int = 32, width: int = 16,
                 image_size: int = 32) -> None:
        super().__init__()
        n = _levels(image_size)
        self.text_dim, self.noise_dim, self.image_size = text_dim, noise_dim, image_size
        self.top = width * 2 ** (n - 1)  # channels of the 4x4 map
        self.text = nn.Sequential(nn.Linear(text_dim, text_code), nn.LeakyReLU(0.2))
        self.project = nn.Sequential(nn.Linear(noise_dim + text_code, self.top * 16, bias=False),
                                     nn.BatchNorm1d(self.top * 16), nn.ReLU())
        layers: list[nn.Module] = []
        ch = self.top
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        _validate_batch("noise", noise, self.noise_dim)
        _validate_batch("text", text, self.text_dim)
        if noise.shape[0] != text.shape[0]:
            raise ValueError(f"noise and text must have the same batch size, got {noise.shape[0]} and {text.shape[0]}")
        h = torch.cat([noise, self.text(text)], 1)  # (B, Z + C)
        h = self.project(h).view(-1, self.top, 4, 4)  # (B, top, 4, 4)
        return self.net(h)  # (B, 3, S, S)


class Discriminator(nn.Module):
    """Strided convolutions down to a 4x4 map; the compressed text ``LeakyReLU(FC(text))`` copied
    over the 4x4 cells and concatenated; a 1x1 convolution; a 4x4 convolution -> one logit.

    ``forward(images (B, 3, S, S), text (B, text_dim))`` -> logits (B,).
    """

    def __init__(self, text_dim: int = 64, text_code: int = 32, width: int = 16, image_size: int = 32,
                 norm: str = "batch") -> None:
        super().__init__()
        n = _levels(image_size)
        if norm not in ("batch", "spectral", "none"):
            raise ValueError(f"norm must be 'batch', 'spectral' or 'none', got {norm!r}")
        self.text_dim, self.image_size = text_dim, image_size
        sn = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)

        def block(c_in: int, c_out: int, k: int, s: int, p: int) -> list[nn.Module]:
            conv = sn(nn.Conv2d(c_in, c_out, k, s, p, bias=norm != "batch"))
            return [conv, nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)] if norm == "batch" else [conv, nn.LeakyReLU(0.2)]

        layers: list[nn.Module] = [sn(nn.Conv2d(3, width, 4, 2, 1)), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(n - 1):
            layers += block(ch, ch * 2, 4, 2, 1)
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.text = nn.Sequential(nn.Linear(text_dim, text_code), nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(*block(ch + text_code, ch, 1, 1, 0), sn(nn.Conv2d(ch, 1, 4)))

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(images) or images.dim() != 4 or tuple(images.shape[1:]) != (3, self.image_size, self.image_size):
            got = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise ValueError(f"images must be a tensor (B, 3, {self.image_size}, {self.image_size}), got {got}")
        _validate_batch("text", text, self.text_dim)
        h = self.features(images)  # (B, ch, 4, 4)
        code = self.text(text)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])  # (B, C, 4, 4)
        return self.joint(torch.cat([h, code], 1)).flatten()  # (B,)


class TextToImageGAN(nn.Module):
    """The generator and the discriminator together (one module, so one cache entry)."""

    def __init__(self, config: GANConfig, text_dim: int = 64) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(text_dim, config.noise_dim, config.text_code, config.width, config.image_size)
        self.discriminator = Discriminator(text_dim, config.text_code, config.width, config.image_size, config.d_norm)
        self.apply(_dcgan_init)
        for text_layer in (self.generator.text[0], self.discriminator.text[0]):
            text_layer.reset_parameters()  # with N(0, 0.02) the text code starts ~6x weaker than the noise

    @torch.no_grad()
    def generate(self, text: torch.Tensor, noise: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        """Images in [-1, 1] (B, 3, S, S) for text vectors (B, D); noise drawn from ``seed`` if not given."""
        self.generator.eval()
        dev = next(self.parameters()).device
        text = _validate_batch("text", text, self.generator.text_dim).to(dev)
        if noise is None:
            noise = torch.randn(text.shape[0], self.config.noise_dim, generator=torch.Generator().manual_seed(seed))  # (B, Z)
        return self.generator(noise.to(dev), text)  # (B, 3, S, S)


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: N(0, 0.02) weights for the convolutions and the noise projection,
    N(1, 0.02) for batch-norm scales. The text layers keep PyTorch's default, larger init (see
    :meth:`TextToImageGAN.__init__`)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# ----------------------------------------------------------------------------------------
# Losses: the three variants on one code path
# ----------------------------------------------------------------------------------------

def discriminator_loss(real_right: torch.Tensor, real_wrong: torch.Tensor | None, fake_right: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits (B,).

    With ``real_wrong`` (GAN-CLS, the matching-aware discriminator):
    ``BCE(real_right, 1) + ½ [BCE(real_wrong, 0) + BCE(fake_right, 0)]`` — a real image with
    the wrong text is "fake" as much as a generated one. Without it (the plain conditional
    GAN): ``BCE(real_right, 1) + BCE(fake_right, 0)``.
    """
    real = F.binary_cross_entropy_with_logits(real_right, torch.ones_like(real_right))
    fake = F.binary_cross_entropy_with_logits(fake_right, torch.zeros_like(fake_right))
    if real_wrong is None:
        return real + fake
    wrong = F.binary_cross_entropy_with_logits(real_wrong, torch.zeros_like(real_wrong))
    return real + 0.5 * (wrong + fake)


def interpolated_text(text: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """``beta · t1 + (1 - beta) · t2``: each text vector mixed with the next one in the batch (B, D)."""
    return beta * text + (1 - beta) * text.roll(1, 0)  # (B, D)


def interpolation_loss(generator: nn.Module, discriminator: nn.Module, text: torch.Tensor, noise: torch.Tensor,
                       beta: float = 0.5) -> torch.Tensor:
    """GAN-INT's extra generator term: images made from interpolated text
    (:func:`interpolated_text`) must look real *for that text* — there is no real image of an
    in-between sentence, so only the generator is trained on them.
    ``BCE(D(G(z, t_int), t_int), 1)``."""
    mixed = interpolated_text(text, beta)  # (B, D)
    logits = discriminator(generator(noise, mixed), mixed)  # (B,)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def gan_d_loss(model: TextToImageGAN, images: torch.Tensor, text: torch.Tensor, fake: torch.Tensor,
               variant: str) -> torch.Tensor:
    """The discriminator's loss of one step, for any variant.

    ``images`` (B, 3, S, S) real, in [-1, 1], with their ``text`` (B, D); ``fake`` (B, 3, S, S)
    made by the generator from ``text`` (detached: this loss trains only D). The matching-aware
    variants (GAN-CLS, GAN-INT-CLS) also show D the real images with the wrong text: the next
    image's text in the batch.
    """
    validate_variant(variant)
    D = model.discriminator
    matching = variant in ("cls", "int-cls")
    real_wrong = D(images, text.roll(1, 0)) if matching else None  # (B,)
    return discriminator_loss(D(images, text), real_wrong, D(fake.detach(), text))


def gan_g_loss(model: TextToImageGAN, text: torch.Tensor, fake: torch.Tensor, variant: str,
               beta: float = 0.5) -> torch.Tensor:
    """The generator's loss of one step, for any variant: the non-saturating
    ``BCE(D(G(z, t), t), 1)`` on ``fake = G(z, t)``, plus :func:`interpolation_loss` (with new
    noise) for the GAN-INT variants."""
    validate_variant(variant)
    G, D = model.generator, model.discriminator
    logits = D(fake, text)  # (B,)
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if variant in ("int", "int-cls"):
        noise = torch.randn(text.shape[0], G.noise_dim, device=text.device)  # (B, Z)
        loss = loss + interpolation_loss(G, D, text, noise, beta)
    return loss


def validate_variant(variant: Any) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


# ----------------------------------------------------------------------------------------
# The judge: a classifier trained on real images only
# ----------------------------------------------------------------------------------------

class Judge(nn.Module):
    """A small CNN with three heads (colour, shape, scene type) on a shared feature vector.

    ``features(images in [-1, 1])`` -> (B, feature_dim): the space of the course FID and of the
    diversity score; ``forward`` -> a dict of logits per head.
    """

    def __init__(self, width: int = 16, feature_dim: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Linear(4 * width, feature_dim), nn.ReLU())
        self.heads = nn.ModuleDict({"colour": nn.Linear(feature_dim, len(COLOUR_NAMES)),
                                    "shape": nn.Linear(feature_dim, len(SHAPES)),
                                    "scene": nn.Linear(feature_dim, len(SCENE_TYPES))})

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a tensor (B, 3, S, S) in [-1, 1], got "
                             f"{tuple(images.shape) if torch.is_tensor(images) else type(images).__name__}")
        if images.shape[-1] != 32:
            images = F.interpolate(images, size=32, mode="area")  # (B, 3, 32, 32): one judge for every preset
        return self.body(images)  # (B, F)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(images)  # (B, F)
        return {k: head(h) for k, head in self.heads.items()}  # each (B, classes)


def _read_back(pending: dict[str, list[torch.Tensor]], history: History) -> int:
    """Append the detached losses in ``pending`` (per key, one 0-dim tensor per step) to
    ``history.steps`` in one read from the device, empty ``pending``; returns the steps read."""
    done = 0
    for key, values in pending.items():
        if values:
            history.steps[key] += torch.stack(values).float().cpu().tolist()  # (P,) one wait for the device
            done = len(values)
            values.clear()
    return done


def _sync_every(dev: torch.device) -> int:
    """Steps between read-backs of the logged losses: every step on the CPU (where reading costs
    nothing), 25 on an accelerator (each read waits for its queue), as :func:`mmcourse.training.train`."""
    return 1 if dev.type == "cpu" else 25


def fit_judge(judge: Judge, data: dict[str, Any], config: GANConfig, progress: bool = True) -> History:
    """Train the judge on the real ``judge`` split (every colour-shape pair, real images only).

    The images (uint8) and labels are moved to the device once; each batch is drawn on the CPU
    and gathered there, and the losses are read back every few steps on an accelerator."""
    dev = default_device()
    judge.to(dev).train()
    images = data["judge"]["images"].to(dev)  # (N, 3, S, S) uint8, to_unit per batch
    labels = torch.stack([data["judge"]["labels"][k] for k in JUDGED], 1).to(dev)  # (N, 3)
    opt = torch.optim.Adam(judge.parameters(), 2e-3)
    history, start = History(), time.perf_counter()
    n, b = len(images), 64
    steps = config.judge_epochs * (n // b)
    every = _sync_every(dev)
    pending: dict[str, list[torch.Tensor]] = {"loss": []}  # losses not yet read back
    bar = tqdm(total=steps, desc="judge", disable=not progress, leave=False, mininterval=PROGRESS_INTERVAL)
    order = torch.randperm(n)
    try:
        for step in range(steps):
            if step % (n // b) == 0:
                order = torch.randperm(n)
            idx = order[(step % (n // b)) * b:(step % (n // b) + 1) * b].to(dev, non_blocking=True)  # (b,)
            x = to_unit(images[idx])  # (b, 3, S, S)
            x = x + 0.06 * torch.randn_like(x)  # a little pixel noise: the judge must not hang on exact pixel values
            out = judge(x)
            loss = sum(F.cross_entropy(out[k], labels[idx, j]) for j, k in enumerate(JUDGED))
            opt.zero_grad()
            loss.backward()
            opt.step()
            pending["loss"].append(loss.detach())
            if len(pending["loss"]) >= every or step + 1 == steps:
                bar.update(_read_back(pending, history))
    finally:
        bar.close()
    history.n_steps, history.seconds = steps, time.perf_counter() - start
    judge.eval()
    return history


def pretrained_judge(data: dict[str, Any], config: GANConfig, progress: bool = True) -> tuple[Judge, History]:
    """The lesson's judge, trained on first use and then read from the cache."""
    with seeded(5):
        judge = Judge()
    key = {"data": cache.fingerprint(data["judge"]["images"]), "epochs": config.judge_epochs}
    history = cache.cached_training("lesson05-judge", key, judge,
                                    lambda m: seeded_call(123, fit_judge, m, data, config, progress))
    return judge.to(default_device()).eval(), history


def seeded_call(seed: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with Python, NumPy and torch seeded with ``seed``."""
    with seeded(seed):
        return fn(*args, **kwargs)


@torch.no_grad()
def judge_images(judge: Judge, images: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
    """The judge's predicted classes (a dict of (N,) tensors) and features ``"features"`` (N, F)
    for images in [-1, 1]."""
    dev = next(judge.parameters()).device
    preds: dict[str, list[torch.Tensor]] = {k: [] for k in (*JUDGED, "features")}
    for start in range(0, len(images), batch):
        x = images[start:start + batch].to(dev)  # (b, 3, S, S)
        h = judge.features(x)  # (b, F)
        preds["features"].append(h.cpu())
        for k in JUDGED:
            preds[k].append(judge.heads[k](h).argmax(1).cpu())
    return {k: torch.cat(v) for k, v in preds.items()}


def semantic_accuracy(judged: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, float]:
    """Fraction of images whose judged colour / shape / scene agree with the caption's; ``"all"``
    is the fraction where all three agree."""
    hits = {k: judged[k] == labels[k] for k in JUDGED}
    out = {k: float(v.float().mean()) for k, v in hits.items()}
    out["all"] = float((hits["colour"] & hits["shape"] & hits["scene"]).float().mean())
    return out


# ----------------------------------------------------------------------------------------
# Course FID and diversity
# ----------------------------------------------------------------------------------------

def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)  # (F,), (F, F)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T  # (F, F)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F):
    ``|mu_a - mu_b|² + tr(C_a + C_b - 2 (C_a^½ C_b C_a^½)^½)``.

    The symmetric form of the matrix square root keeps it real and exact for any two
    covariance matrices (``tr (C_a C_b)^½ = tr (C_a^½ C_b C_a^½)^½``).
    """
    for name, x in (("a", a), ("b", b)):
        if not torch.is_tensor(x) or x.dim() != 2 or x.shape[0] < 2:
            raise ValueError(f"{name} must be a tensor (N, F) with N >= 2, got "
                             f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature size, got {a.shape[1]} and {b.shape[1]}")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)  # (F,), (F,)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # (F, F), (F, F)
    root_a = _sqrtm_psd(cov_a)  # (F, F)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)  # (F, F)
    return float((mu_a - mu_b).pow(2).sum() + torch.trace(cov_a + cov_b - 2 * cross))


def spread(features: torch.Tensor) -> float:
    """Mean distance of feature vectors (N, F) from their mean — 0 when they are all the same."""
    return float((features - features.mean(0)).norm(dim=1).mean())


def diversity_score(generated: Sequence[torch.Tensor], real: Sequence[torch.Tensor]) -> float:
    """Spread of the generated features for each fixed caption, as a fraction of the spread of
    real images of that caption, averaged over captions. ``generated[i]`` (N, F) are the judge's
    features of N images from one caption and N noise vectors; ``real[i]`` (M, F) of real ones.
    A collapsed generator (the noise ignored) scores near 0; real images score 1."""
    if len(generated) != len(real) or not generated:
        raise ValueError(f"generated and real must be equally long non-empty lists, got {len(generated)} and {len(real)}")
    return float(np.mean([spread(g) / max(spread(r), 1e-8) for g, r in zip(generated, real)]))


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------

def train_gan(model: TextToImageGAN, images: torch.Tensor, text: torch.Tensor, variant: str, config: GANConfig,
              seed: int = 0, probe: dict[str, Any] | None = None, judge: Judge | None = None,
              progress: bool = True, time_budget: float = 600.0) -> History:
    """Train ``model`` with ``variant``'s losses for ``config.steps`` steps (Adam, ``lr``, ``beta1``).

    ``images`` uint8 (N, 3, S, S) and ``text`` (N, D) are the precomputed training pairs. Every
    ``eval_every`` steps the judge scores images made for the ``probe`` captions (a dict with
    ``text`` (P, D) and ``labels``): the history's epoch records ``colour``, ``shape``,
    ``scene``; the step records are ``d_loss`` and ``g_loss``. ``time_budget`` (seconds) is
    only a safety stop.

    The images (uint8) and text vectors are moved to the device once; each batch's indices are
    drawn on the CPU and gathered there, and the losses are read back every few steps on an
    accelerator (every step on the CPU).
    """
    validate_variant(variant)
    dev = default_device()
    model.to(dev).train()
    G, D = model.generator, model.discriminator
    opt_g = torch.optim.Adam(G.parameters(), config.lr, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), config.lr, betas=(config.beta1, 0.999))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    real_all = images.to(dev)  # (N, 3, S, S) uint8, to_unit per batch
    text_all = text.to(dev)  # (N, D)
    history, start = History(), time.perf_counter()
    every = _sync_every(dev)
    pending: dict[str, list[torch.Tensor]] = {"d_loss": [], "g_loss": []}  # losses not yet read back
    bar = tqdm(total=config.steps, desc=VARIANT_NAMES[variant], disable=not progress, leave=False,
               mininterval=PROGRESS_INTERVAL)

    def flush() -> None:
        """Read the pending losses back (one wait for the device); the bar moves with them."""
        first = len(history.steps["d_loss"])
        done = _read_back(pending, history)
        bar.update(done)
        if progress and any(s % 20 == 0 for s in range(first, first + done)):
            bar.set_postfix(d=f"{history.steps['d_loss'][-1]:.2f}", g=f"{history.steps['g_loss'][-1]:.2f}", refresh=False)

    try:
        for step in range(config.steps):
            idx = torch.randint(0, len(real_all), (config.batch_size,), generator=gen)  # (B,) on the CPU
            on_dev = idx.to(dev, non_blocking=True)  # (B,)
            x, t = to_unit(real_all[on_dev]), text_all[on_dev]  # (B, 3, S, S), (B, D)
            fake = G(torch.randn(len(idx), G.noise_dim, device=dev), t)  # (B, 3, S, S)
            d_loss = gan_d_loss(model, x, t, fake, variant)  # trains D ...
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = gan_g_loss(model, t, fake, variant, config.beta)  # ... then G, against the updated D
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward(inputs=list(G.parameters()))
            opt_g.step()
            pending["d_loss"].append(d_loss.detach())
            pending["g_loss"].append(g_loss.detach())
            if len(pending["d_loss"]) >= every:
                flush()
            if probe is not None and judge is not None and ((step + 1) % config.eval_every == 0 or step + 1 == config.steps):
                acc = semantic_accuracy(judge_images(judge, model.generate(probe["text"], seed=99)), probe["labels"])
                model.train()
                for k in JUDGED:
                    history.epochs[k].append(acc[k])
                history.epochs["step"].append(step + 1)
            if time.perf_counter() - start > time_budget:
                history.stopped_early = True
                _warn_stopped_early(VARIANT_NAMES[variant], time_budget, step + 1, config.steps)
                break
        flush()
    finally:
        bar.close()
    history.n_steps = len(history.steps["d_loss"])
    history.n_epochs = len(history.epochs.get("step", []))
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


TRAINING_CODE = (gan_d_loss, gan_g_loss, discriminator_loss, interpolation_loss, interpolated_text, train_gan, to_unit,
                 _dcgan_init, semantic_accuracy, judge_images)


def fit(data: dict[str, Any], text: dict[str, torch.Tensor], judge: Judge, variant: str, seed: int,
        config: GANConfig, progress: bool = True) -> tuple[TextToImageGAN, History]:
    """One trained GAN of ``variant`` and ``seed``, trained on first use and then read from the cache.

    ``text`` holds the precomputed text vectors of the splits (``"train"``, ``"test"``, ...).
    """
    validate_variant(variant)
    with seeded(1000 + seed):
        model = TextToImageGAN(config, text["train"].shape[1])
    probe = {"text": text["test"][:256], "labels": {k: v[:256] for k, v in data["test"]["labels"].items()}}
    key = {"config": dataclasses.asdict(config) | {"seeds": None}, "variant": variant, "seed": seed,
           "data": cache.fingerprint(data["train"]["images"], text["train"]), "judge": cache.fingerprint(judge)}
    history = cache.cached_training(
        f"lesson05-{variant}", key, model,
        lambda m: train_gan(m, data["train"]["images"], text["train"], variant, config, seed, probe, judge, progress),
        code=TRAINING_CODE)
    return model.to(default_device()).eval(), history


# ----------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------

def diversity_captions(data: dict[str, Any], n: int = 4) -> list[int]:
    """Indices of ``n`` test images whose captions serve for the diversity score (one per scene type)."""
    scene = data["test"]["labels"]["scene"]
    return [int((scene == k).nonzero()[0]) for k in range(min(n, len(SCENE_TYPES)))]


def real_like(data: dict[str, Any], index: int, n: int = 64, split: str = "reference") -> torch.Tensor:
    """Real images (uint8) of ``split`` with the same colour, shape, size and scene type as test image ``index``."""
    lab, ref = data["test"]["labels"], data[split]["labels"]
    same = torch.ones(len(ref["scene"]), dtype=torch.bool)
    for k in ("colour", "shape", "size", "scene"):
        same &= ref[k] == lab[k][index]
    return data[split]["images"][same.nonzero().flatten()[:n]]


def real_diversity_sets(data: dict[str, Any], config: GANConfig, n: int = 64) -> list[torch.Tensor]:
    """For each :func:`diversity_captions` caption, ``n`` new real images (uint8) of that exact
    colour, shape, size and scene type (rendered here: other positions and radii)."""
    out = []
    for i in diversity_captions(data):
        lab = {k: int(v[i]) for k, v in data["test"]["labels"].items()}
        scenes = one_object_scenes(n, seed=900 + i)
        scenes = dataclasses.replace(
            scenes, colour=np.full((n, 1), lab["colour"], np.int64), shape=np.full((n, 1), lab["shape"], np.int64),
            size=np.full((n, 1), lab["size"], np.int64), scene_type=np.full(n, lab["scene"], np.int64),
            radius=(scenes.radius / (np.asarray(SIZE_RADIUS)[scenes.size] * ZOOM)  # the jitter, kept
                    * SIZE_RADIUS[lab["size"]] * ZOOM).astype(np.float32))
        out.append(render_simplified(scenes, config.image_size))
    return out


@torch.no_grad()
def evaluate(model: nn.Module, judge: Judge, data: dict[str, Any], text: dict[str, torch.Tensor],
             real_sets: Sequence[torch.Tensor], seed: int = 7, n_noise: int = 64) -> dict[str, float]:
    """Everything the lesson measures for one generator, on held-out captions.

    ``colour``, ``shape``, ``scene``, ``all`` (semantic accuracy on the test captions),
    ``zs_*`` (the same on the zero-shot captions), ``fid`` (course FID between images generated
    for the test captions and the real reference images) and ``diversity`` (64 noise vectors
    per diversity caption vs ``real_sets``).
    """
    generate = model.generate
    out: dict[str, float] = {}
    fake = generate(text["test"], seed=seed)  # (N, 3, S, S)
    judged = judge_images(judge, fake)
    out.update(semantic_accuracy(judged, data["test"]["labels"]))
    zs = semantic_accuracy(judge_images(judge, generate(text["zero_shot"], seed=seed + 1)), data["zero_shot"]["labels"])
    out.update({f"zs_{k}": v for k, v in zs.items()})
    real = judge_images(judge, to_unit(data["reference"]["images"]))["features"]
    out["fid"] = frechet_distance(judged["features"], real)
    gen_sets = []
    for j, i in enumerate(diversity_captions(data)):
        t = text["test"][i:i + 1].expand(n_noise, -1)  # (n, D)
        gen_sets.append(judge_images(judge, generate(t, seed=seed + 10 + j))["features"])
    real_feats = [judge_images(judge, to_unit(r))["features"] for r in real_sets]
    out["diversity"] = diversity_score(gen_sets, real_feats)
    return out


class UntrainedGenerator(nn.Module):
    """A freshly initialised generator: the baseline of the course FID."""

    def __init__(self, config: GANConfig, text_dim: int = 64, seed: int = 0) -> None:
        super().__init__()
        with seeded(seed):
            self.gan = TextToImageGAN(config, text_dim)
        self.config = config
        self.gan.eval()

    def generate(self, text: torch.Tensor, noise: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        return self.gan.generate(text, noise, seed)


# ----------------------------------------------------------------------------------------
# Results table
# ----------------------------------------------------------------------------------------

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (("colour", "colour"), ("shape", "shape"), ("scene", "scene"),
                                              ("all", "all three"), ("zs_colour", "ZS colour"),
                                              ("zs_shape", "ZS shape"), ("zs_all", "ZS all"), ("fid", "course FID"),
                                              ("diversity", "diversity"))


def results_table(rows: dict[str, dict[str, float]]) -> str:
    """A text table: one row per name, the columns of :data:`TABLE_COLUMNS`."""
    width = max(len(name) for name in rows) + 2
    head = "".ljust(width) + "".join(f"{title:>11}" for _, title in TABLE_COLUMNS)
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        cells = "".join(f"{r[k]:>11.1f}" if k == "fid" else f"{r[k]:>11.2f}" for k, _ in TABLE_COLUMNS)
        lines.append(name.ljust(width) + cells)
    return "\n".join(lines)


def mean_over_seeds(results: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """``{variant: [result per seed]}`` -> ``{variant: mean result}``."""
    return {v: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for v, rs in results.items()}


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------

def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def check_discriminator_loss(fn: Any) -> None:
    """Exercise check: ``fn(real_right, real_wrong, fake_right)`` (logits (B,), ``real_wrong``
    may be ``None``) against :func:`discriminator_loss`; names the common mistakes."""
    gen = torch.Generator().manual_seed(5)
    rr, rw, fr = (torch.randn(16, generator=gen) * 2 for _ in range(3))  # (B,) each
    got = fn(rr.clone(), rw.clone(), fr.clone())
    if got is None:
        raise checks.CheckFailed("got None — did you forget to return the loss?")
    got = torch.as_tensor(got, dtype=torch.float32)
    if got.numel() != 1:
        raise checks.CheckFailed(f"the loss must be one number (a mean over the batch), got shape {tuple(got.shape)}")
    wrong = {
        "the three terms with equal weight: the two 'fake' terms share one half each (½ [wrong + fake])":
            _bce(rr, 1) + _bce(rw, 0) + _bce(fr, 0),
        "the real image with the wrong text labelled real: it must be labelled fake — that is what teaches D to "
        "read the text": _bce(rr, 1) + 0.5 * (_bce(rw, 1) + _bce(fr, 0)),
        "the plain conditional loss: the real image with the wrong text is missing": _bce(rr, 1) + _bce(fr, 0),
        "the labels swapped (real -> 0, fakes -> 1)": _bce(rr, 0) + 0.5 * (_bce(rw, 1) + _bce(fr, 1)),
        "the ½ on the real term too: only the two fake terms are halved": 0.5 * (_bce(rr, 1) + _bce(rw, 0) + _bce(fr, 0)),
        "sigmoid probabilities where the loss needs logits (binary_cross_entropy_with_logits reads logits)":
            F.binary_cross_entropy_with_logits(torch.sigmoid(rr), torch.ones(16))
            + 0.5 * (F.binary_cross_entropy_with_logits(torch.sigmoid(rw), torch.zeros(16))
                     + F.binary_cross_entropy_with_logits(torch.sigmoid(fr), torch.zeros(16))),
    }
    expected = discriminator_loss(rr, rw, fr)
    for mistake, value in wrong.items():
        if torch.allclose(got.reshape(()), value, atol=1e-5) and not torch.allclose(value, expected, atol=1e-5):
            raise checks.CheckFailed(f"the loss matches {mistake}")
    checks.close(got.reshape(()), expected, name="loss with real_wrong", tol=1e-5)
    plain = fn(rr.clone(), None, fr.clone())
    if plain is None:
        raise checks.CheckFailed("with real_wrong=None (the plain conditional GAN) got None: return BCE(real, 1) + BCE(fake, 0)")
    checks.close(torch.as_tensor(plain, dtype=torch.float32).reshape(()), discriminator_loss(rr, None, fr),
                 name="loss with real_wrong=None (the plain conditional GAN: BCE(real, 1) + BCE(fake, 0))", tol=1e-5)


def _tiny_pair(seed: int = 3) -> tuple[Generator, Discriminator]:
    with seeded(seed):
        g = Generator(text_dim=8, noise_dim=4, text_code=4, width=4, image_size=32).eval()
        d = Discriminator(text_dim=8, text_code=4, width=4, image_size=32).eval()
        for p in (*g.parameters(), *d.parameters()):
            p.data.normal_(0, 0.3)
    return g, d


def check_interpolation_loss(fn: Any) -> None:
    """Exercise check: ``fn(generator, discriminator, text, noise, beta)`` against
    :func:`interpolation_loss`, with ``beta`` = 0.3 so that the two texts' roles are told apart."""
    g, d = _tiny_pair()
    gen = torch.Generator().manual_seed(8)
    text = torch.randn(6, 8, generator=gen)  # (B, D)
    noise = torch.randn(6, 4, generator=gen)  # (B, Z)
    beta = 0.3
    with torch.no_grad():
        got = fn(g, d, text.clone(), noise.clone(), beta)
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the loss?")
        got = torch.as_tensor(got, dtype=torch.float32)
        if got.numel() != 1:
            raise checks.CheckFailed(f"the loss must be one number (a mean over the batch), got shape {tuple(got.shape)}")
        got = got.reshape(())
        mixed = interpolated_text(text, beta)  # (B, D)
        swapped = (1 - beta) * text + beta * text.roll(1, 0)  # (B, D)

        def term(t_g: torch.Tensor, t_d: torch.Tensor, target: float = 1.0) -> torch.Tensor:
            return _bce(d(g(noise, t_g), t_d), target)

        wrong = {
            "the original text: the images must be made from the interpolated text": term(text, text),
            "D reads the original text: D must judge the image against the interpolated text it was made from":
                term(mixed, text),
            "beta on the wrong text: beta weighs t1 (the text itself), 1 - beta the next text in the batch "
            "(text.roll(1, 0))": term(swapped, swapped),
            "the target 0: the generator wants D to say 'real' (1) for its images": term(mixed, mixed, 0.0),
        }
        expected = interpolation_loss(g, d, text, noise, beta)
        for mistake, value in wrong.items():
            if torch.allclose(got, value, atol=1e-5):
                raise checks.CheckFailed(f"the loss matches {mistake}")
    checks.close(got, expected, name="interpolation loss", tol=1e-5)


def check_frechet_distance(fn: Any) -> None:
    """Exercise check: ``fn(a, b)`` (feature sets (N, F), (M, F)) against :func:`frechet_distance`:
    identical sets give 0, a shifted set the squared shift, and correlated random sets the full formula."""
    gen = torch.Generator().manual_seed(11)
    a = torch.randn(300, 5, generator=gen) @ torch.randn(5, 5, generator=gen)  # (N, F)
    b = torch.randn(200, 5, generator=gen) @ torch.randn(5, 5, generator=gen) + 0.5  # (M, F)
    got = fn(a.clone(), a.clone())
    if got is None:
        raise checks.CheckFailed("got None — did you forget to return the distance?")
    if abs(float(got)) > 1e-3:
        raise checks.CheckFailed(f"the distance of a feature set to itself must be 0, got {float(got):.4f}")
    shift = torch.tensor([3.0, 0, 0, 0, 0])
    got_shift = float(fn(a.clone(), a + shift))
    if abs(got_shift - 3.0) < 1e-3:
        raise checks.CheckFailed("shifting every feature vector by 3 gives 3: the mean term is the *squared* distance |mu_a - mu_b|²")
    checks.close(got_shift, 9.0, name="distance to the same set shifted by 3 (the squared shift)", tol=1e-3)
    got = float(fn(a.clone(), b.clone()))
    a64, b64 = a.double(), b.double()
    mean_term = float((a64.mean(0) - b64.mean(0)).pow(2).sum())
    ca, cb = torch.cov(a64.T), torch.cov(b64.T)
    wrong = {
        "only the mean term: the covariances enter too, tr(C_a + C_b - 2 (C_a C_b)^½)": mean_term,
        "diagonal covariances only (per-feature variances): the cross term needs the full matrices": mean_term
        + float((ca.diagonal().sqrt() - cb.diagonal().sqrt()).pow(2).sum()),
        "the cross term without its factor 2": mean_term + float(torch.trace(ca + cb - _sqrtm_psd(_sqrtm_psd(ca) @ cb @ _sqrtm_psd(ca)))),
    }
    for mistake, value in wrong.items():
        if abs(got - value) < 1e-3 * max(1.0, abs(value)):
            raise checks.CheckFailed(f"the distance matches {mistake}")
    checks.close(got, frechet_distance(a, b), name="distance between two correlated Gaussians' samples", tol=1e-3)
