"""The scene explorer of lesson 00: one scene of the course world in every modality.

    explorer = WorldExplorer(tour, clips, reading, sample_rate=16000)
    explorer            # a slider, the picture, a player and the status lines

The ``scene`` slider picks a scene; you see its image, hear its sound, and read its
captions, its recipe and what sounds in it. The first status line names the scene and
answers one of its questions by looking at the encoder's reading of the image, e.g.
``scene 0 (night, 4 objects) | Q: how many things are there? A: four | by looking: three``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np

from ..modality import Reading, answer_by_looking
from ..world.catalog import SCENE_TYPES
from .audio import wav_bytes
from .base import Explorer, png_bytes, to_pixels


class WorldExplorer(Explorer):
    """Control ``scene`` (a slider); the scene's picture, a player for its sound, status lines.

    Args:
        data: a :class:`~mmcourse.world.SceneData` made with its text (captions, questions, recipes).
        clips: float (N, T), the sound of each scene (:func:`~mmcourse.world.sound.scene_clips`).
        reading: the encoder's :class:`~mmcourse.modality.Reading` of ``data.images``
            (:func:`~mmcourse.modality.read_images`), used to answer by looking.
        sample_rate: of the clips, in Hz.
        zoom: how many times the picture is enlarged.
        scene: the scene shown first.
    """

    def __init__(self, data: Any, clips: np.ndarray, reading: Reading, sample_rate: int = 16000, zoom: int = 3,
                 scene: int = 0) -> None:
        super().__init__()
        n = len(data)
        if n < 1 or len(getattr(data, "captions", ())) != n or len(getattr(data, "recipes", ())) != n:
            raise ValueError("data must be a non-empty SceneData made with its text (captions, questions, recipes)")
        clips = np.asarray(clips, dtype=np.float32)  # (N, T)
        if clips.ndim != 2 or len(clips) != n:
            raise ValueError(f"clips must be (N, T) with N = {n} scenes, got shape {clips.shape}")
        if len(reading) != n:
            raise ValueError(f"reading must describe the {n} scenes of data, got {len(reading)}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        if isinstance(zoom, bool) or not isinstance(zoom, int) or zoom < 1:
            raise ValueError(f"zoom must be a positive integer, got {zoom!r}")
        if isinstance(scene, bool) or not isinstance(scene, int) or not 0 <= scene < n:
            raise ValueError(f"scene must be an index in 0..{n - 1}, got {scene!r}")
        self.data, self.clips, self.reading = data, clips, reading
        self.sample_rate, self.zoom = sample_rate, zoom
        self.questions: dict[int, list[Any]] = {}  # scene -> its questions
        for q in data.questions:
            self.questions.setdefault(q.scene, []).append(q)
        self.scene = widgets.IntSlider(value=scene, min=0, max=n - 1, description="scene", continuous_update=False)
        self.picture = widgets.Image(format="png")
        self.player = widgets.Audio(format="wav", autoplay=False, controls=True)
        self.watch([self.scene], self.show)
        self.widget = widgets.VBox([self.scene, widgets.HBox([self.picture, self.player]), self.status])
        self.run(self.show)

    def show(self) -> str:
        """Show the chosen scene: picture, sound and status lines; return the first line."""
        i = int(self.scene.value)
        objects = self.data.scenes.objects(i)
        kind = SCENE_TYPES[self.data.scenes.scene_type[i]]
        questions = self.questions.get(i)
        if questions:
            q = questions[0]
            looked = answer_by_looking(q.text, self.reading, i)
            asked = f"Q: {q.text} A: {q.answer} | by looking: {looked}"
        else:
            asked = "no question about this scene"
        details = [f"  caption: {caption}" for caption in self.data.captions[i]]
        recipe = self.data.recipes[i]
        details.append(f"  recipe: {recipe.title} | " + " / ".join(recipe.steps))
        sounding = ", ".join(o["shape"] for o in objects if o["sounding"]) or "nothing"
        details.append(f"  sounding: {sounding} | ambience: {kind}")
        self.picture.value = png_bytes(to_pixels(self.data.images[i]), zoom=self.zoom)  # (S, S, 3) uint8
        self.player.value = wav_bytes(self.clips[i], self.sample_rate)
        return self.set_status(f"scene {i} ({kind}, {len(objects)} objects) | {asked}", details)
