"""Tests of mmcourse.modality: matching, translating, referencing, the 1:N statistic and modality bias."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from mmcourse import checks, modality as M  # noqa: E402
from mmcourse.encoders import GridEncoder, encode  # noqa: E402
from mmcourse.world import SceneData  # noqa: E402
from mmcourse.world.catalog import COLOUR_NAMES, SCENE_TYPES, SHAPES  # noqa: E402


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, so nothing is read from or written to the course cache."""
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def not_grading(monkeypatch):
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)


def _reading(cells: dict[tuple[int, int], tuple[str, str]], scene: str = "beach", g: int = 8) -> M.Reading:
    """A hand-made encoder reading of one image: cell (row, col) -> (colour, shape)."""
    shape = torch.zeros(1, g, g, dtype=torch.long)  # (1, g, g)
    colour = torch.zeros(1, g, g, dtype=torch.long)  # (1, g, g)
    for (r, c), (col, sh) in cells.items():
        shape[0, r, c] = SHAPES.index(sh) + 1
        colour[0, r, c] = COLOUR_NAMES.index(col) + 1
    summary = torch.zeros(1, len(M.CONCEPTS))  # (1, C)
    return M.Reading(shape, colour, torch.tensor([SCENE_TYPES.index(scene)]), summary)


# ---------------------------------------------------------------- matching


def test_concept_words_know_synonyms_plurals_and_places():
    words = M.concept_words()
    assert words["box"] == words["blocks"] == M.CONCEPTS.index("square")
    assert words["crosses"] == words["plus"] == M.CONCEPTS.index("cross")
    assert words["woods"] == M.CONCEPTS.index("forest") and words["sand"] == M.CONCEPTS.index("beach")
    assert "the" not in words and "on" not in words


def test_text_concepts_and_match_scores():
    tc = M.text_concepts(["two red boxes in the woods", "there is one thing"])  # (2, C)
    assert tc.shape == (2, len(M.CONCEPTS))
    assert set(tc[0].nonzero().flatten().tolist()) == {M.CONCEPTS.index(w) for w in ("square", "red", "forest")}
    assert tc[1].sum() == 0
    image = torch.zeros(1, len(M.CONCEPTS))  # (1, C)
    image[0, M.CONCEPTS.index("square")] = image[0, M.CONCEPTS.index("red")] = 1.0
    scores = M.match_scores(image, tc)  # (1, 2)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx(2 / np.sqrt(6), abs=1e-6) and scores[0, 1] == 0
    with pytest.raises(ValueError, match="caption_concepts"):
        M.match_scores(image, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="texts"):
        M.text_concepts("a single string")
    with pytest.raises(ValueError, match="texts"):
        M.text_concepts(["a red star", 3])


def test_recall_at_k_counts_ties_against_the_image():
    scores = torch.tensor([[0.9, 0.1, 0.9], [0.2, 0.8, 0.1]])  # (2 images, 3 captions)
    owner = torch.tensor([0, 1, 1])  # caption 2 belongs to image 1
    # image 0: own caption 0 ties with caption 2 of image 1 -> not a top-1 hit; image 1: hit
    assert M.recall_at_k(scores, owner, 1) == 0.5
    assert M.recall_at_k(scores, owner, 2) == 1.0
    with pytest.raises(ValueError, match="owner"):
        M.recall_at_k(scores, torch.tensor([0, 1]), 1)
    with pytest.raises(ValueError, match="k must"):
        M.recall_at_k(scores, owner, 0)
    with pytest.raises(ValueError, match="scores"):
        M.recall_at_k(scores[0], owner, 1)


# ---------------------------------------------------------------- translating and referencing


