"""Show, Attend and Tell (Xu et al. 2015): image captioning with soft attention.

The pieces of lesson 04:

- :class:`SoftAttention` — the MLP attention ``f_att(a_i, h)``: a score per annotation
  vector, a softmax over the ``L`` cells, and the weighted sum (the *context vector*).
- :class:`ShowAttendTell` — the LSTM decoder (an ``nn.LSTMCell``). Its state starts from the
  mean annotation vector; everything it does for one word is in :meth:`ShowAttendTell.step`:
  read the previous word, look (:meth:`ShowAttendTell.look`, optionally gating the context with
  the paper's scalar ``beta``), update the LSTM, and score the next word with the *deep output
  layer* ``p(y_t) ~ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t))``. Teacher forcing and decoding
  call the same step in a loop. The variants differ by a flag:

  * ``attention="soft", query="previous"`` — the paper: the attention query is
    ``h_{t-1}``, the state *before* the previous word is read, and the context enters the LSTM;
  * ``attention="soft", query="updated"`` — the spatial attention of Lu et al. 2017
    ("Knowing When to Look"): the LSTM first reads the previous word (and the mean
    annotation), then ``h_t`` attends; the context only enters the output layer;
  * ``attention="none"`` — the baseline of Show and Tell: the same decoder, fed the
    mean-pooled annotation at every step instead of an attended context.

- :func:`caption_loss` — teacher-forced cross-entropy that ignores padding, plus the
  doubly stochastic regularisation :func:`doubly_stochastic`.
- :func:`greedy_decode` and :func:`beam_search` (one step: :func:`beam_search_step`),
  both returning the attention map of every generated word.
- :func:`caption_data` — held-out scenes with their references, boxes and the frozen
  encoder's annotations (computed once, cached); :class:`CaptionBatches` batches them, and
  :func:`train_captioner` trains a decoder for a fixed number of epochs (and caches it).
- :func:`pointing` — does the attention peak of a word that names a shape or a colour lie
  in the box of an object with that shape or colour? (Real datasets cannot check this.)
  :func:`word_hits` and :func:`repeated_peaks` look at single captions and at repetitions.
- :func:`caption_images` — the user-facing API: images in, captions and attention out.
- ``check_*`` — the automatic checks of the lesson's exercises (soft attention, the doubly
  stochastic term, one beam-search step); the lesson's figures are in
  :mod:`mmcourse.captioning_figures`.

Shapes: ``B`` batch, ``L`` cells (64 = 8x8), ``D`` annotation size, ``T`` caption steps,
``V`` vocabulary size, ``H`` LSTM state, ``E`` word embedding, ``A`` attention MLP width,
``K`` beam width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import cache, checks, encoders
from .metrics import corpus_bleu
from .runtime import device as default_device, seed_everything
from .training import train
from .world.catalog import COLOUR_NAMES, SHAPES
from .world.language import SHAPE_WORDS, plural
from .world.datasets import CaptionDataset
from .world.vocab import END, PAD, START, tokenize

ATTENTIONS: tuple[str, ...] = ("soft", "none")
"""``soft``: attend over the cells; ``none``: the Show-and-Tell baseline (mean-pooled feature)."""

QUERIES: tuple[str, ...] = ("previous", "updated")
"""Which state asks where to look: ``h_{t-1}`` (Xu et al. 2015) or ``h_t`` (Lu et al. 2017)."""


# ----------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------


class SoftAttention(nn.Module):
    """Deterministic soft attention: ``e_i = w^T tanh(W_a a_i + W_h h + b)``, ``alpha = softmax(e)``.

    The context vector is the expectation of the annotation vectors under ``alpha``:
    ``z = sum_i alpha_i a_i``. The keys ``W_a a_i + b`` do not depend on the step, so a
    decoder computes them once per image with :meth:`project` and passes them to every call.
    """

    def __init__(self, feat_dim: int, hidden_dim: int, att_dim: int) -> None:
        super().__init__()
        for name, value in (("feat_dim", feat_dim), ("hidden_dim", hidden_dim), ("att_dim", att_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.feat_proj = nn.Linear(feat_dim, att_dim)  # W_a and b
        self.hidden_proj = nn.Linear(hidden_dim, att_dim, bias=False)  # W_h
        self.score = nn.Linear(att_dim, 1)  # w (and a constant that the softmax ignores)
        # Start from uniform weights (alpha_i = 1/L): the decoder begins as the mean-feature
        # baseline, and the gradient, not a random initialisation, decides where to look.
        nn.init.zeros_(self.score.weight)

    def project(self, annotations: torch.Tensor) -> torch.Tensor:
        """The keys ``W_a a_i + b`` of every cell: (B, L, D) -> (B, L, A)."""
        return self.feat_proj(annotations)  # (B, L, A)

    def forward(self, annotations: torch.Tensor, hidden: torch.Tensor,
                keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The context vector and the weights for one query per image.

        Args:
            annotations: (B, L, D).
            hidden: (B, H) the query (the decoder's state).
            keys: :meth:`project` of ``annotations`` (computed if not given).
        Returns:
            ``(context, alpha)``: (B, D) and (B, L).
        """
        if keys is None:
            keys = self.project(annotations)  # (B, L, A)
        query = self.hidden_proj(hidden)  # (B, A)
        e = self.score(torch.tanh(keys + query[:, None])).squeeze(-1)  # (B, L) one score per cell
        alpha = e.softmax(-1)  # (B, L) sums to 1 over the cells
        context = torch.bmm(alpha[:, None], annotations)[:, 0]  # (B, D) = sum_i alpha_i a_i
        return context, alpha


