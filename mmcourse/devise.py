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
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES

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


@torch.no_grad()
def encode_images(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Annotation vectors ``(N, L, C)`` of ``(N, 3, S, S)`` images, forward only, in batches."""
    dev = next(encoder.parameters()).device
    out = [encoder.annotations(images[i:i + batch_size].to(dev)).cpu() for i in range(0, len(images), batch_size)]  # (b, L, C) each
    return torch.cat(out)  # (N, L, C)


def tagging_data(n: int, seed: int, exclude: Sequence[tuple[str, str]] | None = None, encoder_config: Any = None,
                 image_size: int | None = None) -> TaggingData:
    """``n`` random scenes (none with an ``exclude``-d combination), rendered and encoded.

    The encoder's features are computed once and stored in the course cache (half
    precision), keyed by the scenes and the encoder's configuration.
    """
    from . import cache
    from .encoders import EncoderConfig, pretrained_grid_encoder
    from .runtime import preset
    from .world.scenes import GENERATOR_VERSION, render, sample_scenes, to_tensor

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    encoder_config = encoder_config or EncoderConfig.for_preset(preset())
    size = image_size or encoder_config.image_size
    exclude = [tuple(pair) for pair in (exclude or [])]
    for colour, shape in exclude:
        tag_index(colour, shape)  # a clear error for an unknown pair
    scenes = sample_scenes(n, seed=seed, exclude=exclude or None)
    images = render(scenes, size=size).images  # (N, S, S, 3) uint8

    def build() -> dict[str, torch.Tensor]:
        encoder = pretrained_grid_encoder(encoder_config)
        return {"features": encode_images(encoder, to_tensor(images)).half()}  # (N, L, C)

    key = {"n": n, "seed": seed, "exclude": exclude, "size": size, "world": GENERATOR_VERSION,
           "encoder": dataclasses.asdict(encoder_config)}
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
    from .world.vocab import tokenize

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = [w for w in tokenize(text) if w.isalnum()]
    unknown = vectors.unknown(words)
    known = [w for w in words if w not in unknown]
    return (phrase_vector(vectors, known) if known else None), known, unknown


LABEL_WORDS: tuple[str, ...] = tuple(sorted({w for tag in TAGS for w in tag.split()}))
"""The words the tags are made of (colours, shapes, scene types): the only directions of
the word space the map is ever trained against."""


def label_space_vector(vectors: Any, words: Sequence[str], temperature: float = 0.05,
                       label_words: Sequence[str] = LABEL_WORDS) -> torch.Tensor:
    """A query read through the label words ``(D,)``, in the spirit of ConSE (Norouzi et al. 2014).

    The map from images into the word space is only trained to rank tag targets, so the
    directions no label word uses are left as initialised, and a query word's component
    along them adds noise to its scores. Here each query word is replaced by a convex
    combination of the label words' unit vectors, weighted by ``softmax(cosine / temperature)``,
    before the words are summed and normalised as in :func:`phrase_vector`. A synonym still
    has to lie nearest to its own label word in the text space: the text model does the work.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    missing = vectors.unknown(list(words) + list(label_words))
    if missing:
        raise ValueError(f"the word vectors do not know {missing}")
    if not words:
        raise ValueError("words must hold at least one word")
    labels = vectors.subset(list(label_words))  # (W, D) unit vectors
    query = vectors.subset(list(words))  # (Q, D)
    weights = torch.softmax(query @ labels.T / temperature, dim=1)  # (Q, W)
    mixed = F.normalize(weights @ labels, dim=1)  # (Q, D) each word as a mix of label words
    return F.normalize(mixed.sum(0), dim=0)  # (D,)


# ----------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------