def test_describe_and_answer_by_looking_on_a_hand_made_reading():
    cells = {(1, 1): ("red", "star"), (1, 2): ("red", "star"), (5, 5): ("blue", "square"), (6, 1): ("blue", "square")}
    reading = _reading(cells, scene="forest")
    assert M.describe_reading(reading, 0) == "a red star and two blue squares in the forest"
    ask = lambda text: M.answer_by_looking(text, reading, 0)  # noqa: E731
    assert ask("what colour is the sparkle?") == "red"
    assert ask("what shape is the blue thing?") == "square"
    assert ask("is there a red star?") == "yes"
    assert ask("are there any green objects?") == "no"
    assert ask("how many blue boxes are there?") == "two"
    assert ask("where is this?") == "forest"
    assert ask("what is left of the red star?") is None
    with pytest.raises(ValueError, match="i must"):
        M.answer_by_looking("where is this?", reading, 3)


def test_question_kind():
    assert M.question_kind("what is the colour of the box?") == "colour"
    assert M.question_kind("what kind of shape is the red thing?") == "shape"
    assert M.question_kind("how many stars can you see?") == "count"
    assert M.question_kind("are there any red objects?") == "exists"
    assert M.question_kind("where was this picture taken?") == "scene"
    assert M.question_kind("is the star above the circle?") == "relation"


def test_read_grid_shapes_with_an_untrained_encoder():
    torch.manual_seed(0)
    encoder = GridEncoder(dim=8, width=8).eval()
    images = torch.rand(3, 3, 64, 64)  # (N, 3, S, S)
    grid = encode(encoder, images, batch_size=2)  # (N, D, g, g)
    assert grid.shape == (3, 8, 8, 8)
    reading = M.read_grid(encoder, grid)
    assert reading.shape.shape == (3, 8, 8) and reading.colour.shape == (3, 8, 8)
    assert reading.scene.shape == (3,) and reading.summary.shape == (3, len(M.CONCEPTS))
    assert torch.allclose(reading.summary, encoder.summary(images), atol=1e-5)
    assert torch.equal(M.read_images(encoder, images).shape, reading.shape)
    with pytest.raises(ValueError, match="images"):
        M.read_images(encoder, torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="grid"):
        M.read_grid(encoder, torch.rand(3, 8, 8))


def test_recipes_paint_in_order_and_figures_draw(tmp_cache):
    data = SceneData("test", 12, size=32, min_objects=2, max_objects=4, max_overlap=0.5, verbose=False)
    picture = M.paint_recipe(data.recipes[0], size=32)  # (S, S, 3)
    assert picture.shape == (32, 32, 3) and picture.dtype == np.uint8
    changed = M.reverse_order_changes(data, size=32)
    assert set(changed) == set(range(12)) and all(0.0 <= c <= 1.0 for c in changed.values())
    assert max(changed.values()) > 0, "overlapping objects painted in reverse order must change some pixels"
    one = min(changed, key=changed.get)
    same = M.paint_recipe(data.recipes[one], 32, reverse=True) != M.paint_recipe(data.recipes[one], 32)
    assert same.any(-1).mean() == pytest.approx(changed[one])
    with pytest.raises(ValueError, match="reverse"):
        M.paint_recipe(data.recipes[0], 32, reverse="yes")
    with pytest.raises(ValueError, match="data"):
        M.reverse_order_changes(data.scenes, size=32)
    fig = M.plot_recipe_order(data, [0, 1], size=32)
    assert len(fig.axes) == 6
    fig = M.draw_three_ways()
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["matching", "translating", "referencing"]
    plt.close("all")


# ---------------------------------------------------------------- 1:N


def test_word_overlap_values_and_bad_input():
    assert M.word_overlap(["a red star", "a red star"]) == 1.0
    assert M.word_overlap(["a red star", "a red circle"]) == 0.5
    assert M.word_overlap(["a red star", "two blue boxes"]) == 0.0
    assert M.word_overlap(["a b", "a c", "a b"]) == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    with pytest.raises(ValueError, match="captions"):
        M.word_overlap(["only one"])


# ---------------------------------------------------------------- audio features and modality bias


