"""How fast does each lesson's main model train? Samples per second of its optimizer steps.

    .venv/bin/python tools/benchmark_training.py                      # the cpu preset, every lesson
    .venv/bin/python tools/benchmark_training.py --lessons 00,04 --steps 50
    .venv/bin/python tools/benchmark_training.py --preset both --json throughput.json

For each lesson the main model is built, with its training batches, the way the lesson's
notebook builds it: the module's own classes, the lesson's sizes for the preset in effect,
its step (loss) function, optimizer, learning-rate schedule and gradient clipping, and the
precomputed features it reads from the course cache (the frozen encoder's grids). Building
all that is not timed. Then a few warm-up steps run, and a fixed number of optimizer steps
(forward, backward, optimizer step) are timed the way :func:`mmcourse.training.train` runs
them: bf16 autocast on CUDA, the batches already on the device. A lesson that trains with
a loop of its own (lesson 05's GAN updates its discriminator, then its generator, in float32)
gives its whole step instead, and that is timed as its loop runs it. The result is
``samples/s = steps x batch size / seconds``; on CUDA the device is synchronised before the
clock is read.

The preset is ``MMCOURSE_PRESET`` (``cpu`` when it is not set) or ``--preset``; ``both``
runs the ``cpu`` preset and then the ``gpu`` preset, the latter only on a CUDA device. The
device is :func:`mmcourse.device`. Training runs on ``--threads`` CPU threads (1 by default,
as the lessons train their small models on one thread). The first run on a new machine
builds the cached data the lessons use (as the lessons themselves would); later runs read it.

Adding a lesson: write a builder ``build(P, n_batches) -> Workload`` (the model, a list of
at least ``n_batches`` batches, the step function, the batch size and, if the lesson uses
them, its optimizer and schedule) and add it to :data:`LESSONS` under the lesson's number.
Every lesson has an entry, except lesson 07 (the STFT and spectrograms), which trains no
model. A builder raises :class:`Skipped` (:func:`need` does it for a module that lacks a
function the builder uses), and the lesson is listed as skipped instead of timed.
"""

from __future__ import annotations

import os

os.environ.setdefault("MMCOURSE_PRESET", "cpu")  # like the tests and `make notebooks`, unless the caller chose

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import importlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

import mmcourse  # noqa: E402
from mmcourse.runtime import PRESET_ENV, Preset  # noqa: E402
from mmcourse.training import to_device  # noqa: E402

PRESET_CHOICES = ("cpu", "gpu", "both")
NO_CUDA = "the gpu preset's training throughput needs a CUDA device, and there is none here: skipped."

OptimizerFactory = Callable[[nn.Module, int], "tuple[torch.optim.Optimizer, Any]"]


class Skipped(Exception):
    """A lesson that cannot be benchmarked here; the message says why."""


@dataclasses.dataclass
class Workload:
    """What one lesson trains: built by a registry entry, timed by :func:`measure`.

    ``optimizer(model, total_steps) -> (optimizer, scheduler or None)`` is the lesson's
    own; ``None`` means what :func:`mmcourse.training.train` makes: Adam with ``lr``.

    ``own_update=True`` is for a lesson whose training step is not one loss and one
    optimizer (a GAN updates two networks, each with its own optimizer): ``step`` is then
    the lesson's whole step (forward passes, backward passes, optimizer steps, and autocast
    only if the lesson uses it), and :func:`measure` only calls it; ``optimizer``, ``lr``
    and ``clip_grad`` are not used, and what ``step`` returns is ignored.
    """

    name: str  # the model, in a few words
    model: nn.Module
    batches: list[Any]  # at least the number of steps that will run
    step: Callable[[nn.Module, Any], Any]  # step(model, batch) -> loss or (loss, extras)
    batch_size: int
    optimizer: OptimizerFactory | None = None
    lr: float = 1e-3
    clip_grad: float | None = 5.0  # train()'s default
    own_update: bool = False  # step(model, batch) does the backward passes and optimizer steps itself


