"""A joint embedding for image tagging: DeViSE (Frome et al., 2013) in the course world.

Two "pre-trained" unimodal models, both kept frozen:

- the course image encoder (:func:`mmcourse.encoders.pretrained_grid_encoder`): an 8x8 grid
  of annotation vectors per image;
- the course word vectors (:func:`mmcourse.word2vec.pretrained_word_vectors`).

A tag is a colour–shape combination ("purple star"); its target is the normalised sum of its
two word vectors. DeViSE learns only a linear map from image features into the word-vector
space, trained with a hinge rank loss: every true tag must score a margin above every false
one. Because the targets come from the text model, the map can tag combinations it never
saw as labels (zero-shot), and answer queries with words no image was labelled with
(synonyms the captions use).

How does a global image score carry *bindings* (the star is purple, the circle is red)? A
linear map of the mean-pooled grid cannot: it sums the colours and shapes of all objects.
Here the map is applied to every grid cell, each cell is compared with the tag (cosine), and
the image's score for a tag is the best cell's: "some region of the image looks like a
purple star". ``pool="mean"`` gives the classic global version for comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cache, checks
from .encoders import EncoderConfig, encode, pretrained_grid_encoder
from .runtime import device as default_device
from .runtime import preset, seed_everything
from .training import train
from .world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES, SYNONYMS
from .world.scenes import GENERATOR_VERSION, render, sample_scenes, to_tensor
from .world.vocab import tokenize

COMBINATIONS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOUR_NAMES for s in SHAPES)
"""Every (colour, shape) pair; tag ``j < 30`` is ``COMBINATIONS[j]``."""

TAGS: tuple[str, ...] = tuple(f"{c} {s}" for c, s in COMBINATIONS) + SCENE_TYPES
"""The tag vocabulary: the 30 objects "red circle", "red square", ..., then the 4 scene types."""

N_OBJECT_TAGS = len(COMBINATIONS)

UNSEEN: tuple[tuple[str, str], ...] = (
    ("purple", "star"),
    ("red", "square"),
    ("green", "circle"),
    ("yellow", "cross"),
    ("blue", "triangle"),
)
"""Combinations held out of the training images: every shape and five colours still
appear in training, but never in these pairs."""

POOLS = ("max", "mean")

CACHE_LIMIT_BYTES = 200_000_000
"""Encoder features larger than this are recomputed instead of stored in the cache."""


def tag_index(colour: str, shape: str) -> int:
    """Index of the tag "colour shape" in :data:`TAGS`."""
    if (colour, shape) not in COMBINATIONS:
        raise ValueError(f"unknown tag {colour!r} {shape!r}; colours {list(COLOUR_NAMES)}, shapes {list(SHAPES)}")
    return COMBINATIONS.index((colour, shape))


def seen_mask(unseen: Sequence[tuple[str, str]] = UNSEEN) -> torch.Tensor:
    """``(n_tags,)`` bool: True for the tags that appear in training images."""
    mask = torch.ones(len(TAGS), dtype=torch.bool)  # (T,)
    for colour, shape in unseen:
        mask[tag_index(colour, shape)] = False
    return mask


def tags_of(labels_row: torch.Tensor) -> list[str]:
    """The names of the tags marked True in one row of labels ``(T,)``."""
    labels_row = torch.as_tensor(labels_row)  # (T,)
    if labels_row.shape != (len(TAGS),):
        raise ValueError(f"labels_row must be one row of labels, shape ({len(TAGS)},), got {tuple(labels_row.shape)}")
    return [TAGS[j] for j in torch.nonzero(labels_row).flatten().tolist()]


# ----------------------------------------------------------------------------------------
# Data: frozen encoder features and tag labels
# ----------------------------------------------------------------------------------------


def tag_labels(scenes: Any) -> torch.Tensor:
    """``(N, n_tags)`` bool: which colour–shape combinations each scene contains, and its scene type."""
    shape = torch.as_tensor(np.asarray(scenes.shape))  # (N, K)
    colour = torch.as_tensor(np.asarray(scenes.colour))  # (N, K)
    valid = shape >= 0  # (N, K)
    index = (colour * len(SHAPES) + shape).clamp(min=0)  # (N, K)
    labels = torch.zeros(len(shape), len(TAGS), dtype=torch.bool)  # (N, T)
    for k in range(shape.shape[1]):
        rows = valid[:, k]  # (N,) scenes that have an object k
        labels[rows, index[rows, k]] = True
    scene = torch.as_tensor(np.asarray(scenes.scene_type))  # (N,)
    labels[torch.arange(len(scene)), N_OBJECT_TAGS + scene] = True  # (N, T) the scene tag
    return labels  # (N, T)


@dataclasses.dataclass
class TaggingData:
    """Images of one split with their frozen encoder features and tag labels.

    ``features[i]`` are the annotation vectors of image ``i``, one per grid cell
    ``(L, C)``; ``labels[i, j]`` says whether image ``i`` contains tag ``j``.
    """

    features: torch.Tensor  # (N, L, C) float32
    labels: torch.Tensor  # (N, T) bool
    scenes: Any  # SceneBatch
    images: np.ndarray  # (N, S, S, 3) uint8

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def __repr__(self) -> str:
        n, cells, dim = self.features.shape
        return f"TaggingData({n} images, {cells} cells x {dim} features, {int(self.labels.sum())} tags)"

    def object_counts(self) -> torch.Tensor:
        """``(N,)`` the number of objects in each image (two purple stars count twice)."""
        if self.scenes is None:
            raise ValueError("this TaggingData has no scenes to count objects in")
        return torch.as_tensor((np.asarray(self.scenes.shape) >= 0).sum(1))  # (N,)


def tagging_data(n: int, seed: int, exclude: Sequence[tuple[str, str]] | None = None, encoder_config: Any = None,
                 image_size: int | None = None) -> TaggingData:
    """``n`` random scenes (none with an ``exclude``-d combination), rendered and encoded.

    The encoder's features are computed once and stored in the course cache (half
    precision), keyed by the scenes, the encoder's configuration and its weights.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    encoder_config = encoder_config or EncoderConfig.for_preset(preset())
    size = image_size or encoder_config.image_size
    exclude = [tuple(pair) for pair in (exclude or [])]
    for colour, shape in exclude:
        tag_index(colour, shape)  # a clear error for an unknown pair
    scenes = sample_scenes(n, seed=seed, exclude=exclude or None)
    images = render(scenes, size=size).images  # (N, S, S, 3) uint8

    encoder = pretrained_grid_encoder(encoder_config)

    def build() -> dict[str, torch.Tensor]:
        grid = encode(encoder, to_tensor(images))  # (N, C, g, g)
        return {"features": grid.flatten(2).transpose(1, 2).half()}  # (N, L, C)

    key = {"n": n, "seed": seed, "exclude": exclude, "size": size, "world": GENERATOR_VERSION,
           "encoder": dataclasses.asdict(encoder_config),
           "encoder_weights": cache.fingerprint(encoder)}  # a retrained encoder misses the cache
    n_bytes = n * (size // 8) ** 2 * encoder_config.dim * 2  # half-precision features
    if n_bytes <= CACHE_LIMIT_BYTES:
        features = cache.cached("devise_features", key, build, verbose=False)["features"]  # (N, L, C)
    else:  # too big for the cache (gpu preset): encode again, which is fast on a GPU
        features = build()["features"]  # (N, L, C)
    return TaggingData(features.float(), tag_labels(scenes), scenes, images)


# ----------------------------------------------------------------------------------------
# Targets and queries from the word vectors
# ----------------------------------------------------------------------------------------


def phrase_vector(vectors: Any, words: Sequence[str]) -> torch.Tensor:
    """The normalised sum of the unit word vectors of ``words`` ``(D,)``."""
    missing = vectors.unknown(words)
    if missing:
        raise ValueError(f"the word vectors do not know {missing}")
    return F.normalize(vectors.subset(list(words)).sum(0), dim=0)  # (D,)


def tag_targets(vectors: Any, tags: Sequence[str] = TAGS) -> torch.Tensor:
    """Target vector of every tag, ``(T, D)``: its words' unit vectors summed and normalised."""
    return torch.stack([phrase_vector(vectors, tag.split()) for tag in tags])  # (T, D)


def parse_query(vectors: Any, text: str) -> tuple[torch.Tensor | None, list[str], list[str]]:
    """Turn a typed query into a vector: ``(vector (D,) or None, known words, unknown words)``.

    The text is tokenized with the course tokenizer; words without a word vector are
    returned (not raised), so an interface can name them."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    words = [w for w in tokenize(text) if w.isalnum()]
    unknown = vectors.unknown(words)
    known = [w for w in words if w not in unknown]
    return (phrase_vector(vectors, known) if known else None), known, unknown


LABEL_WORDS: tuple[str, ...] = tuple(sorted({w for tag in TAGS for w in tag.split()}))
"""The words the tags are made of (colours, shapes, scene types): the only directions of
the word space the map is ever trained against."""


def validate_rows(x: Any, name: str) -> torch.Tensor:
    """``x`` as a float tensor ``(n, D)`` of finite rows, else a ``ValueError`` naming ``name``."""
    if not torch.is_tensor(x) or x.dim() != 2 or x.shape[0] < 1 or not x.is_floating_point():
        got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor (n, D) with at least one row, got {got}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


def label_space_mix(query: torch.Tensor, labels: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Query words read through the label words, as ConSE does (Norouzi et al. 2014): ``(D,)``.

    ``query (Q, D)`` and ``labels (W, D)`` are unit word vectors. Each query word becomes a
    convex combination of the label vectors, weighted by a softmax over its cosines to them
    divided by ``temperature``, made unit length; the words are then summed and normalised,
    as :func:`phrase_vector` does with the raw vectors.
    """
    query, labels = validate_rows(query, "query"), validate_rows(labels, "labels")
    if query.shape[1] != labels.shape[1]:
        raise ValueError(f"query and labels must have the same dimension, got {query.shape[1]} and {labels.shape[1]}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    weights = torch.softmax(query @ labels.T / temperature, dim=1)  # (Q, W) each row sums to 1
    mixed = F.normalize(weights @ labels, dim=1)  # (Q, D) each word as a mix of label words
    return F.normalize(mixed.sum(0), dim=0)  # (D,)


def label_space_vector(vectors: Any, words: Sequence[str], temperature: float = 0.05,
                       label_words: Sequence[str] = LABEL_WORDS) -> torch.Tensor:
    """A query of ``words`` read through the label words ``(D,)`` (:func:`label_space_mix`).

    The map from images into the word space is only trained to rank tag targets, so the
    directions no label word uses are left as initialised, and a query word's component
    along them adds noise to its scores. Read through the label words, a word keeps only
    what the text model says it shares with them: a synonym still has to lie nearest to its
    own label word in the text space.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    missing = vectors.unknown(list(words) + list(label_words))
    if missing:
        raise ValueError(f"the word vectors do not know {missing}")
    if not words:
        raise ValueError("words must hold at least one word")
    return label_space_mix(vectors.subset(list(words)), vectors.subset(list(label_words)), temperature)  # (D,)


def label_space_basis(vectors: Any, label_words: Sequence[str] = LABEL_WORDS) -> torch.Tensor:
    """An orthonormal basis ``(D, r)`` of the label space: the span of the label words' vectors."""
    missing = vectors.unknown(list(label_words))
    if missing:
        raise ValueError(f"the word vectors do not know {missing}")
    u, s, _ = torch.linalg.svd(vectors.subset(list(label_words)).T.double(), full_matrices=False)  # (D, W)
    return u[:, s > s[0] * 1e-5].float()  # (D, r) (smaller singular values are float32 rounding)


def outside_share(x: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``(n,)`` the share of each row of ``x (n, D)``'s length that lies outside the span of
    the orthonormal ``basis (D, r)``: 0 inside the span, 1 at right angles to it."""
    x = validate_rows(x, "x")
    if basis.dim() != 2 or basis.shape[0] != x.shape[1]:
        raise ValueError(f"basis must be ({x.shape[1]}, r), got {tuple(basis.shape)}")
    outside = x - (x @ basis) @ basis.T  # (n, D) the part no basis direction covers
    return outside.norm(dim=1) / x.norm(dim=1).clamp(min=1e-12)  # (n,)


def off_label_share(vectors: Any, words: Sequence[str], label_words: Sequence[str] = LABEL_WORDS) -> dict[str, float]:
    """For each word, the share of its vector's length that lies outside the label space (the
    span of the ``label_words``): the part of the word space no tag target uses."""
    missing = vectors.unknown(list(words))
    if missing:
        raise ValueError(f"the word vectors do not know {missing}")
    share = outside_share(vectors.subset(list(words)), label_space_basis(vectors, label_words))  # (Q,)
    return {word: float(v) for word, v in zip(words, share)}


def span_dim(targets: torch.Tensor, rtol: float = 1e-5) -> int:
    """The number of dimensions the tag ``targets (T, D)`` span: the rank of the matrix, not
    counting singular values below ``rtol`` times the largest (float32 rounding)."""
    return int(torch.linalg.matrix_rank(validate_rows(targets, "targets").double(), rtol=rtol))


# ----------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------


def _validate_features(features: torch.Tensor, dim: int) -> None:
    if features.dim() != 3 or features.shape[-1] != dim:
        raise ValueError(f"features must be (B, L, {dim}) grid-cell features, got {tuple(features.shape)}")


class DeViSE(nn.Module):
    """A linear map from image features into the fixed word-vector space.

    ``pool="max"``: every grid cell is projected and compared with each target (cosine);
    an image's score for a target is its best cell's. ``pool="mean"``: the classic global
    version, the projection of the mean cell feature (= the mean of the projections)."""

    def __init__(self, feature_dim: int, word_dim: int, pool: str = "max") -> None:
        super().__init__()
        if feature_dim < 1 or word_dim < 1:
            raise ValueError(f"feature_dim and word_dim must be positive, got {feature_dim} and {word_dim}")
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.feature_dim, self.word_dim, self.pool = feature_dim, word_dim, pool
        self.project = nn.Linear(feature_dim, word_dim)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Unit vectors in the word space: ``(B, L, D)`` per cell (``max``) or ``(B, 1, D)`` (``mean``)."""
        _validate_features(features, self.feature_dim)
        z = self.project(features)  # (B, L, D)
        if self.pool == "mean":
            z = z.mean(1, keepdim=True)  # (B, 1, D)
        return F.normalize(z, dim=-1)  # (B, L or 1, D)

    def forward(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, T)`` of ``(B, L, C)`` image features against ``(T, D)`` unit targets."""
        if targets.dim() != 2 or targets.shape[1] != self.word_dim:
            raise ValueError(f"targets must be (T, {self.word_dim}) word-space vectors, got {tuple(targets.shape)}")
        cosine = self.embed(features) @ targets.T  # (B, L, T)
        return cosine.amax(1)  # (B, T) best cell per target


class CombinationClassifier(nn.Module):
    """The baseline: a softmax classifier with one output per tag, on the same cell features
    and the same max over cells. A tag that never occurs in training has no examples to learn from."""

    def __init__(self, feature_dim: int, n_tags: int = len(TAGS)) -> None:
        super().__init__()
        if feature_dim < 1 or n_tags < 1:
            raise ValueError(f"feature_dim and n_tags must be positive, got {feature_dim} and {n_tags}")
        self.feature_dim = feature_dim
        self.classify = nn.Linear(feature_dim, n_tags)

    def forward(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T)``; ``targets`` is ignored (the classifier has its own output per tag)."""
        _validate_features(features, self.feature_dim)
        return self.classify(features).amax(1)  # (B, L, T) -> (B, T)


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------


def _validate_scores(scores: torch.Tensor, labels: torch.Tensor) -> None:
    if scores.dim() != 2 or labels.shape != scores.shape:
        raise ValueError(f"scores and labels must both be (B, T), got {tuple(scores.shape)} and {tuple(labels.shape)}")
    if labels.dtype != torch.bool:
        raise ValueError(f"labels must be a bool tensor (True = the image has the tag), got {labels.dtype}")


def _false_tags(labels: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """``(B, T)`` the tags that count as false: not true, and ``allowed`` when given."""
    if allowed is None:
        return ~labels
    if allowed.shape != labels.shape[1:] or allowed.dtype != torch.bool:
        raise ValueError(f"allowed must be a bool tensor ({labels.shape[1]},), got {allowed.dtype} {tuple(allowed.shape)}")
    return ~labels & allowed[None, :]  # (B, T)


def hinge_rank_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 0.1,
                    allowed: torch.Tensor | None = None) -> torch.Tensor:
    """DeViSE's hinge rank loss: every true tag must beat every false tag by ``margin``.

    ``sum_{j true} sum_{k false} max(0, margin - s_j + s_k)``, divided by the number of true
    tags of the image and averaged over the batch. ``allowed (T,)`` limits the false tags
    (e.g. to tags seen in training)."""
    _validate_scores(scores, labels)
    if not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    false = _false_tags(labels, allowed)  # (B, T)
    violation = (margin - scores[:, :, None] + scores[:, None, :]).clamp(min=0)  # (B, T true, T false)
    pairs = labels[:, :, None] & false[:, None, :]  # (B, T, T)
    per_image = (violation * pairs).sum((1, 2)) / labels.sum(1).clamp(min=1)  # (B,)
    return per_image.mean()  # ()


def contrastive_loss(scores: torch.Tensor, labels: torch.Tensor, temperature: float = 0.05,
                     allowed: torch.Tensor | None = None) -> torch.Tensor:
    """The contrastive (softmax) variant: each true tag against all false tags,
    ``-log exp(s_j / tau) / (exp(s_j / tau) + sum_k exp(s_k / tau))``, averaged over true tags."""
    _validate_scores(scores, labels)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    false = _false_tags(labels, allowed)  # (B, T)
    logits = scores / temperature  # (B, T)
    negatives = torch.logsumexp(logits.masked_fill(~false, float("-inf")), 1, keepdim=True)  # (B, 1)
    per_tag = torch.logaddexp(logits, negatives) - logits  # (B, T) -log softmax of each tag vs the false ones
    per_image = (per_tag * labels).sum(1) / labels.sum(1).clamp(min=1)  # (B,)
    return per_image.mean()  # ()


LOSSES = {"hinge": hinge_rank_loss, "contrastive": contrastive_loss}


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TaggingConfig:
    """Sizes and training settings of lesson 02."""

    n_train: int = 3000
    n_test: int = 1000
    train_seed: int = 2101
    test_seed: int = 2202
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-2
    margin: float = 0.1
    temperature: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test", "steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not self.margin >= 0:
            raise ValueError(f"margin must be >= 0, got {self.margin!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")

    @classmethod
    def for_preset(cls, preset: Any) -> "TaggingConfig":
        return preset.pick(cpu=cls(), gpu=cls(n_train=12000, n_test=3000, steps=1500, batch_size=256))


class RandomBatches:
    """``steps`` batches of ``(features (B, L, C), labels (B, T))`` drawn at random from ``data``.

    The draws come from a CPU generator seeded with ``seed``. With ``device`` the features
    and labels are moved there once, here, and every batch is gathered there (only its
    indices travel); ``None`` leaves them where they are. The batches are the same either way.
    """

    def __init__(self, data: TaggingData, steps: int, batch_size: int, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        if steps < 1 or batch_size < 1:
            raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
        self.data, self.steps, self.batch_size, self.seed = data, steps, batch_size, seed
        self.device = torch.device(device) if device is not None else None
        self.features = data.features.to(self.device) if device is not None else data.features  # (N, L, C)
        self.labels = data.labels.to(self.device) if device is not None else data.labels  # (N, T)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            idx = torch.randint(len(self.data), (self.batch_size,), generator=g)  # (B,) on the CPU
            if self.device is not None:
                idx = idx.to(self.device, non_blocking=True)  # (B,) where the data is
            yield self.features[idx], self.labels[idx]  # (B, L, C), (B, T)


def train_tagger(model: nn.Module, data: TaggingData, targets: torch.Tensor | None, loss: str = "hinge",
                 config: TaggingConfig | None = None, allowed: torch.Tensor | None = None,
                 progress: bool = True, time_budget: float = 300.0, desc: str | None = None):
    """Train a :class:`DeViSE` (or the :class:`CombinationClassifier`) on ``data``; returns the History.

    ``loss`` is ``"hinge"`` or ``"contrastive"`` (the classifier uses ``"contrastive"`` with
    temperature 1: a softmax over its tag outputs). ``allowed`` limits the false tags.
    """
    config = config or TaggingConfig()
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {loss!r}")
    seed_everything(config.seed)
    dev = default_device()
    model.to(dev)
    t = targets.to(dev) if targets is not None else None
    a = allowed.to(dev) if allowed is not None else None
    classifier = isinstance(model, CombinationClassifier)

    def step(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        features, labels = batch
        scores = m(features, t)  # (B, T)
        if loss == "hinge":
            return hinge_rank_loss(scores, labels, config.margin, a)
        return contrastive_loss(scores, labels, 1.0 if classifier else config.temperature, a)

    batches = RandomBatches(data, config.steps, config.batch_size, config.seed, device=dev)  # gathered on dev
    return train(model, batches, step, epochs=1, lr=config.lr, time_budget=time_budget, device=dev,
                 desc=desc or f"{type(model).__name__} ({loss})", progress=progress)


@torch.no_grad()
def score_images(model: nn.Module, features: torch.Tensor, targets: torch.Tensor | None,
                 batch_size: int = 512) -> torch.Tensor:
    """Scores ``(N, T)`` of all images against all targets, in batches, on the model's device."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    model.eval()
    dev = next(model.parameters()).device
    t = targets.to(dev) if targets is not None else None
    out = [model(features[i:i + batch_size].to(dev), t).cpu() for i in range(0, len(features), batch_size)]  # (b, T)
    return torch.cat(out)  # (N, T)


# ----------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------


def precision_at_k(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Image -> tags: for each image with ``k`` true tags, the share of true tags among its
    ``k`` best-scoring tags; averaged over images (images without tags are skipped)."""
    _validate_scores(scores, labels)
    k = labels.sum(1)  # (N,)
    order = scores.argsort(1, descending=True)  # (N, T)
    hits = labels.gather(1, order)  # (N, T) true tags in ranked order
    ranks = torch.arange(scores.shape[1])[None, :]  # (1, T)
    top_hits = (hits & (ranks < k[:, None])).sum(1)  # (N,)
    has = k > 0  # (N,)
    return float((top_hits[has].float() / k[has].float()).mean())  # mean over images with tags


def average_precision(scores: torch.Tensor, relevant: torch.Tensor) -> float:
    """Average precision of one ranking: the mean, over the relevant items, of the precision
    at the rank where each of them appears (items sorted by score, highest first)."""
    scores = torch.as_tensor(scores)  # (N,)
    relevant = torch.as_tensor(relevant)  # (N,)
    if scores.dim() != 1 or relevant.shape != scores.shape:
        raise ValueError(f"scores and relevant must both be (N,), got {tuple(scores.shape)} and {tuple(relevant.shape)}")
    if relevant.dtype != torch.bool:
        raise ValueError(f"relevant must be a bool tensor, got {relevant.dtype}")
    n_relevant = int(relevant.sum())
    if n_relevant == 0:
        raise ValueError("relevant has no True entry: average precision is undefined")
    order = torch.argsort(scores, descending=True, stable=True)  # (N,)
    hits = relevant[order].double()  # (N,) 1 where a relevant item sits
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1, dtype=torch.float64)  # (N,) precision at each rank
    return float((precision * hits).sum() / n_relevant)


def mean_average_precision(scores: torch.Tensor, labels: torch.Tensor, columns: Sequence[int] | torch.Tensor | None = None) -> float:
    """Tag -> images: the mean over tags (``columns``, default all with at least one relevant
    image) of the average precision of ranking the images by their score for that tag."""
    _validate_scores(scores, labels)
    if columns is None:
        columns = range(scores.shape[1])
    elif isinstance(columns, torch.Tensor) and columns.dtype == torch.bool:
        if columns.shape != scores.shape[1:]:
            raise ValueError(f"columns as a mask must be ({scores.shape[1]},), got {tuple(columns.shape)}")
        columns = torch.nonzero(columns).flatten().tolist()
    columns = [int(j) for j in columns]
    if any(not 0 <= j < scores.shape[1] for j in columns):
        raise ValueError(f"columns must be tag indices in [0, {scores.shape[1]}), got {columns}")
    aps = [average_precision(scores[:, j], labels[:, j]) for j in columns if bool(labels[:, j].any())]
    if not aps:
        raise ValueError("no column of labels has a relevant image")
    return float(np.mean(aps))


def shape_relevance(labels: torch.Tensor, shape: str) -> torch.Tensor:
    """``(N,)`` bool: images that contain a ``shape`` of any colour."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    if labels.dim() != 2 or labels.shape[1] != len(TAGS):
        raise ValueError(f"labels must be (N, {len(TAGS)}), got {tuple(labels.shape)}")
    columns = [tag_index(c, shape) for c in COLOUR_NAMES]
    return labels[:, columns].any(1)  # (N,)


def tagging_metrics(scores: torch.Tensor, labels: torch.Tensor, seen: torch.Tensor) -> dict[str, float]:
    """The lesson's table row for scores ``(N, T)``: image -> tags (precision at k, on all
    images and on those that show a held-out combination) and tags -> images (mAP on seen
    object tags, scene tags and the held-out combinations). ``seen (T,)`` marks the tags
    that occur in training."""
    _validate_scores(scores, labels)
    if seen.shape != (scores.shape[1],) or seen.dtype != torch.bool:
        raise ValueError(f"seen must be a bool tensor ({scores.shape[1]},), got {seen.dtype} {tuple(seen.shape)}")
    objects = torch.arange(scores.shape[1]) < N_OBJECT_TAGS  # (T,)
    with_unseen = labels[:, ~seen].any(1)  # (N,) images that show a held-out combination
    return {
        "P@k": precision_at_k(scores, labels),
        "mAP seen objects": mean_average_precision(scores, labels, seen & objects),
        "mAP scenes": mean_average_precision(scores, labels, ~objects),
        "mAP unseen": mean_average_precision(scores, labels, ~seen),
        "P@k unseen images": precision_at_k(scores[with_unseen], labels[with_unseen]),
    }


def metrics_table(results: dict[str, dict[str, float]], width: int = 19) -> str:
    """``{model: {metric: value}}`` as a text table, one row per model."""
    if not results:
        raise ValueError("results must hold at least one model")
    columns = list(next(iter(results.values())))
    name_width = max(len(name) for name in results) + 2
    lines = [" " * name_width + "".join(f"{c:>{width}}" for c in columns)]
    lines += [f"{name:{name_width}}" + "".join(f"{row[c]:{width}.3f}" for c in columns) for name, row in results.items()]
    return "\n".join(lines)


def word_query_ap(model: nn.Module, data: TaggingData, vectors: Any, word: str, shape: str,
                  label_space: bool = False) -> float:
    """AP of ranking ``data``'s images by a one-word query for "contains a ``shape``": the
    word's own vector, or (``label_space=True``) the word read through the label words."""
    query = label_space_vector(vectors, [word]) if label_space else phrase_vector(vectors, [word])  # (D,)
    scores = score_images(model, data.features, query[None])[:, 0]  # (N,)
    return average_precision(scores, shape_relevance(data.labels, shape))


# ----------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------


def plot_target_similarity(vectors: Any, seen: torch.Tensor | None = None, synonyms: dict[str, Sequence[str]] | None = None):
    """Two heat maps: the cosine between every two object tag targets (held-out tags
    marked *), and between each shape synonym and each shape word. Returns the figure."""
    seen = seen_mask() if seen is None else seen
    synonyms = SYNONYMS if synonyms is None else synonyms
    targets = tag_targets(vectors)[:N_OBJECT_TAGS]  # (30, D)
    similarity = (targets @ targets.T).numpy()  # (30, 30)
    words = [w for s in SHAPES for w in synonyms[s]]
    synonym_similarity = (vectors.subset(words) @ vectors.subset(list(SHAPES)).T).numpy()  # (n_syn, 5)
    labels = [t + (" *" if not seen[j] else "") for j, t in enumerate(TAGS[:N_OBJECT_TAGS])]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    im = axes[0].imshow(similarity, cmap="viridis")
    axes[0].set_xticks(range(N_OBJECT_TAGS), labels, rotation=90, fontsize=7)
    axes[0].set_yticks(range(N_OBJECT_TAGS), labels, fontsize=7)
    axes[0].set_title("cosine between object tag targets (* = held out)")
    fig.colorbar(im, ax=axes[0], fraction=0.04)
    axes[1].imshow(synonym_similarity, cmap="viridis")
    axes[1].set_xticks(range(len(SHAPES)), SHAPES, rotation=45)
    axes[1].set_yticks(range(len(words)), words)
    for (i, j), value in np.ndenumerate(synonym_similarity):
        axes[1].text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="w")
    axes[1].set_title("synonym vs. shape word (cosine)")
    fig.tight_layout()
    return fig


def plot_examples(data: TaggingData, indices: Sequence[int]):
    """Images of ``data`` with their true tags as titles. Returns the figure."""
    indices = list(indices)
    if not indices:
        raise ValueError("indices must name at least one image")
    fig, axes = plt.subplots(1, len(indices), figsize=(2 * len(indices), 2.6), squeeze=False)
    for ax, i in zip(axes[0], indices):
        ax.imshow(data.images[i])
        ax.set_title("\n".join(tags_of(data.labels[i])), fontsize=8)
        ax.axis("off")
    return fig


def plot_top_tags(data: TaggingData, indices: Sequence[int], scores: dict[str, torch.Tensor], title: str = ""):
    """For each image: the image, its true tags, and the top ``k`` tags (``k`` = its number
    of true tags) of each model in ``scores`` (``{name: (N, T)}``), wrong ones marked."""
    indices = list(indices)
    if not indices:
        raise ValueError("indices must name at least one image")
    fig, axes = plt.subplots(len(indices), 2, figsize=(10, 2.2 * len(indices)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 4]})
    for (ax_image, ax_text), i in zip(axes, indices):
        k = int(data.labels[i].sum())
        lines = ["true:       " + ", ".join(tags_of(data.labels[i]))]
        for name, s in scores.items():
            top = s[i].topk(k).indices.tolist()
            marked = ", ".join(TAGS[j] + ("" if data.labels[i, j] else " (wrong)") for j in top)
            lines.append(f"{name.split()[0] + ':':11} {marked}")
        ax_image.imshow(data.images[i])
        ax_image.axis("off")
        ax_text.text(0, 0.5, "\n".join(lines), va="center", family="monospace", fontsize=9)
        ax_text.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_query_results(model: nn.Module, data: TaggingData, vectors: Any, queries: Sequence[str], k: int = 8):
    """One row per typed query: the ``k`` images of ``data`` that score highest for it."""
    queries = list(queries)
    if not queries:
        raise ValueError("queries must hold at least one query")
    fig, axes = plt.subplots(len(queries), k, figsize=(1.5 * k, 1.75 * len(queries)), squeeze=False)
    for row, query in zip(axes, queries):
        vector, _, unknown = parse_query(vectors, query)
        if vector is None:
            raise ValueError(f"queries: no word of {query!r} has a word vector (unknown: {unknown})")
        found = score_images(model, data.features, vector[None])[:, 0].topk(k).indices.tolist()  # k best images
        for ax, i in zip(row, found):
            ax.imshow(data.images[i])
            ax.axis("off")
        row[0].set_title(f"'{query}'", loc="left", fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------
# Exercise checks (lesson 02)
# ----------------------------------------------------------------------------------------


def _hinge_variants(scores: torch.Tensor, labels: torch.Tensor, margin: float) -> dict[str, torch.Tensor]:
    """The hinge rank loss and the usual ways of getting it wrong, each a mistake's description."""
    hinge = (margin - scores[:, :, None] + scores[:, None, :]).clamp(min=0)  # (B, T true, T false)
    pairs = labels[:, :, None] & ~labels[:, None, :]  # (B, T, T)
    n_true = labels.sum(1).clamp(min=1)  # (B,)
    n_false = (~labels).sum(1).clamp(min=1)  # (B,)
    summed = (hinge * pairs).sum((1, 2))  # (B,)
    flipped = (margin + scores[:, :, None] - scores[:, None, :]).clamp(min=0)  # (B, T, T) sign the wrong way
    no_margin = (scores[:, None, :] - scores[:, :, None]).clamp(min=0)  # (B, T, T)
    all_pairs = (hinge * labels[:, :, None]).sum((1, 2))  # (B,) true against every tag, itself included
    return {
        "correct": (summed / n_true).mean(),
        "the hinge is the wrong way round: a false tag k costs when it comes within the margin of a true "
        "tag j, max(0, margin - s_j + s_k)": ((flipped * pairs).sum((1, 2)) / n_true).mean(),
        "the margin is missing: a true tag that beats a false one by less than the margin must still "
        "cost margin - (s_j - s_k)": ((no_margin * pairs).sum((1, 2)) / n_true).mean(),
        "each image's sum is not divided by its number of true tags": summed.mean(),
        "each image's sum is divided by its number of (true, false) pairs; divide by its number of true tags":
            (summed / (n_true * n_false)).mean(),
        "each image's sum is divided by its number of false tags; divide by its number of true tags":
            (summed / n_false).mean(),
        "the images are summed over the batch instead of averaged": (summed / n_true).sum(),
        "pairs that are not (true, false) are counted too: keep only a true tag j against a false tag k":
            (all_pairs / n_true).mean(),
        "pairs that are not (true, false) are counted too (every pair of tags): keep only a true tag j "
        "against a false tag k": (hinge.sum((1, 2)) / n_true).mean(),
    }


def check_hinge_rank_loss(loss_fn: Any, seed: int = 0) -> float:
    """Exercise check: a learner's ``loss_fn(scores (B, T), labels (B, T) bool, margin) -> ()``
    against :func:`hinge_rank_loss` on its own batches. Raises ``checks.CheckFailed`` naming
    the mistake; returns the relative error."""
    g = torch.Generator().manual_seed(seed)
    scores = (torch.rand(6, 7, generator=g, dtype=torch.float64) * 0.4 - 0.2).requires_grad_()  # (B, T)
    labels = torch.rand(6, 7, generator=g) < 0.35  # (B, T)
    labels[0] = False
    labels[0, 2] = True  # one image with a single true tag
    labels[1, :3] = True  # one with three
    labels[2] = False
    labels[2, 4:] = True  # one with three true tags out of seven
    got = loss_fn(scores, labels, 0.1)
    checks.true(got is not None, "got None: did you forget to return the loss?")
    checks.true(torch.is_tensor(got), f"the loss must be a tensor (so that it has a gradient), got {type(got).__name__}")
    checks.true(got.dim() == 0, f"the loss must be one number (a 0-d tensor: the mean over the batch), got shape {tuple(got.shape)}")
    checks.true(got.requires_grad, "the loss has no gradient: keep it a tensor computed from scores (no .item(), no NumPy)")
    value = float(got.detach())
    variants = {name: float(v) for name, v in _hinge_variants(scores.detach(), labels, 0.1).items()}
    if abs(value - variants.pop("correct")) > 1e-6 * max(1.0, abs(value)):
        for mistake, wrong in variants.items():
            if abs(value - wrong) <= 1e-9 * max(1.0, abs(wrong)):
                raise checks.CheckFailed(mistake)
    with torch.no_grad():
        easy = scores.detach().clone()  # (B, T)
        easy[labels] += 1.0
        checks.true(abs(float(loss_fn(easy, labels, 0.1))) < 1e-12,
                    "when every true tag beats every false tag by more than the margin, the loss must be 0")
        wide = float(loss_fn(scores.detach(), labels, 0.3))
    checks.true(abs(wide - float(hinge_rank_loss(scores.detach(), labels, 0.3))) < 1e-9,
                "with margin=0.3 the loss is wrong: use the margin argument, not a fixed 0.1")
    return checks.close(got.detach(), hinge_rank_loss(scores.detach(), labels, 0.1), name="hinge rank loss", tol=1e-6)


def check_average_precision(ap_fn: Any) -> float:
    """Exercise check: a learner's ``ap_fn(scores (N,), relevant (N,) bool) -> float`` against
    :func:`average_precision` on fixed rankings. Raises ``checks.CheckFailed`` naming the
    mistake; returns the largest relative error."""
    cases = [  # the first tells most mistakes apart (on a perfect ranking several give the same number)
        ("unsorted scores", [0.2, 0.95, 0.4, 0.6, 0.1, 0.7], [True, False, True, False, False, True], (1 / 2 + 2 / 4 + 3 / 5) / 3),
        ("a perfect ranking", [0.9, 0.8, 0.1, 0.0], [True, True, False, False], 1.0),
        ("the worst ranking", [0.9, 0.8, 0.1, 0.0], [False, False, True, True], (1 / 3 + 2 / 4) / 2),
        ("relevant at ranks 1 and 3", [0.9, 0.5, 0.7, 0.1, 0.3], [True, True, False, False, False], (1 / 1 + 2 / 3) / 2),
    ]
    worst = 0.0
    for name, scores, relevant, want in cases:
        s = torch.tensor(scores)  # (N,)
        r = torch.tensor(relevant)  # (N,)
        got = ap_fn(s, r)
        checks.true(got is not None, f"{name}: got None: did you forget to return the result?")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise checks.CheckFailed(f"{name}: expected one number, got {type(got).__name__}") from None
        if abs(got - want) <= 1e-6:
            worst = max(worst, abs(got - want) / abs(want))
            continue
        hits = r[torch.argsort(s, descending=True)].double()  # (N,) relevant in ranked order
        precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)  # (N,)
        ascending = r[torch.argsort(s)].double()  # (N,)
        mistakes = {
            "you get the share of relevant items: sort the items by score (highest first) before you walk down the ranking":
                float(r.double().mean()),
            "sort by score from the highest, not the lowest": float(((ascending.cumsum(0) / torch.arange(1, len(hits) + 1)) * ascending).sum() / ascending.sum()),
            "you average the precision over every rank; average it only at the ranks where a relevant item sits":
                float(precision.mean()),
            "divide the sum of the precisions by the number of relevant items, not the number of items":
                float((precision * hits).sum() / len(hits)),
        }
        for mistake, wrong in mistakes.items():
            if abs(got - wrong) <= 1e-6 and abs(wrong - want) > 1e-6:
                raise checks.CheckFailed(f"{name}: got {got:.4f}, expected {want:.4f}; {mistake}")
        raise checks.CheckFailed(f"{name}: got {got:.4f}, expected {want:.4f} (scores {scores}, relevant {relevant})")
    return worst


