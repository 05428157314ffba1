"""Visual question answering (lesson 06): point-wise fusion, its baselines, and attention.

The model of Antol et al. (2015), in miniature:

- **image**: the course's frozen pre-trained CNN (:func:`mmcourse.encoders.pretrained_grid_encoder`)
  gives a global vector of *what* is in the picture (:func:`global_features`), normalised,
  then a fully connected layer and ``tanh``;
- **question**: word embeddings, an LSTM, its hidden state after the last word, a fully
  connected layer and ``tanh``;
- both ``tanh`` layers get a layer norm first, which keeps them from saturating (see
  :class:`QuestionEncoder`);
- **fusion**: the two vectors are multiplied element by element;
- **answer**: an MLP classifier over the answer vocabulary
  (:func:`mmcourse.world.language.answer_vocabulary`).

The same class also builds the baselines that expose modality bias (``fusion="question"``:
the language prior alone; ``"image"``: the picture alone; ``"concat"``: concatenation instead
of the product). :class:`AttentionVQA` looks at the grid of annotation vectors instead of the
global vector: the question decides where to look (one or two glimpses, stacked as in Yang et
al. 2016), and each cell carries its coordinates, so *where* becomes visible.

Everything runs on precomputed features (:func:`extract_features`): the encoder is frozen, so
it is run once, forward only, and never again during training. :func:`fit` trains every model
of the lesson for a fixed number of epochs and keeps it in the cache.

For the analysis: :func:`per_type_accuracy`, the language prior of the skewed training set
(:func:`biased_answer`, :func:`prior_agreement`), a prior table with no network at all
(:func:`most_frequent_answer`), and how well the frozen features read the scenes
(:func:`feature_report`). The ``check_*`` functions check the lesson's exercises; the lesson's
figures are drawn by :mod:`mmcourse.vqa_figures`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cache, checks
from .encoders import EncoderConfig, cell_labels, encode, pretrained_grid_encoder, validate_images
from .runtime import device as default_device
from .runtime import preset
from .training import History, train
from .world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES, SIZES
from .world.datasets import split_seed
from .world.language import (BIASED_ANSWERS, FAVOURITE_COLOUR, FAVOURITE_SHAPE, GRAMMAR_VERSION, QUESTION_TYPES,
                             SCENE_QUESTIONS, SHAPE_WORDS, answer_vocabulary, questions)
from .world.scenes import GENERATOR_VERSION, render, sample_scenes
from .world.tokens import tokenize
from .world.vocab import course_vocabulary

FUSIONS: tuple[str, ...] = ("product", "concat", "question", "image")
"""What :class:`VQAModel` does with the two modalities: multiply them (the paper), concatenate
them, or use only the question / only the image (the baselines)."""


# ----------------------------------------------------------------------------------------
# Image features from the frozen encoder
# ----------------------------------------------------------------------------------------


def grid_coordinates(height: int, width: int) -> torch.Tensor:
    """Centres of a ``height x width`` grid's cells, row-major, as ``(x, y)`` in [-1, 1]: ``(L, 2)``.

    ``x`` grows to the right and ``y`` downwards (the image convention), so cell ``l`` of
    :meth:`GridEncoder.annotations` sits at ``grid_coordinates(h, w)[l]``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be positive, got {height}, {width}")
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 - 1  # (H,)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1  # (W,)
    y, x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    return torch.stack([x.flatten(), y.flatten()], dim=1)  # (L, 2)


def local_peaks(score: torch.Tensor, threshold: float = 0.4) -> torch.Tensor:
    """Cells that are the maximum of their 3x3 neighbourhood and above ``threshold``.

    ``score`` (B, ..., H, W) -> float mask of the same shape. An object covers a few
    neighbouring cells, but only one of them is its peak, so counting peaks counts objects.
    """
    if score.dim() < 3:
        raise ValueError(f"score must have shape (B, ..., H, W), got {tuple(score.shape)}")
    flat = score.reshape(-1, 1, *score.shape[-2:])  # (B*..., 1, H, W)
    pooled = F.max_pool2d(flat, 3, stride=1, padding=1).reshape(score.shape)  # (B, ..., H, W)
    return ((score >= pooled) & (score > threshold)).float()  # (B, ..., H, W)


MAX_OBJECTS = 4
"""Counts are divided by this (the most objects a course scene holds), so they lie in [0, 1]."""

LARGE_MASS = 1.5
"""An object whose colour-shape probability sums to more than this over the 3x3 cells around
its peak covers several cells: it is probably large (small objects sit in about one cell)."""

GLOBAL_PARTS: tuple[tuple[str, int], ...] = (
    ("what: shapes, colours (max over cells), scene", 15),
    ("which colour goes with which shape (max over cells)", 30),
    ("how many small objects of each colour-shape pair", 30),
    ("how many large objects of each colour-shape pair", 30),
    ("how many of each shape, each colour, in all", 12),
)
"""The blocks of :func:`global_features` and their sizes (117 in all)."""

GLOBAL_DIM = sum(n for _, n in GLOBAL_PARTS)


@torch.no_grad()
def global_features(encoder: nn.Module, grid: torch.Tensor) -> torch.Tensor:
    """A global vector of *what* is in each image, pooled over the encoder's grid: ``(B, 117)``.

    The encoder's heads give every cell a shape and a colour distribution; their product
    is the cell's joint colour-shape distribution (30 pairs). Pooling over the cells keeps
    *what* is there and throws away *where*:

    - the encoder's own summary: shapes and colours max-pooled over the grid, and the scene;
    - the joint distribution max-pooled over the grid ("is there a red star?");
    - counts: the cells that are peaks of a pair's map (:func:`local_peaks`), each split
      into small and large by how much of the pair's probability lies around the peak
      (:data:`LARGE_MASS`); and those counts per shape, per colour and in all.

    The two probability blocks are L2-normalised, as the paper normalises its CNN
    features. The counts are divided by :data:`MAX_OBJECTS` instead: normalising them
    to length 1 would make "one star" and "two stars" the same vector.
    """
    if grid.dim() != 4:
        raise ValueError(f"grid must have shape (B, D, H, W), got {tuple(grid.shape)}")
    out = encoder.heads(grid)
    shape = out["shape"].softmax(1)  # (B, 1+S, H, W), class 0 = no object
    colour = out["colour"].softmax(1)  # (B, 1+C, H, W)
    scene = out["scene"].softmax(1)  # (B, n_scenes)
    s, c = shape[:, 1:], colour[:, 1:]  # (B, S, H, W), (B, C, H, W)
    joint = c[:, :, None] * s[:, None]  # (B, C, S, H, W)
    peaks = local_peaks(joint)  # (B, C, S, H, W)
    b, n_c, n_s, h, w = joint.shape
    mass = F.conv2d(joint.reshape(-1, 1, h, w), joint.new_ones(1, 1, 3, 3), padding=1).reshape(joint.shape)  # (B, C, S, H, W)
    large = torch.sigmoid(4 * (mass - LARGE_MASS))  # (B, C, S, H, W)
    n_large = (peaks * large).sum((3, 4))  # (B, C, S)
    n_small = (peaks * (1 - large)).sum((3, 4))  # (B, C, S)
    n = n_small + n_large  # (B, C, S)
    what = torch.cat([s.amax((2, 3)), c.amax((2, 3)), scene], 1)  # (B, 15)
    pairs = joint.amax((3, 4)).flatten(1)  # (B, C*S)
    totals = torch.cat([n.sum(1), n.sum(2), n.sum((1, 2))[:, None]], 1)  # (B, S + C + 1)
    counts = torch.cat([n_small.flatten(1), n_large.flatten(1), totals], 1) / MAX_OBJECTS  # (B, 2*C*S + S + C + 1)
    return torch.cat([F.normalize(what, dim=1), F.normalize(pairs, dim=1), counts], 1)  # (B, 117)


