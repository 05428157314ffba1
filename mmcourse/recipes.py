"""A joint embedding of recipes and dishes: im2recipe (Salvador et al., 2017) in the course world.

A recipe of the world is an ingredient list and **ordered** steps; the steps paint the dish,
and later steps cover earlier ones, so the order changes the picture. Both go into one space:

- :class:`RecipeEncoder` — the ingredients through a bidirectional LSTM over the (frozen) word
  vectors of lesson 01; every step turned into a step vector (the mean of its words' vectors);
  an LSTM reads the step vectors *in order*; both summaries concatenated -> FC -> unit vector.
- :class:`BagOfWordsEncoder` — the baseline that ignores order: every step's word mean through
  the same kind of layer, then the mean over steps. Two recipes with the same steps in another
  order get the same embedding, by construction.
- :class:`ImageEmbedding` — the frozen course image encoder's 8x8 grid -> FC -> unit vector.
- :func:`cosine_embedding_loss` — ``1 - cos`` for a matching pair, ``max(0, cos - margin)`` for a
  mismatched one; :func:`semantic_regularization` — one classifier, shared by both modalities,
  predicts the recipe's category from either embedding.
- :func:`fit_cca` — the classic baseline: CCA between the same frozen features.
- :func:`order_twins` — held-out recipes with two overlapping object steps swapped, so that
  :func:`~mmcourse.world.language.render_recipe` paints another picture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from . import cache, checks, retrieval
from .encoders import EncoderConfig, encode, pretrained_grid_encoder
from .runtime import device as default_device
from .runtime import preset, seed_everything
from .training import History, train
from .world.datasets import SceneData
from .world.language import RECIPE_CATEGORIES, Recipe, render_recipe
from .world.scenes import GENERATOR_VERSION, render, to_tensor
from .world.vocab import tokenize

N_CATEGORIES = len(RECIPE_CATEGORIES)


# ----------------------------------------------------------------------------------------
# Recipes as tensors
# ----------------------------------------------------------------------------------------


class WordTable:
    """Word ids for the recipe encoders: id 0 is padding, id ``i + 1`` is ``vectors.words[i]``.

    ``matrix`` ``(V + 1, D)``: the frozen unit word vectors of lesson 01, a zero row first.
    """

    def __init__(self, vectors: Any) -> None:
        self.words = list(vectors.words)
        self.index = {w: i + 1 for i, w in enumerate(self.words)}
        self.matrix = torch.cat([torch.zeros(1, vectors.dim), vectors.matrix.float()])  # (V + 1, D)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def ids(self, text: str) -> tuple[list[int], list[str]]:
        """Ids of the known words of ``text`` and the list of unknown ones."""
        words = [w for w in tokenize(text) if w.isalnum()]
        known = [self.index[w] for w in words if w in self.index]
        unknown = [w for w in words if w not in self.index]
        return known, unknown


def validate_recipe(ingredients: Any, steps: Any, table: WordTable) -> tuple[list[list[int]], list[list[int]]]:
    """Word ids of one recipe's ingredient lines and steps, or a ``ValueError`` naming the argument.

    An empty ingredient list or step list, a line that is not a string, and a step (or line)
    whose words are all unknown to the word vectors are errors.
    """
    out = []
    for name, lines in (("ingredients", ingredients), ("steps", steps)):
        if isinstance(lines, str) or not isinstance(lines, Sequence) or not all(isinstance(s, str) for s in lines):
            raise ValueError(f"{name} must be a list of strings, got {type(lines).__name__}")
        if not lines:
            raise ValueError(f"{name} is empty: a recipe needs at least one line of {name}")
        ids = []
        for i, line in enumerate(lines):
            known, unknown = table.ids(line)
            if not known:
                raise ValueError(f"{name}[{i}] has no word the word vectors know ({line!r}; unknown: {unknown})")
            ids.append(known)
        out.append(ids)
    return out[0], out[1]


@dataclasses.dataclass
class RecipeBatch:
    """Recipes as padded word ids.

    ``ingredients`` ``(N, Li)`` all ingredient words in a row, ``n_ingredient_words`` ``(N,)``;
    ``steps`` ``(N, S, W)`` the words of every step, ``n_steps`` ``(N,)``.

    ``cpu_lengths``: CPU copies of ``(n_ingredient_words, n_steps)`` when those live on an
    accelerator (set by :meth:`to`). The packed LSTMs of :class:`RecipeEncoder` need the lengths
    on the CPU, and reading them back from the device would wait for it at every step.
    """

    ingredients: torch.Tensor
    n_ingredient_words: torch.Tensor
    steps: torch.Tensor
    n_steps: torch.Tensor
    cpu_lengths: tuple[torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        return int(self.ingredients.shape[0])

    def lengths_cpu(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n_ingredient_words (N,), n_steps (N,))`` on the CPU (the kept copies, if any)."""
        if self.cpu_lengths is not None:
            return self.cpu_lengths
        return self.n_ingredient_words.cpu(), self.n_steps.cpu()

    def __getitem__(self, index: Any) -> "RecipeBatch":
        """Rows ``index``; the CPU copies of the lengths follow unless ``index`` is a tensor on
        an accelerator (use :meth:`take` to keep them)."""
        on_cpu = not (torch.is_tensor(index) and index.device.type != "cpu")
        cpu = tuple(x[index] for x in self.cpu_lengths) if self.cpu_lengths is not None and on_cpu else None
        return RecipeBatch(self.ingredients[index], self.n_ingredient_words[index], self.steps[index], self.n_steps[index],
                           cpu)

    def take(self, index: torch.Tensor, cpu_index: torch.Tensor) -> "RecipeBatch":
        """Rows ``index`` (a tensor on this batch's device), with the CPU copies of their lengths
        gathered by ``cpu_index`` (the same rows, on the CPU): no read-back from the device."""
        lengths = self.lengths_cpu()
        cpu = (lengths[0][cpu_index], lengths[1][cpu_index]) if self.n_steps.device.type != "cpu" else None
        return RecipeBatch(self.ingredients[index], self.n_ingredient_words[index], self.steps[index], self.n_steps[index],
                           cpu)

    def to(self, dev: Any) -> "RecipeBatch":
        """The batch on ``dev``; on an accelerator it keeps CPU copies of the lengths (``cpu_lengths``)."""
        cpu = None
        if torch.device(dev).type != "cpu":
            cpu = self.cpu_lengths if self.cpu_lengths is not None else (self.n_ingredient_words.cpu(), self.n_steps.cpu())
        return RecipeBatch(self.ingredients.to(dev), self.n_ingredient_words.to(dev), self.steps.to(dev), self.n_steps.to(dev),
                           cpu)


