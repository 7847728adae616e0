"""Domain errors of :mod:`lgd_ros.data`.

Everything a user can get wrong here (a missing, truncated or foreign motion file, an AMASS
directory without motions, a joint map that names joints the file does not have, a corpus
file of another version) raises one of these, so a trainer can catch ``DataError`` without
also swallowing programming errors. Messages name the file, what was expected and what came.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CorpusError",
    "DataError",
    "JointMapError",
    "MotionFileError",
    "MotionFileNotFoundError",
    "PoseInputError",
    "UnknownMotionFormatError",
]


class DataError(Exception):
    """Base of every error raised by :mod:`lgd_ros.data`."""


class MotionFileError(DataError):
    """A motion file that cannot be read: truncated, corrupt, or missing required fields.

    ``path`` is the offending file; the message always starts with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MotionFileNotFoundError(MotionFileError, FileNotFoundError):
    """The motion file or directory does not exist."""


class UnknownMotionFormatError(MotionFileError):
    """A file whose format no loader recognises (by extension or by content)."""


class JointMapError(DataError, KeyError):
    """A joint-name map that does not fit the skeleton in the file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PoseInputError(DataError, ValueError):
    """Pose arrays of the wrong shape or dtype handed to corpus or augmentation functions."""


class CorpusError(DataError):
    """A pose corpus file that is missing, corrupt, or of an unsupported version."""
