"""Figures of lesson 05 (text-to-image GAN): image grids, the data, loss curves, judged accuracy
over training, and the interpolation strip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from .gan import JUDGED, VARIANT_NAMES, CHANCE
from .training import History


def _pixels(image: torch.Tensor) -> np.ndarray:
    """uint8 (3, S, S) -> (S, S, 3) for imshow."""
    return image.permute(1, 2, 0).cpu().numpy()


def show_rows(rows: Mapping[str, torch.Tensor], titles: Sequence[str] | None = None, size: float = 0.95,
              title: str | None = None) -> plt.Figure:
    """A grid: one row per entry of ``rows`` (name -> uint8 images (N, 3, S, S)), the name on the left."""
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n + 1.2, size * len(rows) + (0.5 if titles else 0.2)),
                             squeeze=False, dpi=80)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(_pixels(images[c]))
            if c == 0:
                ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
            if titles is not None and r == 0 and c < len(titles):
                ax.set_title(titles[c], fontsize=6.5)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def short_caption(caption: str) -> str:
    """``"an image of a small red circle in the beach scene"`` -> ``"small red circle\\nbeach"``."""
    words = caption.replace(" scene", "").split()
    body = [w for w in words if w not in ("an", "a", "image", "of", "in", "the")]
    return " ".join(body[:-1]) + "\n" + body[-1] if len(body) > 1 else caption


def plot_losses(histories: Mapping[str, History], window: int = 50) -> plt.Figure:
    """D and G losses (running means) of each run, one panel per run."""
    fig, axes = plt.subplots(1, len(histories), figsize=(3.0 * len(histories), 2.5), sharey=True, dpi=80, squeeze=False)
    for ax, (name, h) in zip(axes[0], histories.items()):
        ax.plot(h.smoothed("d_loss", window), label="D loss")
        ax.plot(h.smoothed("g_loss", window), label="G loss")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    axes[0, 0].set_ylabel(f"loss (running mean of {window})", fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_over_training(histories: Mapping[str, Sequence[History]]) -> plt.Figure:
    """Judged colour / shape / scene accuracy of the probe captions over training; one line per
    run (variant and seed), one panel per attribute, chance dashed."""
    fig, axes = plt.subplots(1, len(JUDGED), figsize=(3.2 * len(JUDGED), 2.6), sharey=True, dpi=80)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes, JUDGED):
        for i, (variant, runs) in enumerate(histories.items()):
            for s, h in enumerate(runs):
                ax.plot(h.epochs["step"], h.epochs[key], "o-" if s == 0 else "s--", ms=3, color=colours[i],
                        label=f"{VARIANT_NAMES.get(variant, variant)} seed {s}")
        ax.axhline(CHANCE[key], color="0.5", ls=":", lw=1)
        ax.set_title(f"judged {key}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("accuracy (probe captions)", fontsize=8)
    axes[-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig
