"""Cross-modal retrieval metrics: the rank of the true match, median rank, recall at K.

Lessons 03 (recipes and dishes) and 09 (voices and faces) score a joint embedding the way
the papers do: embed ``N`` queries of one modality and ``N`` items of the other, where query
``i``'s true match is item ``i``; compare every query with every item (a similarity matrix,
higher = more alike); read off where the true match lands in each query's ranking.

- :func:`ranks` — the 1-based rank of each query's true match.
- :func:`median_rank` (medR) and :func:`recall_at_k` (R@K) — the two summaries papers report.
- :func:`rank_metrics` — medR and R@K for several K at once, from a similarity matrix.
- :func:`bag_metrics` — the im2recipe protocol: the same, averaged over random bags of ``bag_size``
  pairs drawn from a larger test set (so numbers from test sets of different sizes compare).
- :func:`check_rank_metrics`, :func:`check_recall_at_k` — exercise checks.

Ties count against the query: a match tied with another item is ranked below it, so a model
that gives every item the same score ranks every match last, never first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from . import checks

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


def validate_similarity(sim: Any, name: str = "sim") -> torch.Tensor:
    """``sim`` as a float tensor: square ``(N, N)``, N >= 1, all finite; else a ``ValueError``."""
    if isinstance(sim, np.ndarray):
        sim = torch.from_numpy(sim)
    if not isinstance(sim, torch.Tensor):
        raise ValueError(f"{name} must be a square (N, N) tensor of similarities, got {type(sim).__name__}")
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 1:
        raise ValueError(
            f"{name} must be a square (N, N) tensor (query i's match is item i), got shape {tuple(sim.shape)}"
        )
    sim = sim.detach().float()  # (N, N)
    if not torch.isfinite(sim).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return sim


def _validate_ks(ks: Any, n: int) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (int(ks),)
    if not isinstance(ks, Sequence) or not ks:
        raise ValueError(f"ks must be a non-empty sequence of positive ints, got {ks!r}")
    out = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"ks must hold positive ints, got {k!r}")
        out.append(int(k))
    return tuple(out)


def ranks(sim: torch.Tensor) -> torch.Tensor:
    """The 1-based rank of query ``i``'s true match (item ``i``) among all items.

    ``sim[i, j]`` is how alike query ``i`` and item ``j`` are (higher = more alike). The rank
    is 1 + the number of other items scoring at least as high as the match (ties count
    against the query). Returns ``(N,)`` int64.
    """
    sim = validate_similarity(sim)  # (N, N)
    n = sim.shape[0]
    match = sim.diagonal().unsqueeze(1)  # (N, 1)
    others = ~torch.eye(n, dtype=torch.bool, device=sim.device)  # (N, N)
    return 1 + ((sim >= match) & others).sum(dim=1)  # (N,)


def median_rank(rank: torch.Tensor) -> float:
    """medR: the median of 1-based ranks (the mean of the two middle ones for an even count)."""
    rank = torch.as_tensor(rank).float().flatten()  # (N,)
    if rank.numel() == 0:
        raise ValueError("rank must hold at least one rank")
    return float(np.median(rank.cpu().numpy()))


def recall_at_k(rank: torch.Tensor, k: int) -> float:
    """R@K: the fraction of queries whose true match ranks in the top ``k`` (rank <= k)."""
    (k,) = _validate_ks(k, 0)
    rank = torch.as_tensor(rank).flatten()  # (N,)
    if rank.numel() == 0:
        raise ValueError("rank must hold at least one rank")
    return float((rank <= k).float().mean())


def rank_metrics(sim: torch.Tensor, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """``{"medR": ..., "R@1": ..., "R@5": ..., ...}`` for queries along the rows of ``sim``.

    ``sim`` is ``(N, N)``: query ``i`` (row) against item ``j`` (column); the match is the
    diagonal. For the other direction, pass ``sim.T``.
    """
    sim = validate_similarity(sim)  # (N, N)
    ks = _validate_ks(ks, sim.shape[0])
    rank = ranks(sim)  # (N,)
    out = {"medR": median_rank(rank)}
    out.update({f"R@{k}": recall_at_k(rank, k) for k in ks})
    return out


def bag_metrics(
    queries: torch.Tensor,
    items: torch.Tensor,
    bag_size: int = 1000,
    n_bags: int = 10,
    seed: int = 0,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, float]]:
    """The im2recipe protocol: :func:`rank_metrics` on ``n_bags`` random bags of ``bag_size`` pairs.

    ``queries`` ``(N, D)`` and ``items`` ``(N, D)`` are paired row by row (row ``i`` of each is
    one pair); similarity is the cosine. Returns ``{"query→item": {...}, "item→query": {...}}``,
    each the mean over bags of medR and R@K.
    """
    if not isinstance(queries, torch.Tensor) or not isinstance(items, torch.Tensor):
        raise ValueError("queries and items must be (N, D) tensors")
    if queries.dim() != 2 or items.shape != queries.shape:
        raise ValueError(
            f"queries and items must be (N, D) tensors of one shape, got {tuple(queries.shape)} and {tuple(items.shape)}"
        )
    n = queries.shape[0]
    if isinstance(bag_size, bool) or not isinstance(bag_size, int) or not 1 <= bag_size <= n:
        raise ValueError(f"bag_size must be an int in 1..{n} (the number of pairs), got {bag_size!r}")
    if isinstance(n_bags, bool) or not isinstance(n_bags, int) or n_bags < 1:
        raise ValueError(f"n_bags must be a positive int, got {n_bags!r}")
    ks = _validate_ks(ks, bag_size)
    q = F.normalize(queries.detach().float(), dim=1)  # (N, D)
    v = F.normalize(items.detach().float(), dim=1)  # (N, D)
    rng = np.random.default_rng(seed)
    totals: dict[str, dict[str, float]] = {"query→item": {}, "item→query": {}}
    for _ in range(n_bags):
        idx = torch.from_numpy(rng.choice(n, size=bag_size, replace=False))  # (bag,)
        sim = q[idx] @ v[idx].T  # (bag, bag)
        for direction, s in (("query→item", sim), ("item→query", sim.T)):
            for key, value in rank_metrics(s, ks).items():
                totals[direction][key] = totals[direction].get(key, 0.0) + value / n_bags
    return totals


# ---------------------------------------------------------------------------------------
# Exercise checks
# ---------------------------------------------------------------------------------------

def _fixed_matrices() -> list[torch.Tensor]:
    """Similarity matrices with known answers: ranks spread out, a tie, a non-symmetric one."""
    a = torch.tensor([
        [0.9, 0.1, 0.2, 0.0],
        [0.8, 0.3, 0.1, 0.5],
        [0.2, 0.9, 0.4, 0.6],
        [0.1, 0.2, 0.3, 0.7],
    ])  # ranks 1, 3, 3, 1 along rows; columns differ
    tie = torch.tensor([
        [0.5, 0.5, 0.1],
        [0.2, 0.6, 0.1],
        [0.3, 0.1, 0.3],
    ])  # rows 0 and 2 tie with another item: ranks 2, 1, 2
    gen = torch.Generator().manual_seed(3)
    rand = torch.randn(12, 12, generator=gen)  # (12, 12)
    return [a, tie, rand]


def _metrics_as_dict(got: Any, name: str) -> dict[str, float]:
    if not isinstance(got, dict):
        raise checks.CheckFailed(f"{name}: expected a dict like {{'medR': 2.0, 'R@1': 0.5, ...}}, got {type(got).__name__}")
    try:
        return {key: float(value) for key, value in got.items()}
    except (TypeError, ValueError):
        raise checks.CheckFailed(f"{name}: every value must be one number, got {got!r}") from None


def _wrong_medR_zero_based(sim: torch.Tensor, ks: Sequence[int]) -> dict[str, float]:
    return {"medR": median_rank(ranks(sim) - 1)}


def _wrong_medR_mean(sim: torch.Tensor, ks: Sequence[int]) -> dict[str, float]:
    return {"medR": float(ranks(sim).float().mean())}


def _wrong_medR_lower_middle(sim: torch.Tensor, ks: Sequence[int]) -> dict[str, float]:
    return {"medR": float(ranks(sim).float().median())}  # torch.median: the lower of the two middle values


RANK_METRIC_MISTAKES = {
    "ranks start at 0: the best possible rank is 1": _wrong_medR_zero_based,
    "you ranked the columns (items as queries); queries are the rows, sim[i, j] = query i vs item j":
        lambda sim, ks: rank_metrics(sim.T, ks),
    "you sorted ascending: a higher similarity must rank first": lambda sim, ks: rank_metrics(-sim, ks),
    "medR is the median rank, not the mean": _wrong_medR_mean,
    "for an even number of queries medR is the mean of the two middle ranks (as np.median gives); "
    "torch.median returns the lower one": _wrong_medR_lower_middle,
}


def check_rank_metrics(fn: Any) -> dict[str, float]:
    """Exercise check: ``fn(sim, ks)`` must return :func:`rank_metrics` on fixed matrices.

    Names the usual mistakes (those whose answers match on every fixed matrix): 0-based
    ranks, ranking the columns instead of the rows, sorting ascending (treating similarity
    as a distance), a mean instead of a median, the lower middle rank (``torch.median``)
    instead of the mean of the two middle ranks.
    """
    ks = (1, 2, 5)
    cases = _fixed_matrices()
    got = []
    for i, sim in enumerate(cases):
        name = f"matrix {i} ({sim.shape[0]}x{sim.shape[0]})"
        out = _metrics_as_dict(fn(sim.clone(), ks), name)
        missing = [key for key in rank_metrics(sim, ks) if key not in out]
        if missing:
            raise checks.CheckFailed(f"{name}: the result lacks {missing}; expected keys {list(rank_metrics(sim, ks))}")
        got.append(out)

    def agrees(answer: Any) -> bool:
        return all(
            all(abs(g.get(key, np.nan) - value) < 1e-6 for key, value in answer(sim, ks).items())
            for g, sim in zip(got, cases)
        )

    if agrees(rank_metrics):
        return rank_metrics(cases[0], ks)
    for mistake, wrong in RANK_METRIC_MISTAKES.items():
        if agrees(wrong):
            raise checks.CheckFailed(mistake)
    for i, (g, sim) in enumerate(zip(got, cases)):
        want = rank_metrics(sim, ks)
        if any(abs(g[key] - value) >= 1e-6 for key, value in want.items()):
            shown = {key: round(value, 4) for key, value in g.items()}
            expect = {key: round(value, 4) for key, value in want.items()}
            raise checks.CheckFailed(f"matrix {i} ({sim.shape[0]}x{sim.shape[0]}): got {shown}, expected {expect}")
    raise AssertionError("unreachable")  # pragma: no cover


RECALL_MISTAKES = {
    "a match ranked exactly k is inside the top k (rank <= k)": lambda sim, k: float((ranks(sim) < k).float().mean()),
    "R@K is a fraction of queries, not a count": lambda sim, k: float((ranks(sim) <= k).sum()),
    "you ranked the columns (items as queries); queries are the rows": lambda sim, k: recall_at_k(ranks(sim.T), k),
    "you sorted ascending: a higher similarity must rank first": lambda sim, k: recall_at_k(ranks(-sim), k),
}


def check_recall_at_k(fn: Any) -> float:
    """Exercise check: ``fn(sim, k)`` must return R@K (rows are queries, the match on the diagonal)."""
    cases = [(i, sim, k) for i, sim in enumerate(_fixed_matrices()) for k in (1, 2, 5)]
    got = []
    for i, sim, k in cases:
        try:
            got.append(float(fn(sim.clone(), k)))
        except (TypeError, ValueError):
            raise checks.CheckFailed(f"matrix {i}, k={k}: expected one number (a fraction of queries)") from None

    def agrees(answer: Any) -> bool:
        return all(abs(g - answer(sim, k)) < 1e-6 for g, (_, sim, k) in zip(got, cases))

    def reference(sim: torch.Tensor, k: int) -> float:
        return recall_at_k(ranks(sim), k)

    if agrees(reference):
        return reference(_fixed_matrices()[0], 1)
    for mistake, wrong in RECALL_MISTAKES.items():
        if agrees(wrong):
            raise checks.CheckFailed(mistake)
    for g, (i, sim, k) in zip(got, cases):
        if abs(g - reference(sim, k)) >= 1e-6:
            raise checks.CheckFailed(f"matrix {i} ({sim.shape[0]}x{sim.shape[0]}), k={k}: got {g:.4f}, expected {reference(sim, k):.4f}")
    raise AssertionError("unreachable")  # pragma: no cover