def _check_features(features: torch.Tensor, dim: int) -> None:
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
        _check_features(features, self.feature_dim)
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
        self.feature_dim = feature_dim
        self.classify = nn.Linear(feature_dim, n_tags)

    def forward(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T)``; ``targets`` is ignored (the classifier has its own output per tag)."""
        _check_features(features, self.feature_dim)
        return self.classify(features).amax(1)  # (B, L, T) -> (B, T)


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------


def _check_scores(scores: torch.Tensor, labels: torch.Tensor) -> None:
    if scores.dim() != 2 or labels.shape != scores.shape:
        raise ValueError(f"scores and labels must both be (B, T), got {tuple(scores.shape)} and {tuple(labels.shape)}")
    if labels.dtype != torch.bool:
        raise ValueError(f"labels must be a bool tensor (True = the image has the tag), got {labels.dtype}")


def hinge_rank_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 0.1,
                    allowed: torch.Tensor | None = None) -> torch.Tensor:
    """DeViSE's hinge rank loss: every true tag must beat every false tag by ``margin``.

    ``sum_{j true} sum_{k false} max(0, margin - s_j + s_k)``, divided by the number of true
    tags of the image and averaged over the batch. ``allowed (T,)`` limits the false tags
    (e.g. to tags seen in training)."""
    _check_scores(scores, labels)
    false = ~labels if allowed is None else ~labels & allowed[None, :]  # (B, T)
    violation = (margin - scores[:, :, None] + scores[:, None, :]).clamp(min=0)  # (B, T true, T false)
    pairs = labels[:, :, None] & false[:, None, :]  # (B, T, T)
    per_image = (violation * pairs).sum((1, 2)) / labels.sum(1).clamp(min=1)  # (B,)
    return per_image.mean()  # ()


def contrastive_loss(scores: torch.Tensor, labels: torch.Tensor, temperature: float = 0.05,
                     allowed: torch.Tensor | None = None) -> torch.Tensor:
    """The contrastive (softmax) variant: each true tag against all false tags,
    ``-log exp(s_j / tau) / (exp(s_j / tau) + sum_k exp(s_k / tau))``, averaged over true tags."""
    _check_scores(scores, labels)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    false = ~labels if allowed is None else ~labels & allowed[None, :]  # (B, T)
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

    @classmethod
    def for_preset(cls, preset: Any) -> "TaggingConfig":
        return cls() if preset.name == "cpu" else cls(n_train=12000, n_test=3000, steps=1500, batch_size=256)


class RandomBatches:
    """``steps`` batches of ``(features (B, L, C), labels (B, T))`` drawn at random from ``data``."""

    def __init__(self, data: TaggingData, steps: int, batch_size: int, seed: int = 0) -> None:
        if steps < 1 or batch_size < 1:
            raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
        self.data, self.steps, self.batch_size, self.seed = data, steps, batch_size, seed

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            idx = torch.randint(len(self.data), (self.batch_size,), generator=g)  # (B,)
            yield self.data.features[idx], self.data.labels[idx]  # (B, L, C), (B, T)


def train_tagger(model: nn.Module, data: TaggingData, targets: torch.Tensor | None, loss: str = "hinge",
                 config: TaggingConfig | None = None, allowed: torch.Tensor | None = None,
                 progress: bool = True, time_budget: float = 300.0, desc: str | None = None):
    """Train a :class:`DeViSE` (or the :class:`CombinationClassifier`) on ``data``; returns the History.

    ``loss`` is ``"hinge"`` or ``"contrastive"`` (the classifier uses ``"contrastive"`` with
    temperature 1: a softmax over its tag outputs). ``allowed`` limits the false tags.
    """
    from .runtime import device as default_device, seed_everything
    from .training import train

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

    batches = RandomBatches(data, config.steps, config.batch_size, config.seed)
    return train(model, batches, step, epochs=1, lr=config.lr, time_budget=time_budget, device=dev,
                 desc=desc or f"{type(model).__name__} ({loss})", progress=progress)


@torch.no_grad()
def score_images(model: nn.Module, features: torch.Tensor, targets: torch.Tensor | None,
                 batch_size: int = 512) -> torch.Tensor:
    """Scores ``(N, T)`` of all images against all targets, in batches, on the model's device."""
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
    _check_scores(scores, labels)
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
    _check_scores(scores, labels)
    if columns is None:
        columns = range(scores.shape[1])
    elif isinstance(columns, torch.Tensor) and columns.dtype == torch.bool:
        columns = torch.nonzero(columns).flatten().tolist()
    aps = [average_precision(scores[:, j], labels[:, j]) for j in columns if bool(labels[:, j].any())]
    if not aps:
        raise ValueError("no column of labels has a relevant image")
    return float(np.mean(aps))


