"""Figures of lesson 08 (SoundNet): a frame and its clip with the teachers' and the student's
distributions, what units of a middle layer respond to, per-shape precision and probe accuracy per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import audio
from .world.catalog import SCENE_TYPES, SHAPES


def log_mel(wave: Any, sample_rate: int = 16000, n_mels: int = 48) -> np.ndarray:
    """Log-mel spectrogram in dB of one clip ``(T,)``: ``(n_mels, frames)`` (lesson 07's code)."""
    x = np.asarray(torch.as_tensor(wave).float().numpy(), dtype=np.float64)  # (T,)
    return audio.log_mel_spectrogram(x, sample_rate, n_fft=512, hop=160, n_mels=n_mels)  # (M, frames)


def draw_spectrogram(ax: Any, wave: Any, sample_rate: int = 16000, title: str = "") -> None:
    """The log-mel spectrogram of ``wave`` on ``ax`` (time in s, mel band index up)."""
    spec = log_mel(wave, sample_rate)  # (M, frames)
    seconds = len(wave) / sample_rate
    ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, spec.shape[0]),
              vmin=spec.max() - 70)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("mel band", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)


def draw_distributions(ax: Any, names: Sequence[str], rows: Mapping[str, Any], title: str = "",
                       truth: Sequence[bool] | None = None) -> None:
    """Side-by-side bars of several distributions over ``names`` (e.g. teacher and student);
    names marked in ``truth`` are printed in bold."""
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(names))
    for j, (label, p) in enumerate(rows.items()):
        ax.bar(x + (j - (len(rows) - 1) / 2) * width, np.asarray(torch.as_tensor(p).float()), width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=7, rotation=30)
    if truth is not None:
        for tick, on in zip(ax.get_xticklabels(), truth):
            tick.set_fontweight("bold" if on else "normal")
    ax.set_ylim(0, 1)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)


def plot_pair(image: torch.Tensor, wave: Any, teacher: Mapping[str, torch.Tensor],
              student: Mapping[str, torch.Tensor] | None = None, sample_rate: int = 16000, title: str = "",
              sounding: Sequence[bool] | None = None, fig: Any = None) -> Any:
    """One training pair: the frame, the clip (waveform, spectrogram) and the distributions
    (the teachers from the frame; the student's from the sound, if given). Bold shape names
    are the ones that sound. Returns the figure."""
    fig = fig or plt.figure(figsize=(13, 2.6), dpi=80)
    axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": [0.8, 1.4, 1.4, 1.2, 1.0]})
    axes[0].imshow(image.permute(1, 2, 0).numpy() if image.dtype == torch.uint8 else image.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title(title or "the frame", fontsize=9)
    axes[0].axis("off")
    w = np.asarray(torch.as_tensor(wave).float())
    axes[1].plot(np.arange(len(w)) / sample_rate, w, lw=0.3, color="tab:blue")
    axes[1].set_xlabel("time (s)", fontsize=8)
    axes[1].set_title("the clip: waveform", fontsize=9)
    axes[1].tick_params(labelsize=7)
    draw_spectrogram(axes[2], w, sample_rate, "log-mel spectrogram")
    rows_obj = {"teacher (frame)": teacher["object"]}
    rows_scene = {"teacher (frame)": teacher["scene"]}
    if student is not None:
        rows_obj["student (sound)"] = student["object"]
        rows_scene["student (sound)"] = student["scene"]
    draw_distributions(axes[3], SHAPES, rows_obj, "object distribution", truth=sounding)
    draw_distributions(axes[4], SCENE_TYPES, rows_scene, "scene distribution")
    fig.tight_layout()
    return fig


def plot_units(clips: torch.Tensor, responses: torch.Tensor, units: Sequence[tuple[int, str, float]],
               top: int = 3, sample_rate: int = 16000, layer: int = 3) -> Any:
    """For each ``(unit, concept, AP)``: the ``top`` clips that excite the unit most, as spectrograms."""
    fig, axes = plt.subplots(len(units), top, figsize=(2.4 * top, 1.6 * len(units)), dpi=80, squeeze=False)
    for r, (u, concept, ap) in enumerate(units):
        best = torch.argsort(responses[:, u], descending=True)[:top]  # (top,)
        for c, i in enumerate(best.tolist()):
            ax = axes[r, c]
            draw_spectrogram(ax, clips[i].float() / (32768.0 if clips.dtype == torch.int16 else 1.0), sample_rate)
            ax.set_xlabel("")
            ax.set_ylabel(f"unit {u}" if c == 0 else "", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"clip {i}", fontsize=7)
        axes[r, 0].text(-0.08, 0.5, f"{concept}\nAP {ap:.2f}", transform=axes[r, 0].transAxes, ha="right",
                        va="center", fontsize=8)
    fig.suptitle(f"layer {layer}: the clips that excite each unit most", fontsize=10)
    fig.tight_layout()
    return fig


def plot_probe_layers(results: Mapping[str, Sequence[float]], baselines: Mapping[str, float], chance: float,
                      ax: Any = None, title: str = "") -> Any:
    """Probe accuracy per layer, one line per student; horizontal lines for baselines and chance."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2), dpi=80)
    for name, accs in results.items():
        ax.plot(np.arange(1, len(accs) + 1), accs, "o-", label=name)
    for j, (name, value) in enumerate(baselines.items()):
        ax.axhline(value, ls="--", color=f"C{len(results) + j}", label=name)
    ax.axhline(chance, ls=":", color="0.5", label="chance")
    ax.set_xlabel("layer (stage) the probe reads")
    ax.set_ylabel("held-out accuracy")
    ax.set_xticks(np.arange(1, 1 + max(len(a) for a in results.values())))
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    return ax


def plot_presence_ap(ap: Mapping[str, Any], chance: Mapping[str, float], ax: Any = None) -> Any:
    """Per-shape presence AP of the object head, for sounding and for silent objects, with chance levels."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3), dpi=80)
    x = np.arange(len(SHAPES))
    for j, name in enumerate(("sounding", "silent")):
        ax.bar(x + (j - 0.5) * 0.38, ap[f"{name}_per_shape"], 0.38, label=f"{name} objects", color=f"C{j}")
        ax.axhline(chance[name], ls=":", color=f"C{j}", label=f"chance ({name})")
    ax.set_xticks(x)
    ax.set_xticklabels(SHAPES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("average precision")
    ax.legend(fontsize=7, loc="center right")
    ax.set_title("is this shape in the frame? from the sound alone", fontsize=10)
    return ax
