"""Lesson 09 (Speech2Face): shapes, gradients, a tiny overfit, bad input, metrics, exercise checks."""

from __future__ import annotations

import pytest
import torch

from mmcourse import checks, retrieval
from mmcourse import speech2face as s2f
from mmcourse.world.datasets import ATTRIBUTES
from mmcourse.world.speakers import sample_people, synthesize_voices

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def wave():
    people = sample_people(2, seed=1)
    return torch.from_numpy(synthesize_voices(people, per_person=1, duration=0.6, seed=1)[:, 0])  # (2, T)


def test_shapes():
    torch.manual_seed(0)
    fe, dec, judge, ve = s2f.FaceEncoder(5, dim=16, width=4), s2f.FaceDecoder(16, hidden=8, width=8), \
        s2f.AttributeJudge(width=4), s2f.VoiceEncoder(dim=16, width=8)
    faces = torch.rand(3, 3, 32, 32)  # (B, 3, S, S)
    v_f = fe(faces)
    assert v_f.shape == (3, 16) and fe.classifier(v_f).shape == (3, 5)
    assert dec(v_f).shape == (3, 3, 32, 32) and dec.first(v_f).shape == (3, 8)
    assert judge(faces).shape == (3, sum(s2f.N_CLASSES)) and judge.predict(faces).shape == (3, len(ATTRIBUTES))
    assert ve(torch.randn(3, s2f.MEL.n_mels, 40)).shape == (3, 16)
    assert ve(torch.randn(3, s2f.MEL.n_mels, 7)).shape == (3, 16)  # any length
    assert s2f.FaceDecoder(16, image_size=64)(v_f).shape == (3, 3, 64, 64)
    assert s2f.FaceDecoder(16, hidden=8, width=8, upsample="bilinear")(v_f).shape == (3, 3, 32, 32)


