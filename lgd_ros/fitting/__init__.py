"""Learned gradient descent fitting of the body model to 2D keypoints.

``Fitter.load()`` gives the fitter every front end uses (shipped weights per keypoint
format); ``fitter.fit(keypoints_px, confidence, intrinsics)`` returns a :class:`FitResult`
in the camera frame. Training: ``python -m lgd_ros.fitting.train``. Classical baseline:
:class:`lgd_ros.fitting.smplify.SmplifyFitter`.
"""

from lgd_ros.fitting.errors import (
    FitInputError,
    FittingError,
    TrainingError,
    WeightsError,
    WeightsMismatchError,
)
from lgd_ros.fitting.fitter import FitOptions, FitResult, Fitter
from lgd_ros.fitting.networks import LGDNetwork, NetworkConfig

__all__ = [
    "FitInputError",
    "FitOptions",
    "FitResult",
    "Fitter",
    "FittingError",
    "LGDNetwork",
    "NetworkConfig",
    "TrainingError",
    "WeightsError",
    "WeightsMismatchError",
]
