"""The course's one tokenizer.

Every text of the world (captions, questions, recipes) and every text model reads words
through :func:`tokenize`. It lives in a module of its own because both the grammar
(:mod:`mmcourse.world.language`, which lists the words it can produce) and the vocabulary
(:mod:`mmcourse.world.vocab`, built from that list) need it: each imports it from here,
and the vocabulary imports the grammar, never the other way round.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"<(?:pad|start|end|unk)>|[a-z0-9]+|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case words; punctuation becomes its own token.

    >>> tokenize("What colour is the Star?")
    ['what', 'colour', 'is', 'the', 'star', '?']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())