def test_log_mel_stats_shape_and_silence_is_zero():
    rng = np.random.default_rng(0)
    clips = rng.standard_normal((3, 4000)).astype(np.float32)  # (N, T)
    clips[1] = 0.0
    feats = M.log_mel_stats(clips, n_mels=16, n_fft=256)  # (N, 32)
    assert feats.shape == (3, 32) and feats.dtype == torch.float32
    assert torch.all(feats[1] == 0) and torch.all(feats[0] > 0)
    assert torch.equal(feats, M.log_mel_stats(torch.from_numpy(clips), n_mels=16, n_fft=256, batch_size=1))
    with pytest.raises(ValueError, match="clips"):
        M.log_mel_stats(np.zeros(4000, np.float32))


@pytest.mark.parametrize("clips, sample_rate, message", [
    (np.zeros((2, 4000), np.int16), 16000, "clips must be float.*32767"),
    (np.full((2, 4000), np.nan, np.float32), 16000, "NaN"),
    (np.zeros((0, 4000), np.float32), 16000, "clips"),
    (np.zeros((2, 4000), np.float32), 16, "sample_rate"),
    ([[0.0] * 4000], 16000, "clips must be a tensor"),
])
def test_log_mel_stats_refuses_bad_input(clips, sample_rate, message):
    with pytest.raises(ValueError, match=message):
        M.log_mel_stats(clips, sample_rate)


def test_modality_dropout_drops_whole_rows_without_rescaling():
    x = torch.rand(1000, 4) + 1.0  # (B, A)
    assert torch.equal(M.modality_dropout(x, 0.0), x)
    assert torch.all(M.modality_dropout(x, 1.0) == 0)
    out = M.modality_dropout(x, 0.5, torch.Generator().manual_seed(0))  # (B, A)
    dropped = (out == 0).all(1)  # (B,)
    assert torch.equal(out[~dropped], x[~dropped]) and 0.4 < dropped.float().mean() < 0.6
    again = M.modality_dropout(x, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match="p must"):
        M.modality_dropout(x, 1.5)
    with pytest.raises(ValueError, match="x must"):
        M.modality_dropout(x.numpy(), 0.5)


def _toy_data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 6, 2, 2, generator=g), torch.rand(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_classifier_shapes_gradients_and_bad_input():
    torch.manual_seed(0)
    model = M.AudioVisualClassifier(image_dim=6, audio_dim=5, n_classes=3, hidden=8)
    grid, audio, label = _toy_data()
    logits = model(grid, audio)  # (B, 3)
    assert logits.shape == (40, 3)
    loss, extra = M.classifier_loss(model, (grid, audio, label))
    assert torch.is_tensor(extra["acc"]) and extra["acc"].dim() == 0 and not extra["acc"].requires_grad
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="grid"):
        model(torch.rand(40, 7, 2, 2), audio)
    with pytest.raises(ValueError, match="audio"):
        model(grid, torch.rand(40, 4))
    with pytest.raises(ValueError, match="audio_dropout"):
        M.AudioVisualClassifier(6, 5, 3, audio_dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        M.AudioVisualClassifier(6, 5, 3, hidden=0)
    with pytest.raises(ValueError, match="image_dropout"):
        M.AudioVisualClassifier(6, 5, 3, image_dropout=-0.1)


def test_image_dropout_zeroes_whole_grids_while_training():
    torch.manual_seed(0)
    model = M.AudioVisualClassifier(6, 5, 3, hidden=8, image_dropout=0.5)
    seen = []
    model.image_branch.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    grid, audio, _ = _toy_data(200)
    model.train()
    model(grid + 1.0, audio)
    dropped = (seen[-1] == 0).flatten(1).all(1)  # (B,)
    assert 0.35 < dropped.float().mean() < 0.65 and not (seen[-1][~dropped] == 0).any()
    model.eval()
    model(grid + 1.0, audio)
    assert not (seen[-1] == 0).any(), "eval mode must not drop the image"


def test_tiny_batch_overfits_and_dropout_only_while_training():
    torch.manual_seed(0)
    model = M.AudioVisualClassifier(6, 5, 3, hidden=32, audio_dropout=0.5)
    grid, audio, label = _toy_data(16)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(100):
        model.train()
        loss, _ = M.classifier_loss(model, (grid, audio, label))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model(grid, audio), model(grid, audio)), "eval mode must not drop the audio"
    assert M.accuracy(model, grid, audio, label) == 1.0
    assert model.training is False


