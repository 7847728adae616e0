#!/usr/bin/env bash
# Run a command with the packages built by `make msgs` (lgd_ros and the
# test-only tf2_msgs) importable, without sourcing a ROS setup file: their
# Python modules, typesupport libraries and ament index entries.
# ROS traffic isolation (loopback-only Fast DDS, unique domain) is set by the
# test harness, benchmarks and demo themselves (lgd_ros/ros/isolation.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_path="$here"
library_path=""
prefix_path=""
for install in "$here"/build/ws/install/*/; do
  install="${install%/}"
  [ -d "$install/share" ] || continue
  python_path="$python_path:$install/lib/python3.11/site-packages"
  library_path="$library_path${library_path:+:}$install/lib"
  prefix_path="$prefix_path${prefix_path:+:}$install"
done
export PYTHONPATH="$python_path${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$prefix_path:$here/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
exec "$@"
