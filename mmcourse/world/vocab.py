"""One tokenizer and one vocabulary for the whole course.

Every text model of the course (word2vec, the caption decoder, the VQA question encoder,
the recipe encoder, the text-conditioned GAN) reads words through the same tokenizer
(:func:`tokenize`, from :mod:`mmcourse.world.tokens`) and the same :class:`Vocabulary`, so a word has the same id in every lesson. The vocabulary is built
deterministically from the grammar of :mod:`mmcourse.world.language` — every word a
caption, question, answer or recipe can contain — and stored in the course cache.

The four special tokens come first, with fixed ids::

    <pad> = 0   padding in a batch
    <start> = 1 first input of a decoder
    <end> = 2   the decoder says "done"
    <unk> = 3   any word the vocabulary does not know (never an error)

Example::

    >>> vocab = course_vocabulary()
    >>> vocab.encode("a red star on the beach")
    [...]
    >>> vocab.unknown_words("a crimson star")
    ['crimson']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..cache import cached
from .language import GRAMMAR_VERSION, grammar_words
from .tokens import tokenize

SPECIALS: tuple[str, ...] = ("<pad>", "<start>", "<end>", "<unk>")
"""Special tokens; their ids are 0, 1, 2, 3."""

PAD, START, END, UNK = 0, 1, 2, 3

_SPACE_BEFORE_PUNCT = re.compile(r" ([?,.!;:])")


def _tokens_of(text: str | Sequence[str], name: str = "text") -> list[str]:
    """``text`` as tokens: a string is tokenized, a list of strings is taken as tokens."""
    if isinstance(text, str):
        return tokenize(text)
    if isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
        return [t.lower() for t in text]
    raise TypeError(f"{name} must be a str or a list of token strings, got {type(text).__name__}")


class Vocabulary:
    """A fixed word <-> id mapping with the four :data:`SPECIALS` at ids 0..3.

    Attributes:
        itos: list of tokens; ``itos[i]`` is the token of id ``i``.
        stoi: dict token -> id.

    Unknown words map to ``<unk>`` (id 3); :meth:`unknown_words` lists them.
    """

    def __init__(self, words: Iterable[str]) -> None:
        if isinstance(words, str):
            raise TypeError("words must be an iterable of word strings, not one str")
        itos: list[str] = list(SPECIALS)
        seen = set(itos)
        for word in words:
            if not isinstance(word, str) or not word:
                raise TypeError(f"words must be non-empty strings, got {word!r}")
            if word not in seen:
                seen.add(word)
                itos.append(word)
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {' '.join(self.itos[:8])} ...)"

    @property
    def pad_id(self) -> int:
        return PAD

    @property
    def start_id(self) -> int:
        return START

    @property
    def end_id(self) -> int:
        return END

    @property
    def unk_id(self) -> int:
        return UNK

    def encode(self, text: str | Sequence[str], add_start_end: bool = False) -> list[int]:
        """Token ids of ``text`` (a string, or a list of tokens); unknown words -> ``<unk>``."""
        ids = [self.stoi.get(token, UNK) for token in _tokens_of(text)]
        return [START, *ids, END] if add_start_end else ids

    def decode(self, ids: Sequence[int] | np.ndarray | torch.Tensor, strip_specials: bool = True) -> str:
        """Text of ``ids``. With ``strip_specials`` it stops at the first ``<end>`` and drops
        ``<pad>`` and ``<start>`` (``<unk>`` stays visible); punctuation is re-attached."""
        if isinstance(ids, torch.Tensor):
            ids = ids.detach().cpu().reshape(-1).tolist()
        elif isinstance(ids, np.ndarray):
            ids = ids.reshape(-1).tolist()
        words = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(self.itos):
                raise ValueError(f"ids must be integers in 0..{len(self.itos) - 1}, got {i!r}")
            i = int(i)
            if strip_specials:
                if i == END:
                    break
                if i in (PAD, START):
                    continue
            words.append(self.itos[i])
        return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(words))

    def unknown_words(self, text: str | Sequence[str]) -> list[str]:
        """The words of ``text`` this vocabulary does not know, each once, in order of appearance."""
        unknown: list[str] = []
        for token in _tokens_of(text):
            if token not in self.stoi and token not in unknown:
                unknown.append(token)
        return unknown

    def encode_batch(
        self,
        texts: Sequence[str],
        max_len: int | None = None,
        add_start_end: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a batch of texts, padded with ``<pad>`` (0) to a common length.

        With ``max_len`` every row is cut to at most ``max_len`` tokens (the ``<end>`` of a
        cut sentence is lost) and padded to exactly ``max_len``; otherwise to the longest.

        Returns ``(tokens, lengths)``: ``tokens`` LongTensor (B, T), ``lengths`` LongTensor (B,)
        holding each row's number of real tokens.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}")
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1):
            raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
        rows = [self.encode(t, add_start_end=add_start_end) for t in texts]
        if max_len is not None:
            rows = [r[:max_len] for r in rows]
        width = max_len if max_len is not None else max((len(r) for r in rows), default=0)
        tokens = torch.full((len(rows), width), PAD, dtype=torch.long)  # (B, T)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # (B,)
        for b, row in enumerate(rows):
            if row:
                tokens[b, : len(row)] = torch.tensor(row, dtype=torch.long)  # (len,)
        return tokens, lengths

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for the cache or JSON)."""
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping) or "itos" not in data:
            raise ValueError("data must be a dict with an 'itos' list, as written by Vocabulary.to_dict()")
        itos = list(data["itos"])
        if tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"data['itos'] must start with the special tokens {SPECIALS}")
        if len(set(itos)) != len(itos):
            raise ValueError("data['itos'] must not repeat a token")
        return cls(itos[len(SPECIALS):])


def course_vocabulary(verbose: bool = False) -> Vocabulary:
    """The course's vocabulary: the specials, then every word of the world's grammar, sorted.

    Deterministic; stored in the course cache (keyed by the grammar's version and word
    list), so every lesson reads the same ids.
    """
    words = grammar_words()
    digest = hashlib.sha256(" ".join(words).encode()).hexdigest()[:16]
    config = {"grammar_version": GRAMMAR_VERSION, "n_words": len(words), "words_sha": digest}
    data = cached("course_vocabulary", config, lambda: Vocabulary(words).to_dict(), verbose=verbose)
    return Vocabulary.from_dict(data)
