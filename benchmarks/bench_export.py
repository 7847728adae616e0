"""Benchmark: the exported fitting loop on ONNX Runtime against the PyTorch fitter.

Both fit the same held-out views (corpus ``val`` poses seen by random pinhole cameras,
:mod:`lgd_ros.fitting.synthetic`) in the same run, with the same number of CPU threads:

* time per fit at batch 1 (median over ``--repeats`` calls, the backends taking turns so
  that both see the same load; what a robot tracking one person pays per frame), cold
  start and warm start (previous fit as ``init``);
* throughput at batch ``--batch`` (fits per second);
* agreement: largest pose difference (rad, per-joint rotation angle) and joint difference
  (mm) between the backends on the whole batch, and whether ``success`` agrees.

The PyTorch fitter is the baseline (ratio 1.00); ``ratio`` > 1 means faster than it. With
``--backend tensorrt`` on a machine with an NVIDIA GPU and the ``tensorrt`` package, the
TensorRT backend is measured too.

Usage::

    python -m benchmarks.bench_export [--fmt coco17] [--threads 1] [--batch 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lgd_ros.data import load_pose_corpus
from lgd_ros.export.backends import GraphFitter, OnnxRuntimeFitter, load_fitter
from lgd_ros.export.compare import compare_results
from lgd_ros.export.errors import BackendUnavailableError
from lgd_ros.export.onnx_export import export_fit_graphs
from lgd_ros.fitting import FitResult, Fitter
from lgd_ros.fitting.synthetic import SamplerConfig, sample_batch


def interleaved_median_ms(calls: dict[str, Callable[[], object]], repeats: int
                          ) -> dict[str, float]:
    """Median wall time in ms of each call, the calls alternating round by round.

    Alternating (rather than timing one backend, then the other) gives both the same share
    of whatever else the machine is doing, so their ratio is fair on a shared CPU.
    """
    for call in calls.values():
        call()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def agreement(ours: FitResult, reference: FitResult) -> tuple[float, float, float]:
    """(max pose difference rad, max joint difference mm, % success agreeing)."""
    diff = compare_results(ours, reference)
    return diff.pose_rad, diff.joints_m * 1000, diff.success_agreement * 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmt", default="coco17")
    parser.add_argument("--weights", default=None, help="LGD weights (default: shipped)")
    parser.add_argument("--onnx", type=Path, default=None,
                        help="exported cold-start graph (default: export into a temp dir)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of both backends (default 1)")
    parser.add_argument("--batch", type=int, default=64, help="throughput batch (default 64)")
    parser.add_argument("--repeats", type=int, default=50, help="batch-1 timings (default 50)")
    parser.add_argument("--batch-repeats", type=int, default=5)
    parser.add_argument("--backend", action="append", default=[], choices=["tensorrt"],
                        help="also measure this backend (needs its package and a GPU)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    fitter = Fitter.load(args.weights, fmt=args.fmt)
    gen = torch.Generator().manual_seed(args.seed)
    views = sample_batch(load_pose_corpus().val_poses(), fitter.layer, args.batch, gen,
                         SamplerConfig(), clean=False)
    kp, conf, k_mat = views.keypoints_px, views.confidence, views.intrinsics

    with tempfile.TemporaryDirectory() as tmp:
        export_seconds = None
        onnx_path = args.onnx
        if onnx_path is None:
            onnx_path = Path(tmp) / f"lgd_{args.fmt}.onnx"
            started = time.perf_counter()
            export_fit_graphs(fitter, onnx_path)
            export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        ort_fitter = OnnxRuntimeFitter.load(onnx_path, fmt=args.fmt,
                                            body_model=fitter.body_model,
                                            threads=args.threads)
        load_seconds = time.perf_counter() - started
        backends: list[tuple[str, Fitter | GraphFitter]] = [("torch", fitter),
                                                             ("onnxruntime", ort_fitter)]
        skipped = []
        for name in args.backend:
            try:
                backends.append((name, load_fitter(name, args.weights, fmt=args.fmt,
                                                   onnx_path=onnx_path)))
            except BackendUnavailableError as error:
                skipped.append(f"{name} not measured: {error}")

        reference_cold = fitter.fit(kp, conf, k_mat)
        reference_warm = fitter.fit(kp, conf, k_mat, init=reference_cold)
        rows = []
        for start in ("cold", "warm"):
            init = reference_cold if start == "warm" else None
            init1 = reference_cold.select(0) if start == "warm" else None
            one = interleaved_median_ms(
                {name: (lambda b=backend, i=init1: b.fit(kp[:1], conf[:1], k_mat[:1], init=i))
                 for name, backend in backends}, args.repeats)
            many = interleaved_median_ms(
                {name: (lambda b=backend, i=init: b.fit(kp, conf, k_mat, init=i))
                 for name, backend in backends}, args.batch_repeats)
            reference = reference_warm if start == "warm" else reference_cold
            for name, backend in backends:
                result = backend.fit(kp, conf, k_mat, init=init)
                rows.append((name, start, result.steps_used, one[name],
                             args.batch / many[name] * 1000,
                             agreement(result.to("cpu"), reference)))
        rows.sort(key=lambda row: [name for name, _ in backends].index(row[0]))

    base = {start: (one, fps) for name, start, _, one, fps, _ in rows if name == "torch"}
    print(f"## Exported fitting loop vs PyTorch ({args.fmt}, {args.threads} CPU thread(s), "
          f"torch {torch.__version__})\n")
    print(f"| backend | start | steps | ms/fit (B=1) | speed-up | fits/s (B={args.batch}) "
          f"| speed-up | max pose diff (rad) | max joint diff (mm) | same success |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, start, steps, one, fps, (pose, joints, same) in rows:
        base_one, base_fps = base[start]
        print(f"| {name} | {start} | {steps} | {one:.2f} | {base_one / one:.2f}x | {fps:.0f} "
              f"| {fps / base_fps:.2f}x | {pose:.1e} | {joints:.4f} | {same:.0f}% |")
    print()
    if export_seconds is not None:
        print(f"Export of both graphs (cold + warm): {export_seconds:.1f} s; ", end="")
    print(f"ONNX Runtime session load: {load_seconds:.2f} s. Speed-up = PyTorch time / backend "
          f"time in this run (> 1: faster than PyTorch).")
    for line in skipped:
        print(f"\n{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
