"""The figures of lesson 06 (visual question answering), so that each notebook cell that draws one is one line.

- :func:`plot_model` — the model of Antol et al. (2015) as a block diagram;
- :func:`plot_scene_questions` — test scenes with their questions and answers;
- :func:`plot_bars` — grouped bars of numbers per column (question type), one group per row;
- :func:`plot_scene_features` — what the frozen encoder reads in one image, and its global vector;
- :func:`plot_glimpses` — where the attention model's glimpses look, question by question;
- :func:`plot_answers` — questions with the right answer and a model's top answer.

Each function draws with pyplot and returns the figure; a notebook shows it at the end of the cell.
Images are uint8 tensors ``(N, 3, S, S)``, the course's layout, as :func:`mmcourse.vqa.lesson_data`
returns them; each picture is moved channel-last for ``imshow`` only when it is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import nn

from . import vqa
from .widgets.base import to_pixels


def _no_ticks(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _validate_images(images: Any, name: str = "images", batch: bool = True) -> None:
    """A ``ValueError`` naming ``name`` unless it is a uint8 tensor ``(N, 3, S, S)`` (``(3, S, S)``
    with ``batch=False``), the layout of the course's images."""
    layout = "(N, 3, S, S)" if batch else "(3, S, S)"
    if (not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != (4 if batch else 3)
            or images.shape[-3] != 3 or images.shape[-2] != images.shape[-1]):
        got = (f"a NumPy array {images.dtype} {images.shape}" if isinstance(images, np.ndarray)
               else f"{images.dtype} {tuple(images.shape)}" if torch.is_tensor(images) else type(images).__name__)
        raise ValueError(f"{name} must be a uint8 tensor {layout}, got {got}; rendered images (..., S, S, 3) "
                         "convert with torch.from_numpy(images).movedim(-1, -3)")


def plot_model(dim: int, n_answers: int) -> Figure:
    """The block diagram of the lesson's model: two encoders, the point-wise product, the classifier.

    ``dim`` is the size of the question and image vectors, ``n_answers`` the size of the answer vocabulary.
    """
    fig, ax = plt.subplots(figsize=(11, 2.7))
    ax.set_xlim(0, 11.2)
    ax.set_ylim(0, 2.7)
    ax.axis("off")
    boxes = {  # name: (x, y, width, text); all 0.8 high
        "img": (0.1, 1.7, 1.1, "image\n64x64"), "cnn": (1.6, 1.7, 1.5, "frozen CNN\n(course encoder)"),
        "pool": (3.5, 1.7, 1.6, "pooled: what is\nthere, how many"), "fcv": (5.5, 1.7, 1.2, f"FC + tanh\nv ({dim})"),
        "q": (0.1, 0.2, 1.7, "question: 'what\ncolour is the star?'"), "lstm": (2.2, 0.2, 1.5, "word embedding\n+ LSTM"),
        "fcq": (5.5, 0.2, 1.2, f"FC + tanh\nq ({dim})"), "mul": (7.2, 0.95, 0.7, "q ⊙ v"),
        "mlp": (8.3, 0.95, 0.7, "MLP"), "ans": (9.4, 0.95, 1.6, f"softmax over\n{n_answers} answers"),
    }
    for name, (x, y, w, text) in boxes.items():
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.02",
                                    fc="#fde6c8" if name == "mul" else "#e8f0fb"))
        ax.text(x + w / 2, y + 0.4, text, fontsize=9, ha="center", va="center")
    for a, b in [("img", "cnn"), ("cnn", "pool"), ("pool", "fcv"), ("q", "lstm"), ("lstm", "fcq"), ("fcv", "mul"),
                 ("fcq", "mul"), ("mul", "mlp"), ("mlp", "ans")]:
        (xa, ya, wa, _), (xb, yb, _, _) = boxes[a], boxes[b]
        ax.annotate("", (xb, yb + 0.4), (xa + wa, ya + 0.4), arrowprops=dict(arrowstyle="->"))
    ax.set_title("the model of Antol et al. (2015) in miniature: two encoders, point-wise fusion, a classifier",
                 fontsize=10)
    return fig


def plot_scene_questions(images: torch.Tensor, qs: vqa.QuestionSet, scenes: Sequence[int]) -> Figure:
    """Scenes ``scenes`` (indices into ``images``, uint8 ``(N, 3, S, S)``), each with the questions of
    ``qs`` about it and their answers."""
    _validate_images(images)
    fig, axes = plt.subplots(1, len(scenes), figsize=(3 * len(scenes), 4.2), squeeze=False)
    for ax, i in zip(axes[0], scenes):
        ax.imshow(to_pixels(images[i]))  # (S, S, 3)
        _no_ticks(ax)
        lines = [f"{qs.texts[k]} → {qs.answer_texts[k]}" for k in range(len(qs)) if int(qs.scene[k]) == i]
        ax.set_xlabel("\n".join(lines), fontsize=8, loc="left")
        ax.set_title(f"test scene {i}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_bars(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str], ax: Any = None, title: str = "",
              ylabel: str = "", ylim: tuple[float, float] | None = (0, 1.05),
              marks: tuple[str, Mapping[str, float]] | None = None) -> Figure:
    """Grouped bars: for every column, one bar per row (``rows[name][column]``).

    ``marks=(label, {column: value})`` adds a black tick per column (a reference level).
    Draws on ``ax`` when given (returns its figure), else on a new figure.
    """
    if not rows:
        raise ValueError("rows must hold at least one (name -> {column: value}) entry")
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 3.2))
    x = np.arange(len(columns))
    width = 0.8 / len(rows)
    for k, (name, row) in enumerate(rows.items()):
        ax.bar(x + width * (k + 0.5) - 0.4, [row[c] for c in columns], width, label=name)
    if marks is not None:
        label, values = marks
        ax.plot(x, [values[c] for c in columns], "k_", ms=18, mew=2, label=label)
    ax.set(xticks=x, xticklabels=list(columns), title=title, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8, ncol=min(4, len(rows) + (marks is not None)))
    return ax.figure