@torch.no_grad()
def extract_features(encoder: nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Run the frozen encoder once over ``images``; return what the VQA models read.

    Args:
        encoder: the course's :class:`~mmcourse.encoders.GridEncoder` (frozen, eval mode).
        images: a tensor ``(N, 3, S, S)``, uint8 (the course's layout, as :func:`lesson_data`
            returns it) or float in [0, 1]. A NumPy uint8 ``(N, S, S, 3)``, the world's rendered
            layout, is accepted too and moved channel-first.
        batch_size: images per forward pass.

    Returns:
        ``{"global": (N, 117) float32, "grid": (N, L, D) float16}``: the global vector of
        :func:`global_features` and the annotation vectors, row-major (``L = H * W`` cells;
        float16 halves the memory, they are cast back to float32 when used).
    """
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images as a NumPy array must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
        images = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, S, S) uint8
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    validate_images(images, encoder.image_size)  # empty, NaN, 0..255 floats or a wrong size -> ValueError
    encoder.eval()
    dev = next(encoder.parameters()).device
    glob, grids = [], []
    for start in range(0, len(images), batch_size):
        grid = encode(encoder, images[start : start + batch_size], batch_size)  # (b, D, H, W) on the CPU
        glob.append(global_features(encoder, grid.to(dev)).cpu())  # (b, G)
        grids.append(grid.flatten(2).transpose(1, 2).half())  # (b, L, D)
    return {"global": torch.cat(glob), "grid": torch.cat(grids)}  # (N, G), (N, L, D)


# ----------------------------------------------------------------------------------------
# The two encoders and the fusion
# ----------------------------------------------------------------------------------------


def _validate_tokens(tokens: torch.Tensor, lengths: torch.Tensor) -> None:
    if not torch.is_tensor(tokens) or tokens.dim() != 2 or tokens.dtype != torch.long:
        raise ValueError(f"tokens must be a LongTensor (B, T), got {getattr(tokens, 'dtype', type(tokens))} "
                         f"{tuple(getattr(tokens, 'shape', ()))}")
    if not torch.is_tensor(lengths) or lengths.shape != tokens.shape[:1]:
        raise ValueError(f"lengths must be a tensor (B,) = ({tokens.shape[0]},), got {tuple(getattr(lengths, 'shape', ()))}")
    if lengths.device.type != "cpu":
        return  # reading the values back would make every training step wait for the device
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[1]):
        raise ValueError(f"lengths must be between 1 and T={tokens.shape[1]}, got {lengths.min()}..{lengths.max()}")


class QuestionEncoder(nn.Module):
    """Word embedding + LSTM; its state after the question's last word -> FC -> LayerNorm -> tanh.

    ``(B, T)`` tokens padded with 0 and their ``(B,)`` lengths -> ``(B, dim)``. The LSTM
    runs over the padded batch and the hidden state at each question's last word is picked
    out (an LSTM reads left to right, so the padding after it changes nothing). The layer
    norm keeps the ``tanh`` from saturating: without it, the question vector of *every*
    question runs to the same corner of [-1, 1]^dim within a few dozen steps, the product
    then passes the image through unchanged, and no gradient reaches the question again.

    The token ids and lengths are checked against the vocabulary and ``T`` when they are on
    the CPU; on an accelerator that check would make every step wait for the device, so
    only their shapes and types are checked there.
    """

    def __init__(self, vocab_size: int, dim: int = 128, embed_dim: int = 32, hidden: int = 64) -> None:
        super().__init__()
        if min(vocab_size, dim, embed_dim, hidden) < 1:
            raise ValueError(f"sizes must be positive, got vocab_size={vocab_size}, dim={dim}, "
                             f"embed_dim={embed_dim}, hidden={hidden}")
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _validate_tokens(tokens, lengths)
        if tokens.device.type == "cpu" and (int(tokens.max()) >= self.embed.num_embeddings or int(tokens.min()) < 0):
            raise ValueError(f"tokens must be ids in 0..{self.embed.num_embeddings - 1}")
        x = self.embed(tokens)  # (B, T, E)
        states, _ = self.lstm(x)  # (B, T, H) the hidden state after every word
        last = states[torch.arange(len(tokens), device=tokens.device), lengths.to(tokens.device) - 1]  # (B, H)
        return torch.tanh(self.norm(self.fc(last)))  # (B, dim)


class ImageEncoder(nn.Module):
    """The normalised global image vector -> FC -> LayerNorm -> tanh: ``(B, G)`` -> ``(B, dim)``."""

    def __init__(self, in_dim: int, dim: int = 128) -> None:
        super().__init__()
        if in_dim < 1 or dim < 1:
            raise ValueError(f"in_dim and dim must be positive, got {in_dim}, {dim}")
        self.fc = nn.Linear(in_dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 2 or image.shape[1] != self.fc.in_features:
            raise ValueError(f"image must have shape (B, {self.fc.in_features}), got {tuple(image.shape)}")
        return torch.tanh(self.norm(self.fc(image)))  # (B, dim)


def answer_head(in_dim: int, n_answers: int, hidden: int = 128) -> nn.Sequential:
    """The MLP classifier: ``in_dim`` -> ``hidden`` (tanh) -> ``n_answers`` logits."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_answers))


def pointwise_fusion(q: torch.Tensor, v: torch.Tensor, head: nn.Module) -> torch.Tensor:
    """Fuse a question vector and an image vector by element-wise product, then classify.

    ``q`` and ``v`` are ``(B, dim)``; ``head`` maps ``(B, dim)`` to answer logits ``(B, A)``.
    A feature of the product is large only where *both* vectors are: the question selects
    which image features matter.
    """
    if q.shape != v.shape:
        raise ValueError(f"q and v must have the same shape (B, dim), got {tuple(q.shape)} and {tuple(v.shape)}")
    return head(q * v)  # (B, A)


class VQAModel(nn.Module):
    """Question encoder + image encoder, fused by ``fusion`` (see :data:`FUSIONS`), then the MLP head.

    ``forward(tokens (B, T), lengths (B,), image (B, G)) -> logits (B, A)``. The baselines
    are the same network with one modality left out, so they differ only in what they see.
    """

    def __init__(self, vocab_size: int, image_dim: int, n_answers: int, fusion: str = "product", dim: int = 128,
                 embed_dim: int = 32, hidden: int = 64, head_hidden: int = 128) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if n_answers < 2:
            raise ValueError(f"n_answers must be at least 2, got {n_answers}")
        self.fusion = fusion
        self.question = QuestionEncoder(vocab_size, dim, embed_dim, hidden) if fusion != "image" else None
        self.image = ImageEncoder(image_dim, dim) if fusion != "question" else None
        self.head = answer_head(2 * dim if fusion == "concat" else dim, n_answers, head_hidden)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if image.shape[0] != tokens.shape[0]:
            raise ValueError(f"image and tokens must have the same batch size, got {image.shape[0]} and {tokens.shape[0]}")
        if self.fusion == "question":
            return self.head(self.question(tokens, lengths))  # (B, A)
        v = self.image(image)  # (B, dim)
        if self.fusion == "image":
            return self.head(v)  # (B, A)
        q = self.question(tokens, lengths)  # (B, dim)
        if self.fusion == "concat":
            return self.head(torch.cat([q, v], 1))  # (B, A)
        return pointwise_fusion(q, v, self.head)  # (B, A)


# ----------------------------------------------------------------------------------------
# Going further: question-guided attention over the grid
# ----------------------------------------------------------------------------------------


class AttentionVQA(nn.Module):
    """Stacked question-guided attention over the grid cells, then the same point-wise fusion.

    Each cell ``l`` of the ``(B, L, D)`` grid is joined with its coordinates ``(x, y)``
    (:func:`grid_coordinates`), so a cell says *what* is there and *where*. Glimpse ``k``
    scores every cell against the query ``u_k`` with additive attention (as in lesson 04),
    ``score_l = w_k . tanh(K c_l + Q_k u_k)``, and takes the attention-weighted mean of
    the cells. The first query is the question vector; each glimpse is added to the query
    of the next (``u_{k+1} = u_k + tanh(P_k glimpse_k)``, stacked attention), so the second
    glimpse can look *relative to* the first ("what is left of the red square?"). The
    glimpses (with their mean coordinates) and the global vector go through
    FC -> LayerNorm -> tanh into the image vector, which is multiplied with the question
    vector as in :class:`VQAModel`.

    ``forward(tokens, lengths, image (B, G), grid (B, L, D)) -> logits (B, A)``; after a
    forward pass ``last_attention`` holds the weights ``(B, glimpses, L)``.
    """

    def __init__(self, vocab_size: int, image_dim: int, grid_dim: int, n_answers: int, grid_size: int = 8,
                 glimpses: int = 2, dim: int = 128, att_dim: int = 64, embed_dim: int = 32, hidden: int = 64,
                 head_hidden: int = 128) -> None:
        super().__init__()
        if glimpses not in (1, 2, 3):
            raise ValueError(f"glimpses must be 1, 2 or 3, got {glimpses!r}")
        if n_answers < 2 or grid_dim < 1 or image_dim < 1 or grid_size < 1:
            raise ValueError("n_answers >= 2, and grid_dim, image_dim, grid_size >= 1 are needed")
        self.glimpses = glimpses
        self.grid_dim = grid_dim
        self.register_buffer("coords", grid_coordinates(grid_size, grid_size))  # (L, 2)
        cell_dim = grid_dim + 2
        self.question = QuestionEncoder(vocab_size, dim, embed_dim, hidden)
        self.cell_norm = nn.LayerNorm(grid_dim)
        self.keys = nn.Linear(cell_dim, att_dim)
        self.queries = nn.ModuleList([nn.Linear(dim, att_dim) for _ in range(glimpses)])
        self.scores = nn.ModuleList([nn.Linear(att_dim, 1) for _ in range(glimpses)])
        self.feedback = nn.ModuleList([nn.Linear(cell_dim, dim) for _ in range(glimpses - 1)])
        self.image = nn.Linear(image_dim + glimpses * cell_dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = answer_head(dim, n_answers, head_hidden)
        self.last_attention: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        if grid.dim() != 3 or grid.shape[1:] != (self.coords.shape[0], self.grid_dim):
            raise ValueError(f"grid must have shape (B, {self.coords.shape[0]}, {self.grid_dim}), got {tuple(grid.shape)}")
        if image.shape[0] != tokens.shape[0] or grid.shape[0] != tokens.shape[0]:
            raise ValueError("tokens, image and grid must have the same batch size")
        q = self.question(tokens, lengths)  # (B, dim)
        coords = self.coords.expand(grid.shape[0], -1, -1)  # (B, L, 2)
        cells = torch.cat([self.cell_norm(grid.float()), coords], 2)  # (B, L, D + 2) what and where
        keys = self.keys(cells)  # (B, L, att)
        u, seen, weights = q, [], []
        for k in range(self.glimpses):
            scores = self.scores[k](torch.tanh(keys + self.queries[k](u)[:, None]))[..., 0]  # (B, L)
            alpha = scores.softmax(1)  # (B, L)
            glimpse = torch.einsum("bl,bld->bd", alpha, cells)  # (B, D + 2)
            if k + 1 < self.glimpses:
                u = u + torch.tanh(self.feedback[k](glimpse))  # (B, dim) the next query knows what this glimpse saw
            seen.append(glimpse)
            weights.append(alpha)
        self.last_attention = torch.stack(weights, 1).detach()  # (B, glimpses, L)
        v = torch.tanh(self.norm(self.image(torch.cat([image, *seen], 1))))  # (B, dim)
        return pointwise_fusion(q, v, self.head)  # (B, A)


# ----------------------------------------------------------------------------------------
# Data, training and evaluation
# ----------------------------------------------------------------------------------------


@dataclass
class QuestionSet:
    """Questions with their encoded tokens, answers and types, pointing into an image feature table.

    ``tokens`` (Q, T) long (padded with 0), ``lengths`` (Q,), ``answers`` (Q,) index into
    the answer vocabulary, ``types`` (Q,) index into the question types, ``scene`` (Q,)
    index into the image features; ``texts`` and ``answer_texts`` the strings.
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    answers: torch.Tensor
    types: torch.Tensor
    scene: torch.Tensor
    texts: list[str]
    answer_texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def build(cls, questions: Sequence[Any], vocabulary: Any, answers: Sequence[str], types: Sequence[str]) -> "QuestionSet":
        """From :class:`~mmcourse.world.language.Question` objects (or anything with scene/type/text/answer)."""
        if not len(questions):
            raise ValueError("questions must not be empty")
        tokens, lengths = vocabulary.encode_batch([q.text for q in questions])  # (Q, T), (Q,)
        answer_id = {a: j for j, a in enumerate(answers)}
        unknown = sorted({q.answer for q in questions} - set(answer_id))
        if unknown:
            raise ValueError(f"questions have answers outside the answer vocabulary: {unknown}")
        return cls(
            tokens=tokens,
            lengths=lengths,
            answers=torch.tensor([answer_id[q.answer] for q in questions], dtype=torch.long),  # (Q,)
            types=torch.tensor([list(types).index(q.type) for q in questions], dtype=torch.long),  # (Q,)
            scene=torch.tensor([q.scene for q in questions], dtype=torch.long),  # (Q,)
            texts=[q.text for q in questions],
            answer_texts=[q.answer for q in questions],
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain tensors, lists and strings (for the course cache)."""
        return dict(self.__dict__)


def batches(qs: QuestionSet, features: dict[str, torch.Tensor], batch_size: int, shuffle: bool = True,
            seed: int = 0, grid: bool = False,
            device: torch.device | str | None = None) -> list[tuple[torch.Tensor, ...]]:
    """One epoch of batches ``(tokens, lengths, image, [grid,] answers)`` (a list, reshuffled by ``seed``).

    Tokens are cut to the longest question of each batch; ``grid=True`` adds the annotation
    grid ``(b, L, D)`` that :class:`AttentionVQA` reads. The list holds the whole epoch: to
    make the batches one at a time (and on the training device), use :func:`iter_batches`.
    """
    return list(iter_batches(qs, features, batch_size, shuffle, seed, grid, device))


def _batch_store(qs: QuestionSet, features: dict[str, torch.Tensor], grid: bool,
                 device: torch.device | str | None) -> dict[str, torch.Tensor]:
    """The tensors the batches are gathered from, moved to ``device`` once (``None``: left where they are).

    The annotation grid (the big one) is only taken along when the batches need it.
    """
    names = ("global", "grid") if grid else ("global",)
    store = {"tokens": qs.tokens, "lengths": qs.lengths, "scene": qs.scene, "answers": qs.answers,
             **{name: features[name] for name in names}}  # (Q, T), (Q,), (Q,), (Q,), (N, G)[, (N, L, D)]
    if device is None:
        return store
    return {name: t.to(device) for name, t in store.items()}


def _gather(store: dict[str, torch.Tensor], lengths: torch.Tensor, order: torch.Tensor, batch_size: int, grid: bool,
            device: torch.device | str | None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches of ``order`` gathered from ``store`` (see :func:`_batch_store`), one at a time.

    ``lengths`` is a CPU copy of the question lengths, so that cutting the padding never
    waits for the device; each batch sends only its indices to ``device``.
    """
    for idx in order.split(batch_size):  # idx: (b,) on the CPU
        longest = int(lengths[idx].max())  # read on the CPU
        if device is not None:
            idx = idx.to(device, non_blocking=True)  # (b,) where the store is
        scene = store["scene"][idx]  # (b,)
        item = [store["tokens"][idx, :longest], store["lengths"][idx], store["global"][scene]]  # (b, T_b), (b,), (b, G)
        if grid:
            item.append(store["grid"][scene].float())  # (b, L, D)
        item.append(store["answers"][idx])  # (b,)
        yield tuple(item)


def iter_batches(qs: QuestionSet, features: dict[str, torch.Tensor], batch_size: int, shuffle: bool = True,
                 seed: int = 0, grid: bool = False,
                 device: torch.device | str | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """The batches of :func:`batches`, made one at a time (a generator): the same order, the same tensors.

    The shuffle is drawn on the CPU. With ``device`` the questions and the features are moved
    there once and every batch is gathered there (``None``: where they are).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(qs), generator=gen) if shuffle else torch.arange(len(qs))  # (Q,)
    store = _batch_store(qs, features, grid, device)
    return _gather(store, qs.lengths.cpu(), order, batch_size, grid, device)


class EpochBatches:
    """Iterable of batches for :func:`mmcourse.training.train`: a new shuffle every epoch (see :func:`batches`).

    With ``device`` the questions and the features are moved there once, here, and every
    batch is gathered there, one at a time; the shuffles are drawn on the CPU as without it,
    so the batches are the same (``None``: the tensors stay where they are).
    """

    def __init__(self, qs: QuestionSet, features: dict[str, torch.Tensor], batch_size: int, seed: int = 0,
                 grid: bool = False, device: torch.device | str | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.qs, self.features, self.batch_size, self.seed, self.grid = qs, features, batch_size, seed, grid
        self.device = torch.device(device) if device is not None else None
        self.store = _batch_store(qs, features, grid, self.device)  # on the device once, for every epoch
        self.lengths = qs.lengths.cpu()  # (Q,) for cutting the padding without a wait
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.qs) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        self.epoch += 1
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.qs), generator=gen)  # (Q,) on the CPU
        return _gather(self.store, self.lengths, order, self.batch_size, self.grid, self.device)


