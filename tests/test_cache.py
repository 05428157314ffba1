import importlib
import sys
import textwrap

import pytest
import torch

from mmcourse import cache
from mmcourse.training import History, train


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    return tmp_path


def test_cached_builds_once_then_reads(capsys):
    calls = []

    def build():
        calls.append(1)
        return {"x": torch.arange(5), "words": ["a", "b"], "n": 3}

    first = cache.cached("demo", {"n": 3}, build)
    second = cache.cached("demo", {"n": 3}, build)
    assert len(calls) == 1
    assert torch.equal(first["x"], second["x"]) and second["words"] == ["a", "b"]
    cache.cached("demo", {"n": 4}, build)  # another config is another entry
    assert len(calls) == 2


def test_corrupted_file_is_reported_in_one_line_and_rebuilt(capsys):
    cache.cached("demo", {"n": 1}, lambda: {"x": torch.ones(100)})
    path = cache.cache_path("demo", {"n": 1})
    path.write_bytes(path.read_bytes()[:50])  # truncate
    capsys.readouterr()
    data = cache.cached("demo", {"n": 1}, lambda: {"x": torch.zeros(100)})
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "rebuilding" in out[0] and "Traceback" not in out[0]
    assert torch.equal(data["x"], torch.zeros(100))


def test_garbage_file_is_rebuilt(capsys):
    path = cache.cache_path("demo", {"n": 2})
    path.write_bytes(b"not a torch file at all")
    data = cache.cached("demo", {"n": 2}, lambda: [1, 2])
    assert data == [1, 2]
    assert "unreadable" in capsys.readouterr().out


def test_stale_file_is_rebuilt(capsys):
    path = cache.cache_path("demo", {"n": 5})
    cache.save([0], path, meta={"name": "demo", "version": "0.0.0"})
    assert cache.cached("demo", {"n": 5}, lambda: [5]) == [5]
    assert "stale" in capsys.readouterr().out


def test_cached_model_trains_once_and_survives_corruption(capsys):
    fits = []

    def fit(model):
        fits.append(1)
        with torch.no_grad():
            model.weight.fill_(2.0)

    net = cache.cached_model("net", {"w": 1}, torch.nn.Linear(2, 2), fit)
    again = cache.cached_model("net", {"w": 1}, torch.nn.Linear(2, 2), fit)
    assert len(fits) == 1 and torch.all(again.weight == 2.0)
    (path,) = cache.cache_dir().glob("net-*.pt")
    path.write_bytes(b"\x00" * 10)
    capsys.readouterr()
    cache.cached_model("net", {"w": 1}, torch.nn.Linear(2, 2), fit)
    assert len(fits) == 2
    out = capsys.readouterr().out
    assert "training it again" in out and "Traceback" not in out
    # weights of another architecture are retrained, not a shape traceback
    cache.cached_model("net", {"w": 1}, torch.nn.Linear(3, 2), fit)
    assert len(fits) == 3


def test_weights_are_loaded_safely(tmp_cache):
    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    path = cache.cache_path("evil", {})
    torch.save({"__mmcourse_meta__": {}, "data": Evil()}, path)
    with pytest.raises(cache.CacheError, match="unreadable"):
        cache.load(path)


def test_bad_names_and_configs():
    with pytest.raises(ValueError, match="name"):
        cache.cache_path("../x", {})
    with pytest.raises(TypeError, match="config"):
        cache.config_key([1, 2])


def test_clear(tmp_cache):
    cache.cached("a", {}, lambda: 1)
    cache.cached("b", {}, lambda: 2)
    assert cache.clear("a") == 1
    assert cache.clear() == 1


