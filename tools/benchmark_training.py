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
them: bf16 autocast on CUDA, the batches already on the device. The result is
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
Lessons 03, 05, 08, 09 and 10 get one entry each when they arrive. A builder raises
:class:`Skipped` (:func:`need` does it for a module that lacks a function the builder uses),
and the lesson is listed as skipped instead of timed.
"""

from __future__ import annotations

import os

os.environ.setdefault("MMCOURSE_PRESET", "cpu")  # like the tests and `make notebooks`, unless the caller chose

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
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
    """

    name: str  # the model, in a few words
    model: nn.Module
    batches: list[Any]  # at least the number of steps that will run
    step: Callable[[nn.Module, Any], Any]  # step(model, batch) -> loss or (loss, extras)
    batch_size: int
    optimizer: OptimizerFactory | None = None
    lr: float = 1e-3
    clip_grad: float | None = 5.0  # train()'s default


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
    """Adam with a one-cycle schedule over the steps that will run (lessons 04 and 06)."""

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


def lesson_04(P: Preset, n_batches: int) -> Workload:
    """Show, Attend and Tell (Xu et al. 2015) on the frozen encoder's annotation grids, teacher forced."""
    cap = need("mmcourse.captioning", "caption_data", "ShowAttendTell", "CaptionBatches", "caption_loss")
    encoders = need("mmcourse.encoders", "pretrained_grid_encoder")
    vocab_module = need("mmcourse.world.vocab", "course_vocabulary")
    # as in notebooks/04_captioning_show_attend_tell.ipynb
    n_train = P.pick(cpu=4000, gpu=30000)
    width = P.pick(cpu=dict(embed_dim=64, hidden_dim=128, att_dim=32), gpu=dict(embed_dim=256, hidden_dim=512, att_dim=128))
    batch, lr = 128, 5e-3
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


def lesson_06(P: Preset, n_batches: int) -> Workload:
    """The VQA model with point-wise product fusion, on the balanced training questions."""
    vqa = need("mmcourse.vqa", "lesson_data", "QuestionSet", "VQAModel", "batches", "vqa_step", "GLOBAL_DIM")
    world = need("mmcourse.world", "course_vocabulary", "answer_vocabulary")
    # as in notebooks/06_visual_question_answering.ipynb
    n_train, n_test = P.pick(cpu=4000, gpu=16000), P.pick(cpu=1000, gpu=4000)
    sizes = dict(dim=P.pick(cpu=256, gpu=512), embed_dim=P.pick(cpu=32, gpu=64),
                 hidden=P.pick(cpu=64, gpu=128), head_hidden=P.pick(cpu=128, gpu=256))
    batch, lr = P.pick(cpu=128, gpu=256), P.pick(cpu=5e-3, gpu=2e-3)
    data = vqa.lesson_data(n_train, n_test, skew=0.9, image_size=P.image_size, verbose=False)
    balanced = vqa.QuestionSet(**data["balanced"])
    model = vqa.VQAModel(len(world.course_vocabulary()), vqa.GLOBAL_DIM, len(world.answer_vocabulary()),
                         fusion="product", **sizes)
    epochs = (vqa.batches(balanced, data["train"], batch, True, seed) for seed in itertools.count(1))
    batches = take(itertools.chain.from_iterable(epochs), n_batches)
    return Workload("VQAModel (point-wise product)", model, batches, vqa.vqa_step, batch,
                    optimizer=_adam_one_cycle(lr, pct_start=0.2, fused=True))


LESSONS: dict[str, Callable[[Preset, int], Workload]] = {
    "00": lesson_00,
    "01": lesson_01,
    "02": lesson_02,
    "04": lesson_04,
    "06": lesson_06,
}
"""Lesson number -> builder of its main model's :class:`Workload`; later lessons add an entry each."""


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
    the optimizer and scheduler steps.
    """
    model = work.model.to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    total = warmup + steps
    if work.optimizer is not None:
        optimizer, scheduler = work.optimizer(model, total)
    else:
        optimizer, scheduler = torch.optim.Adam(params, lr=work.lr), None
    batches = [to_device(batch, dev) for batch in work.batches[:total]]
    if len(batches) < total:
        raise ValueError(f"the builder made {len(batches)} batches, {total} are needed")
    use_amp = dev.type == "cuda"

    def one_step(batch: Any) -> None:
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
                rows.append(row | {"skipped": f"no training benchmark for lesson {lesson} yet"})
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
