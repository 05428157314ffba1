"""Word vectors for the course: skip-gram with negative sampling (Mikolov et al., 2013).

Lesson 01 builds these pieces one by one; lesson 02 and later lessons use the result,
:func:`pretrained_word_vectors`, as their "pre-trained text model".

- :func:`build_corpus` — the world's captions and recipe texts, tokenized with the
  course tokenizer, as one long array of token ids with sentence and scene indices.
- :func:`keep_probabilities` / :func:`subsample` — frequent words ("a", "the", "of") are
  dropped at random, each epoch anew.
- :func:`window_pairs` — (centre, context) pairs from a *dynamic window* inside a sentence;
  :func:`scene_pairs` — pairs whose context is any word of the same *scene's* texts.
- :func:`noise_distribution` and :func:`negative_sampling_loss` — the SGNS objective.
- :class:`SkipGram` — the input and output embedding tables; :func:`make_optimizer` —
  word2vec's plain SGD with a learning rate that falls linearly to zero;
  :func:`train_skipgram` trains one model.
- :class:`WordVectors` — normalised vectors with nearest-neighbour look-up.
- :func:`category_purity` and :func:`synonym_accuracy` — the held-out evaluation;
  :func:`ppmi_svd` — the count-based baseline (a PPMI matrix, positive pointwise mutual
  information, factorised by truncated SVD); :func:`schedule_ablation` — what the
  optimiser and its learning-rate schedule do to the vectors.
- Figures of the lesson (``plot_*``) and the checks of its exercises (``check_*``).

Why two kinds of context? A window inside a sentence learns what *role* a word plays:
colours sit between an article and a shape, shapes end a noun phrase. But in this world
every shape plays the same role in every sentence, so no sentence tells a square from a
circle, or says that "box" means square. What does is that every scene is described
several times: a "box" in one caption is a "square" in another caption or in the
recipe's ingredient list. Contexts drawn from the whole scene's texts learn what a word
*refers to*. The course's word vectors join both parts (as Huang et al., 2012, joined
local and global context), with a weight chosen on validation words only
(:func:`choose_weight`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cache, checks
from .runtime import device as default_device
from .runtime import preset, seed_everything
from .training import History, train
from .world.catalog import COLOUR_NAMES, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZES, SYNONYMS
from .world.language import captions, recipes
from .world.scenes import GENERATOR_VERSION, sample_scenes
from .world.vocab import course_vocabulary

# ----------------------------------------------------------------------------------------
# Word categories (evaluation) and validation words (for choices made while training)
# ----------------------------------------------------------------------------------------

WORD_CATEGORIES: dict[str, tuple[str, ...]] = {
    "colours": COLOUR_NAMES,
    "shapes": tuple(w for s in SHAPES for w in (s, *SYNONYMS.get(s, ()))),
    "sizes": tuple(w for s in SIZES for w in (s, *SYNONYMS.get(s, ()))),
    "relations": ("left", "right", "above", "below", "front", "behind"),
    "scene types": SCENE_TYPES,
    "counts": COUNT_WORDS[1:],
}
"""The held-out evaluation: word categories whose members should be each other's neighbours.
("zero" is left out of the counts: no caption or recipe ever says it.)"""

VALIDATION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "dishes": ("platter", "tart", "pie", "salad", "cake"),
    "verbs": ("place", "add", "put", "set"),
    "rows": ("top", "upper", "middle", "lower", "bottom"),
    "adverbs": ("then", "next", "now"),
    "nouns": ("object", "shape", "thing"),
    "bases": ("sand", "moss", "concrete", "ink"),
}
"""Other word categories of the grammar, used only to make training choices."""

VALIDATION_REFERENTS: dict[str, str] = {"beach": "sand", "forest": "moss", "city": "concrete", "night": "ink"}
"""Validation pairs that mean the same scene: a scene word and its recipe's base ingredient."""


# ----------------------------------------------------------------------------------------
# The corpus
# ----------------------------------------------------------------------------------------


SUBSAMPLING = ("code", "paper")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("linear", "constant")