@torch.no_grad()
def plot_scene_features(encoder: nn.Module, image: torch.Tensor, grid: torch.Tensor, global_vec: torch.Tensor,
                        title: str = "") -> Figure:
    """One scene as the VQA models see it: the image, the encoder's probability that each cell
    holds an object, and the global vector of :func:`mmcourse.vqa.global_features` by block.

    ``image`` uint8 ``(3, S, S)``; ``grid`` the scene's annotation vectors ``(L, D)``;
    ``global_vec`` ``(117,)``.
    """
    _validate_images(image, "image", batch=False)
    cells, dim = grid.shape
    side = int(round(cells ** 0.5))
    dev = next(encoder.parameters()).device
    g = grid.float().T.reshape(1, dim, side, side).to(dev)  # (1, D, g, g)
    objectness = 1 - encoder.heads(g)["shape"].softmax(1)[0, 0].cpu().numpy()  # (g, g) P(the cell holds an object)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    axes[0].imshow(to_pixels(image))  # (S, S, 3)
    axes[0].set_title(title, fontsize=9)
    axes[1].imshow(objectness, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("encoder: P(object) per cell", fontsize=9)
    for ax in axes[:2]:
        _no_ticks(ax)
    start = 0
    for (label, n), colour in zip(vqa.GLOBAL_PARTS, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]):
        block = global_vec[start : start + n].float().numpy()  # (n,)
        axes[2].bar(np.arange(start, start + n), block, color=colour, label=label)
        start += n
    axes[2].legend(fontsize=7)
    axes[2].set_title(f"the global image vector ({vqa.GLOBAL_DIM} numbers)", fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_glimpses(model: vqa.AttentionVQA, qs: vqa.QuestionSet, features: dict[str, torch.Tensor],
                  images: torch.Tensor, indices: Sequence[int], answers: Sequence[str]) -> Figure:
    """For each question ``indices[k]`` of ``qs``: its scene (from ``images``, uint8 ``(N, 3, S, S)``)
    with the question, the right answer and the model's, and one panel per glimpse with the
    attention weights over the grid."""
    if not isinstance(model, vqa.AttentionVQA):
        raise ValueError(f"model must be a vqa.AttentionVQA (it has glimpses), got {type(model).__name__}")
    _validate_images(images)
    picked = torch.as_tensor(list(indices), dtype=torch.long)  # (n,)
    tokens, lengths, image, grid, _ = vqa.batches(qs, features, len(qs), shuffle=False, grid=True)[0]
    dev = next(model.parameters()).device
    model.eval()
    inputs = (tokens[picked], lengths[picked], image[picked], grid[picked])  # (n, T), (n,), (n, G), (n, L, D)
    probs = model(*(t.to(dev) for t in inputs)).softmax(1).cpu()  # (n, A)
    att = model.last_attention.cpu().numpy()  # (n, glimpses, L)
    side = int(round(att.shape[-1] ** 0.5))
    n, glimpses = len(picked), att.shape[1]
    fig, axes = plt.subplots(n, 1 + glimpses, figsize=(2.6 * (1 + glimpses), 2.6 * n), squeeze=False)
    for row, k in enumerate(picked.tolist()):
        img = to_pixels(images[int(qs.scene[k])])  # (S, S, 3)
        axes[row, 0].imshow(img)
        axes[row, 0].set_title(f"{qs.texts[k]}\ntrue {qs.answer_texts[k]}, says {answers[int(probs[row].argmax())]}",
                               fontsize=8)
        for g in range(glimpses):
            axes[row, 1 + g].imshow(img)
            axes[row, 1 + g].imshow(att[row, g].reshape(side, side), cmap="magma", alpha=0.65,
                                    extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
            axes[row, 1 + g].set_title(f"glimpse {g + 1}", fontsize=8)
    for ax in axes.ravel():
        _no_ticks(ax)
    fig.tight_layout()
    return fig


def plot_answers(images: torch.Tensor, qs: vqa.QuestionSet, indices: Sequence[int], probs: torch.Tensor,
                 answers: Sequence[str], type_names: Sequence[str]) -> Figure:
    """Questions ``indices`` of ``qs`` side by side: the scene (from ``images``, uint8 ``(N, 3, S, S)``),
    the question with its type, the right answer and the model's top answer with its probability
    (``probs`` ``(Q, A)``)."""
    _validate_images(images)
    fig, axes = plt.subplots(1, len(indices), figsize=(3.0 * len(indices), 3.6), squeeze=False)
    for ax, k in zip(axes[0], indices):
        ax.imshow(to_pixels(images[int(qs.scene[k])]))  # (S, S, 3)
        _no_ticks(ax)
        p = probs[k]  # (A,)
        ax.set_title(f"[{type_names[int(qs.types[k])]}] {qs.texts[k]}", fontsize=8)
        ax.set_xlabel(f"right: {qs.answer_texts[k]}\nmodel: {answers[int(p.argmax())]} ({float(p.max()):.0%})",
                      fontsize=9)
    fig.tight_layout()
    return fig
