"""Lesson 00: the three ways to use several modalities, and the lazy-modality problem.

Small, fast illustrations on the course world:

- **Matching** — map an image and a caption into one common space and compare them
  there. Here the space is hand-made: the 15 "concepts" of the world (5 shapes, 6
  colours, 4 scene types). The course's image encoder reads an image into it
  (:meth:`~mmcourse.encoders.GridEncoder.summary`), word spotting reads a caption into it
  (:func:`text_concepts`), and the cosine similarity ranks captions for an image
  (:func:`match_scores`, :func:`recall_at_k`).
- **Translating** — turn one modality into another: a recipe into a picture
  (:func:`paint_recipe`, :func:`reverse_order_changes`) and a picture into words
  (:func:`describe_reading`).
- **Referencing** — produce an output by consulting another modality: answer a question
  by looking at the encoder's per-cell reading of the image (:func:`answer_by_looking`).
- **Modality bias** — an audio-visual classifier (:class:`AudioVisualClassifier`)
  whose audio input is an easy shortcut learns to ignore the image; dropping the audio
  at random during training (:func:`modality_dropout`) forces it to use the image too.
  The audio features (:func:`log_mel_stats`) of a silent clip are exactly zero, so
  "the audio is removed" and "the audio features are zeroed" are the same thing.
  :class:`AudioVisualTask` holds the features of the task, :func:`train_classifier`
  trains (or reads from the cache) one classifier.
- The 1:N problem: :func:`word_overlap` measures how differently the captions of one
  image are worded.
- Figures: :func:`draw_three_ways`, :func:`plot_recipe_order`, :func:`plot_curves`.
- Exercise checks: :func:`check_recall_at_k`, :func:`check_word_overlap`,
  :func:`check_modality_dropout`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from . import cache, checks
from .audio import MIN_SAMPLE_RATE, mel_filterbank
from .encoders import cell_labels, encode
from .runtime import device as default_device, seeded
from .training import History, train
from .world.catalog import COLOUR_NAMES, COUNT_WORDS, SCENE_TYPES, SHAPES
from .world.datasets import AudioVisualDataset
from .world.language import (SCENE_ADJECTIVES, SCENE_PLACES, SHAPE_WORDS, Recipe, parse_recipe_steps, plural,
                             render_recipe)
from .world.vocab import tokenize

CONCEPTS: tuple[str, ...] = (*SHAPES, *COLOUR_NAMES, *SCENE_TYPES)
"""The common space of :func:`match_scores`: the order of ``GridEncoder.summary()``'s outputs."""

_FUNCTION_WORDS = frozenset({"a", "an", "the", "on", "at", "in", "under", "of"})
_RECIPE_BASES = {"sand": "beach", "moss": "forest", "concrete": "city", "ink": "night"}


def concept_words() -> dict[str, int]:
    """Every word that names a concept, mapped to its index in :data:`CONCEPTS`.

    Shapes with their synonyms and plurals ("box", "boxes" -> square), colours, and the
    content words of the scene phrases ("woods" -> forest, "street" -> city, "sky" ->
    night) and of the recipes' backgrounds ("sand" -> beach).
    """
    words: dict[str, int] = {}
    for s, name in enumerate(SHAPES):
        for word in SHAPE_WORDS[name]:
            words[word] = s
            words[plural(word)] = s
    for c, name in enumerate(COLOUR_NAMES):
        words[name] = len(SHAPES) + c
    offset = len(SHAPES) + len(COLOUR_NAMES)
    for t, name in enumerate(SCENE_TYPES):
        phrases = [*SCENE_PLACES.get(name, ()), SCENE_ADJECTIVES.get(name, name), name]
        for word in itertools.chain.from_iterable(tokenize(p) for p in phrases):
            if word not in _FUNCTION_WORDS:
                words[word] = offset + t
    for word, scene in _RECIPE_BASES.items():
        words[word] = offset + SCENE_TYPES.index(scene)
    return words


def text_concepts(texts: Sequence[str]) -> torch.Tensor:
    """Bag of concepts of each text: float ``(N, len(CONCEPTS))``, 1 where the text names a concept."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"texts must be a list of strings, got {type(texts).__name__}")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a list of strings; some items are not strings")
    lookup = concept_words()
    out = torch.zeros(len(texts), len(CONCEPTS))  # (N, C)
    for i, text in enumerate(texts):
        for word in tokenize(text):
            if word in lookup:
                out[i, lookup[word]] = 1.0
    return out


def match_scores(image_concepts: torch.Tensor, caption_concepts: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every image with every caption in the concept space.

    Args:
        image_concepts: ``(N, C)`` e.g. the encoder's ``summary()`` probabilities.
        caption_concepts: ``(M, C)`` from :func:`text_concepts`.
    Returns:
        ``(N, M)`` similarities; a caption that names no concept scores 0 with every image.
    """
    if image_concepts.dim() != 2 or caption_concepts.dim() != 2:
        raise ValueError(
            f"image_concepts and caption_concepts must be 2-D (N, C) and (M, C), got "
            f"{tuple(image_concepts.shape)} and {tuple(caption_concepts.shape)}"
        )
    if image_concepts.shape[1] != caption_concepts.shape[1]:
        raise ValueError(
            f"image_concepts has {image_concepts.shape[1]} concepts but caption_concepts has "
            f"{caption_concepts.shape[1]}"
        )
    a = F.normalize(image_concepts.float(), dim=1)  # (N, C)
    b = F.normalize(caption_concepts.float(), dim=1)  # (M, C)
    return a @ b.T  # (N, M)