@dataclasses.dataclass(frozen=True)
class Word2VecConfig:
    """Everything that decides the word vectors (and their cache key).

    The training follows the original word2vec: plain SGD with a step of ``lr`` per pair
    (0.025), decayed linearly to zero over the whole run (``schedule="linear"``), and the
    released code's subsampling rule (``subsampling="code"``, see :func:`keep_probabilities`).
    ``optimizer="adam"`` (``lr`` is then Adam's step size) and ``schedule="constant"`` are
    there for the lesson's ablation.
    """

    n_scenes: int = 3000
    max_objects: int = 6
    captions_per_scene: int = 5
    corpus_seed: int = 11
    dim: int = 32
    window: int = 5
    scene_contexts: int = 4
    negatives: int = 5
    subsample: float = 1e-3
    subsampling: str = "code"
    noise_power: float = 0.75
    batch_size: int = 1024
    epochs: int = 16
    optimizer: str = "sgd"
    lr: float = 0.025
    schedule: str = "linear"
    seed: int = 0
    weights: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)

    def __post_init__(self) -> None:
        for name in ("n_scenes", "max_objects", "captions_per_scene", "dim", "window", "scene_contexts",
                     "negatives", "batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("subsample", "noise_power", "lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name, allowed in (("subsampling", SUBSAMPLING), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.weights or any(not w > 0 for w in self.weights):
            raise ValueError(f"weights must be a non-empty tuple of positive numbers, got {self.weights!r}")

    @classmethod
    def for_preset(cls, preset: Any) -> "Word2VecConfig":
        """The configuration of a :class:`~mmcourse.runtime.Preset`: on a GPU twice the corpus and
        twice the dimensions, trained as long (scenes x epochs) as on the CPU. Much longer
        training lets the sentence window find the synonyms from a faint clue of the grammar,
        and lesson 01's point — that the scene contexts give them from little text — is lost."""
        return preset.pick(cpu=cls(), gpu=cls(n_scenes=6000, dim=64, epochs=8))


@dataclasses.dataclass
class Corpus:
    """The text corpus as flat arrays: token ``i`` has id ``tokens[i]``, lies in sentence
    ``sentence[i]`` and describes scene ``scene[i]`` (sentences never mix scenes).

    ``words[j]`` is the word of id ``j`` (the course vocabulary's ids) and ``counts[j]``
    how often it occurs.
    """

    tokens: np.ndarray  # (T,) int64 word ids
    sentence: np.ndarray  # (T,) int64 sentence index, non-decreasing
    scene: np.ndarray  # (T,) int64 scene index, non-decreasing
    words: list[str]
    counts: np.ndarray  # (V,) int64

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def n_sentences(self) -> int:
        return int(self.sentence[-1]) + 1 if len(self) else 0

    @property
    def n_scenes(self) -> int:
        return int(self.scene[-1]) + 1 if len(self) else 0

    def sentence_text(self, i: int) -> str:
        """The words of sentence ``i`` joined by spaces."""
        lo, hi = np.searchsorted(self.sentence, [i, i + 1])  # sentence i is tokens[lo:hi]
        return " ".join(self.words[t] for t in self.tokens[lo:hi])

    def __repr__(self) -> str:
        return (f"Corpus({len(self):,} tokens, {self.n_sentences:,} sentences, {self.n_scenes:,} scenes, "
                f"{int((self.counts > 0).sum())} distinct words)")


def scene_texts(scenes: Any, captions_per_scene: int = 5, seed: int = 0) -> list[list[str]]:
    """Every text of every scene: its captions, then its recipe (title, ingredients, steps)."""
    caps = captions(scenes, n_per_scene=captions_per_scene, seed=seed)
    recs = recipes(scenes, seed=seed)
    return [[*c, r.title, *r.ingredients, *r.steps] for c, r in zip(caps, recs)]


def build_corpus(n_scenes: int = 3000, seed: int = 11, max_objects: int = 6, captions_per_scene: int = 5,
                 use_cache: bool = True) -> Corpus:
    """The world's captions and recipe texts of ``n_scenes`` random scenes, as a :class:`Corpus`.

    Every caption, recipe title, ingredient and step is one sentence, tokenized with the
    course tokenizer and encoded with the course vocabulary. Stored in the course cache.
    """
    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or n_scenes < 1:
        raise ValueError(f"n_scenes must be a positive integer, got {n_scenes!r}")
    vocab = course_vocabulary()

    def build() -> dict[str, torch.Tensor]:
        scenes = sample_scenes(n_scenes, seed=seed, max_objects=max_objects)
        ids, sent, scene = [], [], []
        k = 0
        for i, texts in enumerate(scene_texts(scenes, captions_per_scene, seed)):
            for text in texts:
                row = vocab.encode(text)
                ids += row
                sent += [k] * len(row)
                scene += [i] * len(row)
                k += 1
        return {
            "tokens": torch.tensor(ids, dtype=torch.long),  # (T,)
            "sentence": torch.tensor(sent, dtype=torch.long),  # (T,)
            "scene": torch.tensor(scene, dtype=torch.long),  # (T,)
        }

    config = {"n_scenes": n_scenes, "seed": seed, "max_objects": max_objects,
              "captions_per_scene": captions_per_scene, "world": GENERATOR_VERSION, "vocab": len(vocab)}
    data = cache.cached("word2vec_corpus", config, build, verbose=False) if use_cache else build()
    tokens = data["tokens"].numpy()  # (T,)
    counts = np.bincount(tokens, minlength=len(vocab)).astype(np.int64)  # (V,)
    return Corpus(tokens, data["sentence"].numpy(), data["scene"].numpy(), list(vocab.itos), counts)


# ----------------------------------------------------------------------------------------
# Subsampling, pairs and noise
# ----------------------------------------------------------------------------------------


def _validate_counts(counts: Any) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)  # (V,)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be a 1-D array of non-negative word counts with a positive sum")
    return counts


def keep_probabilities(counts: Any, t: float = 1e-3, formula: str = "code") -> np.ndarray:
    """Probability of keeping each occurrence of each word, from its share ``f`` of all tokens.

    - ``"paper"``: ``min(1, sqrt(t / f))`` (Mikolov et al., 2013): a word 100 times more
      frequent than ``t`` survives one time in ten.
    - ``"code"`` (the default): ``min(1, sqrt(t / f) + t / f)``, the rule of the released
      word2vec code (and of gensim). It keeps more of the words just above ``t``: a word
      with ``f = 4t`` survives 3 times in 4 instead of 1 in 2.

    Words with ``f <= t`` are always kept.
    """
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
        raise ValueError(f"t must be a positive number, got {t!r}")
    if formula not in SUBSAMPLING:
        raise ValueError(f"formula must be one of {SUBSAMPLING}, got {formula!r}")
    counts = _validate_counts(counts)  # (V,)
    freq = counts / counts.sum()  # (V,)
    with np.errstate(divide="ignore"):
        ratio = t / freq  # (V,) inf for unseen words
    keep = np.sqrt(ratio) + ratio if formula == "code" else np.sqrt(ratio)  # (V,)
    return np.minimum(1.0, keep)  # (V,)


def subsample(tokens: np.ndarray, counts: Any, t: float, rng: np.random.Generator,
              formula: str = "code") -> np.ndarray:
    """A random keep-mask ``(T,)`` over ``tokens``: each token survives with its word's
    :func:`keep_probabilities`."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    keep = keep_probabilities(counts, t, formula)  # (V,)
    return rng.random(len(tokens)) < keep[tokens]  # (T,) bool


def window_pairs(tokens: np.ndarray, sentence: np.ndarray, window: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) pairs from a dynamic window inside each sentence.

    For every centre token a window size ``b`` is drawn uniformly from ``1..window``; its
    contexts are the tokens at most ``b`` places away in the same sentence. So a word at
    distance ``d`` is a context with probability ``(window - d + 1) / window``: near words
    count more. Returns two ``(P,)`` arrays of token ids.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    b = rng.integers(1, window + 1, len(tokens))  # (T,) each centre's window
    centres, contexts = [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]  # (T-d,) token i and i+d share a sentence
        right = np.flatnonzero(same & (b[:-d] >= d))  # (n,) centre i sees i+d
        left = np.flatnonzero(same & (b[d:] >= d))  # (m,) centre i+d sees i
        centres += [tokens[right], tokens[left + d]]
        contexts += [tokens[right + d], tokens[left]]
    return np.concatenate(centres), np.concatenate(contexts)  # (P,), (P,)


def scene_pairs(tokens: np.ndarray, scene: np.ndarray, per_token: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) pairs whose context is a random other token of the same scene's texts.

    Each token gets ``per_token`` contexts drawn uniformly from all the tokens that
    describe its scene (any caption or recipe line). ``scene`` must be non-decreasing.
    Returns two ``(P,)`` arrays of token ids.
    """
    if isinstance(per_token, bool) or not isinstance(per_token, int) or per_token < 1:
        raise ValueError(f"per_token must be a positive integer, got {per_token!r}")
    start = np.searchsorted(scene, scene, side="left")  # (T,) first token of each token's scene
    end = np.searchsorted(scene, scene, side="right")  # (T,) one past its last token
    own = np.arange(len(tokens))  # (T,)
    centres, contexts = [], []
    for _ in range(per_token):
        other = start + (rng.random(len(tokens)) * (end - start)).astype(np.int64)  # (T,)
        ok = other != own  # (T,) never a token with itself
        centres.append(tokens[ok])
        contexts.append(tokens[other[ok]])
    return np.concatenate(centres), np.concatenate(contexts)  # (P,), (P,)


def noise_distribution(counts: Any, power: float = 0.75) -> np.ndarray:
    """The negative-sampling noise: unigram counts to the power ``power``, normalised ``(V,)``.

    The 3/4 power flattens the distribution: rare words are drawn more often than their
    frequency, frequent words less."""
    counts = _validate_counts(counts)  # (V,)
    noise = counts ** power  # (V,) (0 ** p = 0: unseen words are never drawn)
    return noise / noise.sum()  # (V,)


CONTEXTS = ("sentence", "scene")


class PairBatches:
    """Batches of ``(centre (B,), context (B,), negatives (B, K))`` word ids for :func:`mmcourse.training.train`.

    Every epoch draws a new subsample of the corpus and new pairs (new dynamic windows or
    new scene contexts), shuffles them and cuts them into batches; negatives are drawn
    from the noise distribution for every batch. The number of batches per epoch is fixed
    by the first epoch, so the progress bar knows it.

    ``device``: where the batches are yielded. Each epoch's shuffled pairs are moved there
    once and cut into batches there; the negatives are still drawn on the CPU (the same
    draws) and moved batch by batch. ``None`` (the default) yields CPU tensors.
    """

    def __init__(self, corpus: Corpus, context: str, config: Word2VecConfig, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        self.corpus, self.context, self.config = corpus, context, config
        self.device = torch.device(device) if device is not None else None
        self.rng = np.random.default_rng(seed)
        self.cdf = np.cumsum(noise_distribution(corpus.counts, config.noise_power))  # (V,)
        self._first = self._draw()
        self.n_batches = max(1, math.ceil(len(self._first[0]) / config.batch_size))

    def _draw(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.corpus
        kept = subsample(c.tokens, c.counts, self.config.subsample, self.rng, self.config.subsampling)  # (T,) bool
        if self.context == "sentence":
            centre, context = window_pairs(c.tokens[kept], c.sentence[kept], self.config.window, self.rng)
        else:
            centre, context = scene_pairs(c.tokens[kept], c.scene[kept], self.config.scene_contexts, self.rng)
        order = self.rng.permutation(len(centre))  # (P,)
        return centre[order], context[order]  # (P,), (P,)

    def negatives(self, n: int) -> np.ndarray:
        """``(n, K)`` word ids drawn from the noise distribution."""
        u = self.rng.random((n, self.config.negatives))  # (n, K) uniform
        return np.minimum(np.searchsorted(self.cdf, u), len(self.cdf) - 1)  # (n, K)

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        if self._first is not None:
            centre, context = self._first
            self._first = None
        else:
            centre, context = self._draw()
        size = self.config.batch_size
        if self.device is None:
            for i in range(self.n_batches):
                idx = np.arange(i * size, (i + 1) * size) % len(centre)  # (B,) wraps on a short epoch
                yield (torch.from_numpy(centre[idx]), torch.from_numpy(context[idx]),
                       torch.from_numpy(self.negatives(size)))  # (B,), (B,), (B, K)
            return
        dev, n = self.device, len(centre)
        centre_t, context_t = torch.from_numpy(centre).to(dev), torch.from_numpy(context).to(dev)  # (P,), (P,) once an epoch
        for i in range(self.n_batches):
            idx = torch.arange(i * size, (i + 1) * size, device=dev) % n  # (B,) wraps on a short epoch
            negatives = torch.from_numpy(self.negatives(size)).to(dev, non_blocking=True)  # (B, K)
            yield centre_t[idx], context_t[idx], negatives  # (B,), (B,), (B, K)


# ----------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------


def negative_sampling_loss(centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """The skip-gram negative-sampling loss, averaged over the batch.

    ``-[log sigma(u . v) + sum_k log sigma(-u . n_k)]`` with ``u`` the centre word's input
    vector ``(B, D)``, ``v`` the true context's output vector ``(B, D)`` and ``n_k`` the
    output vectors of ``K`` noise words ``(B, K, D)``.
    """
    if centre.dim() != 2 or context.shape != centre.shape:
        raise ValueError(f"centre and context must both be (B, D), got {tuple(centre.shape)} and {tuple(context.shape)}")
    if negatives.dim() != 3 or negatives.shape[0] != centre.shape[0] or negatives.shape[2] != centre.shape[1]:
        raise ValueError(f"negatives must be (B, K, D) = ({centre.shape[0]}, K, {centre.shape[1]}), got {tuple(negatives.shape)}")
    positive = (centre * context).sum(-1)  # (B,) u . v
    negative = (negatives * centre.unsqueeze(1)).sum(-1)  # (B, K) n_k . u
    loss = -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1))  # (B,)
    return loss.mean()  # ()


class SkipGram(nn.Module):
    """Skip-gram with negative sampling: an input table (the word vectors) and an output
    table (the words as contexts), both ``(V, D)``.

    Initialised as in the original word2vec: small uniform input vectors, zero output vectors.
    """

    def __init__(self, vocab_size: int, dim: int = 32) -> None:
        super().__init__()
        if vocab_size < 1 or dim < 1:
            raise ValueError(f"vocab_size and dim must be positive, got vocab_size={vocab_size}, dim={dim}")
        self.input = nn.Embedding(vocab_size, dim)
        self.output = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.input.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.output.weight)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Loss of a batch: ``centre (B,)``, ``context (B,)``, ``negatives (B, K)`` word ids.

        The ids' range is checked on the CPU only: on an accelerator the check would wait for
        the device at every step (an id out of range fails there in the embedding look-up)."""
        n = self.input.num_embeddings
        for name, ids in (("centre", centre), ("context", context), ("negatives", negatives)):
            on_cpu = ids.device.type == "cpu"
            if ids.dtype != torch.long or (on_cpu and ids.numel() and (ids.min() < 0 or ids.max() >= n)):
                raise ValueError(f"{name} must hold int64 word ids in 0..{n - 1}")
        u = self.input(centre)  # (B, D)
        v = self.output(context)  # (B, D)
        noise = self.output(negatives)  # (B, K, D)
        return negative_sampling_loss(u, v, noise)  # ()


def make_optimizer(model: nn.Module, config: Word2VecConfig, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """The optimiser and learning-rate schedule of ``config`` for ``steps`` training steps.

    word2vec's own recipe (``optimizer="sgd"``, ``schedule="linear"``): plain SGD that moves
    the vectors by ``lr`` times each pair's gradient, with ``lr`` falling in a straight line
    from 0.025 to almost zero at the last step. The loss is the mean over a batch of ``B``
    pairs, so the same step per pair is SGD with a learning rate of ``lr * B``.
    ``optimizer="adam"`` uses Adam with step size ``lr``; ``schedule="constant"`` keeps the
    rate fixed. Returns ``(optimizer, scheduler)``, the scheduler ``None`` when constant.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    params = list(model.parameters())
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=config.lr * config.batch_size)  # lr per pair x B pairs
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    if config.schedule == "constant":
        return optimizer, None
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(1.0 - step / steps, 1e-4))
    return optimizer, scheduler


