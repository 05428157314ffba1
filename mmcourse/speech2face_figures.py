"""Figures of lesson 09 (Speech2Face): the pipeline, voices, faces side by side, agreement bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch

from .speech2face import as_uint8
from .widgets.base import to_pixels


def plot_pipeline(ax=None):
    """The Speech2Face pipeline as boxes and arrows: what is trained, what is frozen."""
    ax = ax or plt.subplots(figsize=(10, 2.6))[1]
    boxes = {
        "face image": (0.0, 1.2, "#dddddd"), "face encoder\n(frozen)": (1.6, 1.2, "#9ecae1"),
        "v_f": (3.2, 1.2, "#ffffff"), "face decoder\n(frozen)": (4.8, 1.2, "#9ecae1"), "face": (6.4, 1.2, "#dddddd"),
        "utterance": (0.0, 0.0, "#dddddd"), "log-mel\nspectrogram": (1.6, 0.0, "#dddddd"),
        "voice encoder\n(trained)": (3.2, 0.0, "#fdae6b"), "v_s": (4.8, 0.0, "#ffffff"),
    }
    for text, (x, y, colour) in boxes.items():
        ax.add_patch(FancyBboxPatch((x, y), 1.2, 0.7, boxstyle="round,pad=0.05", fc=colour, ec="black"))
        ax.text(x + 0.6, y + 0.35, text, ha="center", va="center", fontsize=9)
    arrows = [((1.2, 1.55), (1.6, 1.55)), ((2.8, 1.55), (3.2, 1.55)), ((4.4, 1.55), (4.8, 1.55)),
              ((6.0, 1.55), (6.4, 1.55)), ((1.2, 0.35), (1.6, 0.35)), ((2.8, 0.35), (3.2, 0.35)),
              ((4.4, 0.35), (4.8, 0.35)), ((5.4, 0.7), (5.4, 1.2))]
    for (x0, y0), (x1, y1) in arrows:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->"))
    ax.text(3.8, 0.95, "loss: v_s ≈ v_f\n(same person)", ha="center", va="center", fontsize=8, color="#b35806")
    ax.text(6.2, 0.8, "at test time:\nthe decoder draws v_s", ha="left", va="center", fontsize=8, color="#b35806")
    ax.set_xlim(-0.2, 7.9)
    ax.set_ylim(-0.2, 2.1)
    ax.axis("off")
    return ax


def plot_voices(mels: torch.Tensor, titles: Sequence[str], hop_seconds: float, fmax: float):
    """Log-mel spectrograms (K, M, F) side by side, with their titles."""
    fig, axes = plt.subplots(1, len(mels), figsize=(3.2 * len(mels), 2.4), squeeze=False)
    for ax, m, title in zip(axes[0], mels, titles):
        ax.imshow(m.float().numpy(), origin="lower", aspect="auto", cmap="magma",
                  extent=(0, m.shape[-1] * hop_seconds, 0, m.shape[0]))
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("time (s)")
    axes[0, 0].set_ylabel(f"mel band (0–{fmax / 1000:g} kHz)")
    fig.tight_layout()
    return fig


def plot_face_rows(rows: Mapping[str, torch.Tensor], titles: Sequence[str] | None = None, size: float = 1.1):
    """Rows of faces (each (K, 3, S, S) in [0, 1] or uint8), labelled on the left; ``titles`` above columns."""
    k = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), k, figsize=(size * k + 1.2, size * len(rows) + 0.3), squeeze=False)
    for r, (name, faces) in enumerate(rows.items()):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(to_pixels(as_uint8(faces[c])))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
            if r == 0 and titles is not None:
                ax.set_title(titles[c], fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def plot_agreement(report: Mapping[str, Mapping[str, float]], names: Sequence[str], ceiling: Mapping[str, float] | None = None,
                   ax=None, title: str = ""):
    """Bars of agreement beside the majority-class rate per attribute (and dots for a ceiling)."""
    ax = ax or plt.subplots(figsize=(9, 2.8))[1]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [report[n]["agreement"] for n in names], 0.4, label="face from the voice", color="#fdae6b")
    ax.bar(x + 0.2, [report[n]["majority"] for n in names], 0.4, label="majority class", color="#bdbdbd")
    if ceiling is not None:
        ax.plot(x, [ceiling[n] for n in names], "k_", markersize=18, mew=2, label="the decoder's ceiling (face from the true face feature)")
    ax.set_xticks(x, [n.replace(" (", "\n(") for n in names], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("agreement with the true face")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title, fontsize=9)
    return ax


def plot_convergence(curves: Mapping[str, Sequence[float]], chance: float, ax=None):
    """Validation R@10 after every epoch, one line per loss, with chance."""
    ax = ax or plt.subplots(figsize=(4.5, 2.8))[1]
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.axhline(chance, color="grey", ls=":", label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation R@10 (100 faces)")
    ax.legend(fontsize=7)
    return ax


__all__ = ["plot_agreement", "plot_convergence", "plot_face_rows", "plot_pipeline", "plot_voices"]
