"""One training loop for every lesson.

:func:`train` takes a model, an iterable of batches and a ``step`` function that returns
the loss (and optionally other numbers to log). It shows a ``tqdm`` progress bar, keeps a
:class:`History`, clips gradients and moves batches to the device.

On an accelerator it keeps the device busy: the step runs under bf16 autocast on CUDA, and
the logged numbers are read back to the host every few steps rather than after every step
(each read waits for the device to finish its queue). On the CPU every step is read at once,
so a lesson run on a laptop is step-for-step what it always was.

A lesson trains a fixed number of epochs, so its numbers depend on its settings and seed,
never on how busy the machine is. ``time_budget`` is only a safety stop, set far above the
expected time: if it is ever hit, a loud warning says so, the history is marked
``stopped_early`` and :func:`mmcourse.cache.cached_training` does not store the run.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn
from tqdm.auto import tqdm

from .runtime import device as default_device

PROGRESS_INTERVAL = 1.0
"""Seconds between progress-bar redraws. In a notebook each redraw is a message from the
kernel; a cell that trains for minutes must not flood the notebook's message channel (a
test runner that reads the messages after the cell ends can lose its last ones)."""


class History:
    """Per-step and per-epoch numbers recorded by :func:`train`.

    ``history.steps["loss"]`` is the loss of every step, ``history.epochs["val_acc"]``
    whatever the ``evaluate`` callback returned after each epoch.
    """

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.epochs: dict[str, list[float]] = defaultdict(list)
        self.seconds: float = 0.0
        self.n_steps: int = 0
        self.n_epochs: int = 0
        self.stopped_early: bool = False

    def last(self, key: str) -> float:
        """The last value of ``key`` (epoch records first, then step records)."""
        for table in (self.epochs, self.steps):
            if table.get(key):
                return table[key][-1]
        raise KeyError(f"key {key!r} was never recorded; recorded: {sorted({*self.steps, *self.epochs})}")

    def smoothed(self, key: str = "loss", window: int = 20) -> list[float]:
        """A running mean of a per-step series, for plotting noisy losses."""
        values = self.steps[key]
        out, total = [], 0.0
        for i, value in enumerate(values):
            total += value
            if i >= window:
                total -= values[i - window]
            out.append(total / min(i + 1, window))
        return out

    def plot(self, keys: Iterable[str] = ("loss",), ax: Any = None, window: int = 20, title: str | None = None):
        """Plot step series (smoothed) and epoch series on one axis; returns the axis."""
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        for key in keys:
            if key in self.steps and self.steps[key]:
                ax.plot(self.smoothed(key, window), label=f"{key} (running mean of {window})")
            elif key in self.epochs and self.epochs[key]:
                n = len(self.epochs[key])
                xs = [round((i + 1) * self.n_steps / n) for i in range(n)]
                ax.plot(xs, self.epochs[key], "o-", label=key)
        ax.set_xlabel("training step")
        ax.legend()
        ax.set_title(title or f"{self.n_steps} steps in {self.seconds:.1f} s")
        return ax

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and lists (what the cache stores next to trained weights)."""
        return {"steps": dict(self.steps), "epochs": dict(self.epochs), "seconds": self.seconds,
                "n_steps": self.n_steps, "n_epochs": self.n_epochs, "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "History":
        """The inverse of :meth:`to_dict`."""
        history = cls()
        history.steps.update({k: list(v) for k, v in data["steps"].items()})
        history.epochs.update({k: list(v) for k, v in data["epochs"].items()})
        history.seconds, history.n_steps = float(data["seconds"]), int(data["n_steps"])
        history.n_epochs, history.stopped_early = int(data["n_epochs"]), bool(data["stopped_early"])
        return history

    def __repr__(self) -> str:
        keys = ", ".join(sorted({*self.steps, *self.epochs}))
        return f"History({self.n_epochs} epochs, {self.n_steps} steps, {self.seconds:.1f} s; {keys})"


def to_device(batch: Any, dev: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``dev``; other values stay as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.to(dev, non_blocking=True)
    if isinstance(batch, Mapping):
        return {key: to_device(value, dev) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(value, dev) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(value, dev) for value in batch)
    return batch


class TensorBatches:
    """Shuffled mini-batches of equally long tensors, gathered on the training device.

    The drop-in for ``DataLoader(TensorDataset(*tensors), batch_size, shuffle=True,
    generator=generator)``: the same batches in the same order (the order still comes from a
    ``DataLoader``, over the indices alone, so it draws from ``generator`` exactly as before),
    but the tensors are moved to ``device`` once and each batch is one indexing there instead
    of one item at a time on the CPU followed by a copy. ``device=None`` keeps them where
    they are.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> None:
        if not tensors or not all(torch.is_tensor(t) for t in tensors):
            raise ValueError("tensors must be one or more torch tensors")
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"tensors must all hold the same number of items, got {[len(t) for t in tensors]}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.device = torch.device(device) if device is not None else tensors[0].device
        self.tensors = tuple(t.to(self.device) for t in tensors)  # each (N, ...)
        self.order = torch.utils.data.DataLoader(range(len(tensors[0])), batch_size=batch_size, shuffle=True,
                                                 generator=generator)  # index batches (b,) on the CPU

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for idx in self.order:  # (b,)
            idx = idx.to(self.device, non_blocking=True)  # (b,)
            yield tuple(t[idx] for t in self.tensors)  # each (b, ...)


StepFn = Callable[[nn.Module, Any], "torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]"]


def train(
    model: nn.Module,
    batches: Iterable[Any],
    step: StepFn,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    time_budget: float | None = None,
    clip_grad: float | None = 5.0,
    device: torch.device | str | None = None,
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    scheduler: Any = None,
    history: History | None = None,
    desc: str = "training",
    progress: bool = True,
    amp: bool | None = None,
    sync_every: int | None = None,
) -> History:
    """Train ``model`` and return its :class:`History`.

    Args:
        model: the module to train (moved to ``device``).
        batches: anything iterable that yields batches, e.g. a ``DataLoader``; it is
            iterated once per epoch.
        step: ``step(model, batch) -> loss`` or ``-> (loss, {"name": value})``; the
            batch is already on the device.
        optimizer: defaults to Adam with learning rate ``lr`` on the trainable parameters.
        epochs: passes over ``batches``.
        time_budget: a safety stop in seconds (checked after every step), far above the
            expected time. When it is hit, a loud warning gives the steps done of the
            steps planned and ``history.stopped_early`` is set: the results are those of
            an under-trained model, and :func:`mmcourse.cache.cached_training` does not
            store them. It never decides how long a lesson trains: ``epochs`` does.
        clip_grad: clip the gradient norm to this value (``None`` disables).
        device: defaults to :func:`mmcourse.device`.
        evaluate: called with the model (in eval mode, no grad) after every epoch;
            its numbers go to ``history.epochs``.
        scheduler: stepped once per optimizer step, if given.
        history: continue recording into an existing history.
        desc: label of the progress bar.
        progress: show a progress bar.
        amp: run ``step`` under bf16 autocast. ``None`` (default) turns it on for CUDA
            devices only; ``True`` elsewhere uses that device's autocast (bf16 on the CPU).
        sync_every: read the logged numbers back from the device every this many steps
            (and at the end of every epoch). ``None``: 1 on the CPU, 25 on an accelerator.
            A non-finite loss is found when its step is read back, so it may be reported
            up to ``sync_every - 1`` steps late; the error names the step it happened at.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be positive seconds or None, got {time_budget!r}")
    if clip_grad is not None and not clip_grad > 0:
        raise ValueError(f"clip_grad must be positive or None, got {clip_grad!r}")
    if sync_every is not None and (isinstance(sync_every, bool) or not isinstance(sync_every, int) or sync_every < 1):
        raise ValueError(f"sync_every must be a positive int or None, got {sync_every!r}")
    if amp is not None and not isinstance(amp, bool):
        raise ValueError(f"amp must be True, False or None (bf16 autocast on CUDA only), got {amp!r}")
    dev = torch.device(device) if device is not None else default_device()
    use_amp = (dev.type == "cuda") if amp is None else amp
    every = sync_every if sync_every is not None else (1 if dev.type == "cpu" else 25)
    model.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer is None:
        if not params:
            raise ValueError("model has no trainable parameters (all have requires_grad=False)")
        optimizer = torch.optim.Adam(params, lr=lr)
    history = history if history is not None else History()
    try:
        per_epoch = len(batches)  # type: ignore[arg-type]
    except TypeError:
        per_epoch = None
    total = per_epoch * epochs if per_epoch is not None else None
    first_step = history.n_steps
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=True, mininterval=PROGRESS_INTERVAL)
    out_of_time = False
    pending: list[tuple[torch.Tensor, Mapping[str, Any]]] = []  # logged numbers not yet read back

    def flush() -> None:
        """Read the pending steps' numbers back to the host (one wait for the device)."""
        if not pending:
            return
        losses = torch.stack([loss for loss, _ in pending]).float().cpu().tolist()  # (P,) one sync
        for offset, value in enumerate(losses):
            if value != value or value in (float("inf"), float("-inf")):
                raise FloatingPointError(
                    f"the loss became {value} at step {history.n_steps + offset}; "
                    "try a smaller learning rate or check the inputs"
                )
        for value, (_, extra) in zip(losses, pending):
            history.steps["loss"].append(value)
            for key, number in extra.items():
                history.steps[key].append(float(number))
        history.n_steps += len(pending)
        bar.update(len(pending))
        if history.n_steps % 10 < len(pending) or len(pending) >= 10:
            bar.set_postfix(loss=f"{history.smoothed('loss', 10)[-1]:.4f}", refresh=False)
        pending.clear()

    try:
        for _ in range(epochs):
            model.train()
            for batch in batches:
                batch = to_device(batch, dev)
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
                    result = step(model, batch)
                loss, extra = (result if isinstance(result, tuple) else (result, {}))
                if not torch.is_tensor(loss) or loss.dim() != 0:
                    raise ValueError("step must return a scalar loss tensor (or (loss, dict))")
                if every == 1 and not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss became {loss.item()} at step {history.n_steps}; "
                        "try a smaller learning rate or check the inputs"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                pending.append((loss.detach(), {k: v.detach() if torch.is_tensor(v) else v for k, v in extra.items()}))
                if len(pending) >= every:
                    flush()
                if time_budget is not None and time.perf_counter() - start > time_budget:
                    out_of_time = True
                    break
            flush()
            history.n_epochs += 1
            if evaluate is not None:
                model.eval()
                with torch.no_grad():
                    for key, value in evaluate(model).items():
                        history.epochs[key].append(float(value))
                model.train()
            if out_of_time:
                history.stopped_early = True
                break
    finally:
        bar.close()
        history.seconds += time.perf_counter() - start
    if out_of_time:
        _warn_stopped_early(desc, time_budget, history.n_steps - first_step, total)
    model.eval()
    return history


def _warn_stopped_early(desc: str, time_budget: float, done: int, planned: int | None) -> None:
    """Say loudly that the safety time budget cut a training run short."""
    of = f"{done} of {planned} planned steps" if planned is not None else f"{done} steps (fewer than planned)"
    line = "!" * 88
    print(
        f"{line}\nWARNING: {desc} hit its safety time budget of {time_budget:g} s and stopped after {of}.\n"
        "The results below are of an under-trained model and will not be cached. The machine was much\n"
        "slower than expected (busy?): run it again, or raise time_budget.\n"
        f"{line}",
        file=sys.stderr,
        flush=True,
    )
