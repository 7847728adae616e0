"""``lgd-ros export``: write the fitting loop as ONNX, optionally build a TensorRT engine.

Hooked into the ``lgd-ros`` command by :func:`add_export_arguments` / :func:`run_export`;
also runnable as ``python -m lgd_ros.export``. Examples::

    lgd-ros export --fmt coco17 --out lgd_coco17.onnx            # + lgd_coco17.warm.onnx
    lgd-ros export --fmt coco17 --steps 6 --out lgd_coco17_6.onnx
    lgd-ros export --fmt coco17 --out lgd_coco17.onnx --tensorrt-engine lgd_coco17.plan --fp16
    lgd-ros export --from-onnx lgd_coco17.onnx --tensorrt-engine lgd_coco17.plan   # on the robot
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

__all__ = ["add_export_arguments", "build_parser", "main", "run_export"]


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the export options to ``parser`` (the ``export`` subcommand's parser)."""
    from lgd_ros.export.defaults import DEFAULT_OPSET

    parser.add_argument("--fmt", default="coco17",
                        help="keypoint format of the weights (default coco17)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights file (default: the weights shipped for --fmt)")
    parser.add_argument("--body-model", type=Path, default=None,
                        help="SMPL .pkl/.npz the weights were trained with (default: the open "
                             "default body model)")
    parser.add_argument("--out", type=Path, default=None,
                        help="cold-start ONNX file (default lgd_<fmt>.onnx); the warm-start "
                             "graph goes next to it as <stem>.warm.onnx")
    parser.add_argument("--steps", type=int, default=None,
                        help="update steps of the cold-start graph (default: the weights')")
    parser.add_argument("--warm-steps", type=int, default=None,
                        help="update steps of the warm-start graph (default: the weights')")
    parser.add_argument("--no-warm", action="store_true",
                        help="do not write the warm-start graph")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip running the exported file once against the torch fitter")
    parser.add_argument("--from-onnx", type=Path, default=None,
                        help="skip the export and build the TensorRT engine from this file")
    trt = parser.add_argument_group("TensorRT (NVIDIA GPU with the 'tensorrt' package)")
    trt.add_argument("--tensorrt-engine", type=Path, default=None,
                     help="also build a TensorRT engine here (<stem>.warm.plan for the warm "
                          "graph, <engine>.json with its settings)")
    trt.add_argument("--fp16", action="store_true",
                     help="run the networks in FP16 (geometry stays FP32)")
    trt.add_argument("--max-batch", type=int, default=64,
                     help="largest batch of the engine's profile (default 64)")
    trt.add_argument("--opt-batch", type=int, default=1,
                     help="batch the engine is tuned for (default 1)")
    trt.add_argument("--workspace-mb", type=int, default=1024,
                     help="TensorRT workspace in MiB (default 1024)")
    return parser


def _describe_ops(path: Path) -> str:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    counts = Counter(node.op_type for node in model.graph.node)
    return f"{sum(counts.values())} nodes, {len(counts)} operator types"


def run_export(args: argparse.Namespace) -> int:
    """Run ``lgd-ros export``; returns the process exit code (errors go to stderr)."""
    from lgd_ros.export.errors import ExportError
    from lgd_ros.fitting.errors import FittingError

    try:
        return _run(args)
    except (ExportError, FittingError) as error:
        print(f"lgd-ros export: error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from lgd_ros.export.onnx_export import export_fit_graphs, warm_graph_path
    from lgd_ros.export.tensorrt_support import tensorrt_compatibility_problems

    engine_settings = None
    if args.tensorrt_engine is not None:
        from lgd_ros.export.tensorrt import EngineSettings, require_tensorrt

        # Say what is missing before spending time on the export.
        engine_settings = EngineSettings(fp16=args.fp16, opt_batch=args.opt_batch,
                                         max_batch=args.max_batch,
                                         workspace_mb=args.workspace_mb)
        require_tensorrt()
    elif args.fp16:
        print("lgd-ros export: --fp16 only applies with --tensorrt-engine", file=sys.stderr)
        return 2

    if args.from_onnx is not None:
        if args.tensorrt_engine is None:
            print("lgd-ros export: --from-onnx needs --tensorrt-engine", file=sys.stderr)
            return 2
        onnx_path = args.from_onnx
    else:
        from lgd_ros.fitting import Fitter

        fitter = Fitter.load(args.weights, args.body_model, fmt=args.fmt)
        onnx_path = args.out if args.out is not None else Path(f"lgd_{args.fmt}.onnx")
        written = export_fit_graphs(fitter, onnx_path, steps=args.steps,
                                    warm_steps=args.warm_steps, warm=not args.no_warm,
                                    opset=args.opset, verify=not args.no_verify)
        meta = written.cold
        print(f"wrote {written.cold_path} (format {meta.keypoint_format}, {meta.steps} steps, "
              f"cold start, {_describe_ops(written.cold_path)})")
        if written.warm_path is not None and written.warm is not None:
            print(f"wrote {written.warm_path} ({written.warm.steps} steps, warm start)")
        print(f"  body model {meta.body_model_name} ({meta.body_model_fingerprint[:12]}...), "
              f"weights {meta.weights_sha256[:12]}..., opset {meta.opset}, "
              f"lgd_ros {meta.lgd_ros_version}")
        if not args.no_verify:
            print("  verified against the torch fitter with ONNX Runtime")

    paths = [onnx_path] + ([warm_graph_path(onnx_path)]
                           if warm_graph_path(onnx_path).is_file() else [])
    for path in paths:
        problems = tensorrt_compatibility_problems(path)
        if problems:
            print(f"TensorRT 10 compatibility of {path}: {len(problems)} problem(s):")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"TensorRT 10 compatibility of {path}: ok")

    if args.tensorrt_engine is not None and engine_settings is not None:
        from lgd_ros.export.tensorrt import build_engines

        cold_engine, warm_engine = build_engines(onnx_path, args.tensorrt_engine,
                                                 engine_settings)
        print(f"wrote TensorRT engine {cold_engine}"
              + (f" and {warm_engine}" if warm_engine is not None else "")
              + (" (FP16 networks)" if engine_settings.fp16 else " (FP32)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser (``python -m lgd_ros.export``)."""
    parser = argparse.ArgumentParser(
        prog="lgd-ros export",
        description="Export the whole learned fitting loop to ONNX (and a TensorRT engine).")
    return add_export_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lgd_ros.export``."""
    return run_export(build_parser().parse_args(argv))
