"""The question widget of lesson 06: pick a scene (or draw a new one), ask, see the answers.

    explorer = VQAExplorer(models, encoder, vocabulary, answers, scenes, images, features)
    explorer            # controls, the scene with the top-5 answers as bars, a status line

The status line says what was asked and answered, e.g.
``test scene 3 | point-wise (balanced): "how many stars are there?" -> two (87%)``, and lists
the words the vocabulary does not know (they are read as ``<unk>``, never an error). For an
attention model the picture also shows where each glimpse looked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import torch

from .. import vqa
from ..world.scenes import render, sample_scenes
from .base import Explorer, new_figure, overlay, png_bytes, to_pixels


class VQAExplorer(Explorer):
    """Controls ``scene`` (a dropdown), ``new scene`` (a button), ``question`` (a text box, read
    on Enter) and ``model`` (a dropdown); a picture of the scene with the top-``top_k`` answers;
    a status line.

    Args:
        models: display name -> trained :class:`~mmcourse.vqa.VQAModel` or :class:`~mmcourse.vqa.AttentionVQA`.
        encoder: the frozen course encoder (to read scenes drawn with ``new scene``).
        vocabulary: the course :class:`~mmcourse.world.vocab.Vocabulary`.
        answers: the answer vocabulary.
        scenes: a :class:`~mmcourse.world.scenes.SceneBatch` to pick from.
        images: the scenes' pictures, a uint8 tensor ``(N, 3, S, S)`` (as
            :func:`~mmcourse.vqa.lesson_data` returns them).
        features: the scenes' features, from :func:`~mmcourse.vqa.extract_features`.
        question: the first question.
        new_scene_seed: seed of the first scene drawn with ``new scene`` (the next ones count up).
        top_k: how many answers the bars show.
        dpi: of the picture.

    ``line`` holds the last status line, ``top`` the last ``[(answer, probability), ...]``.
    """

    def __init__(self, models: Mapping[str, torch.nn.Module], encoder: torch.nn.Module, vocabulary: Any,
                 answers: list[str], scenes: Any, images: torch.Tensor, features: Mapping[str, torch.Tensor],
                 question: str = "what colour is the star?", new_scene_seed: int = 10_000, top_k: int = 5,
                 dpi: int = 72) -> None:
        super().__init__()
        if not models:
            raise ValueError("models must hold at least one (name -> model) entry")
        if (not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3
                or images.shape[2] != images.shape[3]):
            got = (f"{images.dtype} {tuple(images.shape)}" if torch.is_tensor(images)
                   else f"{type(images).__name__} {getattr(images, 'dtype', '')} {getattr(images, 'shape', '')}".rstrip())
            raise ValueError(f"images must be a uint8 tensor (N, 3, S, S), got {got}; rendered images (N, S, S, 3) "
                             "convert with torch.from_numpy(images).permute(0, 3, 1, 2)")
        if not {"global", "grid"} <= set(features):
            raise ValueError(f"features must hold 'global' and 'grid' (from vqa.extract_features), got {sorted(features)}")
        if len(images) != len(scenes) or len(features["global"]) != len(scenes):
            raise ValueError(f"scenes ({len(scenes)}), images ({len(images)}) and features "
                             f"({len(features['global'])}) must describe the same scenes")
        if not 1 <= top_k <= len(answers):
            raise ValueError(f"top_k must be between 1 and {len(answers)}, got {top_k}")
        self.models = dict(models)
        self.encoder, self.vocabulary, self.answers = encoder, vocabulary, list(answers)
        self.top_k, self.dpi = top_k, dpi
        self._next_seed = int(new_scene_seed)
        self._drawn = 0
        self.pictures: dict[str, torch.Tensor] = {}  # scene name -> image (3, S, S) uint8
        self.inputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # scene name -> (global (G,), grid (L, D))
        self.descriptions: dict[str, str] = {}
        for i in range(len(scenes)):
            self._add(f"test scene {i}", images[i], features["global"][i], features["grid"][i], scenes.describe(i))
        style = {"description_width": "70px"}
        self.scene = widgets.Dropdown(options=list(self.pictures), description="scene", style=style,
                                      layout=widgets.Layout(width="260px"))
        self.new_scene = widgets.Button(description="new scene", tooltip="draw a new random scene")
        self.question = widgets.Text(value=question, description="question", continuous_update=False, style=style,
                                     placeholder="type a question and press Enter", layout=widgets.Layout(width="520px"))
        self.model = widgets.Dropdown(options=list(self.models), description="model", style=style,
                                      layout=widgets.Layout(width="320px"))
        self.image = widgets.Image(format="png")
        self.top: list[tuple[str, float]] = []
        self.seconds = 0.0
        self.watch([self.scene, self.question, self.model], self.redraw)
        self.on_click(self.new_scene, self.draw_new_scene)
        self.widget = widgets.VBox([widgets.HBox([self.scene, self.new_scene, self.model]), self.question,
                                    self.image, self.status])
        self.run(self.redraw)

    def _add(self, name: str, image: torch.Tensor, global_vec: torch.Tensor, grid: torch.Tensor, text: str) -> None:
        self.pictures[name] = image  # (3, S, S) uint8
        self.inputs[name] = (global_vec.float(), grid.float())
        self.descriptions[name] = text

    def draw_new_scene(self) -> str:
        """Sample a fresh scene (seeds outside the training and test ranges), add it, select it
        and answer the question about it; return the status line."""
        scene = sample_scenes(1, seed=self._next_seed)
        self._next_seed += 1
        self._drawn += 1
        rendered = render(scene, size=self.encoder_size()).images  # (1, S, S, 3) uint8, the world's layout
        picture = torch.from_numpy(rendered).permute(0, 3, 1, 2)  # (1, 3, S, S) uint8, the course's layout
        feats = vqa.extract_features(self.encoder, picture)
        name = f"new scene {self._drawn}"
        self._add(name, picture[0], feats["global"][0], feats["grid"][0], scene.describe(0))
        with self.quiet():  # one redraw, for the new scene, below
            self.scene.options = list(self.pictures)
            self.scene.value = name
        return self.redraw()

    def encoder_size(self) -> int:
        """Image side the picked scenes have (new scenes are drawn the same size)."""
        return int(next(iter(self.pictures.values())).shape[-1])

    def answer(self, scene: str, question: str, model: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Answer probabilities ``(A,)`` and, for an attention model, its weights ``(glimpses, L)``."""
        net = self.models[model]
        global_vec, grid = self.inputs[scene]  # (G,), (L, D)
        tokens, lengths = self.vocabulary.encode_batch([question])  # (1, T), (1,)
        if int(lengths[0]) == 0:
            tokens, lengths = torch.full((1, 1), self.vocabulary.unk_id), torch.ones(1, dtype=torch.long)  # (1, 1), (1,)
        dev = next(net.parameters()).device
        net.eval()
        with torch.no_grad():
            inputs = [tokens.to(dev), lengths, global_vec[None].to(dev)]  # (1, T), (1,), (1, G)
            if isinstance(net, vqa.AttentionVQA):
                inputs.append(grid[None].to(dev))  # (1, L, D)
            probs = net(*inputs).softmax(1)[0].cpu()  # (A,)
        attention = net.last_attention[0].cpu() if isinstance(net, vqa.AttentionVQA) else None  # (glimpses, L)
        return probs, attention

    def _picture(self, scene: str, attention: torch.Tensor | None, title: str) -> bytes:
        panels = 2 + (0 if attention is None else len(attention))
        fig = new_figure(2.4 * panels + 1.2, 2.6, dpi=self.dpi)
        axes = fig.subplots(1, panels, gridspec_kw={"width_ratios": [1] * (panels - 1) + [1.6]})
        picture = to_pixels(self.pictures[scene])  # (S, S, 3) for imshow
        axes[0].imshow(picture)
        axes[0].set_title(scene, fontsize=9)
        if attention is not None:
            for k, alpha in enumerate(attention):  # alpha: (L,)
                ax = axes[1 + k]
                overlay(ax, picture, alpha, smooth=False, cmap="magma", opacity=0.6)
                ax.set_title(f"glimpse {k + 1}", fontsize=9)
        for ax in axes[:-1]:
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[-1]
        names = [a for a, _ in self.top][::-1]
        values = [p for _, p in self.top][::-1]
        ax.barh(names, values, color=["0.7"] * (len(values) - 1) + ["tab:blue"])
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        return png_bytes(fig)

    def redraw(self) -> str:
        """Answer the question about the scene with the model; redraw; return the status line."""
        start = time.perf_counter()
        scene, question, model = self.scene.value, self.question.value.strip(), self.model.value
        if not question:
            self.top = []
            line = f"{scene} | {model}: type a question and press Enter"
        else:
            probs, attention = self.answer(scene, question, model)
            best = probs.topk(self.top_k)
            self.top = [(self.answers[int(j)], float(p)) for p, j in zip(best.values, best.indices)]
            answer, p = self.top[0]
            line = f'{scene} | {model}: "{question}" -> {answer} ({p:.0%})'
            unknown = self.vocabulary.unknown_words(question)
            if unknown:
                line += " | not in the vocabulary (read as <unk>): " + ", ".join(repr(w) for w in unknown)
            self.image.value = self._picture(scene, attention, f"top {self.top_k} answers")
        self.seconds = time.perf_counter() - start
        return self.set_status(line, [self.descriptions[scene]])
