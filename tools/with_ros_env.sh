#!/usr/bin/env bash
# Run a command with the messages built by `make msgs` importable, without
# sourcing a ROS setup file: the generated Python modules, their typesupport
# libraries and the ament index entry of the lgd_ros install space.
# ROS traffic isolation (loopback-only Fast DDS, unique domain) is set by the
# test harness, benchmarks and demo themselves (lgd_ros/ros/isolation.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
install="$here/build/ws/install/lgd_ros"
site="$install/lib/python3.11/site-packages"
export PYTHONPATH="$here:$site${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$install/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$install:$here/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
exec "$@"
