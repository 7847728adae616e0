"""``lgd-ros``: one command for the offline tools.

    lgd-ros demo                 the main demo: real video -> bag -> fitted bodies, overlay video
    lgd-ros bag IN OUT           fit the people in a rosbag2 (MCAP/sqlite3), write an MCAP bag
    lgd-ros train --fmt coco17   train the learned fitter (open corpus, --amass DIR, --body-model)
    lgd-ros export ...           the whole fit as one ONNX graph / a TensorRT engine
    lgd-ros detect ...           2D keypoints and overlays for an image or the sample media
    lgd-ros live-demo            start the fitting node over loopback DDS and talk to it

Subcommands import their modules lazily, so ``lgd-ros --help`` is instant and a missing
optional dependency only affects the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

# Subcommands that own their whole argument parsing: name -> (help, "module:function").
_PASSTHROUGH: dict[str, tuple[str, str]] = {
    "train": ("train the learned fitter (see `lgd-ros train --help`)", "lgd_ros.fitting.train:main"),
    "detect": ("2D keypoints and overlays for an image (see `lgd-ros detect --help`)",
               "lgd_ros.detect.__main__:main"),
}


def _load(target: str) -> Callable[..., int]:
    module_name, function = target.split(":")
    module = __import__(module_name, fromlist=[function])
    return getattr(module, function)


def _live_demo(args: argparse.Namespace) -> int:
    from lgd_ros.ros.demo_roundtrip import run

    return run(frames=args.frames)


def build_parser() -> argparse.ArgumentParser:
    from lgd_ros.bag.cli import add_bag_arguments, add_demo_arguments, run_bag, run_demo_cli
    from lgd_ros.export.cli import add_export_arguments, run_export

    parser = argparse.ArgumentParser(
        prog="lgd-ros", description="Human body model fitting by learned gradient descent, for ROS 2.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="the main demo on a real video (writes output/demo/)")
    add_demo_arguments(demo)
    demo.set_defaults(handler=run_demo_cli)
    bag = commands.add_parser("bag", help="fit the people in a rosbag2, write an MCAP bag")
    add_bag_arguments(bag)
    bag.set_defaults(handler=run_bag)
    export = commands.add_parser("export", help="export the whole fit to ONNX / TensorRT")
    add_export_arguments(export)
    export.set_defaults(handler=run_export)
    for name, (help_text, _) in _PASSTHROUGH.items():
        commands.add_parser(name, help=help_text, add_help=False)
    live = commands.add_parser("live-demo", help="start the fitting node over loopback DDS, send it "
                                                 "people, print the bodies it returns")
    live.add_argument("--frames", type=int, default=30, help="keypoint messages to send (default 30)")
    live.set_defaults(handler=_live_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _PASSTHROUGH:
        return int(_load(_PASSTHROUGH[argv[0]][1])(argv[1:]))
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
