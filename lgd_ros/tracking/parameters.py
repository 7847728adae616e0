"""The fitting node's parameters: one typed set shared by the node and the bag tool.

``ros2 run lgd_ros fit_node --ros-args --params-file config/fit.yaml`` and
``lgd-ros bag IN OUT --params-file config/fit.yaml`` read the same names into this
dataclass and map it onto :class:`~lgd_ros.tracking.pipeline.PipelineConfig` with
:func:`pipeline_config`, so live and offline runs cannot drift apart. Each parameter is
documented in ``PARAMETER_DESCRIPTIONS`` (the node declares them with these texts) and
in ``config/fit.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lgd_ros.export.defaults import BACKENDS
from lgd_ros.tracking.errors import ParameterError
from lgd_ros.tracking.pipeline import PipelineConfig
from lgd_ros.tracking.tracker import TrackerConfig

__all__ = ["NODE_ONLY_PARAMETERS", "PARAMETER_DESCRIPTIONS", "FitParameters", "check_parameter_type",
           "pipeline_config"]

NODE_ONLY_PARAMETERS = frozenset({"diagnostics_period_s", "output_qos_depth"})
"""Parameters that only mean something to a live node (the bag tool accepts and ignores them)."""


@dataclass(frozen=True)
class FitParameters:
    """The fitting node's parameters, with their defaults (see PARAMETER_DESCRIPTIONS)."""

    keypoints_topic: str = "keypoints"
    image_topic: str = ""
    camera_info_topic: str = "camera_info"
    bodies_topic: str = "bodies"
    markers_topic: str = "body_markers"
    tracked_topic: str = "humans/bodies/tracked"
    weights: str = ""
    backend: str = "torch"
    body_model_path: str = ""
    device: str = "auto"
    fit_steps: int = 0
    warm_fit_steps: int = 0
    max_people: int = 10
    torch_threads: int = 1
    track_max_age_s: float = 1.0
    track_match_threshold: float = 0.6
    warm_start_max_gap_s: float = 0.5
    publish_tf: bool = True
    publish_markers: bool = True
    mesh_rate_hz: float = 10.0
    mesh_decimation_m: float = 0.05
    marker_lifetime_s: float = 0.5
    diagnostics_period_s: float = 1.0
    output_qos_depth: int = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            check_parameter_type(f.name, getattr(self, f.name), type(f.default))
        for name in ("fit_steps", "warm_fit_steps", "torch_threads"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0 (0 = the default), got {getattr(self, name)}")
        for name in ("max_people", "output_qos_depth"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("track_max_age_s", "track_match_threshold", "warm_start_max_gap_s",
                     "mesh_rate_hz", "mesh_decimation_m", "marker_lifetime_s"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.backend not in BACKENDS:
            raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.diagnostics_period_s <= 0:
            raise ParameterError(f"diagnostics_period_s must be > 0, got {self.diagnostics_period_s}")


PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "keypoints_topic": "Input lgd_ros/PersonKeypointsArray topic; empty = no keypoint input.",
    "image_topic": "Input sensor_msgs/Image topic, run through the BlazePose detector; empty = off.",
    "camera_info_topic": "sensor_msgs/CameraInfo of the camera the keypoints/images come from.",
    "bodies_topic": "Output lgd_ros/FittedBodyArray topic.",
    "markers_topic": "Output visualization_msgs/MarkerArray topic (mesh, skeleton).",
    "tracked_topic": "Output hri_msgs/IdsList of tracked body ids (REP-155), if hri_msgs is installed.",
    "weights": "Learned fitter weights file; empty = the weights shipped for each keypoint format.",
    "backend": "Fitting backend: torch, onnxruntime (exported graph, cached) or tensorrt (CUDA GPU).",
    "body_model_path": "SMPL .pkl/.npz file; empty = the open default body model in the package.",
    "device": "torch device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ...",
    "fit_steps": "Learned update steps of a cold fit; 0 = the number the weights were trained for.",
    "warm_fit_steps": "Learned update steps of a warm-started fit; 0 = the weights' default.",
    "max_people": "People fitted per frame, highest detection score first.",
    "torch_threads": "CPU threads for torch (1 is fastest for per-frame fits); 0 = torch's default.",
    "track_max_age_s": "Seconds a track survives unseen (short occlusions) before it ends.",
    "track_match_threshold": "Association gate: mean keypoint distance in units of the person's size.",
    "warm_start_max_gap_s": "A track's last fit seeds the next if it is at most this old (s).",
    "publish_tf": "Publish TF frames body_<id> and <joint>_<id> on /tf.",
    "publish_markers": "Publish mesh and skeleton markers.",
    "mesh_rate_hz": "Highest mesh marker rate per body, at most one mesh per frame (skeletons go out every frame); 0 = no mesh.",
    "mesh_decimation_m": "Grid cell (m) of the mesh decimation for RViz; 0 = full mesh.",
    "marker_lifetime_s": "Marker lifetime (s); markers of ended tracks are also deleted explicitly.",
    "diagnostics_period_s": "Period of /diagnostics messages (s).",
    "output_qos_depth": "History depth of the output publishers (reliable).",
}


def check_parameter_type(name: str, value: Any, expected: type) -> None:
    """ROS parameter typing: a bool is not an int, an int is fine where a float is declared."""
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise ParameterError(f"parameter {name!r} must be of type {expected.__name__}, "
                             f"got {value!r} ({type(value).__name__})")


def pipeline_config(parameters: FitParameters) -> PipelineConfig:
    """Map the parameters onto the pipeline (0 and "" mean "the default", as documented)."""
    p = parameters
    return PipelineConfig(
        weights=p.weights or None, backend=p.backend, body_model_path=p.body_model_path or None, device=p.device,
        steps=p.fit_steps or None, warm_steps=p.warm_fit_steps or None, max_people=p.max_people,
        torch_threads=p.torch_threads,
        tracker=TrackerConfig(max_age=p.track_max_age_s, match_threshold=p.track_match_threshold,
                              warm_start_max_gap=p.warm_start_max_gap_s))