def concat_batches(a: RecipeBatch, b: RecipeBatch) -> RecipeBatch:
    """The rows of ``a`` then those of ``b``, padded to common sizes."""
    li = max(a.ingredients.shape[1], b.ingredients.shape[1])
    s = max(a.steps.shape[1], b.steps.shape[1])
    w = max(a.steps.shape[2], b.steps.shape[2])

    def pad(x: RecipeBatch) -> tuple[torch.Tensor, torch.Tensor]:
        ing = F.pad(x.ingredients, (0, li - x.ingredients.shape[1]))  # (N, Li)
        steps = F.pad(x.steps, (0, w - x.steps.shape[2], 0, s - x.steps.shape[1]))  # (N, S, W)
        return ing, steps

    (ia, sa), (ib, sb) = pad(a), pad(b)
    cpu = None
    if a.cpu_lengths is not None or b.cpu_lengths is not None:  # keep the CPU copies of the lengths
        (la_i, la_s), (lb_i, lb_s) = a.lengths_cpu(), b.lengths_cpu()
        cpu = (torch.cat([la_i, lb_i]), torch.cat([la_s, lb_s]))  # (N,), (N,)
    return RecipeBatch(torch.cat([ia, ib]), torch.cat([a.n_ingredient_words, b.n_ingredient_words]),
                       torch.cat([sa, sb]), torch.cat([a.n_steps, b.n_steps]), cpu)


def recipe_batch(recipes: Sequence[Any], table: WordTable) -> RecipeBatch:
    """Pad ``recipes`` (:class:`Recipe` objects or ``(ingredients, steps)`` pairs) into a :class:`RecipeBatch`."""
    if isinstance(recipes, (Recipe, tuple)) or not isinstance(recipes, Sequence) or not len(recipes):
        raise ValueError("recipes must be a non-empty list of Recipe objects or (ingredients, steps) pairs")
    parsed = []
    for r in recipes:
        ingredients, steps = (r.ingredients, r.steps) if isinstance(r, Recipe) else r
        ing, st = validate_recipe(ingredients, steps, table)
        parsed.append(([w for line in ing for w in line], st))
    n = len(parsed)
    li = max(len(i) for i, _ in parsed)
    s = max(len(st) for _, st in parsed)
    w = max(len(step) for _, st in parsed for step in st)
    ingredients = torch.zeros(n, li, dtype=torch.long)  # (N, Li)
    steps = torch.zeros(n, s, w, dtype=torch.long)  # (N, S, W)
    for b, (ing, st) in enumerate(parsed):
        ingredients[b, : len(ing)] = torch.tensor(ing)
        for k, step in enumerate(st):
            steps[b, k, : len(step)] = torch.tensor(step)
    n_ing = torch.tensor([len(i) for i, _ in parsed])  # (N,)
    n_steps = torch.tensor([len(st) for _, st in parsed])  # (N,)
    return RecipeBatch(ingredients, n_ing, steps, n_steps)


# ----------------------------------------------------------------------------------------
# Encoders
# ----------------------------------------------------------------------------------------


def _step_vectors(embed: nn.Embedding, steps: torch.Tensor) -> torch.Tensor:
    """The mean word vector of every step: ``(N, S, W)`` ids -> ``(N, S, D)`` (zeros for padding steps)."""
    words = embed(steps)  # (N, S, W, D)
    counts = (steps > 0).sum(-1, keepdim=True).clamp(min=1)  # (N, S, 1)
    return words.sum(2) / counts  # (N, S, D)


def _pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    """``pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)`` for ``x``
    ``(N, L, D)`` on any device and ``lengths`` ``(N,)`` on the CPU, without waiting for the
    device: the sort order goes to it with ``non_blocking`` (the library's own copy waits).
    The same sort, the same gather and the same packing as the library's."""
    lengths, order = torch.sort(lengths.to(dtype=torch.int64), descending=True)  # (N,), (N,) on the CPU
    order = order.to(x.device, non_blocking=True)  # (N,)
    packed = pack_padded_sequence(x.index_select(0, order), lengths, batch_first=True)  # already sorted
    return PackedSequence(packed.data, packed.batch_sizes, order)


def _frozen_embedding(matrix: torch.Tensor) -> nn.Embedding:
    """A frozen embedding table holding ``matrix`` ``(V, D)`` (row 0 is padding); draws no random numbers."""
    embed = nn.Embedding(matrix.shape[0], matrix.shape[1], padding_idx=0, _weight=matrix)  # (V, D)
    embed.weight.requires_grad_(False)
    return embed


