"""The neighbour explorer of lesson 01: a word and its nearest neighbours.

    explorer = NeighbourExplorer({"joined": word_vectors, "sentence": sentence_vectors,
                                  "scene": scene_vectors}, word="star")
    explorer            # a word menu, a choice of vectors, the neighbours as status lines

Pick a word (the menu lists the frequent words first) and a set of vectors; the status
lines list its nearest neighbours with their cosine similarities and a bar, e.g.
``  circle     +0.812  ################``.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets

from ..word2vec import WordVectors
from .base import Explorer


class NeighbourExplorer(Explorer):
    """Controls ``word`` (a menu) and ``vectors`` (which set of vectors); a status line
    ``nearest to 'star' (joined vectors):`` followed by the ``k`` nearest words.

    Args:
        spaces: display name -> :class:`~mmcourse.word2vec.WordVectors`, e.g. the joined,
            sentence and scene vectors. The menu offers the alphabetic words every set knows,
            most frequent (in the first set) first.
        word: the word shown first.
        k: how many neighbours to list.
    """

    def __init__(self, spaces: Mapping[str, WordVectors], word: str = "star", k: int = 8) -> None:
        super().__init__()
        if not spaces:
            raise ValueError("spaces must hold at least one (name -> WordVectors) entry")
        for name, vectors in spaces.items():
            if not isinstance(vectors, WordVectors):
                raise ValueError(f"spaces[{name!r}] must be WordVectors, got {type(vectors).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.spaces = {str(name): vectors for name, vectors in spaces.items()}
        first = next(iter(self.spaces.values()))
        by_count = sorted(first.words, key=lambda w: (-first.counts[first.index[w]], w))
        choices = [w for w in by_count if w.isalpha() and all(w in v for v in self.spaces.values())]
        if word not in choices:
            raise ValueError(f"word must be an alphabetic word every set of vectors knows, e.g. {choices[:5]}; "
                             f"got {word!r}")
        self.k = k
        self.word = widgets.Dropdown(options=choices, value=word, description="word")
        self.vectors = widgets.ToggleButtons(options=list(self.spaces), description="vectors")
        self.watch([self.word, self.vectors], self.show)
        self.widget = widgets.VBox([widgets.HBox([self.word, self.vectors]), self.status])
        self.run(self.show)

    def show(self) -> str:
        """List the neighbours of the chosen word in the chosen vectors; return the status line."""
        word, space = self.word.value, self.vectors.value
        lines = [f"  {other:<10} {sim:+.3f}  " + "#" * max(0, int(round(sim * 20)))
                 for other, sim in self.spaces[space].nearest(word, self.k)]
        return self.set_status(f"nearest to '{word}' ({space} vectors):", lines)
