"""What every 2D keypoint detector of lgd_ros takes and gives.

A detector takes one RGB image and returns, per person it finds, the pixel positions of
that person's keypoints in the detector's *own* keypoint format (``"blazepose33"`` for
MediaPipe BlazePose), one confidence per keypoint and a whole-person score. The fitter
accepts those formats directly (``lgd_ros.body`` maps each one onto the body model), so
nothing is lost by squeezing one layout into another.

Pixel convention (that of ``sensor_msgs/CameraInfo`` and of :mod:`lgd_ros.body.camera`):
``u`` to the right, ``v`` down, origin at the *centre* of the top-left pixel.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from lgd_ros.detect.errors import DetectionValueError, ImageInputError

__all__ = [
    "MIN_IMAGE_SIDE",
    "Detection",
    "PoseDetector",
    "check_image",
    "stack_detections",
]

MIN_IMAGE_SIDE = 16
"""Smallest image side (pixels) accepted: below it no detector input makes sense, and a
1-pixel "image" almost always means a transposed or flattened array."""


@dataclass(frozen=True, eq=False)
class Detection:
    """One person found in one image.

    Attributes:
        keypoints_px: ``[J, 2]`` float32 pixel coordinates ``(u, v)``; keypoints may lie
            outside the image (the detector's guess for cut-off limbs; their confidence is
            then low).
        confidence: ``[J]`` float32 in ``[0, 1]``; 0 marks a keypoint that must not be used.
            The fitter uses it as a per-keypoint weight.
        format: name of the keypoint layout (``"blazepose33"``, ``"coco17"``...), as known by
            ``lgd_ros.body.get_keypoint_format``.
        bbox_xyxy: ``[4]`` float32 ``(u_min, v_min, u_max, v_max)`` of the person in pixels,
            clipped to the image.
        score: whole-person score in ``[0, 1]`` (for BlazePose the landmark model's
            pose-presence probability).
    """

    keypoints_px: np.ndarray
    confidence: np.ndarray
    format: str
    bbox_xyxy: np.ndarray
    score: float

    def __post_init__(self) -> None:
        # Checked once here so every consumer (fitter, tracker, overlay, ROS messages) can
        # rely on shapes and dtypes instead of re-checking them.
        kp = self.keypoints_px
        if not isinstance(kp, np.ndarray) or kp.ndim != 2 or kp.shape[1] != 2:
            raise DetectionValueError(
                f"Detection.keypoints_px must be a numpy array of shape [J, 2], got "
                f"{_describe(kp)}"
            )
        num_keypoints = kp.shape[0]
        conf = self.confidence
        if not isinstance(conf, np.ndarray) or conf.shape != (num_keypoints,):
            raise DetectionValueError(
                f"Detection.confidence must be a numpy array of shape [{num_keypoints}] "
                f"(one per keypoint), got {_describe(conf)}"
            )
        box = self.bbox_xyxy
        if not isinstance(box, np.ndarray) or box.shape != (4,):
            raise DetectionValueError(
                f"Detection.bbox_xyxy must be a numpy array of shape [4] (u_min, v_min, u_max, "
                f"v_max), got {_describe(box)}"
            )
        if not isinstance(self.format, str) or not self.format:
            raise DetectionValueError(
                f"Detection.format must be a keypoint format name, got {self.format!r}"
            )
        if not (isinstance(self.score, numbers.Real) and math.isfinite(self.score)
                and 0.0 <= self.score <= 1.0):
            raise DetectionValueError(f"Detection.score must be a number in [0, 1], "
                                      f"got {self.score!r}")
        # Normalise dtypes without copying arrays that are already right.
        object.__setattr__(self, "keypoints_px", kp.astype(np.float32, copy=False))
        object.__setattr__(self, "confidence", conf.astype(np.float32, copy=False))
        object.__setattr__(self, "bbox_xyxy", box.astype(np.float32, copy=False))
        object.__setattr__(self, "score", float(self.score))
        if not np.isfinite(self.keypoints_px).all():
            raise DetectionValueError("Detection.keypoints_px contains NaN or inf")
        if not ((self.confidence >= 0) & (self.confidence <= 1)).all():
            raise DetectionValueError(
                f"Detection.confidence must lie in [0, 1], got values in "
                f"[{float(np.nanmin(self.confidence))}, {float(np.nanmax(self.confidence))}]"
            )

    @property
    def num_keypoints(self) -> int:
        """``J``, the number of keypoints of :attr:`format`."""
        return int(self.keypoints_px.shape[0])


@runtime_checkable
class PoseDetector(Protocol):
    """A 2D human keypoint detector.

    Implementations own native resources (inference graphs, threads): call :meth:`close`
    when done, or use them as context managers if they support it.
    """

    @property
    def keypoint_format(self) -> str:
        """Format name of every :class:`Detection` this detector returns."""
        ...

    @property
    def max_people(self) -> int:
        """Most people returned per image."""
        ...

    @property
    def limitations(self) -> str:
        """Plain-language limits of this detector (for logs, diagnostics and docs)."""
        ...

    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (``[H, W, 3]`` uint8 RGB), best score first; may be empty."""
        ...

    def close(self) -> None:
        """Release native resources; the detector cannot be used afterwards."""
        ...


def check_image(image: object, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as a C-contiguous ``[H, W, 3]`` uint8 array, or raise.

    Raises:
        ImageInputError: not a numpy array, not 3 channels, not uint8, or smaller than
            :data:`MIN_IMAGE_SIDE` pixels on a side. The message says what came.
    """
    if not isinstance(image, np.ndarray):
        raise ImageInputError(
            f"{name} must be a numpy array of shape [H, W, 3] (uint8 RGB), got "
            f"{type(image).__name__}"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        hint = ""
        if image.ndim == 2:
            hint = " (a grayscale image: convert it, e.g. np.repeat(img[..., None], 3, axis=2))"
        elif image.ndim == 3 and image.shape[2] == 4:
            hint = " (RGBA: drop the alpha channel, img[..., :3])"
        elif image.ndim == 3 and image.shape[0] == 3:
            hint = " (channels first: use img.transpose(1, 2, 0))"
        raise ImageInputError(
            f"{name} must have shape [H, W, 3] (RGB), got shape {tuple(image.shape)}{hint}"
        )
    if image.dtype != np.uint8:
        raise ImageInputError(
            f"{name} must be uint8 (0-255 RGB), got dtype {image.dtype}; for float images in "
            f"[0, 1] use (img * 255).round().astype(np.uint8)"
        )
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageInputError(
            f"{name} must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels, got "
            f"{width}x{height} (width x height)"
        )
    return np.ascontiguousarray(image)


def stack_detections(
    detections: Sequence[Detection],
) -> tuple[np.ndarray, np.ndarray]:
    """Batch people of one format for the fitter.

    Returns:
        ``(keypoints [B, J, 2] float32, confidence [B, J] float32)`` with ``B =
        len(detections)`` (``B`` may be 0, then ``J`` is 0 too).

    Raises:
        DetectionValueError: the detections mix keypoint formats.
    """
    if not detections:
        return np.zeros((0, 0, 2), np.float32), np.zeros((0, 0), np.float32)
    formats = {d.format for d in detections}
    if len(formats) != 1:
        raise DetectionValueError(
            f"cannot stack detections of different keypoint formats {sorted(formats)}; "
            f"fit each format separately"
        )
    keypoints = np.stack([d.keypoints_px for d in detections])
    confidence = np.stack([d.confidence for d in detections])
    return keypoints, confidence


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {tuple(value.shape)} and dtype {value.dtype}"
    return type(value).__name__