def check_label_space_mix(mix_fn: Any) -> float:
    """Exercise check: a learner's ``mix_fn(query (Q, D), labels (W, D), temperature) -> (D,)``
    against :func:`label_space_mix` on hand-made unit vectors. Raises ``checks.CheckFailed``
    naming the mistake; returns the largest relative error."""
    labels = torch.eye(6, dtype=torch.float64)[:4]  # (W=4, D=6) four orthogonal label words
    between = F.normalize(torch.tensor([[1.0, 1.0, 0, 0, 0.2, 0.1]], dtype=torch.float64), dim=1)  # (1, D) half-way between two labels
    near = F.normalize(torch.tensor([[0.1, 0, 0, 0.9, 0.4, 0]], dtype=torch.float64), dim=1)  # (1, D) close to label 3, off the labels' span
    worst = 0.0
    for name, query, t in [("one word half-way between two label words", between, 0.05),
                           ("one word near a label word", near, 0.05),
                           ("two words", torch.cat([between, near]), 0.05),
                           ("two words at temperature 0.5", torch.cat([between, near]), 0.5)]:
        want = label_space_mix(query, labels, t)  # (D,)
        got = mix_fn(query, labels, t)
        checks.true(got is not None, f"{name}: got None: did you forget to return the vector?")
        checks.true(torch.is_tensor(got), f"{name}: expected a tensor (D,), got {type(got).__name__}")
        checks.shape(got, (6,), f"{name}: the query vector")
        got = got.detach().double()  # (D,)
        err = float((got - want).abs().max())
        if err <= 1e-6:
            worst = max(worst, err)
            continue
        if float((F.normalize(got, dim=0) - want).abs().max()) <= 1e-6:
            raise checks.CheckFailed(f"{name}: the direction is right but the length is {float(got.norm()):.4f}: "
                                     "return a unit vector (normalise the sum of the words)")
        weights = torch.softmax(query @ labels.T / t, dim=1)  # (Q, W)
        mistakes = {
            "take the softmax over the label words (for each query word, dim=1), not over the query words":
                F.normalize(F.normalize(torch.softmax(query @ labels.T / t, dim=0) @ labels, dim=1).sum(0), dim=0),
            "divide the cosines by the temperature before the softmax (you used them as they are)":
                F.normalize(F.normalize(torch.softmax(query @ labels.T, dim=1) @ labels, dim=1).sum(0), dim=0),
            "divide the cosines by the temperature, do not multiply them":
                F.normalize(F.normalize(torch.softmax(query @ labels.T * t, dim=1) @ labels, dim=1).sum(0), dim=0),
            "mix the label words with the softmax weights, not only the nearest one (a convex combination)":
                F.normalize(labels[(query @ labels.T).argmax(1)].sum(0), dim=0),
            "make each word's mix a unit vector before you add up the words":
                F.normalize((weights @ labels).sum(0), dim=0),
        }
        for mistake, wrong in mistakes.items():
            if float((got - wrong).abs().max()) <= 1e-6 and float((wrong - want).abs().max()) > 1e-6:
                raise checks.CheckFailed(f"{name}: {mistake}")
        raise checks.CheckFailed(f"{name}: expected {[round(v, 4) for v in want.tolist()]}, got {[round(v, 4) for v in got.tolist()]}")
    return worst
