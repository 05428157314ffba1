"""PyTorch datasets of the course world, with train / validation / test splits.

Every dataset is generated once and then read from the course cache (``data/cache/``),
keyed by its configuration and the generators' versions. The splits never share a
scene or a person: each split draws from its own seed (:func:`split_seed`).

- :class:`SceneData`: images with every ground truth (objects, boxes, masks, tags) and
  the scenes' captions, questions and recipes; the other scene datasets wrap one.
- :class:`CaptionDataset`: (image, caption) pairs, one per caption.
- :class:`QuestionDataset`: (image, question, answer) triples.
- :class:`RecipeDataset`: (image, recipe text, category) per scene.
- :class:`AudioVisualDataset`: (image, sound clip, which objects sound and where).
- :class:`VoiceFaceDataset`: (face, voice) pairs of the same person, with the attributes.

Items are dicts of tensors (images float (3, S, S) in [0, 1]). Texts have different
lengths, so batch them with :func:`collate`, which pads with 0 (``<pad>``)::

    loader = DataLoader(CaptionDataset("train", 2000), batch_size=64, shuffle=True, collate_fn=collate)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..cache import cached
from .catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES, SIZES
from .language import (
    GRAMMAR_VERSION,
    QUESTION_TYPES,
    Question,
    Recipe,
    answer_vocabulary,
    captions,
    questions,
    recipes,
)
from .scenes import GENERATOR_VERSION, SceneBatch, render, sample_scenes
from .sound import scene_clips
from .speakers import render_faces, sample_people, synthesize_voices
from .vocab import course_vocabulary

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""The dataset splits, in the order used by :func:`split_seed`."""

TAGS: tuple[str, ...] = (*COLOUR_NAMES, *SHAPES, *SIZES, *SCENE_TYPES)
"""The tag vocabulary of :attr:`SceneData.tags`: every colour, shape, size and scene type."""

_RENDER_CHUNK = 2000  # scenes rendered at once while building (bounds memory)
_SCENE_FIELDS = ("scene_type", "n_objects", "shape", "colour", "size", "x", "y", "radius", "sounding", "variation")


# ----------------------------------------------------------------------------------------
# Splits, arguments and batching
# ----------------------------------------------------------------------------------------


def split_seed(split: str, seed: int = 0) -> int:
    """The generator seed of ``split``: ``len(SPLITS) * seed + SPLITS.index(split)``.

    Different (seed, split) pairs never get the same seed, so the splits of one dataset,
    and the datasets of different base seeds, draw different scenes and people.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return len(SPLITS) * int(seed) + SPLITS.index(split)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def collate(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch a list of item dicts: stack tensors, pad 1-D tensors of different lengths with 0.

    Strings become lists of strings. A padded text comes with its item's ``length``
    (already in every text item), so a model can ignore the padding.
    """
    if not batch:
        raise ValueError("batch must not be empty")
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        first = values[0]
        if isinstance(first, torch.Tensor):
            if all(v.shape == first.shape for v in values):
                out[key] = torch.stack(values)  # (B, ...)
            elif all(v.dim() == 1 for v in values):
                longest = max(len(v) for v in values)
                padded = first.new_zeros((len(values), longest))  # (B, T) zeros = <pad>
                for b, v in enumerate(values):
                    padded[b, : len(v)] = v
                out[key] = padded
            else:
                raise ValueError(f"cannot batch {key!r}: shapes {[tuple(v.shape) for v in values]}")
        elif isinstance(first, (bool, int, float)):
            out[key] = torch.tensor(values)  # (B,)
        else:
            out[key] = values
    return out


def _image(images: torch.Tensor, i: int) -> torch.Tensor:
    """uint8 (3, S, S) from the store -> float32 (3, S, S) in [0, 1]."""
    return images[i].float().div_(255.0)  # (3, S, S)


def _unpack(packed: torch.Tensor, i: int, size: int) -> torch.Tensor:
    """Bit-packed masks (K, S, S/8) -> bool (K, S, S)."""
    bits = np.unpackbits(packed[i].numpy(), axis=-1, count=size)  # (K, S, S)
    return torch.from_numpy(bits.astype(bool))  # (K, S, S)


# ----------------------------------------------------------------------------------------
# Scenes with all their ground truth and texts
# ----------------------------------------------------------------------------------------


