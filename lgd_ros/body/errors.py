"""Domain errors of :mod:`lgd_ros.body`.

Every error a user can cause (a wrong model file, a tensor of the wrong shape, a camera
with a zero focal length, an unknown keypoint format) is one of these types, so callers can
catch ``BodyError`` without also swallowing programming errors such as ``TypeError``.
Messages name the file or argument, what was expected and what came.
"""

from __future__ import annotations

__all__ = [
    "BodyError",
    "BodyInputError",
    "BodyModelError",
    "BodyModelFileError",
    "BodyModelFormatError",
    "BodyModelNotFoundError",
    "IntrinsicsError",
    "KeypointFormatError",
]


class BodyError(Exception):
    """Base of every error raised by :mod:`lgd_ros.body`."""


class BodyModelError(BodyError):
    """A body model cannot be loaded or built."""


class BodyModelNotFoundError(BodyModelError, FileNotFoundError):
    """The model file does not exist (or is not a file)."""


class BodyModelFileError(BodyModelError):
    """The model file exists but cannot be read: truncated, corrupt or of another type."""


class BodyModelFormatError(BodyModelError):
    """The file was read but its arrays are missing or have the wrong shapes."""


class BodyInputError(BodyError, ValueError):
    """Pose, betas or translation tensors of the wrong shape, dtype or device."""


class KeypointFormatError(BodyError, KeyError):
    """An unknown keypoint format name, or a format that is inconsistent."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


class IntrinsicsError(BodyError, ValueError):
    """Camera intrinsics that are malformed or degenerate (zero or non-finite focal length)."""
