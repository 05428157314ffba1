"""SoundNet (lesson 08): a sound network taught by image networks, with no audio labels.

Aytar, Vondrick and Torralba (2016), in miniature. Every training example is a scene's clip
with its picture (the "video frame"), and no label of the clip is ever used:

- **teachers** (frozen): the course's pre-trained image encoder
  (:func:`mmcourse.encoders.pretrained_grid_encoder`) reads the frame and gives two
  probability vectors, :func:`teacher_distributions` — *which shapes are in the frame* (the
  object teacher) and *which scene type it is* (the scene teacher);
- **student**: :class:`SoundNet`, a 1-D convolutional network on the raw 16 kHz waveform —
  stages of strided convolution, batch norm, ReLU and max pooling, with channels growing as
  time shrinks — ending in two heads (object, scene) that score every time window; the
  windows' scores are averaged into one distribution per clip;
- **loss**: :func:`teacher_student_loss`, ``KL(teacher_object || student_object) +
  KL(teacher_scene || student_scene)``. Nothing else.

What the student learned is measured on held-out clips, sound only: scene accuracy
(:func:`scene_accuracy`), shape presence average precision for *sounding* and for *silent*
objects (:func:`presence_ap`), and transfer with a linear probe on a frozen layer
(:func:`layer_features`, :func:`linear_probe`) against a randomly initialised student and
MFCC statistics (:func:`mfcc_statistics`). :func:`output_length` and :func:`receptive_field`
do the shape bookkeeping; :func:`validate_waveform` says what the network accepts. The
``check_*`` functions check the lesson's exercises; figures are in :mod:`mmcourse.soundnet_figures`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import audio, cache, checks
from .encoders import encode
from .runtime import device as default_device, preset
from .training import History, train
from .world.catalog import SCENE_TYPES, SHAPES
from .world.sound import scene_clips

SAMPLE_RATE = 16000
"""The sample rate the student is built for (Hz): the world's clips are 16 kHz mono."""


# ----------------------------------------------------------------------------------------
# The student: a 1-D conv net on the raw waveform
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SoundNetConfig:
    """The student's architecture: one entry per stage (conv -> batch norm -> ReLU -> max pool).

    ``kernels[i]``, ``strides[i]`` and ``channels[i]`` are stage ``i``'s convolution; a stage
    with ``pools[i] > 1`` ends with a max pool of that size and stride. Every convolution is
    padded by ``(kernel - stride) // 2``, so a stage divides the length by its stride (and pool).
    """

    channels: tuple[int, ...] = (16, 32, 64, 128)
    kernels: tuple[int, ...] = (32, 16, 8, 4)
    strides: tuple[int, ...] = (4, 2, 2, 2)
    pools: tuple[int, ...] = (4, 4, 1, 1)
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n == 0 or not len(self.kernels) == len(self.strides) == len(self.pools) == n:
            raise ValueError("channels, kernels, strides and pools must have one entry per stage "
                             f"(got {len(self.channels)}, {len(self.kernels)}, {len(self.strides)}, {len(self.pools)})")
        for name in ("channels", "kernels", "strides", "pools"):
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in getattr(self, name)):
                raise ValueError(f"{name} must hold positive integers, got {getattr(self, name)}")

    @classmethod
    def for_preset(cls, p: Any = None) -> "SoundNetConfig":
        """The ``cpu`` student, or a wider one with an extra stage for the ``gpu`` preset."""
        p = p or preset()
        return p.pick(cpu=cls(), gpu=cls(channels=(32, 64, 128, 256, 256), kernels=(32, 16, 8, 4, 4),
                                         strides=(4, 2, 2, 2, 2), pools=(4, 4, 1, 1, 1)))

    def layers(self) -> list[tuple[int, int, int]]:
        """Every length-changing operation as ``(kernel, stride, padding)``, in order (conv, then pool)."""
        out = []
        for k, s, p in zip(self.kernels, self.strides, self.pools):
            out.append((k, s, (k - s) // 2))
            if p > 1:
                out.append((p, p, 0))
        return out


def output_length(length: int, layers: Sequence[tuple[int, int, int]]) -> int:
    """Length after a stack of 1-D convolutions / poolings, each ``(kernel, stride, padding)``.

    One layer maps ``L`` to ``floor((L + 2 * padding - kernel) / stride) + 1`` (PyTorch's
    ``Conv1d`` and ``MaxPool1d``); the stack applies that in turn. A ``ValueError`` says which
    layer an input that is too short would empty.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    n = int(length)
    for i, (k, s, p) in enumerate(layers):
        out = (n + 2 * p - k) // s + 1
        if out < 1:
            raise ValueError(f"length={length} is too short: layer {i} (kernel {k}, stride {s}, padding {p}) "
                             f"gets {n} samples and would give {out}")
        n = out
    return n


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """How many input samples one output step of the stack sees: ``1 + sum (kernel - 1) * jump``,
    where ``jump`` is the product of the strides before the layer."""
    field, jump = 1, 1
    for k, s, _ in layers:
        field += (k - 1) * jump
        jump *= s
    return field


def validate_waveform(waveform: Any, sample_rate: Any = SAMPLE_RATE, expected_rate: int = SAMPLE_RATE,
                      min_length: int = 1, *, check_finite: bool = True) -> torch.Tensor:
    """Check a batch of clips for :class:`SoundNet`; returns it as float32 ``(B, T)``.

    Accepted: a torch tensor or NumPy array, ``(T,)`` (one clip) or ``(B, T)``, mono, finite,
    at ``expected_rate`` Hz, with at least ``min_length`` samples (the network's receptive
    field). Stereo (``(B, 2, T)`` or ``(T, 2)``), another sample rate and a too short clip are
    a ``ValueError`` that names the argument and says what to do.

    ``check_finite=False`` skips the scan for NaN and infinite samples (on an accelerator it
    waits for the device); training uses it, where a non-finite input gives a non-finite loss,
    which :func:`mmcourse.training.train` reports.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"sample_rate must be a number in Hz, got {sample_rate!r}")
    if float(sample_rate) != float(expected_rate):
        raise ValueError(f"sample_rate must be {expected_rate} Hz (the rate the network is built for), got "
                         f"{sample_rate!r}; resample the clip (e.g. librosa.resample) first")
    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(np.ascontiguousarray(waveform))
    if not torch.is_tensor(waveform):
        raise ValueError(f"waveform must be a torch tensor or NumPy array (B, T), got {type(waveform).__name__}")
    if waveform.is_complex() or not (waveform.is_floating_point() or waveform.dtype == torch.int16):
        raise ValueError(f"waveform must hold float samples in [-1, 1] (or int16 PCM), got dtype {waveform.dtype}")
    x = waveform.float() / 32768.0 if waveform.dtype == torch.int16 else waveform.float()
    shape = tuple(x.shape)
    if x.dim() == 3:
        raise ValueError(f"waveform must be mono (B, T), got shape {shape} with {shape[1]} channels (stereo?): "
                         "average the channels, waveform.mean(1)")
    if x.dim() == 2 and shape[1] in (1, 2) and shape[0] > shape[1]:
        raise ValueError(f"waveform must be mono (B, T), got shape {shape}, which looks like (samples, channels): "
                         "average the channels, waveform.mean(1)")
    if x.dim() == 1:
        x = x[None]  # (1, T)
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"waveform must have shape (T,) or (B, T), got {shape}")
    if x.shape[1] < min_length:
        raise ValueError(f"waveform is too short: {x.shape[1]} samples ({x.shape[1] / expected_rate * 1000:.1f} ms), "
                         f"but the network's receptive field is {min_length} samples; pass longer clips")
    if check_finite and not bool(torch.isfinite(x).all()):
        raise ValueError("waveform contains NaN or infinite samples")
    return x  # (B, T)


