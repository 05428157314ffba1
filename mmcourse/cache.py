"""The course cache: generated data and trained weights under ``data/cache/``.

Everything that takes more than a moment to make — a generated dataset, a "pre-trained"
encoder — is built once and stored here, keyed by its configuration and the package
version. A file that is truncated, corrupted or stale is reported in one line and
rebuilt; you never see a pickle traceback.

Trained models are keyed also by the code that trains them (:func:`code_fingerprint`):
edit the model's class, the loss or the training function and the model is trained
again instead of a stale one being read back.

Files are written with ``torch.save`` and read with ``weights_only=True``, so they can
hold tensors, numbers, strings, lists and dicts, but never arbitrary code.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .training import History

CACHE_ENV = "MMCOURSE_CACHE"
_META_KEY = "__mmcourse_meta__"


def cache_dir() -> Path:
    """Folder of the cache.

    ``MMCOURSE_CACHE`` if set; else ``data/cache`` of the course checkout this package
    was installed from; else ``~/.cache/mmcourse`` (a package installed elsewhere).
    A path that exists but is not a folder is a ``ValueError`` that names it.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        path, source = Path(env).expanduser(), f" (set by {CACHE_ENV})"
    else:
        root = Path(__file__).resolve().parent.parent
        if (root / "pyproject.toml").exists() and (root / "data").is_dir():
            path = root / "data" / "cache"
        else:
            path = Path.home() / ".cache" / "mmcourse"
        source = ""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(
            f"the cache folder {path}{source} is not a folder: a file is in the way. Move or delete that "
            f"file, or set {CACHE_ENV} to a folder."
        ) from None
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return repr(value)


def config_key(config: Mapping[str, Any], version: str | None = None) -> str:
    """A short, stable hash of a configuration and the package version."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping (dict), got {type(config).__name__}")
    payload = json.dumps({"config": _jsonable(config), "version": version or __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def cache_path(name: str, config: Mapping[str, Any], suffix: str = ".pt") -> Path:
    """Where the entry ``name`` with this ``config`` lives in the cache."""
    if not name or not all(ch.isalnum() or ch in "-_" for ch in name):
        raise ValueError(f"name must be a non-empty word of letters, digits, '-' or '_', got {name!r}")
    return cache_dir() / f"{name}-{config_key(config)}{suffix}"


class CacheError(RuntimeError):
    """A cache file could not be used (missing, truncated, corrupted or stale)."""


def save(obj: Any, path: Path, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``obj`` atomically (a partial write never leaves a half file behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {_META_KEY: dict(meta or {}), "data": obj}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path: Path, meta: Mapping[str, Any] | None = None) -> Any:
    """Read a file written by :func:`save`; raise :class:`CacheError` with one clear line if unusable."""
    path = Path(path)
    if not path.exists():
        raise CacheError(f"{path.name} is not in the cache yet")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, bad pickle, wrong format...
        kind = type(error).__name__
        raise CacheError(f"{path.name} is unreadable ({kind}); it may be truncated or corrupted") from None
    if not isinstance(payload, dict) or _META_KEY not in payload or "data" not in payload:
        raise CacheError(f"{path.name} is not an mmcourse cache file")
    if meta is not None and payload[_META_KEY] != _jsonable(dict(meta)):
        raise CacheError(f"{path.name} is stale (it was made by another version or configuration)")
    return payload["data"]


def _report(message: str) -> None:
    print(f"[mmcourse cache] {message}", flush=True)


def cached(name: str, config: Mapping[str, Any], build: Callable[[], Any], verbose: bool = True) -> Any:
    """Return ``build()``'s result, computed once and then read from the cache.

    ``build`` must return tensors, numbers, strings, lists and dicts (what
    ``torch.load(weights_only=True)`` can read back). A cached file that is unusable is
    reported in one line and rebuilt.
    """
    path = cache_path(name, config)
    meta = {"name": name, "config": _jsonable(dict(config)), "version": __version__}
    try:
        return load(path, meta)
    except CacheError as error:
        if path.exists():
            _report(f"{error} — rebuilding")
        elif verbose:
            _report(f"building {name} (first use; it is cached for next time)")
    data = build()
    save(data, path, meta)
    return data


def fingerprint(*objects: torch.Tensor | nn.Module) -> str:
    """A short hash of the values, shapes and dtypes of tensors, or of a module's weights
    (its ``state_dict``): part of a cache key when a result depends on data or weights
    that a key of settings alone would not pin down (features of a trained encoder, say)."""
    digest = hashlib.sha1()
    for i, obj in enumerate(objects):
        if isinstance(obj, nn.Module):
            items = sorted(obj.state_dict().items())
        elif torch.is_tensor(obj):
            items = [("", obj)]
        else:
            raise TypeError(f"objects[{i}] must be a torch.Tensor or an nn.Module, got {type(obj).__name__}")
        for name, tensor in items:
            t = tensor.detach().cpu().contiguous()
            digest.update(f"{name} {tuple(t.shape)} {t.dtype};".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:16]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _source_text(obj: Any) -> str:
    """The code of ``obj`` (a function, class, method or module) as a normalised string.

    Comments, docstrings and layout do not count; the statements do. An object whose
    source cannot be read (a built-in) counts by its full name.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    obj = getattr(obj, "__func__", obj)  # a bound method -> its function
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj)):
        obj = obj if callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):  # built-in or compiled: the name stands for the code
        return name
    try:
        return name + "\n" + ast.dump(_without_docstrings(ast.parse(textwrap.dedent(source))))
    except SyntaxError:  # a lambda inside a longer statement: its lines, as written
        return name + "\n" + "\n".join(line.strip() for line in source.splitlines() if line.strip())


