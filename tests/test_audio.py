"""mmcourse.audio against torch, torchaudio and librosa: STFT, inverse STFT, mel, MFCC."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
import torchaudio

from mmcourse import audio, checks
from mmcourse.checks import relative_error

SR = 16000
LIBROSA_WINDOW = {"rectangular": "boxcar", "hann": "hann", "hamming": "hamming"}
TOL = {np.float64: 1e-6, np.float32: 1e-4}
# (n_fft, hop, window, center, pad_mode)
SETTINGS = [
    (512, 128, "hamming", True, "constant"),
    (400, 160, "hann", True, "reflect"),
    (256, 256, "rectangular", False, "constant"),
    (1024, 100, "hamming", False, "reflect"),
    (255, 64, "hann", True, "constant"),  # odd n_fft
]


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(8000)  # (T,) float64, half a second


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s)))
def test_stft_matches_torch_and_librosa(noise, setting, dtype):
    n_fft, hop, window, center, pad_mode = setting
    x = noise.astype(dtype)  # (T,)
    ours = audio.stft(x, n_fft, hop, window, center, pad_mode)  # (F, frames)
    assert ours.dtype == (np.complex128 if dtype == np.float64 else np.complex64)
    w = torch.from_numpy(audio.get_window(window, n_fft, dtype))  # (n_fft,)
    ref_torch = torch.stft(
        torch.from_numpy(x), n_fft, hop, window=w, center=center, pad_mode=pad_mode, return_complex=True
    ).numpy()  # (F, frames)
    ref_librosa = librosa.stft(
        x, n_fft=n_fft, hop_length=hop, window=LIBROSA_WINDOW[window], center=center, pad_mode=pad_mode
    )  # (F, frames)
    assert ours.shape == ref_torch.shape == ref_librosa.shape == (n_fft // 2 + 1, audio.num_frames(len(x), n_fft, hop, center))
    assert relative_error(ours, ref_torch) <= TOL[dtype]
    assert relative_error(ours, ref_librosa) <= TOL[dtype]
    # the torch path gives the same numbers, as a tensor of the same precision
    ours_t = audio.stft(torch.from_numpy(x), n_fft, hop, window, center, pad_mode)  # (F, frames)
    assert torch.is_tensor(ours_t) and ours_t.dtype == (torch.complex128 if dtype == np.float64 else torch.complex64)
    assert relative_error(ours_t.numpy(), ref_torch) <= TOL[dtype]


def test_stft_of_a_batch_is_the_stft_of_each_channel(noise):
    x = np.stack([noise, noise[::-1].copy(), 0.5 * noise])  # (3, T)
    batch = audio.stft(x, 256, 64)  # (3, F, frames)
    assert batch.shape == (3, 129, audio.num_frames(x.shape[1], 256, 64))
    for c in range(3):
        assert relative_error(batch[c], audio.stft(x[c], 256, 64)) == 0.0
    batch_t = audio.stft(torch.from_numpy(x), 256, 64)  # (3, F, frames)
    assert relative_error(batch_t.numpy(), batch) < 1e-12


def test_stft_finds_a_pure_tone_in_its_bin():
    n_fft, k = 512, 40
    t = np.arange(SR) / SR  # (T,) seconds
    x = np.sin(2 * np.pi * (k * SR / n_fft) * t)  # (T,) exactly on bin k
    mag = np.abs(audio.stft(x, n_fft, 128, "hann"))  # (F, frames)
    assert np.all(np.argmax(mag[:, 2:-2], axis=0) == k)
    assert audio.fft_frequencies(SR, n_fft)[k] == pytest.approx(k * SR / n_fft)


def test_frames_are_views_centred_on_hop_multiples():
    x = np.arange(20, dtype=np.float64)  # (T,)
    frames = audio.frame_signal(x, 8, 4, center=True, pad_mode="constant")  # (frames, 8)
    assert frames.shape == (6, 8)
    assert np.shares_memory(audio.frame_signal(x, 8, 4, center=False), x)  # a view, no copy
    assert frames[1, 4] == 4.0 and frames[0, 4] == 0.0 and frames[0, 3] == 0.0  # padded with zeros
    reflected = audio.frame_signal(x, 8, 4, center=True, pad_mode="reflect")  # (frames, 8)
    assert list(reflected[0, :5]) == [4.0, 3.0, 2.0, 1.0, 0.0]


@pytest.mark.parametrize("window", audio.WINDOWS)
def test_windows_are_periodic_like_torch(window):
    makers = {
        "rectangular": lambda n: torch.ones(n, dtype=torch.float64),
        "hann": lambda n: torch.hann_window(n, dtype=torch.float64),
        "hamming": lambda n: torch.hamming_window(n, dtype=torch.float64),
    }
    assert np.allclose(audio.get_window(window, 64), makers[window](64).numpy(), atol=1e-15)


@pytest.mark.parametrize(("window", "level"), [("rectangular", -13.26), ("hann", -31.47), ("hamming", -42.7)])
def test_window_side_lobes(window, level):
    assert audio.sidelobe_level(window) == pytest.approx(level, abs=0.3)


def test_istft_reconstructs_a_cola_pair(noise):
    assert audio.cola_ripple("hamming", 512, 128) < 1e-10
    spec = audio.stft(noise, 512, 128, "hamming")  # (F, frames)
    y = audio.istft(spec, 128, "hamming", length=len(noise))  # (T,)
    assert audio.snr_db(noise, y) >= 80.0
    y_t = audio.istft(torch.from_numpy(spec), 128, "hamming", length=len(noise))  # (T,)
    assert torch.is_tensor(y_t) and audio.snr_db(noise, y_t) >= 80.0
    # the same as torch.istft
    w = torch.from_numpy(audio.get_window("hamming", 512))  # (n_fft,)
    ref = torch.istft(torch.from_numpy(spec), 512, 128, window=w, length=len(noise)).numpy()  # (T,)
    assert relative_error(y, ref) < 1e-10


def test_istft_fails_where_windows_leave_gaps(noise):
    # Hann without overlap: the envelope is zero at every frame boundary
    assert audio.cola_ripple("hann", 512, 512) > 1.0
    spec = audio.stft(noise, 512, 512, "hann")  # (F, frames)
    y = audio.istft(spec, 512, "hann", length=len(noise))  # (T,)
    assert audio.snr_db(noise, y) < 40.0


def test_istft_without_length_matches_torch_length(noise):
    spec = audio.stft(noise[:1000], 256, 64)  # (F, frames)
    w = torch.from_numpy(audio.get_window("hamming", 256))  # (n_fft,)
    ref = torch.istft(torch.from_numpy(spec), 256, 64, window=w)  # (T',)
    assert audio.istft(spec, 64).shape == tuple(ref.shape)


@pytest.mark.parametrize("htk", [True, False], ids=["htk", "slaney"])
@pytest.mark.parametrize("norm", ["slaney", None], ids=["norm-slaney", "norm-none"])
def test_mel_filterbank_matches_librosa_and_torchaudio(htk, norm):
    ours = audio.mel_filterbank(SR, 512, 40, fmin=0.0, fmax=8000.0, htk=htk, norm=norm)  # (M, F)
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=40, fmin=0.0, fmax=8000.0, htk=htk, norm=norm, dtype=np.float64)
    assert relative_error(ours, ref) <= 1e-10
    # torchaudio builds its filters in float32
    ta = torchaudio.functional.melscale_fbanks(257, 0.0, 8000.0, 40, SR, norm=norm, mel_scale="htk" if htk else "slaney")
    assert relative_error(ours, ta.T) <= 1e-4


def test_mel_filterbank_with_band_limits_matches_librosa():
    ours = audio.mel_filterbank(22050, 2048, 128, fmin=30.0, fmax=7600.0)  # (M, F)
    ref = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128, fmin=30.0, fmax=7600.0, dtype=np.float64)
    assert relative_error(ours, ref) <= 1e-10


def test_mel_scales_round_trip_and_agree_with_librosa():
    f = np.array([0.0, 100.0, 999.0, 1000.0, 1001.0, 4000.0, 8000.0])  # (7,) Hz
    for htk in (True, False):
        m = audio.hz_to_mel(f, htk)  # (7,)
        assert np.allclose(m, librosa.hz_to_mel(f, htk=htk))
        assert np.allclose(audio.mel_to_hz(m, htk), f)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_mfcc_matches_librosa(noise, dtype):
    x = noise.astype(dtype)  # (T,)
    ours = audio.mfcc(x, SR, 13, n_fft=512, hop=128, n_mels=40)  # (13, frames)
    ref = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13, n_fft=512, hop_length=128, n_mels=40, window="hamming")
    # librosa keeps its mel filters in float32, hence not 1e-12 even in float64
    assert relative_error(ours, ref) <= (1e-6 if dtype == np.float64 else 1e-5)
    ours_t = audio.mfcc(torch.from_numpy(x), SR, 13, n_fft=512, hop=128, n_mels=40)  # (13, frames)
    assert relative_error(ours_t.numpy(), ours) <= 1e-5


def test_dct_matrix_is_orthonormal_and_matches_scipy():
    from scipy.fft import dct

    basis = audio.dct_matrix(40, 40)  # (40, 40)
    assert np.allclose(basis @ basis.T, np.eye(40), atol=1e-12)
    v = np.random.default_rng(1).standard_normal(40)  # (40,)
    assert np.allclose(basis @ v, dct(v, type=2, norm="ortho"))


def test_power_to_db_matches_librosa():
    p = np.abs(np.random.default_rng(2).standard_normal((20, 30))) ** 4  # (F, T)
    assert np.allclose(audio.power_to_db(p), librosa.power_to_db(p))
    assert np.allclose(audio.power_to_db(torch.from_numpy(p)).numpy(), librosa.power_to_db(p))


def test_read_only_and_integer_input(noise):
    x = noise.copy()  # (T,)
    x.flags.writeable = False
    assert relative_error(audio.stft(x, 256, 64), audio.stft(noise, 256, 64)) == 0.0
    pcm = np.round(noise * 1000).astype(np.int16)  # (T,)
    assert audio.stft(pcm, 256, 64).dtype == np.complex128


def test_deterministic(noise):
    a = audio.mfcc(noise, SR, n_fft=256, hop=64)  # (13, frames)
    b = audio.mfcc(noise.copy(), SR, n_fft=256, hop=64)  # (13, frames)
    assert np.array_equal(a, b)


def test_bad_input_names_the_argument(noise):
    with pytest.raises(ValueError, match=r"signal must be 2-D \(channels, samples\).*transpose"):
        audio.stft(np.zeros((16000, 2)))
    with pytest.raises(ValueError, match=r"signal must be 1-D"):
        audio.stft(np.zeros((2, 3, 400)))
    with pytest.raises(ValueError, match="sample_rate must be a positive"):
        audio.mel_filterbank(0, 512)
    with pytest.raises(ValueError, match="sample_rate must be a positive"):
        audio.mfcc(noise, -16000)
    with pytest.raises(ValueError, match="n_fft=1024 is longer than the signal"):
        audio.stft(noise[:500], 1024, 256, center=False)
    with pytest.raises(ValueError, match="hop must be a positive integer"):
        audio.stft(noise, 512, 0)
    with pytest.raises(ValueError, match="hop must be a positive integer"):
        audio.stft(torch.from_numpy(noise), 512, -3)
    with pytest.raises(ValueError, match="window must have length n_fft=512"):
        audio.stft(noise, 512, 128, window=np.hanning(400))
    with pytest.raises(ValueError, match="window must have length n_fft=512"):
        audio.stft(torch.from_numpy(noise), 512, 128, window=torch.ones(256))
    with pytest.raises(ValueError, match="window must be one of"):
        audio.stft(noise, 512, 128, window="kaiser")
    with pytest.raises(ValueError, match="n_fft must be a positive integer"):
        audio.stft(noise, 0)
    with pytest.raises(ValueError, match="pad_mode"):
        audio.stft(noise[:100], 512, 128, pad_mode="reflect")
    with pytest.raises(TypeError, match="signal must be real"):
        audio.stft(noise.astype(np.complex128))


def test_integer_pcm_is_scaled_to_unit_range():
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    assert np.allclose(audio.as_signal(pcm), [0.0, 0.5, -1.0, 32767 / 32768])
    assert audio.as_signal(pcm).dtype == np.float64
    t = audio.as_signal(torch.from_numpy(pcm))
    assert t.dtype == torch.float32 and torch.allclose(t, torch.tensor([0.0, 0.5, -1.0, 32767 / 32768]))
    assert np.allclose(audio.as_signal(np.array([128, 0, 255], dtype=np.uint8)), [0.0, -1.0, 127 / 128])
    with pytest.raises(TypeError, match="signal must be float or integer PCM"):
        audio.as_signal(np.array([True, False] * 10))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_samples_are_refused_by_every_feature(noise, bad):
    x = noise.copy()
    x[1234] = bad
    for features in (audio.stft, lambda s: audio.log_mel_spectrogram(s, 16000), lambda s: audio.mfcc(s, 16000)):
        with pytest.raises(ValueError, match="signal contains NaN or infinite samples"):
            features(x)
        with pytest.raises(ValueError, match="signal contains NaN or infinite samples"):
            features(torch.from_numpy(x))


def test_sample_rate_in_khz_by_mistake_is_refused(noise):
    with pytest.raises(ValueError, match=r"sample_rate=16 .*did you mean 16000"):
        audio.mfcc(noise, 16)
    with pytest.raises(ValueError, match=r"sample_rate=22.05 .*did you mean 22050"):
        audio.mel_filterbank(22.05, 512)


# ------------------------------------------------------------------------- exercise checks
def _frames(x, n_fft, hop, window):
    return np.lib.stride_tricks.sliding_window_view(np.pad(x, n_fft // 2), n_fft)[::hop] * window


def _mel(sr, n_fft, n_mels, fmin, fmax, htk=True, edges_in_hz=False):
    freqs = audio.fft_frequencies(sr, n_fft)
    if edges_in_hz:
        edges = np.linspace(fmin, fmax, n_mels + 2)
    else:
        mels = np.linspace(audio.hz_to_mel(fmin, htk=htk), audio.hz_to_mel(fmax, htk=htk), n_mels + 2)
        edges = audio.mel_to_hz(mels, htk=htk)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - left) / (centre - left), (right - freqs) / (right - centre)))


def _dct(n_out, n_in, scale_c0=True, normalise=True):
    k, n = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * (np.sqrt(2.0 / n_in) if normalise else 1.0)
    if scale_c0:
        basis[0] /= np.sqrt(2.0)
    return basis


def _unsolved(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check, solution, wrong, words", [
    (audio.check_frames, _frames, lambda x, n, h, w: _frames(x, n, h, np.ones_like(w)), "not windowed"),
    (audio.check_frames, _frames, lambda x, n, h, w: np.lib.stride_tricks.sliding_window_view(x, n)[::h] * w,
     "pad n_fft // 2"),
    (audio.check_mel_filterbank, _mel, lambda *a: _mel(*a, edges_in_hz=True), "evenly spaced in Hz"),
    (audio.check_mel_filterbank, _mel, lambda *a: _mel(*a, htk=False), "Slaney-scale"),
    (audio.check_mel_filterbank, _mel, lambda *a: _mel(*a).T, "transpose"),
    (audio.check_dct_matrix, _dct, lambda k, n: _dct(k, n, scale_c0=False), "1 / sqrt(2)"),
    (audio.check_dct_matrix, _dct, lambda k, n: _dct(k, n, normalise=False), "not unit vectors"),
])
def test_exercise_checks_pass_name_the_mistake_and_wait_for_the_learner(check, solution, wrong, words):
    assert checks.run("right", check, solution).status == "passed"
    failed = checks.run("wrong", check, wrong)
    assert failed.status == "failed" and words in failed.message, failed.message
    assert checks.run("unsolved", check, _unsolved).status == "not implemented"
