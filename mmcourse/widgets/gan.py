"""The interpolation widget of lesson 05: two captions, a slider that walks the text embedding
from one to the other with the noise fixed (the paper's interpolation figure), and a button that
draws new noise with the text fixed (style vs content).

    explorer = TextToImageExplorer(models, encoder, judge)
    explorer            # controls, two strips of generated images, a status line

The status line says what is shown and what the judge reads in the current image, e.g.
``GAN-INT-CLS | 0.50 x "a large red circle on the beach" + 0.50 x "a small blue star in the night" | noise 0 | judge: red circle, beach``.
A caption with words outside the vocabulary is named in the status line, never an error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import torch

from .. import gan
from ..world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES
from .base import Explorer, new_figure, png_bytes, to_pixels


class TextToImageExplorer(Explorer):
    """Controls ``caption A`` and ``caption B`` (text boxes, read on Enter), ``A -> B`` (a slider,
    the interpolation weight), ``new noise`` (a button) and ``model`` (a dropdown).

    The picture has two rows: the walk from caption A to caption B with the noise fixed (the
    current position framed), and ``n_styles`` images of the current text with other noise.

    Args:
        models: display name -> trained :class:`~mmcourse.gan.TextToImageGAN`.
        encoder: the :class:`~mmcourse.gan.TextEncoder` of the lesson.
        judge: the :class:`~mmcourse.gan.Judge`, whose reading of the current image is in the status line.
        caption_a, caption_b: the first two captions.
        steps: images along the walk.
        n_styles: images of the current text with other noise.

    ``line`` holds the last status line; ``current`` the current image (uint8 (3, S, S)).
    """

    def __init__(self, models: Mapping[str, torch.nn.Module], encoder: gan.TextEncoder, judge: gan.Judge,
                 caption_a: str = "a large red circle on the beach", caption_b: str = "a small blue star in the night",
                 steps: int = 7, n_styles: int = 6, dpi: int = 72) -> None:
        super().__init__()
        if not models:
            raise ValueError("models must hold at least one (name -> model) entry")
        if not 2 <= steps <= 15:
            raise ValueError(f"steps must be between 2 and 15, got {steps}")
        if not 1 <= n_styles <= 12:
            raise ValueError(f"n_styles must be between 1 and 12, got {n_styles}")
        self.models, self.encoder, self.judge = dict(models), encoder, judge
        self.steps, self.n_styles, self.dpi = steps, n_styles, dpi
        self.noise_seed = 0
        self.current: torch.Tensor | None = None
        self.seconds = 0.0
        style = {"description_width": "70px"}
        box = widgets.Layout(width="420px")
        self.caption_a = widgets.Text(value=caption_a, description="caption A", continuous_update=False, style=style,
                                      layout=box)
        self.caption_b = widgets.Text(value=caption_b, description="caption B", continuous_update=False, style=style,
                                      layout=box)
        self.mix = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=1 / (steps - 1), description="A -> B",
                                       readout_format=".2f", continuous_update=False, style=style)
        self.new_noise = widgets.Button(description="new noise", tooltip="draw new noise, keep the text")
        self.model = widgets.Dropdown(options=list(self.models), description="model", style=style,
                                      layout=widgets.Layout(width="260px"))
        self.image = widgets.Image(format="png")
        self.watch([self.caption_a, self.caption_b, self.mix, self.model], self.redraw)
        self.on_click(self.new_noise, self.draw_new_noise)
        self.widget = widgets.VBox([self.caption_a, self.caption_b, widgets.HBox([self.mix, self.new_noise, self.model]),
                                    self.image, self.status])
        self.run(self.redraw)

    def draw_new_noise(self) -> str:
        """New noise, same text: a new style of the same content; returns the status line."""
        self.noise_seed += 1
        return self.redraw()

    def _noise(self, n: int, seed: int) -> torch.Tensor:
        z_dim = next(iter(self.models.values())).config.noise_dim
        return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))  # (n, Z)

    def redraw(self) -> str:
        """Generate the walk and the styles; redraw; return the status line."""
        start = time.perf_counter()
        name, beta = self.model.value, float(self.mix.value)
        texts = [self.caption_a.value.strip(), self.caption_b.value.strip()]
        try:
            ta, tb = self.encoder(texts)  # (D,), (D,)
        except ValueError as error:
            return self.set_status(f"{name} | {error}".replace("\n", " "))
        model = self.models[name]
        alphas = torch.linspace(0, 1, self.steps)  # (steps,)
        walk_text = (1 - alphas)[:, None] * ta + alphas[:, None] * tb  # (steps, D)
        noise = self._noise(1, 1000 + self.noise_seed).expand(self.steps, -1)  # (steps, Z): the same noise
        walk = gan.to_uint8(model.generate(walk_text, noise))  # (steps, 3, S, S)
        now_text = ((1 - beta) * ta + beta * tb)[None]  # (1, D)
        styles_noise = torch.cat([self._noise(1, 1000 + self.noise_seed), self._noise(self.n_styles - 1, 5000 + self.noise_seed)])
        styles = gan.to_uint8(model.generate(now_text.expand(self.n_styles, -1), styles_noise))  # (n, 3, S, S)
        self.current = styles[0]
        judged = gan.judge_images(self.judge, gan.to_unit(styles[:1]))
        reading = (f"{COLOUR_NAMES[int(judged['colour'][0])]} {SHAPES[int(judged['shape'][0])]}, "
                   f"{SCENE_TYPES[int(judged['scene'][0])]}")
        self.image.value = self._picture(walk, styles, int(round(beta * (self.steps - 1))))
        self.seconds = time.perf_counter() - start
        line = (f'{name} | {1 - beta:.2f} x "{texts[0]}" + {beta:.2f} x "{texts[1]}" | noise {self.noise_seed} '
                f"| judge: {reading}")
        return self.set_status(line, ["top row: the text walks from A to B, the noise stays; "
                                      "bottom row: the current text, other noise (the first image is the same noise)"])

    def _picture(self, walk: torch.Tensor, styles: torch.Tensor, at: int) -> bytes:
        n = max(len(walk), len(styles))
        fig = new_figure(0.9 * n + 0.4, 2.1, dpi=self.dpi)
        axes = fig.subplots(2, n, squeeze=False)
        for r, row in enumerate((walk, styles)):
            for c in range(n):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(row):
                    ax.imshow(to_pixels(row[c]))
                    if r == 0:
                        ax.set_title("A" if c == 0 else "B" if c == len(row) - 1 else f"{c / (len(row) - 1):.2f}",
                                     fontsize=7)
                    frame = r == 0 and c == at
                    for spine in ax.spines.values():
                        spine.set_color("tab:red" if frame else "0.8")
                        spine.set_linewidth(2.5 if frame else 0.5)
                else:
                    ax.axis("off")
        fig.tight_layout(pad=0.2)
        return png_bytes(fig)