def _model_classes(model: nn.Module) -> list[type]:
    """``type(model)`` and every class outside torch that builds one of its submodules."""
    classes = {type(model)}
    for module in model.modules():
        for cls in type(module).__mro__:
            if cls.__module__.split(".")[0] not in ("torch", "builtins"):
                classes.add(cls)
    return sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def code_fingerprint(*objects: Any) -> str:
    """A short hash of the source code of ``objects`` (functions, classes, methods, modules).

    Comments, docstrings and formatting do not change it; any change to a statement does.
    :func:`cached_training` puts it in the key of a trained model, so that editing the
    model's class, its loss or its training function trains the model again.
    """
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(_source_text(obj).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def training_key(config: Mapping[str, Any], model: nn.Module, fit: Callable[..., Any],
                 code: Iterable[Any] = ()) -> dict[str, Any]:
    """The cache key of a trained model: ``config`` plus a :func:`code_fingerprint` of the
    model's classes (``type(model)`` and the non-torch classes of its submodules), of ``fit``
    and of every object in ``code``."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping (dict), got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not callable(fit):
        raise TypeError(f"fit must be a function fit(model), got {type(fit).__name__}")
    code = tuple(code) if isinstance(code, (list, tuple)) else (code,)
    return {**config, "code": code_fingerprint(*_model_classes(model), fit, *code)}


def _cached_fit(name: str, config: Mapping[str, Any], model: nn.Module, fit: Callable[[nn.Module], Any],
                code: Iterable[Any], verbose: bool, needs_history: bool) -> History | None:
    """The one implementation behind :func:`cached_model` and :func:`cached_training`.

    Returns the stored (or new) :class:`History`, or ``None`` when ``fit`` returns none.
    """
    key = training_key(config, model, fit, code)
    path = cache_path(name, key)
    meta = {"name": name, "config": _jsonable(key), "version": __version__}
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        stored = load(path, meta)
        history = History.from_dict(stored["history"]) if stored["history"] is not None else None
        if needs_history and history is None:
            raise KeyError("history")
        model.load_state_dict(stored["state"])
        model.eval()
        if verbose:
            took = f" (trained in {history.seconds:.1f} s on the first run)" if history is not None else ""
            _report(f"loaded trained {name} from the cache{took}")
        return history
    except CacheError as error:
        if path.exists():
            _report(f"{error} — training it again")
        elif verbose:
            _report(f"training {name} (first use of these settings and this code; it is cached for next time)")
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        _report(f"{path.name} does not fit the model ({type(error).__name__}) — training it again")
        model.load_state_dict(initial)  # train from the initial weights, not from a half-loaded file
    result = fit(model)
    model.eval()
    if needs_history and not isinstance(result, History):
        raise TypeError(f"fit must return the training History (mmcourse.training.train returns it), "
                        f"got {type(result).__name__}")
    history = result if isinstance(result, History) else None
    if history is not None and history.stopped_early:
        _report(f"{name} was stopped early by its time budget: it is NOT cached, the next run trains it again")
        return history
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save({"state": state, "history": history.to_dict() if history is not None else None}, path, meta)
    return history


def cached_model(
    name: str,
    config: Mapping[str, Any],
    model: nn.Module,
    fit: Callable[[nn.Module], Any],
    verbose: bool = True,
    code: Iterable[Any] = (),
) -> nn.Module:
    """Load trained weights for ``model`` from the cache, or train them with ``fit(model)`` and store them.

    The key is ``config`` plus a hash of the code (see :func:`training_key`): the class of
    ``model`` and of its submodules, ``fit``, and every object in ``code`` — pass the loss
    and any other function the training calls, so that editing them trains again. A run
    that ``fit`` reports as stopped early (a :class:`~mmcourse.training.History` with
    ``stopped_early``) is never stored. A file that does not load — corrupted,
    truncated, stale, or of another architecture — is reported in one line and the
    model is trained again. Returns ``model`` (in eval mode).
    """
    _cached_fit(name, config, model, fit, code, verbose, needs_history=False)
    return model


def cached_training(
    name: str,
    config: Mapping[str, Any],
    model: nn.Module,
    fit: Callable[[nn.Module], History],
    verbose: bool = True,
    code: Iterable[Any] = (),
) -> History:
    """Like :func:`cached_model`, for a lesson's own models: ``fit(model)`` returns the
    :class:`~mmcourse.training.History`, which is stored with the weights and returned.

    The first run of a lesson trains; a second run with the same ``config`` (settings, seed
    and a :func:`fingerprint` of the training data) and the same code reads the weights and
    the history back, so the plots and numbers are those of the run that trained. A run
    stopped early by its time budget is returned but not stored. Delete ``data/cache/``
    (or call :func:`clear` with ``name``) to train again.
    """
    return _cached_fit(name, config, model, fit, code, verbose, needs_history=True)


def clear(name: str | None = None) -> int:
    """Delete cache entries (all, or those of one ``name``); returns how many files went."""
    count = 0
    for path in cache_dir().glob("*.pt"):
        if name is None or path.name.rsplit("-", 1)[0] == name:
            path.unlink()
            count += 1
    return count
