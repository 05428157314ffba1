"""The figures of lesson 04 (captioning), so that each notebook cell that draws one is one line.

- :func:`plot_references` — scenes and their reference captions (the 1:N problem);
- :func:`plot_hoped_attention` — the attention a caption *should* have, drawn from the true boxes;
- :func:`plot_encoder_reading` — what the frozen encoder's per-cell heads read in an image;
- :func:`plot_losses` — the training curves of several decoders;
- :func:`plot_attention_strip` — a generated caption word by word, each word's attention map
  over the image and its peak cell (the paper's figures).

Each function draws with pyplot and returns the figure; a notebook shows it at the end of the cell.
Images are the course's uint8 ``(3, S, S)`` tensors.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import captioning, encoders
from .widgets.attention import peak_cell
from .widgets.base import overlay, to_pixels
from .world.catalog import COLOUR_NAMES, SHAPES


def show_image(ax: Any, image: torch.Tensor, title: str | None = None) -> None:
    """Draw one uint8 image (3, S, S) on ``ax`` without ticks, with an optional small title."""
    ax.imshow(to_pixels(image))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _grid_lines(ax: Any, size: int, grid: int) -> None:
    for k in range(1, grid):
        ax.axhline(k * size / grid - 0.5, color="w", lw=0.4)
        ax.axvline(k * size / grid - 0.5, color="w", lw=0.4)


def plot_references(data: Mapping[str, Any], indices: Sequence[int], wrap: int = 80) -> Figure:
    """One row per scene: the image, and beside it its reference captions, one per line.

    Each caption has its own line (wrapped at ``wrap`` characters) in its own row, so the
    captions of different scenes never overlap.
    """
    indices = list(indices)
    if not indices:
        raise ValueError("indices must name at least one scene")
    texts = ["\n".join(textwrap.fill(" ".join(r).replace(" ,", ","), wrap, subsequent_indent="   ")
                       for r in data["references"][i])
             for i in indices]
    lines = [t.count("\n") + 1 for t in texts]
    heights = [max(1.3, 0.19 * n + 0.3) for n in lines]  # inches: the image, or the text if it is taller
    fig, axes = plt.subplots(len(indices), 2, figsize=(8.5, sum(heights)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 5], "height_ratios": heights})
    for (ax_image, ax_text), i, text in zip(axes, indices, texts):
        show_image(ax_image, data["images"][i])
        ax_text.axis("off")
        ax_text.text(0.0, 0.5, text, fontsize=9, va="center", ha="left", transform=ax_text.transAxes,
                     linespacing=1.3)
    fig.suptitle("training scenes and their reference captions (1:N: each says something else)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_hoped_attention(data: Mapping[str, Any], i: int, words: Sequence[str], grid: int) -> Figure:
    """The attention we hope a decoder learns for the caption ``words`` of scene ``i``: each word
    that names a shape or a colour lights up the cells of the objects it names (from the true boxes)."""
    size = int(data["size"])
    lookup = captioning.attribute_words()
    fig, axes = plt.subplots(1, len(words) + 1, figsize=(1.7 * (len(words) + 1), 2.2))
    show_image(axes[0], data["images"][i], f"{grid}x{grid} grid")
    _grid_lines(axes[0], size, grid)
    for ax, w in zip(axes[1:], words):
        if w in lookup:
            kind, value = lookup[w]
            good = captioning.cell_hits(data["boxes"][i], data[kind][i], value, size, grid).float()  # (L,)
            overlay(ax, to_pixels(data["images"][i]), good / good.sum().clamp(min=1), smooth=False, opacity=0.6)
        else:
            ax.imshow(to_pixels(data["images"][i]))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(w, fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_encoder_reading(encoder: Any, data: Mapping[str, Any], i: int) -> Figure:
    """Scene ``i`` and, on each cell where the encoder sees an object, the colour and shape its
    per-cell heads read there (first three letters of each)."""
    grid = encoders.encode(encoder, data["images"][i:i + 1])  # (1, D, g, g)
    heads = encoder.heads(grid.to(next(encoder.parameters()).device))
    shape_cells = heads["shape"].argmax(1)[0].cpu()  # (g, g), 0 = no object
    colour_cells = heads["colour"].argmax(1)[0].cpu()  # (g, g)
    g, size = shape_cells.shape[0], int(data["size"])
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    show_image(axes[0], data["images"][i], "test image")
    show_image(axes[1], data["images"][i], "the encoder's reading of each cell")
    cell = size / g
    for r in range(g):
        for c in range(g):
            if shape_cells[r, c] > 0:
                name = f"{COLOUR_NAMES[colour_cells[r, c] - 1][:3]}\n{SHAPES[shape_cells[r, c] - 1][:3]}"
                axes[1].text((c + 0.5) * cell, (r + 0.5) * cell, name, ha="center", va="center", fontsize=6.5,
                             color="white", bbox=dict(fc="black", alpha=0.45, lw=0, pad=0.5))
    fig.tight_layout()
    return fig


def plot_losses(histories: Mapping[str, Any], window: int = 50) -> Figure:
    """The teacher-forced cross-entropy of each decoder (running mean of ``window`` steps)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, h in histories.items():
        ax.plot(h.smoothed("ce", window), label=name)
    ax.set(xlabel="training step", ylabel="cross-entropy per word (nats)",
           title=f"teacher-forced training loss (running mean of {window})")
    ax.legend()
    return fig


def plot_attention_strip(data: Mapping[str, Any], i: int, words: Sequence[str], alphas: torch.Tensor,
                         title: str | None = None) -> Figure:
    """A caption of scene ``i`` word by word: each word's map ``alphas[t]`` (L,) upsampled over the
    image (bright = looked at), its peak cell in red."""
    if len(words) == 0:
        raise ValueError("words is empty: there is no word to show")
    size = int(data["size"])
    image = to_pixels(data["images"][i])  # (S, S, 3)
    fig, axes = plt.subplots(1, len(words), figsize=(1.6 * len(words), 1.9), squeeze=False)
    for t, (ax, w) in enumerate(zip(axes[0], words)):
        overlay(ax, image, alphas[t], opacity=0.6)
        row, col, _ = peak_cell(alphas[t])
        cell = size / round(alphas.shape[-1] ** 0.5)
        ax.add_patch(Rectangle((col * cell - 0.5, row * cell - 0.5), cell, cell, fill=False, ec="red", lw=1.2))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(w, fontsize=9)
    if title:
        fig.suptitle(title, y=1.02, fontsize=10)
    return fig
