"""``lgd-ros bag`` and ``lgd-ros demo``: argument parsing and exit codes.

``lgd_ros/cli.py`` adds these as subcommands (``add_bag_arguments`` + ``run_bag``,
``add_demo_arguments`` + ``run_demo_cli``); ``python -m lgd_ros.bag.cli bag IN OUT`` runs
them without it.

Exit codes: 0 done (per-message decode failures are reported, not fatal); 1 a fatal
problem, printed as one line ``lgd-ros bag: error: ...``; 130 interrupted (Ctrl-C). In
every case the output written so far is a valid bag.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lgd_ros.bag.errors import BagError
from lgd_ros.export.defaults import BACKENDS

__all__ = ["add_bag_arguments", "add_demo_arguments", "main", "run_bag", "run_demo_cli"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _one_line(error: BaseException) -> str:
    """Errors are printed on one line (some library messages span several)."""
    return " ".join(str(error).split())


def add_bag_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lgd-ros bag IN OUT``."""
    parser.add_argument("input", metavar="IN", type=Path,
                        help="input rosbag2 (directory, .mcap or .db3) with keypoints or images "
                             "and CameraInfo")
    parser.add_argument("output", metavar="OUT", type=Path,
                        help="output rosbag2 directory to create (MCAP storage); a name ending "
                             "in .mcap gives a single MCAP file")
    topics = parser.add_argument_group("input topics (default: found by message type)")
    topics.add_argument("--keypoints-topic", metavar="TOPIC",
                        help="lgd_ros/msg/PersonKeypointsArray topic")
    topics.add_argument("--image-topic", metavar="TOPIC",
                        help="sensor_msgs/msg/Image topic, run through the BlazePose detector")
    topics.add_argument("--camera-info-topic", metavar="TOPIC",
                        help="sensor_msgs/msg/CameraInfo topic of that camera")
    fitting = parser.add_argument_group("fitting (the node's parameters)")
    fitting.add_argument("--params-file", metavar="YAML", type=Path,
                         help="the node's parameters file, e.g. config/fit.yaml (its '/**' and "
                              "node-name ros__parameters blocks)")
    fitting.add_argument("--node-name", default=None, metavar="NAME",
                         help="node name whose block of the parameters file applies "
                              "(default: lgd_fit_node)")
    fitting.add_argument("--weights", metavar="FILE", help="fitter weights (overrides the file)")
    fitting.add_argument("--backend", choices=BACKENDS,
                         help="fitting backend (overrides the file's backend, default torch)")
    fitting.add_argument("--device", metavar="DEVICE",
                         help="torch device: auto, cpu, cuda, ... (overrides the file)")
    fitting.add_argument("--threads", type=int, metavar="N",
                         help="torch threads (overrides the file's torch_threads, default 1; 0 = "
                              "torch's default)")
    fitting.add_argument("--lanes", type=int, metavar="N",
                         help="fit N stretches of a keypoint bag side by side, batching their fits "
                              "(default: from the bag's length; 1 = frame by frame like the node)")
    output = parser.add_argument_group("output")
    output.add_argument("--no-inputs", action="store_true",
                        help="do not copy the input messages into OUT (results only)")
    output.add_argument("--overwrite", action="store_true",
                        help="replace OUT if it is an existing bag")
    output.add_argument("--compress", action="store_true",
                        help="zstd-compress the output's MCAP chunks")
    parser.add_argument("--salvage", action="store_true",
                        help="read a truncated MCAP recording up to the damage")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run_bag(args: argparse.Namespace) -> int:
    """Run ``lgd-ros bag`` with parsed arguments; returns the exit code."""
    from lgd_ros.bag.params import (
        NODE_NAME,
        LoadedParameters,
        load_params_file,
        replace_parameters,
    )
    from lgd_ros.bag.process import BagOptions, process_bag

    try:
        parameters = (load_params_file(args.params_file, args.node_name or NODE_NAME)
                      if args.params_file else LoadedParameters())
        overrides = {k: v for k, v in (("weights", args.weights), ("backend", args.backend),
                                       ("device", args.device),
                                       ("torch_threads", args.threads)) if v is not None}
        if overrides:
            parameters = LoadedParameters(fit=replace_parameters(parameters.fit, **overrides),
                                          detector=parameters.detector,
                                          warnings=parameters.warnings, source=parameters.source)
        options = BagOptions(
            keypoints_topic=args.keypoints_topic, image_topic=args.image_topic,
            camera_info_topic=args.camera_info_topic, parameters=parameters,
            include_inputs=not args.no_inputs, overwrite=args.overwrite,
            progress=not args.no_progress, compress=args.compress, salvage=args.salvage,
            lanes=args.lanes)
        report = process_bag(args.input, args.output, options)
    except BagError as error:
        print(f"lgd-ros bag: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"lgd-ros bag: interrupted; what was written is a valid bag at {args.output}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n".join(report.summary_lines()))
    return EXIT_OK


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lgd-ros demo`` (the video demo, see :mod:`lgd_ros.bag.demo`)."""
    from lgd_ros.bag.demo import (
        DEFAULT_HORIZONTAL_FOV_DEG,
        DEFAULT_OUT_DIR,
        DEFAULT_WIDTH,
    )

    parser.add_argument("--out-dir", type=Path, default=Path(DEFAULT_OUT_DIR),
                        help=f"where the bags, video and contact sheet go (default {DEFAULT_OUT_DIR})")
    parser.add_argument("--width", type=int, default=DEFAULT_WIDTH,
                        help=f"image width in the input bag, px (default {DEFAULT_WIDTH})")
    parser.add_argument("--fov", type=float, default=DEFAULT_HORIZONTAL_FOV_DEG, metavar="DEG",
                        help="assumed horizontal field of view of the video's camera "
                             f"(default {DEFAULT_HORIZONTAL_FOV_DEG})")
    parser.add_argument("--frames", type=int, default=None,
                        help="use only the first N frames of the video (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_demo_cli(args: argparse.Namespace) -> int:
    """Run ``lgd-ros demo`` with parsed arguments; returns the exit code."""
    from lgd_ros.bag.demo import run_demo

    try:
        result = run_demo(args.out_dir, width=args.width, horizontal_fov_deg=args.fov,
                          max_frames=args.frames, progress=not args.no_progress)
    except BagError as error:
        print(f"lgd-ros demo: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lgd-ros demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n".join(result.summary_lines()))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m lgd_ros.bag.cli {bag,demo} ...`` (the same as ``lgd-ros bag/demo``)."""
    parser = argparse.ArgumentParser(prog="python -m lgd_ros.bag.cli",
                                     description="Offline rosbag processing of lgd_ros.")
    commands = parser.add_subparsers(dest="command", required=True)
    bag = commands.add_parser("bag", help="fit the people of a rosbag2, write an MCAP bag")
    add_bag_arguments(bag)
    bag.set_defaults(handler=run_bag)
    demo = commands.add_parser("demo", help="the video demo: bag from a real video, fit, overlay")
    add_demo_arguments(demo)
    demo.set_defaults(handler=run_demo_cli)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
