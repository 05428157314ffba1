"""Text-generation metrics of the course: corpus BLEU (Papineni et al. 2002).

BLEU compares generated sentences with *all* the reference sentences of their image:

- the **modified n-gram precision** ``p_n``: each n-gram of a hypothesis counts as correct
  at most as many times as it occurs in the reference that holds it most often ("the the
  the" does not score 3/3 against "the cat"); counts are summed over the whole corpus
  before dividing;
- the **brevity penalty** ``BP = exp(1 - r / c)`` when the corpus of hypotheses is shorter
  (``c`` words) than the references (``r``: for each hypothesis, the length of the
  reference closest to it, the shorter one on a tie), else 1;
- ``BLEU-N = BP * exp(mean_{n=1..N} log p_n)``, the geometric mean of ``p_1 .. p_N``;
  it is 0 when some ``p_n`` is 0 (no smoothing, as in the original definition).

Sentences may be given as strings (split on white space) or as lists of tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]


def _tokens(sentence: str | Tokens, name: str) -> list[str]:
    if isinstance(sentence, str):
        return sentence.split()
    if isinstance(sentence, Sequence) and all(isinstance(t, str) for t in sentence):
        return list(sentence)
    raise TypeError(f"{name} must be a string or a list of token strings, got {type(sentence).__name__}")


def ngrams(tokens: Tokens, n: int) -> Counter:
    """Counts of the ``n``-grams of a token list, as tuples: ``ngrams("a b a".split(), 1)``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_statistics(
    hypotheses: Sequence[str | Tokens], references: Sequence[Sequence[str | Tokens]], max_n: int = 4
) -> dict[str, list[int] | int]:
    """The sufficient statistics of corpus BLEU.

    Returns ``{"matches": [m_1..m_N], "totals": [t_1..t_N], "hyp_len": c, "ref_len": r}``
    where ``m_n`` is the clipped count of matching n-grams and ``t_n`` the number of
    n-grams of the hypotheses, both summed over the corpus.
    """
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError(f"hypotheses must be a list of sentences, got {type(hypotheses).__name__}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError(f"references must be a list (one per hypothesis) of lists of sentences, got {type(references).__name__}")
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses and references must have the same length, got {len(hypotheses)} and {len(references)}")
    if not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n must be a positive integer, got {max_n!r}")
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        h = _tokens(hyp, f"hypotheses[{i}]")
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0:
            raise ValueError(f"references[{i}] must be a non-empty list of reference sentences, got {refs!r}")
        rs = [_tokens(r, f"references[{i}]") for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, shorter on a tie
        for n in range(1, max_n + 1):
            counts = ngrams(h, n)
            best: Counter = Counter()
            for r in rs:
                best |= ngrams(r, n)  # max count of each n-gram over the references
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    return {"matches": matches, "totals": totals, "hyp_len": hyp_len, "ref_len": ref_len}


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """``exp(1 - r/c)`` if the hypotheses are shorter than the references, else 1 (0 for no words)."""
    if hyp_len <= 0:
        return 0.0
    return 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)


def corpus_bleu(
    hypotheses: Sequence[str | Tokens], references: Sequence[Sequence[str | Tokens]], max_n: int = 4
) -> dict[str, float]:
    """Corpus BLEU-1 .. BLEU-``max_n``: ``{"bleu1": ..., ..., "bleu4": ...}`` in [0, 1].

    Args:
        hypotheses: one generated sentence per image (a string or a list of tokens).
        references: for each image, the list of its reference sentences (all of them).
        max_n: the longest n-gram (4 for BLEU-4).
    """
    stats = bleu_statistics(hypotheses, references, max_n)
    bp = brevity_penalty(stats["hyp_len"], stats["ref_len"])
    out, log_sum = {}, 0.0
    for n in range(1, max_n + 1):
        m, t = stats["matches"][n - 1], stats["totals"][n - 1]
        log_sum = log_sum + (math.log(m / t) if m > 0 and t > 0 else -math.inf)
        out[f"bleu{n}"] = bp * math.exp(log_sum / n) if log_sum > -math.inf else 0.0
    return out