def _build_scene_data(cfg: dict[str, Any], verbose: bool) -> dict[str, Any]:
    """Generate everything :class:`SceneData` stores (tensors, lists and strings only)."""
    seed, size = cfg["split_seed"], cfg["size"]
    scenes = sample_scenes(
        cfg["n"],
        seed=seed,
        min_objects=cfg["min_objects"],
        max_objects=cfg["max_objects"],
        max_overlap=cfg["max_overlap"],
        exclude=[tuple(p) for p in cfg["exclude"]] or None,
        scene_types=cfg["scene_types"],
        sounding_fraction=cfg["sounding_fraction"],
    )
    images, boxes, masks, visible = [], [], [], []
    for start in range(0, len(scenes), _RENDER_CHUNK):
        r = render(scenes[start : start + _RENDER_CHUNK], size=size)
        images.append(torch.from_numpy(r.images).permute(0, 3, 1, 2).contiguous())  # (c, 3, S, S) uint8
        boxes.append(torch.from_numpy(r.boxes))  # (c, K, 4)
        masks.append(torch.from_numpy(np.packbits(r.masks, axis=-1)))  # (c, K, S, S/8)
        visible.append(torch.from_numpy(np.packbits(r.visible, axis=-1)))  # (c, K, S, S/8)
    data: dict[str, Any] = {
        "scenes": {name: torch.from_numpy(np.ascontiguousarray(getattr(scenes, name))) for name in _SCENE_FIELDS},
        "images": torch.cat(images),  # (N, 3, S, S) uint8
        "boxes": torch.cat(boxes),  # (N, K, 4)
        "masks": torch.cat(masks),  # (N, K, S, S/8) packed bits
        "visible": torch.cat(visible),  # (N, K, S, S/8)
        "captions": [],
        "questions": {"scene": torch.zeros(0, dtype=torch.long), "type": [], "text": [], "answer": []},
        "recipes": {"title": [], "ingredients": [], "steps": [], "category": torch.zeros(0, dtype=torch.long), "order": []},
    }
    if cfg["text"]:
        data["captions"] = captions(scenes, n_per_scene=cfg["captions_per_scene"], seed=seed)
        qs = questions(scenes, per_scene=cfg["questions_per_scene"], seed=seed, types=cfg["question_types"], skew=cfg["skew"])
        data["questions"] = {
            "scene": torch.tensor([q.scene for q in qs], dtype=torch.long),
            "type": [q.type for q in qs],
            "text": [q.text for q in qs],
            "answer": [q.answer for q in qs],
        }
        rs = recipes(scenes, seed=seed)
        data["recipes"] = {
            "title": [r.title for r in rs],
            "ingredients": [list(r.ingredients) for r in rs],
            "steps": [list(r.steps) for r in rs],
            "category": torch.tensor([r.category for r in rs], dtype=torch.long),
            "order": [list(r.order) for r in rs],
        }
    return data