def test_fingerprint_follows_values_shapes_and_dtypes():
    a = torch.arange(6.0)
    assert cache.fingerprint(a) == cache.fingerprint(a.clone())
    assert cache.fingerprint(a) != cache.fingerprint(a + 1e-3)
    assert cache.fingerprint(a) != cache.fingerprint(a.view(2, 3))
    assert cache.fingerprint(a) != cache.fingerprint(a.double())
    assert cache.fingerprint(a, a) != cache.fingerprint(a)
    with pytest.raises(TypeError, match=r"objects\[1\]"):
        cache.fingerprint(a, [1, 2])


def test_fingerprint_of_a_module_follows_its_weights():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    same = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    same.load_state_dict(net.state_dict())
    assert cache.fingerprint(net) == cache.fingerprint(same)
    with torch.no_grad():
        same[0].weight[0, 0] += 1e-4
    assert cache.fingerprint(net) != cache.fingerprint(same)
    same.load_state_dict(net.state_dict())
    same[1].running_mean += 1  # a buffer is part of what the module computes
    assert cache.fingerprint(net) != cache.fingerprint(same)


def test_cache_folder_that_is_a_file_gets_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    for path in (blocker, blocker / "inside"):
        monkeypatch.setenv("MMCOURSE_CACHE", str(path))
        with pytest.raises(ValueError, match="MMCOURSE_CACHE") as error:
            cache.cached("demo", {}, lambda: 1)
        assert str(path) in str(error.value) and "not a folder" in str(error.value)


def test_cached_training_keeps_weights_and_history(capsys):
    def fit(model):
        calls.append(1)
        batches = [(torch.randn(8, model.in_features), torch.randn(8, 1)) for _ in range(5)]
        return train(model, batches, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), epochs=2,
                     lr=1e-2, progress=False)

    calls = []
    torch.manual_seed(0)
    first = torch.nn.Linear(3, 1)
    h1 = cache.cached_training("lesson-demo", {"seed": 0}, first, fit)
    second = torch.nn.Linear(3, 1)  # other initial weights
    h2 = cache.cached_training("lesson-demo", {"seed": 0}, second, fit)
    assert len(calls) == 1 and "loaded trained lesson-demo" in capsys.readouterr().out
    assert torch.equal(first.weight, second.weight)
    assert h2.steps["loss"] == h1.steps["loss"] and h2.n_steps == h1.n_steps == 10 and h2.seconds == h1.seconds
    cache.cached_training("lesson-demo", {"seed": 1}, torch.nn.Linear(3, 1), fit)  # other settings: trains
    assert len(calls) == 2
    # weights of another architecture under the same key: reported in one line and trained again
    h3 = cache.cached_training("lesson-demo", {"seed": 0}, torch.nn.Linear(4, 1), fit)
    assert "does not fit" in capsys.readouterr().out and len(calls) == 3 and h3.n_steps == 10


# ----------------------------------------------------------------------------------------
# The code is part of the key
# ----------------------------------------------------------------------------------------

LESSON_CODE = """
import torch
from torch import nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x):
        return self.linear(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x)


def loss(model, batch):
    \"\"\"The squared error.\"\"\"
    x, y = batch
    return ((model(x) - y) ** 2).mean()
"""


@pytest.fixture
def lesson(tmp_path, monkeypatch):
    """A module that a test can edit and reload, as a learner edits a lesson's code."""
    folder = tmp_path / "src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def write(old: str = "", new: str = ""):
        (folder / "lesson_code.py").write_text(textwrap.dedent(LESSON_CODE).replace(old, new))
        importlib.invalidate_caches()
        if "lesson_code" in sys.modules:
            return importlib.reload(sys.modules["lesson_code"])
        return importlib.import_module("lesson_code")

    yield write
    sys.modules.pop("lesson_code", None)


def _train_with(module, calls):
    def fit(model):
        calls.append(1)
        torch.manual_seed(0)
        batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(3)]
        return train(model, batches, module.loss, lr=1e-2, progress=False)

    return cache.cached_training("lesson-net", {"seed": 0}, module.Net(), fit, code=(module.loss,))


