"""Lesson 10: where is the sound? Sound source localization (Senocak et al. 2018) in miniature.

A clip and an image go in; a **localization map** over the image's grid comes out. The
image side is the frozen course encoder's grid of cell vectors (lessons 04 and 06); the
sound side is a clip's log-mel spectrogram (lesson 07) through a small conv net to one
L2-normalised vector. The map is the cosine similarity between the sound vector and every
cell, through a ReLU and a softmax over the cells; the cells weighted by the map give the
*attended* visual vector, which must match the sound.

- :func:`log_mels`, :class:`SoundNet`, :func:`attention_map`, :class:`SoundLocalizer` — the model.
- :func:`triplet_loss` — the paper's unsupervised loss; :func:`map_loss` — its supervised term.
- :func:`lesson_data` — scenes, grids, log-mels of the real and re-mixed clips, true masks.
- :func:`fit` — training with negatives from other scenes or from the same scene.
- :func:`binarize`, :func:`ciou`, :func:`success_auc`, :func:`peak_objects` — the scores.
- :func:`baseline_maps` — whole image, random, object-ness and the perfect grid map.
- ``check_*`` — the lesson's exercise checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import audio, cache, checks
from .encoders import encode, pretrained_grid_encoder
from .runtime import device as default_device, seeded
from .training import History, train
from .world.datasets import AudioVisualDataset
from .world.sound import SAMPLE_RATE, scene_clips

N_MELS = 40
"""Mel bands of the sound net's input."""

N_FFT, HOP = 512, 512
"""STFT window and hop (samples at 16 kHz: 32 ms windows side by side)."""

TEMPERATURE = 0.3
"""Softmax temperature of the localization map (the ReLU'd cosines lie in [0, 1])."""

LABELLED_BATCH = 16
"""Labelled scenes added to every training step of a semi-supervised variant."""

THRESHOLDS = np.linspace(0.0, 1.0, 21)
"""cIoU thresholds of the success curve whose area is the AUC (as in the paper)."""

RULES = ("median", "area", "minmax")
"""How a map is binarised: above its median (the paper), its top pixels matching the true
area, or above half of its range after min-max scaling."""


# ----------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------


