"""launch/fit.launch.py: checked statically everywhere, executed where launch_ros exists."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / "launch" / "fit.launch.py"
EXPECTED_ARGUMENTS = {"namespace", "params_file", "keypoints_topic", "camera_info_topic",
                      "bodies_topic", "log_level"}


def _declared_arguments() -> set[str]:
    tree = ast.parse(LAUNCH_FILE.read_text())
    return {call.args[0].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument"}


def test_launch_file_declares_its_arguments() -> None:
    assert _declared_arguments() == EXPECTED_ARGUMENTS


def test_params_file_matches_the_node_parameters() -> None:
    from lgd_ros.tracking.parameters import PARAMETER_DESCRIPTIONS, FitParameters

    params = yaml.safe_load((REPO / "config" / "fit.yaml").read_text())["/**"]["ros__parameters"]
    assert set(params) == set(vars(FitParameters())) == set(PARAMETER_DESCRIPTIONS)
    assert FitParameters(**params) == FitParameters()  # the file documents the defaults


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None,
                    reason="launch_ros is not on PyPI, so it cannot be installed here; the launch "
                           "file is run where a ROS 2 distribution provides it")
def test_launch_description_loads() -> None:
    from launch.actions import DeclareLaunchArgument

    spec = importlib.util.spec_from_file_location("fit_launch", LAUNCH_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    declared = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert declared == EXPECTED_ARGUMENTS
