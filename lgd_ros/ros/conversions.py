"""Conversions between lgd_ros / sensor messages and the ROS-free core types.

Kept free of node logic so the bag tool (which decodes messages with rosbags,
not rclpy) can mirror them field for field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgd_ros.tracking.errors import InvalidObservationError
from lgd_ros.tracking.observations import CameraModel, PersonObservation


def observations_from_msg(msg: Any) -> list[PersonObservation]:
    """``lgd_ros/PersonKeypointsArray`` -> people (shape checks happen in validation).

    Raises:
        InvalidObservationError: u, v and confidence of a person differ in length.
    """
    people = []
    for index, person in enumerate(msg.people):
        u = np.asarray(person.u, dtype=np.float32)
        v = np.asarray(person.v, dtype=np.float32)
        confidence = np.asarray(person.confidence, dtype=np.float32)
        if not (len(u) == len(v) == len(confidence)):
            raise InvalidObservationError(
                f"person {index} (source id {person.person_id}): u, v and confidence must have "
                f"the same length, got {len(u)}, {len(v)} and {len(confidence)}")
        people.append(PersonObservation(
            keypoints_px=np.stack([u, v], axis=-1),
            confidence=confidence,
            keypoint_format=person.keypoint_format,
            source_id=int(person.person_id),
            score=float(person.score),
        ))
    return people


def camera_model_from_camera_info(msg: Any) -> CameraModel:
    """``sensor_msgs/CameraInfo`` -> :class:`CameraModel` (raises CameraModelError if unusable)."""
    return CameraModel(
        matrix=np.asarray(msg.k, dtype=np.float64).reshape(3, 3),
        distortion=np.asarray(msg.d, dtype=np.float64),
        distortion_model=str(msg.distortion_model),
        frame_id=str(msg.header.frame_id),
    )


def fill_person_keypoints(person_msg: Any, keypoints_px: np.ndarray, confidence: np.ndarray,
                          keypoint_format: str, person_id: int = -1, score: float = 1.0) -> Any:
    """Fill a ``lgd_ros/PersonKeypoints`` from arrays ``[J, 2]`` and ``[J]``."""
    keypoints_px = np.asarray(keypoints_px, dtype=np.float32)
    person_msg.keypoint_format = keypoint_format
    person_msg.person_id = int(person_id)
    person_msg.u = keypoints_px[:, 0].tolist()
    person_msg.v = keypoints_px[:, 1].tolist()
    person_msg.confidence = np.asarray(confidence, dtype=np.float32).tolist()
    person_msg.score = float(score)
    return person_msg


def fill_camera_info(msg: Any, matrix: np.ndarray, width: int, height: int, frame_id: str,
                     distortion: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.0)) -> Any:
    """Fill a ``sensor_msgs/CameraInfo`` for an ideal pinhole camera (plus optional distortion)."""
    k = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [float(x) for x in distortion]
    msg.k = k.reshape(-1).tolist()
    msg.r = np.eye(3).reshape(-1).tolist()
    p = np.zeros((3, 4))
    p[:, :3] = k
    msg.p = p.reshape(-1).tolist()
    return msg


# sensor_msgs/Image encodings we turn into RGB, with their channel count.
_IMAGE_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_to_rgb(msg: Any) -> np.ndarray:
    """``sensor_msgs/Image`` -> ``[H, W, 3]`` uint8 RGB (copy).

    Raises:
        InvalidObservationError: unsupported encoding or a data size that does not match
            height x step.
    """
    encoding = str(msg.encoding).lower()
    if encoding not in _IMAGE_ENCODINGS:
        raise InvalidObservationError(
            f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(_IMAGE_ENCODINGS)}")
    channels = _IMAGE_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data,
                         dtype=np.uint8)
    if step < width * channels or data.size != height * step:
        raise InvalidObservationError(
            f"image {width}x{height} {encoding}: expected {height} rows of step >= "
            f"{width * channels} bytes ({height * step} bytes), got step {step} and {data.size} bytes")
    pixels = data.reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith("bgr"):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def fill_image(msg: Any, rgb: np.ndarray, frame_id: str) -> Any:
    """Fill a ``sensor_msgs/Image`` (rgb8) from ``[H, W, 3]`` uint8."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(rgb.shape[1] * 3)
    msg.data = rgb.tobytes()
    return msg


def observations_from_detections(detections: Sequence[Any]) -> list[PersonObservation]:
    """Detector output (:class:`lgd_ros.detect.Detection`) -> people, detector order kept."""
    return [PersonObservation(keypoints_px=d.keypoints_px, confidence=d.confidence,
                              keypoint_format=d.format, source_id=-1, score=float(d.score))
            for d in detections]