def recall_at_k(scores: torch.Tensor, owner: torch.Tensor, k: int = 1) -> float:
    """Recall at ``k`` (R@K) of image -> caption retrieval: the share of images that find one
    of their own captions among the ``k`` captions ranked highest for them.

    Args:
        scores: ``(N, M)`` similarity of image ``i`` with caption ``j``.
        owner: ``(M,)`` the image each caption belongs to.
        k: how many top captions count.

    Ties are broken pessimistically: a caption of another image with the same score
    as the best own caption ranks before it, so uninformative captions get no credit.
    """
    if not torch.is_tensor(scores) or scores.dim() != 2:
        got = tuple(scores.shape) if torch.is_tensor(scores) else type(scores).__name__
        raise ValueError(f"scores must be a 2-D tensor (N images, M captions), got {got}")
    if not torch.is_tensor(owner) or owner.shape != (scores.shape[1],):
        raise ValueError(
            f"owner must be a tensor of shape ({scores.shape[1]},) for scores {tuple(scores.shape)}, "
            f"got {tuple(getattr(owner, 'shape', ()))}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    own = owner[None, :] == torch.arange(scores.shape[0])[:, None]  # (N, M)
    best_own = scores.masked_fill(~own, -float("inf")).amax(1)  # (N,)
    rank = (scores.masked_fill(own, -float("inf")) >= best_own[:, None]).sum(1)  # (N,) others at least as good
    return float((rank < k).float().mean())


# ----------------------------------------------------------------------------------------
# Reading an image with the course encoder: translating and referencing
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Reading:
    """What the course encoder sees in a batch of images, cell by cell.

    ``shape`` and ``colour`` are ``(N, g, g)`` int64 with 0 = no object and ``1 + index``
    into ``SHAPES`` / ``COLOUR_NAMES``; ``scene`` is ``(N,)`` into ``SCENE_TYPES``;
    ``summary`` is ``(N, len(CONCEPTS))``.
    """

    shape: torch.Tensor
    colour: torch.Tensor
    scene: torch.Tensor
    summary: torch.Tensor

    def __len__(self) -> int:
        return int(self.scene.shape[0])


@torch.no_grad()
def read_grid(encoder: nn.Module, grid: torch.Tensor) -> Reading:
    """Read the encoder's three heads on a precomputed grid ``(N, D, g, g)`` (see :func:`mmcourse.encoders.encode`)."""
    if grid.dim() != 4:
        raise ValueError(f"grid must have shape (N, D, g, g), got {tuple(grid.shape)}")
    dev = next(encoder.parameters()).device
    out = encoder.heads(grid.to(dev))
    shape_p = out["shape"].softmax(1)[:, 1:].amax((2, 3))  # (N, n_shapes) as in GridEncoder.summary
    colour_p = out["colour"].softmax(1)[:, 1:].amax((2, 3))  # (N, n_colours)
    return Reading(
        shape=out["shape"].argmax(1).cpu(),  # (N, g, g)
        colour=out["colour"].argmax(1).cpu(),  # (N, g, g)
        scene=out["scene"].argmax(1).cpu(),  # (N,)
        summary=torch.cat([shape_p, colour_p, out["scene"].softmax(1)], 1).cpu(),  # (N, C)
    )


def read_images(encoder: nn.Module, images: torch.Tensor) -> Reading:
    """What the encoder sees in images ``(N, 3, S, S)``: its per-cell answers and its summary."""
    return read_grid(encoder, encode(encoder, images))  # (N, D, g, g) -> Reading


def _components(mask: np.ndarray) -> int:
    """Number of 4-connected groups of True cells in a 2-D mask (one group ~ one object)."""
    return int(ndimage.label(mask)[1])


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe_reading(reading: Reading, i: int) -> str:
    """Image -> text: a one-line description of image ``i`` from the encoder's cell answers.

    Every (colour, shape) pair the encoder reports in some cells is one kind of object;
    its connected groups of cells are counted ("two orange squares"). The scene type
    comes from the scene head.
    """
    if not 0 <= i < len(reading):
        raise ValueError(f"i must be in 0..{len(reading) - 1}, got {i}")
    s = reading.shape[i].numpy()  # (g, g) 0 = none
    c = reading.colour[i].numpy()  # (g, g)
    seen = (s > 0) & (c > 0)  # (g, g)
    kinds = sorted({(int(ci), int(si)) for ci, si in zip(c[seen], s[seen])})
    things = []
    for ci, si in kinds:
        n = min(_components(seen & (c == ci) & (s == si)), len(COUNT_WORDS) - 1)
        colour, shape = COLOUR_NAMES[ci - 1], SHAPES[si - 1]
        if n == 1:
            things.append(f"{_article(colour)} {colour} {shape}")
        else:
            things.append(f"{COUNT_WORDS[n]} {colour} {plural(shape)}")
    place = SCENE_PLACES[SCENE_TYPES[int(reading.scene[i])]][0]
    if not things:
        return f"nothing {place}"
    listed = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]
    return f"{listed} {place}"


def _descriptor(words: list[str]) -> tuple[int | None, int | None]:
    """(colour, shape) named in a question's words; None where it names none."""
    lookup = concept_words()
    colour = shape = None
    for word in words:
        index = lookup.get(word)
        if index is None:
            continue
        if index < len(SHAPES):
            shape = index
        elif index < len(SHAPES) + len(COLOUR_NAMES):
            colour = index - len(SHAPES)
    return colour, shape


def question_kind(text: str) -> str:
    """Which kind of question a text is, from its first words: colour, shape, count, exists, scene or relation."""
    t = text.lower()
    if t.startswith(("what colour", "what is the colour")):
        return "colour"
    if t.startswith(("what shape", "what kind of shape")):
        return "shape"
    if t.startswith("how many"):
        return "count"
    if t.startswith(("is there", "are there any")):
        return "exists"
    if t.startswith(("what kind of place", "where", "what is the setting")):
        return "scene"
    return "relation"


