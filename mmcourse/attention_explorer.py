"""The attention explorer of lesson 04: where does the captioner look for each word?

    explorer = AttentionExplorer(encoder, model, vocabulary, test_images, boxes=test_boxes)
    explorer            # shows the controls, the picture and a status line

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
from torch.nn import functional as F

from . import captioning


def upsample_map(alpha: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
    """An attention map (L,) over a square grid, bilinearly upsampled to (size, size), max 1."""
    a = torch.as_tensor(alpha, dtype=torch.float32)  # (L,)
    grid = int(round(a.numel() ** 0.5))
    if grid * grid != a.numel():
        raise ValueError(f"alpha must hold a square grid of weights, got {a.numel()} values")
    up = F.interpolate(a.view(1, 1, grid, grid), size=(size, size), mode="bilinear", align_corners=False)  # (1, 1, S, S)
    up = up[0, 0].numpy()  # (S, S)
    return up / max(float(up.max()), 1e-12)  # (S, S)


def peak_cell(alpha: torch.Tensor | np.ndarray) -> tuple[int, int, float]:
    """``(row, col, weight)`` of the largest weight of a square attention map (L,)."""
    a = torch.as_tensor(alpha, dtype=torch.float32).flatten()  # (L,)
    grid = int(round(a.numel() ** 0.5))
    i = int(a.argmax())
    return i // grid, i % grid, float(a[i])


class AttentionExplorer:
    """Controls ``image`` (a held-out image), ``new scene`` (a fresh random scene) and
    ``word`` (a step of the caption); a picture and a status line (``self.line``).

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
        if model.att is None:
            raise ValueError("model must have attention (attention='soft') to show attention maps")
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a uint8 tensor (N, 3, S, S), got {getattr(images, 'shape', type(images))}")
        self.encoder, self.model, self.vocabulary = encoder, model, vocabulary
        self.images, self.boxes = images, boxes
        self.size = int(images.shape[-1])
        self.beam_width, self.end_bonus, self.next_seed = beam_width, end_bonus, seed
        self.line = ""
        self._busy = False
        n = min(n_choices, len(images))
        self.image = widgets.Dropdown(options=[(f"held-out image {i}", i) for i in range(n)], value=0,
                                      description="image")
        self.new_scene = widgets.Button(description="new scene", tooltip="draw a new random scene and caption it")
        self.word = widgets.IntSlider(value=0, min=0, max=0, description="word", continuous_update=True)
        self.caption_html = widgets.HTML()
        self.out = widgets.Output()  # the status line
        self.picture = widgets.Image(format="png")
        self.image.observe(lambda change: self._choose(), names="value")
        self.new_scene.on_click(lambda _: self._draw_new())
        self.word.observe(lambda change: self._show(), names="value")
        self.ui = widgets.VBox([widgets.HBox([self.image, self.new_scene]), self.word, self.caption_html, self.out,
                                self.picture])
        self._choose()

    # -- what is shown --------------------------------------------------------------------

    def _caption(self, image: torch.Tensor, label: str, boxes: np.ndarray | None) -> None:
        result = captioning.caption_images(image[None], self.encoder, self.model, self.vocabulary,
                                           beam_width=self.beam_width, image_size=self.size,
                                           end_bonus=self.end_bonus)[0]
        self.current = {"image": image, "label": label, "boxes": boxes, **result}
        self._busy = True
        try:
            self.word.max = max(len(result["words"]) - 1, 0)
            self.word.value = 0
        finally:
            self._busy = False
        self._show()

    def _choose(self) -> None:
        i = int(self.image.value)
        boxes = self.boxes[i].numpy() if self.boxes is not None else None
        self._caption(self.images[i], f"held-out image {i}", boxes)

    def _draw_new(self) -> None:
        from .world.scenes import render, sample_scenes

        seed = self.next_seed
        self.next_seed += 1
        scenes = sample_scenes(1, seed=seed)
        rendered = render(scenes, size=self.size)
        image = torch.from_numpy(rendered.images[0]).permute(2, 0, 1).contiguous()  # (3, S, S) uint8
        self._caption(image, f"new scene (seed {seed})", rendered.boxes[0])

    def _show(self) -> None:
        if self._busy:
            return
        import io

        import matplotlib.pyplot as plt

        cur = self.current
        words = cur["words"]
        t = int(self.word.value)
        pieces = []
        for j, w in enumerate(words):
            text = html.escape(w)
            pieces.append(f"<b style='background:#ffd54f;padding:0 3px'>{text}</b>" if j == t else text)
        self.caption_html.value = ("<span style='font-size:15px'>caption: " + " ".join(pieces) + "</span>"
                                   if words else "<i>(the caption is empty)</i>")
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.2), dpi=72)
        picture = cur["image"].permute(1, 2, 0).numpy()  # (S, S, 3) uint8
        for ax in axes:
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0].set_title(cur["label"], fontsize=10)
        if cur["boxes"] is not None:
            for x0, y0, x1, y1 in np.asarray(cur["boxes"]):
                if np.isfinite(x0):
                    axes[0].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=0.8))
        if words:
            alpha = cur["alphas"][t]  # (L,)
            row, col, weight = peak_cell(alpha)
            grid = int(round(alpha.numel() ** 0.5))
            cell = self.size / grid
            axes[1].imshow(upsample_map(alpha, self.size), cmap="gray", alpha=0.65, vmin=0, vmax=1)
            axes[1].add_patch(plt.Rectangle((col * cell, row * cell), cell, cell, fill=False, ec="red", lw=1.5))
            axes[1].set_title(f"attention for '{words[t]}'", fontsize=10)
            self.line = (f"{cur['label']} | word {t + 1}/{len(words)} '{words[t]}' | peak at cell "
                         f"(row {row}, col {col}), weight {weight:.2f}")
        else:
            self.line = f"{cur['label']} | the caption is empty"
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        self.picture.value = buffer.getvalue()
        # set the output area's content directly (not `with self.out: print(...)`), which also
        # works where no front end captures outputs, e.g. a headless notebook run
        self.out.outputs = ({"output_type": "stream", "name": "stdout", "text": self.line + "\n"},)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.ui)