def need(module: str, *names: str) -> ModuleType:
    """Import ``module`` and check it has ``names``; raises :class:`Skipped` otherwise."""
    try:
        mod = importlib.import_module(module)
    except ImportError as error:
        raise Skipped(f"{module} cannot be imported ({error})") from None
    missing = [name for name in names if not hasattr(mod, name)]
    if missing:
        raise Skipped(f"{module} has no {', '.join(missing)}")
    return mod


def take(batches: Iterable[Any], n: int) -> list[Any]:
    """The first ``n`` batches, passing over ``batches`` again (a new epoch) when it runs out."""
    out: list[Any] = []
    while len(out) < n:
        before = len(out)
        out.extend(itertools.islice(iter(batches), n - len(out)))
        if len(out) == before:
            raise ValueError("the lesson's batches are empty")
    return out


def _adam_one_cycle(lr: float, pct_start: float, fused: bool = False) -> OptimizerFactory:
    """Adam with a one-cycle schedule over the steps that will run (lessons 04, 06 and 10)."""

    def make(model: nn.Module, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = None
        if fused:
            with contextlib.suppress(RuntimeError, TypeError, ValueError):
                optimizer = torch.optim.Adam(params, lr=lr, fused=True)
        if optimizer is None:
            optimizer = torch.optim.Adam(params, lr=lr)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                        pct_start=pct_start)
        return optimizer, scheduler

    return make


def _adamw_one_cycle(lr: float, weight_decay: float, pct_start: float) -> OptimizerFactory:
    """AdamW with a one-cycle schedule over the steps that will run (lesson 08)."""

    def make(model: nn.Module, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                        pct_start=pct_start)
        return optimizer, scheduler

    return make


# ----------------------------------------------------------------------------------------
# The registry: one builder per lesson, with the lesson's settings for the preset
# ----------------------------------------------------------------------------------------


def lesson_00(P: Preset, n_batches: int) -> Workload:
    """The late-fusion audio-visual classifier of the modality-bias section (the lazy model)."""
    modality = need("mmcourse.modality", "AudioVisualTask", "AudioVisualClassifier", "classifier_loss")
    encoders = need("mmcourse.encoders", "pretrained_grid_encoder")
    sound = need("mmcourse.world.sound", "SAMPLE_RATE")
    # as in notebooks/00_multimodal_world.ipynb
    n_train, n_val, n_test = P.pick(cpu=(1000, 200, 400), gpu=(8000, 1000, 2000))
    batch, lr, hidden = 64, 3e-3, P.pick(cpu=32, gpu=64)
    encoder = encoders.pretrained_grid_encoder(device=mmcourse.device(), progress=False)
    task = modality.AudioVisualTask.build(encoder, {"train": n_train, "val": n_val, "test": n_test},
                                          image_size=P.image_size, sample_rate=sound.SAMPLE_RATE, verbose=False)
    train = task.splits["train"]
    model = modality.AudioVisualClassifier(train["grid"].shape[1], train["audio"].shape[1], task.n_classes,
                                           hidden=hidden)
    return Workload("AudioVisualClassifier (late fusion)", model, take(task.batches("train", batch, seed=0), n_batches),
                    modality.classifier_loss, batch, lr=lr)


def lesson_01(P: Preset, n_batches: int) -> Workload:
    """Skip-gram with negative sampling on sentence-window pairs, SGD with word2vec's linear decay."""
    w2v = need("mmcourse.word2vec", "Word2VecConfig", "build_corpus", "PairBatches", "SkipGram", "make_optimizer")
    config = w2v.Word2VecConfig.for_preset(P)
    corpus = w2v.build_corpus(config.n_scenes, config.corpus_seed, config.max_objects, config.captions_per_scene)
    batches = take(w2v.PairBatches(corpus, "sentence", config, seed=config.seed), n_batches)
    model = w2v.SkipGram(len(corpus.words), config.dim)
    return Workload("SkipGram (negative sampling)", model, batches, lambda m, batch: m(*batch), config.batch_size,
                    optimizer=lambda m, total: w2v.make_optimizer(m, config, total), clip_grad=None)


