"""Offline rosbag2 processing: the node's pipeline over recorded bags, without ROS.

``process_bag(IN, OUT, BagOptions(...))`` reads keypoints or images plus CameraInfo from a
rosbag2 (MCAP or sqlite3), fits every frame like the live node (detect, track,
warm-started fit) and writes an MCAP bag with the bodies, ``/tf``, markers and tracked
ids stamped like their inputs. The CLI is ``lgd-ros bag`` (:mod:`lgd_ros.bag.cli`); the
video demo is :func:`lgd_ros.bag.demo.run_demo`. See ``docs/bag.md``.

Names are imported on first use, so that ``import lgd_ros.bag.cli`` (argument parsing)
does not pull in torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgd_ros.bag.demo import DemoResult, run_demo
    from lgd_ros.bag.errors import (
        BagError,
        BagInputError,
        BagOutputError,
        BagProcessingError,
        BagTopicError,
        DemoError,
        MessageDecodeError,
        MessageDefinitionError,
        ParamsFileError,
    )
    from lgd_ros.bag.params import (
        FitParameters,
        LoadedParameters,
        load_params_file,
        pipeline_config,
    )
    from lgd_ros.bag.process import BagOptions, BagReport, FrameOutput, process_bag

_EXPORTS = {
    "BagOptions": "process", "BagReport": "process", "FrameOutput": "process", "process_bag": "process",
    "FitParameters": "params", "LoadedParameters": "params", "load_params_file": "params",
    "pipeline_config": "params", "DemoResult": "demo", "run_demo": "demo",
    **{name: "errors" for name in ("BagError", "BagInputError", "BagOutputError", "BagProcessingError",
                                   "BagTopicError", "DemoError", "MessageDecodeError",
                                   "MessageDefinitionError", "ParamsFileError")},
}

__all__ = [
    "BagError",
    "BagInputError",
    "BagOptions",
    "BagOutputError",
    "BagProcessingError",
    "BagReport",
    "BagTopicError",
    "DemoError",
    "DemoResult",
    "FitParameters",
    "FrameOutput",
    "LoadedParameters",
    "MessageDecodeError",
    "MessageDefinitionError",
    "ParamsFileError",
    "load_params_file",
    "pipeline_config",
    "process_bag",
    "run_demo",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lgd_ros.bag' has no attribute {name!r}")
    return getattr(import_module(f"lgd_ros.bag.{_EXPORTS[name]}"), name)
