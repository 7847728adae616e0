"""Detection records, image checks and batching for the fitter."""

from __future__ import annotations

import numpy as np
import pytest

from lgd_ros.detect import Detection, DetectionValueError, ImageInputError, check_image
from lgd_ros.detect.types import stack_detections


def _detection(num: int = 33, fmt: str = "blazepose33", score: float = 0.9) -> Detection:
    rng = np.random.default_rng(num)
    return Detection(
        keypoints_px=rng.uniform(0, 100, (num, 2)),
        confidence=rng.uniform(0, 1, num),
        format=fmt,
        bbox_xyxy=np.array([0.0, 0.0, 100.0, 100.0]),
        score=score,
    )


def test_detection_normalises_dtypes() -> None:
    det = _detection(score=np.float32(0.5))  # type: ignore[arg-type]
    assert det.keypoints_px.dtype == np.float32
    assert det.confidence.dtype == np.float32
    assert det.bbox_xyxy.dtype == np.float32
    assert isinstance(det.score, float) and det.num_keypoints == 33


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("keypoints_px", np.zeros((33, 3)), r"shape \[J, 2\]"),
        ("keypoints_px", [[0.0, 0.0]], r"shape \[J, 2\]"),
        ("confidence", np.zeros(17), r"shape \[33\]"),
        ("confidence", np.full(33, 1.5), r"\[0, 1\]"),
        ("bbox_xyxy", np.zeros(2), r"shape \[4\]"),
        ("format", "", "format name"),
        ("score", float("nan"), "score"),
        ("score", 2.0, "score"),
    ],
)
def test_detection_rejects_bad_fields(field: str, value: object, message: str) -> None:
    fields = {
        "keypoints_px": np.zeros((33, 2)),
        "confidence": np.zeros(33),
        "format": "blazepose33",
        "bbox_xyxy": np.zeros(4),
        "score": 0.5,
    }
    fields[field] = value
    with pytest.raises(DetectionValueError, match=message):
        Detection(**fields)  # type: ignore[arg-type]


def test_detection_rejects_nan_keypoints() -> None:
    keypoints = np.zeros((33, 2))
    keypoints[3, 0] = np.nan
    with pytest.raises(DetectionValueError, match="NaN"):
        Detection(keypoints, np.zeros(33), "blazepose33", np.zeros(4), 0.5)


def test_stack_detections_for_the_fitter() -> None:
    keypoints, confidence = stack_detections([_detection(), _detection(score=0.3)])
    assert keypoints.shape == (2, 33, 2) and confidence.shape == (2, 33)
    empty_kp, empty_conf = stack_detections([])
    assert empty_kp.shape == (0, 0, 2) and empty_conf.shape == (0, 0)
    with pytest.raises(DetectionValueError, match="different keypoint formats"):
        stack_detections([_detection(), _detection(17, "coco17")])


def test_check_image_makes_contiguous_copies_only_when_needed() -> None:
    image = np.zeros((32, 48, 3), np.uint8)
    assert check_image(image) is image
    strided = np.zeros((32, 96, 3), np.uint8)[:, ::2]
    checked = check_image(strided)
    assert checked.flags.c_contiguous and checked.shape == (32, 48, 3)


def test_check_image_names_channels_first() -> None:
    with pytest.raises(ImageInputError, match="channels first"):
        check_image(np.zeros((3, 32, 32), np.uint8))


def test_importing_the_package_stays_light() -> None:
    # The node imports lgd_ros.detect even when it is fed keypoints, not images: MediaPipe
    # (0.4 s, pulls in matplotlib) loads only when a detector is made, and rclpy never.
    import subprocess
    import sys

    code = ("import sys, lgd_ros.detect; "
            "print(sorted(m for m in ('mediapipe', 'rclpy', 'cv2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"