def test_voice_features(wave):
    spec = s2f.voice_features(wave[0])
    assert spec.shape == (s2f.MEL.n_mels, 1 + wave.shape[1] // s2f.MEL.hop)
    assert s2f.voice_features(wave, seconds=0.25).shape == (2, s2f.MEL.n_mels, 1 + 4000 // s2f.MEL.hop)
    assert torch.allclose(s2f.voice_features(wave[0] * 0.1), spec, atol=1e-3)  # loudness does not matter


def test_bad_input_names_the_argument(wave):
    with pytest.raises(ValueError, match="sample_rate"):
        s2f.voice_features(wave[0], 22050)
    with pytest.raises(ValueError, match="wave is too short"):
        s2f.voice_features(wave[0, :100])
    with pytest.raises(ValueError, match="wave is silent"):
        s2f.voice_features(torch.zeros(8000))
    with pytest.raises(ValueError, match="seconds"):
        s2f.voice_features(wave[0], seconds=-1.0)
    with pytest.raises(ValueError, match="wave is too short"):
        s2f.voice_features(wave[0], seconds=0.01)
    with pytest.raises(ValueError, match="wave must be"):
        s2f.voice_features(torch.zeros(2, 2, 9000))
    with pytest.raises(ValueError, match="upsample"):
        s2f.FaceDecoder(16, upsample="cubic")
    with pytest.raises(ValueError, match="mels"):
        s2f.VoiceEncoder()(torch.randn(2, 10, 30))
    with pytest.raises(ValueError, match="predicted"):
        s2f.agreement(torch.tensor([0.5]), torch.tensor([0]))
    with pytest.raises(ValueError, match="one length"):
        s2f.agreement(torch.tensor([0, 1]), torch.tensor([0]))


def test_loss_gradient_flows_to_the_voice_only():
    torch.manual_seed(0)
    dec, fe = s2f.FaceDecoder(8, hidden=6, width=8), s2f.FaceEncoder(4, dim=8, width=4)
    v_s = torch.randn(5, 8, requires_grad=True)
    v_f = torch.randn(5, 8, requires_grad=True)
    terms = s2f.loss_terms(v_s, v_f, dec.first, fe.classifier, 0.5, 2.0, 2.0)
    assert set(terms) == {"decoder", "norm", "distill", "total"}
    terms["total"].backward()
    assert v_s.grad is not None and v_s.grad.abs().sum() > 0 and v_f.grad is None
    with torch.no_grad():
        zero = s2f.loss_terms(v_f.detach(), v_f.detach(), dec.first, fe.classifier)
    assert float(zero["decoder"]) == 0 and float(zero["norm"]) == 0
    # the distillation at its minimum is the teacher's entropy: -sum p log p
    p = torch.softmax(fe.classifier(v_f.detach()) / 2.0, 1)
    assert torch.isclose(zero["distill"], -(p * p.log()).sum(1).mean(), atol=1e-5)
    assert float(s2f.plain_l1_loss(v_f.detach() + 1, v_f.detach())) == pytest.approx(1.0)


def test_tiny_voice_encoder_overfits():
    torch.manual_seed(0)
    ve = s2f.VoiceEncoder(n_mels=8, dim=4, width=8)
    mels = torch.randn(6, 8, 12)  # (B, M, F)
    target = torch.randn(6, 4)  # (B, D)
    opt = torch.optim.Adam(ve.parameters(), 1e-2)
    for _ in range(200):
        loss = s2f.plain_l1_loss(ve(mels), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.15


def test_train_functions_run_one_epoch():
    torch.manual_seed(0)
    faces = torch.randint(0, 255, (4, 2, 3, 32, 32), dtype=torch.uint8)  # (N, M, 3, S, S)
    attrs = torch.tensor([[0, 1, 2, 3, 1, 0, 2], [1, 0, 0, 1, 0, 3, 0]] * 2)  # (N, A)
    fe = s2f.FaceEncoder(4, dim=8, width=4)
    h = s2f.train_face_encoder(fe, faces, attrs, epochs=1, batch_size=4, device="cpu")
    assert h.n_steps == 2 and "identity" in h.steps
    feats = s2f.face_features(fe, faces)
    assert feats.shape == (4, 2, 8)
    dec = s2f.FaceDecoder(8, hidden=8, width=8)
    assert s2f.train_face_decoder(dec, feats, faces, epochs=1, batch_size=4, device="cpu").n_steps == 2
    h = s2f.train_face_decoder(dec, feats, faces, encoder=fe, epochs=1, batch_size=4, device="cpu")
    assert h.n_steps == 2 and {"pixel", "feature"} <= set(h.steps)
    assert all(p.grad is None or not p.requires_grad for p in fe.parameters())  # the encoder stays frozen
    for blur in (False, True):
        assert s2f.train_judge(s2f.AttributeJudge(width=4), faces, attrs, epochs=1, batch_size=4, blur=blur,
                               device="cpu").n_steps == 2
    ve = s2f.VoiceEncoder(dim=8, width=8)
    mels = torch.randn(4, 2, s2f.MEL.n_mels, 40).half()  # (N, V, M, F)
    for loss in ("paper", "l1"):
        h = s2f.train_voice_encoder(ve, mels, feats.mean(1), dec, fe, loss=loss, epochs=1, batch_size=4,
                                    min_frames=8, device="cpu")
        assert h.n_steps == 2
    assert "distill" in h.steps or loss == "l1"
    with pytest.raises(ValueError, match="loss"):
        s2f.train_voice_encoder(ve, mels, feats.mean(1), dec, fe, loss="l2", epochs=1)


def _first_steps(monkeypatch) -> list:
    """Replace ``train`` in the module: each training function then runs its step once, on its
    first batch, and records what the step returned."""
    seen = []

    def one_step(model, batches, step, **kwargs):
        seen.append(step(model.to(kwargs["device"]), next(iter(batches))))
        return s2f.History()

    monkeypatch.setattr(s2f, "train", one_step)
    return seen


def test_training_steps_log_detached_tensors(monkeypatch):
    seen = _first_steps(monkeypatch)
    torch.manual_seed(0)
    faces = torch.randint(0, 255, (4, 2, 3, 32, 32), dtype=torch.uint8)  # (N, M, 3, S, S)
    attrs = torch.tensor([[0, 1, 2, 3, 1, 0, 2], [1, 0, 0, 1, 0, 3, 0]] * 2)  # (N, A)
    fe = s2f.FaceEncoder(4, dim=8, width=4)
    feats = torch.randn(4, 2, 8)  # (N, M, D)
    dec = s2f.FaceDecoder(8, hidden=8, width=8)
    s2f.train_face_encoder(fe, faces, attrs, epochs=1, batch_size=4, device="cpu")
    s2f.train_face_decoder(dec, feats, faces, epochs=1, batch_size=4, device="cpu")
    s2f.train_face_decoder(dec, feats, faces, encoder=fe, epochs=1, batch_size=4, device="cpu")
    mels = torch.randn(4, 2, s2f.MEL.n_mels, 40).half()  # (N, V, M, F)
    s2f.train_voice_encoder(s2f.VoiceEncoder(dim=8, width=8), mels, feats.mean(1), dec, fe, epochs=1, batch_size=4,
                            min_frames=8, device="cpu")
    names = [set(extra) for _, extra in seen]
    assert names == [{"identity", "attributes"}, {"pixel"}, {"pixel", "feature"}, {"decoder", "norm", "distill"}]
    for loss, extra in seen:  # tensors that train() reads back, not floats (a host sync per step)
        assert loss.dim() == 0
        assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in extra.values())


def test_index_batches_on_a_device_are_the_same_batches():
    plain, on_cpu = s2f._IndexBatches(10, 4, seed=3), s2f._IndexBatches(10, 4, seed=3, device="cpu")
    for _ in range(2):  # two epochs: the same shuffles
        a, b = list(plain), list(on_cpu)
        assert len(a) == len(b) == len(plain) == 3
        assert all(x.device.type == "cpu" and torch.equal(x, y) for x, y in zip(a, b))


def test_random_crops():
    mels = torch.arange(2 * 3 * 10).float().reshape(2, 3, 10)
    out = s2f.random_crops(mels, 4, torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 4)
    assert torch.equal(out[:, :, 1:] - out[:, :, :-1], torch.ones(2, 3, 3))  # consecutive frames


def test_agreement_and_ceiling_by_hand():
    assert s2f.agreement(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0])) == {"agreement": 0.75, "majority": 0.75}
    # hairstyle given sex: women 2 long 1 short, men 3 short 0 long -> (2 + 3) / 6
    style, sex = torch.tensor([1, 1, 0, 0, 0, 0]), torch.tensor([0, 0, 0, 1, 1, 1])
    assert s2f.correlation_ceiling(style, sex) == pytest.approx(5 / 6)


