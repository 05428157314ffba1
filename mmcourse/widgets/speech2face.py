"""The voice-to-face widget of lesson 09: pick a held-out person, hear them, see the faces.

    explorer = VoiceFaceExplorer(model, people, waves, faces)
    explorer        # person dropdown, seconds slider, audio player, three faces, a status line

The three faces are the true face, the face decoded from the true face's feature (the
decoder's ceiling) and the face decoded from the voice (its first ``seconds``). The status
line says who it is and what the attribute judge reads in the face drawn from the voice, e.g.
``test person 3 (female adult) | 1.0 s of voice | judged from the voice: female adult, ...``.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from .. import speech2face as s2f
from .audio import wav_bytes
from .base import Explorer, new_figure, png_bytes, to_pixels

SECONDS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0)
"""Lengths of voice the slider offers (s)."""


class VoiceFaceExplorer(Explorer):
    """Controls ``person`` (a dropdown) and ``seconds`` (a selection slider); an audio player; a
    picture of the three faces; a status line.

    Args:
        model: a trained :class:`~mmcourse.speech2face.Speech2Face`.
        people: the held-out :class:`~mmcourse.world.speakers.People`.
        waves: one utterance per person, float ``(N, T)`` at 16 kHz.
        faces: one face per person, uint8 ``(N, 3, S, S)``.
        seconds: the first length of voice used.
        dpi: of the picture.

    ``line`` holds the last status line, ``judged`` the last judged attributes ``(A,)``.
    """

    def __init__(self, model: s2f.Speech2Face, people: Any, waves: torch.Tensor, faces: torch.Tensor,
                 seconds: float = 2.0, dpi: int = 72) -> None:
        super().__init__()
        waves, faces = torch.as_tensor(waves), torch.as_tensor(faces)
        if waves.dim() != 2 or len(waves) != len(people):
            raise ValueError(f"waves must be (N, T) with one utterance per person ({len(people)}), got {tuple(waves.shape)}")
        if faces.dtype != torch.uint8 or faces.dim() != 4 or len(faces) != len(people) or faces.shape[1] != 3:
            raise ValueError(f"faces must be uint8 (N, 3, S, S) with one face per person, got {faces.dtype} {tuple(faces.shape)}")
        if seconds not in SECONDS:
            raise ValueError(f"seconds must be one of {SECONDS}, got {seconds!r}")
        self.model, self.people, self.waves, self.faces, self.dpi = model, people, waves.float(), faces, dpi
        with torch.no_grad():
            v_f = s2f.face_features(model.face_encoder, faces[:, None])[:, 0]  # (N, D)
            self.ceiling = s2f.as_uint8(model.face_from_feature(v_f))  # (N, 3, S, S)
        names = [f"test person {i} ({people.attributes(i)['sex']} {people.attributes(i)['age']})" for i in range(len(people))]
        self.names = dict(zip(names, range(len(people))))
        style = {"description_width": "60px"}
        self.person = widgets.Dropdown(options=names, description="person", style=style, layout=widgets.Layout(width="340px"))
        self.seconds = widgets.SelectionSlider(options=list(SECONDS), value=seconds, description="seconds", style=style)
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False, controls=True)
        self.image = widgets.Image(format="png")
        self.judged = torch.zeros(len(s2f.ATTRIBUTE_CLASSES), dtype=torch.long)
        self.redraw_seconds = 0.0
        self.watch([self.person, self.seconds], self.redraw)
        self.widget = widgets.VBox([widgets.HBox([self.person, self.seconds]), self.player, self.image, self.status])
        self.run(self.redraw)

    def redraw(self) -> str:
        """Decode the chosen stretch of voice, draw the three faces, play the voice; return the status line."""
        start = time.perf_counter()
        i, secs = self.names[self.person.value], float(self.seconds.value)
        wave = self.waves[i, : int(round(secs * s2f.SAMPLE_RATE))]  # (T',)
        from_voice = self.model.face_from_voice(wave, s2f.SAMPLE_RATE)  # (3, S, S)
        self.judged = self.model.judge.predict(from_voice[None])[0]  # (A,)
        self.player.value = wav_bytes(wave.numpy().astype(np.float64), s2f.SAMPLE_RATE)
        fig = new_figure(6.6, 2.5, dpi=self.dpi)
        axes = fig.subplots(1, 3)
        panels = [(self.faces[i], "true face"), (self.ceiling[i], "decoded from the face\n(the decoder's ceiling)"),
                  (s2f.as_uint8(from_voice), f"decoded from {secs:g} s of voice")]
        for ax, (face, title) in zip(axes, panels):
            ax.imshow(to_pixels(face))
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        self.image.value = png_bytes(fig)
        truth = self.people.describe(i)
        self.redraw_seconds = time.perf_counter() - start
        return self.set_status(f"{self.person.value} | {secs:g} s of voice | judged from the voice: "
                               f"{self.model.describe(self.judged)}", [f"truth: {truth}"])


__all__ = ["SECONDS", "VoiceFaceExplorer"]