class SceneData(Dataset):
    """``n`` rendered scenes of one split with all their ground truth.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: number of scenes.
        size: image side (32, 64 or 128).
        seed: base seed; each split draws from :func:`split_seed` ``(split, seed)``.
        min_objects, max_objects, max_overlap, exclude, scene_types, sounding_fraction:
            as in :func:`~mmcourse.world.scenes.sample_scenes`.
        text: also make the captions, questions and recipes.
        captions_per_scene, questions_per_scene, question_types, skew: as in
            :func:`~mmcourse.world.language.captions` / ``questions``.
        verbose: say when the data is being built.

    Attributes:
        scenes: the :class:`~mmcourse.world.scenes.SceneBatch`.
        images: uint8 tensor (N, 3, S, S); ``boxes`` float (N, K, 4); ``tags`` float (N, len(TAGS)).
        captions: ``captions[i]`` the list of captions of scene ``i``.
        questions: list of :class:`~mmcourse.world.language.Question`.
        recipes: list of :class:`~mmcourse.world.language.Recipe`.

    An item is a dict: ``image`` float (3, S, S), ``scene_type``, ``n_objects``, ``shape``,
    ``colour``, ``size`` (K,) (-1 padding), ``sounding`` (K,), ``boxes`` (K, 4), ``masks``
    and ``visible`` (K, S, S) bool, ``tags`` (len(TAGS),) and ``index``.
    """

    def __init__(
        self,
        split: str = "train",
        n: int = 1000,
        size: int = 64,
        seed: int = 0,
        *,
        min_objects: int = 1,
        max_objects: int = 4,
        max_overlap: float = 0.25,
        exclude: Iterable[tuple[str, str]] | None = None,
        scene_types: Iterable[str] | None = None,
        sounding_fraction: float = 0.5,
        text: bool = True,
        captions_per_scene: int = 5,
        questions_per_scene: int = 3,
        question_types: Iterable[str] | None = None,
        skew: float = 0.0,
        verbose: bool = True,
    ) -> None:
        self.split = split
        self.seed = split_seed(split, seed)
        n = _positive("n", n)
        if isinstance(size, bool) or size not in (32, 64, 128):
            raise ValueError(f"size must be one of (32, 64, 128), got {size!r}")
        if question_types is None:
            question_types = QUESTION_TYPES
        if exclude is not None:
            exclude = [tuple(p) if isinstance(p, (list, tuple)) else p for p in exclude]
        if scene_types is not None:
            scene_types = [scene_types] if isinstance(scene_types, str) else list(scene_types)
        # check the scene arguments now (one cheap draw) rather than inside the cached build
        sample_scenes(1, seed=self.seed, min_objects=min_objects, max_objects=max_objects, max_overlap=max_overlap,
                      exclude=exclude, scene_types=scene_types, sounding_fraction=sounding_fraction)
        self.config = {
            "generator": GENERATOR_VERSION,
            "grammar": GRAMMAR_VERSION if text else None,
            "split": split,
            "split_seed": self.seed,
            "n": n,
            "size": int(size),
            "min_objects": int(min_objects),
            "max_objects": int(max_objects),
            "max_overlap": float(max_overlap),
            "exclude": sorted(list(p) for p in exclude) if exclude else [],
            "scene_types": scene_types,
            "sounding_fraction": float(sounding_fraction),
            "text": bool(text),
            "captions_per_scene": _positive("captions_per_scene", captions_per_scene),
            "questions_per_scene": _positive("questions_per_scene", questions_per_scene),
            "question_types": list(question_types),
            "skew": float(skew),
        }
        data = cached("world-scenes", self.config, lambda: _build_scene_data(self.config, verbose), verbose=verbose)
        self.size = int(size)
        self.scenes = SceneBatch(**{name: data["scenes"][name].numpy() for name in _SCENE_FIELDS})
        self.images: torch.Tensor = data["images"]  # (N, 3, S, S) uint8
        self.boxes: torch.Tensor = data["boxes"]  # (N, K, 4)
        self._masks: torch.Tensor = data["masks"]  # (N, K, S, S/8) packed
        self._visible: torch.Tensor = data["visible"]  # (N, K, S, S/8) packed
        self.captions: list[list[str]] = data["captions"]
        self.questions = _questions_from(data["questions"])
        self.recipes = _recipes_from(data["recipes"])
        self.tags = _tags(self.scenes)  # (N, len(TAGS))

    def __len__(self) -> int:
        return len(self.scenes)

    def masks(self, i: int) -> torch.Tensor:
        """Masks of scene ``i``'s objects: bool (K, S, S)."""
        return _unpack(self._masks, i, self.size)

    def visible(self, i: int) -> torch.Tensor:
        """Visible parts of scene ``i``'s objects: bool (K, S, S)."""
        return _unpack(self._visible, i, self.size)

    def image(self, i: int) -> torch.Tensor:
        """Scene ``i``'s image: float (3, S, S) in [0, 1]."""
        return _image(self.images, i)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.scenes
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} scenes")
        i = int(i) % len(self)
        return {
            "image": self.image(i),  # (3, S, S)
            "scene_type": torch.tensor(s.scene_type[i]),
            "n_objects": torch.tensor(s.n_objects[i]),
            "shape": torch.from_numpy(s.shape[i]),  # (K,)
            "colour": torch.from_numpy(s.colour[i]),  # (K,)
            "size": torch.from_numpy(s.size[i]),  # (K,)
            "sounding": torch.from_numpy(s.sounding[i]),  # (K,)
            "boxes": self.boxes[i],  # (K, 4)
            "masks": self.masks(i),  # (K, S, S)
            "visible": self.visible(i),  # (K, S, S)
            "tags": self.tags[i],  # (T,)
            "index": torch.tensor(i),
        }

    def __repr__(self) -> str:
        return f"SceneData({self.split!r}, n={len(self)}, size={self.size}, seed={self.seed})"


