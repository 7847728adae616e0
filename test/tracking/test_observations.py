"""Validation of incoming keypoints and camera models (ROS-free)."""

from __future__ import annotations

import numpy as np
import pytest

from lgd_ros.tracking.errors import CameraModelError, InvalidObservationError
from lgd_ros.tracking.observations import CameraModel, PersonObservation, validate_observations

K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])


def person(count: int = 17, fmt: str = "coco17", **overrides: object) -> PersonObservation:
    values = dict(keypoints_px=np.full((count, 2), 100.0, np.float32),
                  confidence=np.full(count, 0.8, np.float32), keypoint_format=fmt)
    values.update(overrides)
    return PersonObservation(**values)  # type: ignore[arg-type]


def test_valid_people_of_every_format_pass() -> None:
    validate_observations([person(17, "coco17"), person(33, "blazepose33"), person(25, "body25"),
                           person(18, "openpose18"), person(24, "smpl24")])


def test_missing_keypoints_may_be_nan_when_their_confidence_is_zero() -> None:
    keypoints = np.full((17, 2), 100.0, np.float32)
    confidence = np.full(17, 0.8, np.float32)
    keypoints[5] = np.nan
    confidence[5] = 0.0
    validate_observations([person(keypoints_px=keypoints, confidence=confidence)])


@pytest.mark.parametrize(("bad", "message"), [
    (dict(fmt="kinect"), "unknown keypoint format 'kinect'"),
    (dict(count=16), "has 17 keypoints"),
    (dict(confidence=np.full(16, 0.5, np.float32)), "expected 17 confidences"),
    (dict(confidence=np.full(17, 1.5, np.float32)), "must lie in [0, 1]"),
    (dict(confidence=np.zeros(17, np.float32)), "every keypoint has zero confidence"),
    (dict(keypoints_px=np.full((17, 2), np.inf, np.float32)), "NaN or inf"),
])
def test_bad_people_are_named_in_the_error(bad: dict, message: str) -> None:
    count = bad.pop("count", 17)
    fmt = bad.pop("fmt", "coco17")
    if count != 17 or fmt != "coco17":
        bad.setdefault("keypoints_px", np.zeros((count, 2), np.float32))
        bad.setdefault("confidence", np.full(count, 0.5, np.float32))
    with pytest.raises(InvalidObservationError, match="person 1") as error:
        validate_observations([person(), person(fmt=fmt, **bad)])
    assert message in str(error.value)


@pytest.mark.parametrize(("matrix", "message"), [
    (np.zeros((3, 3)), "non-positive focal length"),
    (np.eye(2), "3x3"),
    (np.full((3, 3), np.nan), "NaN"),
])
def test_degenerate_camera_matrices_are_refused(matrix: np.ndarray, message: str) -> None:
    with pytest.raises(CameraModelError, match=message):
        CameraModel(matrix)


def test_unknown_distortion_model_is_refused() -> None:
    with pytest.raises(CameraModelError, match="equidistant"):
        CameraModel(K, np.array([0.1, 0, 0, 0]), "equidistant")


def test_undistortion_inverts_opencv_distortion() -> None:
    cv2 = pytest.importorskip("cv2")
    distortion = np.array([-0.25, 0.08, 0.001, -0.002, 0.0])
    ideal = np.array([[100.0, 80.0], [320.0, 240.0], [600.0, 420.0]])
    rays = np.concatenate([(ideal - K[:2, 2]) / np.diag(K)[:2], np.ones((3, 1))], axis=1)
    distorted, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, distortion)
    camera = CameraModel(K, distortion, "plumb_bob")
    assert camera.has_distortion
    np.testing.assert_allclose(camera.undistort(distorted.reshape(-1, 2)), ideal, atol=0.05)
    assert CameraModel(K).undistort(ideal) is ideal