class SoundNet(nn.Module):
    """The student: raw waveform ``(B, T)`` at 16 kHz -> object and scene logits.

    ``features`` is the stack of stages; :meth:`windows` gives both heads' logits for every
    time window of the last stage, ``(B, n, T')``; :meth:`forward` averages them over the
    windows. :meth:`activations` returns every stage's output, for probes and unit figures.
    """

    def __init__(self, config: SoundNetConfig | None = None, n_objects: int = len(SHAPES),
                 n_scenes: int = len(SCENE_TYPES)) -> None:
        super().__init__()
        self.config = config or SoundNetConfig()
        stages, c_in = [], 1
        for c, k, s, p in zip(self.config.channels, self.config.kernels, self.config.strides, self.config.pools):
            layers: list[nn.Module] = [nn.Conv1d(c_in, c, k, stride=s, padding=(k - s) // 2, bias=False),
                                       nn.BatchNorm1d(c), nn.ReLU(inplace=True)]
            if p > 1:
                layers.append(nn.MaxPool1d(p))
            stages.append(nn.Sequential(*layers))
            c_in = c
        self.stages = nn.ModuleList(stages)
        self.object_head = nn.Conv1d(c_in, n_objects, 1)  # one score per window
        self.scene_head = nn.Conv1d(c_in, n_scenes, 1)
        self.min_length = receptive_field(self.config.layers())

    def extra_repr(self) -> str:
        return f"receptive_field={self.min_length} samples"

    def activations(self, waveform: Any, sample_rate: Any = SAMPLE_RATE, *,
                    check_finite: bool = True) -> list[torch.Tensor]:
        """Every stage's output ``[(B, C_1, T_1), (B, C_2, T_2), ...]`` for a ``(B, T)`` batch
        (``check_finite``: see :func:`validate_waveform`)."""
        x = validate_waveform(waveform, sample_rate, self.config.sample_rate, self.min_length,
                              check_finite=check_finite)  # (B, T)
        x = x.to(self.object_head.weight.device)[:, None]  # (B, 1, T)
        out = []
        for stage in self.stages:
            x = stage(x)  # (B, C_i, T_i)
            out.append(x)
        return out

    def windows(self, waveform: Any, sample_rate: Any = SAMPLE_RATE, *,
                check_finite: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Object and scene logits of every time window: ``(B, n_objects, T')``, ``(B, n_scenes, T')``."""
        h = self.activations(waveform, sample_rate, check_finite=check_finite)[-1]  # (B, C, T')
        return self.object_head(h), self.scene_head(h)  # (B, n_obj, T'), (B, n_sc, T')

    def forward(self, waveform: Any, sample_rate: Any = SAMPLE_RATE, *,
                check_finite: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip-level logits: the windows' logits averaged over time, ``(B, n_objects)``, ``(B, n_scenes)``."""
        obj, scene = self.windows(waveform, sample_rate, check_finite=check_finite)  # (B, n_obj, T'), (B, n_sc, T')
        return obj.mean(2), scene.mean(2)  # (B, n_obj), (B, n_sc)


# ----------------------------------------------------------------------------------------
# The teachers: the frozen image encoder's object and scene distributions
# ----------------------------------------------------------------------------------------


@torch.no_grad()
def teacher_distributions(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """What the frozen image networks say about each frame: ``{"object": (N, 5), "scene": (N, 4)}``.

    The encoder's shape head gives every cell of its 8x8 grid a distribution over "no
    object" and the five shapes. The **object** distribution pools it over the cells: for
    each shape, its largest probability over the cells ("is there a star anywhere?"), then
    renormalised over the shapes so the vector sums to 1 (a frame with a star and a circle
    gives about one half each). The max, not the mean: the mean would weigh an object by
    its area and dilute every object by the empty background. The **scene** distribution is
    the softmax of the encoder's scene head.
    """
    grids = encode(encoder, images, batch_size=batch_size)  # (N, D, g, g)
    dev = next(encoder.parameters()).device
    objects, scenes = [], []
    for start in range(0, len(grids), batch_size):
        out = encoder.heads(grids[start:start + batch_size].to(dev))
        shape = out["shape"].softmax(1)[:, 1:].amax((2, 3))  # (b, 5) per-shape max over cells
        objects.append((shape / shape.sum(1, keepdim=True).clamp_min(1e-8)).float().cpu())  # (b, 5) sums to 1
        scenes.append(out["scene"].softmax(1).float().cpu())  # (b, 4)
    return {"object": torch.cat(objects), "scene": torch.cat(scenes)}  # (N, 5), (N, 4)


# ----------------------------------------------------------------------------------------
# The loss: two KL divergences, teacher -> student
# ----------------------------------------------------------------------------------------


def kl_to_student(teacher: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``KL(teacher || softmax(student_logits / T))`` averaged over the batch, times ``T**2``.

    ``teacher`` ``(B, n)`` holds probabilities; with a temperature ``T`` it is softened the
    same way, ``teacher**(1/T)`` renormalised. ``0 * log 0`` counts as 0.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    if teacher.shape != student_logits.shape:
        raise ValueError(f"teacher {tuple(teacher.shape)} and student_logits {tuple(student_logits.shape)} must match")
    log_q = F.log_softmax(student_logits / temperature, dim=1)  # (B, n) student log-probabilities
    p = teacher.clamp_min(0) ** (1.0 / temperature)  # (B, n)
    p = p / p.sum(1, keepdim=True).clamp_min(1e-12)  # (B, n) teacher probabilities
    log_p = torch.log(p.clamp_min(1e-12))  # (B, n)
    kl = (p * (log_p - log_q)).sum(1)  # (B,) zero where p = 0
    return kl.mean() * temperature**2  # ()


def teacher_student_loss(student_object: torch.Tensor, student_scene: torch.Tensor, teacher_object: torch.Tensor,
                         teacher_scene: torch.Tensor, temperature: float = 1.0,
                         weights: tuple[float, float] = (1.0, 1.0)) -> torch.Tensor:
    """The SoundNet loss: ``KL(teacher_object || student_object) + KL(teacher_scene || student_scene)``.

    ``student_*`` are logits ``(B, n)``, ``teacher_*`` probabilities ``(B, n)``. ``weights``
    switches a teacher off for the ablation (``(1, 0)``: object teacher only).
    """
    loss = student_object.new_zeros(())  # ()
    if weights[0]:
        loss = loss + weights[0] * kl_to_student(teacher_object, student_object, temperature)
    if weights[1]:
        loss = loss + weights[1] * kl_to_student(teacher_scene, student_scene, temperature)
    return loss


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------

TEACHERS: dict[str, tuple[float, float]] = {"both": (1.0, 1.0), "object": (1.0, 0.0), "scene": (0.0, 1.0)}
"""Which teachers a student learns from (the weights of the object and scene KL terms)."""


class ClipBatches:
    """Batches ``(waveform crop, teacher object, teacher scene)`` for :func:`mmcourse.training.train`.

    Each epoch is a new shuffle; every clip is cut to a random window of ``crop`` samples
    (the teachers' labels hold for the whole clip, and the network is convolutional, so it
    learns from windows and reads whole clips at test time).

    The shuffle and the windows' starts are drawn on the CPU. With a ``device``, the clips
    (in their own dtype, e.g. int16) and the teacher's two distributions are moved there once
    and every batch is gathered there; ``None`` keeps them where they are.
    """

    def __init__(self, clips: torch.Tensor, teacher: dict[str, torch.Tensor], batch_size: int, crop: int,
                 seed: int = 0, device: torch.device | str | None = None) -> None:
        if clips.dim() != 2 or len(clips) != len(teacher["object"]) or len(clips) != len(teacher["scene"]):
            raise ValueError(f"clips (N, T) and the teacher's (N, n) must hold the same N clips, got "
                             f"{tuple(clips.shape)}, {tuple(teacher['object'].shape)}, {tuple(teacher['scene'].shape)}")
        if not 1 <= crop <= clips.shape[1]:
            raise ValueError(f"crop must be between 1 and the clip length {clips.shape[1]}, got {crop}")
        self.device = torch.device(device) if device is not None else None
        if self.device is not None:
            clips = clips.to(self.device)  # (N, T)
            teacher = {key: teacher[key].to(self.device) for key in ("object", "scene")}  # (N, 5), (N, 4)
        self.clips, self.teacher, self.batch_size, self.crop, self.seed = clips, teacher, batch_size, crop, seed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.clips) / self.batch_size)

    def __iter__(self):
        self.epoch += 1
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.clips), generator=gen)  # (N,)
        starts = torch.randint(0, self.clips.shape[1] - self.crop + 1, (len(self.clips),), generator=gen)  # (N,)
        dev = self.device if self.device is not None else torch.device("cpu")  # where the indices go
        starts = starts.to(dev, non_blocking=True)  # (N,)
        offsets = torch.arange(self.crop, device=dev)  # (crop,)
        for idx in order.split(self.batch_size):  # (b,)
            idx = idx.to(dev, non_blocking=True)  # (b,)
            rows = self.clips[idx[:, None], starts[idx, None] + offsets]  # (b, crop)
            if rows.dtype == torch.int16:
                rows = rows.float() / 32768.0  # (b, crop)
            yield rows, self.teacher["object"][idx], self.teacher["scene"][idx]  # (b, crop), (b, 5), (b, 4)


