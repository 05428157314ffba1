"""Speech2Face (lesson 09): a face from a voice, in miniature (Oh et al., CVPR 2019).

Three networks, trained one after the other on the people of the course world
(:mod:`mmcourse.world.speakers`), and a fourth that only judges:

- :class:`FaceEncoder` — the stand-in for VGG-Face: a small CNN trained to recognise the
  training people (and, as a help, their attributes) from their faces, then frozen. Its
  feature is ``v_f``; its last layer, :attr:`FaceEncoder.classifier`, scores the identities.
- :class:`FaceDecoder` — trained separately, then frozen: ``v_f`` -> a face image, with a pixel
  loss and a feature-consistency loss through the frozen face encoder
  (:func:`train_face_decoder`). Its first layer (:attr:`FaceDecoder.first`) is used by the loss.
- :class:`VoiceEncoder` — a log-mel spectrogram of an utterance (lesson 07's code,
  :func:`voice_features`) -> 1-D convolutions over time -> average over time -> ``v_s``,
  trained to predict the ``v_f`` of the same person's face (:func:`speech2face_loss`).
- :class:`AttributeJudge` — a separate classifier of the seven attributes, trained on real
  faces, that reads the faces decoded from voices (:func:`agreement`).

The loss is the paper's three terms (:func:`loss_terms`): an L1 distance between the
normalised features, an L1 distance between the decoder's first-layer activations on
``v_f`` and ``v_s``, and a distillation term between the face classifier's outputs on the
two at temperature ``T``. :func:`plain_l1_loss` is the baseline.

Retrieval uses :mod:`mmcourse.retrieval`; :func:`oracle_bag_metrics` is the ranking of a
judge that knows the voice's true sex, age group and build. The ``check_*`` functions check
the lesson's exercises; figures are in :mod:`mmcourse.speech2face_figures`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import audio, cache, checks
from .retrieval import DEFAULT_KS
from .runtime import device as default_device
from .training import History, train
from .world.datasets import ATTRIBUTES, split_seed
from .world.scenes import GENERATOR_VERSION
from .world.speakers import (AGES, BUILDS, GLASSES, HAIR, HAIRSTYLES, SEXES, SKIN, People, render_faces,
                             sample_people, synthesize_voices)

ATTRIBUTE_CLASSES: dict[str, tuple[str, ...]] = {
    "sex": SEXES, "age": AGES, "build": BUILDS, "hair": HAIR, "hairstyle": HAIRSTYLES, "skin": SKIN, "glasses": GLASSES,
}
"""Class names of every attribute, in the order of :data:`~mmcourse.world.datasets.ATTRIBUTES`."""

VOICE_ATTRIBUTES: tuple[str, ...] = ("sex", "age", "build")
"""Attributes that shape the voice (pitch and vocal-tract length) as well as the face."""

FACE_ONLY_ATTRIBUTES: tuple[str, ...] = ("hair", "skin", "glasses")
"""Attributes the voice does not carry at all."""

CORRELATED_ATTRIBUTES: tuple[str, ...] = ("hairstyle",)
"""Attributes the voice does not carry, but that correlate with one it does (hairstyle with sex)."""

SAMPLE_RATE = 16000
"""Sample rate of the world's voices (Hz); :func:`voice_features` accepts only this one."""


@dataclasses.dataclass(frozen=True)
class MelConfig:
    """How an utterance becomes a log-mel spectrogram (lesson 07's :func:`~mmcourse.audio.log_mel_spectrogram`).

    A 512-sample window (32 ms) every 256 samples (16 ms); 64 mel bands up to 4 kHz, narrow
    enough at the bottom (about 35 Hz) to separate the harmonics of a 120 Hz voice, wide enough
    above to cover the first three formants.
    """

    n_fft: int = 512
    hop: int = 256
    n_mels: int = 64
    fmax: float = 4000.0

    @property
    def min_samples(self) -> int:
        """The shortest utterance that fills one spectrogram window."""
        return self.n_fft


MEL = MelConfig()


# ----------------------------------------------------------------------------------------
# Data: faces, voices and spectrograms of the world's people
# ----------------------------------------------------------------------------------------


