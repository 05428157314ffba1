import pytest
import torch

from mmcourse import cache


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
    path = cache.cache_path("net", {"w": 1})
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
    with pytest.raises(TypeError, match=r"tensors\[1\]"):
        cache.fingerprint(a, [1, 2])


def test_cached_training_keeps_weights_and_history(capsys):
    from mmcourse.training import train

    def fit(model):
        calls.append(1)
        batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(5)]
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
    h3 = cache.cached_training("lesson-demo", {"seed": 0}, torch.nn.Linear(4, 1), lambda m: h1)
    assert "does not fit" in capsys.readouterr().out and h3 is h1