def lesson_02(P: Preset, n_batches: int) -> Workload:
    """The DeViSE map (max over grid cells) trained with the hinge rank loss on the seen tags."""
    dv = need("mmcourse.devise", "TaggingConfig", "tagging_data", "tag_targets", "seen_mask", "DeViSE",
              "RandomBatches", "hinge_rank_loss", "UNSEEN")
    w2v = need("mmcourse.word2vec", "pretrained_word_vectors")
    encoders = need("mmcourse.encoders", "EncoderConfig")
    config = dv.TaggingConfig.for_preset(P)
    word_vectors = w2v.pretrained_word_vectors(progress=False)
    data = dv.tagging_data(config.n_train, config.train_seed, exclude=dv.UNSEEN,
                           encoder_config=encoders.EncoderConfig.for_preset(P))
    dev = mmcourse.device()
    targets = dv.tag_targets(word_vectors).to(dev)  # (T, D)
    allowed = dv.seen_mask().to(dev)  # (T,)
    model = dv.DeViSE(data.features.shape[-1], word_vectors.dim, pool="max")

    def step(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:  # as in train_tagger
        features, labels = batch
        return dv.hinge_rank_loss(m(features, targets), labels, config.margin, allowed)

    batches = take(dv.RandomBatches(data, n_batches, config.batch_size, config.seed), n_batches)
    return Workload("DeViSE (hinge rank loss)", model, batches, step, config.batch_size, lr=config.lr)


def lesson_03(P: Preset, n_batches: int) -> Workload:
    """im2recipe's joint embedding (the ordered recipe encoder) with the cosine loss on every pairing
    of the batch and the semantic regularization, as in :func:`mmcourse.recipes.train_joint`."""
    rc = need("mmcourse.recipes", "RecipeConfig", "lesson_data", "build_model", "PairBatches", "joint_loss")
    w2v = need("mmcourse.word2vec", "pretrained_word_vectors")
    # as in notebooks/03_joint_embedding_recipes.ipynb: rc.trained_model("ordered", data, config)
    config = rc.RecipeConfig.for_preset(P)
    data = rc.lesson_data(config, w2v.pretrained_word_vectors(progress=False))
    dev = mmcourse.device()
    mmcourse.seed_everything(config.seed)
    model = rc.build_model("ordered", data["table"], config.dim, config.hidden)
    twin_weight = config.twin_weight if getattr(model.recipe, "ordered", True) else 0.0
    per_epoch = config.steps // config.evaluations

    def on_device(batch: tuple) -> tuple:
        # to_device leaves a RecipeBatch where it is (train_joint's step moves it): moved here, so
        # that the whole batch is on the device before the clock starts, as the other lessons' are
        grids, recipes, category, (grid_o, rec_o, grid_t, rec_t) = batch
        return grids, recipes.to(dev), category, (grid_o, rec_o.to(dev), grid_t, rec_t.to(dev))

    def step(m: nn.Module, batch: tuple) -> Any:  # as in train_joint (semantic regularization on)
        grids, recipes, category, (grid_o, rec_o, grid_t, rec_t) = batch
        twins = (grid_o, rec_o.to(dev), grid_t, rec_t.to(dev))
        return rc.joint_loss(m, grids, recipes.to(dev), category, config, twins, True, twin_weight)

    batches = [on_device(b) for b in take(rc.PairBatches(data["train"], per_epoch, config.batch_size, config.seed),
                                          n_batches)]
    return Workload("JointEmbedding (ordered encoder)", model, batches, step, config.batch_size, lr=config.lr)


def lesson_04(P: Preset, n_batches: int) -> Workload:
    """Show, Attend and Tell (Xu et al. 2015) on the frozen encoder's annotation grids, teacher forced."""
    cap = need("mmcourse.captioning", "caption_data", "ShowAttendTell", "CaptionBatches", "caption_loss")
    encoders = need("mmcourse.encoders", "pretrained_grid_encoder")
    vocab_module = need("mmcourse.world.vocab", "course_vocabulary")
    # as in notebooks/04_captioning_show_attend_tell.ipynb
    n_train = P.pick(cpu=4000, gpu=20000)
    width = P.pick(cpu=dict(embed_dim=64, hidden_dim=128, att_dim=32), gpu=dict(embed_dim=256, hidden_dim=512, att_dim=128))
    batch, lr = P.pick(cpu=128, gpu=512), 5e-3
    encoder = encoders.pretrained_grid_encoder(device=mmcourse.device(), progress=False)
    vocab = vocab_module.course_vocabulary()
    data = cap.caption_data("train", n_train, encoder, vocab, size=P.image_size)
    model = cap.ShowAttendTell(len(vocab), feat_dim=data["feats"].shape[2], **width, attention="soft",
                               query="previous").fit_feature_scale(data["feats"])

    def step(m: nn.Module, batch: dict[str, torch.Tensor]) -> Any:  # as in train_captioner (lam = 0)
        logits, alphas = m(batch["feats"], batch["captions"])  # (B, T, V), (B, T, L)
        return cap.caption_loss(logits, batch["captions"], alphas, 0.0)

    batches = take(cap.CaptionBatches(data, batch_size=batch, seed=0), n_batches)
    return Workload("ShowAttendTell (soft attention)", model, batches, step, batch,
                    optimizer=_adam_one_cycle(lr, pct_start=0.15), clip_grad=5.0)


def lesson_05(P: Preset, n_batches: int) -> Workload:
    """The text-to-image GAN, the plain conditional variant, trained as :func:`mmcourse.gan.train_gan` does.

    One timed step is one step of ``train_gan``: the generator makes a batch of images from
    noise and the batch's text, the discriminator takes one Adam step on :func:`~mmcourse.gan.gan_d_loss`,
    then the generator one Adam step on :func:`~mmcourse.gan.gan_g_loss` against the updated
    discriminator (its backward pass reaching only the generator's weights), in float32 on
    every device, without clipping. The samples are the batch's real images.
    """
    gan = need("mmcourse.gan", "GANConfig", "lesson_data", "text_encoder", "TextToImageGAN", "to_unit",
               "gan_d_loss", "gan_g_loss")
    runtime = need("mmcourse.runtime", "seeded")
    # as in notebooks/05_text_to_image_gan.ipynb: gan.fit(data, text, judge, "conditional", seed, CONFIG)
    config = gan.GANConfig.for_preset(P)
    variant, seed = "conditional", config.seeds[0]
    data = gan.lesson_data(config)
    text = gan.text_encoder(data).encode_groups(data["train"]["captions"])  # (N, D)
    dev = mmcourse.device()
    with runtime.seeded(1000 + seed):
        model = gan.TextToImageGAN(config, text.shape[1])
    model.to(dev).train()
    G, D = model.generator, model.discriminator
    opt_g = torch.optim.Adam(G.parameters(), config.lr, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), config.lr, betas=(config.beta1, 0.999))
    real_all = gan.to_unit(data["train"]["images"])  # (N, 3, S, S)
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):  # train_gan's draws: a batch of random training pairs per step
        idx = torch.randint(0, len(real_all), (config.batch_size,), generator=gen)  # (B,)
        batches.append((real_all[idx], text[idx]))  # (B, 3, S, S), (B, D)

    def step(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> Any:  # the body of train_gan's loop
        x, t = batch
        fake = G(torch.randn(len(x), G.noise_dim, device=x.device), t)  # (B, 3, S, S)
        d_loss = gan.gan_d_loss(m, x, t, fake, variant)  # trains D ...
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = gan.gan_g_loss(m, t, fake, variant, config.beta)  # ... then G, against the updated D
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward(inputs=list(G.parameters()))
        opt_g.step()
        return d_loss, g_loss

    return Workload("TextToImageGAN (conditional, G + D)", model, batches, step, config.batch_size,
                    clip_grad=None, own_update=True)


def lesson_06(P: Preset, n_batches: int) -> Workload:
    """The VQA model with point-wise product fusion, on the balanced training questions."""
    vqa = need("mmcourse.vqa", "lesson_data", "QuestionSet", "VQAModel", "batches", "vqa_step", "GLOBAL_DIM")
    world = need("mmcourse.world", "course_vocabulary", "answer_vocabulary")
    # as in notebooks/06_visual_question_answering.ipynb
    n_train, n_test = P.pick(cpu=4000, gpu=16000), P.pick(cpu=1000, gpu=4000)
    sizes = dict(dim=P.pick(cpu=256, gpu=512), embed_dim=P.pick(cpu=32, gpu=64),
                 hidden=P.pick(cpu=64, gpu=128), head_hidden=P.pick(cpu=128, gpu=256))
    batch, lr = P.pick(cpu=128, gpu=1024), P.pick(cpu=5e-3, gpu=3e-3)
    data = vqa.lesson_data(n_train, n_test, skew=0.9, image_size=P.image_size, verbose=False)
    balanced = vqa.QuestionSet(**data["balanced"])
    model = vqa.VQAModel(len(world.course_vocabulary()), vqa.GLOBAL_DIM, len(world.answer_vocabulary()),
                         fusion="product", **sizes)
    epochs = (vqa.batches(balanced, data["train"], batch, True, seed) for seed in itertools.count(1))
    batches = take(itertools.chain.from_iterable(epochs), n_batches)
    return Workload("VQAModel (point-wise product)", model, batches, vqa.vqa_step, batch,
                    optimizer=_adam_one_cycle(lr, pct_start=0.2, fused=True))


# Lesson 07 (the STFT and spectrograms) trains no model: it has no entry.


def lesson_08(P: Preset, n_batches: int) -> Workload:
    """The SoundNet student on raw waveform crops, taught by both frozen image teachers (two KL terms)."""
    sn = need("mmcourse.soundnet", "SoundNetConfig", "lesson_data", "SoundNet", "ClipBatches", "soundnet_step",
              "TEACHERS")
    encoders = need("mmcourse.encoders", "pretrained_grid_encoder")
    # as in notebooks/08_soundnet.ipynb and soundnet.fit (teachers="both", seed 0)
    n_train, n_test = P.pick(cpu=1500, gpu=8000), P.pick(cpu=500, gpu=2000)
    duration, crop, batch, lr = P.pick(cpu=1.0, gpu=2.0), P.pick(cpu=8000, gpu=16000), P.pick(cpu=32, gpu=64), 3e-3
    config = sn.SoundNetConfig.for_preset(P)
    encoder = encoders.pretrained_grid_encoder(device=mmcourse.device(), progress=False)
    train = sn.lesson_data(n_train, n_test, encoder, image_size=P.image_size, duration=duration)["train"]
    torch.manual_seed(0)
    model = sn.SoundNet(config)
    batches = take(sn.ClipBatches(train["clips"], train["teacher"], batch, crop, seed=0), n_batches)
    step = functools.partial(sn.soundnet_step, weights=sn.TEACHERS["both"])
    return Workload("SoundNet (student of both teachers)", model, batches, step, batch,
                    optimizer=_adamw_one_cycle(lr, weight_decay=1e-4, pct_start=0.2))


def lesson_09(P: Preset, n_batches: int) -> Workload:
    """The Speech2Face voice encoder with the paper's three-term loss, against the frozen face
    encoder and face decoder (read from the cache, or trained there first as the lesson does)."""
    s2f = need("mmcourse.speech2face", "people_data", "FaceEncoder", "FaceDecoder", "VoiceEncoder",
               "train_face_encoder", "train_face_decoder", "face_features", "random_crops", "loss_terms",
               "_IndexBatches", "_attribute_loss", "_augment")
    cache = need("mmcourse.cache", "cached_training", "fingerprint")
    # as in notebooks/09_speech2face.ipynb and speech2face.train_voice_encoder (loss="paper", seed 0)
    n_train, face_size, seconds, dim = P.pick(cpu=1000, gpu=4000), P.pick(cpu=32, gpu=64), 2.0, 64
    epochs = dict(face_encoder=P.pick(cpu=12, gpu=30), decoder=P.pick(cpu=12, gpu=40))
    loss = dict(lam_norm=1.0, lam_distill=1.0, temperature=2.0)
    lam_feature, batch, lr, min_frames = 1.0, 64, 2e-3, 32
    dev = mmcourse.device()
    train = s2f.people_data("train", n_train, face_size=face_size, duration=seconds, verbose=False)
    data_key = {"preset": P.name, "n_train": n_train, "size": face_size, "faces": cache.fingerprint(train["faces"])}
    torch.manual_seed(0)
    face_encoder = s2f.FaceEncoder(n_train, dim=dim, image_size=face_size)
    cache.cached_training(
        "speech2face-face-encoder", {**data_key, "epochs": epochs["face_encoder"], "dim": dim}, face_encoder,
        lambda m: s2f.train_face_encoder(m, train["faces"], train["attributes"], epochs=epochs["face_encoder"],
                                         device=dev),
        code=[s2f.train_face_encoder, s2f._attribute_loss, s2f._augment])
    face_encoder.cpu().eval()
    v_f = s2f.face_features(face_encoder, train["faces"])  # (N, M, D)
    torch.manual_seed(1)
    decoder = s2f.FaceDecoder(dim, image_size=face_size, upsample="bilinear")  # the "pixel + feature" decoder
    cache.cached_training(
        "speech2face-face-decoder",
        {**data_key, "epochs": epochs["decoder"], "encoder": cache.fingerprint(face_encoder), "lam_feature": lam_feature},
        decoder, lambda m: s2f.train_face_decoder(m, v_f, train["faces"], encoder=face_encoder, lam_feature=lam_feature,
                                                  epochs=epochs["decoder"], device=dev),
        code=[s2f.train_face_decoder, s2f._augment])
    targets = v_f.mean(1).to(dev)  # (N, D) each training person's face feature, averaged over their faces
    torch.manual_seed(3)
    model = s2f.VoiceEncoder(dim=dim)
    # what train_voice_encoder does before it trains
    mels = train["mels"]  # (N, V, M, F) float16
    n, n_voices = mels.shape[:2]
    flat = mels.reshape(n * n_voices, *mels.shape[2:]).to(dev)  # (N*V, M, F)
    person = torch.arange(n, device=dev).repeat_interleave(n_voices)  # (N*V,)
    for p in list(decoder.parameters()) + list(face_encoder.parameters()):
        p.requires_grad_(False)
    decoder.to(dev).eval()
    face_encoder.to(dev).eval()
    gen = torch.Generator().manual_seed(1)  # seed + 1
    model.set_normalisation(flat[: min(len(flat), 2000)])

    def step(net: nn.Module, idx: torch.Tensor) -> Any:  # train_voice_encoder's step, loss="paper"
        frames = int(torch.randint(min_frames, flat.shape[-1] + 1, (1,), generator=gen))
        v_s = net(s2f.random_crops(flat[idx].float(), frames, gen))  # (b, D)
        terms = s2f.loss_terms(v_s, targets[person[idx]], decoder.first, face_encoder.classifier, **loss)
        return terms["total"], {k: float(v.detach()) for k, v in terms.items() if k != "total"}

    batches = take(s2f._IndexBatches(len(flat), batch, 0), n_batches)
    return Workload("VoiceEncoder (the paper's loss)", model, batches, step, batch, lr=lr)


def lesson_10(P: Preset, n_batches: int) -> Workload:
    """The sound-source localizer of the lesson's best variant: same-scene negatives, plus a few
    labelled maps in every step."""
    loc = need("mmcourse.localization", "lesson_data", "Variant", "SoundLocalizer", "Batches", "step_loss")
    # as in notebooks/10_sound_source_localization.ipynb and localization.train_variant / fit
    n_train, n_test = P.pick(cpu=3000, gpu=12000), P.pick(cpu=500, gpu=2000)
    width, batch, lr, labelled = P.pick(cpu=32, gpu=64), P.pick(cpu=64, gpu=128), 3e-3, 100
    train = loc.lesson_data(n_train, n_test, image_size=P.image_size, verbose=False)["train"]
    variant = loc.Variant("same scene", labelled=labelled)
    torch.manual_seed(0)
    model = loc.SoundLocalizer(grid_dim=int(train["grid"].shape[1]), dim=64, width=width)
    batches = take(loc.Batches(len(train["grid"]), batch, 0), n_batches)  # scene indices; the step gathers them

    def step(m: nn.Module, index: torch.Tensor) -> Any:  # as in fit
        return loc.step_loss(m, train, index, variant)

    # fit's schedule: OneCycleLR with its default warm-up share, 0.3
    return Workload("SoundLocalizer (same scene + labels)", model, batches, step, batch,
                    optimizer=_adam_one_cycle(lr, pct_start=0.3))


LESSONS: dict[str, Callable[[Preset, int], Workload]] = {
    "00": lesson_00,
    "01": lesson_01,
    "02": lesson_02,
    "03": lesson_03,
    "04": lesson_04,
    "05": lesson_05,
    "06": lesson_06,
    "08": lesson_08,
    "09": lesson_09,
    "10": lesson_10,
}
"""Lesson number -> builder of its main model's :class:`Workload`: every lesson but 07, which trains no model."""

NO_MODEL: dict[str, str] = {"07": "lesson 07 (STFT and spectrograms) trains no model"}
"""Lessons without a training benchmark, and why (listed as skipped with this reason)."""


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def device_name(dev: torch.device) -> str:
    """``cpu``, or ``cuda (<card name>)`` on a CUDA device."""
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return dev.type


def measure(work: Workload, steps: int, warmup: int, dev: torch.device) -> dict[str, Any]:
    """Run ``warmup`` untimed and ``steps`` timed optimizer steps of ``work`` on ``dev``.

    Each step is what :func:`mmcourse.training.train` does with a batch already on the
    device: the step function under bf16 autocast on CUDA, backward, gradient clipping,
    the optimizer and scheduler steps. A workload with ``own_update`` does all that in its
    step function, which is called as it is.
    """
    model = work.model.to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    total = warmup + steps
    if work.own_update:
        optimizer, scheduler = None, None
    elif work.optimizer is not None:
        optimizer, scheduler = work.optimizer(model, total)
    else:
        optimizer, scheduler = torch.optim.Adam(params, lr=work.lr), None
    batches = [to_device(batch, dev) for batch in work.batches[:total]]
    if len(batches) < total:
        raise ValueError(f"the builder made {len(batches)} batches, {total} are needed")
    use_amp = dev.type == "cuda"

    def one_step(batch: Any) -> None:
        if work.own_update:
            work.step(model, batch)
            return
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
            result = work.step(model, batch)
        loss = result[0] if isinstance(result, tuple) else result
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if work.clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, work.clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()

    for batch in batches[:warmup]:
        one_step(batch)
    _sync(dev)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches[warmup:]:
        one_step(batch)
    _sync(dev)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"steps": steps, "seconds": wall, "cpu_seconds": cpu, "samples_per_s": steps * work.batch_size / wall}


