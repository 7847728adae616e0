"""Errors of the tracking / per-frame pipeline."""

from __future__ import annotations


class TrackingError(Exception):
    """Base class of lgd_ros.tracking errors."""


class InvalidObservationError(TrackingError, ValueError):
    """A person's 2D keypoints cannot be fitted (wrong count, NaN, unknown format, ...).

    The message says which person and what was wrong, so a node can log it and
    drop the frame instead of fitting garbage.
    """


class CameraModelError(TrackingError, ValueError):
    """Camera intrinsics / distortion cannot be used (missing, degenerate, unsupported model)."""


class ParameterError(TrackingError, ValueError):
    """A node / bag-tool parameter has the wrong type or an out-of-range value."""
