"""Domain errors of :mod:`lgd_ros.detect`.

Everything a user can get wrong here (an image of the wrong shape or dtype, a detector
setting that would need a download, a missing optional package, a missing sample video)
raises one of these, so a node or CLI can catch :class:`DetectError` and report its message
without also swallowing programming errors. Messages say what was expected and what came.
"""

from __future__ import annotations

__all__ = [
    "DetectError",
    "DetectionValueError",
    "DetectorConfigError",
    "DetectorUnavailableError",
    "ImageInputError",
    "OverlayInputError",
    "SampleMediaNotFoundError",
]


class DetectError(Exception):
    """Base of every error raised by :mod:`lgd_ros.detect`."""


class ImageInputError(DetectError, ValueError):
    """An input image that is not an ``[H, W, 3]`` ``uint8`` RGB numpy array."""


class DetectionValueError(DetectError, ValueError):
    """A :class:`~lgd_ros.detect.types.Detection` built from arrays of the wrong shape or type."""


class DetectorConfigError(DetectError, ValueError):
    """A detector setting that is out of range or cannot work offline (e.g. a model
    complexity whose weights are not shipped and would be downloaded at run time)."""


class DetectorUnavailableError(DetectError, RuntimeError):
    """The detector's backend package is missing, of an unsupported version, or its
    processing graph cannot be built; the message names the package pin that works."""


class OverlayInputError(DetectError, ValueError):
    """Mesh, intrinsics or keypoint arrays given to the overlay renderer have wrong shapes."""


class SampleMediaNotFoundError(DetectError, FileNotFoundError):
    """A sample photograph or video that a registry package ships is not installed."""