def test_accuracy_without_audio_feeds_zeros():
    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = []

        def forward(self, grid, audio):
            self.seen.append(audio.clone())
            return torch.zeros(len(audio), 2)

    spy = Spy()
    grid, audio, _ = _toy_data(10)
    assert M.accuracy(spy, grid, audio, torch.zeros(10, dtype=torch.long), without_audio=True) == 1.0
    assert torch.all(spy.seen[-1] == 0)
    with pytest.raises(ValueError, match="same number"):
        M.accuracy(spy, grid, audio, torch.zeros(9, dtype=torch.long))


# ---------------------------------------------------------------- the audio-visual task and its training


def _toy_task(seed: int = 0) -> M.AudioVisualTask:
    """Features where both modalities name the class: the audio in one feature, the image in one cell channel."""
    g = torch.Generator().manual_seed(seed)
    splits = {}
    for split, n in (("train", 120), ("val", 40), ("test", 40)):
        label = torch.randint(0, len(SHAPES), (n,), generator=g)  # (n,)
        grid = 0.1 * torch.rand(n, 6, 2, 2, generator=g)  # (n, D, g, g)
        grid[torch.arange(n), label, 0, 0] += 1.0
        audio = 0.1 * torch.rand(n, 8, generator=g)  # (n, A)
        audio[torch.arange(n), label] += 1.0
        splits[split] = {"grid": grid, "audio": audio, "label": label}
    return M.AudioVisualTask(splits, {"grid": 1.0, "audio": 1.0})


def test_task_inputs_batches_and_bad_input():
    task = _toy_task()
    grid, audio, label = task.inputs("val", drop="audio")
    assert grid.shape == (40, 6, 2, 2) and torch.all(audio == 0) and label.shape == (40,)
    assert torch.all(task.inputs("val", drop="image")[0] == 0)
    batches = task.batches("train", batch_size=50, seed=0)
    assert len(batches) == 3 and [len(b[2]) for b in batches] == [50, 50, 20]
    placed = task.batches("train", batch_size=50, seed=0, device="cpu")  # the same batches, gathered on the device
    assert all(torch.equal(x, y) for a, b in zip(task.batches("train", 50, 0), placed) for x, y in zip(a, b))
    first, second = [torch.cat([b[2] for b in batches]) for _ in range(2)]
    assert not torch.equal(first, second) and torch.equal(first.sort().values, second.sort().values)
    assert "train 120" in repr(task) and task.fingerprint() == _toy_task().fingerprint() != _toy_task(1).fingerprint()
    with pytest.raises(ValueError, match="split"):
        task.inputs("training")
    with pytest.raises(ValueError, match="drop"):
        task.inputs("val", drop="sound")
    with pytest.raises(ValueError, match="batch_size"):
        task.batches("train", 0)
    with pytest.raises(ValueError, match="sizes"):
        M.AudioVisualTask.build(GridEncoder(dim=8, width=8), {"train": 10, "val": 5})


