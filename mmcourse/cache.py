"""The course cache: generated data and trained weights under ``data/cache/``.

Everything that takes more than a moment to make — a generated dataset, a "pre-trained"
encoder — is built once and stored here, keyed by its configuration and the package
version. A file that is truncated, corrupted or stale is reported in one line and
rebuilt; you never see a pickle traceback.

Files are written with ``torch.save`` and read with ``weights_only=True``, so they can
hold tensors, numbers, strings, lists and dicts, but never arbitrary code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

CACHE_ENV = "MMCOURSE_CACHE"
_META_KEY = "__mmcourse_meta__"


def cache_dir() -> Path:
    """Folder of the cache.

    ``MMCOURSE_CACHE`` if set; else ``data/cache`` of the course checkout this package
    was installed from; else ``~/.cache/mmcourse`` (a package installed elsewhere).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = Path(__file__).resolve().parent.parent
        if (root / "pyproject.toml").exists() and (root / "data").is_dir():
            path = root / "data" / "cache"
        else:
            path = Path.home() / ".cache" / "mmcourse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _jsonable(dataclasses.asdict(value))
    return repr(value)


def config_key(config: Mapping[str, Any], version: str | None = None) -> str:
    """A short, stable hash of a configuration and the package version."""
    from . import __version__

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
    from . import __version__

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


def cached_model(
    name: str,
    config: Mapping[str, Any],
    model: nn.Module,
    fit: Callable[[nn.Module], Any],
    verbose: bool = True,
) -> nn.Module:
    """Load trained weights for ``model`` from the cache, or train them with ``fit(model)`` and store them.

    Weights are stored as a ``state_dict``. A file that does not load — corrupted,
    truncated, stale, or of another architecture — is reported in one line and the
    model is trained again.
    """
    from . import __version__

    path = cache_path(name, config)
    meta = {"name": name, "config": _jsonable(dict(config)), "version": __version__}
    try:
        state = load(path, meta)
        model.load_state_dict(state)
        model.eval()
        if verbose:
            _report(f"loaded trained {name} from the cache")
        return model
    except CacheError as error:
        if path.exists():
            _report(f"{error} — training it again")
        elif verbose:
            _report(f"training {name} (first use; it is cached for next time)")
    except (RuntimeError, KeyError) as error:
        _report(f"{path.name} does not fit the model ({type(error).__name__}) — training it again")
    fit(model)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    save(state, path, meta)
    model.eval()
    return model


def fingerprint(*tensors: torch.Tensor) -> str:
    """A short hash of the values, shapes and dtypes of ``tensors``: part of a cache key
    when a model is trained on data that a key of settings alone would not pin down."""
    digest = hashlib.sha1()
    for i, tensor in enumerate(tensors):
        if not torch.is_tensor(tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor, got {type(tensor).__name__}")
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{tuple(t.shape)} {t.dtype};".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:16]


def cached_training(
    name: str,
    config: Mapping[str, Any],
    model: nn.Module,
    fit: Callable[[nn.Module], Any],
    verbose: bool = True,
) -> Any:
    """Like :func:`cached_model`, for a lesson's own models: ``fit(model)`` returns the
    :class:`~mmcourse.training.History`, which is stored with the weights and returned.

    The first run of a lesson trains; a second run with the same ``config`` (settings, seed
    and a :func:`fingerprint` of the training data) reads the weights and the history back,
    so the plots and numbers are those of the run that trained. Delete ``data/cache/`` (or
    call :func:`clear` with ``name``) to train again.
    """
    from . import __version__
    from .training import History

    path = cache_path(name, config)
    meta = {"name": name, "config": _jsonable(dict(config)), "version": __version__}
    try:
        stored = load(path, meta)
        model.load_state_dict(stored["state"])
        history = History.from_dict(stored["history"])
        model.eval()
        if verbose:
            _report(f"loaded trained {name} from the cache (trained in {history.seconds:.1f} s on the first run)")
        return history
    except CacheError as error:
        if path.exists():
            _report(f"{error} — training it again")
    except (RuntimeError, KeyError, TypeError) as error:
        _report(f"{path.name} does not fit the model ({type(error).__name__}) — training it again")
    history = fit(model)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    save({"state": state, "history": history.to_dict()}, path, meta)
    return history


def clear(name: str | None = None) -> int:
    """Delete cache entries (all, or those of one ``name``); returns how many files went."""
    count = 0
    for path in cache_dir().glob("*.pt"):
        if name is None or path.name.rsplit("-", 1)[0] == name:
            path.unlink()
            count += 1
    return count
