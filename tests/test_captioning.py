"""Lesson 04: BLEU, the Show-Attend-Tell decoder, decoding, pointing, the API and the exercise checks."""

from __future__ import annotations

import math

import pytest
import torch

from mmcourse import captioning as C
from mmcourse import captioning_figures as C_figures
from mmcourse import checks
from mmcourse.encoders import GridEncoder
from mmcourse.metrics import bleu_statistics, corpus_bleu
from mmcourse.world.scenes import make_scene, render
from mmcourse.world.vocab import END, PAD, START, Vocabulary

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small recurrent models run fastest on one thread (many threads wait on each other on a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


VARIANTS = [  # the paper's (with and without its gate), Lu et al.'s, no attention
    dict(attention="soft", query="previous"),
    dict(attention="soft", query="previous", gate=True),
    dict(attention="soft", query="updated"),
    dict(attention="none"),
]
IDS = ["xu", "xu-gate", "lu", "none"]


# ---------------------------------------------------------------- BLEU, against hand-computed values


def test_bleu_identical_sentence_is_one():
    out = corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]])
    assert out == {"bleu1": 1.0, "bleu2": 1.0, "bleu3": 1.0, "bleu4": 1.0}


def test_bleu_clips_repeated_words_papineni_example():
    # Papineni et al. 2002: "the" x7 against two references; "the" occurs at most twice in one reference
    refs = [["the cat is on the mat", "there is a cat on the mat"]]
    out = corpus_bleu(["the the the the the the the"], refs)
    assert out["bleu1"] == pytest.approx(2 / 7)  # c = 7 = closest reference length: no penalty
    assert out["bleu2"] == 0.0


def test_bleu_brevity_penalty_uses_the_closest_reference():
    # hypothesis of 3 words; references of 6 and 4 words -> r = 4, BP = exp(1 - 4/3)
    out = corpus_bleu([["a", "red", "star"]], [["a red star on the beach", "a big red star"]])
    bp = math.exp(1 - 4 / 3)
    assert out["bleu1"] == pytest.approx(bp)  # p1 = 3/3
    assert out["bleu2"] == pytest.approx(bp)  # p2 = 2/2
    assert out["bleu3"] == pytest.approx(bp)  # p3 = 1/1
    assert out["bleu4"] == 0.0  # no 4-gram at all


def test_bleu_closest_reference_tie_takes_the_shorter():
    out = corpus_bleu(["a b c d e"], [["a b c d", "a b c d e f"]])  # |4-5| = |6-5|: r = 4 < c = 5
    assert out["bleu1"] == 1.0


def test_bleu_pools_counts_over_the_corpus():
    hyps = ["a red star on the beach", "a blue circle"]
    refs = [["a red star on the beach"], ["a green circle"]]
    stats = bleu_statistics(hyps, refs)
    assert stats["matches"] == [8, 5, 4, 3] and stats["totals"] == [9, 7, 5, 3]
    assert stats["hyp_len"] == 9 and stats["ref_len"] == 9
    out = corpus_bleu(hyps, refs)
    assert out["bleu2"] == pytest.approx((8 / 9 * 5 / 7) ** 0.5)
    assert out["bleu4"] == pytest.approx((8 / 9 * 5 / 7 * 4 / 5 * 1) ** 0.25)


def test_bleu_bad_input():
    with pytest.raises(ValueError, match="same length"):
        corpus_bleu(["a b"], [["a b"], ["c"]])
    with pytest.raises(ValueError, match=r"references\[0\]"):
        corpus_bleu(["a b"], [[]])


# ---------------------------------------------------------------- the model


