"""The node's parameters file, read without ROS, mapped the way the node maps it.

``lgd-ros bag --params-file config/fit.yaml`` takes the same file as
``ros2 run lgd_ros fit_node --ros-args --params-file config/fit.yaml``: the blocks
``/**: ros__parameters:`` and ``<node_name>: ros__parameters:`` (any namespace, nested
or written as ``/ns/<node_name>``) are applied in file order, later values winning, as
rcl does. Nested dictionaries below ``ros__parameters`` are dotted names
(``detector: {max_people: 2}`` is ``detector.max_people``).

Values are type-checked like declared ROS parameters (an integer is accepted where a
float is declared, nothing else is converted). Parameters that only mean something to a
live node (QoS depth, diagnostics period) are accepted and ignored; unknown names are
reported as warnings, since a newer node may declare parameters this tool does not
know.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lgd_ros.bag.errors import ParamsFileError
from lgd_ros.tracking.pipeline import PipelineConfig
from lgd_ros.tracking.tracker import TrackerConfig

__all__ = [
    "NODE_NAME",
    "NODE_ONLY_PARAMETERS",
    "FitParameters",
    "LoadedParameters",
    "load_params_file",
    "parameters_from_mapping",
    "pipeline_config",
]

NODE_NAME = "lgd_fit_node"
"""Name of the fitting node, whose block of a parameters file applies."""

NODE_ONLY_PARAMETERS = frozenset({"diagnostics_period_s", "output_qos_depth"})
"""Node parameters with no meaning offline (accepted, ignored)."""

DETECTOR_PREFIX = "detector."
"""Parameters ``detector.<field>`` set fields of :class:`lgd_ros.detect.BlazePoseConfig`;
``detector.name`` picks the detector (only ``blazepose``)."""


@dataclass(frozen=True)
class FitParameters:
    """The fitting node's parameters that shape offline results (names and defaults as the
    node declares them in ``lgd_ros/ros/fit_node.py``; documented in ``config/fit.yaml``).

    Input topic names are used to choose among several topics of the right type in a bag;
    output topic names become absolute (``bodies`` -> ``/bodies``).
    """

    keypoints_topic: str = "keypoints"
    image_topic: str = ""
    camera_info_topic: str = "camera_info"
    bodies_topic: str = "bodies"
    markers_topic: str = "body_markers"
    tracked_topic: str = "humans/bodies/tracked"
    weights: str = ""
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
    mesh_decimation_m: float = 0.03
    marker_lifetime_s: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), type(f.default), "FitParameters")
        for name in ("fit_steps", "warm_fit_steps", "torch_threads"):
            if getattr(self, name) < 0:
                raise ParamsFileError(f"{name} must be >= 0 (0 = the default), got {getattr(self, name)}")
        if self.max_people < 1:
            raise ParamsFileError(f"max_people must be >= 1, got {self.max_people}")
        for name in ("track_max_age_s", "track_match_threshold", "warm_start_max_gap_s",
                     "mesh_rate_hz", "mesh_decimation_m", "marker_lifetime_s"):
            if getattr(self, name) < 0:
                raise ParamsFileError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class LoadedParameters:
    """What a parameters file gives the bag tool.

    Attributes:
        fit: the node's parameters.
        detector: ``detector.<field>`` values for :class:`lgd_ros.detect.BlazePoseConfig`.
        warnings: unknown parameter names and similar, to show the user.
        source: the file (None for defaults).
    """

    fit: FitParameters = field(default_factory=FitParameters)
    detector: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    source: Path | None = None


def pipeline_config(parameters: FitParameters) -> PipelineConfig:
    """The node's mapping of its parameters onto :class:`PipelineConfig` (0 and "" mean
    "the default", as the parameter descriptions say)."""
    p = parameters
    return PipelineConfig(
        weights=p.weights or None, body_model_path=p.body_model_path or None, device=p.device,
        steps=p.fit_steps or None, warm_steps=p.warm_fit_steps or None, max_people=p.max_people,
        torch_threads=p.torch_threads,
        tracker=TrackerConfig(max_age=p.track_max_age_s, match_threshold=p.track_match_threshold,
                              warm_start_max_gap=p.warm_start_max_gap_s))


def parameters_from_mapping(values: Mapping[str, Any], *, where: str = "parameters",
                            source: Path | None = None) -> LoadedParameters:
    """Split flat ``{name: value}`` into node, detector and unknown parameters.

    Raises:
        ParamsFileError: a value of the wrong type or out of range.
    """
    from lgd_ros.detect import DETECTOR_NAMES, BlazePoseConfig

    known = {f.name: f for f in fields(FitParameters)}
    detector_fields = {f.name: f for f in fields(BlazePoseConfig)}
    fit_values: dict[str, Any] = {}
    detector: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in values.items():
        if name in known:
            default = known[name].default
            _check_type(name, value, type(default), where)
            fit_values[name] = float(value) if isinstance(default, float) else value
        elif name == "detector.name":
            if value not in DETECTOR_NAMES:
                raise ParamsFileError(f"{where}: detector.name must be one of "
                                      f"{', '.join(DETECTOR_NAMES)}, got {value!r}")
        elif name.startswith(DETECTOR_PREFIX) and name[len(DETECTOR_PREFIX):] in detector_fields:
            key = name[len(DETECTOR_PREFIX):]
            default = detector_fields[key].default
            _check_type(name, value, type(default), where)
            detector[key] = float(value) if isinstance(default, float) else value
        elif name not in NODE_ONLY_PARAMETERS:
            warnings.append(f"{where}: unknown parameter {name!r} ignored")
    try:
        fit = FitParameters(**fit_values)
    except ParamsFileError as error:
        raise ParamsFileError(f"{where}: {error}") from None
    if detector:
        try:
            BlazePoseConfig(**detector)
        except Exception as error:  # DetectorConfigError: say which file it came from
            raise ParamsFileError(f"{where}: bad detector.* parameter: {error}") from error
    return LoadedParameters(fit=fit, detector=detector, warnings=tuple(warnings), source=source)


def load_params_file(path: str | Path, node_name: str = NODE_NAME) -> LoadedParameters:
    """Read the parameters that apply to ``node_name`` from a ROS 2 parameters file.

    Raises:
        ParamsFileError: the file is missing or not YAML, has no block for the node, or a
            value has the wrong type; the message names the file and the parameter.
    """
    import yaml  # type: ignore[import-untyped]

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ParamsFileError(f"cannot read parameters file {path}: {error.strerror or error}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParamsFileError(f"parameters file {path} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ParamsFileError(
            f"parameters file {path}: expected a mapping like '/**: {{ros__parameters: ...}}', "
            f"got {type(document).__name__}")
    values: dict[str, Any] = {}
    matched: list[str] = []
    blocks = list(_parameter_blocks(document, ()))
    for block_path, parameters in blocks:
        if _applies_to(block_path, node_name):
            if not isinstance(parameters, dict):
                raise ParamsFileError(f"parameters file {path}: '{'/'.join(block_path)}' "
                                      f"ros__parameters must be a mapping, got {parameters!r}")
            matched.append("/" + "/".join(block_path))
            values.update(_flatten(parameters, ""))
    if not matched:
        found = ", ".join("/" + "/".join(p) for p, _ in blocks) or "none"
        raise ParamsFileError(
            f"parameters file {path} has no 'ros__parameters' block for node {node_name!r} "
            f"(expected '/**' or '{node_name}'; found: {found})")
    return parameters_from_mapping(values, where=f"parameters file {path}", source=path)


def _parameter_blocks(node: Mapping[Any, Any], prefix: tuple[str, ...]
                      ) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every ``ros__parameters`` value with the (slash-split) names leading to it."""
    for key, value in node.items():
        if key == "ros__parameters":
            yield prefix, value
        elif isinstance(value, dict):
            parts = tuple(part for part in str(key).split("/") if part)
            yield from _parameter_blocks(value, prefix + parts)


def _applies_to(block_path: tuple[str, ...], node_name: str) -> bool:
    """``/**``, ``node_name`` or ``<any namespace>/node_name`` (also ``/**/node_name``)."""
    if block_path in (("**",), ("*",)):
        return True
    return bool(block_path) and block_path[-1] == node_name


def _flatten(values: Mapping[Any, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _check_type(name: str, value: Any, expected: type, where: str) -> None:
    """ROS parameter typing: bool is not an int, an int is fine for a float."""
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:  # None defaults or other: accept what dataclasses accept
        ok = True
    if not ok:
        raise ParamsFileError(f"{where}: parameter {name!r} must be of type {expected.__name__}, "
                              f"got {value!r} ({type(value).__name__})")


def replace_parameters(parameters: FitParameters, **changes: Any) -> FitParameters:
    """``dataclasses.replace`` that keeps the type checks (CLI options override the file)."""
    return dataclasses.replace(parameters, **changes)
