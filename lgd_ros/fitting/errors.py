"""Domain errors of the fitting subpackage.

Every error a user can trigger through :mod:`lgd_ros.fitting` derives from
:class:`FittingError`, so front ends (ROS nodes, CLI) can catch one type and report
its message, which always says what was expected and what came.
"""

from __future__ import annotations

__all__ = [
    "FitInputError",
    "FittingError",
    "TrainingError",
    "WeightsError",
    "WeightsMismatchError",
]


class FittingError(Exception):
    """Base class of every error raised by :mod:`lgd_ros.fitting`."""


class FitInputError(FittingError, ValueError):
    """Keypoints, confidences or intrinsics passed to a fit have the wrong shape or values."""


class WeightsError(FittingError):
    """A weights file is missing, unreadable or not an LGD weights file."""


class WeightsMismatchError(WeightsError):
    """Weights were trained for another body model, keypoint format or network config.

    The message names what differs and the exact command that retrains weights for the
    requested combination.
    """


class TrainingError(FittingError):
    """Invalid training configuration or data (e.g. an empty pose corpus or AMASS folder)."""