def vqa_step(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy over the answers; also returns the batch accuracy (a detached 0-dim tensor,
    read back by :func:`mmcourse.training.train`, so the step never waits for the device)."""
    *inputs, answers = batch
    logits = model(*inputs)  # (B, A)
    loss = F.cross_entropy(logits, answers)  # () mean over the batch
    return loss, {"acc": (logits.argmax(1) == answers).float().mean().detach()}  # (), ()


def fit(model: nn.Module, qs: QuestionSet, features: dict[str, torch.Tensor], *, epochs: int, batch_size: int,
        lr: float, time_budget: float | None = None, seed: int = 0, desc: str = "training", progress: bool = True,
        cache_name: str | None = None) -> History:
    """Train a VQA model on ``qs`` for ``epochs`` epochs with Adam and a one-cycle schedule; returns the History.

    Every model of the lesson is trained by this one function, so the baselines differ from
    the point-wise model only in what they see. The one-cycle schedule raises the learning
    rate from ``lr / 25`` to ``lr`` over the first 20% of the steps, then lowers it along a
    cosine to almost zero. How much a model trains is fixed by ``epochs`` and the data,
    never by the clock: ``time_budget`` (seconds) is only a safety stop, far above the
    expected time, that warns loudly when it cuts a run short. Training runs on one CPU
    thread: for models this small a second thread gains little, and threads that wait for
    each other stall badly when other programs share the cores.

    With ``cache_name`` the trained weights and the history are kept in the cache
    (:func:`mmcourse.cache.cached_training`), keyed by the settings, a fingerprint of the
    data and the code that trains (the model's classes, this function, :func:`vqa_step`,
    the batching and :func:`mmcourse.training.train`); a run stopped by the safety stop is
    not kept. The features are moved to the training device (:func:`mmcourse.device`) once,
    and each batch is gathered there.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if cache_name is not None:
        tensors = [v for v in vars(qs).values() if torch.is_tensor(v)] + [features[k] for k in sorted(features)]
        key = {"model": repr(model), "data": cache.fingerprint(*tensors), "epochs": epochs, "batch_size": batch_size,
               "lr": lr, "seed": seed}
        train_it = functools.partial(fit, qs=qs, features=features, epochs=epochs, batch_size=batch_size, lr=lr,
                                     time_budget=time_budget, seed=seed, desc=desc, progress=progress)
        return cache.cached_training(cache_name, key, model, train_it,
                                     code=(vqa_step, EpochBatches, _batch_store, _gather, train))

    dev = default_device()  # what train() would pick; the batches are gathered there
    loader = EpochBatches(qs, features, batch_size, seed=seed, grid=isinstance(model, AttentionVQA), device=dev)
    try:  # the fused implementation is several times faster on small models
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader), pct_start=0.2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as fast for models this small, and no stalls on a busy machine
    try:
        return train(model, loader, vqa_step, optimizer, epochs=epochs, scheduler=scheduler, time_budget=time_budget,
                     device=dev, desc=desc, progress=progress)
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def predict(model: nn.Module, qs: QuestionSet, features: dict[str, torch.Tensor], batch_size: int = 1024) -> torch.Tensor:
    """Answer probabilities ``(Q, A)`` for every question of ``qs``."""
    model.eval()
    dev = next(model.parameters()).device
    grid = isinstance(model, AttentionVQA)
    probs = []
    for batch in iter_batches(qs, features, batch_size, shuffle=False, grid=grid, device=dev):
        *inputs, _ = batch
        probs.append(model(*inputs).softmax(1).cpu())  # (b, A)
    return torch.cat(probs)  # (Q, A)


