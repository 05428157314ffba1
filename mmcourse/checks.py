"""Automatic checks for the exercises.

An exercise is a function the learner writes; a check is a function in the lesson's module
(named ``check_*``) that calls it on its own inputs and raises :class:`CheckFailed` with a
message naming the mistake. A locked cell of the lesson runs one against the other::

    result = checks.run("1. negative-sampling loss", w2v.check_negative_sampling_loss, my_loss)

:func:`run` prints one line and never halts "Run All":

- passed: "✅ {name}: all checks passed";
- unsolved (``NotImplementedError``): "⏳ {name}: not implemented yet";
- a failed check: "❌ {name}: {message}";
- any other exception from the learner's code: "❌ {name}: your code raised {Type}: {msg}"
  followed by a short traceback.

Warnings raised while the check runs are printed on stdout ("⚠️ ..."), not stderr: an
autograder counts any stderr output of a check cell as a failure.

In grading mode (environment variable ``MMCOURSE_GRADING=1``, set in the kernels that
``make grade`` runs) a failed or unsolved exercise raises :class:`CheckFailed` after printing,
so its autograded cell scores 0. The helpers below (:func:`close`, :func:`shape`, :func:`param_count`,
:func:`true`) are the building blocks of the ``check_*`` functions.
"""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable, Sequence
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


GRADING_ENV = "MMCOURSE_GRADING"
TRACEBACK_FRAMES = 3  # frames of the learner's traceback shown under a "your code raised" line


class Result:
    """What :func:`run` found.

    ``status`` is "passed", "not implemented" or "failed"; ``message`` is the failure text
    (without the "❌ name:" prefix, empty otherwise); ``value`` is whatever the check returned.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "running"
        self.message = ""
        self.value: Any = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        return f"Result({self.name!r}, {self.status})"


_results: dict[str, Result] = {}


def grading() -> bool:
    """True when the notebook runs for grading (``MMCOURSE_GRADING=1``)."""
    return os.environ.get(GRADING_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _short_traceback(error: BaseException) -> str:
    """The last few frames of ``error``'s traceback, without the frames of this module."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    lines = traceback.format_list(frames[-TRACEBACK_FRAMES:])
    return "".join(lines).rstrip()


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print warnings on stdout: a grader counts anything on stderr as a failed cell."""
    for warning in caught:
        print(f"⚠️ {warning.category.__name__}: {warning.message}")


def run(name: str, check: Callable[[Callable[..., Any]], Any], answer: Callable[..., Any]) -> Result:
    """Run ``check(answer)`` for the exercise ``name``, print the outcome and return a :class:`Result`.

    See the module docstring for what each outcome prints. Outside grading mode nothing is
    raised, so "Run All" reaches the end of the lesson; in grading mode a failed or unsolved
    exercise raises :class:`CheckFailed` after printing.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string naming the exercise, got {name!r}")
    if not callable(check):
        raise ValueError(f"check must be a check_* function of the lesson's module, got {type(check).__name__}")
    result = Result(name)
    _results[name] = result
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                result.value = check(answer)
            finally:
                _show_warnings(caught)
    except NotImplementedError:
        result.status = "not implemented"
        print(f"⏳ {name}: not implemented yet")
    except CheckFailed as error:
        result.status = "failed"
        result.message = str(error)
        print(f"❌ {name}: {error}")
    except Exception as error:  # the learner's code raised: report it, do not halt the notebook
        result.status = "failed"
        result.message = f"your code raised {type(error).__name__}: {error}"
        print(f"❌ {name}: {result.message}")
        trace = _short_traceback(error)
        if trace:
            print(trace)
    else:
        result.status = "passed"
        print(f"✅ {name}: all checks passed")
    if grading() and not result.passed:
        raise CheckFailed(f"{name}: {result.message or result.status}")
    return result


def results() -> dict[str, Result]:
    """Outcomes of every exercise run in this kernel, by name."""
    return dict(_results)