def shape_relevance(labels: torch.Tensor, shape: str) -> torch.Tensor:
    """``(N,)`` bool: images that contain a ``shape`` of any colour."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    columns = [tag_index(c, shape) for c in COLOUR_NAMES]
    return labels[:, columns].any(1)  # (N,)


# ----------------------------------------------------------------------------------------
# Exercise checks (lesson 02)
# ----------------------------------------------------------------------------------------


def check_hinge_rank_loss(loss_fn: Any, seed: int = 0) -> float:
    """Compare a learner's ``loss_fn(scores (B, T), labels (B, T) bool, margin)`` with
    :func:`hinge_rank_loss`; raises ``CheckFailed`` with what is wrong."""
    from . import checks

    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(6, 7, generator=g, dtype=torch.float64) * 0.4 - 0.2  # (B, T)
    labels = torch.rand(6, 7, generator=g) < 0.35  # (B, T)
    labels[0] = False
    labels[0, 2] = True  # one image with a single true tag
    labels[1, :3] = True  # one with three
    got = loss_fn(scores, labels, 0.1)
    checks.true(torch.is_tensor(got) and got.dim() == 0, "the loss must be one number (a 0-d tensor, the batch mean)")
    easy = scores.clone()  # (B, T)
    easy[labels] += 1.0
    checks.true(abs(float(loss_fn(easy, labels, 0.1))) < 1e-12,
                "when every true tag beats every false tag by more than the margin, the loss must be 0")
    single = float(loss_fn(scores[:1], labels[:1], 0.1))
    want_single = float(((0.1 - scores[0, 2] + scores[0]).clamp(min=0) * ~labels[0]).sum())
    checks.true(abs(single - want_single) < 1e-9,
                f"one image with one true tag: expected {want_single:.6f} = sum over false tags k of "
                f"max(0, margin - s_true + s_k), got {single:.6f}")
    return checks.close(got, hinge_rank_loss(scores, labels, 0.1), name="hinge rank loss", tol=1e-6)


def check_average_precision(ap_fn: Any) -> float:
    """Compare a learner's ``ap_fn(scores (N,), relevant (N,) bool) -> float`` with
    :func:`average_precision` on fixed rankings; raises ``CheckFailed`` with what is wrong."""
    from . import checks

    cases = [
        ("perfect ranking", [0.9, 0.8, 0.1, 0.0], [True, True, False, False], 1.0),
        ("worst ranking", [0.9, 0.8, 0.1, 0.0], [False, False, True, True], (1 / 3 + 2 / 4) / 2),
        ("relevant at ranks 1 and 3", [0.9, 0.5, 0.7, 0.1, 0.3], [True, True, False, False, False], (1 / 1 + 2 / 3) / 2),
        ("unsorted scores", [0.2, 0.95, 0.4, 0.6, 0.1, 0.7], [True, False, True, False, False, True], None),
    ]
    worst = 0.0
    for name, scores, relevant, expected in cases:
        s = torch.tensor(scores)  # (N,)
        r = torch.tensor(relevant)  # (N,)
        want = average_precision(s, r) if expected is None else expected
        got = ap_fn(s, r)
        checks.true(got is not None, f"{name}: got None — did you forget to return the result?")
        if abs(float(got) - float(r.float().mean())) < 1e-9 and abs(want - float(r.float().mean())) > 1e-6:
            raise checks.CheckFailed(f"{name}: got {float(got):.4f}, the share of relevant items — sort by score first")
        worst = max(worst, checks.close(torch.tensor(float(got)), torch.tensor(want), name=name, tol=1e-6))
    return worst