def per_type_accuracy(predictions: Sequence[int] | torch.Tensor, answers: Sequence[int] | torch.Tensor,
                      types: Sequence[int] | torch.Tensor, type_names: Sequence[str]) -> dict[str, float]:
    """Accuracy of each question type and overall (the mean over all questions).

    ``predictions``, ``answers`` and ``types`` are ``(Q,)`` integer ids; a type without
    questions gets ``nan``. Returns ``{type_name: accuracy, ..., "overall": accuracy}``.
    """
    pred = torch.as_tensor(predictions)  # (Q,)
    true = torch.as_tensor(answers)  # (Q,)
    kind = torch.as_tensor(types)  # (Q,)
    if not (pred.shape == true.shape == kind.shape) or pred.dim() != 1:
        raise ValueError(f"predictions, answers and types must be 1-D of one length, got "
                         f"{tuple(pred.shape)}, {tuple(true.shape)}, {tuple(kind.shape)}")
    if len(kind) and (int(kind.min()) < 0 or int(kind.max()) >= len(type_names)):
        raise ValueError(f"types must be ids in 0..{len(type_names) - 1}")
    hit = (pred == true).float()  # (Q,)
    out = {}
    for t, name in enumerate(type_names):
        mask = kind == t  # (Q,)
        out[name] = float(hit[mask].mean()) if mask.any() else float("nan")
    out["overall"] = float(hit.mean()) if len(hit) else float("nan")
    return out


