"""The attention explorer of lesson 04: where does the captioner look for each word?

    explorer = AttentionExplorer(encoder, model, vocabulary, test_images, boxes=test_boxes)
    explorer            # shows the controls, the caption, a status line and the picture

Pick a held-out image (``image``) or draw a new random scene (``new scene``); the
captioner describes it, and the ``word`` slider walks through the caption: the picture
shows that step's 8x8 attention map upsampled over the image (bright = looked at), the
caption with the current word highlighted, and a status line such as
``held-out image 3 | word 2/6 'red' | peak at cell (row 3, col 5), weight 0.41``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.patches import Rectangle

from .. import captioning
from ..world.scenes import render, sample_scenes
from .base import Explorer, new_figure, overlay, png_bytes, to_pixels


def peak_cell(alpha: torch.Tensor | np.ndarray) -> tuple[int, int, float]:
    """``(row, col, weight)`` of the largest weight of a square attention map (L,)."""
    a = torch.as_tensor(alpha, dtype=torch.float32).flatten()  # (L,)
    grid = int(round(a.numel() ** 0.5))
    i = int(a.argmax())
    return i // grid, i % grid, float(a[i])


class AttentionExplorer(Explorer):
    """Controls ``image`` (a held-out image), ``new scene`` (a fresh random scene) and
    ``word`` (a step of the caption); the caption, a status line and a picture.

    Args:
        encoder: the frozen grid encoder.
        model: a trained :class:`~mmcourse.captioning.ShowAttendTell` with attention.
        vocabulary: the course vocabulary.
        images: uint8 (N, 3, S, S) held-out images to choose from.
        boxes: optional (N, K, 4) object boxes (pixels) to draw.
        n_choices: how many of the images the ``image`` menu offers.
        beam_width: 1 for greedy decoding, more for beam search.
        end_bonus: added to the log-probability of ``<end>`` (see :func:`~mmcourse.captioning.greedy_decode`).
        seed: first seed of the "new scene" draws (each click uses the next one).
    """

    def __init__(self, encoder: Any, model: captioning.ShowAttendTell, vocabulary: Any, images: torch.Tensor,
                 boxes: torch.Tensor | None = None, n_choices: int = 20, beam_width: int = 1,
                 end_bonus: float = 0.0, seed: int = 100_000) -> None:
        super().__init__()
        if model.att is None:
            raise ValueError("model must have attention (attention='soft') to show attention maps")
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a uint8 tensor (N, 3, S, S), got {getattr(images, 'shape', type(images))}")
        if boxes is not None and len(boxes) != len(images):
            raise ValueError(f"boxes must hold one (K, 4) array per image ({len(images)}), got {len(boxes)}")
        if isinstance(n_choices, bool) or not isinstance(n_choices, int) or n_choices < 1:
            raise ValueError(f"n_choices must be a positive integer, got {n_choices!r}")
        self.encoder, self.model, self.vocabulary = encoder, model, vocabulary
        self.images, self.boxes = images, boxes
        self.size = int(images.shape[-1])
        self.beam_width, self.end_bonus, self.next_seed = beam_width, end_bonus, seed
        n = min(n_choices, len(images))
        self.image = widgets.Dropdown(options=[(f"held-out image {i}", i) for i in range(n)], value=0,
                                      description="image")
        self.new_scene = widgets.Button(description="new scene", tooltip="draw a new random scene and caption it")
        self.word = widgets.IntSlider(value=0, min=0, max=0, description="word", continuous_update=True)
        self.caption_html = widgets.HTML()
        self.picture = widgets.Image(format="png")
        self.watch([self.image], self._choose)
        self.on_click(self.new_scene, self._draw_new)
        self.watch([self.word], self._show)
        self.widget = widgets.VBox([widgets.HBox([self.image, self.new_scene]), self.word, self.caption_html,
                                    self.status, self.picture])
        self.run(self._choose)

    # -- what is shown --------------------------------------------------------------------

    def _caption(self, image: torch.Tensor, label: str, boxes: np.ndarray | None) -> None:
        result = captioning.caption_images(image[None], self.encoder, self.model, self.vocabulary,
                                           beam_width=self.beam_width, image_size=self.size,
                                           end_bonus=self.end_bonus)[0]
        self.current = {"image": image, "label": label, "boxes": boxes, **result}
        self.word.max = max(len(result["words"]) - 1, 0)  # no redraw: a callback is running
        self.word.value = 0
        self._show()

    def _choose(self) -> None:
        i = int(self.image.value)
        boxes = self.boxes[i].numpy() if self.boxes is not None else None
        self._caption(self.images[i], f"held-out image {i}", boxes)

    def _draw_new(self) -> None:
        seed = self.next_seed
        self.next_seed += 1
        rendered = render(sample_scenes(1, seed=seed), size=self.size)
        image = torch.from_numpy(rendered.images[0]).permute(2, 0, 1).contiguous()  # (3, S, S) uint8
        self._caption(image, f"new scene (seed {seed})", rendered.boxes[0])

    def _show(self) -> None:
        cur = self.current
        words = cur["words"]
        t = int(self.word.value)
        pieces = []
        for j, w in enumerate(words):
            text = html.escape(w)
            pieces.append(f"<b style='background:#ffd54f;padding:0 3px'>{text}</b>" if j == t else text)
        self.caption_html.value = ("<span style='font-size:15px'>caption: " + " ".join(pieces) + "</span>"
                                   if words else "<i>(the caption is empty)</i>")
        fig = new_figure(6.4, 3.2)
        axes = fig.subplots(1, 2)
        picture = to_pixels(cur["image"])  # (S, S, 3) uint8
        axes[0].imshow(picture)
        axes[0].set_title(cur["label"], fontsize=10)
        if cur["boxes"] is not None:
            for x0, y0, x1, y1 in np.asarray(cur["boxes"]):
                if np.isfinite(x0):
                    axes[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=0.8))
        if words:
            alpha = cur["alphas"][t]  # (L,)
            row, col, weight = peak_cell(alpha)
            cell = self.size / int(round(alpha.numel() ** 0.5))
            overlay(axes[1], picture, alpha, smooth=True, cmap="gray", opacity=0.65)
            axes[1].add_patch(Rectangle((col * cell, row * cell), cell, cell, fill=False, ec="red", lw=1.5))
            axes[1].set_title(f"attention for '{words[t]}'", fontsize=10)
            line = (f"{cur['label']} | word {t + 1}/{len(words)} '{words[t]}' | peak at cell "
                    f"(row {row}, col {col}), weight {weight:.2f}")
        else:
            axes[1].imshow(picture)
            line = f"{cur['label']} | the caption is empty"
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        self.picture.value = png_bytes(fig)
        self.set_status(line)