@contextlib.contextmanager
def preset_in_effect(name: str) -> Iterator[Preset]:
    """Make ``name`` the preset that mmcourse sees (the modules look it up themselves), then restore it."""
    before = os.environ.get(PRESET_ENV)
    os.environ[PRESET_ENV] = name
    try:
        yield mmcourse.preset()
    finally:
        if before is None:
            os.environ.pop(PRESET_ENV, None)
        else:
            os.environ[PRESET_ENV] = before


def run(lessons: Iterable[str], preset_name: str, steps: int, warmup: int) -> list[dict[str, Any]]:
    """One row per lesson: the measurement, or ``skipped`` / ``failed`` with the reason."""
    dev = mmcourse.device()
    rows = []
    with preset_in_effect(preset_name) as P:
        for lesson in lessons:
            row: dict[str, Any] = {"lesson": lesson, "preset": P.name, "device": device_name(dev)}
            builder = LESSONS.get(lesson)
            if builder is None:
                why = NO_MODEL.get(lesson, f"no training benchmark for lesson {lesson} yet")
                rows.append(row | {"skipped": why})
                continue
            try:
                mmcourse.seed_everything(0)
                work = builder(P, warmup + steps)
                row |= {"model": work.name, "batch_size": work.batch_size,
                        "parameters": sum(p.numel() for p in work.model.parameters() if p.requires_grad)}
                row |= measure(work, steps, warmup, dev)
            except Skipped as why:
                row["skipped"] = str(why)
            except Exception as error:  # a broken lesson is reported, the others still run
                row["failed"] = f"{type(error).__name__}: {error}"
            rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The results as a plain-text table."""
    header = (f"{'lesson':<6}  {'model':<36}  {'preset':<6}  {'device':<24}  {'batch':>5}  {'params':>9}  "
              f"{'samples/s':>10}  {'seconds':>7}  {'cpu s':>6}")
    lines = [header, "-" * len(header)]
    for row in rows:
        start = f"{row['lesson']:<6}  "
        if "samples_per_s" not in row:
            status = f"skipped: {row['skipped']}" if "skipped" in row else f"FAILED: {row['failed']}"
            lines.append(start + (f"{row['model']:<36}  " if "model" in row else "") + status)
            continue
        lines.append(start + f"{row['model']:<36}  {row['preset']:<6}  {row['device']:<24}  {row['batch_size']:>5}  "
                     f"{row['parameters']:>9,}  {row['samples_per_s']:>10,.0f}  {row['seconds']:>7.2f}  "
                     f"{row['cpu_seconds']:>6.2f}")
    return "\n".join(lines)


def _lesson_list(text: str) -> list[str]:
    """``"00,04"`` -> ``["00", "04"]``: comma-separated lesson numbers 0..99."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or any(not part.isdigit() or int(part) > 99 for part in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated lesson numbers such as 00,04, got {text!r}")
    return list(dict.fromkeys(f"{int(part):02d}" for part in parts))


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=PRESET_CHOICES, default=None,
                        help=f"the lessons' preset (default: {PRESET_ENV}, else cpu); both = cpu, then gpu on CUDA")
    parser.add_argument("--lessons", type=_lesson_list, default=list(LESSONS),
                        help=f"comma-separated lesson numbers (default: {','.join(LESSONS)})")
    parser.add_argument("--steps", type=_positive, default=50, help="timed optimizer steps per lesson (default 50)")
    parser.add_argument("--warmup", type=_non_negative, default=3, help="untimed steps before (default 3)")
    parser.add_argument("--threads", type=_positive, default=1, help="CPU threads of torch (default 1)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    try:
        in_effect = mmcourse.preset().name if args.preset is None else args.preset
    except ValueError as error:
        parser.error(str(error))
    presets = ["cpu", "gpu"] if in_effect == "both" else [in_effect]

    torch.set_num_threads(args.threads)
    print(f"training throughput of the lessons' main models (torch {torch.__version__}, "
          f"CPU threads = {torch.get_num_threads()}, {args.steps} timed steps after {args.warmup} warm-up)")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in presets:
        if name == "gpu" and not torch.cuda.is_available():
            notes.append(NO_CUDA)
            continue
        rows += run(args.lessons, name, args.steps, args.warmup)
    if rows:
        print(format_rows(rows))
    for note in notes:
        print(note)
    if args.json is not None:
        result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": args.steps,
                  "warmup": args.warmup, "rows": rows, "notes": notes}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if any("failed" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