def test_task_build_from_the_world(tmp_cache):
    torch.manual_seed(0)
    encoder = GridEncoder(dim=8, width=8).eval()
    task = M.AudioVisualTask.build(encoder, {"train": 6, "val": 3, "test": 3}, image_size=64, verbose=False)
    train_split = task.splits["train"]
    assert train_split["grid"].shape == (6, 8, 8, 8) and train_split["audio"].shape == (6, 64)
    assert train_split["label"].dtype == torch.int64 and train_split["label"].max() < len(SHAPES)
    for key in ("grid", "audio"):  # divided by the training root-mean-square
        assert float(train_split[key].square().mean().sqrt()) == pytest.approx(1.0, rel=1e-4)
    # the perfect reader: the one-hot true shape of each cell, scaled the same way; audio and labels unchanged
    perfect = task.perfect_image()
    grid = perfect.splits["train"]["grid"]
    assert grid.shape == (6, len(SHAPES), 8, 8)
    assert float(grid.square().mean().sqrt()) == pytest.approx(1.0, rel=1e-4)
    for split in ("train", "val", "test"):
        cells, label = perfect.splits[split]["cells"], perfect.splits[split]["label"]
        assert torch.equal(perfect.splits[split]["audio"], task.splits[split]["audio"])
        on = perfect.splits[split]["grid"].argmax(1)  # (n, g, g) the channel that is hot
        assert torch.equal((perfect.splits[split]["grid"] > 0).any(1), cells > 0)
        assert torch.equal(on[cells > 0], cells[cells > 0] - 1)
        assert all(set(cells[i][cells[i] > 0].tolist()) == {int(label[i]) + 1} for i in range(len(label)))
    with pytest.raises(ValueError, match="per-cell"):
        _toy_task().perfect_image()


