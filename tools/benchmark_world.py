"""How fast is the course world? Times each generator on one CPU core against its target.

    .venv/bin/python tools/benchmark_world.py            # the full sizes (about a minute)
    .venv/bin/python tools/benchmark_world.py --scale 0.1 --strict

Measured (each against a 10 s target on one core):

- scenes + render: 10,000 scenes sampled and rendered at 64x64;
- captions + questions: 5 captions and 3 questions for each of 10,000 scenes;
- scene clips: 1,000 one-second sound clips of scenes;
- voices: 1,000 synthesized voice utterances.

The world's parts that are not there yet are skipped. The verdict uses wall-clock time;
the CPU time of the process is printed too, since wall-clock timings on a machine busy
with other work are inflated. ``--strict`` makes the exit status 1 when a target is missed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, also for numpy's BLAS (before numpy loads)

import argparse  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402

TARGET_S = 10.0


def _has(module: str, *names: str) -> bool:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return all(hasattr(mod, name) for name in names)


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) that ``fn()`` took."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(scale: float = 1.0) -> list[tuple[str, tuple[float, float] | None, float]]:
    """Time every available generator; returns (what, (wall, cpu) seconds or None if skipped, target)."""
    from mmcourse.world.scenes import render, sample_scenes

    n_scenes = max(1, round(10_000 * scale))
    n_clips = max(1, round(1_000 * scale))
    n_voices = max(1, round(1_000 * scale))
    results: list[tuple[str, tuple[float, float] | None, float]] = []

    scenes = None

    def scenes_and_render() -> None:
        nonlocal scenes
        scenes = sample_scenes(n_scenes, seed=0)
        render(scenes, size=64)

    results.append((f"{n_scenes:,} scenes sampled + rendered at 64x64", _time(scenes_and_render), TARGET_S))

    name = f"captions + questions for {n_scenes:,} scenes"
    if _has("mmcourse.world.language", "captions", "questions"):
        from mmcourse.world.language import captions, questions

        results.append((name, _time(lambda: (captions(scenes, seed=0), questions(scenes, seed=0))), TARGET_S))
    else:
        results.append((name, None, TARGET_S))

    name = f"{n_clips:,} one-second scene clips"
    if _has("mmcourse.world.sound", "scene_clips"):
        from mmcourse.world.sound import scene_clips

        results.append((name, _time(lambda: scene_clips(scenes[:n_clips], duration=1.0, seed=0)), TARGET_S))
    else:
        results.append((name, None, TARGET_S))

    name = f"{n_voices:,} voice utterances"
    if _has("mmcourse.world.speakers", "sample_people", "synthesize_voices"):
        from mmcourse.world.speakers import sample_people, synthesize_voices

        people = sample_people(n_voices, seed=0)
        results.append((name, _time(lambda: synthesize_voices(people, per_person=1, seed=0)), TARGET_S))
    else:
        results.append((name, None, TARGET_S))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes (targets scale too)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a target is missed")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1], got {args.scale}")
    torch.set_num_threads(1)
    missed = False
    print(f"course world benchmark (one core, torch threads = {torch.get_num_threads()})")
    for what, timing, target in run(args.scale):
        target = target * args.scale
        if timing is None:
            print(f"  {what:<48s}   skipped (not available yet)")
            continue
        wall, cpu = timing
        verdict = "ok" if wall <= target else "SLOW"
        missed |= wall > target
        print(f"  {what:<48s} {wall:6.2f} s  (cpu {cpu:5.2f} s, target {target:.1f} s)  {verdict}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
