"""Automatic checks for the exercises.

Each exercise cell ends with something like::

    with checks.exercise("1. negative-sampling loss"):
        checks.close(my_loss(u, v, neg), reference_loss(u, v, neg), name="loss")

Inside :func:`exercise`:

- an unsolved exercise (``NotImplementedError``) prints "not implemented yet" and the
  notebook goes on;
- a failed check raises :class:`CheckFailed`, whose message says what is wrong and what
  was expected;
- success prints "all checks passed".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


class CheckFailed(AssertionError):
    """An exercise check failed; the message says what is wrong and what was expected."""


def _as_array(value: Any, name: str) -> np.ndarray:
    if torch.is_tensor(value):
        if value.is_complex():
            return value.detach().cpu().resolve_conj().numpy()
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value)
    except Exception:  # pragma: no cover - exotic inputs
        raise CheckFailed(f"{name}: expected an array or tensor, got {type(value).__name__}") from None


def _fmt(value: Any) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.6g}" if isinstance(value, (float, int, complex)) else repr(value)


def relative_error(actual: Any, expected: Any) -> float:
    """max |a - e| / max(|e|, tiny), the cs231n-style relative error of two arrays."""
    a = _as_array(actual, "actual").astype(np.complex128 if np.iscomplexobj(actual) else np.float64)
    e = _as_array(expected, "expected").astype(a.dtype if np.iscomplexobj(a) else np.float64)
    if a.shape != e.shape:
        raise CheckFailed(f"shapes differ: got {a.shape}, expected {e.shape}")
    scale = max(float(np.max(np.abs(e))) if e.size else 0.0, 1e-12)
    return float(np.max(np.abs(a - e)) / scale) if a.size else 0.0


def shape(value: Any, expected: Sequence[int | None], name: str = "output") -> None:
    """Check ``value.shape``; ``None`` in ``expected`` matches any size."""
    if not hasattr(value, "shape"):
        raise CheckFailed(f"{name}: expected a tensor or array of shape {tuple(expected)}, got {type(value).__name__}")
    got = tuple(value.shape)
    want = tuple(expected)
    if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
        pretty = "(" + ", ".join("*" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
        raise CheckFailed(f"{name}: shape is {got}, expected {pretty}")


def close(actual: Any, expected: Any, name: str = "output", tol: float = 1e-5) -> float:
    """Check that ``actual`` matches ``expected`` within relative error ``tol``; returns the error."""
    if actual is None:
        raise CheckFailed(f"{name}: got None — did you forget to return the result?")
    if hasattr(expected, "shape"):
        shape(actual, tuple(expected.shape), name)
    err = relative_error(actual, expected)
    if not err <= tol:
        a = _as_array(actual, name).ravel()
        e = _as_array(expected, name).ravel()
        worst = int(np.argmax(np.abs(a - e))) if a.size else 0
        raise CheckFailed(
            f"{name}: relative error {err:.2e} is above the tolerance {tol:.0e} "
            f"(worst at flat index {worst}: got {_fmt(a[worst])}, expected {_fmt(e[worst])})"
        )
    return err


def param_count(module: torch.nn.Module, expected: int, name: str = "model") -> None:
    """Check the number of trainable parameters of ``module``."""
    got = sum(p.numel() for p in module.parameters() if p.requires_grad)
    if got != expected:
        raise CheckFailed(f"{name}: has {got:,} trainable parameters, expected {expected:,}")


def true(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


class Result:
    """What :func:`exercise` found: ``status`` is "passed", "not implemented" or "failed"."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "running"
        self.message = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        return f"Result({self.name!r}, {self.status})"


_results: dict[str, Result] = {}


@contextlib.contextmanager
def exercise(name: str) -> Iterator[Result]:
    """Run an exercise's checks; see the module docstring for what each outcome does."""
    result = Result(name)
    _results[name] = result
    try:
        yield result
    except NotImplementedError as error:
        result.status = "not implemented"
        hint = f" Hint: {error}" if str(error) else ""
        print(f"⏳ {name}: not implemented yet.{hint}")
        return
    except CheckFailed as error:
        result.status = "failed"
        result.message = str(error)
        raise CheckFailed(f"{name}: {error}") from None
    result.status = "passed"
    print(f"✅ {name}: all checks passed")


def results() -> dict[str, Result]:
    """Outcomes of every exercise run in this kernel, by name."""
    return dict(_results)
