"""The sound-source widget of lesson 10: tick which objects sound, hear the clip, see the map.

    explorer = LocalizationExplorer(models, scenes, images, grids)
    explorer            # scene and model dropdowns, one checkbox per object, the picture, a player

Every change re-mixes the scene's clip from the world's sounds (:func:`mmcourse.world.sound.scene_clips`
with the ticked objects sounding over the scene's ambience), runs the model and redraws the
localization map over the image. The status line says what sounds and where the peak is, e.g.
``test scene 2 | same scene + 100 labelled: sounding star -> peak on object 2 (star), flatness 0.61``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from .. import localization as loc
from ..world.catalog import COLOUR_NAMES, SHAPES, SIZES
from ..world.sound import SAMPLE_RATE, scene_clips
from .audio import wav_bytes
from .base import Explorer, new_figure, overlay, png_bytes, to_pixels


class LocalizationExplorer(Explorer):
    """Controls ``scene`` and ``model`` (dropdowns) and ``object 1`` ... ``object K`` (checkboxes:
    does it sound?); the image with the map over it; a player for the re-mixed clip; a status line.

    Args:
        models: display name -> trained :class:`~mmcourse.localization.SoundLocalizer`.
        scenes: a :class:`~mmcourse.world.scenes.SceneBatch` to pick from.
        images: the scenes' pictures, uint8 ``(N, 3, S, S)``.
        grids: the frozen encoder's grids of the scenes, ``(N, D, g, g)``.
        visible: the objects' visible pixels, bool ``(N, K, S, S)`` (to name the object under
            the peak); without them each object's bounding square is used.
        seed: seed of the mix (the same ticks give the same clip).
        dpi: of the picture.

    ``line`` holds the last status line, ``alpha`` the last map ``(g, g)``, ``clip`` the last clip.
    """

    def __init__(self, models: Mapping[str, torch.nn.Module], scenes: Any, images: torch.Tensor,
                 grids: torch.Tensor, visible: torch.Tensor | None = None, seed: int = 0, dpi: int = 72) -> None:
        super().__init__()
        if not models:
            raise ValueError("models must hold at least one (name -> model) entry")
        if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a uint8 tensor (N, 3, S, S), got "
                             f"{getattr(images, 'dtype', type(images).__name__)} {tuple(getattr(images, 'shape', ()))}")
        loc._validate_grid(grids)
        if not len(scenes) == len(images) == len(grids):
            raise ValueError(f"scenes ({len(scenes)}), images ({len(images)}) and grids ({len(grids)}) must describe "
                             "the same scenes")
        self.models, self.scenes, self.images, self.grids = dict(models), scenes, images, grids
        self.seed, self.dpi = int(seed), dpi
        self.visible = visible
        self.alpha = torch.zeros(grids.shape[-1], grids.shape[-1])
        self.clip = np.zeros(SAMPLE_RATE, dtype=np.float32)
        self.seconds = 0.0
        style = {"description_width": "60px"}
        self.scene = widgets.Dropdown(options=[(f"test scene {i}", i) for i in range(len(scenes))], description="scene",
                                      style=style, layout=widgets.Layout(width="220px"))
        self.model = widgets.Dropdown(options=list(self.models), description="model", style=style,
                                      layout=widgets.Layout(width="340px"))
        self.objects = [widgets.Checkbox(value=False, description=f"object {k + 1}", indent=False,
                                         layout=widgets.Layout(width="110px")) for k in range(scenes.max_objects)]
        self.image = widgets.Image(format="png")
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False, controls=True)
        self.watch([self.model, *self.objects], self.redraw)
        self.watch([self.scene], self.pick_scene)
        self.widget = widgets.VBox([widgets.HBox([self.scene, self.model]), widgets.HBox(self.objects),
                                    self.image, self.player, self.status])
        self.run(self.pick_scene)

    def describe(self, i: int, k: int) -> str:
        """``"large red star"``: object ``k`` of scene ``i`` in words."""
        s = self.scenes
        return f"{SIZES[s.size[i, k]]} {COLOUR_NAMES[s.colour[i, k]]} {SHAPES[s.shape[i, k]]}"

    def pick_scene(self) -> str:
        """Show the picked scene with its own sounding objects ticked; return the status line."""
        i = int(self.scene.value)
        n = int(self.scenes.n_objects[i])
        with self.quiet():
            for k, box in enumerate(self.objects):
                box.disabled = k >= n
                box.value = bool(self.scenes.sounding[i, k]) if k < n else False
        return self.redraw()

    def mix(self, i: int, sounding: np.ndarray) -> np.ndarray:
        """The clip of scene ``i`` with the objects in ``sounding`` (K,) heard: ``(T,)`` float32."""
        one = self.scenes[i]
        one = dataclasses.replace(one, sounding=np.asarray(sounding, dtype=bool)[None] & (one.shape >= 0))
        return scene_clips(one, sample_rate=SAMPLE_RATE, seed=self.seed)[0]  # (T,)

    def _picture(self, i: int, title: str) -> bytes:
        fig = new_figure(6.0, 3.2, dpi=self.dpi)
        axes = fig.subplots(1, 2)
        picture = to_pixels(self.images[i])  # (S, S, 3)
        side = picture.shape[0]
        axes[0].imshow(picture)
        axes[0].set_title(f"test scene {i}", fontsize=9)
        overlay(axes[1], picture, self.alpha.flatten(), cmap="magma", opacity=0.7)
        axes[1].set_title(title, fontsize=9)
        for k in range(int(self.scenes.n_objects[i])):
            x, y = self.scenes.x[i, k] * side, self.scenes.y[i, k] * side
            colour = "yellow" if self.objects[k].value else "white"
            axes[0].text(x, y, str(k + 1), color=colour, fontsize=10, ha="center", va="center", weight="bold")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return png_bytes(fig)

    def redraw(self) -> str:
        """Re-mix the clip, run the model, redraw; return the status line."""
        start = time.perf_counter()
        i, name = int(self.scene.value), self.model.value
        n = int(self.scenes.n_objects[i])
        sounding = np.array([box.value for box in self.objects])  # (K,)
        self.clip = self.mix(i, sounding)  # (T,)
        model = self.models[name]
        maps = loc.predict_maps(model, self.grids[i:i + 1], loc.log_mels(self.clip))  # (1, g, g)
        self.alpha = maps[0]  # (g, g)
        side = self.images.shape[-1]
        visible = torch.zeros(1, len(sounding), side, side, dtype=torch.bool)
        for k in range(n):  # the object masks, from the scene description (what the world renders)
            visible[0, k] = self._mask(i, k, side)
        peak = int(loc.peak_objects(maps, visible)[0])
        heard = [f"{k + 1} ({SHAPES[self.scenes.shape[i, k]]})" for k in range(n) if sounding[k]]
        where = "the background" if peak < 0 else f"object {peak + 1} ({SHAPES[self.scenes.shape[i, peak]]})"
        flat = float(loc.flatness(maps)[0])
        line = (f"test scene {i} | {name}: sounding {', '.join(heard) if heard else 'nothing (ambience only)'} "
                f"-> peak on {where}, flatness {flat:.2f}")
        self.player.value = wav_bytes(self.clip, SAMPLE_RATE)
        self.image.value = self._picture(i, "localization map")
        details = [f"object {k + 1}: {self.describe(i, k)}" + (" (sounds)" if sounding[k] else "") for k in range(n)]
        self.seconds = time.perf_counter() - start
        return self.set_status(line, details)

    def _mask(self, i: int, k: int, side: int) -> torch.Tensor:
        """Object ``k``'s visible pixels, if the scene came with them; else its bounding square."""
        if self.visible is not None:
            return self.visible[i, k]
        s = self.scenes
        x, y, r = float(s.x[i, k]) * side, float(s.y[i, k]) * side, float(s.radius[i, k]) * side
        rows, cols = torch.arange(side)[:, None] + 0.5, torch.arange(side)[None, :] + 0.5
        return ((rows - y).abs() <= r) & ((cols - x).abs() <= r)  # (S, S)