def validate_wave(wave: Any, sample_rate: Any, mel: MelConfig = MEL) -> torch.Tensor:
    """``wave`` as a float tensor ``(T,)`` or ``(B, T)``; a clear ``ValueError`` naming the
    argument if the sample rate is not :data:`SAMPLE_RATE`, the utterance is shorter than one
    spectrogram window, or it is silent (or holds NaN / infinite values)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)) \
            or sample_rate != SAMPLE_RATE:
        raise ValueError(f"sample_rate must be {SAMPLE_RATE} Hz (the world's voices; resample first), got {sample_rate!r}")
    if isinstance(wave, np.ndarray):
        wave = torch.from_numpy(np.ascontiguousarray(wave))
    if not torch.is_tensor(wave) or wave.dim() not in (1, 2) or not (wave.is_floating_point() or wave.dtype == torch.int16):
        raise ValueError(f"wave must be a float tensor or array (T,) or (B, T), got "
                         f"{getattr(wave, 'dtype', type(wave).__name__)} {tuple(getattr(wave, 'shape', ()))}")
    wave = wave.float() / 32767.0 if wave.dtype == torch.int16 else wave.float()  # (..., T)
    if wave.shape[-1] < mel.min_samples:
        raise ValueError(f"wave is too short for one spectrogram frame: {wave.shape[-1]} samples, need at least "
                         f"{mel.min_samples} ({1000 * mel.min_samples / SAMPLE_RATE:.0f} ms at {SAMPLE_RATE} Hz)")
    if not torch.isfinite(wave).all():
        raise ValueError("wave holds NaN or infinite values")
    peak = wave.abs().amax(dim=-1)  # (,) or (B,)
    if (peak < 1e-4).any():
        raise ValueError("wave is silent (its peak is below 1e-4): there is no voice to read")
    return wave


def voice_features(wave: Any, sample_rate: int = SAMPLE_RATE, seconds: float | None = None,
                   mel: MelConfig = MEL) -> torch.Tensor:
    """Log-mel spectrogram in dB of an utterance (or a batch), cut to its first ``seconds``.

    ``wave`` (T,) or (B, T) -> ``(n_mels, F)`` or ``(B, n_mels, F)`` float32, with
    ``F = 1 + T // hop`` frames. Each utterance is scaled to a peak of 0.9 first, so the
    dB values do not depend on how loud it was recorded.
    """
    wave = validate_wave(wave, sample_rate, mel)  # (..., T)
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        wave = validate_wave(wave[..., : int(round(seconds * sample_rate))], sample_rate, mel)  # (..., T')
    wave = wave * (0.9 / wave.abs().amax(dim=-1, keepdim=True))  # (..., T)
    spec = audio.log_mel_spectrogram(wave, sample_rate, top_db=80.0, n_fft=mel.n_fft, hop=mel.hop,
                                     n_mels=mel.n_mels, fmax=mel.fmax)  # (..., M, F)
    return spec.float()


def people_data(split: str, n_people: int, *, face_size: int = 32, faces_per_person: int = 4,
                voices_per_person: int = 2, duration: float = 2.0, seed: int = 0, mel: MelConfig = MEL,
                verbose: bool = True) -> dict[str, Any]:
    """The faces and voice spectrograms of one split's people, built once and cached.

    The people are those of ``VoiceFaceDataset(split, n_people, seed=seed)`` (same seed,
    same faces): the splits never share a person. Returns ``people`` (a
    :class:`~mmcourse.world.speakers.People`), ``faces`` uint8 ``(N, M, 3, S, S)``, ``mels``
    float16 ``(N, V, n_mels, F)`` (:func:`voice_features` of the full utterances), and
    ``attributes`` int64 ``(N, A)`` over :data:`~mmcourse.world.datasets.ATTRIBUTES`.
    The waveforms are not stored: :func:`voices` synthesizes them again when needed.
    """
    world_seed = split_seed(split, seed)
    people = sample_people(n_people, seed=world_seed)
    config = {"generator": GENERATOR_VERSION, "split_seed": world_seed, "n_people": n_people, "size": face_size,
              "faces_per_person": faces_per_person, "voices_per_person": voices_per_person,
              "duration": float(duration), "mel": dataclasses.asdict(mel)}

    def build() -> dict[str, torch.Tensor]:
        faces = render_faces(people, per_person=faces_per_person, size=face_size, seed=world_seed)  # (N, M, S, S, 3)
        waves = voices(people, voices_per_person, duration, world_seed)  # (N, V, T)
        mels = voice_features(waves.reshape(-1, waves.shape[-1]), SAMPLE_RATE, mel=mel)  # (N*V, M, F)
        return {"faces": torch.from_numpy(faces).permute(0, 1, 4, 2, 3).contiguous(),  # (N, M, 3, S, S)
                "mels": mels.reshape(n_people, voices_per_person, *mels.shape[1:]).half()}  # (N, V, M, F)

    data = cache.cached("speech2face-data", config, build, verbose=verbose)
    attributes = torch.from_numpy(np.stack([np.asarray(getattr(people, a), np.int64) for a in ATTRIBUTES], 1))  # (N, A)
    return {"people": people, "faces": data["faces"], "mels": data["mels"], "attributes": attributes,
            "seed": world_seed, "duration": float(duration)}


def voices(people: People, per_person: int, duration: float, seed: int) -> torch.Tensor:
    """The people's utterances, float32 ``(N, V, T)`` at :data:`SAMPLE_RATE` (the world's synthesizer)."""
    return torch.from_numpy(synthesize_voices(people, per_person=per_person, sample_rate=SAMPLE_RATE,
                                              duration=duration, seed=seed))  # (N, V, T)


def as_uint8(faces: torch.Tensor) -> torch.Tensor:
    """Faces in [0, 1] (float) or already uint8 -> uint8, same shape (for pictures)."""
    if faces.dtype == torch.uint8:
        return faces
    return (faces.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def as_float_images(faces: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., 3, S, S) -> float in [0, 1]."""
    return faces.float() / 255.0  # (..., 3, S, S)


# ----------------------------------------------------------------------------------------
# The networks
# ----------------------------------------------------------------------------------------


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv, batch norm, ReLU, 2x2 max pool: halves the side."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))


N_CLASSES: tuple[int, ...] = tuple(len(c) for c in ATTRIBUTE_CLASSES.values())


