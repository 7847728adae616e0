#!/usr/bin/env python3
"""Keypoint forward+backward of ``KeypointLayer`` against smplx's full SMPL forward+backward.

Both run on the same model (the open default, loaded by smplx through its ``data_struct``
path), float32, CPU, measured in alternating blocks in one run; the table gives medians and
the speed-up over smplx. The smplx loss uses all its joints (24 + the vertex-selected face, feet
and finger-tip points), which is what a keypoint fit through smplx differentiates.

    python -m benchmarks.bench_body                # 1 thread (default), batch 1 and 64
    python benchmarks/bench_body.py --threads 2 --batch-sizes 1 8 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lgd_ros.body import BodyModel
from lgd_ros.body.keypoints import KeypointLayer

GOAL_SPEEDUP_BATCH1 = 20.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--format", default="coco17", help="keypoint format of the main row")
    parser.add_argument("--interleave", choices=("blocks", "calls"), default="blocks",
                        help="alternate methods in ~50 ms blocks (warm caches, as in a "
                             "fitting loop) or call by call (cold caches)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measuring time per batch size (split over the methods)")
    return parser.parse_args(argv)


def smplx_twin(model: BodyModel) -> Any:
    """``smplx.SMPL`` on the same arrays (its data_struct path), float32."""
    import smplx

    arrays = model.to_arrays()
    num_vertices = arrays.num_vertices
    data = SimpleNamespace(
        v_template=arrays.v_template, shapedirs=arrays.shapedirs,
        posedirs=np.zeros((num_vertices, 3, 207)) if arrays.posedirs is None else arrays.posedirs,
        J_regressor=arrays.J_regressor, weights=arrays.weights, f=arrays.faces,
        kintree_table=np.stack([np.asarray(model.parents), np.arange(24)]),
    )
    return smplx.SMPL(model_path="unused", data_struct=data, dtype=torch.float32)


def measure(methods: dict[str, Callable[[], None]], seconds: float,
            interleave: str = "blocks") -> dict[str, float]:
    """Median wall time (s) per call.

    Methods alternate in blocks of consecutive calls (about 50 ms each, the first call of a
    block discarded), so a load change on the machine hits all methods alike while each runs
    with warm caches, as it would inside a fitting loop. ``interleave="calls"`` alternates
    single calls instead (every call starts with caches flushed by the other methods).
    """
    samples: dict[str, list[float]] = {name: [] for name in methods}
    block_calls: dict[str, int] = {}
    for name, method in methods.items():  # warm-up, and calls per ~50 ms block
        for _ in range(3):
            method()
        start = time.perf_counter()
        method()
        block_calls[name] = max(3, int(0.05 / max(time.perf_counter() - start, 1e-6)))
        if interleave == "calls":
            block_calls[name] = 1
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or min(len(s) for s in samples.values()) < 10:
        for name, method in methods.items():
            for call in range(block_calls[name] + 1):
                start = time.perf_counter()
                method()
                if call:
                    samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def batch_methods(
    batch: int, model: BodyModel, reference: Any, fast: KeypointLayer,
    joints_only: KeypointLayer, autograd_layer: KeypointLayer, fmt: str,
) -> dict[str, Callable[[], None]]:
    """The timed calls at one batch size (random pose ~0.3 rad per axis, random betas)."""
    generator = torch.Generator().manual_seed(batch)
    pose = (torch.randn(batch, 72, generator=generator) * 0.3).requires_grad_()
    betas = torch.randn(batch, 10, generator=generator).requires_grad_()
    transl = torch.randn(batch, 3, generator=generator).requires_grad_()

    def run_smplx() -> None:
        output = reference(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas,
                           transl=transl)
        output.joints.sum().backward()

    def run(layer: KeypointLayer) -> Callable[[], None]:
        def call() -> None:
            layer(pose, betas, transl).keypoints.sum().backward()
        return call

    def run_full_mesh() -> None:
        model(pose, betas, transl).vertices.sum().backward()

    return {
        "smplx SMPL full forward+backward (baseline)": run_smplx,
        f"KeypointLayer {fmt}": run(fast),
        "KeypointLayer smpl24 (joints only)": run(joints_only),
        f"KeypointLayer {fmt}, autograd backward": run(autograd_layer),
        "BodyModel full mesh forward+backward": run_full_mesh,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = BodyModel.load()
    reference = smplx_twin(model)
    fast = model.keypoint_layer(args.format)
    joints_only = model.keypoint_layer("smpl24")
    autograd_layer = KeypointLayer(model, args.format, analytic_backward=False)

    print(f"# body model keypoints: forward+backward, {model.name} ({model.num_vertices} "
          f"vertices), float32, CPU, {args.threads} thread(s), methods alternating in "
          f"{args.interleave}, torch {torch.__version__}\n")
    print("| batch | method | median ms | speed-up vs smplx |")
    print("|---:|---|---:|---:|")
    verdict = []
    for batch in args.batch_sizes:
        methods = batch_methods(batch, model, reference, fast, joints_only, autograd_layer,
                                args.format)
        times = measure(methods, args.seconds, args.interleave)
        baseline = times["smplx SMPL full forward+backward (baseline)"]
        for name, seconds in times.items():
            print(f"| {batch} | {name} | {seconds * 1e3:.3f} | {baseline / seconds:.1f}x |")
        if batch == 1:
            speedup = baseline / times[f"KeypointLayer {args.format}"]
            status = "met" if speedup >= GOAL_SPEEDUP_BATCH1 else "NOT met"
            verdict.append(f"goal >= {GOAL_SPEEDUP_BATCH1:.0f}x at batch 1 ({args.format}): "
                           f"{speedup:.1f}x, {status}")
    print()
    for line in verdict:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