def soundnet_step(model: SoundNet, batch: tuple[torch.Tensor, ...], weights: tuple[float, float] = (1.0, 1.0),
                  temperature: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One step of teacher-student training; also logs each KL term (detached 0-dim tensors,
    read back by :func:`mmcourse.training.train`). The clips are not scanned for NaN here (a wait
    for the device): a non-finite clip gives a non-finite loss, which ``train`` reports."""
    wave, t_obj, t_scene = batch  # (B, T), (B, 5), (B, 4)
    s_obj, s_scene = model(wave, check_finite=False)  # (B, 5), (B, 4)
    loss = teacher_student_loss(s_obj, s_scene, t_obj, t_scene, temperature, weights)
    with torch.no_grad():
        logs = {"kl_object": kl_to_student(t_obj, s_obj).detach(),  # ()
                "kl_scene": kl_to_student(t_scene, s_scene).detach()}  # ()
    return loss, logs


def fit(model: SoundNet, clips: torch.Tensor, teacher: dict[str, torch.Tensor], *, teachers: str = "both",
        epochs: int, batch_size: int = 32, crop: int = 8000, lr: float = 3e-3, seed: int = 0,
        time_budget: float | None = None, desc: str = "training", progress: bool = True,
        cache_name: str | None = None) -> History:
    """Train the student on ``clips`` ``(N, T)`` to match ``teacher`` for ``epochs`` epochs.

    AdamW with a one-cycle schedule, seeded; ``teachers`` is ``"both"``, ``"object"`` or
    ``"scene"`` (:data:`TEACHERS`). Training runs on one CPU thread (as fast for a network
    this small, and no stalls on a busy machine). With ``cache_name`` the weights and history
    are kept in the cache, keyed by the settings, a fingerprint of the data and the code.
    """
    if teachers not in TEACHERS:
        raise ValueError(f"teachers must be one of {sorted(TEACHERS)}, got {teachers!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if cache_name is not None:
        key = {"model": repr(model), "data": cache.fingerprint(clips, teacher["object"], teacher["scene"]),
               "teachers": teachers, "epochs": epochs, "batch_size": batch_size, "crop": crop, "lr": lr, "seed": seed}
        run = functools.partial(fit, clips=clips, teacher=teacher, teachers=teachers, epochs=epochs,
                                batch_size=batch_size, crop=crop, lr=lr, seed=seed, time_budget=time_budget,
                                desc=desc, progress=progress)
        return cache.cached_training(cache_name, key, model, run,
                                     code=(soundnet_step, teacher_student_loss, kl_to_student, ClipBatches, train))
    torch.manual_seed(seed)
    dev = default_device()
    loader = ClipBatches(clips, teacher, batch_size, crop, seed=seed, device=dev)  # clips gathered on the device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader),
                                                    pct_start=0.2)
    step = functools.partial(soundnet_step, weights=TEACHERS[teachers])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(model, loader, step, optimizer, epochs=epochs, scheduler=scheduler, time_budget=time_budget,
                     desc=desc, progress=progress, device=dev)
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def predict(model: SoundNet, clips: torch.Tensor, batch_size: int = 128) -> dict[str, torch.Tensor]:
    """The student's distributions for whole clips: ``{"object": (N, 5), "scene": (N, 4)}`` on the CPU."""
    model.eval()
    objects, scenes = [], []
    for start in range(0, len(clips), batch_size):
        o, s = model(clips[start:start + batch_size])  # (b, 5), (b, 4)
        objects.append(o.softmax(1).cpu())
        scenes.append(s.softmax(1).cpu())
    return {"object": torch.cat(objects), "scene": torch.cat(scenes)}  # (N, 5), (N, 4)


# ----------------------------------------------------------------------------------------
# Evaluation: scene accuracy, presence average precision for sounding and silent objects
# ----------------------------------------------------------------------------------------


def scene_accuracy(probs: torch.Tensor, labels: Any) -> float:
    """Share of clips whose most probable scene is the true one."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)  # (N,)
    if probs.dim() != 2 or len(probs) != len(labels):
        raise ValueError(f"probs (N, n) and labels (N,) must match, got {tuple(probs.shape)}, {tuple(labels.shape)}")
    return float((probs.argmax(1).cpu() == labels).float().mean())


def average_precision(scores: Any, positive: Any) -> float:
    """Average precision of ranking ``scores`` (N,) against boolean ``positive`` (N,).

    The mean, over the positives, of the precision among the items scored at least as high
    as that positive (tied scores share the precision of the whole tie group). ``nan``
    without a positive.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and positive {y.shape} must have one length")
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    hits = np.cumsum(y)  # (N,) positives among the first i + 1
    last = np.r_[s[1:] != s[:-1], True]  # end of each tie group
    ends = np.nonzero(last)[0]  # (G,)
    tp = hits[ends]  # (G,) positives up to each group's end
    precision = tp / (ends + 1)  # (G,)
    new_pos = np.diff(np.r_[0, tp])  # (G,) positives in each group
    return float((new_pos * precision).sum() / n_pos)


def presence(scenes: Any, which: str = "any") -> np.ndarray:
    """Which shapes a scene holds, ``(N, 5)`` bool: ``"any"`` object, a ``"sounding"`` one, a ``"silent"`` one."""
    if which not in ("any", "sounding", "silent"):
        raise ValueError(f"which must be 'any', 'sounding' or 'silent', got {which!r}")
    shape, sounding = np.asarray(scenes.shape), np.asarray(scenes.sounding, dtype=bool)  # (N, K) each
    keep = shape >= 0
    if which == "sounding":
        keep &= sounding
    elif which == "silent":
        keep &= ~sounding
    out = np.zeros((len(shape), len(SHAPES)), dtype=bool)  # (N, 5)
    rows, cols = np.nonzero(keep)
    out[rows, shape[rows, cols]] = True
    return out


def presence_ap(scores: Any, scenes: Any) -> dict[str, Any]:
    """Shape presence AP of object scores ``(N, 5)``, for sounding and for silent objects.

    For each shape: the positives are the clips where it sounds (``"sounding"``) or where it
    is in the frame but silent and no other object of that shape sounds (``"silent"``); the
    negatives are the clips without that shape at all. Returns the mean over shapes of
    each, the per-shape lists (``"sounding_per_shape"``, ``"silent_per_shape"``) and the
    AP a random ranking would get (``"sounding_chance"``, ``"silent_chance"``: the share of positives).
    """
    s = np.asarray(scores, dtype=np.float64)  # (N, 5)
    anywhere, loud = presence(scenes, "any"), presence(scenes, "sounding")  # (N, 5) each
    quiet = anywhere & ~loud  # (N, 5) in the frame, not heard
    out: dict[str, Any] = {}
    for name, pos in (("sounding", loud), ("silent", quiet)):
        per, base = [], []
        for c in range(len(SHAPES)):
            rows = pos[:, c] | ~anywhere[:, c]  # positives and clean negatives
            per.append(average_precision(s[rows, c], pos[rows, c]))
            base.append(float(pos[rows, c].mean()) if rows.any() else float("nan"))
        out[name] = float(np.nanmean(per))
        out[f"{name}_per_shape"] = per
        out[f"{name}_chance"] = float(np.nanmean(base))  # the AP of a random ranking: the share of positives
    return out


# ----------------------------------------------------------------------------------------
# Transfer: a task the student never saw, read by a linear probe on a frozen layer
# ----------------------------------------------------------------------------------------

TRANSFER_TASKS: dict[str, tuple[str, ...]] = {
    "loudest": tuple(SHAPES),
    "count": ("0", "1", "2", "3"),
}
"""The transfer tasks and their class names: which shape sounds loudest (one large and one
small object of two shapes sound), and how many objects sound (0 to 3)."""


def transfer_clips(scenes: Any, task: str, seed: int = 0, sample_rate: int = SAMPLE_RATE,
                   duration: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """New clips of ``scenes`` for a transfer task, and their labels: ``(M, T)`` float, ``(M,)`` long.

    ``"loudest"``: in each scene with two objects of different shapes, the first sounds
    large and the second small (a large object is louder: ``SIZE_GAIN``); every other object
    is silent; the label is the large one's shape. ``"count"``: a random number (0 to 3) of its objects, of
    different shapes, sound; the label is that number. The scenes
    are copied and their clips mixed anew (:func:`mmcourse.world.sound.scene_clips`).
    """
    if task not in TRANSFER_TASKS:
        raise ValueError(f"task must be one of {sorted(TRANSFER_TASKS)}, got {task!r}")
    rng = np.random.default_rng([int(seed), 8])
    shape = np.array(scenes.shape)  # (N, K)
    size = np.array(scenes.size)  # (N, K)
    sounding = np.zeros_like(np.asarray(scenes.sounding), dtype=bool)  # (N, K)
    keep, labels = [], []
    for i in range(len(shape)):
        objs = np.nonzero(shape[i] >= 0)[0]
        if task == "loudest":
            pairs = [(a, b) for a in objs for b in objs if a != b and shape[i, a] != shape[i, b]]
            if not pairs:
                continue
            a, b = pairs[int(rng.integers(len(pairs)))]
            sounding[i, [a, b]] = True
            size[i, a], size[i, b] = 1, 0
            labels.append(int(shape[i, a]))
        else:
            distinct = [int(objs[j]) for j in np.unique(shape[i, objs], return_index=True)[1]]  # one per shape
            n = int(rng.integers(0, min(3, len(distinct)) + 1))
            sounding[i, rng.choice(distinct, size=n, replace=False)] = True
            labels.append(n)
        keep.append(i)
    keep_idx = np.asarray(keep, dtype=np.int64)
    copy = dataclasses.replace(scenes[keep_idx], sounding=sounding[keep_idx], size=size[keep_idx])
    clips = scene_clips(copy, sample_rate=sample_rate, duration=duration, seed=int(seed))  # (M, T)
    return torch.from_numpy(clips), torch.tensor(labels, dtype=torch.long)  # (M, T), (M,)


def few_labels(labels: torch.Tensor, per_class: int, n_classes: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class (fewer if a class has fewer), seeded: ``(M,)``."""
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(n_classes):
        idx = torch.nonzero(labels == c)[:, 0]  # (n_c,)
        picked.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(picked)  # (M,)


@torch.no_grad()
def layer_features(model: SoundNet, clips: torch.Tensor, batch_size: int = 128) -> list[torch.Tensor]:
    """Each stage's activations pooled over time (mean and max): ``[(N, 2 * C_1), (N, 2 * C_2), ...]``."""
    model.eval()
    per_layer: list[list[torch.Tensor]] = []
    for start in range(0, len(clips), batch_size):
        acts = model.activations(clips[start:start + batch_size])  # [(b, C_i, T_i)]
        for i, a in enumerate(acts):
            if len(per_layer) <= i:
                per_layer.append([])
            per_layer[i].append(torch.cat([a.mean(2), a.amax(2)], 1).cpu())  # (b, 2 C_i)
    return [torch.cat(chunks) for chunks in per_layer]


def mfcc_statistics(clips: torch.Tensor, sample_rate: int = SAMPLE_RATE, n_mfcc: int = 20) -> torch.Tensor:
    """The classic hand-made baseline: mean and standard deviation over time of each MFCC, ``(N, 2 * n_mfcc)``.

    MFCCs from lesson 07's :func:`mmcourse.audio.mfcc` (512-point Hamming STFT, 64 mel bands).
    """
    coeffs = audio.mfcc(clips.float(), sample_rate, n_mfcc=n_mfcc)  # (N, n_mfcc, frames)
    return torch.cat([coeffs.mean(2), coeffs.std(2)], 1).float()  # (N, 2 n_mfcc)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 n_classes: int, ridge: float = 1.0) -> float:
    """Accuracy on ``test`` of a linear classifier fitted on ``train`` (ridge regression to one-hot targets).

    The features are standardised with the *training* mean and standard deviation, a bias
    column is added, and ``W = (X^T X + ridge * I)^-1 X^T Y`` (the bias is not penalised);
    a test clip gets the class of its largest score. Closed form: no learning rate, no
    epochs, the same answer every time.
    """
    if train_x.dim() != 2 or test_x.dim() != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train_x and test_x must be (N, D) with one D, got {tuple(train_x.shape)}, {tuple(test_x.shape)}")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError("each of train_x/train_y and test_x/test_y must hold one row per label")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    x, xt = train_x.double(), test_x.double()  # (N, D), (M, D)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)  # (D,) each, from the training clips only
    x = torch.cat([(x - mean) / std, torch.ones(len(x), 1, dtype=x.dtype)], 1)  # (N, D + 1)
    xt = torch.cat([(xt - mean) / std, torch.ones(len(xt), 1, dtype=x.dtype)], 1)  # (M, D + 1)
    y = F.one_hot(train_y.long(), n_classes).double()  # (N, n)
    penalty = ridge * torch.eye(x.shape[1], dtype=x.dtype)  # (D + 1, D + 1)
    penalty[-1, -1] = 0.0  # the bias is free
    w = torch.linalg.solve(x.T @ x + penalty, x.T @ y)  # (D + 1, n)
    return float(((xt @ w).argmax(1) == test_y.long()).double().mean())


def probe_accuracy(features: tuple[torch.Tensor, torch.Tensor], labels: tuple[torch.Tensor, torch.Tensor],
                   n_classes: int, per_class: int = 10, draws: int = 5, ridge: float = 10.0) -> tuple[float, float]:
    """Mean and standard deviation of :func:`linear_probe` over ``draws`` random picks of
    ``per_class`` labelled training clips a class; ``features`` and ``labels`` are ``(train, test)``."""
    train_x, test_x = features
    train_y, test_y = labels
    accs = [linear_probe(train_x[idx], train_y[idx], test_x, test_y, n_classes, ridge)
            for idx in (few_labels(train_y, per_class, n_classes, seed=s) for s in range(draws))]
    return float(np.mean(accs)), float(np.std(accs))


# ----------------------------------------------------------------------------------------
# What units of a middle layer respond to
# ----------------------------------------------------------------------------------------


def concepts(scenes: Any) -> tuple[list[str], np.ndarray]:
    """What can be heard in each clip, as names and a ``(N, 5 + 4)`` bool matrix: each shape
    sounding, then the scene type (its ambience)."""
    loud = presence(scenes, "sounding")  # (N, 5)
    scene = np.asarray(scenes.scene_type)[:, None] == np.arange(len(SCENE_TYPES))  # (N, 4)
    names = [f"{s} sound" for s in SHAPES] + [f"{t} ambience" for t in SCENE_TYPES]
    return names, np.concatenate([loud, scene], 1)


@torch.no_grad()
def unit_responses(model: SoundNet, clips: torch.Tensor, layer: int, batch_size: int = 128) -> torch.Tensor:
    """Each unit's strongest response to each clip: the max over time of stage ``layer`` (1-based), ``(N, C)``."""
    if not 1 <= layer <= len(model.stages):
        raise ValueError(f"layer must be between 1 and {len(model.stages)}, got {layer!r}")
    model.eval()
    out = [model.activations(clips[s:s + batch_size])[layer - 1].amax(2).cpu()
           for s in range(0, len(clips), batch_size)]
    return torch.cat(out)  # (N, C)


def unit_detectors(responses: torch.Tensor, scenes: Any) -> list[tuple[int, str, float]]:
    """For every unit, the concept (:func:`concepts`) its responses rank best, by average
    precision: ``[(unit, concept, AP), ...]`` sorted by AP, best first."""
    names, truth = concepts(scenes)  # (N, 9)
    r = responses.numpy()  # (N, C)
    out = []
    for u in range(r.shape[1]):
        aps = [average_precision(r[:, u], truth[:, j]) for j in range(truth.shape[1])]
        j = int(np.nanargmax(aps))
        out.append((u, names[j], float(aps[j])))
    return sorted(out, key=lambda t: -t[2])


# ----------------------------------------------------------------------------------------
# The lesson's data
# ----------------------------------------------------------------------------------------


def lesson_data(n_train: int, n_test: int, encoder: nn.Module, image_size: int = 64, duration: float = 1.0,
                seed: int = 0, verbose: bool = False) -> dict[str, Any]:
    """Training and test clips with their frames and the teachers' distributions.

    Training clips come from the world's training seed, test clips from its test seed (no
    scene is shared). Returns ``{"train": {...}, "test": {...}}``, each with ``clips``
    ``(N, T)`` int16, ``images`` ``(N, 3, S, S)`` uint8, ``scenes`` (a ``SceneBatch``) and
    ``teacher`` (:func:`teacher_distributions`, from the frames).
    """
    from .world.datasets import AudioVisualDataset

    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        data = AudioVisualDataset(split, n, size=image_size, seed=seed, duration=duration, verbose=verbose)
        out[split] = {"clips": data.clips, "images": data.data.images, "scenes": data.data.scenes,
                      "teacher": teacher_distributions(encoder, data.data.images)}
    return out


def as_float(clips: torch.Tensor) -> torch.Tensor:
    """int16 PCM clips ``(N, T)`` -> float in [-1, 1] (float clips are returned as they are)."""
    return clips.float() / 32768.0 if clips.dtype == torch.int16 else clips.float()  # (N, T)


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def check_teacher_student_loss(fn: Any) -> float:
    """Exercise check: ``fn(student_object, student_scene, teacher_object, teacher_scene, temperature)``
    must give :func:`teacher_student_loss` (a scalar: the two KL divergences, batch mean, times ``T**2``).

    Names the usual mistakes: the KL the wrong way round, the cross-entropy instead of the KL,
    a sum over the batch, only one of the two terms, the teacher read as logits, no ``T**2``.
    """
    gen = torch.Generator().manual_seed(8)
    s_obj, s_sc = torch.randn(6, 5, generator=gen) * 2, torch.randn(6, 4, generator=gen) * 2  # (B, 5), (B, 4)
    t_obj = torch.rand(6, 5, generator=gen) ** 3  # (B, 5)
    t_obj[0, :3] = 0.0  # a frame with two shapes only: zeros must count as 0 log 0 = 0
    t_obj = t_obj / t_obj.sum(1, keepdim=True)
    t_sc = torch.softmax(torch.randn(6, 4, generator=gen) * 4, 1)  # (B, 4)

    def kl(p, logits, t=1.0, reverse=False, ce=False, batch_sum=False, as_logits=False, no_t2=False):
        q = F.softmax(logits / t, 1)
        p = F.softmax(p / t, 1) if as_logits else p ** (1 / t) / (p ** (1 / t)).sum(1, keepdim=True)
        p, q = p.clamp_min(1e-12), q.clamp_min(1e-12)
        if reverse:
            v = (q * (q.log() - p.log())).sum(1)
        elif ce:
            v = -(p * q.log()).sum(1)
        else:
            v = (p * (p.log() - q.log())).sum(1)
        v = v.sum() if batch_sum else v.mean()
        return v if no_t2 else v * t**2

    for t in (1.0, 2.0):
        args = (s_obj.clone(), s_sc.clone(), t_obj.clone(), t_sc.clone())
        expected = float(teacher_student_loss(*args, temperature=t))
        got = fn(*args, temperature=t)
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the loss?")
        if torch.is_tensor(got) and got.dim() != 0:
            raise checks.CheckFailed(f"the loss must be a scalar (a 0-dim tensor), got shape {tuple(got.shape)}: "
                                     "take the mean over the batch")
        got = float(got)
        if math.isnan(got):
            raise checks.CheckFailed("the loss is nan: a zero teacher probability must contribute 0 (0 log 0 = 0); "
                                     "clamp before the log")
        if abs(got - expected) < 1e-4 * max(1.0, abs(expected)):
            continue
        wrong = {
            "KL(student || teacher), the divergence the wrong way round: the teacher's distribution is the first argument":
                dict(reverse=True),
            "the cross-entropy H(teacher, student): it is the KL plus the teacher's entropy; subtract it (p log p)":
                dict(ce=True),
            "a sum over the batch: take the mean over the clips": dict(batch_sum=True),
            "the teacher's probabilities passed through a softmax again: they are probabilities, not logits":
                dict(as_logits=True),
            "the loss without the T**2 factor (with a temperature, multiply by T**2 to keep the gradients' scale)":
                dict(no_t2=True),
        }
        for mistake, kw in wrong.items():
            value = kl(t_obj, s_obj, t, **kw) + kl(t_sc, s_sc, t, **kw)
            if abs(got - float(value)) < 1e-4 * max(1.0, abs(float(value))):
                raise checks.CheckFailed(f"with temperature {t:g} the loss matches {mistake}")
        for name, value in (("object", kl(t_obj, s_obj, t)), ("scene", kl(t_sc, s_sc, t))):
            if abs(got - float(value)) < 1e-4 * max(1.0, abs(float(value))):
                raise checks.CheckFailed(f"with temperature {t:g} the loss is only the {name} term: add both KL terms")
        raise checks.CheckFailed(f"with temperature {t:g} the loss is {got:.5f}, expected {expected:.5f}")
    return expected


def check_output_length(fn: Any) -> None:
    """Exercise check: ``fn(length, layers)`` against :func:`output_length` on the lesson's student
    and a few hand-made stacks; names ceil for floor, a forgotten padding, a forgotten ``+ 1``."""
    cases = [
        (16000, SoundNetConfig().layers()),
        (16000, SoundNetConfig.for_preset(preset("gpu")).layers()),
        (101, [(5, 2, 0)]),
        (100, [(7, 3, 3), (2, 2, 0), (3, 1, 1)]),
        (2044, SoundNetConfig().layers()),
        (999, [(64, 2, 32), (8, 8, 0), (32, 2, 16), (8, 8, 0)]),
    ]

    def variant(length, layers, how):
        n = length
        for k, s, p in layers:
            if how == "ceil":
                n = -((n + 2 * p - k) // -s) + 1
            elif how == "no padding":
                n = (n - k) // s + 1
            elif how == "padding once":
                n = (n + p - k) // s + 1
            elif how == "no +1":
                n = (n + 2 * p - k) // s
            elif how == "divide":
                n = n // s
        return n

    for length, layers in cases:
        expected = output_length(length, layers)
        got = fn(length, [tuple(layer) for layer in layers])
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the length?")
        if isinstance(got, torch.Tensor):
            got = got.item()
        if not isinstance(got, (int, np.integer)) and not (isinstance(got, float) and float(got).is_integer()):
            raise checks.CheckFailed(f"the length must be an integer, got {got!r}")
        if int(got) == expected:
            continue
        hints = {"ceil": "rounds up: a layer keeps floor((L + 2p - k) / s) + 1 samples (round down)",
                 "no padding": "ignores the padding: add 2 * padding (both ends) before subtracting the kernel",
                 "padding once": "adds the padding once: it is added at both ends, 2 * padding",
                 "no +1": "forgets the + 1: the first window also counts",
                 "divide": "just divides by the stride: the kernel and padding change the length too"}
        for how, hint in hints.items():
            if variant(length, layers, how) == int(got):
                raise checks.CheckFailed(f"length {length} through {len(layers)} layers gives {got}, expected "
                                         f"{expected}: your formula {hint}")
        raise checks.CheckFailed(f"length {length} through the layers {layers} gives {got}, expected {expected}")


def _probe_variant(train_x, train_y, test_x, test_y, n_classes, ridge, how):
    x, xt = train_x.double(), test_x.double()
    if how == "test statistics":
        mean, std = xt.mean(0), xt.std(0).clamp_min(1e-6)
    elif how == "no standardisation":
        mean, std = torch.zeros(x.shape[1], dtype=x.dtype), torch.ones(x.shape[1], dtype=x.dtype)
    else:
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    bias = how != "no bias"
    cols = [torch.ones(len(x), 1, dtype=x.dtype)] if bias else []
    a = torch.cat([(x - mean) / std, *cols], 1)
    at = torch.cat([(xt - mean) / std, *([torch.ones(len(xt), 1, dtype=x.dtype)] if bias else [])], 1)
    y = F.one_hot(train_y.long(), n_classes).double()
    pen = (0.0 if how == "no ridge" else ridge) * torch.eye(a.shape[1], dtype=x.dtype)
    if bias:
        pen[-1, -1] = 0.0
    w = torch.linalg.lstsq(a.T @ a + pen, a.T @ y).solution
    if how == "train accuracy":
        return float(((a @ w).argmax(1) == train_y.long()).double().mean())
    return float(((at @ w).argmax(1) == test_y.long()).double().mean())


def check_linear_probe(fn: Any) -> None:
    """Exercise check: ``fn(train_x, train_y, test_x, test_y, n_classes, ridge)`` must give the test
    accuracy of :func:`linear_probe`; names statistics taken from the test set, no standardisation,
    no bias, no ridge, and the training accuracy returned instead."""
    gen = torch.Generator().manual_seed(9)
    cases = []
    for case in range(4):
        n_classes, d = 3 + case % 2, 6 + 3 * case
        centres = torch.randn(n_classes, d, generator=gen) * 1.5  # (n, D)
        scale = torch.rand(d, generator=gen) * 20 + 0.05  # (D,) features of very different scales
        offset = torch.randn(d, generator=gen) * 5  # (D,) not centred
        train_y = torch.cat([torch.arange(n_classes).repeat(3), torch.zeros(4, dtype=torch.long)])  # (N,) class 0 x2
        test_y = torch.randint(0, n_classes, (60,), generator=gen)  # (M,)
        train_x = (centres[train_y] + torch.randn(len(train_y), d, generator=gen) * 1.8) * scale + offset  # (N, D)
        test_x = (centres[test_y] + torch.randn(len(test_y), d, generator=gen) * 1.8 + 0.8) * scale + offset  # (M, D)
        cases.append((train_x, train_y, test_x, test_y, n_classes, (0.5, 5.0, 20.0, 2.0)[case]))
    expected, got = [], []
    for args in cases:
        expected.append(linear_probe(*args))
        value = fn(*(a.clone() if torch.is_tensor(a) else a for a in args))
        if value is None:
            raise checks.CheckFailed("got None — did you forget to return the accuracy?")
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise checks.CheckFailed(f"the accuracy must be a fraction in [0, 1], got {value}")
        got.append(value)
    if all(abs(g - e) < 1e-9 for g, e in zip(got, expected)):
        return
    hints = {
        "train accuracy": "the accuracy on the training clips: score the test clips",
        "test statistics": "standardised with the test set's mean and std: use the training clips' only "
                           "(the test labels and statistics are unseen)",
        "no standardisation": "no standardisation: features of very different scales make the ridge penalty "
                              "uneven; subtract the training mean, divide by the training std",
        "no bias": "no bias column: add a column of ones (and leave it unpenalised)",
        "no ridge": "no ridge penalty: add ridge * I to X^T X",
    }
    for how, hint in hints.items():
        if all(abs(_probe_variant(*args, how) - g) < 1e-9 for args, g in zip(cases, got)):
            raise checks.CheckFailed(f"the accuracies {[round(g, 3) for g in got]} (expected "
                                     f"{[round(e, 3) for e in expected]}) match {hint}")
    case = next(i for i, (g, e) in enumerate(zip(got, expected)) if abs(g - e) >= 1e-9)
    raise checks.CheckFailed(f"case {case + 1}: accuracy {got[case]:.3f}, expected {expected[case]:.3f}")
