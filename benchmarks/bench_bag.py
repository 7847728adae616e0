"""Offline bag throughput: ``lgd-ros bag`` on keypoint bags, against real time.

Writes synthetic keypoint bags (people replaying held-out MoCap clips, 30 fps, 1 px
noise; :mod:`lgd_ros.bag.synthetic`) and runs the bag tool on them with the shipped
weights and the node's default parameters (TF, skeleton markers every frame, meshes at
10 Hz, tracked ids, inputs copied). Reports frames per second and the multiple of real
time (frames/s divided by the 30 fps the bag was recorded at), for the frame-by-frame
order of the live node (``--lanes 1``, the baseline measured in the same run) and for the
default batched lanes (:mod:`lgd_ros.bag.batching`).

Goal: at least 20x real time for one person at 30 fps on this CPU.

Run: ``python -m benchmarks.bench_bag`` or ``python benchmarks/bench_bag.py``
(``--seconds 60 --threads 2``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lgd_ros.bag.process import BagReport

FPS = 30.0
GOAL_REALTIME = 20.0


def measure(bag: Path, out: Path, lanes: int | None, weights: str | None, threads: int) -> tuple[float, BagReport]:
    """Wall seconds of one run (everything: loading, reading, fitting, writing) and its report."""
    from lgd_ros.bag.params import FitParameters, LoadedParameters
    from lgd_ros.bag.process import BagOptions, process_bag

    options = BagOptions(parameters=LoadedParameters(fit=FitParameters(weights=weights or "", device="cpu",
                                                                       torch_threads=threads)),
                         progress=False, lanes=lanes, overwrite=True)
    started = time.perf_counter()
    report = process_bag(bag, out, options)
    return time.perf_counter() - started, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="bag length in seconds at 30 fps (default 60)")
    parser.add_argument("--people", type=int, nargs="+", default=[1, 3], help="people per bag (default 1 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as lgd-ros bag)")
    parser.add_argument("--weights", default=None, help="coco17 weights (default: the shipped ones)")
    args = parser.parse_args(argv)

    import torch

    from lgd_ros.bag.synthetic import SyntheticBagSpec, write_synthetic_keypoint_bag
    from lgd_ros.fitting.weights import default_weights_path

    torch.set_num_threads(args.threads)
    weights = args.weights or str(default_weights_path("coco17"))
    if not Path(weights).is_file():
        print(f"bench_bag: no weights at {weights}: train them (python -m lgd_ros.fitting.train "
              f"--fmt coco17) or pass --weights", file=sys.stderr)
        return 2
    frames = round(args.seconds * FPS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lgd_bench_bag_") as tmp:
        for people in args.people:
            bag = Path(tmp) / f"in_{people}"
            # Slow walkers (3 m in 60 s) stay in view for the whole bag.
            write_synthetic_keypoint_bag(bag, SyntheticBagSpec(frames=frames, people=people, fps=FPS, noise_px=1.0,
                                                               walk_speed=3.0 / args.seconds))
            measure(bag, Path(tmp) / "warm_up", 1, weights, args.threads)  # first-run costs (imports, caches)
            baseline_s, baseline = measure(bag, Path(tmp) / "out_seq", 1, weights, args.threads)
            batched_s, batched = measure(bag, Path(tmp) / "out_lanes", None, weights, args.threads)
            rows.append((people, baseline_s, baseline, batched_s, batched))

    realtime = frames / FPS
    print(f"\n### lgd-ros bag throughput: {frames}-frame keypoint bags ({realtime:.0f} s at {FPS:.0f} fps), "
          f"torch threads {args.threads}, this CPU\n")
    print("| people | mode | wall s | frames/s | x real time | x frame by frame | fits ok | "
          "mean error px |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for people, baseline_s, baseline, batched_s, batched in rows:
        for mode, seconds, report in (("frame by frame (node order, `--lanes 1`)", baseline_s, baseline),
                                      (f"batched ({batched.notes_batching.split(' (')[0] or '1 lane'})", batched_s, batched)):
            ok = 1 - report.failed_fits / max(1, report.bodies)
            print(f"| {people} | {mode} | {seconds:.2f} | {frames / seconds:.0f} | "
                  f"{realtime / seconds:.1f}x | {baseline_s / seconds:.2f}x | {100 * ok:.1f}% | "
                  f"{report.mean_reprojection_error_px:.2f} |")
    one = [r for r in rows if r[0] == 1]
    if one:
        best = realtime / min(one[0][1], one[0][3])
        verdict = "met" if best >= GOAL_REALTIME else "NOT met"
        print(f"\nGoal: at least {GOAL_REALTIME:.0f}x real time for one person at {FPS:.0f} fps: "
              f"{verdict} ({best:.1f}x). Wall time includes loading the model and weights, reading "
              "the input, copying it and writing every output.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
