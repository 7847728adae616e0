"""``lgd-ros``: one command for the offline tools.

Subcommands import their modules lazily so that ``lgd-ros --help`` is instant
and a missing optional dependency only affects the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from lgd_ros.ros.demo_roundtrip import run

    return run(frames=args.frames)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lgd-ros",
        description="Human body model fitting by learned gradient descent, for ROS 2.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the fitting node over loopback DDS, send it people, "
                                            "print the bodies it returns")
    demo.add_argument("--frames", type=int, default=30, help="keypoint messages to send (default 30)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
