"""Figures of lesson 03 (recipes and dishes): pairs, retrieval, order twins, training, the joint space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from .world.language import RECIPE_CATEGORIES


def _pixels(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()  # (S, S, 3) uint8


def _wrap(lines: Sequence[str], width: int = 46) -> str:
    import textwrap

    return "\n".join(textwrap.fill(line, width, subsequent_indent="   ") for line in lines)


def plot_pairs(data: Any, indices: Sequence[int]):
    """Dishes of ``data`` above their recipes (ingredients, then the numbered steps)."""
    indices = list(indices)
    fig, axes = plt.subplots(2, len(indices), figsize=(3.4 * len(indices), 5.4), dpi=80,
                             gridspec_kw={"height_ratios": [1, 1.3]}, squeeze=False)
    for col, i in enumerate(indices):
        r = data.texts[i]
        axes[0, col].imshow(_pixels(data.images[i]))
        axes[0, col].set_title(f"{r.title}\n(category: {RECIPE_CATEGORIES[r.category]})", fontsize=8)
        lines = ["ingredients: " + "; ".join(r.ingredients)] + [f"{k}. {s}" for k, s in enumerate(r.steps)]
        axes[1, col].text(0, 1, _wrap(lines, 44), va="top", fontsize=6.5, family="monospace")
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_twins(twins: Any, rows: Sequence[int], choices: dict[str, torch.Tensor] | None = None):
    """Order twins: the picture as written, the picture of the twin, the pixels that differ,
    and the two step lists (the swapped steps marked *)."""
    rows = list(rows)
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 2.3 * len(rows)), dpi=80, squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 3.2]})
    for ax_row, t in zip(axes, rows):
        a, b = twins.images[t]  # (3, S, S) each
        diff = (a != b).any(0).numpy()  # (S, S)
        ax_row[0].imshow(_pixels(a))
        ax_row[0].set_title("as written", fontsize=8)
        ax_row[1].imshow(_pixels(b))
        ax_row[1].set_title("twin (two steps swapped)", fontsize=8)
        ax_row[2].imshow(diff, cmap="gray")
        ax_row[2].set_title(f"{int(twins.pixels[t])} pixels differ", fontsize=8)
        steps = twins.originals[t][1]
        lines = []
        for k, (s1, s2) in enumerate(zip(steps, twins.twins[t][1])):
            mark = "*" if s1 != s2 else " "
            lines.append(f"{mark}{k}. {s1:44.44} | {s2}")
        if choices:
            lines.append("")
            lines += [f"{name}: picks the painting recipe for {int(c[t].sum() * 50)}% of the two pictures"
                      for name, c in choices.items()]
        ax_row[3].text(0, 0.5, "\n".join(lines), va="center", fontsize=6.5, family="monospace")
        for ax in ax_row:
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_training(history: Any, steps_per_evaluation: int, title: str = ""):
    """The training loss, and the validation loss beside the validation medR, per evaluation."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), dpi=80)
    history.plot(ax=axes[0], title="training loss (smoothed)")
    x = np.arange(1, len(history.epochs["val loss"]) + 1) * steps_per_evaluation
    axes[1].plot(x, history.epochs["val loss"], "o-", color="tab:blue")
    axes[1].set_ylabel("validation loss", color="tab:blue")
    axes[1].set_xlabel("step")
    twin = axes[1].twinx()
    twin.plot(x, history.epochs["val medR"], "s--", color="tab:red")
    twin.set_ylabel("validation medR (1,000 pairs)", color="tab:red")
    twin.set_yscale("log")
    axes[1].set_title("validation loss and medR", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_joint_space(image: torch.Tensor, recipe: torch.Tensor, category: torch.Tensor, n: int = 400, title: str = ""):
    """Both modalities' embeddings projected on their first two principal directions (fitted on
    both together), coloured by category; dishes as dots, recipes as crosses."""
    x = torch.cat([image[:n], recipe[:n]])  # (2n, E)
    x = x - x.mean(0)
    _, _, v = torch.pca_lowrank(x, q=2, center=False)
    z = (x @ v[:, :2]).numpy()  # (2n, 2)
    c = category[:n].numpy()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=80)
    colours = plt.cm.tab10(np.arange(len(RECIPE_CATEGORIES)))
    for k, name in enumerate(RECIPE_CATEGORIES):
        ax.scatter(*z[:n][c == k].T, s=10, color=colours[k], marker="o", label=f"{name} (dish)")
        ax.scatter(*z[n:][c == k].T, s=14, color=colours[k], marker="x", label=f"{name} (recipe)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_recipe_to_dishes(data: Any, image: torch.Tensor, recipe: torch.Tensor, queries: Sequence[int], k: int = 5):
    """For each query recipe of ``data``: its true dish, then the ``k`` dishes nearest to it (the
    true one framed in green)."""
    queries = list(queries)
    fig, axes = plt.subplots(len(queries), k + 1, figsize=(1.7 * (k + 1), 1.9 * len(queries)), dpi=80, squeeze=False)
    for row, q in zip(axes, queries):
        top = (image @ recipe[q]).topk(k).indices.tolist()
        row[0].imshow(_pixels(data.images[q]))
        row[0].set_title(f"recipe {q}'s dish", fontsize=8)
        for r, (ax, i) in enumerate(zip(row[1:], top)):
            ax.imshow(_pixels(data.images[i]))
            ax.set_title(f"#{r + 1}" + (" (its dish)" if i == q else ""), fontsize=8, color="green" if i == q else "black")
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
