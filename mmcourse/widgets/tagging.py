"""The tag explorer of lesson 02: tags -> images and image -> tags with a trained DeViSE.

    explorer = TagExplorer(devise, test, word_vectors, targets, seen, image=examples[0])
    explorer            # two views, one under the other

- **tags -> images** (:class:`TagSearchExplorer`): type a query (``query``, read on Enter)
  and see the nearest images with their scores; tick ``read through the label words`` to
  replace each query word by a mix of the label words (ConSE) instead of its raw vector.
- **image -> tags** (:class:`ImageTagsExplorer`): move the ``image`` slider and see the
  image's best-scoring tags, each marked true or false.

Each view has its own status lines.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display
from torch import nn

from .. import devise as dv
from ..word2vec import WordVectors
from .base import Explorer, png_bytes, to_pixels


def image_row(images: np.ndarray | torch.Tensor, gap: int = 3) -> np.ndarray:
    """uint8 images ``(n, S, S, 3)`` (or a tensor ``(n, 3, S, S)``) side by side, ``gap`` white
    pixels apart: ``(S, n*S + (n-1)*gap, 3)``."""
    images = to_pixels(images)  # (n, S, S, 3)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be uint8 (n, S, S, 3) with n >= 1, got shape {images.shape}")
    white = np.full((images.shape[1], gap, 3), 255, np.uint8)  # (S, gap, 3)
    return np.concatenate([x for img in images for x in (img, white)][:-1], axis=1)  # (S, n*S + gaps, 3)


def tag_names(labels_row: torch.Tensor) -> str:
    """The tags marked in one row of labels ``(T,)``, comma-separated."""
    return ", ".join(dv.tags_of(labels_row))


def _validate_data(data: Any) -> None:
    n_tags = len(dv.TAGS)
    if not isinstance(data, dv.TaggingData) or len(data) == 0:
        raise ValueError(f"data must be a non-empty TaggingData (from devise.tagging_data), got {type(data).__name__}")
    if tuple(data.labels.shape) != (len(data), n_tags) or len(data.images) != len(data):
        raise ValueError(f"data must hold labels (N, {n_tags}) and images (N, S, S, 3) for its N = {len(data)} "
                         f"images, got labels {tuple(data.labels.shape)} and {len(data.images)} images")


class TagSearchExplorer(Explorer):
    """Controls ``query`` (a text box, read on Enter) and ``read through the label words`` (a
    check box); the ``k`` best-scoring images in a row; status lines that rank them.

    Args:
        model: a trained :class:`~mmcourse.devise.DeViSE` (images -> word space).
        data: the test images with their features and labels (:func:`~mmcourse.devise.tagging_data`).
        word_vectors: the word vectors the model was trained against.
        query: the first query.
        k: how many images to show.
        zoom: how many times the pictures are enlarged.
    """

    def __init__(self, model: nn.Module, data: dv.TaggingData, word_vectors: WordVectors,
                 query: str = "purple star", k: int = 8, zoom: int = 2) -> None:
        super().__init__()
        _validate_data(data)
        if not isinstance(word_vectors, WordVectors):
            raise ValueError(f"word_vectors must be WordVectors, got {type(word_vectors).__name__}")
        if not isinstance(query, str):
            raise ValueError(f"query must be a str, got {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(data):
            raise ValueError(f"k must be an integer between 1 and {len(data)} (the number of images), got {k!r}")
        self.model, self.data, self.word_vectors, self.k, self.zoom = model, data, word_vectors, k, zoom
        self.query = widgets.Text(value=query, description="query", continuous_update=False)
        self.label_space = widgets.Checkbox(value=False, description="read through the label words")
        self.picture = widgets.Image(format="png")
        self.watch([self.query, self.label_space], self.search)
        self.widget = widgets.VBox([self.query, self.label_space, self.picture, self.status])
        self.run(self.search)

    def search(self) -> str:
        """Rank the images by their score for the query; show the best ``k``; return the status line."""
        vector, known, unknown = dv.parse_query(self.word_vectors, self.query.value)  # (D,) or None
        if vector is not None and self.label_space.value:
            vector = dv.label_space_vector(self.word_vectors, known)  # (D,) each word as a mix of label words
        lines = []
        if unknown:
            lines.append("unknown words (the word vectors never saw them): " + ", ".join(unknown))
        if vector is None:
            lines.append("no known word left to search with - try colours, shapes, their synonyms or scene types")
            self.picture.value = b""
        else:
            s = dv.score_images(self.model, self.data.features, vector[None])[:, 0]  # (N,)
            top = s.topk(self.k).indices.tolist()
            how = "read through the label words" if self.label_space.value else "raw word vectors"
            lines.append(f"query '{' '.join(known)}' ({how}): the {self.k} nearest test images")
            lines += [f"  {r + 1}. image {i:4d}  score {float(s[i]):+.3f}  ({tag_names(self.data.labels[i])})"
                      for r, i in enumerate(top)]
            self.picture.value = png_bytes(image_row(self.data.images[top]), zoom=self.zoom)  # (S, 8S + gaps, 3)
        return self.set_status(lines[0], lines[1:])


class ImageTagsExplorer(Explorer):
    """Control ``image`` (a slider); the image and, as status lines, its true tags and its
    ``k + 2`` best-scoring tags (``k`` = its number of true tags), each marked true or false.

    Args:
        data: the test images with their labels (:func:`~mmcourse.devise.tagging_data`).
        scores: ``(N, T)`` score of every image for every tag (:func:`~mmcourse.devise.score_images`).
        seen: ``(T,)`` bool, False for the tags held out in training (they are marked).
        image: the image shown first.
        zoom: how many times the picture is enlarged.
    """

    def __init__(self, data: dv.TaggingData, scores: torch.Tensor, seen: torch.Tensor, image: int = 0,
                 zoom: int = 3) -> None:
        super().__init__()
        _validate_data(data)
        n, n_tags = len(data), len(dv.TAGS)
        if not torch.is_tensor(scores) or tuple(scores.shape) != (n, n_tags):
            raise ValueError(f"scores must be a tensor (N, T) = ({n}, {n_tags}), "
                             f"got {getattr(scores, 'shape', scores)!r}")
        if not torch.is_tensor(seen) or seen.dtype != torch.bool or tuple(seen.shape) != (n_tags,):
            raise ValueError(f"seen must be a bool tensor ({n_tags},) (devise.seen_mask()), "
                             f"got {getattr(seen, 'shape', seen)!r}")
        if isinstance(image, bool) or not isinstance(image, int) or not 0 <= image < n:
            raise ValueError(f"image must be an index in 0..{n - 1}, got {image!r}")
        self.data, self.scores, self.seen, self.zoom = data, scores, seen, zoom
        self.image = widgets.IntSlider(value=image, min=0, max=n - 1, description="image")
        self.picture = widgets.Image(format="png")
        self.watch([self.image], self.show)
        self.widget = widgets.VBox([self.image, widgets.HBox([self.picture, self.status])])
        self.run(self.show)

    def show(self) -> str:
        """Show the chosen image and its best tags; return the status line."""
        i = int(self.image.value)
        s = self.scores[i]  # (T,)
        labels = self.data.labels[i]  # (T,)
        k = int(labels.sum())
        lines = [f"top {k + 2} tags (✓ true, ✗ false):"]
        for j in s.topk(min(k + 2, len(s))).indices.tolist():
            lines.append(f"  {'✓' if labels[j] else '✗'} {dv.TAGS[j]:<16} {float(s[j]):+.3f}"
                         + ("   (held out in training)" if not self.seen[j] else ""))
        self.picture.value = png_bytes(to_pixels(self.data.images[i]), zoom=self.zoom)  # (S, S, 3)
        return self.set_status(f"image {i}: true tags {tag_names(labels)}", lines)


class TagExplorer:
    """Both views of a trained tagger, one under the other: :class:`TagSearchExplorer`
    (``search``, tags -> images) and :class:`ImageTagsExplorer` (``tags``, image -> tags).

    Args:
        model: a trained :class:`~mmcourse.devise.DeViSE`.
        data: the test images with their features and labels.
        word_vectors: the word vectors the model was trained against.
        targets: ``(T, D)`` tag targets (:func:`~mmcourse.devise.tag_targets`) the image view scores against.
        seen: ``(T,)`` bool, False for the tags held out in training.
        query: the first query.
        image: the image shown first.
        k: how many images a query shows.
    """

    def __init__(self, model: nn.Module, data: dv.TaggingData, word_vectors: WordVectors, targets: torch.Tensor,
                 seen: torch.Tensor, query: str = "purple star", image: int = 0, k: int = 8) -> None:
        self.search = TagSearchExplorer(model, data, word_vectors, query=query, k=k)  # checks data, word_vectors
        if not torch.is_tensor(targets) or tuple(targets.shape) != (len(dv.TAGS), word_vectors.dim):
            raise ValueError(f"targets must be a tensor (T, D) = ({len(dv.TAGS)}, {word_vectors.dim}) "
                             f"(devise.tag_targets), got {getattr(targets, 'shape', targets)!r}")
        scores = dv.score_images(model, data.features, targets)  # (N, T)
        self.tags = ImageTagsExplorer(data, scores, seen, image=image)
        self.widget = widgets.VBox([widgets.HTML("<b>tags → images</b>"), self.search.widget,
                                    widgets.HTML("<b>image → tags</b>"), self.tags.widget])

    def _ipython_display_(self) -> None:
        display(self.widget)