def _batch(b=4, t=9, vocab=20, d=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.rand(b, 64, d, generator=gen)  # (B, L, D)
    caps = torch.randint(4, vocab, (b, t), generator=gen)  # (B, T+1)
    caps[:, 0] = START
    caps[1, 5] = END
    caps[1, 6:] = PAD
    caps[:, -1] = torch.where(caps[:, -1] == PAD, PAD, END)
    return feats, caps


def _model(vocab=20, d=16, trained_scores=True, **kw):
    torch.manual_seed(0)
    model = C.ShowAttendTell(vocab, feat_dim=d, embed_dim=16, hidden_dim=24, att_dim=12, **kw)
    if trained_scores and model.att is not None:
        torch.nn.init.normal_(model.att.score.weight)  # as after training: a fresh model's maps are uniform
    return model


def test_fresh_attention_is_uniform_and_learns_to_move():
    feats, caps = _batch()
    model = _model(trained_scores=False, attention="soft", query="updated")
    logits, alphas = model(feats, caps)  # (B, T, V), (B, T, L)
    assert torch.allclose(alphas, torch.full_like(alphas, 1 / alphas.shape[-1]))
    C.caption_loss(logits, caps, alphas)[0].backward()
    assert model.att.score.weight.grad.abs().sum() > 0  # the scores get a gradient, so the maps can move


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_shapes_gradients_and_steps_agree(variant):
    feats, caps = _batch()
    model = _model(**variant)
    attention = variant["attention"]
    logits, alphas = model(feats, caps)
    assert logits.shape == (4, 8, 20)
    if attention == "soft":
        assert alphas.shape == (4, 8, 64)
        assert torch.allclose(alphas.sum(-1), torch.ones(4, 8), atol=1e-5)
    else:
        assert alphas is None
    loss, stats = C.caption_loss(logits, caps, alphas, lam=0.01 if alphas is not None else 0.0)
    loss.backward()
    for name, p in model.named_parameters():
        if name.startswith("embed"):
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    model.eval()  # step-by-step decoding computes the same numbers as teacher forcing
    logits, alphas = model(feats, caps)
    state, keys, outs = model.init_state(feats), model.project(feats), []
    for t in range(caps.shape[1] - 1):
        step_logits, _, state = model.step(feats, keys, caps[:, t], state)
        outs.append(step_logits)
    assert torch.allclose(torch.stack(outs, 1), logits, atol=1e-5)


def test_padding_does_not_change_the_loss():
    feats, caps = _batch()
    model = _model(attention="soft", query="previous")
    model.eval()
    longer = torch.cat([caps, torch.full((4, 3), PAD)], 1)  # (B, T+4) three more padding steps
    l1, a1 = model(feats, caps)
    l2, a2 = model(feats, longer)
    loss1, s1 = C.caption_loss(l1, caps, a1, lam=0.5)
    loss2, s2 = C.caption_loss(l2, longer, a2, lam=0.5)
    assert loss1.item() == pytest.approx(loss2.item(), rel=1e-5)
    assert float(s1["ds"]) == pytest.approx(float(s2["ds"]), rel=1e-5)
    # the logged terms are detached 0-dim tensors: train() reads them back without a wait per step
    assert all(torch.is_tensor(v) and v.dim() == 0 and not v.requires_grad for v in s1.values())


def test_caption_batches_on_a_device_match_the_cpu_batches():
    g = torch.Generator().manual_seed(0)
    tokens = torch.full((30, 9), PAD)
    for i in range(30):
        tokens[i, :3 + i % 6] = torch.randint(4, 20, (3 + i % 6,), generator=g)
    data = {"feats": torch.randn(6, 4, 3, generator=g), "tokens": tokens, "scene": torch.arange(30) // 5}
    plain = list(C.CaptionBatches(data, batch_size=8, seed=2))
    placed = list(C.CaptionBatches(data, batch_size=8, seed=2, device="cpu"))
    assert len(plain) == len(placed) == 4
    for a, b in zip(plain, placed):
        assert torch.equal(a["feats"], b["feats"]) and torch.equal(a["captions"], b["captions"])
        assert not (a["captions"][:, -1] == PAD).all(), "each batch is cut to its longest caption"


def test_a_tiny_batch_overfits():
    feats, caps = _batch(b=4, t=8)
    model = _model(attention="soft", query="updated", dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        logits, alphas = model(feats, caps)
        loss, _ = C.caption_loss(logits, caps, alphas)
        if loss.item() < 0.05:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    tokens, _ = C.greedy_decode(model, feats, max_len=10)
    for i in range(4):  # greedy decoding now reproduces the training captions
        n = int((caps[i] != PAD).sum()) - 1
        assert tokens[i, :n].tolist() == caps[i, 1:n + 1].tolist()


def test_doubly_stochastic_term():
    uniform = torch.full((2, 4, 4), 0.25)  # 4 steps over 4 cells: each cell gets exactly 1
    assert C.doubly_stochastic(uniform).item() == pytest.approx(0.0)
    peaked = torch.zeros(1, 2, 3)
    peaked[0, :, 0] = 1.0  # two steps on cell 0: (1-2)^2 + 1 + 1
    assert C.doubly_stochastic(peaked).item() == pytest.approx(3.0)
    mask = torch.tensor([[True, False]])  # the second step is padding: 0 + 1 + 1
    assert C.doubly_stochastic(peaked, mask).item() == pytest.approx(2.0)


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_greedy_and_beam_search(variant):
    feats, _ = _batch(b=3)
    model = _model(**variant)
    attention = variant["attention"]
    tokens, alphas = C.greedy_decode(model, feats, max_len=7)
    assert tokens.shape[0] == 3 and tokens.shape[1] <= 7
    beam1, _ = C.beam_search(model, feats, width=1, max_len=7)
    assert torch.equal(beam1, tokens)  # a beam of one is greedy
    beam, balphas = C.beam_search(model, feats, width=4, max_len=7)
    assert beam.shape[0] == 3
    if attention == "soft":
        assert alphas.shape == (*tokens.shape, 64) and balphas.shape == (*beam.shape, 64)
        for i, words in enumerate(C.caption_words(beam, Vocabulary([f"w{j}" for j in range(16)]))):
            assert torch.allclose(balphas[i, : len(words)].sum(-1), torch.ones(len(words)), atol=1e-5)
    else:
        assert alphas is None and balphas is None


def test_end_bonus_makes_captions_end_sooner():
    feats, _ = _batch(b=6)
    model = _model(attention="soft", query="updated")
    plain, _ = C.greedy_decode(model, feats, max_len=12)
    eager, _ = C.greedy_decode(model, feats, max_len=12, end_bonus=50.0)
    assert (eager[:, 0] == END).all()  # with a huge bonus the caption ends at once
    assert (plain != PAD).sum() >= (eager != PAD).sum()


def test_beam_search_step_by_hand():
    scores = torch.tensor([-1.0, -1.5])
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.05, 0.05, 0.1, 0.8]])
    new, parents, words = C.beam_search_step(scores, probs.log(), 3)
    assert parents.tolist() == [1, 0, 0] and words.tolist() == [3, 3, 2]
    assert new.tolist() == pytest.approx([-1.5 + math.log(0.8), -1 + math.log(0.4), -1 + math.log(0.3)])


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="attention"):
        C.ShowAttendTell(10, attention="hard")
    with pytest.raises(ValueError, match="query"):
        C.ShowAttendTell(10, query="next")
    model = _model(attention="soft", query="previous")
    with pytest.raises(ValueError, match="annotations"):
        model(torch.rand(2, 64, 5), torch.ones(2, 4, dtype=torch.long))


