import pytest
import torch
from torch import nn

import mmcourse
from mmcourse.training import History, TensorBatches, train


def _tiny_problem():
    mmcourse.seed_everything(0)
    x = torch.randn(16, 4)  # (16, 4)
    y = torch.randint(0, 3, (16,))  # (16,)
    return [(x, y)], nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))


def _step(model, batch):
    x, y = batch
    logits = model(x)  # (B, 3)
    loss = nn.functional.cross_entropy(logits, y)
    return loss, {"acc": (logits.argmax(1) == y).float().mean()}


def test_tiny_model_overfits_tiny_batch():
    batches, model = _tiny_problem()
    history = train(model, batches, _step, epochs=300, lr=1e-2, progress=False)
    assert history.steps["loss"][-1] < 0.05 < history.steps["loss"][0]
    assert history.last("acc") == 1.0
    assert history.n_steps == 300 and history.seconds > 0


def test_training_is_deterministic():
    runs = []
    for _ in range(2):
        batches, model = _tiny_problem()
        runs.append(train(model, batches, _step, epochs=5, progress=False).steps["loss"])
    assert runs[0] == runs[1]


def test_time_budget_is_a_loud_safety_stop(capsys):
    batches, model = _tiny_problem()
    history = train(model, batches * 1000, _step, epochs=100, time_budget=0.05, progress=False, desc="demo")
    assert history.stopped_early and history.n_steps < 100 * 1000
    err = capsys.readouterr().err
    assert "WARNING: demo hit its safety time budget" in err
    assert f"after {history.n_steps} of 100000 planned steps" in err
    assert "under-trained model and will not be cached" in err


def test_a_run_within_its_budget_says_nothing():
    batches, model = _tiny_problem()
    history = train(model, batches, _step, epochs=3, time_budget=600, progress=False)
    assert not history.stopped_early and history.n_steps == 3


def test_time_budget_counts_the_steps_of_this_call(capsys):
    batches, model = _tiny_problem()
    history = train(model, batches, _step, epochs=2, progress=False)
    train(model, (b for b in batches * 1000), _step, time_budget=0.05, history=history, progress=False)
    done = history.n_steps - 2
    assert history.stopped_early and f"after {done} steps (fewer than planned)" in capsys.readouterr().err


def test_evaluate_records_epoch_metrics():
    batches, model = _tiny_problem()
    history = train(model, batches, _step, epochs=3, progress=False, evaluate=lambda m: {"val": 1.0})
    assert history.epochs["val"] == [1.0, 1.0, 1.0]


def test_gradient_clipping_limits_the_norm():
    model = nn.Linear(1, 1, bias=False)
    norms = []

    def step(m, batch):
        return (m(batch) * 1e6).sum()

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            norms.append(model.weight.grad.norm().item())
            return super().step(closure)

    train(model, [torch.ones(4, 1)], step, optimizer=Spy(model.parameters(), lr=0.0), clip_grad=1.0, progress=False)
    assert norms[0] == pytest.approx(1.0, rel=1e-4)


def test_bad_arguments_and_nan_loss():
    batches, model = _tiny_problem()
    with pytest.raises(ValueError, match="epochs"):
        train(model, batches, _step, epochs=0)
    with pytest.raises(ValueError, match="time_budget"):
        train(model, batches, _step, time_budget=-1)
    with pytest.raises(FloatingPointError, match="learning rate"):
        train(model, batches, lambda m, b: m(b[0]).sum() * float("nan"), progress=False)


def test_history_plot_and_repr():
    import matplotlib

    matplotlib.use("Agg")
    h = History()
    h.steps["loss"] += [3.0, 2.0, 1.0]
    h.n_steps = 3
    ax = h.plot()
    assert ax.get_xlabel() == "training step"
    assert "3 steps" in repr(h)
    with pytest.raises(KeyError, match="never recorded"):
        h.last("acc")


def test_reading_back_every_few_steps_logs_the_same_numbers():
    batches, model = _tiny_problem()
    each = train(model, batches, _step, epochs=3, progress=False, device="cpu")
    batches, model = _tiny_problem()
    grouped = train(model, batches, _step, epochs=3, progress=False, device="cpu", sync_every=7)
    assert grouped.n_steps == each.n_steps
    assert grouped.steps["loss"] == each.steps["loss"]


def test_a_late_read_still_names_the_step_of_the_bad_loss():
    batches, model = _tiny_problem()
    calls = []

    def step(m, b):
        calls.append(1)
        loss, extra = _step(m, b)
        return (loss * float("nan") if len(calls) == 3 else loss), extra

    with pytest.raises(FloatingPointError, match="at step 2;"):
        train(model, batches, step, epochs=10, progress=False, device="cpu", sync_every=5)


def test_bf16_autocast_trains_and_logs_float32_numbers():
    batches, model = _tiny_problem()
    history = train(model, batches, _step, epochs=20, progress=False, device="cpu", amp=True)
    assert all(isinstance(v, float) for v in history.steps["loss"])
    assert history.steps["loss"][-1] < history.steps["loss"][0]
    assert next(model.parameters()).dtype == torch.float32  # autocast casts activations, never the weights


def test_bad_amp_and_sync_every_are_named():
    batches, model = _tiny_problem()
    with pytest.raises(ValueError, match="sync_every"):
        train(model, batches, _step, sync_every=0)
    with pytest.raises(ValueError, match="amp"):
        train(model, batches, _step, amp="bf16")


def test_tensor_batches_are_the_dataloader_batches():
    x = torch.arange(50).float()[:, None].repeat(1, 3)  # (50, 3)
    y = torch.arange(50)  # (50,)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                         generator=torch.Generator().manual_seed(7))
    ours = TensorBatches(x, y, batch_size=16, generator=torch.Generator().manual_seed(7), device="cpu")
    assert len(ours) == len(loader) == 4
    for _ in range(3):  # several epochs: the generator is drawn from exactly as the DataLoader draws from it
        for (a, b), (c, d) in zip(loader, ours, strict=True):
            assert torch.equal(a, c) and torch.equal(b, d)
    with pytest.raises(ValueError, match="same number"):
        TensorBatches(x, y[:10], batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(x, batch_size=0)
