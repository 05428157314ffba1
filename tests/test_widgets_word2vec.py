"""The neighbour explorer of lesson 01, without a browser: both controls change the status lines."""

from __future__ import annotations

import pytest
import torch

from mmcourse.widgets import NeighbourExplorer
from mmcourse.word2vec import WordVectors

WORDS = ["star", "circle", "red", "blue", "beach", "3d", "big"]
COUNTS = [50, 40, 30, 30, 20, 60, 10]


def _vectors(seed: int) -> WordVectors:
    return WordVectors(WORDS, torch.randn(len(WORDS), 6, generator=torch.Generator().manual_seed(seed)), COUNTS)


@pytest.fixture
def spaces() -> dict[str, WordVectors]:
    return {"joined": _vectors(0), "sentence": _vectors(1), "scene": _vectors(2)}


def test_word_and_vectors_change_the_neighbours(spaces):
    ex = NeighbourExplorer(spaces, word="star", k=3)
    assert list(ex.word.options) == ["star", "circle", "blue", "red", "beach", "big"]  # by count, alphabetic only
    assert ex.line == "nearest to 'star' (joined vectors):"
    first = ex.status.outputs[0]["text"]
    assert first.count("\n") == 4  # the line and 3 neighbours
    ex.word.value = "red"
    assert ex.line == "nearest to 'red' (joined vectors):"
    ex.vectors.value = "scene"
    assert ex.line == "nearest to 'red' (scene vectors):"
    best, sim = spaces["scene"].nearest("red", 1)[0]
    assert f"  {best:<10} {sim:+.3f}" in ex.status.outputs[0]["text"]


def test_bad_input(spaces):
    with pytest.raises(ValueError, match="spaces must hold"):
        NeighbourExplorer({})
    with pytest.raises(ValueError, match=r"spaces\['joined'\] must be WordVectors"):
        NeighbourExplorer({"joined": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match="word must be"):
        NeighbourExplorer(spaces, word="3d")
    with pytest.raises(ValueError, match="k must be"):
        NeighbourExplorer(spaces, k=0)