def accuracy_table(results: dict[str, dict[str, float]], columns: Sequence[str]) -> str:
    """A text table: one row per model (``results[name][column]``), accuracies as percentages."""
    width = max(len(name) for name in results) + 2
    lines = [" " * width + "".join(f"{c:>10s}" for c in columns)]
    for name, row in results.items():
        lines.append(f"{name:<{width}s}" + "".join(f"{100 * row[c]:10.1f}" for c in columns))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# The language prior of the skewed training set
# ----------------------------------------------------------------------------------------


def biased_answer(text: str, qtype: str) -> str:
    """The answer that the *skewed* training set (``skew > 0``) gives most often to this question text.

    It follows the biases documented in :func:`mmcourse.world.language.questions`: a colour
    question about a star -> "yellow" (:data:`~mmcourse.world.language.FAVOURITE_COLOUR`),
    a shape question about a red object -> "circle", count -> "two", exists -> "yes",
    relation -> "yes" (yes/no form) or "circle" ("what is ..." form), and scene question
    form ``j`` -> ``SCENE_TYPES[j]``. Returns ``""`` when the text names no such word.
    """
    if qtype not in QUESTION_TYPES:
        raise ValueError(f"qtype must be one of {QUESTION_TYPES}, got {qtype!r}")
    words = tokenize(text)
    if qtype == "colour":
        shape_of = {w: s for s, ws in SHAPE_WORDS.items() for w in ws}
        shapes = [shape_of[w] for w in words if w in shape_of]
        return FAVOURITE_COLOUR[shapes[0]] if shapes else ""
    if qtype == "shape":
        colours = [w for w in words if w in COLOUR_NAMES]
        return FAVOURITE_SHAPE[colours[0]] if colours else ""
    if qtype in ("count", "exists"):
        return BIASED_ANSWERS[qtype]
    if qtype == "relation":
        return BIASED_ANSWERS["relation_yesno" if words[:1] == ["is"] else "relation_what"]
    forms = list(SCENE_QUESTIONS)
    return SCENE_TYPES[forms.index(text) % len(SCENE_TYPES)] if text in forms else ""


