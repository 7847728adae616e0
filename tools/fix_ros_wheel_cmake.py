#!/usr/bin/env python3
"""Repoint the ROS 2 wheels' exported CMake files at this interpreter.

The ``ros-*`` wheels on PyPI were built in a manylinux container, and the
CMake export files of their Python message targets
(``share/*/cmake/export_*__rosidl_generator_pyExport.cmake``) still name that
container's Python and NumPy include directories
(``/opt/python/cp311-cp311/...``). Building our own messages against them then
fails at CMake's generate step. This rewrites those two paths to the ones of
the running interpreter. It is idempotent and touches nothing else.

Usage: python tools/fix_ros_wheel_cmake.py [PREFIX]   (default: sys.prefix)
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from pathlib import Path

WHEEL_BUILD_PYTHON_INCLUDE = "/opt/python/cp311-cp311/include/python3.11"
WHEEL_BUILD_NUMPY_INCLUDE = "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"


def fix_prefix(prefix: Path) -> list[Path]:
    """Rewrite the export files under ``prefix``; return the files changed."""
    import numpy  # imported here so --help works without numpy

    replacements = {
        WHEEL_BUILD_PYTHON_INCLUDE: sysconfig.get_paths()["include"],
        WHEEL_BUILD_NUMPY_INCLUDE: numpy.get_include(),
    }
    changed = []
    for export_file in sorted((prefix / "share").glob("*/cmake/*Export*.cmake")):
        text = export_file.read_text()
        new_text = text
        for old, new in replacements.items():
            new_text = new_text.replace(old, new)
        if new_text != text:
            export_file.write_text(new_text)
            changed.append(export_file)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", nargs="?", default=sys.prefix, type=Path,
                        help="environment prefix holding share/ (default: this interpreter's)")
    args = parser.parse_args(argv)
    changed = fix_prefix(args.prefix)
    print(f"fix_ros_wheel_cmake: {len(changed)} export file(s) repointed under {args.prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