def train_skipgram(corpus: Corpus, context: str = "sentence", config: Word2VecConfig | None = None,
                   progress: bool = True, time_budget: float = 600.0):
    """Train a :class:`SkipGram` on ``corpus`` with ``context`` pairs; returns ``(WordVectors, History)``.

    ``config`` sets the optimiser and its schedule (:func:`make_optimizer`). Deterministic:
    the model, the pairs and the negatives are seeded from ``config.seed``. ``time_budget``
    is only a safety stop, far above the expected time.
    """
    config = config or Word2VecConfig()
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
    offset = CONTEXTS.index(context)
    seed_everything(config.seed + offset)
    dev = default_device()
    batches = PairBatches(corpus, context, config, seed=config.seed + offset, device=dev)
    model = SkipGram(len(corpus.words), config.dim)
    optimizer, scheduler = make_optimizer(model, config, config.epochs * len(batches))
    seen = torch.from_numpy(corpus.counts > 0)  # (V,) words that occur
    previous = model.input.weight.detach().clone()  # (V, D)

    def movement(m: SkipGram) -> dict[str, float]:
        """How far the word vectors turned during the epoch: mean ``1 - cos(before, after)``."""
        nonlocal previous
        now = m.input.weight.detach().cpu()  # (V, D)
        turned = 1.0 - F.cosine_similarity(now[seen], previous[seen], dim=1)  # (V',)
        previous = now.clone()
        return {"movement": float(turned.mean())}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tables this small train faster on one CPU thread (no synchronisation)
    try:
        history = train(model, batches, lambda m, batch: m(*batch), optimizer, epochs=config.epochs,
                        scheduler=scheduler, time_budget=time_budget, clip_grad=None, evaluate=movement,
                        desc=f"skip-gram ({context} contexts)", progress=progress, device=dev)
    finally:
        torch.set_num_threads(threads)
    vectors = model.input.weight.detach().cpu()  # (V, D)
    return WordVectors.from_table(corpus.words, vectors, corpus.counts), history