def test_train_classifier_is_seeded_cached_and_learns(tmp_cache):
    task = _toy_task()
    settings = dict(hidden=16, epochs=3, batch_size=32, lr=1e-2, progress=False, verbose=False)
    model, history = M.train_classifier(task, seed=3, use_cache=False, **settings)
    again, _ = M.train_classifier(task, seed=3, use_cache=False, **settings)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b), "the same seed must give the same model"
    assert history.n_epochs == 3 and len(history.epochs["val_acc"]) == 3
    assert task.accuracy(model) > 0.9
    cached, cached_history = M.train_classifier(task, seed=3, **settings)  # trains and stores
    assert list(tmp_cache.glob("modality_classifier-*.pt"))
    loaded, loaded_history = M.train_classifier(task, seed=3, **settings)  # reads back
    for a, b in zip(cached.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert loaded_history.epochs["val_acc"] == cached_history.epochs["val_acc"]
    other, _ = M.train_classifier(task, seed=4, **settings)
    assert not torch.equal(other.head.weight, cached.head.weight)
    state = torch.get_rng_state()
    M.train_classifier(task, seed=3, **settings)
    assert torch.equal(state, torch.get_rng_state()), "training must not move the global random state"
    with pytest.raises(ValueError, match="task"):
        M.train_classifier(task.splits, **settings)
    with pytest.raises(ValueError, match="drop"):
        M.train_classifier(task, drop="sound", **settings)
    with pytest.raises(ValueError, match="epochs"):
        M.train_classifier(task, **{**settings, "epochs": 0})


def test_audio_gap_and_plot_curves():
    task = _toy_task()
    model, history = M.train_classifier(task, hidden=8, epochs=2, progress=False, use_cache=False)
    gap = task.audio_gap(model)
    assert gap == pytest.approx(100 * (task.accuracy(model) - task.accuracy(model, drop="audio")))
    curves = {"with audio": history.epochs["val_acc"], "audio removed": history.epochs["val_acc_without_audio"]}
    ax = M.plot_curves(curves, title="a model")
    assert len(ax.lines) == 2 and list(ax.lines[0].get_xdata()) == [1, 2] and ax.get_title() == "a model"
    with pytest.raises(ValueError, match="curves"):
        M.plot_curves({})
    with pytest.raises(ValueError, match="empty"):
        M.plot_curves({"nothing": []})
    plt.close("all")


# ---------------------------------------------------------------- exercise checks


def test_exercise_checks_pass_on_the_reference():
    M.check_recall_at_k(M.recall_at_k)
    M.check_modality_dropout(M.modality_dropout)
    M.check_word_overlap(M.word_overlap)


def _recall_rank_at_most_k(scores, owner, k):
    own = owner[None, :] == torch.arange(scores.shape[0])[:, None]
    best = scores.masked_fill(~own, -float("inf")).amax(1)
    rank = (scores.masked_fill(own, -float("inf")) >= best[:, None]).sum(1)
    return float((rank <= k).float().mean())


def _recall_topk(scores, owner, k):
    top = scores.topk(k, dim=1).indices  # (N, k)
    return float((owner[top] == torch.arange(scores.shape[0])[:, None]).any(1).float().mean())


def _recall_in_place(scores, owner, k):
    own = owner[None, :] == torch.arange(scores.shape[0])[:, None]
    best = scores.masked_fill(~own, -float("inf")).amax(1)
    scores.masked_fill_(own, -float("inf"))
    return float(((scores >= best[:, None]).sum(1) < k).float().mean())


@pytest.mark.parametrize("wrong, message", [
    (M._recall_first_own, "ANY of its own captions"),
    (_recall_rank_at_most_k, "rank < k"),
    (_recall_topk, "ties"),
    (M._recall_optimistic, "ties against the image"),
    (lambda scores, owner, k: 100 * M.recall_at_k(scores, owner, k), "not a count or a percentage"),
    (_recall_in_place, "in place"),
    (lambda scores, owner, k: [0.5], "one number"),
])
def test_recall_check_explains_mistakes(wrong, message):
    with pytest.raises(checks.CheckFailed, match=message):
        M.check_recall_at_k(wrong)


def _keep_share(x, p, generator=None):
    keep = torch.rand(x.shape[0], generator=generator) < p
    return x * keep.view(-1, *([1] * (x.dim() - 1)))


def _rescaled(x, p, generator=None):
    keep = (torch.rand(x.shape[0], generator=generator) >= p).float().view(-1, *([1] * (x.dim() - 1)))
    return x * keep / max(1 - p, 1e-6)


def _per_feature(x, p, generator=None):
    return x * (torch.rand(x.shape, generator=generator) >= p)


def _in_place(x, p, generator=None):
    keep = torch.rand(x.shape[0], generator=generator) >= p
    x[~keep] = 0
    return x


@pytest.mark.parametrize("wrong, message", [
    (_rescaled, "does not rescale"),
    (_per_feature, "whole examples"),
    (_in_place, "in place"),
    (_keep_share, "probability to DROP"),
    (lambda x, p, generator=None: x, "p=1"),
])
def test_modality_dropout_check_explains_mistakes(wrong, message):
    with pytest.raises(checks.CheckFailed, match=message):
        M.check_modality_dropout(wrong)


def _list_overlap(captions):
    from itertools import combinations

    from mmcourse.world.vocab import tokenize

    scores = []
    for a, b in combinations([tokenize(c) for c in captions], 2):
        shared = [w for w in a if w in b]
        scores.append(len(shared) / len(set(a) | set(b)))
    return float(np.mean(scores))


def _one_sided(captions):
    from itertools import combinations

    from mmcourse.world.vocab import tokenize

    sets = [set(tokenize(c)) for c in captions]
    return float(np.mean([len(a & b) / len(a) for a, b in combinations(sets, 2)]))


def _first_pair_only(captions):
    from mmcourse.world.vocab import tokenize

    a, b = set(tokenize(captions[0])), set(tokenize(captions[1]))
    return len(a & b) / len(a | b)


@pytest.mark.parametrize("wrong, message", [
    (_one_sided, "union"),
    (_list_overlap, "sets"),
    (_first_pair_only, "all 3 pairs"),
    (lambda captions: [1.0], "one number"),
])
def test_word_overlap_check_explains_mistakes(wrong, message):
    with pytest.raises(checks.CheckFailed, match=message):
        M.check_word_overlap(wrong)


def _unsolved(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check", [M.check_recall_at_k, M.check_word_overlap, M.check_modality_dropout])
def test_unsolved_exercise_says_not_implemented(check, capsys, not_grading):
    result = checks.run("an exercise", check, _unsolved)
    assert result.status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("check, answer", [
    (M.check_recall_at_k, M.recall_at_k), (M.check_word_overlap, M.word_overlap),
    (M.check_modality_dropout, M.modality_dropout),
])
def test_reference_answers_pass_through_checks_run(check, answer, capsys, not_grading):
    assert checks.run("an exercise", check, answer).status == "passed"
    assert "all checks passed" in capsys.readouterr().out