def prior_agreement(predictions: Sequence[int] | torch.Tensor, qs: QuestionSet, answers: Sequence[str],
                    type_names: Sequence[str]) -> dict[str, float]:
    """How often the predicted answer is the skewed set's :func:`biased_answer`, per type and overall."""
    pred = torch.as_tensor(predictions)  # (Q,)
    if pred.shape != (len(qs),):
        raise ValueError(f"predictions must have shape ({len(qs)},), got {tuple(pred.shape)}")
    bias = [biased_answer(t, type_names[int(k)]) for t, k in zip(qs.texts, qs.types)]
    same = torch.tensor([answers[int(p)] == b for p, b in zip(pred, bias)], dtype=torch.float32)  # (Q,)
    return per_type_accuracy(same, torch.ones(len(qs)), qs.types, type_names)


def most_frequent_answer(keys: Sequence[int] | torch.Tensor, answers: Sequence[int] | torch.Tensor,
                         query_keys: Sequence[int] | torch.Tensor, n_answers: int) -> torch.Tensor:
    """A prior with no network at all: each query gets the answer most frequent among the
    training questions that share its key.

    ``keys`` and ``answers`` are the training questions' ``(N,)`` integer keys (the question
    type gives the "per Q-type prior" of Antol et al.; the id of the exact wording a
    stronger one) and answer ids in ``0..n_answers-1``; ``query_keys`` ``(Q,)``. A key
    that no training question has gets the answer most frequent overall; ties go to the
    smallest answer id. Returns the predicted answer ids, a LongTensor ``(Q,)``.
    """
    keys, answers, query = (torch.as_tensor(a).long() for a in (keys, answers, query_keys))
    if keys.dim() != 1 or answers.shape != keys.shape or len(keys) == 0:
        raise ValueError(f"keys and answers must be non-empty 1-D and of one length, got "
                         f"{tuple(keys.shape)} and {tuple(answers.shape)}")
    if query.dim() != 1:
        raise ValueError(f"query_keys must be 1-D (Q,), got {tuple(query.shape)}")
    if isinstance(n_answers, bool) or not isinstance(n_answers, int) or n_answers < 1:
        raise ValueError(f"n_answers must be a positive integer, got {n_answers!r}")
    if int(answers.min()) < 0 or int(answers.max()) >= n_answers:
        raise ValueError(f"answers must be ids in 0..{n_answers - 1}, got {int(answers.min())}..{int(answers.max())}")
    if int(keys.min()) < 0 or (len(query) and int(query.min()) < 0):
        raise ValueError("keys and query_keys must be non-negative ids")
    n_keys = max(int(keys.max()), int(query.max()) if len(query) else 0) + 1
    counts = torch.zeros(n_keys, n_answers)  # (K, A) how often each key has each answer
    counts.index_put_((keys, answers), torch.ones(len(keys)), accumulate=True)  # (K, A)
    overall = counts.sum(0).argmax()  # () the most frequent answer of all
    best = counts.argmax(1)  # (K,) argmax takes the first of equal counts: the smallest id
    best = torch.where(counts.sum(1) > 0, best, overall)  # (K,) unseen keys fall back to the overall answer
    return best[query]  # (Q,)


