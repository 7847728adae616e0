#!/usr/bin/env python3
"""Write requirements/lock.txt from the packages installed in this environment.

`pip freeze` is not reinstallable as-is here: the ROS 2 wheels (`ros-rclpy`,
`ros-std-msgs`, ...) carry egg-info directories of their inner ROS packages
(`rclpy`, `std_msgs`, ...) that pip lists as distributions of their own, but that
no index serves. Only distributions pip itself installed (those with an
INSTALLER file) go into the lock; the ones installed with --no-deps are listed in
requirements/no-deps.txt and the project itself is skipped.

    .venv/bin/python tools/freeze_lock.py            # rewrite requirements/lock.txt
    .venv/bin/python tools/freeze_lock.py --check    # exit 1 if it would change
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
NO_DEPS = REPO / "requirements" / "no-deps.txt"
HEADER = """\
# Every package `make` installs (with --no-deps: this is the complete closure),
# pinned. Regenerate with: .venv/bin/python tools/freeze_lock.py
# torch is the CPU build that pip takes from this machine kind's local wheel.
"""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_requirements() -> list[str]:
    skip = {_normalise(line.split("==")[0]) for line in NO_DEPS.read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    skip.add("lgd-ros")
    pins = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if dist.read_text("INSTALLER") is None or _normalise(name) in skip:
            continue
        version = dist.version.split("+")[0] if _normalise(name) == "torch" else dist.version
        pins[_normalise(name)] = f"{name}=={version}"
    return [pins[key] for key in sorted(pins)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the lock is current")
    args = parser.parse_args(argv)
    text = HEADER + "\n".join(locked_requirements()) + "\n"
    if args.check:
        current = LOCK.read_text() == text
        print("lock.txt is current" if current else "lock.txt differs from the environment")
        return 0 if current else 1
    LOCK.write_text(text)
    print(f"wrote {LOCK} ({text.count(chr(10)) - HEADER.count(chr(10))} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