def answer_by_looking(text: str, reading: Reading, i: int) -> str | None:
    """Referencing: answer a question about image ``i`` by consulting the encoder's cell answers.

    The question's words say *where to look* (the cells whose shape or colour it names);
    the image says *what is there*. Colour, shape, exists, count and scene questions are
    answered; relation questions return ``None`` (lesson 06 learns them).
    """
    if not 0 <= i < len(reading):
        raise ValueError(f"i must be in 0..{len(reading) - 1}, got {i}")
    kind = question_kind(text)
    words = tokenize(text)
    s = reading.shape[i].numpy()  # (g, g) 0 = none
    c = reading.colour[i].numpy()  # (g, g)
    colour, shape = _descriptor(words)
    match = s > 0  # (g, g) cells with an object
    if colour is not None:
        match &= c == colour + 1
    if shape is not None:
        match &= s == shape + 1
    if kind == "scene":
        return SCENE_TYPES[int(reading.scene[i])]
    if kind == "exists":
        return "yes" if match.any() else "no"
    if kind == "count":
        return COUNT_WORDS[min(_components(match), len(COUNT_WORDS) - 1)]
    if kind in ("colour", "shape"):
        if not match.any():
            match = s > 0
        values = (c if kind == "colour" else s)[match]  # (cells,)
        values = values[values > 0]
        if values.size == 0:
            return None
        best = int(np.bincount(values).argmax()) - 1
        return COLOUR_NAMES[best] if kind == "colour" else SHAPES[best]
    return None


# ----------------------------------------------------------------------------------------
# Translating a recipe into a picture: the order of the steps matters
# ----------------------------------------------------------------------------------------


def paint_recipe(recipe: Recipe | Sequence[str], size: int = 64, reverse: bool = False) -> np.ndarray:
    """Text -> image: paint a recipe's object steps in their order (or in reverse), ``(S, S, 3)`` uint8."""
    if not isinstance(reverse, (bool, np.bool_)):
        raise ValueError(f"reverse must be True or False, got {reverse!r}")
    n = len(parse_recipe_steps(recipe))  # object steps
    order = list(range(n))[::-1] if reverse else None
    return render_recipe(recipe, order=order, size=size).images[0]  # (S, S, 3) uint8


def reverse_order_changes(data: Any, size: int = 64) -> dict[int, float]:
    """For every scene of ``data`` with two or more objects: the share of the pixels that change
    when its recipe is painted in reverse order (0 when no two objects overlap).

    Args:
        data: a :class:`~mmcourse.world.SceneData` made with its text (its ``recipes``).
        size: image side of the paintings.
    Returns:
        ``{scene index: share of changed pixels}``.
    """
    recipes = getattr(data, "recipes", None)
    if not recipes or len(recipes) != len(data):
        raise ValueError("data must be a SceneData made with its text (one recipe per scene)")
    changed = {}
    for i in range(len(data)):
        if data.scenes.n_objects[i] >= 2:
            forward = paint_recipe(recipes[i], size)  # (S, S, 3)
            backward = paint_recipe(recipes[i], size, reverse=True)  # (S, S, 3)
            changed[i] = float((forward != backward).any(-1).mean())
    return changed


def plot_recipe_order(data: Any, scenes: Sequence[int], size: int = 64) -> Figure:
    """One row per scene: the scene, its recipe painted in order, and painted in reverse order."""
    if len(scenes) < 1:
        raise ValueError("scenes must name at least one scene")
    fig, axes = plt.subplots(len(scenes), 3, figsize=(6.3, 2.17 * len(scenes)), squeeze=False)
    titles = ("the scene", "painted from its recipe", "same steps, reverse order")
    for row, i in enumerate(scenes):
        pictures = (data.images[i].permute(1, 2, 0).numpy(), paint_recipe(data.recipes[i], size),
                    paint_recipe(data.recipes[i], size, reverse=True))  # 3 x (S, S, 3)
        for ax, picture, title in zip(axes[row], pictures, titles):
            ax.imshow(picture)
            ax.set_title(title if row == 0 else "", fontsize=10)
            ax.axis("off")
    fig.tight_layout()
    return fig


def _box(ax: Any, x: float, y: float, text: str, colour: str) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=10,
            bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"))


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=1.5, color="0.3"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.05, text, ha="center", fontsize=8, color="0.3")


def draw_three_ways() -> Figure:
    """The diagram of the three ways to use several modalities: matching, translating, referencing."""
    image, text, joint = "#cde", "#edc", "#dec"  # box colours of images, texts and shared results
    fig, axes = plt.subplots(1, 3, figsize=(13, 2.8))
    for ax in axes:
        ax.set(xlim=(0, 1), ylim=(0, 1))
        ax.axis("off")
    ax = axes[0]
    ax.set_title("matching: one common space")
    _box(ax, 0.15, 0.75, "image", image)
    _box(ax, 0.15, 0.25, "caption", text)
    _box(ax, 0.72, 0.5, "common space\n(similarity)", joint)
    _arrow(ax, (0.27, 0.72), (0.55, 0.56), "encoder")
    _arrow(ax, (0.3, 0.28), (0.55, 0.44), "word spotting")
    ax = axes[1]
    ax.set_title("translating: one modality into another")
    _box(ax, 0.17, 0.72, "recipe text", text)
    _box(ax, 0.8, 0.72, "picture", image)
    _box(ax, 0.17, 0.28, "picture", image)
    _box(ax, 0.8, 0.28, "words", text)
    _arrow(ax, (0.35, 0.72), (0.65, 0.72), "paint")
    _arrow(ax, (0.32, 0.28), (0.67, 0.28), "describe")
    ax = axes[2]
    ax.set_title("referencing: consult another modality")
    _box(ax, 0.15, 0.75, "question", text)
    _box(ax, 0.15, 0.25, "image", image)
    _box(ax, 0.78, 0.5, "answer", joint)
    _arrow(ax, (0.3, 0.72), (0.66, 0.54), "where to look")
    _arrow(ax, (0.27, 0.28), (0.66, 0.46), "what is there")
    return fig


# ----------------------------------------------------------------------------------------
# The 1:N problem
# ----------------------------------------------------------------------------------------


