"""People's 2D keypoints as they arrive, checked before anything is fitted.

Every front end (ROS node, bag tool, demo) turns its input into
:class:`PersonObservation` s and a :class:`CameraModel`, and calls
:func:`validate_observations`; a bad message is rejected here with a precise
reason, never passed on as silent garbage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lgd_ros.tracking.errors import CameraModelError, InvalidObservationError

# CameraInfo distortion models we can remove from keypoints (OpenCV's model
# covers both: 5 coefficients for plumb_bob, 8 for rational_polynomial).
SUPPORTED_DISTORTION_MODELS = ("", "none", "plumb_bob", "rational_polynomial")


@dataclass(frozen=True)
class PersonObservation:
    """One person's keypoints in one image.

    Attributes:
        keypoints_px: ``[J, 2]`` float32 pixel coordinates (u right, v down).
        confidence: ``[J]`` float32 in [0, 1]; 0 marks a missing keypoint.
        keypoint_format: name of a format known to :mod:`lgd_ros.body`.
        source_id: id given by the detector / upstream tracker, -1 if none.
        score: whole-person detection score in [0, 1].
    """

    keypoints_px: np.ndarray
    confidence: np.ndarray
    keypoint_format: str
    source_id: int = -1
    score: float = 1.0


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics plus optional lens distortion of the input image.

    Attributes:
        matrix: ``[3, 3]`` float64 K in pixels.
        distortion: OpenCV-ordered coefficients (k1, k2, p1, p2, k3[, k4, k5, k6]); empty if none.
        distortion_model: CameraInfo ``distortion_model`` string.
        frame_id: camera optical frame name.
    """

    matrix: np.ndarray
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"
    frame_id: str = ""

    def __post_init__(self) -> None:
        k = np.asarray(self.matrix, dtype=np.float64)
        if k.shape != (3, 3):
            raise CameraModelError(f"camera matrix must be 3x3, got shape {k.shape}")
        if not np.all(np.isfinite(k)):
            raise CameraModelError("camera matrix contains NaN or inf")
        if k[0, 0] <= 0 or k[1, 1] <= 0:
            raise CameraModelError(
                f"camera matrix has non-positive focal length (fx={k[0, 0]}, fy={k[1, 1]}); "
                "an all-zero CameraInfo.k means the camera is uncalibrated")
        if abs(k[2, 2] - 1.0) > 1e-6 or abs(k[2, 0]) > 1e-9 or abs(k[2, 1]) > 1e-9:
            raise CameraModelError(f"camera matrix last row must be [0, 0, 1], got {k[2].tolist()}")
        model = self.distortion_model.strip().lower()
        if model not in SUPPORTED_DISTORTION_MODELS:
            raise CameraModelError(
                f"unsupported distortion model {self.distortion_model!r}; supported: "
                f"{', '.join(m for m in SUPPORTED_DISTORTION_MODELS if m)} (or rectify the image)")
        d = np.asarray(self.distortion, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(d)):
            raise CameraModelError("distortion coefficients contain NaN or inf")
        object.__setattr__(self, "matrix", k)
        object.__setattr__(self, "distortion", d)

    @property
    def has_distortion(self) -> bool:
        return bool(self.distortion.size and np.any(self.distortion != 0))

    def undistort(self, keypoints_px: np.ndarray) -> np.ndarray:
        """Remove lens distortion from ``[..., 2]`` pixel coordinates (identity if none).

        The result is in the pixels of an ideal pinhole camera with the same K, which is
        what the fitter's projection model assumes.
        """
        if not self.has_distortion:
            return keypoints_px
        import cv2  # only needed for distorted cameras

        points = np.asarray(keypoints_px, dtype=np.float64).reshape(-1, 1, 2)
        undistorted = cv2.undistortPoints(points, self.matrix, self.distortion, P=self.matrix)
        return undistorted.reshape(np.shape(keypoints_px)).astype(np.float32)


def keypoint_count(format_name: str) -> int:
    """Number of keypoints of a format; :class:`InvalidObservationError` if unknown."""
    from lgd_ros.body.errors import KeypointFormatError
    from lgd_ros.body.formats import KEYPOINT_FORMAT_NAMES, get_keypoint_format

    try:
        keypoint_format = get_keypoint_format(format_name)
    except KeypointFormatError as error:
        known = ", ".join(KEYPOINT_FORMAT_NAMES)
        raise InvalidObservationError(
            f"unknown keypoint format {format_name!r}; known formats: {known}") from error
    return keypoint_format.num_keypoints


def validate_observations(people: Sequence[PersonObservation]) -> None:
    """Raise :class:`InvalidObservationError` naming the first bad person, if any.

    Checks: known format, ``[J, 2]`` keypoints and ``[J]`` confidences with J the
    format's count, finite values, confidences in [0, 1], at least one
    keypoint with non-zero confidence.
    """
    for index, person in enumerate(people):
        where = f"person {index} (source id {person.source_id})"
        try:
            expected = keypoint_count(person.keypoint_format)
        except InvalidObservationError as error:
            raise InvalidObservationError(f"{where}: {error}") from None
        keypoints = np.asarray(person.keypoints_px)
        confidence = np.asarray(person.confidence)
        if keypoints.shape != (expected, 2):
            raise InvalidObservationError(
                f"{where}: format {person.keypoint_format!r} has {expected} keypoints, so "
                f"keypoints must have shape ({expected}, 2); got {keypoints.shape}")
        if confidence.shape != (expected,):
            raise InvalidObservationError(
                f"{where}: expected {expected} confidences for format "
                f"{person.keypoint_format!r}, got shape {confidence.shape}")
        if not np.all(np.isfinite(confidence)):
            raise InvalidObservationError(f"{where}: confidences contain NaN or inf")
        if np.any(confidence < 0) or np.any(confidence > 1):
            raise InvalidObservationError(
                f"{where}: confidences must lie in [0, 1], got range "
                f"[{confidence.min():.3g}, {confidence.max():.3g}]")
        visible = confidence > 0
        if not np.all(np.isfinite(keypoints[visible])):
            raise InvalidObservationError(f"{where}: keypoint coordinates contain NaN or inf")
        if not np.any(visible):
            raise InvalidObservationError(f"{where}: every keypoint has zero confidence")
