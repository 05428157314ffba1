"""Lesson 00: the three ways to use several modalities, and the lazy-modality problem.

Small, fast illustrations on the course world:

- **Matching** — map an image and a caption into one common space and compare them
  there. Here the space is hand-made: the 15 "concepts" of the world (5 shapes, 6
  colours, 4 scene types). The course's image encoder reads an image into it
  (:meth:`~mmcourse.encoders.GridEncoder.summary`), word spotting reads a caption into it
  (:func:`text_concepts`), and the cosine similarity ranks captions for an image
  (:func:`match_scores`, :func:`recall_at_k`).
- **Translating** — turn one modality into another: a recipe into a picture
  (``mmcourse.world.render_recipe``) and a picture into words (:func:`describe_reading`).
- **Referencing** — produce an output by consulting another modality: answer a question
  by looking at the encoder's per-cell reading of the image (:func:`answer_by_looking`).
- **Modality bias** — an audio-visual classifier (:class:`AudioVisualClassifier`)
  whose audio input is an easy shortcut learns to ignore the image; dropping the audio
  at random during training (:func:`modality_dropout`) forces it to use the image too.
  The audio features (:func:`log_mel_stats`) of a silent clip are exactly zero, so
  "the audio is removed" and "the audio features are zeroed" are the same thing.
- The 1:N problem: :func:`word_overlap` measures how differently the captions of one
  image are worded.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .world.catalog import COLOUR_NAMES, COUNT_WORDS, SCENE_TYPES, SHAPES
from .world.language import SCENE_ADJECTIVES, SCENE_PLACES, SHAPE_WORDS, plural
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
        raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}")
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
    """Image -> caption retrieval: the share of images with one of their own captions in the top ``k``.

    Args:
        scores: ``(N, M)`` similarity of image ``i`` with caption ``j``.
        owner: ``(M,)`` the image each caption belongs to.
        k: how many top captions count.

    Ties are broken pessimistically: a caption of another image with the same score
    as the best own caption ranks before it, so uninformative captions get no credit.
    """
    if scores.dim() != 2 or owner.shape != (scores.shape[1],):
        raise ValueError(
            f"owner must have shape ({scores.shape[1]},) for scores {tuple(scores.shape)}, got {tuple(owner.shape)}"
        )
    if not isinstance(k, int) or k < 1:
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
def encode_grid(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The frozen encoder's annotation grid of every image, computed once: ``(N, D, g, g)`` on the CPU."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (N, 3, S, S), got {tuple(images.shape)}")
    dev = next(encoder.parameters()).device
    parts = []
    for start in range(0, len(images), batch_size):
        parts.append(encoder(images[start:start + batch_size].to(dev)).cpu())  # (B, D, g, g)
    return torch.cat(parts)  # (N, D, g, g)


@torch.no_grad()
def read_grid(encoder: nn.Module, grid: torch.Tensor) -> Reading:
    """Read the encoder's three heads on a precomputed grid ``(N, D, g, g)`` (see :func:`encode_grid`)."""
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
    return read_grid(encoder, encode_grid(encoder, images))


