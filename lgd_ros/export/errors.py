"""Domain errors of :mod:`lgd_ros.export`.

They derive from :class:`lgd_ros.fitting.errors.FittingError` (and the graph-file errors
from :class:`~lgd_ros.fitting.errors.WeightsError`): an exported graph is the fitter's
weights in another form, so every front end that already reports a missing or
mismatching weights file reports a missing or mismatching ONNX file / TensorRT engine
the same way, without knowing which backend runs. Messages name the file, what was
expected, what came, and the command that fixes it.
"""

from __future__ import annotations

from lgd_ros.fitting.errors import FittingError, WeightsError, WeightsMismatchError

__all__ = [
    "BackendUnavailableError",
    "EngineBuildError",
    "ExportError",
    "ExportFailedError",
    "GraphFileError",
    "GraphMismatchError",
]


class ExportError(FittingError):
    """Base class of every error raised by :mod:`lgd_ros.export`."""


class ExportFailedError(ExportError):
    """Tracing or converting the fitting loop to ONNX failed (the message says where)."""


class BackendUnavailableError(ExportError):
    """A backend's package or device is missing (the message names the exact package)."""


class GraphFileError(ExportError, WeightsError):
    """An ONNX file or TensorRT engine is missing, unreadable or not an lgd_ros fit graph."""


class GraphMismatchError(GraphFileError, WeightsMismatchError):
    """A fit graph was exported for another keypoint format, step count, body model,
    weights or start (cold / warm) than the one asked for."""


class EngineBuildError(ExportError):
    """TensorRT could not parse the ONNX graph or build an engine from it."""
