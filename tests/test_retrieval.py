"""Retrieval metrics: ranks, medR, R@K, the bag protocol, and their exercise checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcourse import checks, retrieval


def test_ranks_by_hand():
    sim = torch.tensor([[0.9, 0.1, 0.2], [0.8, 0.3, 0.5], [0.2, 0.9, 0.4]])
    assert retrieval.ranks(sim).tolist() == [1, 3, 2]
    assert retrieval.ranks(sim.T).tolist() == [1, 2, 2]


def test_ties_count_against_the_query():
    assert retrieval.ranks(torch.ones(5, 5)).tolist() == [5] * 5


def test_median_and_recall():
    rank = torch.tensor([1, 3, 2, 10])
    assert retrieval.median_rank(rank) == 2.5
    assert retrieval.recall_at_k(rank, 1) == 0.25
    assert retrieval.recall_at_k(rank, 3) == 0.75
    assert retrieval.recall_at_k(rank, 10) == 1.0


def test_rank_metrics_perfect_and_reversed():
    n = 20
    sim = torch.eye(n)
    assert retrieval.rank_metrics(sim) == {"medR": 1.0, "R@1": 1.0, "R@5": 1.0, "R@10": 1.0}
    worst = retrieval.rank_metrics(-torch.eye(n))
    assert worst["medR"] == n and worst["R@10"] == 0.0


def test_bag_metrics_random_embeddings_are_at_chance():
    gen = torch.Generator().manual_seed(0)
    q, v = torch.randn(400, 16, generator=gen), torch.randn(400, 16, generator=gen)
    out = retrieval.bag_metrics(q, v, bag_size=200, n_bags=5)
    for direction in ("query→item", "item→query"):
        assert 70 < out[direction]["medR"] < 130  # about 100 of 200
        assert out[direction]["R@10"] < 0.15
    same = retrieval.bag_metrics(q, q + 0.01 * torch.randn(400, 16, generator=gen), bag_size=200, n_bags=2)
    assert same["query→item"]["medR"] == 1.0


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(3, 4), "square"),
    (torch.zeros(3), "square"),
    ([[1.0]], "tensor"),
    (torch.tensor([[float("nan")]]), "NaN"),
])
def test_bad_similarity_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        retrieval.rank_metrics(bad)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="ks"):
        retrieval.rank_metrics(torch.eye(3), ks=(0,))
    with pytest.raises(ValueError, match="bag_size"):
        retrieval.bag_metrics(torch.zeros(5, 2), torch.zeros(5, 2), bag_size=6)
    with pytest.raises(ValueError, match="queries and items"):
        retrieval.bag_metrics(torch.zeros(5, 2), torch.zeros(4, 2), bag_size=2)


# ---- exercise checks: the reference passes, typical mistakes are named, a placeholder is "not implemented"

def _ranks0(sim, ks):
    out = retrieval.rank_metrics(sim, ks)
    out["medR"] = retrieval.median_rank(retrieval.ranks(sim) - 1)
    return out


def _unimplemented(*args):
    raise NotImplementedError


def test_check_rank_metrics_passes_the_reference():
    assert checks.run("r", retrieval.check_rank_metrics, retrieval.rank_metrics).status == "passed"


@pytest.mark.parametrize("wrong, words", [
    (_ranks0, "start at 0"),
    (lambda sim, ks: retrieval.rank_metrics(sim.T, ks), "columns"),
    (lambda sim, ks: retrieval.rank_metrics(-sim, ks), "ascending"),
    (lambda sim, ks: retrieval.rank_metrics(sim, ks) | {"medR": float(retrieval.ranks(sim).float().median())},
     "torch.median"),
])
def test_check_rank_metrics_names_the_mistake(wrong, words):
    result = checks.run("r", retrieval.check_rank_metrics, wrong)
    assert result.status == "failed" and words in result.message


def test_check_rank_metrics_placeholder():
    assert checks.run("r", retrieval.check_rank_metrics, _unimplemented).status == "not implemented"


def test_check_recall_at_k():
    def reference(sim, k):
        return retrieval.recall_at_k(retrieval.ranks(sim), k)

    assert checks.run("r", retrieval.check_recall_at_k, reference).status == "passed"
    strict = checks.run("r", retrieval.check_recall_at_k, lambda sim, k: float((retrieval.ranks(sim) < k).float().mean()))
    assert strict.status == "failed" and "rank <= k" in strict.message
    count = checks.run("r", retrieval.check_recall_at_k, lambda sim, k: float((retrieval.ranks(sim) <= k).sum()))
    assert count.status == "failed" and "fraction" in count.message
    assert checks.run("r", retrieval.check_recall_at_k, _unimplemented).status == "not implemented"