class ShowAttendTell(nn.Module):
    """LSTM caption decoder over a grid of annotation vectors (see the module docstring).

    Everything happens in :meth:`step`, one word at a time; teacher forcing (:meth:`forward`)
    and decoding (:func:`greedy_decode`, :func:`beam_search`) call it in a loop.

    Args:
        vocab_size: ``V``, the number of words (with the four specials).
        feat_dim: ``D``, the size of an annotation vector.
        embed_dim: ``E``, the word embedding (also the deep output layer's width).
        hidden_dim: ``H``, the LSTM state.
        att_dim: ``A``, the attention MLP's hidden width.
        attention: ``"soft"`` or ``"none"`` (:data:`ATTENTIONS`).
        query: ``"previous"`` or ``"updated"`` (:data:`QUERIES`); ignored without attention.
        gate: multiply the context by ``beta = sigmoid(f_beta(query))`` (the paper's gating scalar).
            Off by default: on the course world the gate can close early in training (beta near 0),
            and then no gradient reaches the attention and it never learns where to look (lesson 04
            measures this).
        dropout: dropout before the output layer.
    """

    def __init__(self, vocab_size: int, feat_dim: int = 64, embed_dim: int = 128, hidden_dim: int = 256,
                 att_dim: int = 128, attention: str = "soft", query: str = "previous", gate: bool = False,
                 dropout: float = 0.2) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("feat_dim", feat_dim), ("embed_dim", embed_dim),
                            ("hidden_dim", hidden_dim), ("att_dim", att_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if query not in QUERIES:
            raise ValueError(f"query must be one of {QUERIES}, got {query!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size, self.feat_dim, self.hidden_dim = vocab_size, feat_dim, hidden_dim
        self.attention, self.query = attention, query if attention == "soft" else "updated"
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)  # E
        self.init_h = nn.Linear(feat_dim, hidden_dim)  # f_init,h
        self.init_c = nn.Linear(feat_dim, hidden_dim)  # f_init,c
        self.lstm = nn.LSTMCell(embed_dim + feat_dim, hidden_dim)  # reads [E y_{t-1}; a vector of the image]
        self.att = SoftAttention(feat_dim, hidden_dim, att_dim) if attention == "soft" else None
        self.gate = nn.Linear(hidden_dim, 1) if (gate and attention == "soft") else None  # f_beta
        self.out_h = nn.Linear(hidden_dim, embed_dim)  # L_h
        self.out_z = nn.Linear(feat_dim, embed_dim, bias=False)  # L_z
        self.out = nn.Linear(embed_dim, vocab_size)  # L_o
        self.drop = nn.Dropout(dropout)
        self.register_buffer("feat_mean", torch.zeros(feat_dim))  # (D,) set by fit_feature_scale
        self.register_buffer("feat_std", torch.ones(feat_dim))  # (D,)

    @torch.no_grad()
    def fit_feature_scale(self, annotations: torch.Tensor) -> "ShowAttendTell":
        """Standardise the annotation vectors with the mean and std of each dimension over
        the training annotations (N, L, D); the frozen encoder's ReLU features are not centred."""
        self.validate_annotations(annotations)
        flat = annotations.reshape(-1, annotations.shape[-1]).float()  # (N*L, D)
        self.feat_mean.copy_(flat.mean(0))  # (D,)
        self.feat_std.copy_(flat.std(0).clamp(min=1e-3))  # (D,)
        return self

    def prepare(self, annotations: torch.Tensor) -> torch.Tensor:
        """Validate the annotations (B, L, D) and standardise them: (B, L, D)."""
        self.validate_annotations(annotations)
        return (annotations - self.feat_mean) / self.feat_std  # (B, L, D)

    def validate_annotations(self, annotations: torch.Tensor) -> None:
        """Raise a clear ``ValueError`` unless ``annotations`` is (B, L, D) with this model's D."""
        if not torch.is_tensor(annotations) or annotations.dim() != 3 or annotations.shape[-1] != self.feat_dim:
            got = tuple(annotations.shape) if torch.is_tensor(annotations) else type(annotations).__name__
            raise ValueError(f"annotations must be a tensor (B, L, {self.feat_dim}), got {got}")

    def project(self, annotations: torch.Tensor) -> torch.Tensor | None:
        """The attention keys of the annotations, once per image (None without attention)."""
        return None if self.att is None else self.att.project(annotations)  # (B, L, A)

    def init_state(self, annotations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h_0, c_0)`` from the mean annotation vector: two (B, H)."""
        mean = annotations.mean(1)  # (B, D)
        return torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))  # (B, H), (B, H)

    def look(self, annotations: torch.Tensor, keys: torch.Tensor | None,
             query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Where the query (B, H) looks: the context ``z`` (B, D) and the weights ``alpha`` (B, L).

        With the gate the context is ``beta * z``; without attention it is the mean annotation
        and there are no weights (``None``).
        """
        if self.att is None:
            return annotations.mean(1), None  # (B, D): Show and Tell sees the whole image at once
        z, alpha = self.att(annotations, query, keys)  # (B, D), (B, L)
        if self.gate is not None:
            z = torch.sigmoid(self.gate(query)) * z  # (B, D) beta_t * z_t
        return z, alpha

    def step(self, annotations: torch.Tensor, keys: torch.Tensor | None, words: torch.Tensor,
             state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, tuple]:
        """One word: the previous words (B,) -> the next word's scores (B, V), alpha (B, L) or None, new state.

        ``annotations`` come from :meth:`prepare`, ``keys`` from :meth:`project`, ``state`` is
        ``(h_{t-1}, c_{t-1})``.
        """
        h, c = state  # (B, H) x2
        e = self.embed(words)  # (B, E) the previous word, E y_{t-1}
        if self.query == "previous":  # Xu et al.: h_{t-1} asks where to look, the LSTM reads the context
            z, alpha = self.look(annotations, keys, h)  # (B, D), (B, L)
            h, c = self.lstm(torch.cat([e, z], -1), (h, c))  # (B, H) x2
        else:  # Lu et al. (and no attention): the LSTM reads the word first, then h_t asks where to look
            h, c = self.lstm(torch.cat([e, annotations.mean(1)], -1), (h, c))  # (B, H) x2
            z, alpha = self.look(annotations, keys, h)  # (B, D), (B, L) or None
        logits = self.out(self.drop(e + self.out_h(h) + self.out_z(z)))  # (B, V) the deep output layer
        return logits, alpha, (h, c)

    def forward(self, annotations: torch.Tensor, captions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: the words ``captions[:, :-1]`` go in, scores of ``captions[:, 1:]`` come out.

        Args:
            annotations: (B, L, D) annotation vectors.
            captions: (B, T+1) token ids ``<start> w_1 .. w_n <end> <pad>..``.
        Returns:
            ``(logits, alphas)``: (B, T, V) and (B, T, L) (``None`` without attention).
        """
        annotations = self.prepare(annotations)  # (B, L, D)
        if captions.dim() != 2 or captions.shape[0] != annotations.shape[0] or captions.shape[1] < 2:
            raise ValueError(f"captions must be (B, T+1) token ids with T >= 1 and B={annotations.shape[0]}, "
                             f"got {tuple(captions.shape)}")
        keys = self.project(annotations)  # (B, L, A) or None
        state = self.init_state(annotations)  # (B, H) x2
        logits, alphas = [], []
        for t in range(captions.shape[1] - 1):  # the true previous word goes in at every step
            step_logits, alpha, state = self.step(annotations, keys, captions[:, t], state)  # (B, V), (B, L)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, 1), (torch.stack(alphas, 1) if self.att is not None else None)  # (B, T, V), (B, T, L)


# ----------------------------------------------------------------------------------------
# Loss
# ----------------------------------------------------------------------------------------


def doubly_stochastic(alphas: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The doubly stochastic penalty ``sum_i (1 - sum_t alpha_ti)^2``, averaged over the batch.

    ``alphas`` (B, T, L); ``mask`` (B, T) marks the real steps (padding steps add nothing).
    Each weight map sums to 1 over the cells; this term asks each *cell* to receive a
    total of about 1 over the caption, i.e. to be looked at once.
    """
    if alphas.dim() != 3:
        raise ValueError(f"alphas must be (B, T, L), got {tuple(alphas.shape)}")
    if mask is not None:
        if tuple(mask.shape) != tuple(alphas.shape[:2]):
            raise ValueError(f"mask must be (B, T) = {tuple(alphas.shape[:2])}, got {tuple(mask.shape)}")
        alphas = alphas * mask[..., None].to(alphas.dtype)  # (B, T, L)
    coverage = alphas.sum(1)  # (B, L) total attention each cell received
    return ((1.0 - coverage) ** 2).sum(1).mean()  # ()


def caption_loss(logits: torch.Tensor, captions: torch.Tensor, alphas: torch.Tensor | None = None,
                 lam: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Teacher-forced loss: cross-entropy over the real (non-padding) target words, plus
    ``lam`` times :func:`doubly_stochastic`.

    Args:
        logits: (B, T, V) from :meth:`ShowAttendTell.forward`.
        captions: (B, T+1) the same captions that went in (targets are ``captions[:, 1:]``).
        alphas: (B, T, L) attention weights (needed when ``lam > 0``).
        lam: weight of the doubly stochastic term.
    Returns:
        ``(loss, {"ce": ..., "ds": ...})``, the two terms as detached 0-dim tensors (logged
        without waiting for the device).
    """
    targets = captions[:, 1:]  # (B, T)
    if logits.shape[:2] != targets.shape:
        raise ValueError(f"logits (B, T, V) must match the targets captions[:, 1:] {tuple(targets.shape)}, "
                         f"got {tuple(logits.shape)}")
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)  # ()
    if lam and alphas is None:
        raise ValueError("lam > 0 needs the attention weights: pass alphas")
    ds = doubly_stochastic(alphas, targets != PAD) if alphas is not None else ce.new_zeros(())  # ()
    loss = ce + lam * ds if lam else ce  # ()
    return loss, {"ce": ce.detach(), "ds": ds.detach()}  # 0-dim tensors: read back by train(), no sync here


# ----------------------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------------------


def _validate_len(max_len: Any) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    return max_len


@torch.no_grad()
def greedy_decode(model: ShowAttendTell, annotations: torch.Tensor, max_len: int = 30,
                  end_bonus: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Take the most likely word at every step.

    ``end_bonus`` is added to the log-probability of ``<end>`` at every step: above 0 the
    decoder prefers to stop as soon as the caption may end.

    Returns ``(tokens, alphas)``: (B, T) ids ending with ``<end>`` (then ``<pad>``), and
    (B, T, L) the attention map of each generated word (zeros after ``<end>``; ``None``
    without attention).
    """
    annotations = model.prepare(annotations)  # (B, L, D)
    max_len = _validate_len(max_len)
    was_training = model.training
    model.eval()
    b = annotations.shape[0]
    keys = model.project(annotations)  # (B, L, A) attention keys, or None
    state = model.init_state(annotations)  # (B, H) x2
    words = torch.full((b,), START, dtype=torch.long, device=annotations.device)  # (B,)
    done = torch.zeros(b, dtype=torch.bool, device=annotations.device)  # (B,)
    tokens, alphas = [], []
    for _ in range(max_len):
        logits, alpha, state = model.step(annotations, keys, words, state)  # (B, V), (B, L)
        log_probs = logits.log_softmax(-1)  # (B, V)
        log_probs[:, END] += end_bonus  # (B, V)
        words = log_probs.argmax(-1).masked_fill(done, PAD)  # (B,)
        tokens.append(words)
        if alpha is not None:
            alphas.append(alpha.masked_fill(done[:, None], 0.0))  # (B, L)
        done = done | (words == END)  # (B,)
        if bool(done.all()):
            break
    model.train(was_training)
    return torch.stack(tokens, 1), (torch.stack(alphas, 1) if alphas else None)  # (B, T), (B, T, L)


def beam_search_step(scores: torch.Tensor, log_probs: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of beam search: keep the ``width`` best one-word extensions of the beams.

    Args:
        scores: (..., K) total log-probability of each of the K beams so far.
        log_probs: (..., K, V) log-probability of each next word after each beam.
        width: how many extensions to keep.
    Returns:
        ``(new_scores, parents, words)``, each (..., width), best first: the score of
        each kept extension, which beam it extends, and the word it adds.
    """
    if log_probs.shape[:-1] != scores.shape:
        raise ValueError(f"log_probs must be (..., K, V) with (..., K) = scores.shape {tuple(scores.shape)}, "
                         f"got {tuple(log_probs.shape)}")
    vocab = log_probs.shape[-1]
    candidates = scores.unsqueeze(-1) + log_probs  # (..., K, V)
    best, index = candidates.flatten(-2).topk(width, dim=-1)  # (..., width) x2
    return best, index // vocab, index % vocab  # (..., width) x3


@torch.no_grad()
def beam_search(model: ShowAttendTell, annotations: torch.Tensor, width: int = 3, max_len: int = 30,
                length_penalty: float = 0.0, end_bonus: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Beam search for every image at once (beams are kept as ``B * K`` rows).

    A finished beam (it said ``<end>``) keeps its score and only grows ``<pad>``. At the
    end each image returns its best beam by ``score / length ** length_penalty``
    (``length_penalty=0``: the plain log-probability); ``end_bonus`` as in
    :func:`greedy_decode`. Returns ``(tokens, alphas)`` as :func:`greedy_decode`.
    """
    annotations = model.prepare(annotations)  # (B, L, D)
    max_len = _validate_len(max_len)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    was_training = model.training
    model.eval()
    b, cells, _ = annotations.shape
    k, dev = width, annotations.device
    ann = annotations.repeat_interleave(k, 0)  # (B*K, L, D)
    keys = model.project(ann)  # (B*K, L, A) attention keys, or None
    state = model.init_state(ann)  # (B*K, H) x2
    words = torch.full((b * k,), START, dtype=torch.long, device=dev)  # (B*K,)
    scores = torch.full((b, k), -math.inf, device=dev)  # (B, K)
    scores[:, 0] = 0.0  # all beams start equal: expand only the first one
    done = torch.zeros(b, k, dtype=torch.bool, device=dev)  # (B, K)
    seqs = torch.zeros(b, k, 0, dtype=torch.long, device=dev)  # (B, K, t)
    maps = torch.zeros(b, k, 0, cells, device=dev)  # (B, K, t, L)
    lengths = torch.zeros(b, k, device=dev)  # (B, K) words so far, <end> included
    rows = torch.arange(b, device=dev)[:, None]  # (B, 1)
    for _ in range(max_len):
        logits, alpha, state = model.step(ann, keys, words, state)  # (B*K, V), (B*K, L)
        log_probs = logits.log_softmax(-1).view(b, k, -1)  # (B, K, V)
        log_probs[..., END] += end_bonus  # (B, K, V)
        finished = torch.full_like(log_probs[0, 0], -math.inf)  # (V,)
        finished[PAD] = 0.0  # a finished beam can only grow <pad>, at no cost
        log_probs = torch.where(done[..., None], finished, log_probs)  # (B, K, V)
        scores, parents, words_bk = beam_search_step(scores, log_probs, k)  # (B, K) x3
        seqs = torch.cat([seqs[rows, parents], words_bk[..., None]], -1)  # (B, K, t+1)
        if alpha is not None:
            step_map = alpha.view(b, k, cells)[rows, parents]  # (B, K, L)
            step_map = step_map.masked_fill(done[rows, parents][..., None], 0.0)  # (B, K, L)
            maps = torch.cat([maps[rows, parents], step_map[:, :, None]], 2)  # (B, K, t+1, L)
        lengths = lengths[rows, parents] + (~done[rows, parents]).float()  # (B, K)
        done = done[rows, parents] | (words_bk == END)  # (B, K)
        flat = (rows * k + parents).reshape(-1)  # (B*K,) the rows the new beams come from
        state = (state[0][flat], state[1][flat])  # (B*K, H) x2
        words = words_bk.reshape(-1)  # (B*K,)
        if bool(done.all()):
            break
    ranked = scores / lengths.clamp(min=1) ** length_penalty if length_penalty else scores  # (B, K)
    best = ranked.argmax(1)  # (B,)
    tokens = seqs[torch.arange(b, device=dev), best]  # (B, T)
    alphas = maps[torch.arange(b, device=dev), best] if model.att is not None else None  # (B, T, L)
    model.train(was_training)
    return tokens, alphas


def decode(model: ShowAttendTell, annotations: torch.Tensor, beam_width: int = 1, max_len: int = 30,
           batch_size: int = 500, end_bonus: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Greedy (``beam_width=1``) or beam search in chunks of ``batch_size`` images.

    The annotations may live on any device; they are moved to the model's, and the
    ``(tokens, alphas)`` come back on the CPU.
    """
    dev = next(model.parameters()).device
    out_tokens, out_alphas = [], []
    for start in range(0, annotations.shape[0], batch_size):
        chunk = annotations[start:start + batch_size].to(dev)  # (b, L, D)
        if beam_width == 1:
            tokens, alphas = greedy_decode(model, chunk, max_len, end_bonus=end_bonus)
        else:
            tokens, alphas = beam_search(model, chunk, beam_width, max_len, end_bonus=end_bonus)
        out_tokens.append(tokens.cpu())
        out_alphas.append(alphas.cpu() if alphas is not None else None)
    width = max(t.shape[1] for t in out_tokens)
    tokens = torch.cat([F.pad(t, (0, width - t.shape[1]), value=PAD) for t in out_tokens])  # (N, T)
    if out_alphas[0] is None:
        return tokens, None
    alphas = torch.cat([F.pad(a, (0, 0, 0, width - a.shape[1])) for a in out_alphas])  # (N, T, L)
    return tokens, alphas


def caption_words(tokens: torch.Tensor, vocabulary: Any) -> list[list[str]]:
    """The words of each row of ``tokens`` (B, T), up to (not including) ``<end>``."""
    out = []
    for row in tokens.tolist():
        words = []
        for i in row:
            if i in (END, PAD):
                break
            words.append(vocabulary.itos[i])
        out.append(words)
    return out


# ----------------------------------------------------------------------------------------
# Data: scenes, references, boxes and the frozen encoder's annotations
# ----------------------------------------------------------------------------------------


def caption_data(split: str, n: int, encoder: nn.Module, vocabulary: Any, seed: int = 0, size: int = 64,
                 captions_per_scene: int = 5) -> dict[str, Any]:
    """One split of the world for captioning, with the frozen encoder's annotations.

    Uses :class:`~mmcourse.world.datasets.CaptionDataset` (cached scenes and captions).
    The annotations are computed once (forward only) and cached, keyed by the scenes'
    configuration and the encoder's weights.

    Returns a dict: ``feats`` float (N, L, D); ``tokens`` (M, T+1) every caption
    ``<start> .. <end>`` padded; ``scene`` (M,) its scene; ``references`` the tokenized
    captions of each scene; ``images`` uint8 (N, 3, S, S); ``boxes`` (N, K, 4) pixels;
    ``shape`` and ``colour`` (N, K) (-1 padding); ``dataset`` the CaptionDataset.
    """
    dataset = CaptionDataset(split, n, size, seed, vocabulary=vocabulary, captions_per_scene=captions_per_scene)
    scenes = dataset.data
    key = {"scenes": scenes.config, "encoder": cache.fingerprint(encoder)}
    feats = cache.cached("caption-annotations", key,
                         lambda: encoders.encode(encoder, scenes.images).flatten(2).transpose(1, 2).half())  # (N, L, D) float16
    tokens = nn.utils.rnn.pad_sequence(dataset.tokens, batch_first=True, padding_value=PAD)  # (M, T+1)
    return {
        "feats": feats.float(),  # (N, L, D)
        "tokens": tokens,  # (M, T+1)
        "scene": torch.arange(len(dataset)) // dataset.per_scene,  # (M,)
        "references": [[tokenize(c) for c in caps] for caps in scenes.captions],
        "images": scenes.images,  # (N, 3, S, S) uint8
        "boxes": scenes.boxes,  # (N, K, 4)
        "shape": torch.from_numpy(scenes.scenes.shape),  # (N, K)
        "colour": torch.from_numpy(scenes.scenes.colour),  # (N, K)
        "size": size,
        "dataset": dataset,
    }


class CaptionBatches:
    """Teacher-forcing batches of (annotations, caption), grouped by caption length.

    Captions of similar length go in the same batch, so little time is spent on padding;
    the order of the batches is shuffled every epoch with the given seed (deterministic).
    Each batch is a dict: ``feats`` (B, L, D) and ``captions`` (B, T+1) cut to the
    batch's longest caption.

    With ``device`` the annotations and captions are moved there once and every batch is
    gathered there: only the batch's indices travel, and the order is drawn on the CPU
    exactly as without it (the caption lengths stay on the CPU, so cutting the padding
    never waits for the device).
    """

    def __init__(self, data: dict[str, Any], batch_size: int = 128, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.lengths = (data["tokens"] != PAD).sum(1)  # (M,) on the CPU
        self.device = torch.device(device) if device is not None else data["feats"].device
        self.feats = data["feats"].to(self.device)  # (N, L, D)
        self.tokens = data["tokens"].to(self.device)  # (M, T+1)
        self.scene = data["scene"].to(self.device)  # (M,)
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0

    def __len__(self) -> int:
        return math.ceil(len(self.tokens) / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        noise = torch.rand(len(self.tokens), generator=gen)  # (M,) shuffles within a length
        order = torch.argsort(self.lengths.float() + noise)  # (M,) by length, random among equals
        chunks = list(order.split(self.batch_size))
        for i in torch.randperm(len(chunks), generator=gen).tolist():
            idx = chunks[i]  # (B,) on the CPU
            width = int(self.lengths[idx].max())
            on = idx.to(self.device, non_blocking=True)  # (B,) where the data is
            yield {"feats": self.feats[self.scene[on]], "captions": self.tokens[on, :width]}  # (B, L, D), (B, T+1)


def train_captioner(model: ShowAttendTell, data: dict[str, Any], epochs: int = 3, lr: float = 3e-3,
                    lam: float = 0.0, batch_size: int = 128, seed: int = 0, time_budget: float | None = None,
                    desc: str = "training", progress: bool = True,
                    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                    cache_name: str | None = None) -> Any:
    """Teacher-forced training with :func:`mmcourse.training.train`: Adam with a one-cycle
    schedule (the learning rate climbs from ``lr / 25`` to ``lr`` over the first 15 % of the
    steps, then falls smoothly to almost zero), the gradient norm clipped at 5.

    A fixed number of ``epochs``; deterministic for a given ``seed``. ``lam`` weighs the doubly
    stochastic term. ``time_budget`` (seconds) is only a safety stop: a run it stops says so
    loudly and is never cached. ``evaluate(model) -> {name: value}`` runs after every epoch.
    Returns the :class:`~mmcourse.training.History`.

    With ``cache_name`` the trained weights and the history are kept in the cache
    (:func:`mmcourse.cache.cached_training`), keyed by the settings, the training data and
    the code (the model's classes, this function, the loss and the batches), so running the
    lesson again does not train again, and editing that code trains again.
    """
    if cache_name is not None:
        key = {"model": repr(model), "feature_scale": cache.fingerprint(model.feat_mean, model.feat_std),
               "data": cache.fingerprint(data["feats"], data["tokens"], data["scene"]), "epochs": epochs, "lr": lr,
               "lam": lam, "batch_size": batch_size, "seed": seed}
        return cache.cached_training(cache_name, key, model, lambda m: train_captioner(
            m, data, epochs, lr, lam, batch_size, seed, time_budget, desc, progress, evaluate),
            code=(train_captioner, caption_loss, doubly_stochastic, CaptionBatches))

    seed_everything(seed)
    dev = default_device()
    batches = CaptionBatches(data, batch_size=batch_size, seed=seed, device=dev)  # the data moves to the device once
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(batches),
                                                    pct_start=0.15)

    def step(m: ShowAttendTell, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits, alphas = m(batch["feats"], batch["captions"])  # (B, T, V), (B, T, L)
        return caption_loss(logits, batch["captions"], alphas, lam)

    return train(model, batches, step, optimizer, epochs=epochs, scheduler=scheduler, time_budget=time_budget,
                 clip_grad=5.0, device=dev, desc=desc, progress=progress, evaluate=evaluate)


# ----------------------------------------------------------------------------------------
# Scoring the attention against the truth
# ----------------------------------------------------------------------------------------


def attribute_words() -> dict[str, tuple[str, int]]:
    """Every word that names a shape or a colour -> ``("shape" | "colour", index)``.

    Shapes count with their synonyms and plurals ("discs" names a circle).
    """
    words: dict[str, tuple[str, int]] = {}
    for s, shape in enumerate(SHAPES):
        for w in SHAPE_WORDS[shape]:
            words[w] = ("shape", s)
            words[plural(w)] = ("shape", s)
    for c, colour in enumerate(COLOUR_NAMES):
        words[colour] = ("colour", c)
    return words


def cell_hits(boxes: torch.Tensor, attribute: torch.Tensor, value: int, image_size: int, grid: int = 8) -> torch.Tensor:
    """Which cells' centres lie in the box of an object whose ``attribute`` equals ``value``.

    ``boxes`` (K, 4) pixels ``x0, y0, x1, y1``; ``attribute`` (K,) shape or colour indices.
    Returns bool (grid * grid,), row-major like the annotations.
    """
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) * image_size / grid  # (g,)
    cy, cx = centres[:, None, None], centres[None, :, None]  # (g, 1, 1), (1, g, 1)
    x0, y0, x1, y1 = boxes.float().unbind(-1)  # (K,) x4
    inside = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)  # (g, g, K)
    return (inside & (attribute == value)).any(-1).flatten()  # (g*g,)


def pointing(words: Sequence[Sequence[str]], alphas: torch.Tensor | Sequence[torch.Tensor] | None,
             boxes: torch.Tensor, shape: torch.Tensor, colour: torch.Tensor, image_size: int,
             grid: int | None = None) -> dict[str, float]:
    """Pointing accuracy of the attention maps of generated captions.

    For every generated word that names a shape or a colour, the step's attention peak
    (the cell with the largest weight) *points right* when the cell's centre lies in the
    box of an object with that shape or colour. A uniform map has no peak; its score is
    the chance that a random cell points right (the fraction of cells that would).

    Args:
        words: the generated words of each image.
        alphas: (N, T, L) attention of each step (``None``: a model without attention).
        boxes: (N, K, 4) object boxes in pixels; ``shape``, ``colour``: (N, K) indices, -1 padding.
        image_size: the images' side in pixels.
        grid: cells per side (default: from the maps, ``sqrt(L)``; else 8).
    Returns:
        ``{"accuracy", "uniform", "n_words", "named_absent"}`` — ``named_absent`` is the
        fraction of scored words that name something the image does not have (a
        captioning error, which no map can point at). ``accuracy`` is nan without attention.
    """
    lookup = attribute_words()
    if grid is None:
        grid = round(len(alphas[0][0]) ** 0.5) if alphas is not None and len(alphas) and len(alphas[0]) else 8
    hits, chance, absent, n = 0, 0.0, 0, 0
    for i, ws in enumerate(words):
        for t, w in enumerate(ws):
            if w not in lookup:
                continue
            kind, value = lookup[w]
            good = cell_hits(boxes[i], (shape if kind == "shape" else colour)[i], value, image_size, grid)  # (L,)
            n += 1
            chance += float(good.float().mean())
            absent += int(not bool(((shape if kind == "shape" else colour)[i] == value).any()))
            if alphas is not None:
                hits += int(bool(good[int(alphas[i][t].argmax())]))
    nan = float("nan")
    return {
        "accuracy": (hits / n if n else nan) if alphas is not None else nan,
        "uniform": chance / n if n else nan,
        "n_words": n,
        "named_absent": absent / n if n else nan,
    }


def repeated_phrases(words: Sequence[Sequence[str]]) -> float:
    """Fraction of captions in which a shape word comes twice after the same word ("red star ... red star")."""
    lookup = attribute_words()
    count = 0
    for ws in words:
        pairs = [(ws[j - 1], ws[j]) for j in range(1, len(ws)) if lookup.get(ws[j], ("",))[0] == "shape"]
        count += len(pairs) != len(set(pairs))
    return count / max(len(words), 1)


def word_hits(words: Sequence[str], alphas: torch.Tensor, data: dict[str, Any], i: int) -> list[bool]:
    """For each word of scene ``i``'s caption ``words`` that names a shape or a colour, in order:
    does its attention peak (``alphas`` (T, L)) lie in the box of an object it names?"""
    lookup = attribute_words()
    grid = round(alphas.shape[-1] ** 0.5)
    hits = []
    for t, w in enumerate(words):
        if w in lookup:
            kind, value = lookup[w]
            good = cell_hits(data["boxes"][i], data[kind][i], value, data["size"], grid)  # (L,)
            hits.append(bool(good[int(alphas[t].argmax())]))
    return hits


def repeated_peaks(words: Sequence[Sequence[str]], alphas: torch.Tensor) -> tuple[int, int]:
    """Of the captions that repeat a phrase ("a red star and a red star", see :func:`repeated_phrases`),
    in how many do the two shape words have their attention peak on the same cell?

    ``alphas`` (N, T, L). Returns ``(same cell, repeated captions)``.
    """
    lookup = attribute_words()
    same = total = 0
    for i, ws in enumerate(words):
        seen: dict[tuple[str, str], int] = {}
        for t in range(1, len(ws)):
            if lookup.get(ws[t], ("",))[0] != "shape":
                continue
            key = (ws[t - 1], ws[t])
            if key in seen:
                total += 1
                same += int(alphas[i][t].argmax() == alphas[i][seen[key]].argmax())
                break
            seen[key] = t
    return same, total


def evaluate(model: ShowAttendTell, data: dict[str, Any], vocabulary: Any, beam_width: int = 1,
             max_len: int = 30, end_bonus: float = 0.0) -> dict[str, Any]:
    """Caption every image of ``data`` and score it: BLEU-1..4 and pointing accuracy.

    Decoding as in :func:`decode`. Returns the scores, the ``words`` and ``alphas`` of every
    caption, and ``repeats``: the fraction of captions that name the same shape twice with
    the same word before it ("a red star and a red star").
    """
    tokens, alphas = decode(model, data["feats"], beam_width, max_len, end_bonus=end_bonus)  # (N, T), (N, T, L)
    words = caption_words(tokens, vocabulary)
    scores: dict[str, Any] = dict(corpus_bleu(words, data["references"]))
    grid = round(data["feats"].shape[1] ** 0.5)
    point = pointing(words, alphas, data["boxes"], data["shape"], data["colour"], data["size"], grid)
    scores.update({"pointing": point["accuracy"], "uniform": point["uniform"], "n_words": point["n_words"],
                   "named_absent": point["named_absent"], "repeats": repeated_phrases(words),
                   "words": words, "alphas": alphas})
    return scores


# ----------------------------------------------------------------------------------------
# The captioning API
# ----------------------------------------------------------------------------------------


def prepare_images(images: Any, image_size: int = 64) -> torch.Tensor:
    """``images`` as a float tensor (B, 3, S, S) in [0, 1]; a clear ``ValueError`` otherwise.

    Accepts float tensors (B, 3, S, S) or (3, S, S) in [0, 1], and uint8 tensors or
    arrays in the same layout or in the rendered layout (B, S, S, 3) / (S, S, 3).
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not torch.is_tensor(images):
        raise ValueError(f"images must be a tensor or array of shape (B, 3, {image_size}, {image_size}), "
                         f"got {type(images).__name__}")
    shape = tuple(images.shape)
    if images.dim() == 3:
        images = images[None]  # (1, ., ., .)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, 3, {image_size}, {image_size}) or (3, {image_size}, "
                         f"{image_size}), got {shape}")
    if images.dtype == torch.uint8 and images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2)  # (B, 3, S, S) from the rendered (B, S, S, 3)
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 colour channels (B, 3, S, S), got shape {shape}")
    if tuple(images.shape[2:]) != (image_size, image_size):
        raise ValueError(f"images must be {image_size}x{image_size} pixels (the size the encoder and captioner "
                         f"were trained on), got shape {shape}")
    if images.dtype == torch.uint8:
        return images.float() / 255.0  # (B, 3, S, S)
    if not images.is_floating_point():
        raise ValueError(f"images must be float in [0, 1] or uint8, got dtype {images.dtype}")
    return images.float()  # (B, 3, S, S)


def caption_images(images: Any, encoder: nn.Module, model: ShowAttendTell, vocabulary: Any,
                   beam_width: int = 1, image_size: int = 64, max_len: int = 30,
                   end_bonus: float = 0.0) -> list[dict[str, Any]]:
    """Caption images: ``[{"text", "words", "alphas" (n_words, L) or None}, ...]``.

    ``images`` as in :func:`prepare_images`; a wrong size or channel count raises a
    ``ValueError`` that says what was expected.
    """
    x = prepare_images(images, image_size)  # (B, 3, S, S)
    grid = encoders.encode(encoder, x)  # (B, D, g, g); NaN, 0..255 floats or an empty batch -> ValueError
    feats = grid.flatten(2).transpose(1, 2).to(next(encoder.parameters()).device)  # (B, L, D)
    tokens, alphas = decode(model, feats, beam_width, max_len, end_bonus=end_bonus)  # (B, T), (B, T, L)
    out = []
    for i, words in enumerate(caption_words(tokens, vocabulary)):
        a = alphas[i, : len(words)].cpu() if alphas is not None else None  # (n, L)
        out.append({"text": vocabulary.decode([vocabulary.stoi[w] for w in words]), "words": words, "alphas": a})
    return out


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def _fixed(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def check_soft_attention(fn: Callable[..., Any]) -> torch.Tensor:
    """Exercise 1: ``fn(att, annotations (B, L, D), hidden (B, H)) -> (context (B, D), alpha (B, L))``
    must compute :class:`SoftAttention` with the layers of ``att``. Returns the learner's ``alpha``."""
    torch.manual_seed(0)
    att = SoftAttention(6, 5, 4).double()
    nn.init.normal_(att.score.weight)  # a trained w: the initial zeros would make every alpha uniform
    annotations, hidden = _fixed(1, 3, 7, 6), _fixed(2, 3, 5)  # (3, 7, 6), (3, 5)
    with torch.no_grad():
        ref_context, ref_alpha = att(annotations, hidden)  # (3, 6), (3, 7)
        keys = att.feat_proj(annotations)  # (3, 7, 4)
        no_tanh = att.score(keys + att.hidden_proj(hidden)[:, None]).squeeze(-1).softmax(-1)  # (3, 7)
        no_query = att.score(torch.tanh(keys)).squeeze(-1).softmax(-1)  # (3, 7)
        result = fn(att, annotations, hidden)
    checks.true(isinstance(result, (tuple, list)) and len(result) == 2,
                f"return the pair (context, alpha), got {type(result).__name__}")
    context, alpha = result
    checks.shape(alpha, (3, 7), name="alpha (one weight per cell)")
    alpha = torch.as_tensor(alpha).detach().double()  # (3, 7)
    if not torch.allclose(alpha.sum(-1), torch.ones(3, dtype=torch.float64), atol=1e-6):
        if torch.allclose(alpha.sum(0), torch.ones(7, dtype=torch.float64), atol=1e-6):
            raise checks.CheckFailed("alpha sums to 1 over the batch, not over the cells: take the softmax over "
                                     "the cells (the last axis)")
        raise checks.CheckFailed(f"alpha must sum to 1 over the cells of each image, got sums "
                                 f"{[round(float(s), 3) for s in alpha.sum(-1)]}: turn the scores e into weights "
                                 "with a softmax over the cells")
    if torch.allclose(alpha, no_tanh, atol=1e-6):
        raise checks.CheckFailed("alpha is right except for the tanh: the score is w^T tanh(W_a a_i + W_h h + b)")
    if torch.allclose(alpha, no_query, atol=1e-6):
        raise checks.CheckFailed("alpha does not depend on the query hidden: add att.hidden_proj(hidden) to the "
                                 "keys of every cell before the tanh")
    checks.close(alpha, ref_alpha, name="alpha", tol=1e-6)
    checks.shape(context, (3, 6), name="context (one vector of size D per image)")
    if torch.allclose(torch.as_tensor(context).double(), annotations.mean(1), atol=1e-6):
        raise checks.CheckFailed("context is the plain mean of the annotations: weigh each cell by its alpha")
    checks.close(context, ref_context, name="context (the sum of the annotations weighted by alpha)", tol=1e-6)
    return alpha


def check_doubly_stochastic(fn: Callable[..., Any]) -> torch.Tensor:
    """Exercise 2: ``fn(alphas (B, T, L), mask (B, T)) -> ()`` must equal :func:`doubly_stochastic`.
    Returns the learner's penalty on a small padded batch."""
    alphas = _fixed(3, 2, 4, 5).softmax(-1)  # (2, 4, 5)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)  # (2, 4) the second caption is short
    full = torch.ones(2, 4, dtype=torch.bool)  # (2, 4)
    uniform = torch.full((1, 5, 5), 0.2, dtype=torch.float64)  # (1, 5, 5): every cell gets 1 in total
    checks.close(fn(uniform, torch.ones(1, 5, dtype=torch.bool)), torch.tensor(0.0, dtype=torch.float64),
                 name="penalty of 5 uniform maps over 5 cells (each cell receives exactly 1 in total)", tol=1e-9)
    mine = torch.as_tensor(fn(alphas, full)).double()
    checks.shape(mine, (), name="the penalty (one number for the batch)")
    if torch.allclose(mine, ((1 - alphas.sum(1)) ** 2).sum(1).sum(), atol=1e-9):
        raise checks.CheckFailed("the penalty is summed over the batch: average it over the captions")
    if torch.allclose(mine, ((1 - alphas.sum(1)) ** 2).mean(), atol=1e-9):
        raise checks.CheckFailed("the penalty is averaged over the cells: sum it over the cells, then average "
                                 "over the captions")
    checks.close(mine, doubly_stochastic(alphas, full),
                 name="penalty without padding (sum each cell's weights over the steps t)", tol=1e-6)
    padded = torch.as_tensor(fn(alphas, mask)).double()
    if torch.allclose(padded, mine, atol=1e-9):
        raise checks.CheckFailed("the padded steps count: zero the weights of the steps where mask is False "
                                 "before summing over the steps")
    checks.close(padded, doubly_stochastic(alphas, mask),
                 name="penalty with padding (masked steps must not count)", tol=1e-6)
    return padded


def check_beam_step(fn: Callable[..., Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exercise 3: ``fn(scores (K,), log_probs (K, V), width) -> (new_scores, parents, words)``,
    each (width,), best first. Returns the learner's answer for two beams and four words."""
    scores = torch.tensor([-1.0, -1.5])  # (2,) two beams
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.05, 0.05, 0.1, 0.8]])  # (2, 4) a vocabulary of 4 words
    log_probs = probs.log()  # (2, 4)
    result = fn(scores, log_probs, 3)
    checks.true(isinstance(result, (tuple, list)) and len(result) == 3,
                f"return (new_scores, parents, words), got {type(result).__name__}")
    new_scores, parents, words = (torch.as_tensor(r) for r in result)
    # by hand: beam 1 + word 3: -1.5 + log .8 = -1.72; beam 0 + word 3: -1 + log .4 = -1.92;
    # beam 0 + word 2: -1 + log .3 = -2.20; beam 0 + word 1: -2.61; beam 1 + word 2: -3.80
    for value, name in ((new_scores, "new_scores"), (parents, "parents"), (words, "words")):
        checks.shape(value, (3,), name=f"{name} (one per kept extension)")
    if parents.long().tolist() == [3, 3, 2] and words.long().tolist() == [1, 0, 0]:
        raise checks.CheckFailed("parents and words are swapped: in the flat index i over (K, V), the beam is "
                                 "i // V and the word i % V")
    if parents.long().tolist() == [1, 0, 0] and words.long().tolist() == [3, 3, 2] and torch.allclose(
            new_scores.float(), log_probs[[1, 0, 0], [3, 3, 2]], atol=1e-6):
        raise checks.CheckFailed("new_scores hold only the new word's log-probability: add the score of the beam "
                                 "it extends (the total log-probability of the caption so far)")
    if sorted(new_scores.tolist(), reverse=True) != new_scores.tolist():
        raise checks.CheckFailed("the extensions must come best first (highest total log-probability first)")
    checks.close(parents.long(), torch.tensor([1, 0, 0]), name="parents (which beam each extension extends)", tol=0)
    checks.close(words.long(), torch.tensor([3, 3, 2]), name="words (the word each extension adds)", tol=0)
    checks.close(new_scores, scores[[1, 0, 0]] + probs[[1, 0, 0], [3, 3, 2]].log(),
                 name="new_scores (each beam's score so far plus the word's log-probability)", tol=1e-6)
    checks.close(torch.as_tensor(fn(scores, log_probs, 2)[0]), beam_search_step(scores, log_probs, 2)[0],
                 name="new_scores with width=2", tol=1e-6)
    return new_scores, parents, words