# ---------------------------------------------------------------- pointing against the truth


def test_pointing_against_true_boxes():
    scenes = make_scene([{"shape": "star", "colour": "red", "x": 0.25, "y": 0.25},
                         {"shape": "square", "colour": "blue", "x": 0.75, "y": 0.75}], "beach")
    r = render(scenes, size=64)
    boxes = torch.from_numpy(r.boxes)  # (1, 2, 4)
    shape, colour = torch.from_numpy(scenes.shape), torch.from_numpy(scenes.colour)  # (1, 2)
    words = [["a", "red", "sparkle", "and", "two", "blue", "boxes"]]
    alphas = torch.full((1, 7, 64), 0.1 / 63)
    alphas[0, :, 2 * 8 + 2] = 0.9  # every step looks at cell (2, 2): centre (20, 20) px, on the star
    out = C.pointing(words, alphas, boxes, shape, colour, 64)
    assert out["n_words"] == 4  # red, sparkle (a star), blue, boxes (squares)
    assert out["accuracy"] == pytest.approx(0.5)
    star_cells = C.cell_hits(boxes[0], shape[0], 3, 64).float().mean()  # 3 = star
    square_cells = C.cell_hits(boxes[0], shape[0], 1, 64).float().mean()
    assert out["uniform"] == pytest.approx(float(star_cells + square_cells) / 2)  # the same cells per object
    assert out["named_absent"] == 0.0
    none = C.pointing(words, None, boxes, shape, colour, 64)
    assert math.isnan(none["accuracy"]) and none["uniform"] == out["uniform"]


# ---------------------------------------------------------------- the API and bad input


