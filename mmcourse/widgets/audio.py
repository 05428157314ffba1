"""The spectrogram explorer of lesson 07: pick a clip and STFT settings, see and hear it.

    explorer = SpectrogramExplorer({"fox": wave, "beach": clip}, sample_rate=16000)
    explorer            # shows the controls, the picture, a player and a status line

Each redraw computes the chosen representation with :mod:`mmcourse.audio` and prints a
status line such as ``clip=fox, n_fft=512, hop=128, window=hamming, scale=dB: 126 frames
x 257 bins, redraw 0.04 s``.

Why it is fast: matplotlib draws the *frame* of the picture — the waveform, the axes with
their ticks and labels in seconds and Hz — only when the clip or the scale changes (and
keeps the last few frames). Every other redraw maps the new spectrogram through the colour
map with NumPy, pastes it into the frame's plot area pixel by pixel, and encodes the PNG.
"""

from __future__ import annotations

import io
import time
import wave
from collections import OrderedDict
from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import audio
from .base import Explorer, new_figure, png_bytes

SCALES = ("linear", "dB", "mel", "MFCC")
N_FFTS = (128, 256, 512, 1024, 2048)
HOPS = (32, 64, 128, 256, 512)
SCALE_TITLES = {
    "linear": "magnitude |X| (linear)",
    "dB": "power in dB (0 = loudest, floor -80 dB)",
    "mel": "log-mel power in dB (0 = loudest, floor -80 dB)",
    "MFCC": "MFCC (colours scaled to c1 and up)",
}
_MEL_TICKS_HZ = (0, 500, 1000, 2000, 4000, 8000, 16000)