def word_overlap(captions: Sequence[str]) -> float:
    """Mean Jaccard overlap of the word sets of every pair of captions.

    ``|A & B| / |A | B|`` for the sets of words (tokens) of two captions, averaged over
    all ``n (n - 1) / 2`` pairs: 1 when all captions use the same words, 0 when no two
    share a word.
    """
    if isinstance(captions, str) or not isinstance(captions, Sequence) or len(captions) < 2:
        raise ValueError("captions must be a list of at least 2 strings")
    sets = [set(tokenize(c)) for c in captions]
    scores = [len(a & b) / max(len(a | b), 1) for a, b in itertools.combinations(sets, 2)]
    return float(np.mean(scores))


# ----------------------------------------------------------------------------------------
# Modality bias: an audio-visual classifier and modality dropout
# ----------------------------------------------------------------------------------------

LOG_MEL_REF = 1e-2
"""Mel power is compressed as ``log(1 + power / LOG_MEL_REF)``: 0 for silence."""

def log_mel_stats(clips: torch.Tensor | np.ndarray, sample_rate: int = 16000, n_mels: int = 32,
                  n_fft: int = 512, batch_size: int = 512) -> torch.Tensor:
    """Cheap clip-level audio features: the mean and the standard deviation over time of each mel band.

    The mel power spectrogram (Hann window, hop = ``n_fft``) is compressed with
    ``log(1 + power / LOG_MEL_REF)``, which is exactly 0 for a silent clip, so the
    features of a removed (zeroed) audio track are all zeros.

    Args:
        clips: ``(N, T)`` float waveforms in [-1, 1] (16-bit integer clips: divide by 32767 first).
        sample_rate: in Hz (e.g. 16000).
    Returns:
        ``(N, 2 * n_mels)`` float32: ``n_mels`` means, then ``n_mels`` standard deviations.
    """
    if not (torch.is_tensor(clips) or isinstance(clips, np.ndarray)):
        raise ValueError(f"clips must be a tensor or NumPy array (N, T), got {type(clips).__name__}")
    floating = clips.is_floating_point() if torch.is_tensor(clips) else np.issubdtype(clips.dtype, np.floating)
    if not floating:
        raise ValueError(f"clips must be float waveforms in [-1, 1], got dtype {clips.dtype}; "
                         "divide 16-bit integer samples by 32767 first")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or sample_rate < MIN_SAMPLE_RATE:
        hint = f"; it is given in Hz, not kHz: did you mean {int(sample_rate) * 1000}?" \
            if isinstance(sample_rate, (int, np.integer)) and 0 < sample_rate < MIN_SAMPLE_RATE else ""
        raise ValueError(f"sample_rate must be an integer number of Hz (at least {MIN_SAMPLE_RATE:.0f}, "
                         f"e.g. 16000), got {sample_rate!r}{hint}")
    x = torch.as_tensor(clips, dtype=torch.float32)  # (N, T)
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] < n_fft:
        raise ValueError(f"clips must have shape (N, T) with N >= 1 and T >= n_fft={n_fft}, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("clips contain NaN or infinite samples")
    fb = torch.from_numpy(mel_filterbank(int(sample_rate), n_fft, n_mels)).float()  # (M, F)
    window = torch.hann_window(n_fft)  # (n_fft,)
    out = []
    for start in range(0, len(x), batch_size):
        spec = torch.stft(x[start:start + batch_size], n_fft, n_fft, window=window, center=False,
                          return_complex=True)  # (B, F, frames)
        mel = torch.log1p((fb @ spec.abs().square()) / LOG_MEL_REF)  # (B, M, frames)
        out.append(torch.cat([mel.mean(2), mel.std(2)], 1))  # (B, 2M)
    return torch.cat(out)  # (N, 2M)


def modality_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Remove a whole modality from a random share ``p`` of the examples.

    Each row of ``x`` (one example's features of one modality) is set to zero with
    probability ``p`` — the same input the model gets when that modality is missing.
    Unlike ordinary dropout, nothing is rescaled: zero means "absent", not "noisy".

    Args:
        x: ``(B, ...)`` one modality's input.
        p: drop probability in [0, 1].
    Returns:
        ``(B, ...)`` with dropped rows zeroed (a new tensor; ``x`` is unchanged).
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    if not torch.is_tensor(x) or x.dim() < 1:
        raise ValueError("x must be a tensor with a batch dimension (B, ...)")
    keep = torch.rand(x.shape[0], generator=generator, device="cpu") >= p  # (B,)
    keep = keep.to(x.device).view(-1, *([1] * (x.dim() - 1)))  # (B, 1, ...)
    return x * keep  # (B, ...)


class AudioVisualClassifier(nn.Module):
    """Late fusion of an image branch and an audio branch into one classifier.

    - image: a grid of annotation vectors ``(B, D, g, g)`` (the frozen course encoder's
      output: one ``D``-dimensional vector for each of the ``g x g`` cells of the image)
      -> 1x1 convolution -> ReLU -> max over the grid -> ``(B, H)``;
    - audio: clip features ``(B, A)`` (:func:`log_mel_stats`) -> linear -> ReLU -> ``(B, H)``;
    - both concatenated -> linear -> class logits ``(B, n_classes)``.

    With ``audio_dropout > 0`` the audio input of a random share of the training examples
    is zeroed (:func:`modality_dropout`), so the model must also learn from the image;
    ``image_dropout`` does the same to the image.
    """

    def __init__(self, image_dim: int, audio_dim: int, n_classes: int, hidden: int = 32,
                 audio_dropout: float = 0.0, image_dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (("image_dim", image_dim), ("audio_dim", audio_dim), ("n_classes", n_classes),
                            ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (("audio_dropout", audio_dropout), ("image_dropout", image_dropout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        self.audio_dropout = float(audio_dropout)
        self.image_dropout = float(image_dropout)
        self.image_branch = nn.Sequential(nn.Conv2d(image_dim, hidden, 1), nn.ReLU())
        self.audio_branch = nn.Sequential(nn.Linear(audio_dim, hidden), nn.ReLU())
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, grid: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of image grids ``(B, D, g, g)`` and audio features ``(B, A)``."""
        if grid.dim() != 4 or grid.shape[1] != self.image_branch[0].in_channels:
            channels = self.image_branch[0].in_channels
            raise ValueError(f"grid must have shape (B, {channels}, g, g), got {tuple(grid.shape)}")
        if audio.dim() != 2 or audio.shape[1] != self.audio_branch[0].in_features or audio.shape[0] != grid.shape[0]:
            raise ValueError(
                f"audio must have shape ({grid.shape[0]}, {self.audio_branch[0].in_features}), got {tuple(audio.shape)}"
            )
        if self.training and self.audio_dropout > 0:
            audio = modality_dropout(audio, self.audio_dropout)  # (B, A)
        if self.training and self.image_dropout > 0:
            grid = modality_dropout(grid, self.image_dropout)  # (B, D, g, g)
        image = self.image_branch(grid).amax((2, 3))  # (B, H)
        sound = self.audio_branch(audio)  # (B, H)
        return self.head(torch.cat([image, sound], 1))  # (B, n_classes)


@torch.no_grad()
def accuracy(model: nn.Module, grid: torch.Tensor, audio: torch.Tensor, labels: torch.Tensor,
             without_audio: bool = False, batch_size: int = 1024) -> float:
    """Accuracy of an :class:`AudioVisualClassifier`; ``without_audio`` zeroes the audio (a silent clip)."""
    if not len(grid) == len(audio) == len(labels) or len(labels) == 0:
        raise ValueError(f"grid, audio and labels must hold the same number (>= 1) of examples, "
                         f"got {len(grid)}, {len(audio)} and {len(labels)}")
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    for start in range(0, len(labels), batch_size):
        g = grid[start:start + batch_size].to(dev)  # (B, D, h, w)
        a = audio[start:start + batch_size].to(dev)  # (B, A)
        if without_audio:
            a = torch.zeros_like(a)  # (B, A)
        correct += int((model(g, a).argmax(1).cpu() == labels[start:start + batch_size]).sum())
    model.train(was_training)
    return correct / len(labels)


def classifier_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy step for :func:`mmcourse.training.train` on ``(grid, audio, label)`` batches;
    also logs the batch accuracy (a detached 0-dim tensor, read back by ``train``)."""
    grid, audio, label = batch
    logits = model(grid, audio)  # (B, n_classes)
    loss = F.cross_entropy(logits, label)  # ()
    return loss, {"acc": (logits.argmax(1) == label).float().mean().detach()}  # ()


TASK_SPLITS = ("train", "val", "test")
DROPS = (None, "audio", "image")
"""What a split of :class:`AudioVisualTask` can be served without: nothing, the audio or the image."""


class _EpochBatches:
    """Mini-batches ``(grid, audio, label)`` of one split, reshuffled every epoch from ``seed``.

    With ``device`` the split is moved there once and each batch is gathered there; the
    order is drawn on the CPU either way, so it is the same on every device."""

    def __init__(self, grid: torch.Tensor, audio: torch.Tensor, label: torch.Tensor, batch_size: int,
                 seed: int, device: torch.device | str | None = None) -> None:
        self.device = torch.device(device) if device is not None else grid.device
        self.grid, self.audio = grid.to(self.device), audio.to(self.device)  # (n, D, g, g), (n, A)
        self.label = label.to(self.device)  # (n,)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.label) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.label), generator=self.generator)  # (n,) on the CPU
        for idx in order.split(self.batch_size):  # idx: (b,)
            idx = idx.to(self.device, non_blocking=True)  # (b,) where the data is
            yield self.grid[idx], self.audio[idx], self.label[idx]  # (b, D, g, g), (b, A), (b,)


@dataclasses.dataclass
class AudioVisualTask:
    """The task of the modality-bias demo: name the shape of a scene's one object from its image and its sound.

    ``splits[split]`` (``"train"``, ``"val"``, ``"test"``; disjoint scenes) holds ``grid``
    ``(n, D, g, g)`` — the frozen encoder's annotation vectors —, ``audio`` ``(n, 2 * n_mels)``
    — :func:`log_mel_stats` of the scene's clip — and ``label`` ``(n,)`` — the shape index.
    Each modality is divided by its root-mean-square over the training split (``scale``), so
    both arrive at the same scale and zero stays zero (a removed modality).
    """

    splits: dict[str, dict[str, torch.Tensor]]
    scale: dict[str, float]

    @classmethod
    def build(cls, encoder: nn.Module, sizes: Mapping[str, int], image_size: int = 64,
              sample_rate: int = 16000, verbose: bool = True) -> AudioVisualTask:
        """Render the scenes (one object each; a lone object always sounds, so the sound names the shape),
        encode the images and compute the audio features.

        Args:
            encoder: the frozen course encoder (:func:`~mmcourse.encoders.pretrained_grid_encoder`).
            sizes: number of scenes of each split, e.g. ``{"train": 1000, "val": 200, "test": 400}``.
            image_size: the side of the images (the encoder's).
            sample_rate: of the clips, in Hz.
        """
        if not isinstance(sizes, Mapping) or set(sizes) != set(TASK_SPLITS):
            raise ValueError(f"sizes must map each of {TASK_SPLITS} to a number of scenes, got {sizes!r}")
        for split, n in sizes.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"sizes[{split!r}] must be a positive integer, got {n!r}")
        splits = {}
        for split in TASK_SPLITS:
            data = AudioVisualDataset(split, sizes[split], size=image_size, sample_rate=sample_rate,
                                      min_objects=1, max_objects=1, verbose=verbose)  # the one object always sounds
            splits[split] = {
                "grid": encode(encoder, data.data.images),  # (n, D, g, g) frozen encoder, forward only
                "audio": log_mel_stats(data.clips.float() / 32767, sample_rate),  # (n, 2M) silence -> 0
                "label": torch.from_numpy(data.data.scenes.shape[:, 0]).long(),  # (n,) shape of the one object
                "cells": torch.from_numpy(cell_labels(data.data.scenes, grid=image_size // 8)["shape"]).long(),
            }  # cells: (n, g, g) the true shape in each cell, 0 where there is none (for perfect_image)
        scale = {key: float(splits["train"][key].square().mean().sqrt()) for key in ("grid", "audio")}
        for features in splits.values():
            for key, rms in scale.items():
                features[key] = features[key] / rms  # same scale for both modalities; zero stays zero
        return cls(splits, scale)

    def perfect_image(self) -> AudioVisualTask:
        """The same task with a perfect image reader in place of the encoder: the image of each
        scene becomes the one-hot true shape of every cell, ``(n, n_shapes, g, g)`` — 1 in the
        channel of the shape whose core covers the cell, 0 elsewhere — scaled like the encoder's
        grid (divided by its root-mean-square over the training split). The audio and the labels
        are unchanged, so the two tasks differ only in how easily the shape is read from the image.
        """
        splits = {}
        for split, features in self.splits.items():
            if "cells" not in features:
                raise ValueError("this task has no per-cell ground truth; build it with AudioVisualTask.build")
            onehot = F.one_hot(features["cells"], len(SHAPES) + 1)[..., 1:]  # (n, g, g, S) without "no object"
            splits[split] = {**features, "grid": onehot.permute(0, 3, 1, 2).float()}  # (n, S, g, g)
        rms = float(splits["train"]["grid"].square().mean().sqrt())
        for features in splits.values():
            features["grid"] = features["grid"] / rms  # (n, S, g, g) same scale as the audio; zero stays zero
        return AudioVisualTask(splits, {**self.scale, "grid": rms})

    def __repr__(self) -> str:
        train_split = self.splits["train"]
        sizes = ", ".join(f"{split} {len(self.splits[split]['label'])}" for split in TASK_SPLITS)
        return (f"AudioVisualTask({sizes} scenes; grid {tuple(train_split['grid'].shape[1:])}, "
                f"audio {tuple(train_split['audio'].shape[1:])}, {self.n_classes} classes)")

    @property
    def n_classes(self) -> int:
        return len(SHAPES)

    def inputs(self, split: str = "test", drop: str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(grid, audio, label)`` of a split, with the modality ``drop`` ("audio" or "image") zeroed."""
        if split not in self.splits:
            raise ValueError(f"split must be one of {TASK_SPLITS}, got {split!r}")
        if drop not in DROPS:
            raise ValueError(f"drop must be one of {DROPS}, got {drop!r}")
        s = self.splits[split]
        grid = torch.zeros_like(s["grid"]) if drop == "image" else s["grid"]  # (n, D, g, g)
        audio = torch.zeros_like(s["audio"]) if drop == "audio" else s["audio"]  # (n, A)
        return grid, audio, s["label"]

    def batches(self, split: str, batch_size: int, seed: int = 0, drop: str | None = None,
                device: torch.device | str | None = None) -> _EpochBatches:
        """Shuffled mini-batches of a split for :func:`mmcourse.training.train` (one pass per epoch),
        gathered on ``device`` (default: where the features are)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return _EpochBatches(*self.inputs(split, drop), batch_size, seed, device)

    def accuracy(self, model: nn.Module, split: str = "test", drop: str | None = None) -> float:
        """Accuracy of ``model`` on a split, with the modality ``drop`` removed."""
        return accuracy(model, *self.inputs(split, drop))

    def audio_gap(self, model: nn.Module, split: str = "test") -> float:
        """Accuracy points ``model`` loses on a split when the audio is removed (100 x (with - without))."""
        return 100 * (self.accuracy(model, split) - self.accuracy(model, split, "audio"))

    def fingerprint(self) -> str:
        """A short hash of every feature and label (part of a trained classifier's cache key)."""
        return cache.fingerprint(*(self.splits[s][k] for s in TASK_SPLITS for k in ("grid", "audio", "label")))


def _fit_classifier(model: AudioVisualClassifier, task: AudioVisualTask, *, drop: str | None, seed: int,
                    epochs: int, batch_size: int, lr: float, time_budget: float | None,
                    device: torch.device | str | None, progress: bool, desc: str) -> History:
    """Train ``model`` on the task's training split with Adam for ``epochs`` epochs; validate after each."""

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {"val_acc": task.accuracy(m, "val", drop), "val_acc_without_audio": task.accuracy(m, "val", "audio")}

    dev = torch.device(device) if device is not None else default_device()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains faster on one CPU thread (no synchronisation)
    try:
        return train(model, task.batches("train", batch_size, seed, drop, device=dev), classifier_loss, epochs=epochs,
                     lr=lr, time_budget=time_budget, device=dev, evaluate=evaluate, progress=progress, desc=desc)
    finally:
        torch.set_num_threads(threads)


def train_classifier(task: AudioVisualTask, *, audio_dropout: float = 0.0, image_dropout: float = 0.0,
                     drop: str | None = None, seed: int = 0, hidden: int = 32, epochs: int = 5,
                     batch_size: int = 64, lr: float = 3e-3, time_budget: float | None = None,
                     device: torch.device | str | None = None, progress: bool = True, verbose: bool = True,
                     use_cache: bool = True) -> tuple[AudioVisualClassifier, History]:
    """Train one :class:`AudioVisualClassifier` on ``task`` for a fixed number of epochs.

    The model is built and trained with everything seeded by ``seed``, so the same settings
    give the same model on every run. ``drop`` ("audio" or "image") removes a modality from
    every training and validation example (a one-modality model). With ``use_cache`` the
    trained weights and the history are kept in the course cache
    (:func:`mmcourse.cache.cached_training`), keyed by the settings, the task's data and
    the code that trains it. ``time_budget`` (seconds) is only a safety stop.

    Returns:
        the trained model (on the CPU, in eval mode) and its :class:`~mmcourse.training.History`
        (``history.epochs["val_acc"]`` and ``["val_acc_without_audio"]`` after every epoch).
    """
    if not isinstance(task, AudioVisualTask):
        raise ValueError(f"task must be an AudioVisualTask, got {type(task).__name__}")
    if drop not in DROPS:
        raise ValueError(f"drop must be one of {DROPS}, got {drop!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    train_split = task.splits["train"]
    desc = f"audio_dropout={audio_dropout}" + (f", image_dropout={image_dropout}" if image_dropout else "") \
        + (f", no {drop}" if drop else "")
    settings = {"audio_dropout": audio_dropout, "image_dropout": image_dropout, "drop": drop, "seed": seed,
                "hidden": hidden, "epochs": epochs, "batch_size": batch_size, "lr": lr}
    with seeded(seed):
        model = AudioVisualClassifier(train_split["grid"].shape[1], train_split["audio"].shape[1], task.n_classes,
                                      hidden=hidden, audio_dropout=audio_dropout, image_dropout=image_dropout)

        def fit(m: AudioVisualClassifier) -> History:
            return _fit_classifier(m, task, drop=drop, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr,
                                   time_budget=time_budget, device=device, progress=progress, desc=desc)

        if use_cache:
            history = cache.cached_training("modality_classifier", {**settings, "task": task.fingerprint()}, model,
                                            fit, verbose=verbose,
                                            code=(_fit_classifier, classifier_loss, modality_dropout, train,
                                                  _EpochBatches, AudioVisualTask, accuracy))
        else:
            history = fit(model)
    return model.cpu().eval(), history


def plot_curves(curves: Mapping[str, Sequence[float]], ax: Any = None, title: str | None = None,
                ylabel: str = "validation accuracy") -> Any:
    """Plot per-epoch curves (``{label: one value per epoch}``) on one axis; returns the axis."""
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must map at least one label to its per-epoch values")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3))
    for marker, (label, values) in zip(itertools.cycle("os^v"), curves.items()):
        if len(values) == 0:
            raise ValueError(f"curves[{label!r}] is empty")
        ax.plot(np.arange(1, len(values) + 1), values, marker + "-", label=label)  # one point per epoch
    ax.set(xlabel="epoch", ylabel=ylabel, ylim=(0, 1.02), title=title)
    ax.legend()
    return ax


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def _number(value: Any, what: str) -> float:
    """A learner's answer as a float, or a CheckFailed that says it is not one number."""
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value)
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value)
    raise checks.CheckFailed(f"{what}: return one number (a float), got {type(value).__name__}")



def _recall_optimistic(scores: torch.Tensor, owner: torch.Tensor, k: int) -> float:
    """R@K with ties in the image's favour (a typical mistake: a tie is not a hit)."""
    own = owner[None, :] == torch.arange(scores.shape[0])[:, None]  # (N, M)
    best_own = scores.masked_fill(~own, -float("inf")).amax(1)  # (N,)
    rank = (scores.masked_fill(own, -float("inf")) > best_own[:, None]).sum(1)  # (N,)
    return float((rank < k).float().mean())


def _recall_first_own(scores: torch.Tensor, owner: torch.Tensor, k: int) -> float:
    """R@K that ranks only the first caption of each image (a typical mistake: any own caption counts)."""
    hits = []
    for i in range(scores.shape[0]):
        first = int((owner == i).nonzero()[0])
        others = scores[i][owner != i]  # (M - own,)
        hits.append(int((others >= scores[i, first]).sum()) < k)
    return float(np.mean(hits))


def check_recall_at_k(fn: Any) -> None:
    """Check a learner's ``fn(scores, owner, k) -> float`` against :func:`recall_at_k`.

    Raises :class:`mmcourse.checks.CheckFailed` with a message that says what is wrong.
    """

    def value(scores: torch.Tensor, owner: torch.Tensor, k: int, what: str) -> float:
        before = scores.clone(), owner.clone()
        got = _number(fn(scores, owner, k), what)
        checks.true(torch.equal(scores, before[0]) and torch.equal(owner, before[1]),
                    f"{what}: scores or owner was changed in place; compute on copies "
                    "(e.g. masked_fill, not masked_fill_)")
        if got > 1.0 + 1e-9:
            raise checks.CheckFailed(f"{what}: got {got:g}; R@K is a share of the images in [0, 1], "
                                     "not a count or a percentage")
        return got

    # 3 images, 2 captions each (owner), no ties. Image 0: own caption best (rank 0); image 1: one
    # caption of image 0 above its best own (rank 1); image 2: its first caption is beaten by a
    # caption of image 0, but its second is the best of the row (rank 0).
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.2, 0.3, 0.0],
                           [0.7, 0.1, 0.6, 0.5, 0.2, 0.1],
                           [0.1, 0.5, 0.2, 0.35, 0.4, 0.9]])  # (3 images, 6 captions)
    owner = torch.tensor([0, 0, 1, 1, 2, 2])  # (6,) the image of each caption
    what = "R@1 of a 3 x 6 example"
    r1 = value(scores, owner, 1, what)
    if abs(r1 - _recall_first_own(scores, owner, 1)) < 1e-9 and abs(r1 - 2 / 3) > 1e-9:
        raise checks.CheckFailed(f"{what}: got {r1:.3f}, expected 0.667 — an image finds its caption if ANY of "
                                 "its own captions is in the top k; rank its best own caption, not its first one")
    if abs(r1 - 1.0) < 1e-9:
        raise checks.CheckFailed(f"{what}: got 1.0, expected 0.667 — image 1 has a caption of image 0 above its "
                                 "best own one, so its own caption is second: the top k are the ranks 0..k-1 "
                                 "(rank < k)")
    checks.true(abs(r1 - 2 / 3) < 1e-6, f"{what}: got {r1:.4f}, expected 0.667 (images 0 and 2 find one of "
                                        "their captions first, image 1 second)")
    r2 = value(scores, owner, 2, "R@2 of the same example")
    checks.true(abs(r2 - 1.0) < 1e-6, f"R@2 of the same example: got {r2:.4f}, expected 1.0 (every image has "
                                      "an own caption among its top 2)")
    # ties: captions that name no concept all score 0 with every image; a tie must not count as a hit
    tied = torch.tensor([[0.5, 0.0, 0.5, 0.0],
                         [0.0, 0.0, 0.0, 0.0]])  # (2 images, 4 captions)
    tied_owner = torch.tensor([0, 0, 1, 1])  # (4,)
    got = value(tied, tied_owner, 1, "R@1 with ties")
    if abs(got - _recall_optimistic(tied, tied_owner, 1)) < 1e-9 and got > 0:
        raise checks.CheckFailed(f"R@1 with ties: got {got:g}, expected 0.0 — when a caption of another image "
                                 "scores exactly as high as the best own caption, count it as ranked first (ties "
                                 "against the image): otherwise a caption that names nothing (score 0 with every "
                                 "image) would be a hit")
    checks.true(abs(got) < 1e-9, f"R@1 with ties: got {got:g}, expected 0.0 (every own caption ties with "
                                 "another image's caption)")
    # a larger random case, several k, with some ties
    gen = torch.Generator().manual_seed(0)
    big = (torch.rand(40, 200, generator=gen) * 8).round() / 8  # (40, 200) scores with ties
    big_owner = torch.arange(40).repeat_interleave(5)  # (200,) five captions per image
    for k in (1, 5, 10):
        checks.close(value(big, big_owner, k, f"R@{k} of 40 images x 200 captions"),
                     recall_at_k(big, big_owner, k), name=f"R@{k} of 40 images x 200 captions with ties", tol=1e-6)


def check_modality_dropout(fn: Any) -> None:
    """Check a learner's ``fn(x, p, generator=None)`` against what :func:`modality_dropout` does.

    Raises :class:`mmcourse.checks.CheckFailed` with a message that says what is wrong.
    """

    def call(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
        before = x.clone()  # (B, ...)
        out = fn(x, p, torch.Generator().manual_seed(seed))
        checks.true(torch.equal(x, before), "x was changed in place; return a new tensor (e.g. x * keep)")
        checks.shape(out, tuple(x.shape), f"modality dropout with p={p}")
        return out

    x = torch.rand(4000, 3) + 1.0  # (B, A) no zero entries, so a zero means "dropped"
    none_dropped = call(x, 0.0, 0)  # (B, A)
    if bool((none_dropped == 0).all()):
        raise checks.CheckFailed("with p=0 you dropped every row: p is the probability to DROP a row, not to keep it")
    checks.true(torch.equal(none_dropped, x), "with p=0 nothing may change: every row must be kept as it is")
    checks.true(bool((call(x, 1.0, 0) == 0).all()), "with p=1 every row must be zero (the modality is always removed)")
    out = call(x, 0.3, 0)  # (B, A)
    zero_rows = (out == 0).all(1)  # (B,)
    partly = (out == 0).any(1) & ~zero_rows  # (B,)
    checks.true(not bool(partly.any()),
                f"{int(partly.sum())} rows are only partly zero: drop whole examples (rows), not single "
                "features — draw one random number per row")
    kept = ~zero_rows  # (B,)
    if kept.any() and not torch.allclose(out[kept], x[kept]):
        ratio = float((out[kept] / x[kept]).mean())
        raise checks.CheckFailed(
            f"kept rows were changed (on average multiplied by {ratio:.3f}); keep them exactly as they are — "
            "unlike ordinary dropout, modality dropout does not rescale: zero means 'absent'"
        )
    share = float(zero_rows.float().mean())
    if abs(share - 0.7) < 0.04:
        raise checks.CheckFailed(f"with p=0.3 you dropped {share:.1%} of the rows: p is the probability to DROP a row, "
                          "not to keep it")
    checks.true(abs(share - 0.3) < 0.04, f"with p=0.3 you dropped {share:.1%} of the rows; expected about 30%")
    grid = torch.rand(500, 4, 2, 2) + 1.0  # (B, D, g, g) a 4-D modality
    flat = call(grid, 0.5, 1).flatten(1)  # (B, D*g*g)
    checks.true(bool(((flat == 0).all(1) | (flat != 0).all(1)).all()),
                "for a (B, D, g, g) input each example must be dropped as a whole: reshape keep to (B, 1, 1, 1)")


def check_word_overlap(fn: Any) -> None:
    """Check a learner's ``fn(captions) -> float`` against :func:`word_overlap`."""

    def value(captions: list[str], what: str) -> float:
        return _number(fn(list(captions)), what)

    same = value(["a red star", "a red star"], "two identical captions")
    checks.true(abs(same - 1.0) < 1e-9, f"two identical captions must overlap 1.0, got {same:.4f}")
    none = value(["a red star", "two blue boxes"], "captions without a shared word")
    checks.true(abs(none) < 1e-9, f"captions without a shared word must overlap 0.0, got {none:.4f}")
    half = value(["a red star", "a red circle"], "['a red star', 'a red circle']")
    if abs(half - 2 / 3) < 1e-6:
        raise checks.CheckFailed("['a red star', 'a red circle'] gave 0.667: divide the shared words by the size "
                          "of the union of both sets (4 words), not of one caption (3 words)")
    checks.close(half, 0.5, name="overlap of ['a red star', 'a red circle'] (shared {a, red} / union of 4 words)")
    repeated = value(["the star is left of the box", "the star"], "captions with a repeated word")
    checks.close(repeated, 2 / 6, name="overlap with a repeated word (use *sets* of words: 'the' counts once)")
    three = ["a red star on the beach", "a red star", "there is a star, a box and a disc"]
    checks.close(value(three, "three captions"), word_overlap(three),
                 name="three captions (average the overlap over all 3 pairs; tokenize splits off the comma)")


__all__ = [
    "CONCEPTS", "DROPS", "LOG_MEL_REF", "TASK_SPLITS", "AudioVisualClassifier", "AudioVisualTask", "Reading",
    "accuracy", "answer_by_looking", "check_modality_dropout", "check_recall_at_k", "check_word_overlap",
    "classifier_loss", "concept_words", "describe_reading", "draw_three_ways", "log_mel_stats", "match_scores",
    "modality_dropout", "paint_recipe", "plot_curves", "plot_recipe_order", "question_kind", "read_grid",
    "read_images", "recall_at_k", "reverse_order_changes", "text_concepts", "train_classifier", "word_overlap",
]