def test_caption_images_api_and_bad_images():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=16, width=8).eval()
    vocab = Vocabulary(["a", "red", "star"])
    model = _model(attention="soft", query="updated", vocab=len(vocab))
    images = torch.rand(2, 3, 64, 64)
    out = C.caption_images(images, encoder, model, vocab, max_len=5)
    assert len(out) == 2 and out[0]["alphas"].shape == (len(out[0]["words"]), 64)
    rendered = render(make_scene([{"shape": "star", "colour": "red"}], "city")).images  # (1, 64, 64, 3) uint8
    assert len(C.caption_images(rendered, encoder, model, vocab, max_len=5)) == 1
    with pytest.raises(ValueError, match=r"images must have 3 colour channels"):
        C.caption_images(torch.rand(2, 1, 64, 64), encoder, model, vocab)
    with pytest.raises(ValueError, match=r"images must be 64x64"):
        C.caption_images(torch.rand(2, 3, 32, 32), encoder, model, vocab)
    with pytest.raises(ValueError, match=r"images must have shape"):
        C.caption_images(torch.rand(64, 64), encoder, model, vocab)


def test_caption_images_rejects_nan_0_255_floats_and_an_empty_batch():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=16, width=8).eval()
    vocab = Vocabulary(["a", "red", "star"])
    model = _model(attention="soft", query="updated", vocab=len(vocab))
    nan = torch.rand(2, 3, 64, 64)
    nan[1, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match=r"images contain NaN"):
        C.caption_images(nan, encoder, model, vocab)
    with pytest.raises(ValueError, match=r"images as floats must be in \[0, 1\].*0\.\.255"):
        C.caption_images(torch.rand(2, 3, 64, 64) * 255, encoder, model, vocab)
    with pytest.raises(ValueError, match=r"images is an empty batch"):
        C.caption_images(torch.zeros(0, 3, 64, 64), encoder, model, vocab)


# ---------------------------------------------------------------- exercise checks


def _unsolved(*args):
    raise NotImplementedError()


def _soft_attention_no_softmax(att, a, h):  # raw scores instead of weights
    e = att.score(torch.tanh(att.project(a) + att.hidden_proj(h)[:, None])).squeeze(-1)
    return (e[..., None] * a).sum(1), e


def _soft_attention_batch_softmax(att, a, h):  # the softmax over the batch axis
    e = att.score(torch.tanh(att.project(a) + att.hidden_proj(h)[:, None])).squeeze(-1)
    alpha = e.softmax(0)
    return (alpha[..., None] * a).sum(1), alpha


def _soft_attention_no_tanh(att, a, h):
    alpha = att.score(att.project(a) + att.hidden_proj(h)[:, None]).squeeze(-1).softmax(-1)
    return (alpha[..., None] * a).sum(1), alpha


def _soft_attention_mean_context(att, a, h):
    return att(a, h)[0] * 0 + a.mean(1), att(a, h)[1]


def _doubly_stochastic_no_mask(alphas, mask):
    return ((1 - alphas.sum(1)) ** 2).sum(1).mean()


def _doubly_stochastic_batch_sum(alphas, mask):
    return ((1 - (alphas * mask[..., None]).sum(1)) ** 2).sum()


def _beam_step_swapped(s, lp, w):
    v, i = (s[:, None] + lp).flatten().topk(w)
    return v, i % lp.shape[1], i // lp.shape[1]


def _beam_step_no_scores(s, lp, w):  # forgets the beams' scores so far
    v, i = lp.flatten().topk(w)
    return v, i // lp.shape[1], i % lp.shape[1]


EXERCISES = [  # (check, reference solution, [(typical mistake, words of the message)])
    (C.check_soft_attention, lambda att, a, h: att(a, h),
     [(_soft_attention_no_softmax, "softmax over the cells"), (_soft_attention_batch_softmax, "over the batch"),
      (_soft_attention_no_tanh, "tanh"), (_soft_attention_mean_context, "weigh each cell by its alpha")]),
    (C.check_doubly_stochastic, C.doubly_stochastic,
     [(_doubly_stochastic_no_mask, "padded steps count"), (_doubly_stochastic_batch_sum, "average it over the captions")]),
    (C.check_beam_step, C.beam_search_step,
     [(_beam_step_swapped, "swapped"), (_beam_step_no_scores, "add the score of the beam")]),
]
EXERCISE_IDS = ["soft-attention", "doubly-stochastic", "beam-step"]


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_passes_the_reference(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, reference).status == "passed"
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_names_the_typical_mistakes(check, reference, mistakes, capsys):
    for wrong, words in mistakes:
        result = checks.run("exercise", check, wrong)
        assert result.status == "failed" and words in result.message, (wrong.__name__, result.message)
        assert words in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistakes", EXERCISES, ids=EXERCISE_IDS)