SCHEDULE_ABLATION: dict[str, dict[str, Any]] = {
    "SGD, step 0.025 falling to 0 (word2vec)": {},
    "SGD, constant step 0.025": {"schedule": "constant"},
    "SGD, constant step 0.005": {"schedule": "constant", "lr": 0.005},
    "Adam, constant step 0.05": {"optimizer": "adam", "lr": 0.05, "schedule": "constant"},
}
"""The rows of :func:`schedule_ablation`: a name and the changes to the lesson's configuration."""


def schedule_ablation(corpus: Corpus, config: Word2VecConfig,
                      variants: Mapping[str, Mapping[str, Any]] | None = None,
                      trained: tuple[WordVectors, History] | None = None,
                      categories: Mapping[str, Sequence[str]] | None = None,
                      progress: bool = False) -> list[dict[str, Any]]:
    """Train the sentence-window model once per variant and measure what it learned.

    Each variant is ``config`` with a few fields changed (the optimiser, its step size,
    its schedule; see :data:`SCHEDULE_ABLATION`). A variant with no changes reuses
    ``trained`` (the ``(vectors, history)`` of ``config``) when given. Each row holds the
    variant's ``name``, its ``purity`` (:func:`category_purity` over ``categories``, by
    default :data:`WORD_CATEGORIES`: the mean, and ``by_category``) and ``movement``: how
    far the vectors still turned during the last epoch (mean ``1 - cos``), the jitter the
    final vectors are left with.
    """
    variants = dict(variants if variants is not None else SCHEDULE_ABLATION)
    if not variants:
        raise ValueError("variants must name at least one (name -> changes) row")
    rows = []
    for name, changes in variants.items():
        unknown = set(changes) - {f.name for f in dataclasses.fields(Word2VecConfig)}
        if unknown:
            raise ValueError(f"variants[{name!r}] changes unknown config fields {sorted(unknown)}")
        if not changes and trained is not None:
            vectors, history = trained
        else:
            vectors, history = train_skipgram(corpus, "sentence", dataclasses.replace(config, **changes), progress)
        purity = category_purity(vectors, categories)
        rows.append({"name": name, "purity": purity["mean"], "by_category": purity,
                     "movement": history.epochs["movement"][-1]})
    return rows


# ----------------------------------------------------------------------------------------
# Word vectors
# ----------------------------------------------------------------------------------------


