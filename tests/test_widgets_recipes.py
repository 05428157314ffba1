"""The recipe explorer of lesson 03, without a browser: every control changes what is shown."""

from __future__ import annotations

import pytest
import torch

from mmcourse import recipes as rc
from mmcourse.encoders import GridEncoder
from mmcourse.widgets import RecipeExplorer
from mmcourse.word2vec import random_word_vectors
from mmcourse.world.language import grammar_words


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    table = rc.WordTable(random_word_vectors([w for w in grammar_words() if w.isalnum()], dim=16, seed=0))
    encoder = GridEncoder(dim=64, width=8).eval()  # untrained: the tests check the plumbing
    data = rc.pair_data("test", 12, 7, table, encoder, max_overlap=0.5)
    models = {name: rc.build_model(kind, table, dim=16, hidden=16).eval() for name, kind in (("ordered", "ordered"), ("bag", "bag"))}
    return models, data, encoder, table


def test_explorer_searches_reorders_and_reverses(parts):
    models, data, encoder, table = parts
    ex = RecipeExplorer(models, data, encoder, table, choices=6)
    first = ex.line
    assert first.startswith("recipe 0, order as written | ordered: its own dish is #") and len(ex.top) == 5
    assert ex.image.value and "its own recipe" in ex.reverse.value
    ex.recipe.value = 1
    assert ex.line.startswith("recipe 1") and ex.steps.value == "\n".join(data.texts[1].steps)
    n_objects = len(data.texts[1].steps) - 1
    if n_objects >= 2:
        ex.order.value = " ".join(str(k) for k in [2, 1] + list(range(3, n_objects + 1)))
        assert "order 2 1" in ex.line
    ex.order.value = "9 9"
    assert "order must name each object step" in ex.line
    ex.order.value = ""
    ex.model.value = "bag"
    assert "| bag:" in ex.line
    before = ex.reverse.value
    ex.dish.value = 3
    assert ex.reverse.value != before and "dish 3 | bag" in ex.reverse.value
    ex.steps.value = ""
    assert "steps is empty" in ex.line