def test_exercise_check_says_not_implemented_for_the_placeholder(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


# ---------------------------------------------------------------- figures and analysis


def _scenes_with_references(n=3):
    scenes = [make_scene([{"shape": "star", "colour": "red", "x": 0.3, "y": 0.3},
                          {"shape": "square", "colour": "blue", "x": 0.7, "y": 0.7}], "beach") for _ in range(n)]
    rendered = [render(s, size=64) for s in scenes]
    long = "a picture of a large red star to the left of a small blue square on the beach at night".split()
    return {"images": torch.cat([torch.from_numpy(r.images).permute(0, 3, 1, 2) for r in rendered]),  # (n, 3, 64, 64)
            "boxes": torch.cat([torch.from_numpy(r.boxes) for r in rendered]),  # (n, 2, 4)
            "shape": torch.cat([torch.from_numpy(s.shape) for s in scenes]),  # (n, 2)
            "colour": torch.cat([torch.from_numpy(s.colour) for s in scenes]),  # (n, 2)
            "references": [[long, long[:6], long * 2, ["a", "beach"], long[3:]] for _ in range(n)], "size": 64}


def test_reference_captions_of_different_scenes_do_not_overlap():
    import matplotlib.pyplot as plt

    fig = C_figures.plot_references(_scenes_with_references(), range(3))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for ax in fig.axes for t in ax.texts]
    assert len(boxes) == 3
    for j, a in enumerate(boxes):
        assert a.x0 >= 0 and a.y0 >= 0 and a.x1 <= fig.bbox.x1 and a.y1 <= fig.bbox.y1, "a caption leaves the figure"
        for b in boxes[j + 1:]:
            assert not a.overlaps(b), "the captions of two scenes overlap"
    plt.close(fig)


def test_attention_figures_draw_one_panel_per_word():
    import matplotlib.pyplot as plt

    data = _scenes_with_references(1)
    words = ["a", "red", "star", "and", "a", "blue", "box"]
    fig = C_figures.plot_hoped_attention(data, 0, words, grid=8)
    assert len(fig.axes) == len(words) + 1
    alphas = torch.softmax(torch.randn(len(words), 64), -1)  # (T, L)
    fig2 = C_figures.plot_attention_strip(data, 0, words, alphas, title="test")
    assert [ax.get_title() for ax in fig2.axes] == words
    plt.close("all")
    with pytest.raises(ValueError, match="words"):
        C_figures.plot_attention_strip(data, 0, [], alphas)


def test_word_hits_and_repeated_peaks():
    data = _scenes_with_references(1)
    words = ["a", "red", "star", "and", "a", "red", "star"]
    alphas = torch.zeros(7, 64)  # (T, L)
    star = int(C.cell_hits(data["boxes"][0], data["shape"][0], 3, 64).float().argmax())  # a cell on the star
    alphas[:, star] = 1.0
    assert C.word_hits(words, alphas, data, 0) == [True, True, True, True]
    alphas[5:, :] = 0.0
    alphas[5:, 0] = 1.0  # the second "red star" looks at the corner
    assert C.word_hits(words, alphas, data, 0) == [True, True, False, False]
    assert C.repeated_peaks([words], alphas[None]) == (0, 1)
    assert C.repeated_peaks([words, words], torch.stack([alphas, torch.zeros(7, 64)])) == (1, 2)


def test_train_captioner_keeps_the_trained_model_in_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    data = {"feats": torch.randn(6, 64, 16, generator=g),  # (N, L, D)
            "tokens": torch.cat([torch.full((12, 1), START), torch.randint(4, 20, (12, 4), generator=g),
                                 torch.full((12, 1), END)], 1),  # (M, T+1)
            "scene": torch.arange(12) // 2}  # (M,)
    first = _model().fit_feature_scale(data["feats"])
    h1 = C.train_captioner(first, data, epochs=2, batch_size=4, progress=False, cache_name="demo-captioner")
    second = _model().fit_feature_scale(data["feats"])
    h2 = C.train_captioner(second, data, epochs=2, batch_size=4, progress=False, cache_name="demo-captioner")
    assert "loaded trained demo-captioner" in capsys.readouterr().out
    assert h2.steps["loss"] == h1.steps["loss"] and h1.n_steps == 6
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    data["tokens"][0, 1] = 5 if int(data["tokens"][0, 1]) != 5 else 6  # other data: trained again
    C.train_captioner(_model().fit_feature_scale(data["feats"]), data, epochs=2, batch_size=4, progress=False,
                      cache_name="demo-captioner")
    assert "loaded" not in capsys.readouterr().out

