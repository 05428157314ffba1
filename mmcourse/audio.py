"""Sound as features: STFT, inverse STFT, mel filterbank, log-mel and MFCC from scratch.

Lesson 07 builds these step by step and checks each against ``torch`` and ``librosa``;
lessons 08-10 use them as their audio front end.

Conventions (the same as ``torch.stft`` and ``librosa.stft``):

- a signal is 1-D ``(samples,)`` or 2-D ``(channels, samples)`` (a batch of clips counts
  as channels), a NumPy array or a torch tensor, float32 or float64; the result has the
  same kind, device and precision (float32 -> complex64, float64 -> complex128);
- a spectrogram is ``(..., freq_bins, frames)`` with ``freq_bins = n_fft // 2 + 1``;
- windows are *periodic* (the DFT-even form that ``torch.hann_window`` and
  ``scipy.signal.get_window`` return by default), and the default window is Hamming;
- ``center=True`` pads ``n_fft // 2`` samples on both sides, so frame ``t`` is centred
  on sample ``t * hop``;
- the FFT is torch's for both kinds of input (a NumPy array is viewed as a tensor without
  copying): one code path for arrays and tensors, on the CPU or a GPU.

Bad input raises ``ValueError`` (or ``TypeError``) naming the argument.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from . import checks

WINDOWS = ("rectangular", "hann", "hamming")
PAD_MODES = ("constant", "reflect")

Array = Any  # a numpy.ndarray or a torch.Tensor

# integer PCM sample types -> (offset, scale) that map them to [-1, 1)
_PCM_SCALE: dict[Any, tuple[float, float]] = {
    np.int16: (0.0, 2.0**15), np.int32: (0.0, 2.0**31), np.uint8: (128.0, 128.0),
    torch.int16: (0.0, 2.0**15), torch.int32: (0.0, 2.0**31), torch.uint8: (128.0, 128.0),
}


# ------------------------------------------------------------------------- validation
def _validate_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


MIN_SAMPLE_RATE = 1000.0  # Hz: below this, a sample rate is almost surely given in kHz by mistake


def _validate_sample_rate(sample_rate: Any) -> float:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"sample_rate must be a positive number of samples per second, got {sample_rate!r}")
    if not sample_rate > 0 or not math.isfinite(sample_rate):
        raise ValueError(f"sample_rate must be a positive number of samples per second, got {sample_rate!r}")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate={sample_rate!r} samples per second is too low for audio (at least {MIN_SAMPLE_RATE:.0f}); "
            f"it is given in Hz, not kHz: did you mean {sample_rate * 1000:.0f}?"
        )
    return float(sample_rate)


def as_signal(signal: Any, name: str = "signal") -> Array:
    """Check a signal and return it as a float NumPy array or float torch tensor.

    Accepts ``(samples,)`` or ``(channels, samples)``; a 2-D input with more rows than
    columns is taken for the common mistake ``(samples, channels)`` and rejected.
    Integer PCM samples (what a WAV file stores) are scaled to [-1, 1): ``int16`` is divided
    by 2**15, ``int32`` by 2**31, ``uint8`` is centred on 128 and divided by 128 — float64
    for NumPy, float32 for torch. A NaN or infinite sample is a ``ValueError`` (it would
    silently turn every frame it touches, and the features after, into NaN); complex
    input is a ``TypeError``.
    """
    if torch.is_tensor(signal):
        if signal.is_complex():
            raise TypeError(f"{name} must be real-valued, got a complex tensor")
        if signal.dtype in _PCM_SCALE:
            offset, scale = _PCM_SCALE[signal.dtype]
            x = (signal.float() - offset) / scale
        elif signal.dtype == torch.bool or not signal.is_floating_point():
            raise TypeError(f"{name} must be float or integer PCM (int16, int32, uint8), got dtype {signal.dtype}")
        else:
            x = signal if signal.dtype in (torch.float32, torch.float64) else signal.float()  # float16 -> float32
        finite = bool(torch.isfinite(x).all())
    else:
        x = np.asarray(signal)
        if np.iscomplexobj(x):
            raise TypeError(f"{name} must be real-valued, got a complex array")
        if x.dtype.type in _PCM_SCALE:
            offset, scale = _PCM_SCALE[x.dtype.type]
            x = (x.astype(np.float64) - offset) / scale
        elif x.dtype not in (np.float32, np.float64):
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"{name} must be float or integer PCM (int16, int32, uint8), got dtype {x.dtype}")
            x = x.astype(np.float64)
        finite = bool(np.isfinite(x).all())
    if not finite:
        raise ValueError(f"{name} contains NaN or infinite samples; clean them first (for example np.nan_to_num)")
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (samples,) or 2-D (channels, samples), got shape {tuple(x.shape)}")
    if x.ndim == 2 and x.shape[0] > x.shape[1]:
        raise ValueError(
            f"{name} must be 2-D (channels, samples), got shape {tuple(x.shape)} with more rows than "
            f"columns, which looks like (samples, channels): transpose it (signal.T)"
        )
    if x.shape[-1] == 0:
        raise ValueError(f"{name} is empty: it has no samples")
    return x


def _is_torch(x: Array) -> bool:
    return torch.is_tensor(x)


# ---------------------------------------------------------------------------- windows
def get_window(window: str | Array, n_fft: int, dtype: Any = np.float64) -> np.ndarray:
    """A periodic analysis window of length ``n_fft`` as a NumPy array of ``dtype``.

    ``window`` is one of ``WINDOWS`` or an array of length ``n_fft``. Periodic means
    ``w[n] = a - (1 - a) cos(2 pi n / n_fft)``: the symmetric window of length
    ``n_fft + 1`` without its last sample, which is what makes Hann and Hamming add up
    to a constant when shifted by ``n_fft / 4``.
    """
    n_fft = _validate_positive_int(n_fft, "n_fft")
    if isinstance(window, str):
        n = np.arange(n_fft)  # (n_fft,)
        phase = 2.0 * np.pi * n / n_fft  # (n_fft,)
        if window == "rectangular":
            w = np.ones(n_fft)  # (n_fft,)
        elif window == "hann":
            w = 0.5 - 0.5 * np.cos(phase)  # (n_fft,)
        elif window == "hamming":
            w = 0.54 - 0.46 * np.cos(phase)  # (n_fft,)
        else:
            raise ValueError(f"window must be one of {WINDOWS} or an array of length n_fft, got {window!r}")
        return w.astype(dtype)
    w = window.detach().cpu().numpy() if torch.is_tensor(window) else np.asarray(window)  # (n_fft,)
    if w.ndim != 1 or w.shape[0] != n_fft:
        raise ValueError(f"window must have length n_fft={n_fft}, got shape {tuple(w.shape)}")
    return w.astype(dtype)


def _window_like(window: str | Array, n_fft: int, x: Array) -> Array:
    """The window in the same library, precision and device as the signal ``x``."""
    if _is_torch(x):
        if torch.is_tensor(window):
            if window.ndim != 1 or window.shape[0] != n_fft:
                raise ValueError(f"window must have length n_fft={n_fft}, got shape {tuple(window.shape)}")
            return window.to(dtype=x.dtype, device=x.device)  # (n_fft,)
        return torch.from_numpy(get_window(window, n_fft)).to(dtype=x.dtype, device=x.device)  # (n_fft,)
    return get_window(window, n_fft, dtype=x.dtype)  # (n_fft,)


def sidelobe_level(window: str | Array, n_fft: int = 512, oversample: int = 64) -> float:
    """Highest side lobe of a window's spectrum in dB relative to its main lobe.

    The window is zero-padded ``oversample`` times to see its spectrum finely; the main
    lobe ends at the first local minimum, and the answer is the loudest point after it.
    Rectangular, Hann and Hamming give about -13, -31 and -43 dB.
    """
    oversample = _validate_positive_int(oversample, "oversample")
    w = get_window(window, n_fft)  # (n_fft,)
    spectrum = np.abs(np.fft.rfft(w, n=n_fft * oversample))  # (n_fft * oversample // 2 + 1,)
    with np.errstate(divide="ignore"):
        level = 20.0 * np.log10(spectrum / spectrum.max())  # (bins,) dB
    rising = np.nonzero(spectrum[1:] > spectrum[:-1])[0]  # (k,) indices where the spectrum turns up
    if rising.size == 0:
        raise ValueError("window has no side lobes at this oversampling")
    return float(level[rising[0] :].max())


# ---------------------------------------------------------------------------- framing
def num_frames(length: int, n_fft: int, hop: int, center: bool = True) -> int:
    """How many frames :func:`frame_signal` cuts from ``length`` samples."""
    padded = length + 2 * (n_fft // 2) if center else length
    return 1 + (padded - n_fft) // hop


def pad_center(signal: Array, n_fft: int, pad_mode: str = "constant") -> Array:
    """Pad ``n_fft // 2`` samples on both ends (zeros or a mirror image), so that frame
    ``t`` is centred on sample ``t * hop``."""
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    x = signal
    p = n_fft // 2
    if pad_mode == "reflect" and x.shape[-1] <= p:
        raise ValueError(
            f"signal has {x.shape[-1]} samples, too short for pad_mode='reflect' with n_fft={n_fft} "
            f"(needs more than {p}); use pad_mode='constant' or a smaller n_fft"
        )
    if _is_torch(x):
        if pad_mode == "constant":
            return torch.nn.functional.pad(x, (p, p))  # (..., T + 2p)
        flat = x.reshape(-1, 1, x.shape[-1])  # (C, 1, T): reflect padding wants a channel axis
        return torch.nn.functional.pad(flat, (p, p), mode="reflect").reshape(*x.shape[:-1], -1)  # (..., T + 2p)
    widths = [(0, 0)] * (x.ndim - 1) + [(p, p)]
    return np.pad(x, widths, mode=pad_mode)  # (..., T + 2p)


def frame_signal(
    signal: Array, n_fft: int, hop: int, center: bool = True, pad_mode: str = "constant"
) -> Array:
    """Cut a signal into overlapping frames of ``n_fft`` samples, ``hop`` apart.

    Returns ``(..., n_frames, n_fft)``: a strided *view* of the (padded) signal, so no
    samples are copied; frame ``t`` starts at padded sample ``t * hop``.
    """
    x = as_signal(signal)
    n_fft = _validate_positive_int(n_fft, "n_fft")
    hop = _validate_positive_int(hop, "hop")
    if center:
        x = pad_center(x, n_fft, pad_mode)  # (..., T + 2 * (n_fft // 2))
    elif x.shape[-1] < n_fft:
        raise ValueError(
            f"n_fft={n_fft} is longer than the signal ({x.shape[-1]} samples) and center=False adds no "
            f"padding; use a smaller n_fft or center=True"
        )
    if _is_torch(x):
        return x.unfold(-1, n_fft, hop)  # (..., n_frames, n_fft)
    return sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]  # (..., n_frames, n_fft)


# ------------------------------------------------------------------------------- STFT
def stft(
    signal: Array,
    n_fft: int = 512,
    hop: int | None = None,
    window: str | Array = "hamming",
    center: bool = True,
    pad_mode: str = "constant",
) -> Array:
    """Short-time Fourier transform: frame, window, ``rfft`` every frame at once.

    Returns the complex spectrogram ``(..., n_fft // 2 + 1, n_frames)`` — the layout of
    ``torch.stft(..., return_complex=True)`` and ``librosa.stft`` — as a NumPy array or a
    torch tensor like ``signal``. ``hop`` defaults to ``n_fft // 4``.
    """
    n_fft = _validate_positive_int(n_fft, "n_fft")
    hop = n_fft // 4 if hop is None else hop
    hop = _validate_positive_int(hop, "hop")
    x = as_signal(signal)
    # One code path for both kinds of input: a NumPy array is viewed as a tensor without
    # copying, so NumPy callers get torch's batched, multi-threaded FFT too.
    was_numpy = not _is_torch(x)
    xt = torch.from_numpy(np.require(x, requirements=["C", "W"])) if was_numpy else x  # (..., T) no copy if possible
    w = _window_like(window, n_fft, xt)  # (n_fft,)
    frames = frame_signal(xt, n_fft, hop, center=center, pad_mode=pad_mode)  # (..., n_frames, n_fft) a view
    spec = torch.fft.rfft(frames * w, dim=-1)  # (..., n_frames, n_fft // 2 + 1)
    spec = spec.transpose(-1, -2)  # (..., n_fft // 2 + 1, n_frames)
    return spec.numpy() if was_numpy else spec


def window_envelope(window: str | Array, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """``sum_t w(n - t * hop)^2``: how much window energy covers each output sample.

    The overlap-add condition for the inverse STFT is that this is constant (away from the
    ends); where it is zero, those samples cannot be recovered at all.
    """
    w = get_window(window, n_fft)  # (n_fft,)
    hop = _validate_positive_int(hop, "hop")
    n_frames = _validate_positive_int(n_frames, "n_frames")
    return _overlap_add(np.broadcast_to(w**2, (n_frames, n_fft)), hop)  # (n_fft + hop * (n_frames - 1),)


def cola_ripple(window: str | Array, n_fft: int, hop: int) -> float:
    """Ripple ``(max - min) / mean`` of the squared-window envelope in steady state.

    0 (up to rounding) when the window/hop pair satisfies the overlap-add condition.
    """
    n_fft = _validate_positive_int(n_fft, "n_fft")
    hop = _validate_positive_int(hop, "hop")
    n_frames = 2 * (n_fft // hop + 1) + 1
    env = window_envelope(window, n_fft, hop, n_frames)  # (L,)
    steady = env[n_fft : len(env) - n_fft]  # (L - 2 n_fft,) every sample covered by all overlapping frames
    return float((steady.max() - steady.min()) / steady.mean())


def _overlap_add(frames: Array, hop: int) -> Array:
    """Sum frames ``(..., T, n_fft)`` placed ``hop`` apart into ``(..., n_fft + hop * (T - 1))``.

    No loop over frames: each frame is cut into ``R = ceil(n_fft / hop)`` pieces of ``hop``
    samples, and piece ``r`` of frame ``t`` lands on block ``t + r`` — one vectorised
    addition per piece index ``r``.
    """
    n_frames, n_fft = frames.shape[-2], frames.shape[-1]
    pieces = -(-n_fft // hop)  # R
    extra = pieces * hop - n_fft
    lead = tuple(frames.shape[:-2])
    if _is_torch(frames):
        padded = torch.nn.functional.pad(frames, (0, extra))  # (..., T, R * hop)
        blocks = padded.reshape(*lead, n_frames, pieces, hop)  # (..., T, R, hop)
        out = frames.new_zeros(*lead, n_frames + pieces - 1, hop)  # (..., T + R - 1, hop)
    else:
        widths = [(0, 0)] * (frames.ndim - 1) + [(0, extra)]
        padded = np.pad(frames, widths)  # (..., T, R * hop)
        blocks = padded.reshape(*lead, n_frames, pieces, hop)  # (..., T, R, hop)
        out = np.zeros((*lead, n_frames + pieces - 1, hop), dtype=frames.dtype)  # (..., T + R - 1, hop)
    for r in range(pieces):
        out[..., r : r + n_frames, :] += blocks[..., :, r, :]  # (..., T, hop)
    out = out.reshape(*lead, (n_frames + pieces - 1) * hop)  # (..., (T + R - 1) * hop)
    return out[..., : n_fft + hop * (n_frames - 1)]  # (..., n_fft + hop * (T - 1))


def istft(
    spec: Array,
    hop: int | None = None,
    window: str | Array = "hamming",
    center: bool = True,
    length: int | None = None,
    n_fft: int | None = None,
) -> Array:
    """Inverse STFT by weighted overlap-add (the least-squares inverse).

    Every frame is turned back with ``irfft``, multiplied by the window again, and added
    at its place; the sum is divided by :func:`window_envelope`. Where the envelope is
    (numerically) zero nothing can be recovered and the output is 0 there.
    ``spec`` is ``(..., n_fft // 2 + 1, n_frames)``; ``length`` trims or zero-pads the result.
    """
    if spec.ndim < 2:
        raise ValueError(f"spec must be (..., freq_bins, frames), got shape {tuple(spec.shape)}")
    n_fft = 2 * (spec.shape[-2] - 1) if n_fft is None else _validate_positive_int(n_fft, "n_fft")
    if spec.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"spec has {spec.shape[-2]} frequency bins, expected n_fft // 2 + 1 = {n_fft // 2 + 1}")
    hop = n_fft // 4 if hop is None else hop
    hop = _validate_positive_int(hop, "hop")
    n_frames = spec.shape[-1]
    env = window_envelope(window, n_fft, hop, n_frames)  # (L,)
    safe = env > 1e-11 * env.max()  # (L,) samples some window covers
    inv_env = np.where(safe, 1.0 / np.where(safe, env, 1.0), 0.0)  # (L,)
    was_numpy = not _is_torch(spec)
    spec_t = torch.from_numpy(np.require(spec, requirements=["C", "W"])) if was_numpy else spec  # (..., F, T)
    if not spec_t.is_complex():
        raise TypeError(f"spec must be a complex spectrogram, got dtype {spec_t.dtype}")
    real = torch.float64 if spec_t.dtype == torch.complex128 else torch.float32
    w = _window_like(window, n_fft, torch.zeros((), dtype=real, device=spec_t.device))  # (n_fft,)
    frames = torch.fft.irfft(spec_t.transpose(-1, -2), n=n_fft, dim=-1) * w  # (..., T, n_fft)
    y = _overlap_add(frames, hop) * torch.from_numpy(inv_env).to(frames)  # (..., L)
    if center:
        start = n_fft // 2
        y = y[..., start : y.shape[-1] - start] if length is None else y[..., start:]  # (..., L')
    if length is not None:
        length = _validate_positive_int(length, "length")
        if y.shape[-1] >= length:
            y = y[..., :length]  # (..., length)
        else:
            y = torch.nn.functional.pad(y, (0, length - y.shape[-1]))  # (..., length)
    return y.numpy() if was_numpy else y


def snr_db(reference: Array, estimate: Array) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference`` in dB (inf if equal)."""
    ref = np.asarray(reference.detach().cpu() if torch.is_tensor(reference) else reference, dtype=np.float64)
    est = np.asarray(estimate.detach().cpu() if torch.is_tensor(estimate) else estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"estimate has shape {est.shape}, expected the shape of reference {ref.shape}")
    noise = float(np.sum((ref - est) ** 2))
    signal = float(np.sum(ref**2))
    return math.inf if noise == 0.0 else 10.0 * math.log10(signal / noise)


# ---------------------------------------------------------------------- power and dB
def power(spec: Array) -> Array:
    """``|X|^2`` of a complex spectrogram (NumPy or torch)."""
    return spec.real**2 + spec.imag**2  # (..., F, T)


def power_to_db(power_spec: Array, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> Array:
    """``10 log10(power / ref)``, floored at ``amin`` and at ``top_db`` below the maximum.

    The maximum is taken over the last two axes (each spectrogram of a batch on its own).
    """
    if amin <= 0:
        raise ValueError(f"amin must be positive, got {amin!r}")
    if top_db is not None and top_db < 0:
        raise ValueError(f"top_db must be non-negative or None, got {top_db!r}")
    offset = 10.0 * math.log10(max(amin, ref))
    if _is_torch(power_spec):
        db = 10.0 * torch.log10(power_spec.clamp(min=amin)) - offset  # (..., F, T)
        if top_db is not None:
            peak = db.amax(dim=(-2, -1), keepdim=True)  # (..., 1, 1)
            db = torch.maximum(db, peak - top_db)  # (..., F, T)
        return db
    db = 10.0 * np.log10(np.maximum(power_spec, amin)) - offset  # (..., F, T)
    if top_db is not None:
        peak = db.max(axis=(-2, -1), keepdims=True)  # (..., 1, 1)
        db = np.maximum(db, peak - top_db)  # (..., F, T)
    return db


def fft_frequencies(sample_rate: float, n_fft: int) -> np.ndarray:
    """Centre frequency in Hz of each of the ``n_fft // 2 + 1`` bins."""
    sample_rate = _validate_sample_rate(sample_rate)
    n_fft = _validate_positive_int(n_fft, "n_fft")
    return np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # (F,)


def frame_times(n_frames: int, sample_rate: float, hop: int) -> np.ndarray:
    """Time in seconds of each frame's centre (with ``center=True``)."""
    sample_rate = _validate_sample_rate(sample_rate)
    hop = _validate_positive_int(hop, "hop")
    return np.arange(n_frames) * hop / sample_rate  # (T,)


# -------------------------------------------------------------------------------- mel
_SLANEY_BREAK_HZ = 1000.0  # linear below, logarithmic above
_SLANEY_HZ_PER_MEL = 200.0 / 3.0  # 15 mel at 1000 Hz
_SLANEY_LOG_STEP = math.log(6.4) / 27.0  # 27 mel per factor 6.4 above 1000 Hz


def hz_to_mel(freq: Any, htk: bool = False) -> np.ndarray:
    """Hz -> mel. ``htk=True``: ``2595 log10(1 + f / 700)``; otherwise Slaney's scale
    (linear to 1 kHz, logarithmic above; the librosa default)."""
    f = np.asarray(freq, dtype=np.float64)  # (...,)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)  # (...,)
    linear = f / _SLANEY_HZ_PER_MEL  # (...,)
    break_mel = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
    with np.errstate(divide="ignore", invalid="ignore"):
        logpart = break_mel + np.log(np.maximum(f, 1e-300) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP  # (...,)
    return np.where(f >= _SLANEY_BREAK_HZ, logpart, linear)  # (...,)


def mel_to_hz(mel: Any, htk: bool = False) -> np.ndarray:
    """mel -> Hz, the inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)  # (...,)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # (...,)
    break_mel = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
    linear = m * _SLANEY_HZ_PER_MEL  # (...,)
    logpart = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (m - break_mel))  # (...,)
    return np.where(m >= break_mel, logpart, linear)  # (...,)


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` in float64.

    ``n_mels + 2`` edge frequencies are spaced evenly on the mel scale between ``fmin``
    and ``fmax`` (default: Nyquist); filter ``m`` rises linearly (in Hz) from edge ``m``
    to 1 at edge ``m + 1`` and falls back to 0 at edge ``m + 2``. ``norm="slaney"``
    divides each triangle by half its width in Hz, so every filter has the same area
    (constant energy per band); ``norm=None`` keeps peaks at 1.
    Same as ``librosa.filters.mel`` and ``torchaudio.functional.melscale_fbanks`` (transposed).
    """
    sample_rate = _validate_sample_rate(sample_rate)
    n_fft = _validate_positive_int(n_fft, "n_fft")
    n_mels = _validate_positive_int(n_mels, "n_mels")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"fmin must be >= 0 and below fmax={fmax}, got fmin={fmin!r}")
    if fmax > sample_rate / 2.0:
        raise ValueError(f"fmax must be at most the Nyquist frequency {sample_rate / 2.0} Hz, got {fmax!r}")
    if norm not in (None, "slaney"):
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    freqs = fft_frequencies(sample_rate, n_fft)  # (F,)
    edges_mel = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2)  # (M + 2,)
    edges = mel_to_hz(edges_mel, htk)  # (M + 2,) Hz
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (M, 1) each
    rising = (freqs[None, :] - left) / (centre - left)  # (M, F)
    falling = (right - freqs[None, :]) / (right - centre)  # (M, F)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)  # (M, F)
    if norm == "slaney":
        weights = weights * (2.0 / (right - left))  # (M, F)
    return weights


def mel_spectrogram(
    signal: Array,
    sample_rate: float,
    n_fft: int = 512,
    hop: int | None = None,
    n_mels: int = 64,
    window: str | Array = "hamming",
    center: bool = True,
    pad_mode: str = "constant",
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> Array:
    """Mel power spectrogram ``(..., n_mels, n_frames)``: the filterbank applied to ``|STFT|^2``."""
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm)  # (M, F)
    p = power(stft(signal, n_fft, hop, window, center, pad_mode))  # (..., F, T)
    if _is_torch(p):
        return torch.from_numpy(fb).to(p) @ p  # (..., M, T)
    return fb.astype(p.dtype) @ p  # (..., M, T)


def log_mel_spectrogram(signal: Array, sample_rate: float, top_db: float | None = 80.0, **kwargs: Any) -> Array:
    """Log-mel spectrogram in dB ``(..., n_mels, n_frames)``; ``kwargs`` go to :func:`mel_spectrogram`."""
    return power_to_db(mel_spectrogram(signal, sample_rate, **kwargs), top_db=top_db)  # (..., M, T)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix ``(n_out, n_in)``: row ``k`` is
    ``sqrt(2 / N) cos(pi k (2n + 1) / (2N))``, row 0 scaled by ``1 / sqrt(2)``."""
    n_in = _validate_positive_int(n_in, "n_in")
    n_out = _validate_positive_int(n_out, "n_out")
    if n_out > n_in:
        raise ValueError(f"n_out must be at most n_in={n_in}, got {n_out}")
    k = np.arange(n_out)[:, None]  # (K, 1)
    n = np.arange(n_in)[None, :]  # (1, N)
    basis = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))  # (K, N)
    basis[0] /= np.sqrt(2.0)  # (N,)
    return basis


def mfcc(signal: Array, sample_rate: float, n_mfcc: int = 13, top_db: float | None = 80.0, **kwargs: Any) -> Array:
    """Mel-frequency cepstral coefficients ``(..., n_mfcc, n_frames)``: the orthonormal
    DCT-II of the log-mel spectrogram (in dB) along the mel axis."""
    log_mel = log_mel_spectrogram(signal, sample_rate, top_db=top_db, **kwargs)  # (..., M, T)
    basis = dct_matrix(n_mfcc, log_mel.shape[-2])  # (K, M)
    if _is_torch(log_mel):
        return torch.from_numpy(basis).to(log_mel) @ log_mel  # (..., K, T)
    return basis.astype(log_mel.dtype) @ log_mel  # (..., K, T)


# ------------------------------------------------------------------- exercise checks
def _speech_like(seconds: float = 0.3, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A fixed test signal for the checks: two harmonic stacks and a little noise (float64)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate  # (T,)
    x = sum(np.sin(2 * np.pi * k * 180.0 * t) / k for k in range(1, 8))  # (T,) a 180 Hz voice
    x = x + 0.5 * np.sin(2 * np.pi * 2300.0 * t) + 0.05 * rng.standard_normal(len(t))  # (T,)
    return x / np.abs(x).max()  # (T,)


def check_frames(fn: Any) -> float:
    """Exercise check: ``fn(x, n_fft, hop, window) -> (n_frames, n_fft)`` centre-padded, windowed frames.

    Compares with frames cut by hand from the zero-padded signal, and the ``rfft`` of the
    learner's frames with ``librosa.stft`` (an implementation the course's code does not call).
    Returns the largest relative error.
    """
    import librosa

    x = _speech_like()  # (T,)
    worst = 0.0
    for n_fft, hop in ((400, 160), (256, 64), (255, 100)):
        window = get_window("hamming", n_fft)  # (n_fft,)
        padded = np.pad(x, n_fft // 2)  # (T + 2 * (n_fft // 2),)
        n_frames = 1 + (len(padded) - n_fft) // hop
        raw = np.stack([padded[t * hop: t * hop + n_fft] for t in range(n_frames)])  # (n_frames, n_fft)
        expected = raw * window  # (n_frames, n_fft)
        got = fn(x.copy(), n_fft, hop, window.copy())
        where = f"my_frames(x, n_fft={n_fft}, hop={hop}, window)"
        if got is None:
            raise checks.CheckFailed(f"{where} returned None — did you forget to return the frames?")
        got = np.asarray(got)
        if got.ndim != 2 or got.shape[1] != n_fft:
            raise checks.CheckFailed(f"{where}: shape is {got.shape}, expected (n_frames, {n_fft}): one frame per row")
        if got.shape[0] != n_frames:
            unpadded = 1 + (len(x) - n_fft) // hop
            hint = (" — that is the count without padding: pad n_fft // 2 samples at both ends first"
                    if got.shape[0] == unpadded else " — frame t starts at padded sample t * hop")
            raise checks.CheckFailed(f"{where}: {got.shape[0]} frames, expected {n_frames}{hint}")
        if checks.relative_error(got, raw) < 1e-9:
            raise checks.CheckFailed(f"{where}: the frames are right but not windowed: multiply each frame by the window")
        if checks.relative_error(got[:, ::-1], expected) < 1e-9:
            raise checks.CheckFailed(f"{where}: every frame is reversed in time")
        worst = max(worst, checks.close(got, expected, name=f"{where}: windowed frames", tol=1e-9))
        reference = librosa.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=True, pad_mode="constant")  # (F, n_frames)
        worst = max(worst, checks.close(np.fft.rfft(got, axis=-1).T, reference,
                                        name=f"{where}: rfft of your frames vs librosa.stft", tol=1e-9))
    return worst


def check_mel_filterbank(fn: Any) -> float:
    """Exercise check: ``fn(sample_rate, n_fft, n_mels, fmin, fmax) -> (n_mels, n_fft // 2 + 1)``,
    triangles on the HTK mel scale with peaks at 1, against ``librosa.filters.mel``.
    Returns the largest relative error."""
    import librosa

    worst = 0.0
    for sr, n_fft, n_mels, fmin, fmax in ((16000, 512, 40, 0.0, 8000.0), (22050, 1024, 64, 50.0, 8000.0)):
        expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True,
                                       norm=None, dtype=np.float64)  # (M, F)
        got = fn(sr, n_fft, n_mels, fmin, fmax)
        where = f"my_mel_filterbank({sr}, {n_fft}, {n_mels}, {fmin:g}, {fmax:g})"
        if got is None:
            raise checks.CheckFailed(f"{where} returned None — did you forget to return the filters?")
        got = np.asarray(got, dtype=np.float64)
        if got.shape == expected.shape[::-1]:
            raise checks.CheckFailed(f"{where}: shape is {got.shape}, expected {expected.shape}: one filter per row (transpose)")
        checks.shape(got, expected.shape, name=where)
        slaney = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False,
                                     norm=None, dtype=np.float64)  # (M, F)
        if checks.relative_error(got, slaney) < 1e-6:
            raise checks.CheckFailed(f"{where}: these are Slaney-scale filters; use the HTK scale "
                                     "(audio.hz_to_mel(f, htk=True) and audio.mel_to_hz(m, htk=True))")
        fft_freqs = fft_frequencies(sr, n_fft)  # (F,)
        centres_got = fft_freqs[got.argmax(axis=1)]  # (M,)
        linear = np.linspace(fmin, fmax, n_mels + 2)[1:-1]  # (M,) centres evenly spaced in Hz
        if np.abs(centres_got - linear).max() < 2 * sr / n_fft:
            raise checks.CheckFailed(f"{where}: the filter centres are evenly spaced in Hz; space the "
                                     "n_mels + 2 edges evenly in mel, then convert them back to Hz")
        if np.any(got < -1e-12):
            raise checks.CheckFailed(f"{where}: some weights are negative: clip the triangles at 0")
        worst = max(worst, checks.close(got, expected, name=where, tol=1e-8))
    return worst


def check_dct_matrix(fn: Any) -> float:
    """Exercise check: ``fn(n_out, n_in) -> (n_out, n_in)``, the orthonormal DCT-II basis,
    against ``scipy.fft.dct(..., norm="ortho")``. Returns the largest relative error."""
    from scipy.fft import dct

    worst = 0.0
    for n_out, n_in in ((13, 40), (40, 40), (20, 64)):
        expected = dct(np.eye(n_in), type=2, norm="ortho", axis=0)[:n_out]  # (K, N)
        got = fn(n_out, n_in)
        where = f"my_dct_matrix({n_out}, {n_in})"
        if got is None:
            raise checks.CheckFailed(f"{where} returned None — did you forget to return the matrix?")
        got = np.asarray(got, dtype=np.float64)
        if got.shape == (n_in, n_out) and n_in != n_out:
            raise checks.CheckFailed(f"{where}: shape is {got.shape}, expected {(n_out, n_in)}: one basis vector per row")
        checks.shape(got, (n_out, n_in), name=where)
        if np.allclose(got[1:], expected[1:], atol=1e-10) and np.allclose(got[0], expected[0] * np.sqrt(2), atol=1e-10):
            raise checks.CheckFailed(f"{where}: row 0 is sqrt(2) too large: scale c_0 by 1 / sqrt(2)")
        norms = np.linalg.norm(got, axis=1)  # (K,)
        if not np.allclose(norms, 1.0, atol=1e-8):
            raise checks.CheckFailed(f"{where}: the rows are not unit vectors (their lengths range from "
                                     f"{norms.min():.3f} to {norms.max():.3f}): an orthonormal basis needs the "
                                     "factor sqrt(2 / n_in), and row 0 another 1 / sqrt(2)")
        worst = max(worst, checks.close(got, expected, name=where, tol=1e-10))
    return worst