def _validate_clips(clips: Any, sample_rate: Any) -> torch.Tensor:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"sample_rate must be a number (Hz), got {sample_rate!r}")
    if int(sample_rate) != SAMPLE_RATE:
        raise ValueError(f"sample_rate must be {SAMPLE_RATE} Hz (the rate the sound net reads), got {sample_rate!r}; "
                         "resample the clip first")
    x = torch.as_tensor(np.asarray(clips) if not torch.is_tensor(clips) else clips, dtype=torch.float32)
    if x.dim() == 1:
        x = x[None]  # (1, T)
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] < N_FFT:
        raise ValueError(f"clips must be a (T,) or (N, T) wave with T >= {N_FFT} samples, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("clips must be finite (no nan or inf)")
    return x


def _validate_grid(grid: Any, dim: int | None = None) -> None:
    if not torch.is_tensor(grid) or grid.dim() != 4 or grid.shape[2] != grid.shape[3]:
        got = tuple(grid.shape) if torch.is_tensor(grid) else type(grid).__name__
        raise ValueError(f"grid must be a tensor (B, D, g, g) of cell vectors, got {got}")
    if dim is not None and grid.shape[1] != dim:
        raise ValueError(f"grid must have {dim} channels per cell (the encoder's), got {grid.shape[1]}")


def _validate_pair(sound: torch.Tensor, grid: torch.Tensor) -> None:
    _validate_grid(grid)
    if not torch.is_tensor(sound) or sound.dim() != 2 or sound.shape != grid.shape[:2]:
        got = tuple(sound.shape) if torch.is_tensor(sound) else type(sound).__name__
        raise ValueError(f"sound must be (B, D) = {tuple(grid.shape[:2])} to match the grid, got {got}")


# ----------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------


def log_mels(clips: Any, sample_rate: int = SAMPLE_RATE, batch_size: int = 1024) -> torch.Tensor:
    """Log-mel spectrograms of 16 kHz clips, scaled for the sound net: ``(N, N_MELS, frames)``.

    Lesson 07's log-mel (Hamming window, Slaney mel filters, dB with an 80 dB floor), then each
    clip's loudest bin is moved to 0 and the dB divided by 20, so values lie in [-4, 0] whatever
    the clip's level.
    """
    x = _validate_clips(clips, sample_rate)  # (N, T)
    out = []
    for start in range(0, len(x), batch_size):
        db = audio.log_mel_spectrogram(x[start:start + batch_size], SAMPLE_RATE, n_fft=N_FFT, hop=HOP,
                                       n_mels=N_MELS)  # (b, M, F) dB
        out.append((db - db.amax((1, 2), keepdim=True)) / 20.0)  # (b, M, F) in [-4, 0]
    return torch.cat(out).float()  # (N, M, F)


class SoundNet(nn.Module):
    """A small conv net: log-mel ``(B, M, F)`` -> FC -> L2-normalised sound vector ``(B, dim)``."""

    def __init__(self, dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.convs = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),  # (B, w, M, F)
            nn.MaxPool2d(2),  # (B, w, M/2, F/2)
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),  # (B, w, M/2, F/2)
            nn.MaxPool2d(2),  # (B, w, M/4, F/4)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),  # (B, 2w, M/4, F/4)
        )
        self.fc = nn.Sequential(nn.Linear(2 * width * (N_MELS // 4), 2 * width), nn.ReLU(), nn.Linear(2 * width, dim))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        if mels.dim() != 3 or mels.shape[1] != N_MELS:
            raise ValueError(f"mels must be (B, {N_MELS}, frames) log-mels from log_mels(), got {tuple(mels.shape)}")
        h = self.convs(mels[:, None])  # (B, 2w, M/4, F/4)
        h = h.amax(3).flatten(1)  # (B, 2w * M/4) the loudest moment of each band, over time
        return F.normalize(self.fc(h), dim=1)  # (B, dim) unit length


def attention_map(sound: torch.Tensor, grid: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """The localization map: ``softmax_cells(relu(cos(sound, cell)) / temperature)``, ``(B, g, g)``.

    ``sound`` is ``(B, D)``, ``grid`` ``(B, D, g, g)``; each map sums to 1 over its cells.
    """
    _validate_pair(sound, grid)
    b, _, g, _ = grid.shape
    cells = F.normalize(grid.flatten(2), dim=1)  # (B, D, L) unit cell vectors
    cos = torch.einsum("bd,bdl->bl", F.normalize(sound, dim=1), cells)  # (B, L) in [-1, 1]
    weights = torch.softmax(F.relu(cos) / temperature, dim=1)  # (B, L) sums to 1
    return weights.view(b, g, g)  # (B, g, g)


class SoundLocalizer(nn.Module):
    """Senocak et al.'s attention network on the frozen course grid.

    ``forward(grid, mels)`` takes the encoder's grid ``(B, grid_dim, g, g)`` and log-mels
    ``(B, N_MELS, F)`` and returns a dict: ``map`` ``(B, g, g)`` (the localization map),
    ``sound`` ``(B, dim)`` (unit length) and ``z`` ``(B, dim)`` (the attended visual vector
    after its FC). A 1x1 conv maps the frozen cells into the space the sound lives in.
    """

    def __init__(self, grid_dim: int = 64, dim: int = 64, width: int = 32, temperature: float = TEMPERATURE) -> None:
        super().__init__()
        self.grid_dim, self.dim, self.temperature = grid_dim, dim, temperature
        self.sound = SoundNet(dim, width)
        self.cells = nn.Sequential(nn.Conv2d(grid_dim, 2 * dim, 1), nn.ReLU(), nn.Conv2d(2 * dim, dim, 1))
        self.fc = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        nn.init.zeros_(self.fc[2].weight)  # the FC starts as the identity (a residual branch)
        nn.init.zeros_(self.fc[2].bias)

    def visual(self, grid: torch.Tensor) -> torch.Tensor:
        """Cell vectors in the sound's space: ``(B, dim, g, g)``."""
        _validate_grid(grid, self.grid_dim)
        return self.cells(grid)  # (B, dim, g, g)

    def attend(self, cells: torch.Tensor, sound: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map and attended vector for projected ``cells`` (B, dim, g, g) and ``sound`` (B, dim)."""
        alpha = attention_map(sound, cells, self.temperature)  # (B, g, g)
        attended = torch.einsum("bl,bdl->bd", alpha.flatten(1), cells.flatten(2))  # (B, dim)
        z = F.normalize(attended + self.fc(attended), dim=1)  # (B, dim) unit length, like the sound
        return {"map": alpha, "sound": sound, "z": z}  # (B, g, g), (B, dim), (B, dim)

    def forward(self, grid: torch.Tensor, mels: torch.Tensor) -> dict[str, torch.Tensor]:
        cells = self.visual(grid)  # (B, dim, g, g)
        if mels.shape[0] != grid.shape[0]:
            raise ValueError(f"mels and grid must hold the same number of items, got {mels.shape[0]} and {grid.shape[0]}")
        return self.attend(cells, self.sound(mels))


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------


def triplet_loss(z: torch.Tensor, s_pos: torch.Tensor, s_neg: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The paper's loss: softmax over the two distances ``d+ = |z - s+|``, ``d- = |z - s-|``,
    pushed towards (0, 1): ``mean(p+^2 + (p- - 1)^2)`` with ``(p+, p-) = softmax(d+, d-)``.

    ``z``: attended visual vectors ``(B, D)``; ``s_pos``: their own clips' sound vectors,
    ``s_neg``: the negatives' sound vectors, both ``(B, D)``.
    """
    if z.shape != s_pos.shape or z.shape != s_neg.shape or z.dim() != 2:
        raise ValueError(f"z, s_pos and s_neg must all be (B, D), got {tuple(z.shape)}, {tuple(s_pos.shape)}, "
                         f"{tuple(s_neg.shape)}")
    d = torch.stack([(z - s_pos).norm(dim=1), (z - s_neg).norm(dim=1)], dim=1)  # (B, 2) distances
    p = torch.softmax(scale * d, dim=1)  # (B, 2)
    return (p[:, 0] ** 2 + (p[:, 1] - 1) ** 2).mean()


def map_loss(alpha: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Supervised term: cross-entropy between a true grid map and the predicted map.

    ``alpha`` ``(B, g, g)`` sums to 1 per item; ``truth`` ``(B, g, g)`` is the share of each
    cell that a sounding object covers (normalised here to sum to 1).
    """
    target = truth.flatten(1) / truth.flatten(1).sum(1, keepdim=True).clamp(min=1e-8)  # (B, L)
    return -(target * alpha.flatten(1).clamp(min=1e-8).log()).sum(1).mean()


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------


def _complement(sounding: np.ndarray, n_objects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other objects of the same scene sounding: the silent ones; where every object sounds, one
    of them alone (still a different set). ``(N, K)`` bool."""
    present = np.arange(sounding.shape[1])[None] < n_objects[:, None]  # (N, K)
    other = present & ~sounding  # (N, K)
    full = ~other.any(1)  # (N,) every object sounds
    pick = (rng.random(len(sounding)) * n_objects).astype(np.int64)  # (N,)
    other[np.flatnonzero(full), pick[full]] = True
    return other


def _swap(sounding: np.ndarray, n_objects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One silent object of each scene alone (the swap test; -1 where every object sounds): ``(N,)``."""
    present = np.arange(sounding.shape[1])[None] < n_objects[:, None]  # (N, K)
    silent = present & ~sounding  # (N, K)
    score = np.where(silent, rng.random(silent.shape), -1.0)  # (N, K)
    return np.where(silent.any(1), score.argmax(1), -1)  # (N,)


def grid_truth(sound_mask: torch.Tensor, grid: int = 8) -> torch.Tensor:
    """The perfect map at grid resolution: the share of each cell covered by a sounding object, ``(N, g, g)``."""
    return F.adaptive_avg_pool2d(sound_mask.float()[:, None], grid)[:, 0]  # (N, g, g)


def _split(split: str, n: int, encoder: nn.Module, seed: int, size: int, verbose: bool) -> dict[str, torch.Tensor]:
    ds = AudioVisualDataset(split, n, size=size, seed=seed, min_objects=2, max_objects=4, verbose=verbose)
    scenes = ds.data.scenes
    rng = np.random.default_rng([seed, 10, len(split)])
    other = _complement(scenes.sounding, scenes.n_objects, rng)  # (N, K)
    swap = _swap(scenes.sounding, scenes.n_objects, rng)  # (N,)
    alone = np.zeros_like(scenes.sounding)  # (N, K)
    alone[np.flatnonzero(swap >= 0), swap[swap >= 0]] = True
    mix_seed = ds.data.seed + 1000
    remixed = {
        "other": scene_clips(dataclasses.replace(scenes, sounding=other), seed=mix_seed),  # (N, T)
        "swap": scene_clips(dataclasses.replace(scenes, sounding=alone), seed=mix_seed + 1),  # (N, T)
        "silence": scene_clips(dataclasses.replace(scenes, sounding=np.zeros_like(alone)), seed=mix_seed + 2),
    }
    visible = torch.stack([ds.data.visible(i) for i in range(n)])  # (N, K, S, S)
    sounding = torch.from_numpy(scenes.sounding)  # (N, K)
    grid = encode(encoder, ds.data.images)  # (N, D, g, g)
    with torch.no_grad():
        none = encoder.heads(grid.to(next(encoder.parameters()).device))["shape"].softmax(1)[:, 0].cpu()  # (N, g, g)
    return {
        "grid": grid,  # (N, D, g, g)
        "objectness": 1.0 - none,  # (N, g, g) the encoder's "some object here"
        "mels": log_mels(torch.stack([ds.audio(i) for i in range(n)])),  # (N, M, F) the scene's own clip
        "mels_other": log_mels(remixed["other"]),  # (N, M, F) other objects of the scene sounding
        "mels_swap": log_mels(remixed["swap"]),  # (N, M, F) one silent object alone
        "mels_silence": log_mels(remixed["silence"]),  # (N, M, F) ambience only
        "sounding": sounding,  # (N, K)
        "other": torch.from_numpy(other),  # (N, K)
        "swap": torch.from_numpy(swap),  # (N,) the object heard in the swap clip (-1: none)
        "visible": visible,  # (N, K, S, S) bool
        "sound_mask": (visible & sounding[:, :, None, None]).any(1),  # (N, S, S) the true sounding pixels
        "images": ds.data.images,  # (N, 3, S, S) uint8
        "scene_index": torch.arange(n),  # (N,)
    }


def lesson_data(n_train: int, n_test: int, image_size: int = 64, seed: int = 0,
                verbose: bool = True) -> dict[str, Any]:
    """Training and held-out test scenes (2-4 objects, each sounding with probability 1/2), with
    the frozen grids, log-mels of every clip the lesson uses and the true masks; cached.

    Returns ``{"train": {...}, "test": {...}, "scenes": {"train": SceneBatch, "test": SceneBatch}}``.
    The test scenes come from the world's test seed, so no scene is shared with training.
    """
    encoder = pretrained_grid_encoder()
    config = {"n_train": int(n_train), "n_test": int(n_test), "size": int(image_size), "seed": int(seed),
              "n_mels": N_MELS, "n_fft": N_FFT, "hop": HOP, "version": 1}

    def build() -> dict[str, Any]:
        return {"train": _split("train", n_train, encoder, seed, image_size, verbose),
                "test": _split("test", n_test, encoder, seed, image_size, verbose)}

    data = cache.cached("lesson10-data", config, build, verbose=verbose)
    for split, n in (("train", n_train), ("test", n_test)):
        ds = AudioVisualDataset(split, n, size=image_size, seed=seed, min_objects=2, max_objects=4, verbose=False)
        data.setdefault("scenes", {})[split] = ds.data.scenes
    return data


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variant:
    """How one model is trained: where its negatives come from, and how many labelled maps it sees."""

    negatives: str = "other scenes"  # "other scenes" or "same scene"
    labelled: int = 0  # training scenes whose true map is used (semi-supervised)
    map_weight: float = 3.0  # weight of the supervised map term
    scale: float = 5.0  # distance scale in the triplet softmax


class Batches:
    """Shuffled minibatches of scene indices (a new order each epoch, seeded).

    The order is drawn on the CPU; each index batch is then moved to ``device`` (``None``:
    left on the CPU), where the scenes' tensors live during training.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, device: torch.device | str | None = None) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.device = torch.device(device) if device is not None else None

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator)  # (N,)
        for index in order.split(self.batch_size):  # (b,)
            yield index if self.device is None else index.to(self.device, non_blocking=True)  # (b,)


def step_loss(model: SoundLocalizer, data: Mapping[str, torch.Tensor], index: torch.Tensor, variant: Variant,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one batch of training scenes ``index`` (B,) under ``variant``.

    - other scenes: each scene's own clip is the positive, the clip of another scene in the
      batch the negative (the paper).
    - same scene: the clip with the scene's *other* objects sounding is the negative; and the
      other way round (that clip as the positive, the scene's own clip as the negative), so
      the map must follow the sound.

    ``data``'s tensors may live on the CPU or on the model's device (:func:`fit` moves them
    there once); the logged terms are detached 0-dim tensors (read back by ``train``).
    """
    dev = next(model.parameters()).device
    index = index.to(data["grid"].device, non_blocking=True)  # (B,) where the scenes are
    grid = data["grid"][index].to(dev)  # (B, D, g, g)
    cells = model.visual(grid)  # (B, dim, g, g)
    s_own = model.sound(data["mels"][index].to(dev))  # (B, dim)
    if variant.negatives == "other scenes":
        out = model.attend(cells, s_own)
        loss = triplet_loss(out["z"], s_own, s_own.roll(1, 0), variant.scale)
        alpha = out["map"]  # (B, g, g)
    elif variant.negatives in ("same scene", "both"):
        s_other = model.sound(data["mels_other"][index].to(dev))  # (B, dim)
        out = model.attend(cells, s_own)
        back = model.attend(cells, s_other)
        loss = 0.5 * (triplet_loss(out["z"], s_own, s_other, variant.scale)
                      + triplet_loss(back["z"], s_other, s_own, variant.scale))
        if variant.negatives == "both":
            loss = loss + 0.5 * (triplet_loss(out["z"], s_own, s_own.roll(1, 0), variant.scale)
                                 + triplet_loss(back["z"], s_other, s_other.roll(1, 0), variant.scale))
        alpha = out["map"]  # (B, g, g)
    else:
        raise ValueError(f"variant.negatives must be 'other scenes' or 'same scene', got {variant.negatives!r}")
    extra = {"triplet": loss.detach()}  # () on the device
    if variant.labelled:
        # a few labelled scenes (the first `labelled` training scenes) join every step
        labelled = torch.randint(0, variant.labelled, (min(LABELLED_BATCH, variant.labelled),))  # (b,) on the CPU
        labelled = labelled.to(data["grid"].device, non_blocking=True)  # (b,)
        alpha = model(data["grid"][labelled].to(dev), data["mels"][labelled].to(dev))["map"]  # (b, g, g)
        mask = data["sound_mask"]  # (N, S, S)
        truth = grid_truth(mask[labelled.to(mask.device)], grid.shape[-1]).to(dev)  # (b, g, g)
        sup = map_loss(alpha, truth)
        loss = loss + variant.map_weight * sup
        extra["map"] = sup.detach()  # () on the device
    return loss, extra


def fit(model: SoundLocalizer, data: Mapping[str, torch.Tensor], variant: Variant, *, epochs: int, batch_size: int,
        lr: float = 3e-3, seed: int = 0, progress: bool = True, desc: str = "training") -> History:
    """Train ``model`` on the training scenes (Adam, one-cycle schedule, a fixed number of epochs).

    The scenes' tensors that a step reads are moved to the training device once, for the
    run; each batch of scene indices is moved there and gathers its scenes on the device.
    """
    dev = default_device()
    keys = ["grid", "mels"] + (["mels_other"] if variant.negatives in ("same scene", "both") else []) \
        + (["sound_mask"] if variant.labelled else [])
    on_device = {key: data[key].to(dev) for key in keys}  # each (N, ...) on the training device
    batches = Batches(len(data["grid"]), batch_size, seed, device=dev)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(batches))
    with seeded(seed):
        return train(model, batches, lambda m, idx: step_loss(m, on_device, idx, variant), optimizer, epochs=epochs,
                     scheduler=scheduler, time_budget=600, desc=desc, progress=progress, device=dev)


def train_variant(variant: Variant, data: Mapping[str, torch.Tensor], *, epochs: int, batch_size: int,
                  width: int = 32, dim: int = 64, lr: float = 3e-3, seed: int = 0,
                  progress: bool = True) -> tuple[SoundLocalizer, History]:
    """Build a :class:`SoundLocalizer` and train it under ``variant``, cached: a second run with the
    same settings, data and code reads the weights and the history back.

    Training runs on one CPU thread (as fast for a model this small, and no stalls when other
    programs share the cores).
    """
    torch.manual_seed(seed)
    model = SoundLocalizer(grid_dim=int(data["grid"].shape[1]), dim=dim, width=width)
    keys = ("grid", "mels", "mels_other", "sound_mask")
    config = {"variant": dataclasses.asdict(variant), "epochs": epochs, "batch_size": batch_size, "width": width,
              "dim": dim, "lr": lr, "seed": seed, "temperature": model.temperature,
              "data": cache.fingerprint(*(data[k] for k in keys))}
    name = f"lesson10-{variant.negatives.replace(' ', '-')}-{variant.labelled}"

    def fit_it(m: SoundLocalizer) -> History:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fit(m, data, variant, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                       desc=f"{variant.negatives}, {variant.labelled} labelled")
        finally:
            torch.set_num_threads(threads)

    history = cache.cached_training(name, config, model, fit_it, code=(step_loss, fit, Batches, triplet_loss,
                                                                        map_loss, grid_truth, attention_map, train))
    return model.eval(), history


@torch.no_grad()
def predict_maps(model: SoundLocalizer, grid: torch.Tensor, mels: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Localization maps ``(N, g, g)`` for grids ``(N, D, g, g)`` and log-mels ``(N, M, F)``."""
    model.eval()
    dev = next(model.parameters()).device
    out = [model(grid[i:i + batch_size].to(dev), mels[i:i + batch_size].to(dev))["map"].cpu()
           for i in range(0, len(grid), batch_size)]
    return torch.cat(out)  # (N, g, g)


# ----------------------------------------------------------------------------------------
# Scores
# ----------------------------------------------------------------------------------------


def upsample(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Grid maps ``(N, g, g)`` bilinearly upsampled to the image, ``(N, S, S)``."""
    return F.interpolate(maps.float()[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def binarize(maps: torch.Tensor, truth: torch.Tensor, rule: str = "area") -> torch.Tensor:
    """Which pixels a map calls "sounding": bool ``(N, S, S)`` for maps and truth ``(N, S, S)``.

    - ``"median"`` (the paper): pixels at or above the map's median — half the image.
    - ``"area"``: pixels at or above the map's k-th largest value, k = the true sounding area
      (ties are all kept, so a flat map covers the whole image).
    - ``"minmax"``: pixels at or above 0.5 after scaling the map to [0, 1] (a flat map: all).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if maps.shape != truth.shape or maps.dim() != 3:
        raise ValueError(f"maps and truth must both be (N, S, S), got {tuple(maps.shape)} and {tuple(truth.shape)}")
    flat = maps.float().flatten(1)  # (N, P)
    if rule == "median":
        cut = flat.median(dim=1, keepdim=True).values  # (N, 1)
    elif rule == "area":
        k = truth.flatten(1).sum(1).clamp(min=1).long()  # (N,)
        ranked = flat.sort(dim=1, descending=True).values  # (N, P)
        cut = ranked.gather(1, (k - 1)[:, None])  # (N, 1) the k-th largest value
    else:
        low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values  # (N, 1)
        flat = torch.where(high > low, (flat - low) / (high - low).clamp(min=1e-12), torch.ones_like(flat))  # (N, P)
        cut = torch.full_like(low, 0.5)  # (N, 1)
    return (flat >= cut).view_as(maps)  # (N, S, S)


def ciou(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """The paper's consensus IoU for binary truth: ``|pred & truth| / (|truth| + |pred - truth|)``, ``(N,)``."""
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have one shape, got {tuple(pred.shape)} and {tuple(truth.shape)}")
    p, t = pred.bool().flatten(1), truth.bool().flatten(1)  # (N, P)
    hit = (p & t).sum(1).float()  # (N,)
    return hit / (t.sum(1) + (p & ~t).sum(1)).float().clamp(min=1)  # (N,)


def success_auc(cious: torch.Tensor, thresholds: np.ndarray = THRESHOLDS) -> tuple[np.ndarray, float]:
    """The success rate (share of items with cIoU >= t) for every threshold t, and its area
    (trapezoids) over thresholds 0 to 1."""
    c = torch.as_tensor(cious, dtype=torch.float32)  # (N,)
    rates = np.array([float((c >= t).float().mean()) for t in thresholds])  # (T,)
    return rates, float(np.sum((rates[1:] + rates[:-1]) / 2 * np.diff(thresholds)))


def peak_objects(maps: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Which object each map's peak cell points at: ``(N,)`` object index, -1 for background.

    The peak cell's pixels are counted per object (its visible pixels); the object with the
    most wins, and a cell with no object pixel points at the background.
    """
    n, g, _ = maps.shape
    s = visible.shape[-1]
    if s % g:
        raise ValueError(f"the image side ({s}) must be a multiple of the grid side ({g})")
    cell = s // g
    peak = maps.flatten(1).argmax(1)  # (N,)
    row, col = peak // g, peak % g  # (N,)
    counts = torch.stack([visible[i, :, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell].flatten(1).sum(1)
                          for i, (r, c) in enumerate(zip(row.tolist(), col.tolist()))])  # (N, K)
    best = counts.argmax(1)  # (N,)
    return torch.where(counts.amax(1) > 0, best, torch.full_like(best, -1))  # (N,)


def flatness(maps: torch.Tensor) -> torch.Tensor:
    """Normalised entropy of each map (1 = perfectly flat, 0 = all on one cell): ``(N,)``."""
    p = maps.flatten(1) / maps.flatten(1).sum(1, keepdim=True)  # (N, L)
    return -(p * p.clamp(min=1e-12).log()).sum(1) / math.log(p.shape[1])  # (N,)


def baseline_maps(test: Mapping[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Grid maps ``(N, g, g)`` that ignore the sound: the whole image (flat), random, object-ness
    (the encoder's "some object in this cell"), and the perfect map at grid resolution."""
    n, _, g, _ = test["grid"].shape
    generator = torch.Generator().manual_seed(seed)
    return {
        "whole image": torch.ones(n, g, g) / g**2,  # (N, g, g)
        "random": torch.rand(n, g, g, generator=generator),  # (N, g, g)
        "object-ness": test["objectness"],  # (N, g, g)
        "perfect grid map": grid_truth(test["sound_mask"], g),  # (N, g, g)
    }


def evaluate(maps: torch.Tensor, test: Mapping[str, torch.Tensor], rule: str = "area") -> dict[str, float]:
    """cIoU@0.5 and AUC (with binarisation ``rule``) and pointing for grid maps ``(N, g, g)``."""
    truth = test["sound_mask"]  # (N, S, S)
    scores = ciou(binarize(upsample(maps, truth.shape[-1]), truth, rule), truth)  # (N,)
    _, auc = success_auc(scores)
    peak = peak_objects(maps, test["visible"])  # (N,)
    on_object = peak >= 0  # (N,)
    sounding = torch.zeros_like(on_object)
    sounding[on_object] = test["sounding"][on_object.nonzero()[:, 0], peak[on_object]]
    return {"cIoU@0.5": float((scores >= 0.5).float().mean()), "AUC": auc, "mean cIoU": float(scores.mean()),
            "pointing (sounding)": float(sounding.float().mean()), "pointing (any object)": float(on_object.float().mean())}


def swap_test(model: SoundLocalizer, test: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Swap the clip for one in which a silent object of the same scene sounds alone: how often
    the peak lands on that object (and did before, with the scene's own clip)."""
    has = test["swap"] >= 0  # (N,)
    grid = test["grid"][has]  # (n, D, g, g)
    target = test["swap"][has]  # (n,)
    before = peak_objects(predict_maps(model, grid, test["mels"][has]), test["visible"][has])  # (n,)
    after = peak_objects(predict_maps(model, grid, test["mels_swap"][has]), test["visible"][has])  # (n,)
    return {"scenes": int(has.sum()), "on it before": float((before == target).float().mean()),
            "on it after": float((after == target).float().mean())}


def table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str]) -> str:
    """A plain-text table: one row per model, one column per score."""
    width = max(len(name) for name in rows) + 2
    lines = [" " * width + "".join(f"{c:>22s}" for c in columns)]
    for name, row in rows.items():
        lines.append(f"{name:<{width}s}" + "".join(f"{row[c]:>22.2f}" for c in columns))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def _fixed(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def check_attention_map(fn: Callable[..., Any]) -> torch.Tensor:
    """Exercise 1: ``fn(sound (B, D), grid (B, D, g, g), temperature)`` -> the map ``(B, g, g)``."""
    sound, grid = _fixed(0, 3, 6), _fixed(1, 3, 6, 4, 4)
    grid[0, :, 1, 2] = 5 * sound[0]  # a long cell pointing the sound's way
    grid[1, :, 0, 0] = -sound[1]  # a cell pointing away
    out = fn(sound, grid, 0.1)
    out = torch.as_tensor(out, dtype=torch.float32)
    checks.shape(out, (3, 4, 4), "map")
    expected = attention_map(sound, grid, 0.1)  # (B, g, g)
    checks.true(bool(torch.allclose(out.flatten(1).sum(1), torch.ones(3), atol=1e-4)),
                "each map must sum to 1 over its cells: a softmax over all g*g cells of one item (flatten the grid "
                "first; a softmax over one axis of the grid only normalises rows or columns)")
    plain = torch.softmax(torch.einsum("bd,bdl->bl", sound, grid.flatten(2)) / 0.1, 1).view(3, 4, 4)
    checks.true(not torch.allclose(out, plain, atol=1e-4),
                "the similarity must be the cosine: normalise the sound vector and every cell vector to unit "
                "length before the dot product (a long cell must not win just by being long)")
    no_relu = torch.softmax(torch.einsum("bd,bdl->bl", F.normalize(sound, dim=1),
                                         F.normalize(grid.flatten(2), dim=1)) / 0.1, 1).view(3, 4, 4)
    checks.true(not torch.allclose(out, no_relu, atol=1e-4),
                "negative cosines must be cut to 0 by a ReLU before the softmax: a cell pointing away from the "
                "sound gets the same weight as an unrelated one, not less")
    no_temp = attention_map(sound, grid, 1.0)
    checks.true(not torch.allclose(out, no_temp, atol=1e-4),
                "divide the ReLU'd cosines by the temperature before the softmax")
    checks.close(out, expected, "map", tol=1e-4)
    return out


def check_ciou_auc(fn: Callable[..., Any]) -> tuple[torch.Tensor, float]:
    """Exercise 2: ``fn(pred (N, S, S) bool, truth (N, S, S) bool)`` -> ``(cious (N,), auc)``."""
    truth = torch.zeros(4, 4, 4, dtype=torch.bool)
    truth[:, 1:3, 1:3] = True  # 4 true pixels each
    pred = torch.zeros(4, 4, 4, dtype=torch.bool)
    pred[0, 1:3, 1:3] = True  # exact: 1
    pred[1, 1:3, 1:4] = True  # 4 hits, 2 extra: 4 / 6
    pred[2, 1, 1] = True  # 1 hit: 1 / 4
    pred[3] = True  # everything: 4 / 16
    expected = torch.tensor([1.0, 4 / 6, 0.25, 0.25])
    out = fn(pred, truth)
    checks.true(isinstance(out, tuple) and len(out) == 2, "return a pair (cious, auc)")
    cious, auc = torch.as_tensor(out[0], dtype=torch.float32), float(out[1])
    checks.shape(cious, (4,), "cious")
    if abs(float(cious[2]) - 1.0) < 1e-4:
        raise checks.CheckFailed("a single right pixel got cIoU 1: divide by the true area plus the false "
                                 "positives, not by the predicted area")
    if abs(float(cious[1]) - 1.0) < 1e-4:
        raise checks.CheckFailed("a map with two extra pixels got cIoU 1: the pixels it calls sounding "
                                 "outside the truth must be added to the denominator")
    checks.close(cious, expected, "cious", tol=1e-4)
    _, ref_auc = success_auc(expected)
    if abs(auc - float((expected >= 0.5).float().mean())) < 1e-6 and abs(auc - ref_auc) > 1e-3:
        raise checks.CheckFailed("auc is the area under the whole success curve (thresholds 0, 0.05, ..., 1), "
                                 "not the success rate at 0.5")
    checks.close(auc, ref_auc, "auc", tol=1e-3)
    return cious, auc


def check_triplet_loss(fn: Callable[..., Any]) -> torch.Tensor:
    """Exercise 3: ``fn(z, s_pos, s_neg)`` (each (B, D)) -> the paper's scalar loss."""
    z, s_pos, s_neg = _fixed(3, 5, 8), _fixed(4, 5, 8), _fixed(5, 5, 8)
    out = fn(z, s_pos, s_neg)
    checks.true(torch.is_tensor(out) and out.dim() == 0, "return a scalar tensor (the mean over the batch)")
    swapped = triplet_loss(z, s_neg, s_pos)  # also what a softmax over the negated distances gives
    if abs(float(out) - float(swapped)) < 1e-5:
        raise checks.CheckFailed("the loss rewards the wrong side: take the softmax over the distances themselves "
                                 "(not their negatives), and push the *positive's* share to 0 and the negative's to 1")
    checks.close(out, triplet_loss(z, s_pos, s_neg), "loss", tol=1e-5)
    z2 = z.clone().requires_grad_(True)
    fn(z2, s_pos, s_neg).backward()
    checks.true(z2.grad is not None and bool(z2.grad.abs().sum() > 0), "the loss must be differentiable in z")
    return out


__all__ = [
    "Batches", "N_MELS", "RULES", "SoundLocalizer", "SoundNet", "THRESHOLDS", "Variant", "attention_map",
    "baseline_maps", "binarize", "check_attention_map", "check_ciou_auc", "check_triplet_loss", "ciou", "evaluate",
    "fit", "flatness", "train_variant", "grid_truth", "lesson_data", "log_mels", "map_loss", "peak_objects", "predict_maps",
    "step_loss", "success_auc", "swap_test", "table", "triplet_loss", "upsample",
]
