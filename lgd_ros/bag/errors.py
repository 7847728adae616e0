"""Domain errors of the offline bag tool.

Every error a user can trigger through :mod:`lgd_ros.bag` derives from
:class:`BagError`, so the CLI catches one type, prints its message (which names the
file or topic, what was expected and what came) on one line and exits non-zero.
:class:`MessageDecodeError` is the one non-fatal kind: a single message that cannot
be decoded is counted and reported, and processing goes on.
"""

from __future__ import annotations

__all__ = [
    "BagError",
    "BagInputError",
    "BagOutputError",
    "BagProcessingError",
    "BagTopicError",
    "DemoError",
    "MessageDecodeError",
    "MessageDefinitionError",
    "ParamsFileError",
]


class BagError(Exception):
    """Base class of every error raised by :mod:`lgd_ros.bag`."""


class BagInputError(BagError):
    """The input bag cannot be opened or read: missing, not a rosbag2, corrupt or truncated."""


class BagTopicError(BagError):
    """An input topic is missing, ambiguous or of the wrong message type."""


class BagOutputError(BagError):
    """The output bag cannot be written (it exists and ``overwrite`` is off, or I/O failed)."""


class BagProcessingError(BagError):
    """The fitting pipeline cannot run at all (weights or body model missing/mismatching)."""


class ParamsFileError(BagError):
    """A parameters file (``config/fit.yaml`` layout) is unreadable or has bad values."""


class MessageDefinitionError(BagError):
    """lgd_ros' own ``.msg`` definitions cannot be found or parsed (broken installation)."""


class MessageDecodeError(BagError):
    """One message cannot be decoded or converted (not fatal: counted, processing continues)."""


class DemoError(BagError):
    """The demo cannot run (sample video missing, output directory unusable, ...)."""
