"""Figures of lesson 10: binarisation rules, success curves and a gallery of maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import localization as loc
from .widgets.base import overlay, to_pixels


def _clean(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_binarisations(image: torch.Tensor, grid_map: torch.Tensor, truth: torch.Tensor, name: str):
    """One scene: the image, the true sounding pixels, a grid map, and the map binarised by each rule
    (with its cIoU). ``image`` uint8 (3, S, S), ``grid_map`` (g, g), ``truth`` bool (S, S)."""
    side = truth.shape[-1]
    up = loc.upsample(grid_map[None], side)  # (1, S, S)
    fig, axes = plt.subplots(1, 3 + len(loc.RULES), figsize=(2.1 * (3 + len(loc.RULES)), 2.4), dpi=80)
    pixels = to_pixels(image)
    axes[0].imshow(pixels)
    axes[0].set_title("scene", fontsize=9)
    axes[1].imshow(truth.numpy(), cmap="gray")
    axes[1].set_title(f"sounding pixels ({float(truth.float().mean()):.1%})", fontsize=9)
    overlay(axes[2], pixels, grid_map.flatten(), cmap="magma", opacity=0.7)
    axes[2].set_title(name, fontsize=9)
    for ax, rule in zip(axes[3:], loc.RULES):
        binary = loc.binarize(up, truth[None], rule)  # (1, S, S)
        score = float(loc.ciou(binary, truth[None])[0])
        shown = np.zeros((side, side, 3))
        shown[..., 0] = binary[0].numpy()  # red: called sounding
        shown[..., 1] = truth.numpy()  # green: truly sounding (yellow: both)
        ax.imshow(shown)
        ax.set_title(f"{rule}: cIoU {score:.2f}", fontsize=9)
    for ax in axes:
        _clean(ax)
    fig.tight_layout()
    return fig


def plot_success_curves(curves: Mapping[str, np.ndarray], title: str, ax=None):
    """Success rate (share of scenes with cIoU >= t) against the threshold t, one line per model."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2), dpi=80)
    for name, rates in curves.items():
        ax.plot(loc.THRESHOLDS, rates, label=name, lw=2 if "perfect" not in name else 1,
                ls="--" if name in ("whole image", "random", "object-ness", "perfect grid map") else "-")
    ax.axvline(0.5, color="0.6", lw=0.8)
    ax.set_xlabel("cIoU threshold t")
    ax.set_ylabel("share of scenes with cIoU >= t")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return ax


def plot_gallery(images: torch.Tensor, maps: Mapping[str, torch.Tensor], truth: torch.Tensor, indices: Sequence[int],
                 captions: Sequence[str]):
    """Rows = scenes, columns = the true sounding pixels and each model's map over the image."""
    rows, cols = len(indices), 1 + len(maps)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows), dpi=80, squeeze=False)
    for r, i in enumerate(indices):
        pixels = to_pixels(images[i])
        shown = pixels.copy()
        shown[truth[i].numpy()] = (255, 255, 0)
        axes[r, 0].imshow(shown)
        axes[r, 0].set_ylabel(captions[r], fontsize=7)
        for c, (name, m) in enumerate(maps.items(), start=1):
            overlay(axes[r, c], pixels, m[i].flatten(), cmap="magma", opacity=0.7)
            if r == 0:
                axes[r, c].set_title(name, fontsize=8)
        if r == 0:
            axes[r, 0].set_title("sounding (yellow)", fontsize=8)
    for ax in axes.flat:
        _clean(ax)
    fig.tight_layout()
    return fig