class FaceEncoder(nn.Module):
    """The frozen face-recognition network (VGG-Face's role): face image -> ``v_f``.

    Three conv blocks (side / 8), a fully connected layer to ``dim`` numbers, standardised
    (a layer norm without learned scale: mean 0, variance 1 over the numbers): that is ``v_f``. Two heads read it: :attr:`classifier` scores the ``n_people`` training identities
    (the face classifier of the paper's distillation term), :attr:`attributes` the seven
    attributes (a help in training, so that ``v_f`` lays attributes out plainly).
    """

    def __init__(self, n_people: int, dim: int = 64, width: int = 16, image_size: int = 32) -> None:
        super().__init__()
        side = image_size // 8
        self.dim = dim
        self.features = nn.Sequential(_conv_block(3, width), _conv_block(width, 2 * width),
                                      _conv_block(2 * width, 4 * width), nn.Flatten(),
                                      nn.Linear(4 * width * side * side, dim),
                                      nn.LayerNorm(dim, elementwise_affine=False))
        self.classifier = nn.Linear(dim, n_people)
        self.attributes = nn.Linear(dim, sum(N_CLASSES))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` float (B, 3, S, S) in [0, 1] -> ``v_f`` (B, dim)."""
        return self.features(images - 0.5)  # (B, dim)


class FaceDecoder(nn.Module):
    """``v_f`` -> a face image: a fully connected layer (:attr:`first`, whose activations the
    paper's loss compares), another to a 4x4 map, then (upsample, conv) until ``image_size``.
    ``upsample="bilinear"`` (instead of nearest-neighbour) suits a decoder trained with the
    feature-consistency loss, which otherwise rewards blocky checkerboard patterns."""

    def __init__(self, dim: int = 64, hidden: int = 256, width: int = 32, image_size: int = 32,
                 upsample: str = "nearest") -> None:
        super().__init__()
        if upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {upsample!r}")
        n_up = int(round(math.log2(image_size / 4)))
        if 4 * 2**n_up != image_size:
            raise ValueError(f"image_size must be 4 times a power of two, got {image_size}")
        self.width = width
        self.first = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        layers: list[nn.Module] = [nn.Linear(hidden, width * 16), nn.ReLU(), nn.Unflatten(1, (width, 4, 4))]
        c = width
        for k in range(n_up):
            c_out = 3 if k == n_up - 1 else max(width // 2**(k + 1), 8)
            layers += [nn.Upsample(scale_factor=2, mode=upsample), nn.Conv2d(c, c_out, 3, padding=1)]
            layers += [nn.Sigmoid()] if k == n_up - 1 else [nn.BatchNorm2d(c_out), nn.ReLU()]
            c = c_out
        self.rest = nn.Sequential(*layers)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """``v`` (B, dim) -> images (B, 3, S, S) in [0, 1]."""
        return self.rest(self.first(v))  # (B, 3, S, S)


class AttributeJudge(nn.Module):
    """The separate attribute classifier that judges faces (real or decoded): image -> logits
    of the seven attributes, concatenated in :data:`ATTRIBUTE_CLASSES` order."""

    def __init__(self, width: int = 16, image_size: int = 32) -> None:
        super().__init__()
        side = image_size // 8
        self.net = nn.Sequential(_conv_block(3, width), _conv_block(width, 2 * width), _conv_block(2 * width, 2 * width),
                                 nn.Flatten(), nn.Linear(2 * width * side * side, 64), nn.ReLU(),
                                 nn.Linear(64, sum(N_CLASSES)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (B, 3, S, S) in [0, 1] -> logits (B, sum of the class counts)."""
        return self.net(images - 0.5)  # (B, C)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """The judged class of every attribute: (B, A) int64."""
        self.eval()
        dev = next(self.parameters()).device
        out = [split_logits(self(images[i:i + batch_size].to(dev)).cpu()) for i in range(0, len(images), batch_size)]
        return torch.cat([torch.stack([g.argmax(1) for g in groups], 1) for groups in out])  # (B, A)


def split_logits(logits: torch.Tensor) -> list[torch.Tensor]:
    """Concatenated attribute logits (B, sum C) -> one (B, C_a) tensor per attribute."""
    return list(logits.split(N_CLASSES, dim=1))


class VoiceEncoder(nn.Module):
    """Log-mel spectrogram -> ``v_s``, the paper's voice encoder in miniature.

    The mel bands are the channels of three 1-D convolutions over time (two of them halve the
    frame rate); the frames are then averaged, so an utterance of any length gives one vector,
    and two fully connected layers map it to ``dim`` numbers. The spectrogram is standardised
    with the training set's mean and spread per band (buffers, stored with the weights).
    """

    def __init__(self, n_mels: int = MEL.n_mels, dim: int = 64, width: int = 64) -> None:
        super().__init__()
        self.register_buffer("mel_mean", torch.zeros(n_mels, 1))
        self.register_buffer("mel_std", torch.ones(n_mels, 1))
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1, stride=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, 2 * width, 3, padding=1, stride=2), nn.BatchNorm1d(2 * width), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * width, 2 * width), nn.ReLU(), nn.Linear(2 * width, dim))

    def set_normalisation(self, mels: torch.Tensor) -> None:
        """Standardise with the mean and spread per band of ``mels`` (N, M, F)."""
        mels = mels.float()
        self.mel_mean.copy_(mels.mean(dim=(0, 2))[:, None])  # (M, 1)
        self.mel_std.copy_(mels.std(dim=(0, 2))[:, None].clamp_min(1e-3))  # (M, 1)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``mels`` (B, M, F) in dB -> ``v_s`` (B, dim)."""
        if mels.dim() != 3 or mels.shape[1] != self.mel_mean.shape[0]:
            raise ValueError(f"mels must be (B, {self.mel_mean.shape[0]}, F), got {tuple(mels.shape)}")
        x = (mels.float() - self.mel_mean) / self.mel_std  # (B, M, F)
        h = self.conv(x)  # (B, 2w, F / 4)
        return self.head(h.mean(dim=2))  # (B, dim)


# ----------------------------------------------------------------------------------------
# The loss
# ----------------------------------------------------------------------------------------


def distillation(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The paper's knowledge-distillation term: ``-sum_i p_i(teacher) log p_i(student)``,
    both softened by ``temperature``, averaged over the batch. Logits (B, C) -> scalar."""
    p_teacher = F.softmax(teacher_logits / temperature, dim=1)  # (B, C)
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)  # (B, C)
    return -(p_teacher * log_p_student).sum(dim=1).mean()


def loss_terms(v_s: torch.Tensor, v_f: torch.Tensor, first_layer: Callable[[torch.Tensor], torch.Tensor],
               classifier: Callable[[torch.Tensor], torch.Tensor], lam_norm: float = 1.0,
               lam_distill: float = 1.0, temperature: float = 2.0) -> dict[str, torch.Tensor]:
    """The three terms of the Speech2Face loss, weighted, and their sum (``"total"``).

    ``v_s`` (B, D) from the voice, ``v_f`` (B, D) the face feature to predict (a fixed target:
    no gradient flows into it). ``first_layer`` is the face decoder's first layer,
    ``classifier`` the face encoder's identity classifier; both are frozen.

    - ``"decoder"``: mean |first_layer(v_f) - first_layer(v_s)| — match what the decoder sees;
    - ``"norm"``: ``lam_norm`` * mean |v_f / |v_f| - v_s / |v_s|| — match the direction;
    - ``"distill"``: ``lam_distill`` * :func:`distillation` of ``classifier(v_f)`` into
      ``classifier(v_s)`` at ``temperature`` — match who the face classifier thinks it is.
    """
    v_f = v_f.detach()  # (B, D) the target
    decoder = (first_layer(v_f) - first_layer(v_s)).abs().mean()
    norm = (F.normalize(v_f, dim=1) - F.normalize(v_s, dim=1)).abs().mean()
    distill = distillation(classifier(v_f), classifier(v_s), temperature)
    terms = {"decoder": decoder, "norm": lam_norm * norm, "distill": lam_distill * distill}
    terms["total"] = terms["decoder"] + terms["norm"] + terms["distill"]
    return terms


def speech2face_loss(v_s: torch.Tensor, v_f: torch.Tensor, first_layer: Callable[[torch.Tensor], torch.Tensor],
                     classifier: Callable[[torch.Tensor], torch.Tensor], lam_norm: float = 1.0,
                     lam_distill: float = 1.0, temperature: float = 2.0) -> torch.Tensor:
    """The Speech2Face loss (a scalar): the sum of :func:`loss_terms`."""
    return loss_terms(v_s, v_f, first_layer, classifier, lam_norm, lam_distill, temperature)["total"]


def plain_l1_loss(v_s: torch.Tensor, v_f: torch.Tensor) -> torch.Tensor:
    """The baseline: mean |v_f - v_s| on the raw features (no normalisation, no decoder, no classifier)."""
    return (v_f.detach() - v_s).abs().mean()


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------


class _IndexBatches:
    """Shuffled index batches, a new (seeded) order every epoch; ``len`` is the batches per epoch.

    The order is drawn on the CPU; each batch is moved to ``device`` (``None``: left on the
    CPU), where the training data live, to index them there.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device | str | None = None) -> None:
        self.n, self.batch_size, self.gen = n, batch_size, torch.Generator().manual_seed(seed)
        self.device = torch.device(device) if device is not None else None

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.gen)  # (n,)
        for i in range(0, self.n, self.batch_size):
            idx = order[i:i + self.batch_size]  # (b,)
            yield idx if self.device is None else idx.to(self.device, non_blocking=True)  # (b,)


def _attribute_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the seven attributes: logits (B, sum C), labels (B, A)."""
    return sum(F.cross_entropy(g, labels[:, a]) for a, g in enumerate(split_logits(logits))) / len(N_CLASSES)


def _augment(images: torch.Tensor, gen: torch.Generator, blur: bool) -> torch.Tensor:
    """Random horizontal flips, and (``blur``) a 3x3 box blur of a third of the images and two
    of them of another third: (B, 3, S, S)."""
    flip = (torch.rand(len(images), generator=gen) < 0.5).to(images.device, non_blocking=True)  # (B,)
    images = torch.where(flip[:, None, None, None], images.flip(3), images)  # (B, 3, S, S)
    if blur:
        soft = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # (B, 3, S, S)
        softer = F.avg_pool2d(F.pad(soft, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # (B, 3, S, S)
        pick = torch.rand(len(images), generator=gen).to(images.device, non_blocking=True)  # (B,)
        pick = pick[:, None, None, None]  # (B, 1, 1, 1)
        images = torch.where(pick < 0.33, soft, torch.where(pick < 0.67, softer, images))
    return images


def train_face_encoder(model: FaceEncoder, faces: torch.Tensor, attributes: torch.Tensor, *, epochs: int,
                       batch_size: int = 128, lr: float = 3e-3, seed: int = 0, time_budget: float = 600,
                       device: torch.device | str | None = None) -> History:
    """Train the face encoder to recognise the people of ``faces`` (N, M, 3, S, S) uint8 (person
    ``i`` is class ``i``) and their ``attributes`` (N, A): cross-entropy on both heads."""
    dev = torch.device(device) if device is not None else default_device()
    n, m = faces.shape[:2]
    images = faces.reshape(n * m, *faces.shape[2:]).to(dev)  # (N*M, 3, S, S) uint8
    person = torch.arange(n, device=dev).repeat_interleave(m)  # (N*M,)
    attributes = attributes.to(dev)  # (N, A)
    gen = torch.Generator().manual_seed(seed + 1)

    def step(net: FaceEncoder, idx: torch.Tensor):
        x = _augment(as_float_images(images[idx]), gen, blur=False)  # (b, 3, S, S)
        v = net(x)  # (b, D)
        ident = F.cross_entropy(net.classifier(v), person[idx])
        attr = _attribute_loss(net.attributes(v), attributes[person[idx]])
        return ident + attr, {"identity": ident.detach(), "attributes": attr.detach()}  # () each, on the device

    torch.manual_seed(seed)
    return train(model, _IndexBatches(n * m, batch_size, seed, device=dev), step, epochs=epochs, lr=lr,
                 time_budget=time_budget, scheduler=None, desc="face encoder", device=dev)


@torch.no_grad()
def face_features(encoder: FaceEncoder, faces: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``v_f`` of every face: uint8 (N, M, 3, S, S) -> (N, M, D)."""
    encoder.eval()
    dev = next(encoder.parameters()).device
    flat = faces.reshape(-1, *faces.shape[-3:])  # (N*M, 3, S, S)
    out = torch.cat([encoder(as_float_images(flat[i:i + batch_size].to(dev))).cpu()
                     for i in range(0, len(flat), batch_size)])  # (N*M, D)
    return out.reshape(*faces.shape[:-3], -1)  # (N, M, D)


def train_face_decoder(model: FaceDecoder, features: torch.Tensor, faces: torch.Tensor, *, epochs: int,
                       encoder: FaceEncoder | None = None, lam_feature: float = 1.0, batch_size: int = 128,
                       lr: float = 3e-3, max_drop: float = 0.8, seed: int = 0, time_budget: float = 600,
                       device: torch.device | str | None = None) -> History:
    """Train the decoder to draw each face from its feature. ``features`` (N, M, D) are the
    ``v_f`` of ``faces`` (N, M, 3, S, S) uint8.

    The loss has two terms (both logged):

    - ``"pixel"``: mean |image - decoder(v_f)|, the L1 distance to the true face;
    - ``"feature"`` (when the frozen ``encoder`` is given): ``lam_feature`` * mean
      |encoder(decoded face) - v_f| — the face encoder, looking at the decoded face, must find
      the feature it was drawn from again (Cole et al. 2017's consistency loss). The decoded
      faces are randomly mirrored before the encoder reads them: a face and its mirror image
      show the same person.

    Each input feature loses a random share (up to ``max_drop``) of its numbers, set to 0
    (their average): the decoder learns to draw from partial information, which is what a
    feature predicted from a voice is. The targets stay whole: from partial information the
    pixel term asks for the average face, the feature term (an L1 distance, whose best answer
    is the median) for a face that shows the most likely value of what is missing.
    """
    dev = torch.device(device) if device is not None else default_device()
    v = features.reshape(-1, features.shape[-1]).to(dev)  # (N*M, D)
    images = faces.reshape(-1, *faces.shape[-3:]).to(dev)  # (N*M, 3, S, S)
    if encoder is not None:
        for p in encoder.parameters():
            p.requires_grad_(False)
        encoder.to(dev).eval()
    gen = torch.Generator().manual_seed(seed + 1)

    def step(net: FaceDecoder, idx: torch.Tensor):
        rate = torch.rand(len(idx), 1, generator=gen) * max_drop  # (b, 1) a dropout rate per face
        keep = (torch.rand(len(idx), v.shape[1], generator=gen) >= rate).float()  # (b, D) on the CPU
        keep = keep.to(v.device, non_blocking=True)  # (b, D)
        drawn = net(v[idx] * keep)  # (b, 3, S, S)
        pixel = (drawn - as_float_images(images[idx])).abs().mean()
        if encoder is None:
            return pixel, {"pixel": pixel.detach()}  # () on the device
        seen = encoder(_augment(drawn, gen, blur=False))  # (b, D) what the face encoder reads in the decoded face
        feature = lam_feature * (seen - v[idx]).abs().mean()
        return pixel + feature, {"pixel": pixel.detach(), "feature": feature.detach()}  # () each, on the device

    torch.manual_seed(seed)
    return train(model, _IndexBatches(len(v), batch_size, seed, device=dev), step, epochs=epochs, lr=lr,
                 time_budget=time_budget, desc="face decoder", device=dev)


def train_judge(model: AttributeJudge, faces: torch.Tensor, attributes: torch.Tensor, *, epochs: int,
                batch_size: int = 128, lr: float = 3e-3, blur: bool = True, seed: int = 0, time_budget: float = 600,
                device: torch.device | str | None = None) -> History:
    """Train the attribute judge on real faces (N, M, 3, S, S) with their attributes (N, A),
    randomly flipped; with ``blur`` (the default), two thirds of the images are also blurred, so
    that it also reads the decoder's softer faces (without, it reads real faces a little better
    and decoded faces less steadily)."""
    dev = torch.device(device) if device is not None else default_device()
    n, m = faces.shape[:2]
    images = faces.reshape(n * m, *faces.shape[2:]).to(dev)  # (N*M, 3, S, S)
    person = torch.arange(n, device=dev).repeat_interleave(m)  # (N*M,)
    attributes = attributes.to(dev)  # (N, A)
    gen = torch.Generator().manual_seed(seed + 1)

    def step(net: AttributeJudge, idx: torch.Tensor):
        x = _augment(as_float_images(images[idx]), gen, blur=blur)  # (b, 3, S, S)
        return _attribute_loss(net(x), attributes[person[idx]])

    torch.manual_seed(seed)
    return train(model, _IndexBatches(n * m, batch_size, seed, device=dev), step, epochs=epochs, lr=lr,
                 time_budget=time_budget, desc="attribute judge", device=dev)


def random_crops(mels: torch.Tensor, frames: int, gen: torch.Generator) -> torch.Tensor:
    """One random window of ``frames`` frames from each spectrogram: (B, M, F) -> (B, M, frames)."""
    start = torch.randint(0, mels.shape[-1] - frames + 1, (len(mels),), generator=gen)  # (B,) on the CPU
    start = start.to(mels.device, non_blocking=True)  # (B,)
    idx = start[:, None] + torch.arange(frames, device=mels.device)  # (B, frames)
    return mels.gather(2, idx[:, None, :].expand(-1, mels.shape[1], -1))  # (B, M, frames)


def train_voice_encoder(model: VoiceEncoder, mels: torch.Tensor, targets: torch.Tensor, decoder: FaceDecoder,
                        encoder: FaceEncoder, *, loss: str = "paper", epochs: int, batch_size: int = 64,
                        lr: float = 2e-3, lam_norm: float = 1.0, lam_distill: float = 1.0, temperature: float = 2.0,
                        min_frames: int = 32, seed: int = 0, evaluate: Callable[[nn.Module], dict] | None = None,
                        time_budget: float = 600, device: torch.device | str | None = None) -> History:
    """Train the voice encoder to predict each person's face feature from their voice.

    ``mels`` (N, V, M, F): V utterances per person; ``targets`` (N, D): the person's ``v_f``.
    Every batch takes a random window of the utterances, between ``min_frames`` frames and the
    whole clip, so the encoder hears short and long stretches. ``loss="paper"`` uses
    :func:`speech2face_loss` with the frozen ``decoder.first`` and ``encoder.classifier``;
    ``loss="l1"`` the baseline :func:`plain_l1_loss`.
    """
    if loss not in ("paper", "l1"):
        raise ValueError(f"loss must be 'paper' or 'l1', got {loss!r}")
    dev = torch.device(device) if device is not None else default_device()
    n, n_voices = mels.shape[:2]
    flat = mels.reshape(n * n_voices, *mels.shape[2:]).to(dev)  # (N*V, M, F) float16
    person = torch.arange(n, device=dev).repeat_interleave(n_voices)  # (N*V,)
    targets = targets.to(dev)  # (N, D)
    for p in list(decoder.parameters()) + list(encoder.parameters()):
        p.requires_grad_(False)
    decoder.to(dev).eval(), encoder.to(dev).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    model.set_normalisation(flat[: min(len(flat), 2000)])

    def step(net: VoiceEncoder, idx: torch.Tensor):
        frames = int(torch.randint(min_frames, flat.shape[-1] + 1, (1,), generator=gen))  # a CPU draw: no sync
        v_s = net(random_crops(flat[idx].float(), frames, gen))  # (b, D)
        v_f = targets[person[idx]]  # (b, D)
        if loss == "l1":
            return plain_l1_loss(v_s, v_f)
        terms = loss_terms(v_s, v_f, decoder.first, encoder.classifier, lam_norm, lam_distill, temperature)
        return terms["total"], {k: v.detach() for k, v in terms.items() if k != "total"}  # () each, on the device

    torch.manual_seed(seed)
    return train(model, _IndexBatches(len(flat), batch_size, seed, device=dev), step, epochs=epochs, lr=lr,
                 time_budget=time_budget, evaluate=evaluate, desc=f"voice encoder ({loss})", device=dev)


@torch.no_grad()
def voice_vectors(model: VoiceEncoder, mels: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``v_s`` of spectrograms (B, M, F) -> (B, D)."""
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model(mels[i:i + batch_size].to(dev).float()).cpu()
                      for i in range(0, len(mels), batch_size)])  # (B, D)


# ----------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------


def validate_labels(predicted: Any, truth: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Two 1-D integer label vectors of one length (>= 1); else a ``ValueError`` naming the argument."""
    out = []
    for name, x in (("predicted", predicted), ("truth", truth)):
        x = torch.as_tensor(x)
        if x.dim() != 1 or x.numel() == 0 or x.is_floating_point() or x.is_complex():
            raise ValueError(f"{name} must be a non-empty 1-D tensor of integer class ids, got "
                             f"{x.dtype} {tuple(x.shape)}")
        out.append(x.long())
    if len(out[0]) != len(out[1]):
        raise ValueError(f"predicted ({len(out[0])}) and truth ({len(out[1])}) must have one length")
    return out[0], out[1]


def agreement(predicted: Any, truth: Any) -> dict[str, float]:
    """How often ``predicted`` equals ``truth``, beside the majority-class rate.

    ``{"agreement": fraction equal, "majority": fraction of truth in its most frequent class}``
    — the majority rate is what always answering the most common class would score on these
    same labels, the floor any predictor that knows nothing must be compared with.
    """
    predicted, truth = validate_labels(predicted, truth)
    counts = torch.bincount(truth)  # (C,)
    return {"agreement": float((predicted == truth).float().mean()), "majority": float(counts.max()) / len(truth)}


def correlation_ceiling(target: Any, given: Any) -> float:
    """The best agreement on ``target`` a predictor that knows only ``given`` can reach:
    answer, for each value of ``given``, the most frequent ``target`` among those people.
    ``sum_g P(g) max_t P(t | g)`` on these labels."""
    target, given = validate_labels(target, given)
    hits = 0
    for g in given.unique():
        hits += int(torch.bincount(target[given == g]).max())
    return hits / len(target)


def oracle_scores(query_attributes: torch.Tensor, item_attributes: torch.Tensor) -> torch.Tensor:
    """Similarity of a judge that knows only the voice-carried attributes (sex, age, build):
    ``4 [same sex] + 2 [same age group] + [same build]``, (Nq, A) x (Ni, A) -> (Nq, Ni)."""
    cols = [ATTRIBUTES.index(a) for a in VOICE_ATTRIBUTES]
    weights = (4.0, 2.0, 1.0)
    q, it = query_attributes[:, cols], item_attributes[:, cols]  # (Nq, 3), (Ni, 3)
    return sum(w * (q[:, None, k] == it[None, :, k]).float() for k, w in enumerate(weights))  # (Nq, Ni)


def expected_recall(sim: torch.Tensor, k: int) -> float:
    """R@K when ties are broken at random (the expectation): the match is in the top ``k``
    with probability ``clip((k - above) / tied, 0, 1)``, ``above`` the items scoring higher than
    it and ``tied`` those scoring the same, itself included. ``sim`` (N, N), match on the diagonal."""
    match = sim.diagonal()[:, None]  # (N, 1)
    above = (sim > match).sum(1).float()  # (N,)
    tied = (sim == match).sum(1).float()  # (N,)
    return float(((k - above) / tied).clamp(0, 1).mean())


def _bags(n: int, bag_size: int, n_bags: int, seed: int) -> list[torch.Tensor]:
    """The same random bags as :func:`mmcourse.retrieval.bag_metrics` with this seed."""
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(rng.choice(n, size=bag_size, replace=False)) for _ in range(n_bags)]


def oracle_bag_metrics(attributes: torch.Tensor, bag_size: int = 100, n_bags: int = 10, seed: int = 0,
                       ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """R@K of the attribute oracle (:func:`oracle_scores`, ties broken at random) on the bags of
    :func:`mmcourse.retrieval.bag_metrics`; ``attributes`` (N, A) of the people (voice i, face i)."""
    out = {f"R@{k}": 0.0 for k in ks}
    for idx in _bags(len(attributes), bag_size, n_bags, seed):
        sim = oracle_scores(attributes[idx], attributes[idx])  # (bag, bag)
        for k in ks:
            out[f"R@{k}"] += expected_recall(sim, k) / n_bags
    return out


def attribute_report(judged: torch.Tensor, reference: torch.Tensor, ages: torch.Tensor) -> dict[str, dict[str, float]]:
    """Agreement and majority rate per attribute, judged (N, A) vs reference (N, A); "sex" is
    also reported for adults and seniors ("sex (adults, seniors)") and children ("sex (children)")."""
    rows = {}
    for a, name in enumerate(ATTRIBUTES):
        rows[name] = agreement(judged[:, a], reference[:, a])
    sex = ATTRIBUTES.index("sex")
    grown = ages > 0  # (N,)
    rows["sex (adults, seniors)"] = agreement(judged[grown, sex], reference[grown, sex])
    rows["sex (children)"] = agreement(judged[~grown, sex], reference[~grown, sex])
    return rows


# ----------------------------------------------------------------------------------------
# The whole pipeline, for the widget and the gallery
# ----------------------------------------------------------------------------------------


class Speech2Face:
    """The trained pieces together: ``face_from_voice(wave)`` and ``face_from_feature(v_f)``."""

    def __init__(self, face_encoder: FaceEncoder, decoder: FaceDecoder, voice_encoder: VoiceEncoder,
                 judge: AttributeJudge, mel: MelConfig = MEL) -> None:
        self.face_encoder, self.decoder, self.voice_encoder, self.judge, self.mel = (
            face_encoder.eval(), decoder.eval(), voice_encoder.eval(), judge.eval(), mel)

    @torch.no_grad()
    def voice_vector(self, wave: Any, sample_rate: int = SAMPLE_RATE, seconds: float | None = None) -> torch.Tensor:
        """``v_s`` of one utterance (T,) -> (D,), or a batch (B, T) -> (B, D)."""
        spec = voice_features(wave, sample_rate, seconds, self.mel)  # (M, F) or (B, M, F)
        return voice_vectors(self.voice_encoder, spec[None] if spec.dim() == 2 else spec).squeeze(0)

    @torch.no_grad()
    def face_from_feature(self, v: torch.Tensor) -> torch.Tensor:
        """Decode features (B, D) -> images (B, 3, S, S) in [0, 1]."""
        dev = next(self.decoder.parameters()).device
        return torch.cat([self.decoder(v[i:i + 512].to(dev)).cpu() for i in range(0, len(v), 512)])  # (B, 3, S, S)

    @torch.no_grad()
    def face_from_voice(self, wave: Any, sample_rate: int = SAMPLE_RATE, seconds: float | None = None) -> torch.Tensor:
        """A face (3, S, S) from one utterance (T,), or faces (B, 3, S, S) from a batch (B, T)."""
        v = self.voice_vector(wave, sample_rate, seconds)  # (D,) or (B, D)
        faces = self.face_from_feature(v.reshape(-1, v.shape[-1]))  # (B, 3, S, S)
        return faces[0] if v.dim() == 1 else faces

    def describe(self, judged: torch.Tensor) -> str:
        """Judged attributes (A,) as words, e.g. ``'female adult, medium, long brown hair, ...'``."""
        c = {name: ATTRIBUTE_CLASSES[name][int(judged[a])] for a, name in enumerate(ATTRIBUTES)}
        glasses = "no glasses" if c["glasses"] == "none" else f"{c['glasses']} glasses"
        return f"{c['sex']} {c['age']}, {c['build']}, {c['hairstyle']} {c['hair']} hair, {c['skin']} skin, {glasses}"


# ----------------------------------------------------------------------------------------
# Exercise checks
# ----------------------------------------------------------------------------------------


def _loss_case(seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    v_s = torch.randn(6, 5, generator=gen) * 2  # (B, D)
    v_f = torch.randn(6, 5, generator=gen) * 3 + 1  # (B, D)
    first = nn.Sequential(nn.Linear(5, 7), nn.ReLU())
    classifier = nn.Linear(5, 4)
    with torch.no_grad():
        for p in list(first.parameters()) + list(classifier.parameters()):
            p.copy_(torch.randn(p.shape, generator=gen))
    return v_s, v_f, first, classifier


def check_speech2face_loss(fn: Any) -> float:
    """Exercise check: ``fn(v_s, v_f, first_layer, classifier, lam_norm, lam_distill, temperature)``
    must return :func:`speech2face_loss` (a scalar tensor through which gradients reach ``v_s``).

    Names the usual mistakes: a term missing, features not normalised, the distillation without
    its temperature, teacher and student swapped, squared instead of absolute distances, sums
    instead of means, a gradient that does not flow.
    """
    settings = [(0.5, 2.0, 2.0), (1.5, 0.7, 3.0)]
    for case, (lam_n, lam_d, t) in enumerate(settings):
        v_s, v_f, first, clf = _loss_case(case)
        v_s = v_s.clone().requires_grad_(True)
        got = fn(v_s, v_f.clone(), first, clf, lam_n, lam_d, t)
        if got is None:
            raise checks.CheckFailed("got None — did you forget to return the loss?")
        if not torch.is_tensor(got) or got.numel() != 1:
            raise checks.CheckFailed(f"the loss must be a scalar tensor, got {type(got).__name__} "
                                     f"{tuple(getattr(got, 'shape', ()))}")
        with torch.no_grad():
            ref = loss_terms(v_s, v_f, first, clf, lam_n, lam_d, t)
            d, n, k = ref["decoder"], ref["norm"], ref["distill"]
            raw_norm = lam_n * (v_f - v_s).abs().mean()
            wrong = {
                "the decoder term is missing (L1 between the decoder's first-layer activations)": n + k,
                "the normalised-feature term is missing": d + k,
                "the distillation term is missing": d + n,
                "the features are not normalised: divide v_f and v_s by their lengths before the L1": d + raw_norm + k,
                "the distillation ignores the temperature: divide both logits by T before the softmax":
                    d + n + lam_d * distillation(clf(v_f), clf(v_s), 1.0),
                "teacher and student are swapped: the target probabilities come from v_f, the log-probabilities from v_s":
                    d + n + lam_d * distillation(clf(v_s), clf(v_f), t),
                "squared distances: the paper's terms here are L1 (absolute values)":
                    (first(v_f) - first(v_s)).pow(2).mean() + lam_n * (F.normalize(v_f, dim=1) - F.normalize(v_s, dim=1)).pow(2).mean() + k,
                "sums instead of means: average the absolute differences over batch and features":
                    (first(v_f) - first(v_s)).abs().sum() + lam_n * (F.normalize(v_f, dim=1) - F.normalize(v_s, dim=1)).abs().sum() + k,
                "the weights are swapped: lam_norm weights the normalised term, lam_distill the distillation":
                    d + n / lam_n * lam_d + k / lam_d * lam_n,
            }
            value = got.detach().reshape(())
            if not torch.isclose(value, ref["total"], rtol=1e-4, atol=1e-6):
                for mistake, w in wrong.items():
                    if torch.isclose(value, w.reshape(()), rtol=1e-4, atol=1e-6):
                        raise checks.CheckFailed(mistake)
                raise checks.CheckFailed(f"case {case}: got {float(value):.6g}, expected {float(ref['total']):.6g} "
                                         f"(decoder {float(d):.4g} + norm {float(n):.4g} + distill {float(k):.4g})")
        if not got.requires_grad:
            raise checks.CheckFailed("no gradient reaches v_s: keep the computation in torch (no .detach(), .item() or numpy)")
        (grad,) = torch.autograd.grad(got.reshape(()), v_s)
        (want,) = torch.autograd.grad(speech2face_loss(v_s, v_f, first, clf, lam_n, lam_d, t), v_s)
        checks.close(grad, want, name="gradient with respect to v_s", tol=1e-4)
    return float(ref["total"])


AGREEMENT_MISTAKES: dict[str, Callable[[torch.Tensor, torch.Tensor], dict[str, float]]] = {
    "the majority rate comes from the predictions; it must come from the true labels":
        lambda p, t: {"agreement": float((p == t).float().mean()), "majority": float(torch.bincount(p).max()) / len(p)},
    "agreement is a fraction of the people, not a count":
        lambda p, t: {"agreement": float((p == t).sum()), "majority": agreement(p, t)["majority"]},
    "the majority rate is the share of the most frequent class, not 1 / number of classes":
        lambda p, t: {"agreement": agreement(p, t)["agreement"], "majority": 1.0 / len(torch.bincount(t))},
    "the majority rate is a fraction of the people, not a count":
        lambda p, t: {"agreement": agreement(p, t)["agreement"], "majority": float(torch.bincount(t).max())},
}


def check_agreement(fn: Any) -> dict[str, float]:
    """Exercise check: ``fn(predicted, truth)`` must return :func:`agreement`'s
    ``{"agreement": ..., "majority": ...}`` on fixed label vectors; names the usual mistakes."""
    cases = [
        (torch.tensor([0, 1, 1, 2, 0, 1, 0, 0]), torch.tensor([0, 1, 2, 2, 1, 1, 1, 1])),
        (torch.tensor([2, 2, 2, 2, 2, 0]), torch.tensor([0, 0, 0, 1, 2, 2])),
        (torch.tensor([1, 0, 1, 1, 0, 1, 1, 1, 1, 1]), torch.tensor([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])),
    ]
    got = []
    for i, (p, t) in enumerate(cases):
        out = fn(p.clone(), t.clone())
        if not isinstance(out, dict) or not {"agreement", "majority"} <= set(out):
            raise checks.CheckFailed(f"case {i}: expected a dict with 'agreement' and 'majority', got {out!r}")
        try:
            got.append({k: float(out[k]) for k in ("agreement", "majority")})
        except (TypeError, ValueError):
            raise checks.CheckFailed(f"case {i}: each value must be one number, got {out!r}") from None

    def agrees(answer: Callable[[torch.Tensor, torch.Tensor], dict[str, float]]) -> bool:
        return all(all(abs(g[k] - answer(p, t)[k]) < 1e-6 for k in g) for g, (p, t) in zip(got, cases))

    if agrees(agreement):
        return got[0]
    for mistake, wrong in AGREEMENT_MISTAKES.items():
        if agrees(wrong):
            raise checks.CheckFailed(mistake)
    for i, (g, (p, t)) in enumerate(zip(got, cases)):
        want = agreement(p, t)
        if any(abs(g[k] - want[k]) >= 1e-6 for k in want):
            raise checks.CheckFailed(f"case {i}: got {g}, expected {want} (predicted {p.tolist()}, truth {t.tolist()})")
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = [
    "ATTRIBUTE_CLASSES", "AttributeJudge", "as_float_images", "as_uint8", "CORRELATED_ATTRIBUTES", "FACE_ONLY_ATTRIBUTES", "FaceDecoder",
    "FaceEncoder", "MEL", "MelConfig", "SAMPLE_RATE", "Speech2Face", "VOICE_ATTRIBUTES", "VoiceEncoder", "agreement",
    "attribute_report", "check_agreement", "check_speech2face_loss", "correlation_ceiling", "distillation",
    "expected_recall", "face_features", "loss_terms", "oracle_bag_metrics", "oracle_scores", "people_data",
    "plain_l1_loss", "random_crops", "speech2face_loss", "train_face_decoder", "train_face_encoder", "train_judge",
    "train_voice_encoder", "validate_labels", "validate_wave", "voice_features", "voice_vectors", "voices",
]