def relation_forms(qs: QuestionSet, type_names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks ``(Q,)`` of the two forms of relation question: yes/no ("is the star above the
    circle?") and "what is ..." ("what is left of the red square?")."""
    if "relation" not in type_names:
        raise ValueError(f"type_names must include 'relation', got {tuple(type_names)}")
    is_relation = qs.types == list(type_names).index("relation")  # (Q,)
    yes_no = torch.tensor([t.startswith("is ") for t in qs.texts], dtype=torch.bool) & is_relation  # (Q,)
    return yes_no, is_relation & ~yes_no  # (Q,), (Q,)


def type_mix(qs: QuestionSet, n_types: int) -> torch.Tensor:
    """The share of each question type in ``qs``: ``(n_types,)``, summing to 1."""
    counts = torch.bincount(qs.types, minlength=n_types).float()  # (types,)
    return counts / counts.sum()  # (types,)


def describe_counts(global_vec: torch.Tensor) -> str:
    """The objects a global vector (:func:`global_features`, ``(117,)``) counts, in words:
    ``"1.0 green square, 1.0 blue circle | 2.0 objects in all"``."""
    if global_vec.shape != (GLOBAL_DIM,):
        raise ValueError(f"global_vec must have shape ({GLOBAL_DIM},), got {tuple(global_vec.shape)}")
    pairs = len(COLOUR_NAMES) * len(SHAPES)
    start = GLOBAL_PARTS[0][1] + GLOBAL_PARTS[1][1]  # where the counts begin
    g = global_vec.float()  # (G,)
    counts = (g[start : start + pairs] + g[start + pairs : start + 2 * pairs]) * MAX_OBJECTS  # (C*S,) small + large
    counts = counts.reshape(len(COLOUR_NAMES), len(SHAPES))  # (C, S)
    found = [f"{counts[c, s]:.1f} {COLOUR_NAMES[c]} {SHAPES[s]}" for c in range(len(COLOUR_NAMES))
             for s in range(len(SHAPES)) if counts[c, s] > 0.5]
    return ", ".join(found) + f" | {float(g[-1]) * MAX_OBJECTS:.1f} objects in all"


@torch.no_grad()
def feature_report(encoder: nn.Module, features: dict[str, torch.Tensor], scenes: Any) -> dict[str, float]:
    """How well the frozen features read ``scenes`` (whose ``features`` came from :func:`extract_features`).

    Returns ``{"cells": ..., "objects": ..., "sizes": ...}``:

    - ``cells``: of the grid cells that hold an object (:func:`mmcourse.encoders.cell_labels`),
      the share whose shape *and* colour the encoder's heads get right;
    - ``objects``: the share of scenes whose peak count (the last number of the global
      vector) rounds to their true number of objects;
    - ``sizes``: of all objects, the share counted in the right size class — per scene and
      colour-shape pair, the counted small and large objects (rounded) matched against the
      true ones.
    """
    grid = features["grid"].float()  # (N, L, D)
    n, cells, dim = grid.shape
    side = int(round(cells ** 0.5))
    if side * side != cells or len(scenes) != n or features["global"].shape != (n, GLOBAL_DIM):
        raise ValueError(f"features must hold a square grid (N, L, D) and a global (N, {GLOBAL_DIM}) for the "
                         f"{len(scenes)} scenes, got {tuple(grid.shape)} and {tuple(features['global'].shape)}")
    dev = next(encoder.parameters()).device
    labels = cell_labels(scenes, grid=side)
    true_shape, true_colour = (torch.from_numpy(labels[k]) for k in ("shape", "colour"))  # (N, g, g) each
    hits, total = 0, 0
    for start in range(0, n, 500):
        g = grid[start : start + 500].transpose(1, 2).reshape(-1, dim, side, side).to(dev)  # (b, D, g, g)
        out = encoder.heads(g)
        shape, colour = out["shape"].argmax(1).cpu(), out["colour"].argmax(1).cpu()  # (b, g, g) each
        ts, tc = true_shape[start : start + 500], true_colour[start : start + 500]  # (b, g, g) each
        held = ts > 0  # (b, g, g)
        hits += int(((shape == ts) & (colour == tc))[held].sum())
        total += int(held.sum())
    glob = features["global"]  # (N, G)
    pairs = len(COLOUR_NAMES) * len(SHAPES)  # pair index: colour * len(SHAPES) + shape, as in global_features
    start = GLOBAL_PARTS[0][1] + GLOBAL_PARTS[1][1]  # where the counts begin
    small = (glob[:, start : start + pairs] * MAX_OBJECTS).round()  # (N, C*S) counted small objects
    large = (glob[:, start + pairs : start + 2 * pairs] * MAX_OBJECTS).round()  # (N, C*S) counted large objects
    true_small, true_large = torch.zeros(n, pairs), torch.zeros(n, pairs)  # (N, C*S) each
    for i in range(n):
        for k in range(int(scenes.n_objects[i])):
            pair = int(scenes.colour[i, k]) * len(SHAPES) + int(scenes.shape[i, k])
            (true_large if int(scenes.size[i, k]) == SIZES.index("large") else true_small)[i, pair] += 1
    right_size = torch.minimum(small, true_small).sum() + torch.minimum(large, true_large).sum()
    n_objects = torch.from_numpy(np.asarray(scenes.n_objects)).float()  # (N,)
    counted = (glob[:, -1] * MAX_OBJECTS).round()  # (N,)
    return {"cells": hits / max(total, 1), "objects": float((counted == n_objects).float().mean()),
            "sizes": float(right_size / n_objects.sum())}


# ----------------------------------------------------------------------------------------
# Checks of the lesson's exercises
# ----------------------------------------------------------------------------------------


def check_fusion_head(fn: Any) -> torch.Tensor:
    """Exercise check: ``fn(q, v, W1, b1, W2, b2)`` must give the answer logits of the
    point-wise fusion followed by the answer head (:func:`pointwise_fusion`, :func:`answer_head`).

    Runs ``fn`` on fixed inputs and names the common mistakes (a sum or only one of the two
    vectors instead of the product, no ``tanh`` in the hidden layer, nothing returned).
    Returns the learner's logits.
    """
    gen = torch.Generator().manual_seed(6)
    q = torch.rand(5, 8, generator=gen) * 2 - 1  # (B, dim)
    v = torch.rand(5, 8, generator=gen) * 2 - 1  # (B, dim)
    head = answer_head(8, 4, hidden=6)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    w1, b1, w2, b2 = head[0].weight, head[0].bias, head[2].weight, head[2].bias  # (6, 8), (6,), (4, 6), (4,)
    with torch.no_grad():
        expected = pointwise_fusion(q, v, head)  # (B, A)
        got = fn(q.clone(), v.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone())
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the logits?")
        checks.shape(got, (5, 4), name="logits")
        got = torch.as_tensor(got, dtype=expected.dtype)  # (B, A)
        wrong = {
            "the sum q + v: the fusion is an element-wise product, so that the question can switch image features off":
                head(q + v),
            "no tanh after the hidden layer: without it the two layers collapse into one linear map":
                (q * v) @ w1.T @ w2.T + b1 @ w2.T + b2,
            "the image vector alone: the question never enters": head(v),
            "the question vector alone: the image never enters": head(q),
            "a tanh on the output too: the logits must be left unbounded for the softmax": torch.tanh(expected),
        }
        for mistake, value in wrong.items():
            if torch.allclose(got, value, atol=1e-5):
                raise checks.CheckFailed(f"the logits match {mistake}")
    checks.close(got, expected, name="logits", tol=1e-5)
    return got


def check_per_type_accuracy(fn: Any, type_names: Sequence[str] = ("colour", "shape", "count")) -> None:
    """Exercise check: ``fn(predictions, answers, types, type_names)`` against :func:`per_type_accuracy`.

    A small hand-made case (one type without questions must give ``nan``, ``"overall"``
    is the mean over *questions*, not over types) and a random one.
    """
    pred = torch.tensor([1, 2, 3, 3, 0, 5])  # (Q,)
    true = torch.tensor([1, 2, 0, 3, 1, 5])  # (Q,)
    kind = torch.tensor([0, 0, 0, 0, 2, 2])  # (Q,) no question of type 1
    cases = [(pred, true, kind)]
    gen = torch.Generator().manual_seed(7)
    cases.append((torch.randint(0, 4, (200,), generator=gen), torch.randint(0, 4, (200,), generator=gen),
                  torch.randint(0, len(type_names), (200,), generator=gen)))
    for k, (p, t, y) in enumerate(cases):
        expected = per_type_accuracy(p, t, y, type_names)
        got = fn(p.clone(), t.clone(), y.clone(), type_names)
        if not isinstance(got, dict):
            raise checks.CheckFailed(f"expected a dict {{type name: accuracy, ..., 'overall': accuracy}}, got {type(got).__name__}")
        missing = [key for key in expected if key not in got]
        if missing:
            raise checks.CheckFailed(f"the result has no entry for {missing}")
        for key, value in expected.items():
            mine = float(got[key])
            if math.isnan(value):
                checks.true(math.isnan(mine), f"'{key}' has no questions in case {k + 1}: its accuracy must be nan, got {mine}")
            elif key == "overall" and not abs(mine - value) < 1e-6:
                types_mean = float(np.nanmean([expected[n] for n in type_names]))
                hint = " (that is the mean of the per-type accuracies; take the mean over all questions)" if abs(mine - types_mean) < 1e-6 else ""
                raise checks.CheckFailed(f"'overall' is {mine:.4f} in case {k + 1}, expected {value:.4f}{hint}")
            else:
                checks.true(abs(mine - value) < 1e-6, f"'{key}' is {mine:.4f} in case {k + 1}, expected {value:.4f}")


def check_most_frequent_answer(fn: Any) -> None:
    """Exercise check: ``fn(keys, answers, query_keys, n_answers)`` against :func:`most_frequent_answer`.

    A hand-made case (every key has one clear winner, the most frequent answer overall is
    another one, one query key never occurs in training) names the usual mistakes: one
    answer for everything, a wrong answer for an unseen key, one answer per key instead of
    one per query. A random case follows (compared only where a key's winner is unique,
    so any way of breaking ties passes).
    """
    keys = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])  # (N,)
    answers = torch.tensor([3, 3, 1, 3, 4, 2, 4, 1, 0, 1, 1, 1])  # (N,) winners: 3, 4, 1; overall: 1
    query = torch.tensor([0, 1, 2, 5, 1, 0, 2])  # (Q,) key 5 never occurs in training
    gen = torch.Generator().manual_seed(8)
    random_keys = torch.randint(0, 10, (400,), generator=gen)  # (N,)
    random_answers = (random_keys * 7 + torch.randint(0, 4, (400,), generator=gen) ** 2) % 24  # (N,) key-dependent
    random_query = torch.randint(0, 12, (300,), generator=gen)  # (Q,) keys 10 and 11 are unseen
    cases = [(keys, answers, query, 5), (random_keys, random_answers, random_query, 24)]
    for case, (k, a, qk, n) in enumerate(cases, 1):
        expected = most_frequent_answer(k, a, qk, n)  # (Q,)
        got = fn(k.clone(), a.clone(), qk.clone(), n)
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the predicted answers?")
        got = torch.as_tensor(got)
        if got.shape != expected.shape:
            per_key = " (one answer per key: index them by query_keys)" if got.dim() == 1 else ""
            raise checks.CheckFailed(f"expected one answer id per query key, shape {tuple(expected.shape)}, "
                                     f"got {tuple(got.shape)}{per_key}")
        if got.is_floating_point() and not bool((got == got.round()).all()):
            raise checks.CheckFailed("the answers must be integer answer ids, got fractions")
        got = got.long()  # (Q,)
        counts = torch.zeros(int(qk.max()) + 1, n).index_put_((k, a), torch.ones(len(k)), accumulate=True)  # (K, A)
        top2 = counts.topk(2, dim=1).values  # (K, 2)
        clear = (top2[:, 0] > top2[:, 1])[qk] | (counts.sum(1) == 0)[qk]  # (Q,) a unique winner, or unseen
        if case == 1:
            overall = int(counts.sum(0).argmax())
            if bool((got == overall).all()):
                raise checks.CheckFailed(f"every query gets answer {overall}, the most frequent answer overall: "
                                         "count the answers of each key separately")
            unseen = counts.sum(1)[qk] == 0  # (Q,)
            if bool((got[~unseen] == expected[~unseen]).all()) and not bool((got[unseen] == expected[unseen]).all()):
                raise checks.CheckFailed(f"the seen keys are right, but key {int(qk[unseen][0])} never occurs in the "
                                         f"training questions: it must get the most frequent answer overall "
                                         f"({overall}), got {int(got[unseen][0])}")
        wrong = torch.nonzero(clear & (got != expected))[:, 0]
        if len(wrong):
            j = int(wrong[0])
            raise checks.CheckFailed(f"query {j} in case {case} (key {int(qk[j])}): got answer {int(got[j])}, "
                                     f"expected {int(expected[j])}, the most frequent answer of that key "
                                     f"({len(wrong)} of {len(qk)} queries differ)")


