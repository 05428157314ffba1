"""The tag explorer of lesson 02, without a browser: query, check box and slider change the status lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse import devise as dv
from mmcourse.widgets import ImageTagsExplorer, TagExplorer, TagSearchExplorer
from mmcourse.widgets.tagging import image_row
from mmcourse.word2vec import WordVectors
from mmcourse.world import render, sample_scenes

N = 6


@pytest.fixture(scope="module")
def parts():
    scenes = sample_scenes(N, seed=0)
    g = torch.Generator().manual_seed(0)
    data = dv.TaggingData(torch.randn(N, 4, 8, generator=g), dv.tag_labels(scenes), scenes,
                          render(scenes, size=32).images)  # features (N, L, C), labels (N, T), images (N, S, S, 3)
    words = [*dv.LABEL_WORDS, "sparkle"]
    vectors = WordVectors(words, torch.randn(len(words), 8, generator=g))
    torch.manual_seed(0)
    model = dv.DeViSE(8, 8).eval()
    return model, data, vectors, dv.tag_targets(vectors), dv.seen_mask()


def test_query_and_label_words_change_the_ranking(parts):
    model, data, vectors, targets, seen = parts
    ex = TagSearchExplorer(model, data, vectors, query="purple star", k=3)
    assert ex.line == "query 'purple star' (raw word vectors): the 3 nearest test images"
    assert ex.status.outputs[0]["text"].count("\n") == 4 and ex.picture.value[:4] == b"\x89PNG"
    ex.label_space.value = True
    assert ex.line == "query 'purple star' (read through the label words): the 3 nearest test images"
    ex.query.value = "crimson sparkle"
    assert ex.line == "unknown words (the word vectors never saw them): crimson"
    assert "query 'sparkle' (read through the label words)" in ex.status.outputs[0]["text"]
    ex.query.value = "zzz"
    assert "no known word left" in ex.status.outputs[0]["text"] and ex.picture.value == b""


def test_slider_shows_the_tags_of_each_image(parts):
    model, data, vectors, targets, seen = parts
    scores = dv.score_images(model, data.features, targets)  # (N, T)
    ex = ImageTagsExplorer(data, scores, seen, image=1)
    assert ex.line.startswith("image 1: true tags ")
    ex.image.value = 4
    assert ex.line.startswith("image 4: true tags ")
    k = int(data.labels[4].sum())
    text = ex.status.outputs[0]["text"]
    assert f"top {k + 2} tags" in text and text.count("✓") + text.count("✗") == k + 2 + 2  # + the legend's two
    assert ex.picture.value[:4] == b"\x89PNG"


def test_both_views_together(parts):
    model, data, vectors, targets, seen = parts
    ex = TagExplorer(model, data, vectors, targets, seen, query="star", image=2, k=2)
    assert ex.search.line.startswith("query 'star'") and ex.tags.line.startswith("image 2:")
    ex.search.query.value = "red"
    ex.tags.image.value = 3
    assert ex.search.line.startswith("query 'red'") and ex.tags.line.startswith("image 3:")
    assert len(ex.widget.children) == 4


def test_image_row():
    images = np.zeros((3, 4, 4, 3), np.uint8)
    row = image_row(images, gap=2)
    assert row.shape == (4, 3 * 4 + 2 * 2, 3) and (row[:, 4:6] == 255).all() and (row[:, :4] == 0).all()
    assert image_row(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)).shape == (4, 11, 3)


def test_bad_input(parts):
    model, data, vectors, targets, seen = parts
    scores = dv.score_images(model, data.features, targets)  # (N, T)
    with pytest.raises(ValueError, match="data must be"):
        TagSearchExplorer(model, "data", vectors)
    with pytest.raises(ValueError, match="word_vectors must be"):
        TagSearchExplorer(model, data, {"star": torch.zeros(8)})
    with pytest.raises(ValueError, match="k must be"):
        TagSearchExplorer(model, data, vectors, k=N + 1)
    with pytest.raises(ValueError, match="scores must be"):
        ImageTagsExplorer(data, scores[:, :3], seen)
    with pytest.raises(ValueError, match="seen must be"):
        ImageTagsExplorer(data, scores, seen.float())
    with pytest.raises(ValueError, match="image must be"):
        ImageTagsExplorer(data, scores, seen, image=N)
    with pytest.raises(ValueError, match="targets must be"):
        TagExplorer(model, data, vectors, targets[:, :4], seen, k=2)
