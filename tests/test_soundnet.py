"""mmcourse.soundnet (lesson 08): the student's shapes and bookkeeping, input validation, the teachers,
the two-KL loss, training, the metrics on hand-computed cases, transfer and probes, the exercise checks
(the widget: test_widgets_soundnet.py)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from mmcourse import checks, soundnet, soundnet_figures
from mmcourse.encoders import GridEncoder
from mmcourse.world import sample_scenes

matplotlib.use("Agg")

SMALL = soundnet.SoundNetConfig(channels=(4, 8, 8, 16))


def test_student_shapes_and_bookkeeping_agree():
    model = soundnet.SoundNet(SMALL)
    wave = torch.randn(3, 16000) * 0.1  # (B, T)
    acts = model.activations(wave)
    assert [a.shape[1] for a in acts] == list(SMALL.channels)
    assert acts[-1].shape[2] == soundnet.output_length(16000, SMALL.layers()) == 31
    obj, scene = model(wave)
    assert obj.shape == (3, 5) and scene.shape == (3, 4)
    w_obj, w_scene = model.windows(wave)
    assert w_obj.shape == (3, 5, 31) and torch.allclose(w_obj.mean(2), obj)
    assert model.min_length == soundnet.receptive_field(SMALL.layers()) == 2044
    assert model(torch.randn(16000))[0].shape == (1, 5)  # one clip (T,)


def test_receptive_field_and_output_length_by_hand():
    assert soundnet.receptive_field([(3, 1, 0), (3, 1, 0)]) == 5
    assert soundnet.receptive_field([(4, 2, 0), (3, 1, 0)]) == 4 + 2 * 2
    assert soundnet.output_length(10, [(3, 2, 1)]) == 5
    with pytest.raises(ValueError, match="length=2 is too short"):
        soundnet.output_length(2, [(5, 1, 0)])
    with pytest.raises(ValueError, match="length"):
        soundnet.output_length(0, [(5, 1, 0)])


def test_bad_input_names_the_argument():
    model = soundnet.SoundNet(SMALL)
    with pytest.raises(ValueError, match="waveform must be mono.*stereo"):
        model(torch.zeros(2, 2, 16000))
    with pytest.raises(ValueError, match="waveform must be mono.*samples, channels"):
        model(torch.zeros(16000, 2))
    with pytest.raises(ValueError, match="sample_rate must be 16000"):
        model(torch.zeros(1, 16000), sample_rate=22050)
    with pytest.raises(ValueError, match="waveform is too short.*receptive field is 2044"):
        model(torch.zeros(1, 2000))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 16000), float("nan")))
    with pytest.raises(ValueError, match="waveform must"):
        model("not audio")
    with pytest.raises(ValueError, match="channels, kernels"):
        soundnet.SoundNetConfig(channels=(4, 8), kernels=(3,), strides=(1,), pools=(1,))


def test_int16_and_numpy_input_are_read_as_audio():
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 4000)).astype(np.float32)
    out = soundnet.validate_waveform(x, min_length=100)
    assert out.dtype == torch.float32 and out.shape == (2, 4000)
    pcm = torch.from_numpy(np.round(x * 32768).astype(np.int16))
    assert torch.allclose(soundnet.validate_waveform(pcm), out, atol=1e-4)


def test_teacher_distributions_are_probability_vectors():
    torch.manual_seed(0)
    enc = GridEncoder(dim=16, width=8).eval()
    images = torch.randint(0, 255, (5, 3, 64, 64), dtype=torch.uint8)
    t = soundnet.teacher_distributions(enc, images)
    assert t["object"].shape == (5, 5) and t["scene"].shape == (5, 4)
    assert torch.allclose(t["object"].sum(1), torch.ones(5)) and torch.allclose(t["scene"].sum(1), torch.ones(5))


def test_kl_loss_is_zero_at_the_teacher_and_positive_elsewhere():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0, 0.0]])  # (1, 5) with exact zeros
    logits = torch.log(p.clamp_min(1e-30))  # the teacher itself as logits
    assert float(soundnet.kl_to_student(p, logits)) < 1e-6
    assert float(soundnet.kl_to_student(p, torch.zeros(1, 5))) == pytest.approx(math.log(5 / 2), rel=1e-5)
    s = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    total = soundnet.teacher_student_loss(torch.zeros(1, 5), torch.zeros(1, 4), p, s)
    assert float(total) == pytest.approx(math.log(5 / 2) + math.log(4), rel=1e-5)
    only_obj = soundnet.teacher_student_loss(torch.zeros(1, 5), torch.zeros(1, 4), p, s, weights=(1.0, 0.0))
    assert float(only_obj) == pytest.approx(math.log(5 / 2), rel=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        soundnet.kl_to_student(p, logits, temperature=0)


def test_gradient_flows_and_a_tiny_batch_overfits():
    torch.manual_seed(0)
    model = soundnet.SoundNet(SMALL)
    wave = torch.randn(4, 4000) * 0.3  # (B, T)
    t_obj = torch.softmax(torch.randn(4, 5) * 3, 1)
    t_scene = torch.eye(4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for step in range(60):
        loss = soundnet.teacher_student_loss(*model(wave), t_obj, t_scene)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            first = float(loss.detach())
            assert model.stages[0][0].weight.grad.abs().sum() > 0
        opt.step()
    assert float(loss) < 0.1 * first


def test_soundnet_step_logs_detached_tensors():
    torch.manual_seed(0)
    batch = (torch.randn(3, 4000) * 0.3, torch.softmax(torch.randn(3, 5), 1), torch.softmax(torch.randn(3, 4), 1))
    loss, logs = soundnet.soundnet_step(soundnet.SoundNet(SMALL), batch)
    assert loss.dim() == 0 and set(logs) == {"kl_object", "kl_scene"}
    for value in logs.values():  # tensors that train() reads back, not floats (a host sync per step)
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad


def test_clip_batches_on_a_device_are_the_same_batches():
    torch.manual_seed(0)
    clips = (torch.randn(10, 500) * 3000).to(torch.int16)  # (N, T)
    teacher = {"object": torch.softmax(torch.randn(10, 5), 1), "scene": torch.softmax(torch.randn(10, 4), 1)}
    plain = soundnet.ClipBatches(clips, teacher, batch_size=4, crop=300, seed=2)
    on_cpu = soundnet.ClipBatches(clips, teacher, batch_size=4, crop=300, seed=2, device="cpu")
    for _ in range(2):  # two epochs: the same shuffles and crops
        a, b = list(plain), list(on_cpu)
        assert len(a) == len(b) == len(plain) == 3
        for x, y in zip(a, b):
            assert all(u.device.type == "cpu" and u.dtype == v.dtype and torch.equal(u, v) for u, v in zip(x, y))
    assert a[0][0].dtype == torch.float32 and float(a[0][0].abs().max()) <= 1.0


def test_check_finite_off_skips_only_the_nan_scan():
    wave = torch.full((1, 4000), float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        soundnet.validate_waveform(wave)
    assert soundnet.validate_waveform(wave, check_finite=False).shape == (1, 4000)
    with pytest.raises(ValueError, match="too short"):
        soundnet.validate_waveform(torch.zeros(1, 10), min_length=100, check_finite=False)


def test_fit_trains_with_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCOURSE_CACHE", str(tmp_path))
    torch.manual_seed(0)
    clips = (torch.randn(16, 4000) * 3000).to(torch.int16)
    teacher = {"object": torch.softmax(torch.randn(16, 5), 1), "scene": torch.softmax(torch.randn(16, 4), 1)}
    model = soundnet.SoundNet(SMALL)
    h = soundnet.fit(model, clips, teacher, epochs=2, batch_size=8, crop=3000, progress=False, teachers="scene")
    assert h.n_steps == 4 and "kl_scene" in h.steps
    p = soundnet.predict(model, soundnet.as_float(clips))
    assert p["object"].shape == (16, 5) and torch.allclose(p["scene"].sum(1), torch.ones(16))
    with pytest.raises(ValueError, match="teachers"):
        soundnet.fit(model, clips, teacher, epochs=1, teachers="sound")


def test_average_precision_by_hand():
    assert soundnet.average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert soundnet.average_precision([0.1, 0.2, 0.3], [0, 0, 1]) == 1.0
    assert soundnet.average_precision([0.5, 0.5], [1, 0]) == 0.5  # a tie shares its precision
    assert math.isnan(soundnet.average_precision([0.1, 0.2], [0, 0]))


def test_presence_and_presence_ap_split_sounding_from_silent():
    scenes = sample_scenes(200, seed=3)
    any_, loud, quiet = (soundnet.presence(scenes, w) for w in ("any", "sounding", "silent"))
    assert (loud <= any_).all() and (quiet <= any_).all() and ((loud | quiet) == any_).all()
    perfect = soundnet.presence_ap(loud.astype(float), scenes)
    assert perfect["sounding"] == pytest.approx(1.0)
    assert perfect["silent"] < 0.6
    assert 0 < perfect["sounding_chance"] < 1
    with pytest.raises(ValueError, match="which"):
        soundnet.presence(scenes, "loud")


def test_scene_accuracy_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert soundnet.scene_accuracy(probs, [0, 1, 1]) == pytest.approx(2 / 3)


def test_transfer_clips_and_probe():
    scenes = sample_scenes(60, seed=5)
    for task in ("count", "loudest"):
        clips, labels = soundnet.transfer_clips(scenes, task, seed=1, duration=0.25)
        assert clips.shape == (len(labels), 4000)
        assert labels.max() < len(soundnet.TRANSFER_TASKS[task])
    with pytest.raises(ValueError, match="task"):
        soundnet.transfer_clips(scenes, "pitch")
    idx = soundnet.few_labels(torch.tensor([0, 0, 0, 1, 1, 2]), 2, 3)
    assert sorted(torch.tensor([0, 0, 0, 1, 1, 2])[idx].tolist()) == [0, 0, 1, 1, 2]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=gen)
    y = (x[:, 0] > 0).long()
    assert soundnet.linear_probe(x, y, x, y, 2, ridge=0.1) > 0.9
    with pytest.raises(ValueError, match="ridge"):
        soundnet.linear_probe(x, y, x, y, 2, ridge=-1)
    feats = soundnet.layer_features(soundnet.SoundNet(SMALL), clips[:4] if len(clips) >= 4 else clips)
    assert [f.shape[1] for f in feats] == [2 * c for c in SMALL.channels]
    assert soundnet.mfcc_statistics(clips[:3]).shape == (min(3, len(clips)), 40)


def test_units_and_figures():
    scenes = sample_scenes(12, seed=4)
    model = soundnet.SoundNet(SMALL)
    clips = torch.randn(12, 4000) * 0.1
    r = soundnet.unit_responses(model, clips, 3)
    assert r.shape == (12, 8)
    det = soundnet.unit_detectors(r, scenes)
    assert len(det) == 8 and det[0][2] >= det[-1][2]
    soundnet_figures.plot_units(clips, r, det[:2], top=2)
    with pytest.raises(ValueError, match="layer"):
        soundnet.unit_responses(model, clips, 9)


# --------------------------------------------------------------------------------- exercise checks


def _unsolved(*args, **kwargs):
    raise NotImplementedError


def _reverse_kl(so, ss, to, ts, temperature=1.0):
    out = 0.0
    for s, t in ((so, to), (ss, ts)):
        q = torch.softmax(s, 1)
        out = out + (q * (q.clamp_min(1e-12).log() - t.clamp_min(1e-12).log())).sum(1).mean()
    return out


def _cross_entropy(so, ss, to, ts, temperature=1.0):
    return sum(-(t * torch.log_softmax(s, 1)).sum(1).mean() for s, t in ((so, to), (ss, ts)))


def _ceil_length(length, layers):
    n = length
    for k, s, p in layers:
        n = -((n + 2 * p - k) // -s) + 1
    return n


def _no_padding(length, layers):
    n = length
    for k, s, _ in layers:
        n = (n - k) // s + 1
    return n


def _test_statistics(*args):
    return soundnet._probe_variant(*args, "test statistics")


def _train_accuracy(*args):
    return soundnet._probe_variant(*args, "train accuracy")


CASES = [
    (soundnet.check_teacher_student_loss, soundnet.teacher_student_loss,
     [(_reverse_kl, "wrong way round"), (_cross_entropy, "cross-entropy")]),
    (soundnet.check_output_length, soundnet.output_length,
     [(_ceil_length, "rounds up"), (_no_padding, "ignores the padding")]),
    (soundnet.check_linear_probe, soundnet.linear_probe,
     [(_test_statistics, "test set's mean"), (_train_accuracy, "training clips")]),
]


@pytest.mark.parametrize("check, reference, mistakes", CASES)
def test_exercise_check_passes_the_reference(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, reference).status == "passed"


@pytest.mark.parametrize("check, reference, mistakes", CASES)
def test_exercise_check_names_the_typical_mistakes(check, reference, mistakes, capsys):
    for wrong, phrase in mistakes:
        result = checks.run("exercise", check, wrong)
        assert result.status == "failed"
        assert phrase in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, mistakes", CASES)
def test_exercise_check_says_not_implemented_for_the_placeholder(check, reference, mistakes, capsys):
    assert checks.run("exercise", check, _unsolved).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out