def test_a_changed_loss_misses_the_cache(lesson):
    calls = []
    _train_with(lesson(), calls)
    _train_with(lesson(), calls)
    assert len(calls) == 1  # same code: read back
    _train_with(lesson("** 2).mean()", ").abs().mean()"), calls)  # the loss became L1
    assert len(calls) == 2
    _train_with(lesson(), calls)  # back to the first loss: its entry is still there
    assert len(calls) == 2


def test_comments_and_docstrings_do_not_retrain(lesson):
    calls = []
    _train_with(lesson(), calls)
    _train_with(lesson('"""The squared error."""', '"""The mean squared error."""  # (B, 1)'), calls)
    assert len(calls) == 1


def test_a_changed_submodule_class_misses_the_cache(lesson):
    calls = []
    _train_with(lesson(), calls)
    _train_with(lesson("return self.linear(x)", "return self.linear(x).tanh()"), calls)
    assert len(calls) == 2


def test_code_fingerprint_follows_the_code(lesson):
    first = lesson()
    key = cache.code_fingerprint(first.loss, first.Net)
    assert cache.code_fingerprint(first.loss, first.Net) == key
    assert cache.code_fingerprint(first.Net, first.loss) != key  # order counts
    edited = lesson("x, y = batch", "x, y = batch[0], batch[1]")
    assert cache.code_fingerprint(edited.loss, edited.Net) != key
    assert cache.code_fingerprint(len, torch.nn.functional.mse_loss)  # built-ins count by name


def test_a_stopped_run_is_never_cached(capsys):
    calls = []

    def fit(model, stop=True):
        calls.append(1)
        history = History()
        history.n_steps, history.stopped_early = 3, stop
        return history

    first = cache.cached_training("lesson-stop", {}, torch.nn.Linear(2, 1), fit)
    assert first.stopped_early and "NOT cached" in capsys.readouterr().out
    assert not list(cache.cache_dir().glob("lesson-stop-*.pt"))
    cache.cached_training("lesson-stop", {}, torch.nn.Linear(2, 1), fit)
    assert len(calls) == 2  # trained again
    cache.cached_model("model-stop", {}, torch.nn.Linear(2, 1), fit)
    assert not list(cache.cache_dir().glob("model-stop-*.pt"))


def test_a_run_stopped_by_the_time_budget_is_not_cached(capsys):
    calls = []

    def fit(model):
        calls.append(1)
        batches = [(torch.randn(4, 3), torch.randn(4, 1))] * 1000
        return train(model, batches, lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(), epochs=1000,
                     time_budget=0.05, progress=False)

    history = cache.cached_training("lesson-budget", {}, torch.nn.Linear(3, 1), fit)
    assert history.stopped_early and history.n_steps < 1000 * 1000
    assert "will not be cached" in capsys.readouterr().err
    assert not list(cache.cache_dir().glob("lesson-budget-*.pt"))


def test_fit_must_return_a_history_for_cached_training():
    with pytest.raises(TypeError, match="History"):
        cache.cached_training("lesson-none", {}, torch.nn.Linear(2, 1), lambda m: None)
    assert not list(cache.cache_dir().glob("lesson-none-*.pt"))  # nothing half-made is stored


def test_a_file_that_does_not_fit_is_trained_from_the_initial_weights(capsys):
    start = []

    def fit(model):
        start.append(model.weight.detach().clone())

    cache.cached_model("net", {}, torch.nn.Linear(2, 2), fit)
    (path,) = cache.cache_dir().glob("net-*.pt")
    stored = cache.load(path)
    stored["state"]["bias"] = torch.zeros(5)  # the weight loads, the bias does not
    cache.save(stored, path, meta=torch.load(path, weights_only=True)["__mmcourse_meta__"])
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    initial = model.weight.detach().clone()
    cache.cached_model("net", {}, model, fit)
    assert "does not fit" in capsys.readouterr().out
    assert torch.equal(start[-1], initial)