def wav_bytes(wave_: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file in memory, peak-normalised, for an audio player."""
    x = np.asarray(wave_, dtype=np.float64)  # (T,)
    if x.ndim != 1:
        raise ValueError(f"wave_ must be 1-D (samples,), got shape {x.shape}")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    pcm = np.round(x / max(peak, 1e-9) * 0.9 * 32767).astype("<i2")  # (T,) int16
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _envelope(x: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min and max of ``x`` in ``columns`` equal chunks: a waveform plot that shows every
    peak but draws only ``2 * columns`` points. Returns (first sample of chunk, low, high)."""
    n = len(x) // columns * columns
    if n == 0:
        idx = np.arange(len(x))  # (T,)
        return idx, x, x
    chunks = x[:n].reshape(columns, -1)  # (columns, T // columns)
    return np.arange(columns) * chunks.shape[1], chunks.min(axis=1), chunks.max(axis=1)


class SpectrogramExplorer(Explorer):
    """Controls ``clip``, ``n_fft``, ``hop``, ``window`` and ``scale``; a picture of the
    waveform and its spectrogram (seconds and Hz on the axes); a player; a status line.

    Args:
        clips: display name -> 1-D wave (samples,).
        sample_rate: of every clip, in Hz.
        n_mels: mel bands of the ``mel`` and ``MFCC`` scales (fewer for a short ``n_fft``).
        n_mfcc: MFCC coefficients shown, 1 to ``n_mels``.
        n_fft, hop, window, scale: the first settings, from ``N_FFTS``, ``HOPS``,
            ``audio.WINDOWS`` and ``SCALES``.
        dpi: of the picture.
        frames_kept: how many drawn frames (one per clip and scale) are kept for reuse.

    ``line`` holds the last status line and ``seconds`` the time of the last redraw.
    """

    def __init__(
        self,
        clips: Mapping[str, np.ndarray],
        sample_rate: int = 16000,
        n_mels: int = 64,
        n_mfcc: int = 20,
        n_fft: int = 512,
        hop: int = 128,
        window: str = "hamming",
        scale: str = "dB",
        dpi: int = 72,
        frames_kept: int = 48,
    ) -> None:
        super().__init__()
        if not clips:
            raise ValueError("clips must hold at least one (name -> 1-D wave) entry")
        self.clips: dict[str, np.ndarray] = {}
        for name, c in clips.items():
            x = np.asarray(audio.as_signal(c, f"clips[{name!r}]"), dtype=np.float32)  # (T,)
            if x.ndim != 1:
                raise ValueError(f"clips[{name!r}] must be 1-D (samples,), got shape {x.shape}")
            self.clips[str(name)] = x
        self.sample_rate = int(sample_rate)
        audio.fft_frequencies(self.sample_rate, 2)  # validates sample_rate
        if not 1 <= n_mfcc <= n_mels:
            raise ValueError(f"n_mfcc must be between 1 and n_mels={n_mels}, got {n_mfcc}")
        if n_fft not in N_FFTS or hop not in HOPS or window not in audio.WINDOWS or scale not in SCALES:
            raise ValueError(
                f"n_fft, hop, window, scale must be from {N_FFTS}, {HOPS}, {audio.WINDOWS}, {SCALES}; "
                f"got {n_fft}, {hop}, {window!r}, {scale!r}"
            )
        self.n_mels, self.n_mfcc = n_mels, n_mfcc
        style = {"description_width": "60px"}
        self.clip = widgets.Dropdown(options=list(self.clips), description="clip", style=style,
                                     layout=widgets.Layout(width="420px"))
        self.n_fft = widgets.Dropdown(options=list(N_FFTS), value=n_fft, description="n_fft", style=style,
                                      layout=widgets.Layout(width="160px"))
        self.hop = widgets.Dropdown(options=list(HOPS), value=hop, description="hop", style=style,
                                    layout=widgets.Layout(width="160px"))
        self.window = widgets.ToggleButtons(options=list(audio.WINDOWS), value=window, description="window", style=style)
        self.scale = widgets.ToggleButtons(options=list(SCALES), value=scale, description="scale", style=style)
        self.image = widgets.Image(format="png")
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False, controls=True)
        self.seconds = 0.0
        self.redraws = 0
        self._player_clip: str | None = None
        self._dpi = dpi
        self._frames: OrderedDict[tuple[str, str], tuple[np.ndarray, tuple[int, int, int, int]]] = OrderedDict()
        self._frames_kept = frames_kept
        self.watch([self.clip, self.n_fft, self.hop, self.window, self.scale], self.redraw)
        self.widget = widgets.VBox(
            [widgets.HBox([self.clip, self.n_fft, self.hop]), self.window, self.scale, self.image, self.player, self.status]
        )
        self.run(self.redraw)

    # ------------------------------------------------------------------ computing
    def _n_mels(self) -> int:
        return min(self.n_mels, self.n_fft.value // 4)  # no empty triangles for a short n_fft

    def features(self) -> np.ndarray:
        """The chosen representation ``(rows, frames)`` of the chosen clip: magnitude or dB
        per frequency bin, log-mel dB per band, or MFCC per coefficient."""
        x = self.clips[self.clip.value]  # (T,)
        n_fft, hop, window, scale = self.n_fft.value, self.hop.value, self.window.value, self.scale.value
        if len(x) <= n_fft // 2:
            x = np.pad(x, (0, n_fft // 2 + 1 - len(x)))  # (n_fft // 2 + 1,)
        if scale in ("linear", "dB"):
            p = audio.power(audio.stft(x, n_fft, hop, window))  # (F, frames)
            if scale == "linear":
                return np.sqrt(p)  # (F, frames)
            return audio.power_to_db(p, ref=float(p.max()) or 1.0)  # (F, frames)
        kwargs = dict(n_fft=n_fft, hop=hop, window=window, n_mels=self._n_mels())
        if scale == "mel":
            rows = audio.log_mel_spectrogram(x, self.sample_rate, **kwargs)  # (M, frames)
            return rows - rows.max()  # (M, frames)
        return audio.mfcc(x, self.sample_rate, n_mfcc=self.n_mfcc, **kwargs)  # (K, frames)

    # ------------------------------------------------------------------- drawing
    def _frame(self, name: str, scale: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The picture without the spectrogram: RGBA pixels and the plot area (top, bottom,
        left, right) in pixels. Drawn by matplotlib once per (clip, scale) and kept."""
        key = (name, scale)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        x = self.clips[name]  # (T,)
        seconds = len(x) / self.sample_rate
        fig = new_figure(8.0, 4.4, dpi=self._dpi)
        ax_wave, ax_spec = fig.subplots(2, 1, height_ratios=(1, 2.4), sharex=True)
        fig.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.11, hspace=0.25)
        idx, low, high = _envelope(x, 600)
        ax_wave.fill_between(idx / self.sample_rate, low, high, color="tab:blue", linewidth=0.6)
        peak = float(max(np.max(np.abs(x)), 1e-9))
        ax_wave.set(xlim=(0.0, seconds), ylim=(-1.05 * peak, 1.05 * peak), ylabel="amplitude")
        ax_wave.set_title(f"{name}: {seconds:.2f} s at {self.sample_rate} Hz", fontsize=10)
        nyquist = self.sample_rate / 2
        if scale in ("linear", "dB"):
            ax_spec.set(ylim=(0.0, nyquist), ylabel="frequency (Hz)")
        elif scale == "mel":  # axis = mel / mel(Nyquist), labelled in Hz
            top = float(audio.hz_to_mel(nyquist))
            ticks = [f for f in _MEL_TICKS_HZ if f <= nyquist]
            ax_spec.set_yticks([float(audio.hz_to_mel(f)) / top for f in ticks], [str(f) for f in ticks])
            ax_spec.set(ylim=(0.0, 1.0), ylabel="frequency (Hz, mel-spaced)")
        else:
            ax_spec.set(ylim=(-0.5, self.n_mfcc - 0.5), ylabel="MFCC coefficient")
            ax_spec.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_spec.set(xlim=(0.0, seconds), xlabel="time (s)")
        ax_spec.set_title(SCALE_TITLES[scale], fontsize=10)
        ax_spec.set_facecolor("black")
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3) uint8
        box = ax_spec.get_window_extent()  # display pixels, origin bottom-left
        height = pixels.shape[0]
        area = (height - int(np.floor(box.y1)) + 1, height - int(np.ceil(box.y0)) - 1,
                int(np.ceil(box.x0)) + 1, int(np.floor(box.x1)) - 1)  # top, bottom, left, right
        self._frames[key] = (pixels, area)
        if len(self._frames) > self._frames_kept:
            self._frames.popitem(last=False)
        return pixels, area

    def _colours(self, rows: np.ndarray, scale: str, height: int, width: int, seconds: float) -> np.ndarray:
        """Nearest-neighbour resampling of ``rows`` onto the plot area, through the colour map."""
        hop_s = self.hop.value / self.sample_rate
        t = (np.arange(width) + 0.5) / width * seconds  # (W,) seconds at each pixel column
        col = np.clip(np.round(t / hop_s).astype(int), 0, rows.shape[1] - 1)  # (W,)
        y = 1.0 - (np.arange(height) + 0.5) / height  # (H,) 1 at the top, 0 at the bottom
        if scale in ("linear", "dB"):
            row = np.round(y * (self.sample_rate / 2) * self.n_fft.value / self.sample_rate).astype(int)  # (H,)
        elif scale == "mel":  # band m is centred at (m + 1) / (M + 1) of the mel range
            row = np.round(y * (rows.shape[0] + 1) - 1).astype(int)  # (H,)
        else:  # coefficient k spans [k - 0.5, k + 0.5]
            row = np.round(y * self.n_mfcc - 0.5).astype(int)  # (H,)
        row = np.clip(row, 0, rows.shape[0] - 1)  # (H,)
        if scale == "linear":
            lo, hi = 0.0, float(rows.max()) or 1.0
        elif scale in ("dB", "mel"):
            lo, hi = -80.0, 0.0
        else:
            bound = float(np.abs(rows[1:]).max()) or 1.0
            lo, hi = -bound, bound
        level = np.clip((rows - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)  # (R, frames)
        cmap = matplotlib.colormaps["coolwarm" if scale == "MFCC" else "magma"]
        lut = cmap(np.linspace(0.0, 1.0, 256), bytes=True)[:, :3]  # (256, 3) uint8
        return lut[level[row[:, None], col[None, :]]]  # (H, W, 3)

    def redraw(self) -> str:
        """Recompute, redraw, update the player if the clip changed; return the status line."""
        start = time.perf_counter()
        name, scale = self.clip.value, self.scale.value
        x = self.clips[name]  # (T,)
        rows = self.features()  # (R, frames)
        frame, (top, bottom, left, right) = self._frame(name, scale)
        picture = frame.copy()  # (H, W, 3)
        picture[top:bottom, left:right] = self._colours(rows, scale, bottom - top, right - left, len(x) / self.sample_rate)
        self.image.value = png_bytes(picture, compress_level=1)
        if self._player_clip != name:
            self.player.value = wav_bytes(x, self.sample_rate)
            self._player_clip = name
        what = {"linear": "bins", "dB": "bins", "mel": "mel bands", "MFCC": "coefficients"}[scale]
        self.seconds = time.perf_counter() - start
        self.redraws += 1
        return self.set_status(
            f"clip={name}, n_fft={self.n_fft.value}, hop={self.hop.value}, window={self.window.value}, "
            f"scale={scale}: {rows.shape[1]} frames x {rows.shape[0]} {what}, redraw {self.seconds:.2f} s"
        )