class WordVectors:
    """Unit-length word vectors with look-up by word.

    Only words that occur in the corpus are kept; ``word in vectors`` says whether a word
    is known. ``vectors.matrix`` is ``(V, D)`` with row ``i`` the vector of ``words[i]``.
    """

    def __init__(self, words: Sequence[str], matrix: torch.Tensor, counts: Sequence[int] | None = None) -> None:
        matrix = torch.as_tensor(matrix, dtype=torch.float32)  # (V, D)
        if matrix.dim() != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"matrix must be (len(words), D) = ({len(words)}, D), got {tuple(matrix.shape)}")
        self.words: list[str] = list(words)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        self.matrix = F.normalize(matrix, dim=1)  # (V, D)
        self.counts = list(counts) if counts is not None else [1] * len(self.words)

    @classmethod
    def from_table(cls, words: Sequence[str], table: torch.Tensor, counts: Sequence[int], min_count: int = 1) -> "WordVectors":
        """Keep the rows of an embedding table ``(V, D)`` whose word occurs at least ``min_count`` times."""
        keep = [i for i, c in enumerate(counts) if c >= min_count]
        return cls([words[i] for i in keep], table[keep], [int(counts[i]) for i in keep])  # (V', D)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim {self.dim})"

    def unknown(self, words: Sequence[str]) -> list[str]:
        """The words of ``words`` that have no vector, each once."""
        out: list[str] = []
        for w in words:
            if w not in self.index and w not in out:
                out.append(w)
        return out

    def vector(self, word: str) -> torch.Tensor:
        """The unit vector ``(D,)`` of ``word``; a ``ValueError`` names an unknown word."""
        if word not in self.index:
            raise ValueError(f"word {word!r} is not in the word vectors (they know {len(self)} words, e.g. {self.words[:5]})")
        return self.matrix[self.index[word]]  # (D,)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.vector(a) @ self.vector(b))

    def nearest(self, word: str | torch.Tensor, k: int = 5, among: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` nearest words (cosine) to a word or a vector, with their similarities.

        ``among`` restricts the candidates (default: every word); the word itself is skipped."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        query = self.vector(word) if isinstance(word, str) else F.normalize(torch.as_tensor(word, dtype=torch.float32), dim=0)  # (D,)
        candidates = [w for w in (among if among is not None else self.words) if w != word]
        missing = self.unknown(candidates)
        if missing:
            raise ValueError(f"among holds words without a vector: {missing}")
        rows = torch.tensor([self.index[w] for w in candidates], dtype=torch.long)  # (C,)
        sims = self.matrix[rows] @ query  # (C,)
        top = torch.topk(sims, min(k, len(candidates)))  # (k,) values and indices
        return [(candidates[int(i)], float(s)) for s, i in zip(top.values, top.indices)]

    def subset(self, words: Sequence[str]) -> torch.Tensor:
        """The vectors of ``words`` stacked ``(n, D)``."""
        return torch.stack([self.vector(w) for w in words])  # (n, D)

    def to_dict(self) -> dict[str, Any]:
        return {"words": list(self.words), "matrix": self.matrix.clone(), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WordVectors":
        return cls(data["words"], data["matrix"], data["counts"])


def combine(sentence: WordVectors, scene: WordVectors, weight: float = 1.0) -> WordVectors:
    """Join two sets of vectors of the same words: ``[weight * sentence, scene]``, renormalised.

    The cosine of joined vectors is a weighted mean of the two cosines:
    ``(weight**2 * cos_sentence + cos_scene) / (weight**2 + 1)``."""
    if sentence.words != scene.words:
        raise ValueError("sentence and scene must hold the same words in the same order")
    if not weight > 0:
        raise ValueError(f"weight must be positive, got {weight!r}")
    matrix = torch.cat([weight * sentence.matrix, scene.matrix], dim=1)  # (V, D1 + D2)
    return WordVectors(sentence.words, matrix, sentence.counts)


# ----------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------


def category_purity(vectors: WordVectors, categories: Mapping[str, Sequence[str]] | None = None,
                    k: int = 5, pool: Sequence[str] | None = None) -> dict[str, float]:
    """For each category, the mean share of a member's nearest neighbours that are members too.

    Neighbours (cosine) are searched among ``pool`` — by default the words of all the
    given categories; pass ``vectors.words`` to search the whole vocabulary. Each word
    looks at its ``min(k, category size - 1)`` nearest. Returns ``{category: purity}``
    plus ``"mean"``, the average over categories.
    """
    categories = dict(categories if categories is not None else WORD_CATEGORIES)
    if not categories or any(len(ws) < 2 for ws in categories.values()):
        raise ValueError("categories must map each name to at least two words")
    members = [w for ws in categories.values() for w in ws]
    pool = list(pool) if pool is not None else members
    missing = vectors.unknown(members + pool)
    if missing:
        raise ValueError(f"categories and pool hold words without a vector: {missing}")
    out: dict[str, float] = {}
    for name, ws in categories.items():
        kk = min(k, len(ws) - 1)
        shares = [np.mean([n in ws for n, _ in vectors.nearest(w, kk, among=pool)]) for w in ws]
        out[name] = float(np.mean(shares))
    out["mean"] = float(np.mean(list(out.values())))
    return out


def referent_accuracy(vectors: WordVectors, pairs: Mapping[str, str] | None = None) -> float:
    """Share of words whose nearest partner (among all partners) is their own."""
    pairs = dict(pairs if pairs is not None else VALIDATION_REFERENTS)
    partners = list(pairs.values())
    hits = [vectors.nearest(w, 1, among=partners)[0][0] == p for w, p in pairs.items()]
    return float(np.mean(hits))


def synonym_accuracy(vectors: WordVectors) -> float:
    """Share of the shape and size synonyms ("box", "huge", ...) whose nearest canonical word
    (among the shapes, or among the sizes) is the one they mean."""
    hits = []
    for canonical, synonyms in SYNONYMS.items():
        pool = SHAPES if canonical in SHAPES else SIZES
        hits += [vectors.nearest(synonym, 1, among=pool)[0][0] == canonical for synonym in synonyms]
    return float(np.mean(hits))


def random_word_vectors(words: Sequence[str], dim: int = 32, seed: int = 0) -> WordVectors:
    """Gaussian random vectors for ``words``: the chance level of :func:`category_purity`."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    g = torch.Generator().manual_seed(seed)
    return WordVectors(words, torch.randn(len(words), dim, generator=g))  # (V, dim)


def show_neighbours(vectors: WordVectors, words: Sequence[str], k: int = 5) -> None:
    """Print the ``k`` nearest words of each of ``words`` with their cosine similarities."""
    for word in words:
        print(f"{word:>7}:", ", ".join(f"{n} {s:.2f}" for n, s in vectors.nearest(word, k)))


def middle_of_best(rows: Sequence[Mapping[str, float]]) -> float:
    """The weight in the middle of those with the best ``score`` (sorted by weight; of two
    middle ones, the smaller): as far as the rows allow from both ways of failing."""
    if not rows:
        raise ValueError("rows must hold at least one {'weight': ..., 'score': ...} row")
    best = max(round(r["score"], 9) for r in rows)
    tied = sorted(r["weight"] for r in rows if round(r["score"], 9) == best)
    return float(tied[(len(tied) - 1) // 2])


def choose_weight(sentence: WordVectors, scene: WordVectors, weights: Sequence[float] = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)):
    """Pick the weight of the sentence part on validation words only.

    Score = purity of :data:`VALIDATION_CATEGORIES` + :func:`referent_accuracy` of
    :data:`VALIDATION_REFERENTS`. Too small a weight lets the scene part break up the
    categories, too large a one drowns the referents; when several weights tie for the
    best score, the middle one of them is chosen (:func:`middle_of_best`). Returns
    ``(best_weight, rows)`` with one row of numbers per weight.
    """
    if not weights or any(not w > 0 for w in weights):
        raise ValueError(f"weights must be a non-empty sequence of positive numbers, got {weights!r}")
    rows = []
    for w in weights:
        joined = combine(sentence, scene, w)
        purity = category_purity(joined, VALIDATION_CATEGORIES)["mean"]
        referent = referent_accuracy(joined)
        rows.append({"weight": float(w), "validation purity": purity, "referent accuracy": referent,
                     "score": purity + referent})
    return middle_of_best(rows), rows


# ----------------------------------------------------------------------------------------
# The count-based baseline: PPMI + truncated SVD
# ----------------------------------------------------------------------------------------


def cooccurrence(corpus: Corpus, context: str = "sentence", window: int = 5) -> np.ndarray:
    """Co-occurrence counts ``(V, V)`` with the same contexts as the skip-gram pairs.

    ``"sentence"``: words ``d <= window`` apart in a sentence, weighted ``(window - d + 1) / window``
    (what the dynamic window gives on average). ``"scene"``: every pair of tokens of the
    same scene's texts.
    """
    v = len(corpus.words)
    if context == "sentence":
        counts = np.zeros((v, v))  # (V, V)
        t, s = corpus.tokens, corpus.sentence
        for d in range(1, window + 1):
            same = s[:-d] == s[d:]  # (T-d,)
            w = (window - d + 1) / window
            np.add.at(counts, (t[:-d][same], t[d:][same]), w)  # (V, V) word -> word d places later
        return counts + counts.T  # (V, V) symmetric
    if context == "scene":
        bag = np.zeros((corpus.n_scenes, v))  # (N, V) word counts per scene
        np.add.at(bag, (corpus.scene, corpus.tokens), 1.0)  # (N, V)
        return bag.T @ bag - np.diag(bag.sum(0))  # (V, V) pairs of different tokens
    raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")


def ppmi(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Positive pointwise mutual information of a co-occurrence matrix ``(V, V)``, with the
    context distribution raised to ``power`` (as the SGNS noise)."""
    counts = np.asarray(counts, dtype=np.float64)  # (V, V)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or (counts < 0).any():
        raise ValueError("counts must be a square matrix of non-negative co-occurrence counts")
    total = counts.sum()
    p_word = counts.sum(1) / total  # (V,)
    p_context = counts.sum(0) ** power  # (V,)
    p_context = p_context / p_context.sum()  # (V,)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts / total / np.outer(p_word, p_context))  # (V, V)
    return np.where(np.isfinite(pmi), np.maximum(pmi, 0.0), 0.0)  # (V, V)


def ppmi_svd(corpus: Corpus, context: str = "sentence", dim: int = 32, window: int = 5) -> WordVectors:
    """Count-based word vectors: PPMI of the co-occurrence counts, truncated SVD, ``U_d * sqrt(S_d)``."""
    matrix = ppmi(cooccurrence(corpus, context, window))  # (V, V)
    u, s, _ = np.linalg.svd(matrix)  # (V, V), (V,)
    table = torch.from_numpy(u[:, :dim] * np.sqrt(s[:dim])).float()  # (V, dim)
    return WordVectors.from_table(corpus.words, table, corpus.counts)


# ----------------------------------------------------------------------------------------
# The course's pre-trained word vectors
# ----------------------------------------------------------------------------------------


TRAINING_CODE = (build_corpus, scene_texts, keep_probabilities, subsample, window_pairs, scene_pairs,
                 noise_distribution, PairBatches, negative_sampling_loss, SkipGram, make_optimizer,
                 train_skipgram, WordVectors, combine, category_purity, referent_accuracy, middle_of_best,
                 choose_weight)
"""The code that decides the course's word vectors: a hash of its source is part of their
cache key, so editing any of it trains them again."""


def fit_word_vectors(config: Word2VecConfig | None = None, progress: bool = True) -> dict[str, Any]:
    """Train both skip-gram models, choose the weight on validation words and join them.

    Returns a dict with ``sentence``, ``scene`` and ``combined`` :class:`WordVectors`,
    ``weight``, the weight table ``weights`` and both ``histories``.
    """
    config = config or Word2VecConfig()
    corpus = build_corpus(config.n_scenes, config.corpus_seed, config.max_objects, config.captions_per_scene)
    sentence, h1 = train_skipgram(corpus, "sentence", config, progress)
    scene, h2 = train_skipgram(corpus, "scene", config, progress)
    weight, rows = choose_weight(sentence, scene, config.weights)
    return {"sentence": sentence, "scene": scene, "combined": combine(sentence, scene, weight),
            "weight": weight, "weights": rows, "histories": (h1, h2)}


PARTS = ("combined", "sentence", "scene")


class _StoppedEarly(Exception):
    """Raised inside a cache build so that vectors from a run cut short are returned but not stored."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__("stopped early")
        self.data = data


def pretrained_word_vectors(config: Word2VecConfig | None = None, part: str = "combined", progress: bool = True,
                            fitted: Mapping[str, Any] | None = None) -> WordVectors:
    """The course's word vectors (lesson 01), trained on first use and then read from the cache.

    ``part`` picks the joined vectors (``"combined"``, the default) or one of the two
    skip-gram models alone (``"sentence"`` or ``"scene"`` contexts). Lesson 01 trains
    them step by step and passes its result (a dict with the three parts and ``weight``,
    and optionally the training ``histories``) as ``fitted``, so it is stored instead of
    trained a second time; training is deterministic, so both agree. The cache key holds
    the configuration and a hash of the training code (:data:`TRAINING_CODE`). Vectors
    whose training hit its safety time budget are returned but never stored.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    config = config or Word2VecConfig.for_preset(preset())
    key = dataclasses.asdict(config) | {"world": GENERATOR_VERSION,
                                        "code": cache.code_fingerprint(*TRAINING_CODE, fit_word_vectors)}

    def build() -> dict[str, Any]:
        result = fitted if fitted is not None else fit_word_vectors(config, progress)
        missing = [p for p in (*PARTS, "weight") if p not in result]
        if missing:
            raise ValueError(f"fitted must hold {PARTS} and 'weight' (as fit_word_vectors returns); missing {missing}")
        data = {p: result[p].to_dict() for p in PARTS} | {"weight": float(result["weight"])}
        if any(h.stopped_early for h in result.get("histories", ())):
            raise _StoppedEarly(data)
        return data

    try:
        data = cache.cached("word_vectors", key, build)
    except _StoppedEarly as stopped:
        print("WARNING: the word vectors were trained by a run cut short by its safety time budget; "
              "they are NOT cached, the next call trains them again")
        data = stopped.data
    return WordVectors.from_dict(data[part])


# ----------------------------------------------------------------------------------------
# Exercise checks (lesson 01)
# ----------------------------------------------------------------------------------------


def check_negative_sampling_loss(loss_fn: Any, seed: int = 0) -> float:
    """Compare a learner's ``loss_fn(centre (B, D), context (B, D), negatives (B, K, D))`` with
    :func:`negative_sampling_loss` on random batches; raises ``CheckFailed`` with what is wrong.
    Returns the largest relative error."""
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for b, k, d in ((4, 3, 5), (64, 5, 16)):
        u = torch.randn(b, d, generator=g, dtype=torch.float64)  # (B, D)
        v = torch.randn(b, d, generator=g, dtype=torch.float64)  # (B, D)
        n = torch.randn(b, k, d, generator=g, dtype=torch.float64)  # (B, K, D)
        got = loss_fn(u, v, n)
        checks.true(torch.is_tensor(got), f"the loss must be a tensor, got {type(got).__name__}")
        checks.true(got.dim() == 0, f"the loss must be one number (a 0-d tensor, the batch mean), got shape {tuple(got.shape)}")
        want = negative_sampling_loss(u, v, n)
        if abs(float(got) - float(negative_sampling_loss(u, v, n[:, :1]))) < 1e-9 * max(1.0, abs(float(want))) and k > 1:
            raise checks.CheckFailed("the loss only uses the first negative: sum log sigma(-u . n_k) over all K negatives")
        worst = max(worst, checks.close(got, want, name=f"loss (B={b}, K={k}, D={d})", tol=1e-6))
    return worst


def check_subsample(subsample_fn: Any, t: float = 1e-3, seed: int = 0) -> dict[str, float]:
    """Check a learner's ``subsample_fn(tokens, counts, t, rng) -> keep mask`` on its statistics.

    A synthetic corpus with Zipf-like counts is subsampled once; each word's kept share
    must match word2vec's ``min(1, sqrt(t / f) + t / f)`` (:func:`keep_probabilities`)
    within 4 binomial standard deviations (plus 0.01), words rarer than ``t`` must always
    be kept, and two generators must give different masks. Returns the kept share of each
    word."""
    counts = np.array([40000, 20000, 8000, 3000, 1000, 300, 100, 30, 20, 10], dtype=np.int64)  # (V,)
    tokens = np.random.default_rng(123).permutation(np.repeat(np.arange(len(counts)), counts))  # (T,)
    mask = np.asarray(subsample_fn(tokens, counts, t, np.random.default_rng(seed)))  # (T,)
    checks.shape(mask, (len(tokens),), name="keep mask")
    checks.true(mask.dtype == bool, f"the keep mask must be boolean (True = keep the token), got dtype {mask.dtype}")
    freq = counts / counts.sum()  # (V,)
    expected = keep_probabilities(counts, t)  # (V,)
    paper = keep_probabilities(counts, t, "paper")  # (V,)
    shares = {f"word {w}": float(mask[tokens == w].mean()) for w in range(len(counts))}
    for w in range(len(counts)):
        kept = shares[f"word {w}"]
        sd = math.sqrt(expected[w] * (1 - expected[w]) / counts[w])
        if expected[w] >= 1.0 and kept < 1.0:
            raise checks.CheckFailed(f"word {w} (share {freq[w]:.2%} <= t) must always be kept, but only {kept:.1%} of it was")
        if abs(kept - expected[w]) > 4 * sd + 0.01:
            if abs(kept - paper[w]) <= 4 * math.sqrt(paper[w] * (1 - paper[w]) / counts[w]) + 0.01:
                raise checks.CheckFailed(
                    f"word {w} was kept {kept:.1%} of the time, as the paper's rule min(1, sqrt(t / f)) gives; "
                    f"word2vec's code keeps a word with probability sqrt(t / f) + t / f, here {expected[w]:.1%}")
            if kept == 1.0:
                raise checks.CheckFailed(
                    f"word {w} (share {freq[w]:.2%}) was never dropped; it should be kept {expected[w]:.1%} of the "
                    f"time: frequent words are dropped at random")
            if abs(kept - (1 - expected[w])) <= 4 * sd + 0.01:
                raise checks.CheckFailed(
                    f"word {w} (share {freq[w]:.2%}) was kept {kept:.1%} of the time, close to the probability of "
                    f"DROPPING it ({1 - expected[w]:.1%}): the mask must be True for the tokens you keep")
            raise checks.CheckFailed(
                f"word {w} (share {freq[w]:.2%} of the tokens) was kept {kept:.1%} of the time; "
                f"expected {expected[w]:.1%} = min(1, sqrt(t / f) + t / f)")
    other = np.asarray(subsample_fn(tokens, counts, t, np.random.default_rng(seed + 1)))
    checks.true(not np.array_equal(mask, other), "the mask must be random: use rng (two generators gave the same mask)")
    return shares


def _pair_arrays(result: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A learner's ``(centres, contexts)`` as two equal-length integer arrays, or ``CheckFailed``."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise checks.CheckFailed(f"return two arrays (centres, contexts); got {type(result).__name__} for {what}")
    centres, contexts = (np.asarray(a) for a in result)  # (P,), (P,)
    checks.true(centres.ndim == 1 and contexts.ndim == 1 and len(centres) == len(contexts),
                f"centres and contexts must be two 1-D arrays of the same length, got shapes "
                f"{centres.shape} and {contexts.shape} for {what}")
    checks.true(np.issubdtype(centres.dtype, np.integer) and np.issubdtype(contexts.dtype, np.integer),
                f"centres and contexts must hold token ids (integers), got {centres.dtype} and {contexts.dtype}")
    return centres, contexts


def check_window_pairs(pairs_fn: Any, seed: int = 0) -> dict[int, float]:
    """Check a learner's ``pairs_fn(tokens, sentence, window, rng) -> (centres (P,), contexts (P,))``.

    Three inputs whose token ids equal their positions, so every pair tells its distance:
    two short sentences with ``window=1`` (exactly the neighbours inside each sentence, in
    both directions); one long sentence with ``window=4``, where the share of pairs at
    distance ``d`` (relative to distance 1) must be ``(window - d + 1) / window`` within
    0.05; and two generators, which must give different pairs. Returns those shares.
    """
    tokens = np.arange(10)  # (10,) ids equal positions
    sentence = np.array([0] * 6 + [1] * 4)  # (10,)
    centres, contexts = _pair_arrays(pairs_fn(tokens, sentence, 1, np.random.default_rng(seed)), "window=1")
    got = sorted(zip(centres.tolist(), contexts.tolist()))
    right = [(i, i + 1) for i in (0, 1, 2, 3, 4, 6, 7, 8)]  # neighbours inside each sentence
    want = sorted(right + [(j, i) for i, j in right])
    crossing = [(c, x) for c, x in got if 0 <= c < 10 and 0 <= x < 10 and sentence[c] != sentence[x]]
    if crossing:
        raise checks.CheckFailed(f"the pair {crossing[0]} crosses from one sentence into the next: "
                                 f"a context must come from the centre's own sentence")
    checks.true(all(c != x for c, x in got), "a token is paired with itself: the centre is not its own context")
    if got != want:
        missing = sorted(set(want) - set(got))
        if missing and all(x < c for c, x in missing):
            raise checks.CheckFailed("only contexts to the right of the centre: a context may be on either side, "
                                     f"e.g. {missing[0]} is missing")
        if missing and all(x > c for c, x in missing):
            raise checks.CheckFailed("only contexts to the left of the centre: a context may be on either side, "
                                     f"e.g. {missing[0]} is missing")
        raise checks.CheckFailed(f"with window=1 the pairs must be exactly the neighbours inside each sentence, "
                                 f"each once: expected {want}, got {got}")

    window, n = 4, 6000
    tokens = np.arange(n)  # (n,) one long sentence, ids equal positions
    centres, contexts = _pair_arrays(pairs_fn(tokens, np.zeros(n, dtype=np.int64), window,
                                              np.random.default_rng(seed)), f"window={window}")
    d = np.abs(centres - contexts)  # (P,) distances
    checks.true(d.max() <= window, f"a pair is {d.max()} places apart, more than window={window}")
    checks.true(d.min() >= 1, "a token is paired with itself: the centre is not its own context")
    count = np.bincount(d, minlength=window + 1)[1:]  # (window,) pairs at distance 1..window
    shares = {k + 1: float(count[k] / count[0]) for k in range(window)}
    expected = {k: (window - k + 1) / window for k in shares}
    if count[-1] == 0:
        raise checks.CheckFailed(f"no pair is {window} places apart: the window size b is drawn from 1 to window "
                                 f"inclusive (rng.integers(1, window + 1))")
    if all(abs(v - 1.0) < 0.05 for v in shares.values()):
        raise checks.CheckFailed("every distance from 1 to window is equally common: that is a fixed window. "
                                 "Draw one window size b per centre, uniformly from 1 to window, so near words "
                                 "are contexts more often")
    for k, v in shares.items():
        if abs(v - expected[k]) > 0.05:
            raise checks.CheckFailed(
                f"pairs {k} places apart are {v:.2f} times as common as pairs 1 place apart; expected "
                f"(window - d + 1) / window = {expected[k]:.2f}: is b drawn uniformly from 1 to window, once per centre?")
    again = _pair_arrays(pairs_fn(tokens, np.zeros(n, dtype=np.int64), window, np.random.default_rng(seed + 1)),
                         f"window={window}")
    checks.true(len(again[0]) != len(centres) or not np.array_equal(again[1], contexts),
                "the pairs must be random: use rng (two generators gave the same pairs)")
    return shares


# ----------------------------------------------------------------------------------------
# Figures (lesson 01)
# ----------------------------------------------------------------------------------------


def plot_word_frequencies(corpus: Corpus, labelled: int = 12) -> Any:
    """Bar chart of every word's share of the tokens, most frequent first (log scale), the
    ``labelled`` most frequent words named. Returns the figure."""
    order = np.argsort(-corpus.counts)  # (V,) most frequent first
    known = order[corpus.counts[order] > 0]  # (V',)
    share = corpus.counts[known] / len(corpus)  # (V',)
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(range(len(known)), share)
    ax.set_yscale("log")
    ax.set(xlabel="word rank", ylabel="share of tokens", title=f"{len(known)} distinct words, {len(corpus):,} tokens")
    for r in range(min(labelled, len(known))):
        ax.text(r, share[r], corpus.words[known[r]], rotation=90, ha="center", va="bottom", fontsize=8)
    return fig


def plot_window(words: Sequence[str], centre: int, window: int) -> Any:
    """One sentence as word boxes: the centre (orange), its contexts within ``window`` (blue,
    with arrows) and the rest (grey). Returns the figure."""
    if not 0 <= centre < len(words):
        raise ValueError(f"centre must be a position in words (0..{len(words) - 1}), got {centre!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    fig, ax = plt.subplots(figsize=(11, 1.4))
    for i, word in enumerate(words):
        near = 0 < abs(i - centre) <= window
        colour = "tab:orange" if i == centre else ("tab:blue" if near else "0.9")
        ax.text(i, 0, word, ha="center", va="center", fontsize=11, color="black" if colour == "0.9" else "white",
                bbox=dict(boxstyle="round", fc=colour, ec="none"))
        if near:
            ax.annotate("", xy=(i, 0.35), xytext=(centre, 0.35),
                        arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-0.4", color="tab:blue"))
    ax.set(xlim=(-0.7, len(words) - 0.3), ylim=(-0.5, 1.2))
    ax.axis("off")
    ax.set_title(f"centre '{words[centre]}' (orange) and its contexts within a window of {window} (blue)")
    return fig


def plot_subsampling_and_noise(corpus: Corpus, config: Word2VecConfig, labelled: int = 12) -> Any:
    """Left: the keep probability of the ``labelled`` most frequent words under both
    subsampling rules. Right: the noise distribution against the word frequencies (log-log).
    Returns the figure."""
    order = np.argsort(-corpus.counts)  # (V,)
    known = order[corpus.counts[order] > 0]  # (V',)
    top = known[:labelled]
    unigram = corpus.counts / corpus.counts.sum()  # (V,)
    noise = noise_distribution(corpus.counts, config.noise_power)  # (V,)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
    x = np.arange(len(top))
    for shift, formula, label in ((-0.2, "paper", "min(1, sqrt(t/f))  (paper)"),
                                  (0.2, "code", "min(1, sqrt(t/f) + t/f)  (word2vec code)")):
        keep = keep_probabilities(corpus.counts, config.subsample, formula)  # (V,)
        axes[0].bar(x + shift, keep[top], width=0.4, label=label)
    axes[0].set_xticks(x, [corpus.words[i] for i in top], rotation=60)
    axes[0].set(title=f"keep probability, t = {config.subsample:g}", ylim=(0, 1.05))
    axes[0].legend(fontsize=8)
    axes[1].loglog(unigram[known], unigram[known], "k:", lw=1, label="unigram (diagonal)")
    axes[1].loglog(unigram[known], noise[known], "o", ms=3, label=f"unigram^{config.noise_power:g}, normalised")
    axes[1].set(xlabel="word frequency", ylabel="noise probability", title="noise distribution")
    axes[1].legend()
    fig.tight_layout()
    return fig


def plot_embedding(vectors: WordVectors, categories: Mapping[str, Sequence[str]] | None = None) -> Any:
    """The words of ``categories`` (default :data:`WORD_CATEGORIES`) on the first two
    principal components of their vectors, coloured by category. Returns the figure."""
    categories = dict(categories if categories is not None else WORD_CATEGORIES)
    words = [w for ws in categories.values() for w in ws]
    missing = vectors.unknown(words)
    if missing:
        raise ValueError(f"categories hold words without a vector: {missing}")
    x = vectors.subset(words)  # (W, D)
    x = x - x.mean(0)  # (W, D)
    _, _, v = torch.linalg.svd(x, full_matrices=False)  # v: (D, D)
    xy = (x @ v[:2].T).numpy()  # (W, 2)
    fig, ax = plt.subplots(figsize=(8, 6))
    start = 0
    for i, (name, ws) in enumerate(categories.items()):
        idx = range(start, start + len(ws))
        start += len(ws)
        ax.scatter(xy[idx, 0], xy[idx, 1], s=25, color=f"C{i}", label=name)
        for j in idx:
            ax.annotate(words[j], xy[j], fontsize=8, color=f"C{i}", xytext=(3, 2), textcoords="offset points")
    ax.legend(fontsize=8)
    ax.set_title("word vectors, first two principal components")
    return fig