def _questions_from(stored: dict[str, Any]) -> list:
    return [
        Question(scene=int(sc), type=t, text=x, answer=a)
        for sc, t, x, a in zip(stored["scene"].tolist(), stored["type"], stored["text"], stored["answer"])
    ]


def _recipes_from(stored: dict[str, Any]) -> list:
    if not stored["title"]:
        return []

    return [
        Recipe(scene=i, title=t, ingredients=list(ing), steps=list(st), category=int(c), order=list(o))
        for i, (t, ing, st, c, o) in enumerate(
            zip(stored["title"], stored["ingredients"], stored["steps"], stored["category"].tolist(), stored["order"])
        )
    ]


def _tags(scenes: SceneBatch) -> torch.Tensor:
    """Multi-hot tags of every scene over :data:`TAGS`: float (N, len(TAGS))."""
    n, k = scenes.shape.shape
    valid = np.arange(k)[None, :] < scenes.n_objects[:, None]  # (N, K)
    tags = np.zeros((n, len(TAGS)), np.float32)  # (N, T)
    rows = np.repeat(np.arange(n), k).reshape(n, k)[valid]  # (M,) scene of each object
    offset = 0
    for values, count in ((scenes.colour, len(COLOUR_NAMES)), (scenes.shape, len(SHAPES)), (scenes.size, len(SIZES))):
        tags[rows, offset + values[valid]] = 1.0
        offset += count
    tags[np.arange(n), offset + scenes.scene_type] = 1.0
    return torch.from_numpy(tags)


# ----------------------------------------------------------------------------------------
# Text datasets
# ----------------------------------------------------------------------------------------


def _vocabulary(vocabulary: Any) -> Any:
    if vocabulary is not None:
        return vocabulary

    return course_vocabulary()


class CaptionDataset(Dataset):
    """(image, caption) pairs: every caption of every scene is one item.

    Extra keyword arguments go to :class:`SceneData` (e.g. ``captions_per_scene``).
    An item: ``image`` (3, S, S), ``caption`` LongTensor (T,) ``<start> ... <end>``,
    ``length``, ``scene`` (index into :attr:`data`) and ``text``. Batch with :func:`collate`.
    """

    def __init__(self, split: str = "train", n: int = 1000, size: int = 64, seed: int = 0, *,
                 vocabulary: Any = None, **scene_kwargs: Any) -> None:
        self.data = SceneData(split, n, size, seed, text=True, **scene_kwargs)
        self.vocabulary = _vocabulary(vocabulary)
        self.per_scene = self.data.config["captions_per_scene"]
        self.texts = [c for caps in self.data.captions for c in caps]
        self.tokens = [torch.tensor(self.vocabulary.encode(t, add_start_end=True)) for t in self.texts]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> dict[str, Any]:
        scene = i // self.per_scene
        return {
            "image": self.data.image(scene),  # (3, S, S)
            "caption": self.tokens[i],  # (T,)
            "length": torch.tensor(len(self.tokens[i])),
            "scene": torch.tensor(scene),
            "text": self.texts[i],
        }


class QuestionDataset(Dataset):
    """(image, question, answer) triples for visual question answering.

    Extra keyword arguments go to :class:`SceneData` (e.g. ``questions_per_scene``,
    ``question_types``, ``skew``). An item: ``image``, ``question`` LongTensor (T,),
    ``length``, ``answer`` (index into :attr:`answers`, the answer vocabulary), ``type``
    (index into :attr:`types`), ``scene``, ``text`` and ``answer_text``.
    """

    def __init__(self, split: str = "train", n: int = 1000, size: int = 64, seed: int = 0, *,
                 vocabulary: Any = None, **scene_kwargs: Any) -> None:
        self.data = SceneData(split, n, size, seed, text=True, **scene_kwargs)
        self.vocabulary = _vocabulary(vocabulary)
        self.answers: list[str] = answer_vocabulary()
        self.types: tuple[str, ...] = QUESTION_TYPES
        self.questions = self.data.questions
        self.tokens = [torch.tensor(self.vocabulary.encode(q.text)) for q in self.questions]
        answer_index = {a: j for j, a in enumerate(self.answers)}
        self.answer_ids = torch.tensor([answer_index[q.answer] for q in self.questions], dtype=torch.long)  # (Q,)
        self.type_ids = torch.tensor([self.types.index(q.type) for q in self.questions], dtype=torch.long)  # (Q,)

    def __len__(self) -> int:
        return len(self.questions)

    def __getitem__(self, i: int) -> dict[str, Any]:
        q = self.questions[i]
        return {
            "image": self.data.image(q.scene),  # (3, S, S)
            "question": self.tokens[i],  # (T,)
            "length": torch.tensor(len(self.tokens[i])),
            "answer": self.answer_ids[i],
            "type": self.type_ids[i],
            "scene": torch.tensor(q.scene),
            "text": q.text,
            "answer_text": q.answer,
        }