class RecipeEncoder(nn.Module):
    """im2recipe's recipe encoder: ingredients through a bidirectional LSTM, steps in order
    through an LSTM over step vectors; both joined -> FC -> a unit vector ``(N, E)``.

    The word vectors are frozen (a copy of ``table.matrix``); a step vector is the mean of its
    words' vectors passed through a small layer (``step``), so the step LSTM sees what each
    step paints, and the order in which it paints it.
    """

    ordered = True

    def __init__(self, table: WordTable, dim: int = 128, hidden: int = 128) -> None:
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ValueError(f"dim and hidden must be positive, got {dim} and {hidden}")
        d = table.dim
        self.embed = _frozen_embedding(table.matrix.clone())
        self.ingredients = nn.LSTM(d, hidden // 2, batch_first=True, bidirectional=True)
        self.step = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.steps = nn.LSTM(hidden, hidden, batch_first=True)
        self.fc = nn.Sequential(nn.Linear(2 * hidden, dim), nn.BatchNorm1d(dim))

    def forward(self, recipes: RecipeBatch) -> torch.Tensor:
        n_ingredient_words, n_steps = recipes.lengths_cpu()  # (N,), (N,) on the CPU
        ing = self.embed(recipes.ingredients)  # (N, Li, D)
        packed = _pack(ing, n_ingredient_words)
        _, (h_ing, _) = self.ingredients(packed)  # h_ing: (2, N, H/2) last state of each direction
        ing_summary = torch.cat([h_ing[0], h_ing[1]], dim=1)  # (N, H)
        steps = self.step(_step_vectors(self.embed, recipes.steps))  # (N, S, H)
        packed = _pack(steps, n_steps)
        _, (h_steps, _) = self.steps(packed)  # h_steps: (1, N, H) the state after the last step
        joined = torch.cat([ing_summary, h_steps[0]], dim=1)  # (N, 2H)
        return F.normalize(self.fc(joined), dim=1)  # (N, E)


class BagOfWordsEncoder(nn.Module):
    """The order-blind baseline: each ingredient line and each step is the mean of its words'
    vectors through a small layer; the recipe is the mean of its ingredient words and of its
    steps -> FC -> a unit vector ``(N, E)``. Any order of the same steps gives the same vector."""

    ordered = False

    def __init__(self, table: WordTable, dim: int = 128, hidden: int = 128) -> None:
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ValueError(f"dim and hidden must be positive, got {dim} and {hidden}")
        d = table.dim
        self.embed = _frozen_embedding(table.matrix.clone())
        self.ingredient = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.step = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.fc = nn.Sequential(nn.Linear(2 * hidden, dim), nn.BatchNorm1d(dim))

    def forward(self, recipes: RecipeBatch) -> torch.Tensor:
        ing = self.embed(recipes.ingredients).sum(1) / recipes.n_ingredient_words[:, None].clamp(min=1)  # (N, D)
        steps = self.step(_step_vectors(self.embed, recipes.steps))  # (N, S, H)
        real = (torch.arange(steps.shape[1], device=steps.device)[None, :] < recipes.n_steps[:, None]).float()  # (N, S)
        step_mean = (steps * real[:, :, None]).sum(1) / real.sum(1, keepdim=True).clamp(min=1)  # (N, H)
        joined = torch.cat([self.ingredient(ing), step_mean], dim=1)  # (N, 2H)
        return F.normalize(self.fc(joined), dim=1)  # (N, E)


def validate_grids(grids: Any, name: str = "grids", dim: int | None = None, cells: int | None = None) -> torch.Tensor:
    """``grids`` as a float tensor ``(N, C, g, g)``, else a ``ValueError`` naming it."""
    if not torch.is_tensor(grids) or grids.dim() != 4 or grids.shape[0] < 1 or grids.shape[2] != grids.shape[3]:
        got = tuple(grids.shape) if torch.is_tensor(grids) else type(grids).__name__
        raise ValueError(f"{name} must be encoder grids (N, C, g, g) with N >= 1, got {got}")
    if (dim is not None and grids.shape[1] != dim) or (cells is not None and grids.shape[2] != cells):
        raise ValueError(f"{name} must be ({'N'}, {dim}, {cells}, {cells}) grids of the frozen encoder, got "
                         f"{tuple(grids.shape)}: was the image of the wrong size?")
    return grids.float()


class ImageEmbedding(nn.Module):
    """The image side: the frozen encoder's grid ``(N, C, g, g)`` -> a 1x1 layer that shrinks each
    cell -> the cells flattened (where things are matters: the recipe says where it puts them)
    -> FC -> a unit vector ``(N, E)``."""

    def __init__(self, channels: int = 64, cells: int = 8, dim: int = 128, reduce: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.channels, self.cells = channels, cells
        self.reduce = nn.Sequential(nn.Conv2d(channels, reduce, 1), nn.ReLU())
        self.fc = nn.Sequential(nn.Linear(reduce * cells * cells, hidden), nn.ReLU(), nn.Linear(hidden, dim), nn.BatchNorm1d(dim))

    def forward(self, grids: torch.Tensor) -> torch.Tensor:
        grids = validate_grids(grids, "grids", self.channels, self.cells)  # (N, C, g, g)
        x = self.reduce(grids).flatten(1)  # (N, r * g * g)
        return F.normalize(self.fc(x), dim=1)  # (N, E)


class JointEmbedding(nn.Module):
    """A recipe encoder, an image embedding, and the shared category classifier of the
    semantic regularization (a linear layer that reads either modality's embedding)."""

    def __init__(self, recipe: nn.Module, image: ImageEmbedding, dim: int, n_categories: int = N_CATEGORIES) -> None:
        super().__init__()
        self.recipe, self.image = recipe, image
        self.classifier = nn.Linear(dim, n_categories)

    def forward(self, grids: torch.Tensor, recipes: RecipeBatch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image(grids), self.recipe(recipes)  # (N, E), (N, E)


def build_model(kind: str, table: WordTable, dim: int = 128, hidden: int = 128) -> JointEmbedding:
    """``kind`` ``"ordered"`` (:class:`RecipeEncoder`) or ``"bag"`` (:class:`BagOfWordsEncoder`)."""
    encoders = {"ordered": RecipeEncoder, "bag": BagOfWordsEncoder}
    if kind not in encoders:
        raise ValueError(f"kind must be one of {tuple(encoders)}, got {kind!r}")
    return JointEmbedding(encoders[kind](table, dim, hidden), ImageEmbedding(dim=dim), dim)


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------


def cosine_embedding_loss(a: torch.Tensor, b: torch.Tensor, match: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """im2recipe's cosine loss on pairs of rows: ``1 - cos(a_i, b_i)`` for a matching pair,
    ``max(0, cos(a_i, b_i) - margin)`` for a mismatched one; the mean over the pairs.

    ``a`` and ``b`` are ``(P, E)`` (one pair per row), ``match`` ``(P,)`` bool. The same as
    ``torch.nn.functional.cosine_embedding_loss`` with targets +1 / -1.
    """
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must both be (P, E), got {tuple(a.shape)} and {tuple(b.shape)}")
    if match.shape != a.shape[:1] or match.dtype != torch.bool:
        raise ValueError(f"match must be a bool tensor ({a.shape[0]},), got {match.dtype} {tuple(match.shape)}")
    cos = F.cosine_similarity(a, b, dim=1)  # (P,)
    per_pair = torch.where(match, 1 - cos, (cos - margin).clamp(min=0))  # (P,)
    return per_pair.mean()  # ()


def semantic_regularization(image_logits: torch.Tensor, recipe_logits: torch.Tensor, category: torch.Tensor,
                            weight: float = 0.02) -> torch.Tensor:
    """The semantic regularization term: the shared classifier's cross-entropy on the image
    embeddings plus that on the recipe embeddings, times ``weight`` (im2recipe: 0.02).

    ``image_logits`` and ``recipe_logits`` ``(N, K)`` come from *one* classifier applied to each
    modality's embedding; ``category`` ``(N,)`` is the pair's category index.
    """
    if image_logits.dim() != 2 or recipe_logits.shape != image_logits.shape:
        raise ValueError(f"image_logits and recipe_logits must both be (N, K), got "
                         f"{tuple(image_logits.shape)} and {tuple(recipe_logits.shape)}")
    if category.shape != image_logits.shape[:1]:
        raise ValueError(f"category must be ({image_logits.shape[0]},), got {tuple(category.shape)}")
    return weight * (F.cross_entropy(image_logits, category) + F.cross_entropy(recipe_logits, category))  # ()


def batch_cosine_loss(image: torch.Tensor, recipe: torch.Tensor, margin: float = 0.1,
                      mismatch: float = 0.8) -> torch.Tensor:
    """:func:`cosine_embedding_loss` on *every* pairing of a batch of unit vectors ``(B, E)``:
    image ``i`` with recipe ``i`` (a match) and with every other recipe (a mismatch).

    The matches' mean loss weighs ``1 - mismatch``, the mismatches' ``mismatch``: what drawing
    a share ``mismatch`` of mismatched pairs at random (:func:`draw_pairs`) gives on average,
    without the noise of the draw, and with all ``B (B - 1)`` mismatches of the batch at the
    cost of one ``(B, B)`` matrix product.
    """
    if image.dim() != 2 or image.shape != recipe.shape or image.shape[0] < 2:
        raise ValueError(f"image and recipe must both be (B, E) with B >= 2, got {tuple(image.shape)} and {tuple(recipe.shape)}")
    cos = F.normalize(image, dim=1) @ F.normalize(recipe, dim=1).T  # (B, B) cosine of every pairing
    # the mismatches: every (i, j) with i != j, listed on the CPU (a boolean mask of the matrix on a GPU
    # would make the step wait for the device to count its entries)
    rows, cols = (~torch.eye(len(cos), dtype=torch.bool)).nonzero(as_tuple=True)  # (B(B-1),) each
    mismatched = cos[rows.to(cos.device, non_blocking=True), cols.to(cos.device, non_blocking=True)]  # (B(B-1),)
    positive = (1 - cos.diagonal()).mean()  # () matches
    negative = (mismatched - margin).clamp(min=0).mean()  # () mismatches
    return (1 - mismatch) * positive + mismatch * negative  # ()


def twin_ranking_loss(image: torch.Tensor, recipe: torch.Tensor, twin: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """``max(0, margin - cos(image, recipe) + cos(image, twin))``, the mean over rows ``(B, E)``:
    each picture must be nearer the recipe that painted it than that recipe's order twin."""
    right = F.cosine_similarity(image, recipe, dim=1)  # (B,)
    wrong = F.cosine_similarity(image, twin, dim=1)  # (B,)
    return (margin - right + wrong).clamp(min=0).mean()  # ()


def draw_pairs(n: int, mismatch: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pairs for a batch of ``n`` (image, recipe) rows: image ``i`` with recipe ``j``.

    Each image is paired with its own recipe, and with ``round(mismatch / (1 - mismatch))``
    recipes of other rows, so that a share ``mismatch`` of the pairs are mismatches (im2recipe
    draws 80%). Returns ``(image index (P,), recipe index (P,), match (P,) bool)``.
    """
    per = max(1, round(mismatch / (1 - mismatch)))
    rows = torch.arange(n)  # (n,)
    shift = torch.randint(1, n, (n, per), generator=generator)  # (n, per) never 0: another row
    others = (rows[:, None] + shift) % n  # (n, per)
    image = torch.cat([rows, rows.repeat_interleave(per)])  # (P,)
    recipe = torch.cat([rows, others.flatten()])  # (P,)
    return image, recipe, image == recipe


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecipeConfig:
    """Sizes and training settings of lesson 03."""

    n_train: int = 5000
    n_val: int = 1000
    n_test: int = 2000
    data_seed: int = 3
    max_overlap: float = 0.5
    steps: int = 300
    evaluations: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    dim: int = 128
    hidden: int = 128
    margin: float = 0.1
    mismatch: float = 0.8
    semantic_weight: float = 0.02
    twin_weight: float = 0.0
    twin_margin: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test", "steps", "evaluations", "batch_size", "dim", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.steps % self.evaluations:
            raise ValueError(f"steps ({self.steps}) must be a multiple of evaluations ({self.evaluations})")
        if not 0 < self.mismatch < 1:
            raise ValueError(f"mismatch must be in (0, 1), got {self.mismatch!r}")
        if not self.lr > 0 or not self.margin >= 0 or not self.semantic_weight >= 0:
            raise ValueError("lr must be > 0, margin and semantic_weight >= 0")

    @classmethod
    def for_preset(cls, preset: Any) -> "RecipeConfig":
        return preset.pick(cpu=cls(), gpu=cls(n_train=20000, n_val=2000, n_test=5000, steps=3000, evaluations=10,
                                              batch_size=256, dim=256, hidden=256))


@dataclasses.dataclass
class PairData:
    """One split: image grids ``(N, C, g, g)``, recipes as ids, categories ``(N,)``, the
    scenes' recipes and pictures ``(N, 3, S, S)`` uint8; and for the scenes ``twin_index``
    ``(T,)`` that admit an order twin (:func:`scene_twin_pairs`), the twin recipes as ids and
    the grids of the twin pictures ``(T, C, g, g)``."""

    grids: torch.Tensor
    recipes: RecipeBatch
    category: torch.Tensor
    texts: list[Recipe]
    images: torch.Tensor
    twin_index: torch.Tensor
    twins: RecipeBatch
    twin_grids: torch.Tensor

    def __len__(self) -> int:
        return len(self.category)

    def __repr__(self) -> str:
        return f"PairData({len(self)} image-recipe pairs, grids {tuple(self.grids.shape[1:])})"


def pair_data(split: str, n: int, seed: int, table: WordTable, encoder: Any, size: int = 64,
              min_pixels: int = 20, max_overlap: float = 0.5) -> PairData:
    """``n`` scenes of ``split`` with their recipes; the frozen encoder's grids computed once (cached)."""
    scenes = SceneData(split, n, size, seed, text=True, max_overlap=max_overlap)

    def build() -> dict[str, torch.Tensor]:
        return {"grids": encode(encoder, scenes.images).half()}  # (N, C, g, g)

    key = {"split": split, "n": n, "seed": seed, "size": size, "max_overlap": max_overlap, "world": GENERATOR_VERSION,
           "encoder_weights": cache.fingerprint(encoder)}
    grids = cache.cached("recipe_grids", key, build, verbose=False)["grids"].float()  # (N, C, g, g)
    category = torch.tensor([r.category for r in scenes.recipes])  # (N,)
    pairs = scene_twin_pairs(scenes, min_pixels)
    index = [i for i, p in enumerate(pairs) if p is not None]
    twin_recipes = []
    for i in index:
        r = scenes.recipes[i]
        steps = twin_steps(r, *pairs[i])
        twin_recipes.append((twin_ingredients(r.ingredients, steps), steps))

    def build_twins() -> dict[str, torch.Tensor]:
        swapped = swap_objects(scenes.scenes, index, [pairs[i] for i in index])
        pictures = to_tensor(render(swapped, size=size).images)  # (T, 3, S, S) float
        return {"grids": encode(encoder, pictures).half()}  # (T, C, g, g)

    twin_grids = cache.cached("recipe_twin_grids", key | {"min_pixels": min_pixels}, build_twins, verbose=False)["grids"]
    return PairData(grids, recipe_batch(scenes.recipes, table), category, list(scenes.recipes), scenes.images,
                    torch.tensor(index, dtype=torch.long), recipe_batch(twin_recipes, table), twin_grids.float())


def twin_ingredients(ingredients: Sequence[str], steps: Sequence[str]) -> list[str]:
    """The ingredient list as the world writes it for ``steps``: the base first, then each kind of
    object in the order its first step paints it (so an order twin's ingredients give nothing away)."""
    from .world.language import parse_recipe_steps

    order = [(o["size"], o["colour"], o["shape"]) for o in parse_recipe_steps(list(steps))]

    def first_step(line: str) -> int:
        words = line.split()  # "two large red stars"
        for k, (size, colour, shape) in enumerate(order):
            if words[1:3] == [size, colour] and words[3] in (shape, shape + "s", shape + "es"):
                return k
        return len(order)

    return [ingredients[0], *sorted(ingredients[1:], key=first_step)]


def twin_steps(recipe: Recipe, a: int, b: int) -> list[str]:
    """``recipe``'s steps with object steps ``a`` and ``b`` (from 0) swapped."""
    steps = list(recipe.steps)
    first = len(steps) - len(recipe.order)  # object k is painted by step first + k
    steps[first + a], steps[first + b] = steps[first + b], steps[first + a]
    return steps


def scene_twin_pairs(scenes: SceneData, min_pixels: int = 20) -> list[tuple[int, int] | None]:
    """For every scene, the pair of objects ``(a, b)`` of different colours whose masks overlap most
    (at least ``min_pixels`` pixels: those whose colour a swap of the two changes); ``None`` where
    no pair qualifies."""
    out: list[tuple[int, int] | None] = []
    for i in range(len(scenes)):
        n = int(scenes.scenes.n_objects[i])
        if n < 2:
            out.append(None)
            continue
        masks = scenes.masks(i)[:n].flatten(1).float()  # (n, S*S)
        overlap = masks @ masks.T  # (n, n) pixels two objects share
        colour = torch.as_tensor(scenes.scenes.colour[i][:n])  # (n,)
        overlap = overlap * (colour[:, None] != colour[None, :]) * torch.ones(n, n).triu(1)  # (n, n) a < b, colours differ
        out.append(divmod(int(overlap.argmax()), n) if float(overlap.max()) >= min_pixels else None)
    return out


def swap_objects(scenes: Any, index: Sequence[int], pairs: Sequence[tuple[int, int]]) -> Any:
    """The scenes ``index`` with objects ``pairs[j]`` swapped in painting order (a ``SceneBatch``)."""
    sub = scenes[np.asarray(index, dtype=np.int64)]
    fields = {f.name: np.array(getattr(sub, f.name)) for f in dataclasses.fields(sub)}
    for j, (a, b) in enumerate(pairs):
        for name, value in fields.items():
            if value.ndim == 2:  # (N, K) per-object fields
                value[j, [a, b]] = value[j, [b, a]]
    return type(sub)(**fields)


def lesson_data(config: RecipeConfig, vectors: Any, encoder_config: EncoderConfig | None = None) -> dict[str, Any]:
    """The lesson's splits (train / val / test, which never share a scene), the word table and the encoder."""
    encoder_config = encoder_config or EncoderConfig.for_preset(preset())
    encoder = pretrained_grid_encoder(encoder_config)
    table = WordTable(vectors)
    size = encoder_config.image_size
    out = {name: pair_data(name, n, config.data_seed, table, encoder, size, max_overlap=config.max_overlap)
           for name, n in (("train", config.n_train), ("val", config.n_val), ("test", config.n_test))}
    return out | {"table": table, "encoder": encoder}


# ----------------------------------------------------------------------------------------
# Training and embedding
# ----------------------------------------------------------------------------------------


class PairBatches:
    """``steps`` random batches of ``(grids (B, C, g, g), recipes, category (B,))`` from ``data``,
    plus the order twins ``(original grids, original recipes, twin grids, twin recipes)``.

    ``device``: where the batches are gathered. The split's tensors are moved there once (on
    the first pass); the rows are drawn on the CPU, and only their indices go to the device.
    ``None`` (the default) gathers where ``data`` is.
    """

    def __init__(self, data: PairData, steps: int, batch_size: int, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        self.data, self.steps, self.batch_size = data, steps, batch_size
        self.device = torch.device(device) if device is not None else None
        self.generator = torch.Generator().manual_seed(seed)
        self._resident: tuple | None = None  # the split's tensors on the device, after the first pass

    def __len__(self) -> int:
        return self.steps

    def _on_device(self) -> tuple:
        """``(grids, recipes, category, twin_grids, twins)`` of the split on ``device``, moved once."""
        if self._resident is None:
            d, dev = self.data, self.device
            self._resident = (d.grids.to(dev), d.recipes.to(dev), d.category.to(dev), d.twin_grids.to(dev),
                              d.twins.to(dev))
        return self._resident

    def __iter__(self) -> Iterator[tuple]:
        d = self.data
        n_twins = max(1, round(self.batch_size * len(d.twin_index) / len(d)))
        if self.device is None:
            for _ in range(self.steps):
                idx = torch.randint(len(d), (self.batch_size,), generator=self.generator)  # (B,)
                t = torch.randint(len(d.twin_index), (n_twins,), generator=self.generator)  # (B',) twin pairs
                original = d.twin_index[t]  # (B',) their scenes
                yield (d.grids[idx], d.recipes[idx], d.category[idx],
                       (d.grids[original], d.recipes[original], d.twin_grids[t], d.twins[t]))
            return
        grids, recipes, category, twin_grids, twins = self._on_device()
        for _ in range(self.steps):
            idx = torch.randint(len(d), (self.batch_size,), generator=self.generator)  # (B,) on the CPU
            t = torch.randint(len(d.twin_index), (n_twins,), generator=self.generator)  # (B',) twin pairs
            original = d.twin_index[t]  # (B',) their scenes
            i, o, tt = (x.to(self.device, non_blocking=True) for x in (idx, original, t))  # (B,), (B',), (B',)
            yield (grids[i], recipes.take(i, idx), category[i],
                   (grids[o], recipes.take(o, original), twin_grids[tt], twins.take(tt, t)))


def joint_loss(model: JointEmbedding, grids: torch.Tensor, recipes: RecipeBatch, category: torch.Tensor,
               config: RecipeConfig, twins: tuple | None = None, semantic: bool = True,
               twin_weight: float | None = None) -> tuple[torch.Tensor, dict]:
    """The training loss of one batch: the cosine loss on every pairing of the batch
    (:func:`batch_cosine_loss`), plus the semantic term (unless ``semantic=False``), plus
    ``twin_weight`` times :func:`twin_ranking_loss` on order twins, both ways: each of the two
    pictures must be nearer its own recipe than the other's.

    ``twins``: ``(original grids (T, C, g, g), original recipes, twin grids, twin recipes)``.
    """
    twin_weight = config.twin_weight if twin_weight is None else twin_weight
    use_twins = twin_weight > 0 and twins is not None
    b = len(category)
    if use_twins:  # one pass per modality, so that batch norm sees the twins with the rest
        grid_o, rec_o, grid_t, rec_t = twins
        t = len(grid_o)
        image_all = model.image(torch.cat([grids, grid_o, grid_t]))  # (B + 2T, E)
        recipe_all = model.recipe(concat_batches(concat_batches(recipes, rec_o), rec_t))  # (B + 2T, E)
        image, recipe = image_all[:b], recipe_all[:b]  # (B, E) each
        im_o, im_t = image_all[b:b + t], image_all[b + t:]  # (T, E) each
        r_o, r_t = recipe_all[b:b + t], recipe_all[b + t:]  # (T, E) each
        twin_loss = (twin_ranking_loss(im_o, r_o, r_t, config.twin_margin)
                     + twin_ranking_loss(im_t, r_t, r_o, config.twin_margin)) / 2  # ()
    else:
        image, recipe = model(grids, recipes)  # (B, E), (B, E)
        twin_loss = torch.zeros((), device=image.device)
    cos_loss = batch_cosine_loss(image, recipe, config.margin, config.mismatch)  # ()
    sem = semantic_regularization(model.classifier(image), model.classifier(recipe), category, config.semantic_weight)
    loss = cos_loss + (sem if semantic else 0) + (twin_weight * twin_loss if use_twins else 0)
    return loss, {"cosine": cos_loss.detach(), "twin": twin_loss.detach(), "semantic": sem.detach()}


@torch.no_grad()
def embed(model: JointEmbedding, data: PairData, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Both modalities' embeddings of ``data``: ``(images (N, E), recipes (N, E))`` on the CPU."""
    model.eval()
    dev = next(model.parameters()).device
    images, recipes = [], []
    for s in range(0, len(data), batch_size):
        im, rec = model(data.grids[s:s + batch_size].to(dev), data.recipes[s:s + batch_size].to(dev))
        images.append(im.float().cpu())
        recipes.append(rec.float().cpu())
    return torch.cat(images), torch.cat(recipes)  # (N, E) each


@torch.no_grad()
def validation_numbers(model: JointEmbedding, data: PairData, config: RecipeConfig, semantic: bool = True) -> dict[str, float]:
    """The validation loss (fixed pairs) and medR of image -> recipe on the whole validation set."""
    dev = next(model.parameters()).device
    loss, _ = joint_loss(model, data.grids.to(dev), data.recipes.to(dev), data.category.to(dev), config,
                         semantic=semantic, twin_weight=0.0)
    image, recipe = embed(model, data)
    return {"val loss": float(loss), "val medR": retrieval.rank_metrics(image @ recipe.T)["medR"]}


def train_joint(model: JointEmbedding, data: dict[str, PairData], config: RecipeConfig, semantic: bool = True,
                progress: bool = True, desc: str = "joint embedding", time_budget: float = 600.0) -> History:
    """Train ``model`` on ``data["train"]`` for ``config.steps`` steps (Adam), with the validation
    loss and medR measured ``config.evaluations`` times along the way; returns the History.

    An order-blind recipe encoder is trained without the order-twin term: for it a twin *is*
    the recipe, and the term would only contradict the match."""
    seed_everything(config.seed)
    dev = default_device()
    model.to(dev)
    per_epoch = config.steps // config.evaluations
    twin_weight = config.twin_weight if getattr(model.recipe, "ordered", True) else 0.0

    def step(m: JointEmbedding, batch: tuple) -> tuple[torch.Tensor, dict]:
        grids, recipes, category, (grid_o, rec_o, grid_t, rec_t) = batch
        twins = (grid_o, rec_o.to(dev), grid_t, rec_t.to(dev))
        return joint_loss(m, grids, recipes.to(dev), category, config, twins, semantic, twin_weight)

    batches = PairBatches(data["train"], per_epoch, config.batch_size, config.seed, device=dev)
    return train(model, batches, step, epochs=config.evaluations, lr=config.lr, device=dev, desc=desc,
                 progress=progress, time_budget=time_budget,
                 evaluate=lambda m: validation_numbers(m, data["val"], config, semantic))


def trained_model(kind: str, data: dict[str, Any], config: RecipeConfig, semantic: bool = True,
                  progress: bool = True) -> tuple[JointEmbedding, History]:
    """A :func:`build_model` of ``kind`` trained by :func:`train_joint`, cached."""
    seed_everything(config.seed)
    model = build_model(kind, data["table"], config.dim, config.hidden)
    key = dataclasses.asdict(config) | {"kind": kind, "semantic": semantic,
                                        "data": cache.fingerprint(data["train"].grids[:64], data["val"].grids[:64])}
    name = f"lesson03-{kind}-{'sem' if semantic else 'nosem'}"
    history = cache.cached_training(
        name, key, model, lambda m: train_joint(m, data, config, semantic, progress, desc=name),
        code=(train_joint, joint_loss, batch_cosine_loss, semantic_regularization, twin_ranking_loss, PairBatches, scene_twin_pairs, concat_batches, swap_objects,
              validation_numbers, recipe_batch, _step_vectors))
    return model, history


# ----------------------------------------------------------------------------------------
# Order twins
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class OrderTwins:
    """Held-out recipes that admit an order twin, and what it takes to tell them apart.

    ``index`` ``(T,)``: which recipes of the split; ``originals`` and ``twins``: their step
    lists (the twin has two overlapping object steps swapped); ``images`` ``(T, 2, 3, S, S)``
    uint8: each painted by :func:`render_recipe` as written and as twinned; ``pixels`` ``(T,)``:
    how many pixels the two pictures differ in; ``swapped``: the two object steps swapped.
    """

    index: torch.Tensor
    originals: list[tuple[list[str], list[str]]]
    twins: list[tuple[list[str], list[str]]]
    images: torch.Tensor
    pixels: torch.Tensor
    swapped: list[tuple[int, int]]
    n_recipes: int

    def __len__(self) -> int:
        return len(self.index)


def _overlapping_pairs(objects: list[dict]) -> list[tuple[int, int]]:
    """Object pairs whose nominal discs touch (centre distance < the sum of the radii)."""
    out = []
    for a in range(len(objects)):
        for b in range(a + 1, len(objects)):
            d = np.hypot(objects[a]["x"] - objects[b]["x"], objects[a]["y"] - objects[b]["y"])
            if d < objects[a]["radius"] + objects[b]["radius"]:
                out.append((a, b))
    return out


def order_twin(recipe: Recipe, size: int = 64, min_pixels: int = 20) -> dict[str, Any] | None:
    """The order twin of ``recipe``: the overlapping pair of object steps whose swap changes the
    picture most (at least ``min_pixels`` pixels), or ``None`` when no swap does.

    Returns ``{"steps": the twin's steps, "images": (2, 3, S, S) uint8 (as written, twinned),
    "pixels": how many pixels differ, "swapped": (a, b)}`` (object step indices, from 0).
    """
    from .world.language import parse_recipe_steps

    objects = parse_recipe_steps(recipe)
    n = len(objects)
    object_steps = recipe.steps[len(recipe.steps) - n:]  # the background step comes first
    if n < 2:
        return None
    original = render_recipe(recipe, size=size).images[0]  # (S, S, 3)
    best = None
    for a, b in _overlapping_pairs(objects):
        order = list(range(n))
        order[a], order[b] = order[b], order[a]
        twin = render_recipe(recipe, order, size=size).images[0]  # (S, S, 3)
        pixels = int((original != twin).any(-1).sum())
        if pixels >= min_pixels and (best is None or pixels > best[0]):
            best = (pixels, order, twin, (a, b))
    if best is None:
        return None
    pixels, order, twin, swapped = best
    steps = list(recipe.steps[: len(recipe.steps) - n]) + [object_steps[k] for k in order]
    images = torch.from_numpy(np.stack([original, twin])).permute(0, 3, 1, 2).contiguous()  # (2, 3, S, S)
    return {"steps": steps, "images": images, "pixels": pixels, "swapped": swapped}


def order_twins(recipes: Sequence[Recipe], size: int = 64, min_pixels: int = 20) -> OrderTwins:
    """:func:`order_twin` of every recipe; keeps those that admit one."""
    index, originals, twins, images, pixels, swapped = [], [], [], [], [], []
    for i, r in enumerate(recipes):
        t = order_twin(r, size, min_pixels)
        if t is None:
            continue
        index.append(i)
        originals.append((list(r.ingredients), list(r.steps)))
        twins.append((twin_ingredients(r.ingredients, t["steps"]), t["steps"]))
        images.append(t["images"])
        pixels.append(t["pixels"])
        swapped.append(t["swapped"])
    if not index:
        raise ValueError("no recipe of recipes admits an order twin")
    return OrderTwins(torch.tensor(index), originals, twins, torch.stack(images), torch.tensor(pixels), swapped,
                      len(recipes))


@torch.no_grad()
def twin_choices(model: JointEmbedding, twins: OrderTwins, encoder: Any, table: WordTable) -> torch.Tensor:
    """``(T, 2)``: for each twin pair and each of its two pictures, 1 if the model's picture
    embedding is nearer the recipe that painted it than the twin, 0 if farther, 0.5 on a tie."""
    model.eval()
    dev = next(model.parameters()).device
    grids = encode(encoder, twins.images.flatten(0, 1))  # (2T, C, g, g)
    image = model.image(grids.to(dev)).view(len(twins), 2, -1).cpu()  # (T, 2, E)
    original = model.recipe(recipe_batch(twins.originals, table).to(dev)).cpu()  # (T, E)
    twin = model.recipe(recipe_batch(twins.twins, table).to(dev)).cpu()  # (T, E)
    recipes = torch.stack([original, twin], 1)  # (T, 2, E) recipe 0 painted picture 0
    sim = torch.einsum("tpe,tre->tpr", image, recipes)  # (T, picture, recipe)
    right = sim.diagonal(dim1=1, dim2=2)  # (T, 2) the recipe that painted it
    wrong = sim.flip(2).diagonal(dim1=1, dim2=2)  # (T, 2) its twin
    tie = (right - wrong).abs() < 1e-5  # (T, 2) the same embedding up to rounding
    return (right > wrong).float().masked_fill(tie, 0.5)  # (T, 2)


# ----------------------------------------------------------------------------------------
# Baselines and measurements
# ----------------------------------------------------------------------------------------


def recipe_features(recipes: RecipeBatch, table: WordTable, max_steps: int = 7) -> torch.Tensor:
    """Fixed recipe features for CCA, from the same frozen word vectors: the mean word vector of
    the ingredients, then of each step in its slot (step 1, step 2, ...; zeros past the end):
    ``(N, (1 + max_steps) D)``."""
    embed = _frozen_embedding(table.matrix)
    with torch.no_grad():
        ing = embed(recipes.ingredients).sum(1) / recipes.n_ingredient_words[:, None].clamp(min=1)  # (N, D)
        steps = _step_vectors(embed, recipes.steps)[:, :max_steps]  # (N, S', D)
        steps = F.pad(steps, (0, 0, 0, max_steps - steps.shape[1]))  # (N, max_steps, D)
    return torch.cat([ing, steps.flatten(1)], dim=1)  # (N, (1 + max_steps) D)


@dataclasses.dataclass
class CCA:
    """Linear CCA between two feature sets: means, projections ``(Dx, k)`` and ``(Dy, k)``, and
    the canonical correlations ``(k,)``. :meth:`transform` maps new rows into the shared space."""

    mean_x: torch.Tensor
    mean_y: torch.Tensor
    wx: torch.Tensor
    wy: torch.Tensor
    correlations: torch.Tensor

    def transform(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x (N, Dx), y (N, Dy))`` -> both in the shared space ``(N, k)``, unit rows."""
        zx = (x.double() - self.mean_x) @ self.wx  # (N, k)
        zy = (y.double() - self.mean_y) @ self.wy  # (N, k)
        return F.normalize(zx.float(), dim=1), F.normalize(zy.float(), dim=1)


def _inverse_sqrt(c: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(c)  # (D,), (D, D)
    return vectors @ torch.diag(values.clamp(min=1e-12).rsqrt()) @ vectors.T  # (D, D)


def fit_cca(x: torch.Tensor, y: torch.Tensor, k: int = 64, reg: float = 1e-2) -> CCA:
    """Regularised linear CCA of paired rows ``x (N, Dx)`` and ``y (N, Dy)``: the ``k`` pairs of
    directions along which the two sets correlate most. ``reg`` (times the mean variance) is
    added to each covariance's diagonal."""
    if x.dim() != 2 or y.dim() != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"x and y must be paired (N, D) tensors, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not 1 <= k <= min(x.shape[1], y.shape[1]):
        raise ValueError(f"k must be between 1 and {min(x.shape[1], y.shape[1])}, got {k}")
    x, y = x.double(), y.double()
    mx, my = x.mean(0), y.mean(0)  # (Dx,), (Dy,)
    xc, yc = x - mx, y - my  # (N, Dx), (N, Dy)
    n = len(x) - 1
    cxx = xc.T @ xc / n  # (Dx, Dx)
    cyy = yc.T @ yc / n  # (Dy, Dy)
    cxx += reg * cxx.diagonal().mean() * torch.eye(len(cxx), dtype=x.dtype)
    cyy += reg * cyy.diagonal().mean() * torch.eye(len(cyy), dtype=x.dtype)
    cxy = xc.T @ yc / n  # (Dx, Dy)
    ix, iy = _inverse_sqrt(cxx), _inverse_sqrt(cyy)  # (Dx, Dx), (Dy, Dy)
    u, s, vt = torch.linalg.svd(ix @ cxy @ iy)  # whitened cross-covariance
    return CCA(mx, my, ix @ u[:, :k], iy @ vt.T[:, :k], s[:k].float())


def neighbour_purity(queries: torch.Tensor, items: torch.Tensor, query_category: torch.Tensor,
                     item_category: torch.Tensor, k: int = 10) -> float:
    """The share of each query's ``k`` nearest items (cosine, the other modality) that have the
    query's category, averaged over queries."""
    if queries.dim() != 2 or items.dim() != 2 or queries.shape[1] != items.shape[1]:
        raise ValueError(f"queries and items must be (N, E) and (M, E), got {tuple(queries.shape)} and {tuple(items.shape)}")
    if not 1 <= k <= len(items):
        raise ValueError(f"k must be between 1 and {len(items)}, got {k}")
    sim = F.normalize(queries, dim=1) @ F.normalize(items, dim=1).T  # (N, M)
    nearest = sim.topk(k, dim=1).indices  # (N, k)
    return float((item_category[nearest] == query_category[:, None]).float().mean())


def retrieval_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """``{model: bag_metrics(...)}`` as a text table: medR and R@K both ways."""
    lines = [f"{'':24}{'image -> recipe':>34}{'recipe -> image':>34}",
             f"{'model':24}" + "".join(f"{c:>8}" for c in ("medR", "R@1", "R@5", "R@10")) + "  "
             + "".join(f"{c:>8}" for c in ("medR", "R@1", "R@5", "R@10"))]
    for name, r in results.items():
        row = f"{name:24}"
        for direction in ("query→item", "item→query"):
            m = r[direction]
            row += f"{m['medR']:8.1f}" + "".join(f"{m[f'R@{k}']:8.3f}" for k in (1, 5, 10)) + "  "
        lines.append(row.rstrip())
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Exercise checks (lesson 03)
# ----------------------------------------------------------------------------------------


def _as_loss(got: Any, what: str) -> float:
    checks.true(got is not None, f"{what}: got None: did you forget to return the loss?")
    checks.true(torch.is_tensor(got), f"{what}: the loss must be a tensor (so that it has a gradient), got {type(got).__name__}")
    checks.true(got.dim() == 0, f"{what}: the loss must be one number (a 0-d tensor), got shape {tuple(got.shape)}")
    checks.true(got.requires_grad, f"{what}: the loss has no gradient: keep it a tensor (no .item(), no NumPy)")
    return float(got.detach())


def check_cosine_embedding_loss(loss_fn: Any, seed: int = 0) -> float:
    """Exercise check: ``loss_fn(a (P, E), b (P, E), match (P,) bool, margin) -> ()`` against
    :func:`cosine_embedding_loss`. Raises ``checks.CheckFailed`` naming the mistake."""
    g = torch.Generator().manual_seed(seed)
    a = (torch.randn(8, 5, generator=g, dtype=torch.float64) * 2).requires_grad_()  # (P, E) not unit length
    b = torch.randn(8, 5, generator=g, dtype=torch.float64) * 3  # (P, E)
    b[5] = a.detach()[5] * 0.5 + 0.1  # a mismatch with a high cosine, above the margin
    b[6] = -a.detach()[6]  # a mismatch pointing the other way
    match = torch.tensor([True, True, False, False, False, False, False, True])  # (P,)
    got = _as_loss(loss_fn(a, b, match, 0.1), "pairs")
    want = float(cosine_embedding_loss(a.detach(), b, match, 0.1))
    if abs(got - want) > 1e-6 * max(1.0, abs(want)):
        cos = F.cosine_similarity(a.detach(), b, dim=1)  # (P,)
        dot = (a.detach() * b).sum(1)  # (P,)
        pos, neg = 1 - cos, (cos - 0.1).clamp(min=0)
        mistakes = {
            "a mismatch costs only while its cosine is above the margin: max(0, cos - margin), not cos - margin":
                torch.where(match, pos, cos - 0.1).mean(),
            "the hinge of a mismatch is the wrong way round: max(0, cos - margin), not max(0, margin - cos)":
                torch.where(match, pos, (0.1 - cos).clamp(min=0)).mean(),
            "a match costs 1 - cos (0 when the two point the same way), not cos or -cos":
                torch.where(match, -cos, neg).mean(),
            "match and mismatch are swapped: a match (True) costs 1 - cos":
                torch.where(~match, pos, neg).mean(),
            "use the cosine (divide by both lengths), not the dot product":
                torch.where(match, 1 - dot, (dot - 0.1).clamp(min=0)).mean(),
            "the loss is the mean over the pairs, not the sum": torch.where(match, pos, neg).sum(),
            "average over all pairs together, not matches and mismatches separately":
                (pos[match].mean() + neg[~match].mean()) / 2,
        }
        for mistake, wrong in mistakes.items():
            if abs(got - float(wrong)) <= 1e-9 * max(1.0, abs(float(wrong))):
                raise checks.CheckFailed(mistake)
        raise checks.CheckFailed(f"on fixed pairs: got {got:.6f}, expected {want:.6f}")
    wide = _as_loss(loss_fn(a, b, match, 0.5), "margin 0.5")
    checks.true(abs(wide - float(cosine_embedding_loss(a.detach(), b, match, 0.5))) < 1e-6,
                "with margin=0.5 the loss is wrong: use the margin argument, not a fixed 0.1")
    return checks.close(got, want, name="cosine embedding loss", tol=1e-6)


def check_semantic_regularization(reg_fn: Any, seed: int = 0) -> float:
    """Exercise check: ``reg_fn(image_logits (N, K), recipe_logits (N, K), category (N,), weight) -> ()``
    against :func:`semantic_regularization`. Raises ``checks.CheckFailed`` naming the mistake."""
    g = torch.Generator().manual_seed(seed)
    image = (torch.randn(6, 5, generator=g, dtype=torch.float64) * 2).requires_grad_()  # (N, K)
    recipe = torch.randn(6, 5, generator=g, dtype=torch.float64) * 2  # (N, K)
    category = torch.tensor([0, 3, 1, 4, 2, 3])  # (N,)
    got = _as_loss(reg_fn(image, recipe, category, 0.02), "logits")
    want = float(semantic_regularization(image.detach(), recipe, category, 0.02))
    if abs(got - want) > 1e-6 * max(1.0, abs(want)):
        ce_i = F.cross_entropy(image.detach(), category)
        ce_r = F.cross_entropy(recipe, category)
        mistakes = {
            "multiply by the weight (im2recipe: 0.02): the term must not outweigh the cosine loss": ce_i + ce_r,
            "both modalities count: the image embeddings' cross-entropy plus the recipe embeddings'":
                0.02 * ce_i,
            "both modalities count: the recipe embeddings' cross-entropy plus the image embeddings'":
                0.02 * ce_r,
            "add the two cross-entropies; do not average them": 0.02 * (ce_i + ce_r) / 2,
            "cross_entropy takes the raw logits: do not apply softmax first":
                0.02 * (F.cross_entropy(image.detach().softmax(1), category) + F.cross_entropy(recipe.softmax(1), category)),
            "the weight scales both terms, not only the first": 0.02 * ce_i + ce_r,
        }
        for mistake, wrong in mistakes.items():
            if abs(got - float(wrong)) <= 1e-9 * max(1.0, abs(float(wrong))):
                raise checks.CheckFailed(mistake)
        raise checks.CheckFailed(f"on fixed logits: got {got:.6f}, expected {want:.6f}")
    other = _as_loss(reg_fn(image, recipe, category, 0.5), "weight 0.5")
    checks.true(abs(other - float(semantic_regularization(image.detach(), recipe, category, 0.5))) < 1e-6,
                "with weight=0.5 the term is wrong: use the weight argument, not a fixed 0.02")
    return checks.close(got, want, name="semantic regularization", tol=1e-6)
