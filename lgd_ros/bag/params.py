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
from lgd_ros.tracking.errors import ParameterError
from lgd_ros.tracking.parameters import (
    NODE_ONLY_PARAMETERS,
    FitParameters,
    check_parameter_type,
    pipeline_config,
)

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

DETECTOR_PREFIX = "detector."
"""Parameters ``detector.<field>`` set fields of :class:`lgd_ros.detect.BlazePoseConfig`;
``detector.name`` picks the detector (only ``blazepose``)."""


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
    except ParameterError as error:
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
    try:
        check_parameter_type(name, value, expected)
    except ParameterError as error:
        raise ParamsFileError(f"{where}: {error}") from None


def replace_parameters(parameters: FitParameters, **changes: Any) -> FitParameters:
    """``dataclasses.replace`` that keeps the type checks (CLI options override the file)."""
    try:
        return dataclasses.replace(parameters, **changes)
    except ParameterError as error:
        raise ParamsFileError(f"command-line option: {error}") from None