def recipe_text(recipe: Any) -> str:
    """A recipe as one text: its ingredients, then its steps, joined by commas."""
    return ", ".join([*recipe.ingredients, *recipe.steps])


class RecipeDataset(Dataset):
    """(image, recipe) pairs for joint embedding; one per scene.

    An item: ``image``, ``recipe`` LongTensor (T,) of :func:`recipe_text` (ingredients,
    then the ordered steps), ``length``, ``n_steps``, ``category`` (index into
    ``RECIPE_CATEGORIES``), ``scene`` and ``text``.
    """

    def __init__(self, split: str = "train", n: int = 1000, size: int = 64, seed: int = 0, *,
                 vocabulary: Any = None, **scene_kwargs: Any) -> None:
        self.data = SceneData(split, n, size, seed, text=True, **scene_kwargs)
        self.vocabulary = _vocabulary(vocabulary)
        self.recipes = self.data.recipes
        self.texts = [recipe_text(r) for r in self.recipes]
        self.tokens = [torch.tensor(self.vocabulary.encode(t)) for t in self.texts]

    def __len__(self) -> int:
        return len(self.recipes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.recipes[i]
        return {
            "image": self.data.image(i),  # (3, S, S)
            "recipe": self.tokens[i],  # (T,)
            "length": torch.tensor(len(self.tokens[i])),
            "n_steps": torch.tensor(len(r.steps)),
            "category": torch.tensor(r.category),
            "scene": torch.tensor(i),
            "text": self.texts[i],
        }


# ----------------------------------------------------------------------------------------
# Sound
# ----------------------------------------------------------------------------------------


class AudioVisualDataset(Dataset):
    """Scene images with the sound clip of each scene (its sounding objects over its ambience).

    Extra keyword arguments go to :class:`SceneData` (e.g. ``sounding_fraction``).
    An item: ``image`` (3, S, S), ``audio`` float (T,), ``sounding`` bool (K,),
    ``shape`` (K,), ``scene_type``, ``masks`` and ``visible`` (K, S, S), ``sound_mask``
    (S, S) — the visible pixels of the sounding objects, where the sound comes from —
    and ``index``.
    """

    def __init__(self, split: str = "train", n: int = 1000, size: int = 64, seed: int = 0, *,
                 sample_rate: int = 16000, duration: float = 1.0, verbose: bool = True, **scene_kwargs: Any) -> None:
        self.data = SceneData(split, n, size, seed, text=False, verbose=verbose, **scene_kwargs)
        self.sample_rate = _positive("sample_rate", sample_rate)
        config = {"scenes": self.data.config, "sample_rate": self.sample_rate, "duration": float(duration)}

        def build() -> torch.Tensor:
            clips = scene_clips(self.data.scenes, sample_rate=self.sample_rate, duration=duration, seed=self.data.seed)
            return torch.from_numpy(np.round(np.clip(clips, -1, 1) * 32767).astype(np.int16))  # (N, T) 16-bit

        self.clips: torch.Tensor = cached("world-clips", config, build, verbose=verbose)  # (N, T) int16

    def __len__(self) -> int:
        return len(self.data)

    def audio(self, i: int) -> torch.Tensor:
        """Scene ``i``'s clip: float (T,) in [-1, 1]."""
        return self.clips[i].float().div_(32767.0)  # (T,)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.data.scenes
        visible = self.data.visible(i)  # (K, S, S)
        sounding = torch.from_numpy(s.sounding[i])  # (K,)
        return {
            "image": self.data.image(i),  # (3, S, S)
            "audio": self.audio(i),  # (T,)
            "sounding": sounding,  # (K,)
            "shape": torch.from_numpy(s.shape[i]),  # (K,)
            "scene_type": torch.tensor(s.scene_type[i]),
            "masks": self.data.masks(i),  # (K, S, S)
            "visible": visible,  # (K, S, S)
            "sound_mask": (visible & sounding[:, None, None]).any(0),  # (S, S)
            "index": torch.tensor(i),
        }


# ----------------------------------------------------------------------------------------
# Speakers
# ----------------------------------------------------------------------------------------

ATTRIBUTES: tuple[str, ...] = ("sex", "age", "build", "hair", "hairstyle", "skin", "glasses")
"""The person attributes in a :class:`VoiceFaceDataset` item's ``attributes`` vector, in order."""


class VoiceFaceDataset(Dataset):
    """Faces and voices of ``n_people`` people; an item pairs a face with a voice of the same person.

    Item ``i`` is face ``i % faces_per_person`` of person ``i // faces_per_person`` with
    that person's voice number ``i % voices_per_person``: ``face`` (3, S, S), ``voice``
    float (T,), ``person``, ``attributes`` LongTensor over :data:`ATTRIBUTES`,
    ``pitch_hz`` and ``tract_cm``. The people of different splits are different people.
    """

    def __init__(self, split: str = "train", n_people: int = 200, size: int = 64, seed: int = 0, *,
                 faces_per_person: int = 4, voices_per_person: int = 3, sample_rate: int = 16000,
                 duration: float = 1.5, verbose: bool = True) -> None:
        self.split = split
        self.seed = split_seed(split, seed)
        n_people = _positive("n_people", n_people)
        self.faces_per_person = _positive("faces_per_person", faces_per_person)
        self.voices_per_person = _positive("voices_per_person", voices_per_person)
        self.sample_rate = _positive("sample_rate", sample_rate)
        self.size = _positive("size", size)
        self.config = {
            "generator": GENERATOR_VERSION,
            "split": split,
            "split_seed": self.seed,
            "n_people": n_people,
            "size": self.size,
            "faces_per_person": self.faces_per_person,
            "voices_per_person": self.voices_per_person,
            "sample_rate": self.sample_rate,
            "duration": float(duration),
        }
        self.people = sample_people(n_people, seed=self.seed)

        def build() -> dict[str, torch.Tensor]:
            faces = render_faces(self.people, per_person=self.faces_per_person, size=self.size, seed=self.seed)
            voices = synthesize_voices(self.people, per_person=self.voices_per_person, sample_rate=self.sample_rate,
                                       duration=duration, seed=self.seed)
            return {
                "faces": torch.from_numpy(faces).permute(0, 1, 4, 2, 3).contiguous(),  # (N, M, 3, S, S) uint8
                "voices": torch.from_numpy(np.round(np.clip(voices, -1, 1) * 32767).astype(np.int16)),  # (N, V, T)
            }

        data = cached("world-voice-faces", self.config, build, verbose=verbose)
        self.faces: torch.Tensor = data["faces"]  # (N, M, 3, S, S) uint8
        self.voices: torch.Tensor = data["voices"]  # (N, V, T) int16
        self.attributes = torch.from_numpy(
            np.stack([np.asarray(getattr(self.people, a), np.int64) for a in ATTRIBUTES], 1)
        )  # (N, A)

    def __len__(self) -> int:
        return len(self.people) * self.faces_per_person

    def face(self, person: int, j: int) -> torch.Tensor:
        """Face image ``j`` of ``person``: float (3, S, S) in [0, 1]."""
        return self.faces[person, j].float().div_(255.0)  # (3, S, S)

    def voice(self, person: int, j: int) -> torch.Tensor:
        """Utterance ``j`` of ``person``: float (T,) in [-1, 1]."""
        return self.voices[person, j].float().div_(32767.0)  # (T,)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} items")
        person, j = divmod(int(i), self.faces_per_person)
        return {
            "face": self.face(person, j),  # (3, S, S)
            "voice": self.voice(person, j % self.voices_per_person),  # (T,)
            "person": torch.tensor(person),
            "attributes": self.attributes[person],  # (A,)
            "pitch_hz": torch.tensor(float(self.people.pitch_hz[person])),
            "tract_cm": torch.tensor(float(self.people.tract_cm[person])),
        }

    def __repr__(self) -> str:
        return f"VoiceFaceDataset({self.split!r}, n_people={len(self.people)}, size={self.size}, seed={self.seed})"