def _components(mask: np.ndarray) -> int:
    """Number of 4-connected groups of True cells in a 2-D mask (one group ~ one object)."""
    from scipy import ndimage

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
        clips: ``(N, T)`` waveforms.
    Returns:
        ``(N, 2 * n_mels)`` float32: ``n_mels`` means, then ``n_mels`` standard deviations.
    """
    from .audio import mel_filterbank

    x = torch.as_tensor(clips, dtype=torch.float32)  # (N, T)
    if x.dim() != 2 or x.shape[1] < n_fft:
        raise ValueError(f"clips must have shape (N, T) with T >= n_fft={n_fft}, got {tuple(x.shape)}")
    fb = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)).float()  # (M, F)
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
    if not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    if x.dim() < 1:
        raise ValueError("x must have a batch dimension (B, ...)")
    keep = torch.rand(x.shape[0], generator=generator, device="cpu") >= p  # (B,)
    keep = keep.to(x.device).view(-1, *([1] * (x.dim() - 1)))  # (B, 1, ...)
    return x * keep  # (B, ...)


class AudioVisualClassifier(nn.Module):
    """Late fusion of an image branch and an audio branch into one classifier.

    - image: a grid of annotation vectors ``(B, D, g, g)`` (the frozen course encoder's
      output) -> 1x1 convolution -> ReLU -> max over the grid -> ``(B, H)``;
    - audio: clip features ``(B, A)`` (:func:`log_mel_stats`) -> linear -> ReLU -> ``(B, H)``;
    - both concatenated -> linear -> class logits ``(B, n_classes)``.

    With ``audio_dropout > 0`` the audio input of a random share of the training examples
    is zeroed (:func:`modality_dropout`), so the model must also learn from the image.
    """

    def __init__(self, image_dim: int, audio_dim: int, n_classes: int, hidden: int = 32,
                 audio_dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (("image_dim", image_dim), ("audio_dim", audio_dim), ("n_classes", n_classes),
                            ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(audio_dropout, (int, float)) or not 0.0 <= audio_dropout < 1.0:
            raise ValueError(f"audio_dropout must be in [0, 1), got {audio_dropout!r}")
        self.audio_dropout = float(audio_dropout)
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
        image = self.image_branch(grid).amax((2, 3))  # (B, H)
        sound = self.audio_branch(audio)  # (B, H)
        return self.head(torch.cat([image, sound], 1))  # (B, n_classes)


@torch.no_grad()
def accuracy(model: nn.Module, grid: torch.Tensor, audio: torch.Tensor, labels: torch.Tensor,
             without_audio: bool = False, batch_size: int = 1024) -> float:
    """Accuracy of an :class:`AudioVisualClassifier`; ``without_audio`` zeroes the audio (a silent clip)."""
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
    return correct / max(len(labels), 1)


def classifier_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy step for :func:`mmcourse.training.train` on ``(grid, audio, label)`` batches."""
    grid, audio, label = batch
    logits = model(grid, audio)  # (B, n_classes)
    loss = F.cross_entropy(logits, label)
    return loss, {"acc": float((logits.argmax(1) == label).float().mean())}


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def check_modality_dropout(fn: Any) -> None:
    """Check a learner's ``fn(x, p, generator=None)`` against what :func:`modality_dropout` does.

    Raises :class:`mmcourse.checks.CheckFailed` with a message that says what is wrong.
    """
    from . import checks

    def call(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
        before = x.clone()  # (B, ...)
        out = fn(x, p, torch.Generator().manual_seed(seed))
        checks.true(torch.equal(x, before), "x was changed in place; return a new tensor (e.g. x * keep)")
        checks.shape(out, tuple(x.shape), f"modality dropout with p={p}")
        return out

    x = torch.rand(4000, 3) + 1.0  # (B, A) no zero entries, so a zero means "dropped"
    checks.true(torch.equal(call(x, 0.0, 0), x), "with p=0 nothing may change: every row must be kept as it is")
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
    checks.true(abs(share - 0.3) < 0.04, f"with p=0.3 you dropped {share:.1%} of the rows; expected about 30%")
    grid = torch.rand(500, 4, 2, 2) + 1.0  # (B, D, g, g) a 4-D modality
    flat = call(grid, 0.5, 1).flatten(1)  # (B, D*g*g)
    checks.true(bool(((flat == 0).all(1) | (flat != 0).all(1)).all()),
                "for a (B, D, g, g) input each example must be dropped as a whole: reshape keep to (B, 1, 1, 1)")


def check_word_overlap(fn: Any) -> None:
    """Check a learner's ``fn(captions) -> float`` against :func:`word_overlap`."""
    from . import checks

    def value(captions: list[str], what: str) -> float:
        got = fn(captions)
        checks.true(isinstance(got, (float, int, np.floating)) or (torch.is_tensor(got) and got.numel() == 1),
                    f"{what}: return one number (a float), got {type(got).__name__}")
        return float(got)

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
    "CONCEPTS", "AudioVisualClassifier", "Reading", "accuracy", "answer_by_looking", "check_modality_dropout",
    "check_word_overlap", "classifier_loss",
    "concept_words", "describe_reading", "log_mel_stats", "match_scores", "modality_dropout", "question_kind",
    "encode_grid", "read_grid", "read_images", "recall_at_k", "text_concepts", "word_overlap",
]
