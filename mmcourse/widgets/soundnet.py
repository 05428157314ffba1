"""The SoundNet widget of lesson 08: pick a clip or mix a new one, listen, and compare what the
image teachers say from the frame with what the sound student says from the clip.

    explorer = SoundNetExplorer(student, encoder, scenes, clips, images)
    explorer            # controls, a player, the frame / waveform / spectrogram / distributions, a status line

Picking a ``clip`` shows a held-out scene with its own clip. Changing the ``scene`` type or
which objects sound (``object 1`` ... ``object 4``) mixes a new clip of that scene with the
world's sounds (and redraws its frame, so the teachers see the new scene type too). The status
line says what sounds, and what the student hears, e.g.
``test clip 0 (beach) | sounding: circle | student: beach (99%), circle (92%) | teacher: ...``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from .. import soundnet
from ..soundnet_figures import plot_pair
from ..world.catalog import SCENE_TYPES, SHAPES
from ..world.scenes import render
from ..world.sound import scene_clips
from .audio import wav_bytes
from .base import Explorer, new_figure, png_bytes

MAX_OBJECTS = 4


class SoundNetExplorer(Explorer):
    """Controls ``clip`` (a dropdown of held-out clips), ``scene`` (the scene type to mix) and the
    check boxes ``object 1`` ... ``object 4`` (which objects sound); an audio player; a picture
    of the frame, the waveform, the spectrogram and the teachers' and the student's
    distributions side by side; a status line.

    Args:
        student: a trained :class:`~mmcourse.soundnet.SoundNet`.
        encoder: the frozen course image encoder (the teachers).
        scenes: the clips' :class:`~mmcourse.world.scenes.SceneBatch`.
        clips: ``(N, T)`` int16 or float clips at ``sample_rate``.
        images: ``(N, 3, S, S)`` uint8 frames.
        sample_rate: Hz of the clips.
        mix_seed: seed of the first mixed clip (the next ones count up).
        dpi: of the picture.

    ``line`` holds the last status line; ``student_out`` and ``teacher_out`` the last distributions.
    """

    def __init__(self, student: torch.nn.Module, encoder: torch.nn.Module, scenes: Any, clips: torch.Tensor,
                 images: torch.Tensor, sample_rate: int = 16000, mix_seed: int = 80_000, dpi: int = 72) -> None:
        super().__init__()
        if not torch.is_tensor(clips) or clips.dim() != 2:
            raise ValueError(f"clips must be a tensor (N, T), got {getattr(clips, 'shape', type(clips).__name__)}")
        if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a uint8 tensor (N, 3, S, S)")
        if not len(scenes) == len(clips) == len(images) or len(clips) == 0:
            raise ValueError(f"scenes ({len(scenes)}), clips ({len(clips)}) and images ({len(images)}) must describe "
                             "the same (at least one) scenes")
        self.student, self.encoder, self.scenes = student, encoder, scenes
        self.clips, self.images, self.sample_rate, self.dpi = clips, images, int(sample_rate), dpi
        self.duration = clips.shape[1] / self.sample_rate
        self._seed = int(mix_seed)
        self.mixed = 0
        style = {"description_width": "50px"}
        self.clip = widgets.Dropdown(options=[f"test clip {i}" for i in range(len(clips))], description="clip",
                                     style=style, layout=widgets.Layout(width="200px"))
        self.scene = widgets.Dropdown(options=list(SCENE_TYPES), description="scene", style=style,
                                      layout=widgets.Layout(width="170px"))
        self.objects = [widgets.Checkbox(value=False, description=f"object {k + 1}", indent=False,
                                         layout=widgets.Layout(width="90px")) for k in range(MAX_OBJECTS)]
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False)
        self.image = widgets.Image(format="png")
        self.watch([self.clip], self.pick_clip)
        self.watch([self.scene, *self.objects], self.mix)
        self.widget = widgets.VBox([widgets.HBox([self.clip, self.scene, widgets.Label("sounding:"), *self.objects]),
                                    self.player, self.image, self.status])
        self.current: Any = None
        self.run(self.pick_clip)

    # -- what is shown --------------------------------------------------------------------

    def _index(self) -> int:
        return int(self.clip.value.rsplit(" ", 1)[1])

    def pick_clip(self) -> str:
        """Show the picked held-out clip with its own frame; set the controls to its scene."""
        i = self._index()
        self.current = self.scenes[np.array([i])]  # a SceneBatch of one scene
        wave = soundnet.as_float(self.clips[i:i + 1])[0]  # (T,)
        with self.quiet():
            self.scene.value = SCENE_TYPES[int(self.current.scene_type[0])]
            self._set_boxes()
        return self._show(self.images[i], wave, f"test clip {i}")

    def _set_boxes(self) -> None:
        n = int(self.current.n_objects[0])
        for k, box in enumerate(self.objects):
            box.disabled = k >= n
            box.value = bool(k < n and self.current.sounding[0, k])
            shape = SHAPES[int(self.current.shape[0, k])] if k < n else "-"
            box.description = f"object {k + 1}"
            box.tooltip = shape

    def mix(self) -> str:
        """Mix a new clip of the current scene with the chosen scene type and sounding objects."""
        n = int(self.current.n_objects[0])
        sounding = np.array(self.current.sounding, dtype=bool)  # (1, K)
        for k in range(min(n, sounding.shape[1])):
            sounding[0, k] = bool(self.objects[k].value)
        scene_type = np.array([SCENE_TYPES.index(self.scene.value)], dtype=np.asarray(self.current.scene_type).dtype)
        self.current = dataclasses.replace(self.current, sounding=sounding, scene_type=scene_type)
        frame = torch.from_numpy(render(self.current, size=int(self.images.shape[-1])).images).permute(0, 3, 1, 2)[0]
        wave = torch.from_numpy(scene_clips(self.current, sample_rate=self.sample_rate, duration=self.duration,
                                            seed=self._seed))[0]  # (T,)
        self._seed += 1
        self.mixed += 1
        return self._show(frame, wave, f"mix {self.mixed}")

    def _show(self, frame: torch.Tensor, wave: torch.Tensor, name: str) -> str:
        start = time.perf_counter()
        self.teacher_out = {k: v[0] for k, v in soundnet.teacher_distributions(self.encoder, frame[None]).items()}
        self.student_out = {k: v[0] for k, v in soundnet.predict(self.student, wave[None]).items()}
        n = int(self.current.n_objects[0])
        shapes = [SHAPES[int(self.current.shape[0, k])] for k in range(n)]
        heard = [s for k, s in enumerate(shapes) if self.current.sounding[0, k]]
        sounding = [s in heard for s in SHAPES]
        fig = new_figure(13, 2.6, dpi=self.dpi)
        scene_name = SCENE_TYPES[int(self.current.scene_type[0])]
        plot_pair(frame, wave, self.teacher_out, self.student_out, self.sample_rate, f"{name} ({scene_name})",
                  sounding=sounding, fig=fig)
        self.image.value = png_bytes(fig)
        self.player.value = wav_bytes(wave.numpy(), self.sample_rate)

        def top(p: torch.Tensor, names: tuple[str, ...]) -> str:
            j = int(p.argmax())
            return f"{names[j]} ({float(p[j]):.0%})"

        line = (f"{name} ({scene_name}) | sounding: {', '.join(heard) or 'nothing but the ambience'} | "
                f"student (sound): {top(self.student_out['scene'], SCENE_TYPES)}, "
                f"{top(self.student_out['object'], SHAPES)} | teacher (frame): "
                f"{top(self.teacher_out['scene'], SCENE_TYPES)}, {top(self.teacher_out['object'], SHAPES)}")
        objects = ", ".join(f"object {k + 1}: {s}{'' if self.current.sounding[0, k] else ' (silent)'}"
                            for k, s in enumerate(shapes))
        self.seconds = time.perf_counter() - start
        return self.set_status(line, [f"in the frame: {objects}"])