# ----------------------------------------------------------------------------------------
# The lesson's data, made once and cached
# ----------------------------------------------------------------------------------------

FEATURES_VERSION = "1"
"""Version of :func:`global_features`; part of the cache key of :func:`lesson_data`."""


def lesson_data(n_train: int, n_test: int, per_scene: int = 3, test_per_scene: int = 4, skew: float = 0.9,
                image_size: int = 64, verbose: bool = True) -> dict[str, Any]:
    """Scenes, frozen-encoder features and questions of lesson 06, built once and cached.

    The training scenes come from the world's ``"train"`` seed and the test scenes from its
    ``"test"`` seed (:func:`~mmcourse.world.datasets.split_seed`), so they never share a
    scene. The *same* training scenes get two question sets: a balanced one (``skew=0``)
    and a skewed one (``skew``); the test questions are always balanced.

    Returns a dict: ``"train"`` and ``"test"`` features (see :func:`extract_features`),
    ``"balanced"``, ``"skewed"`` and ``"test_questions"`` (:class:`QuestionSet` dicts, read
    them with ``QuestionSet(**d)``), ``"test_images"`` a uint8 tensor ``(n_test, 3, S, S)``.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("per_scene", per_scene), ("test_per_scene", test_per_scene)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0 <= skew <= 1:
        raise ValueError(f"skew must be in [0, 1], got {skew!r}")
    encoder_config = EncoderConfig.for_preset(preset())
    if encoder_config.image_size != image_size:
        encoder_config = dataclasses.replace(encoder_config, image_size=image_size)
    config = {"n_train": n_train, "n_test": n_test, "per_scene": per_scene, "test_per_scene": test_per_scene,
              "skew": float(skew), "encoder": dataclasses.asdict(encoder_config), "world": GENERATOR_VERSION,
              "grammar": GRAMMAR_VERSION, "features": FEATURES_VERSION}

    def build() -> dict[str, Any]:
        encoder = pretrained_grid_encoder(encoder_config, progress=verbose)
        vocab, answers = course_vocabulary(), answer_vocabulary()
        train_scenes = sample_scenes(n_train, seed=split_seed("train"))
        test_scenes = sample_scenes(n_test, seed=split_seed("test"))
        test_images = _render(test_scenes, image_size)  # (n_test, S, S, 3) uint8
        seed = split_seed("train")
        sets = {
            "balanced": questions(train_scenes, per_scene=per_scene, seed=seed),
            "skewed": questions(train_scenes, per_scene=per_scene, seed=seed, skew=skew),
            "test_questions": questions(test_scenes, per_scene=test_per_scene, seed=split_seed("test")),
        }
        out = {name: QuestionSet.build(qs, vocab, answers, QUESTION_TYPES).to_dict() for name, qs in sets.items()}
        out["train"] = extract_features(encoder, _render(train_scenes, image_size))
        out["test"] = extract_features(encoder, test_images)
        out["test_images"] = torch.from_numpy(test_images)  # (n_test, S, S, 3) as rendered; moved channel-first below
        return out

    def _render(scenes: Any, size: int, chunk: int = 2000) -> np.ndarray:
        return np.concatenate([render(scenes[i : i + chunk], size=size).images for i in range(0, len(scenes), chunk)])  # (N, S, S, 3)

    data = cache.cached("vqa-lesson-data", config, build, verbose=verbose)
    data["test_images"] = data["test_images"].permute(0, 3, 1, 2).contiguous()  # (n_test, 3, S, S) uint8
    return data