def test_expected_recall_and_oracle():
    sim = torch.tensor([[2.0, 2.0, 0.0], [1.0, 1.0, 1.0], [3.0, 0.0, 1.0]])
    # row 0: tied with 1 other -> P(top1) 1/2; row 1: tied with 2 -> 1/3; row 2: one above -> 0
    assert s2f.expected_recall(sim, 1) == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert s2f.expected_recall(sim, 2) == pytest.approx((1 + 2 / 3 + 1) / 3)
    attrs = torch.tensor([[0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [1, 2, 2, 0, 0, 0, 0]])
    s = s2f.oracle_scores(attrs, attrs)
    assert s[0].tolist() == [7.0, 6.0, 0.0] and s[2, 2] == 7.0
    out = s2f.oracle_bag_metrics(attrs, bag_size=3, n_bags=2, ks=(1,))
    assert out["R@1"] == pytest.approx(1.0)


def test_report_splits_sex_by_age():
    judged = torch.zeros(4, len(ATTRIBUTES), dtype=torch.long)
    ref = torch.zeros(4, len(ATTRIBUTES), dtype=torch.long)
    ref[3, 0] = 1  # a boy judged a girl
    rep = s2f.attribute_report(judged, ref, torch.tensor([1, 2, 1, 0]))
    assert rep["sex (adults, seniors)"]["agreement"] == 1.0 and rep["sex (children)"]["agreement"] == 0.0
    assert rep["sex"]["agreement"] == 0.75


# ------------------------------------------------------------------ exercise checks, three ways


def _not_implemented(*args, **kwargs):
    raise NotImplementedError


def test_loss_check():
    assert checks.run("loss ok", s2f.check_speech2face_loss, s2f.speech2face_loss).status == "passed"

    def no_temperature(v_s, v_f, first, clf, lam_n, lam_d, t):
        return s2f.speech2face_loss(v_s, v_f, first, clf, lam_n, lam_d, 1.0)

    def unnormalised(v_s, v_f, first, clf, lam_n, lam_d, t):
        return ((first(v_f) - first(v_s)).abs().mean() + lam_n * (v_f - v_s).abs().mean()
                + lam_d * s2f.distillation(clf(v_f), clf(v_s), t))

    def swapped(v_s, v_f, first, clf, lam_n, lam_d, t):
        terms = s2f.loss_terms(v_s, v_f, first, clf, lam_n, 0.0, t)
        return terms["decoder"] + terms["norm"] + lam_d * s2f.distillation(clf(v_s), clf(v_f), t)

    with pytest.raises(checks.CheckFailed, match="temperature"):
        s2f.check_speech2face_loss(no_temperature)
    with pytest.raises(checks.CheckFailed, match="not normalised"):
        s2f.check_speech2face_loss(unnormalised)
    with pytest.raises(checks.CheckFailed, match="swapped"):
        s2f.check_speech2face_loss(swapped)
    assert checks.run("loss todo", s2f.check_speech2face_loss, _not_implemented).status == "not implemented"


def test_recall_check():
    def reference(sim, k):
        return retrieval.recall_at_k(retrieval.ranks(sim), k)

    assert checks.run("recall ok", retrieval.check_recall_at_k, reference).status == "passed"
    with pytest.raises(checks.CheckFailed, match="rank <= k"):
        retrieval.check_recall_at_k(lambda sim, k: float((retrieval.ranks(sim) < k).float().mean()))
    assert checks.run("recall todo", retrieval.check_recall_at_k, _not_implemented).status == "not implemented"


def test_agreement_check():
    assert checks.run("agreement ok", s2f.check_agreement, s2f.agreement).status == "passed"

    def majority_from_predictions(p, t):
        return {"agreement": float((p == t).float().mean()), "majority": float(torch.bincount(p).max()) / len(p)}

    with pytest.raises(checks.CheckFailed, match="true labels"):
        s2f.check_agreement(majority_from_predictions)
    with pytest.raises(checks.CheckFailed, match="1 / number of classes"):
        s2f.check_agreement(lambda p, t: {"agreement": float((p == t).float().mean()), "majority": 1 / len(torch.bincount(t))})
    assert checks.run("agreement todo", s2f.check_agreement, _not_implemented).status == "not implemented"


def test_feature_term_reaches_the_decoder_through_the_frozen_encoder():
    torch.manual_seed(0)
    fe, dec = s2f.FaceEncoder(3, dim=8, width=4).eval(), s2f.FaceDecoder(8, hidden=8, width=8)
    for p in fe.parameters():
        p.requires_grad_(False)
    v = torch.randn(4, 8)  # (B, D)
    seen = fe(s2f._augment(dec(v), torch.Generator().manual_seed(0), blur=False))  # (B, D)
    (seen - v).abs().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dec.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in fe.parameters())
