"""RViz markers and TF frames of fitted bodies, encoded straight from numpy.

A mesh marker of one body holds ~14k points (4.8k triangles after decimation). Built as
rosbags message objects that is 14k ``geometry_msgs/Point`` instances plus a per-point
Python serializer: tens of milliseconds per marker, more than fitting the body. Here a
marker is a small record with its points as one ``[N, 3]`` array, and
:func:`encode_marker_array` writes the CDR bytes of a ``visualization_msgs/MarkerArray``
directly (the points as one block). The bytes are identical to rosbags'
``serialize_cdr`` of the same message (the tests compare them), so every reader decodes
them as usual; :func:`marker_message` gives the rosbags object when one is wanted.
:class:`TfMessageEncoder` does the same for ``tf2_msgs/TFMessage`` (25 transforms per body
per frame), from a byte template per set of frame names.

Layout: ROS 2 ``visualization_msgs/msg/Marker`` as defined in Kilted (the distribution
whose definitions the output bags carry, see :mod:`lgd_ros.bag.typestore`), little-endian
CDR (XCDR1, encapsulation ``00 01 00 00``; alignment counted from after those 4 bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "ADD",
    "ARROW",
    "DELETE",
    "LINE_LIST",
    "TRIANGLE_LIST",
    "MarkerData",
    "TfMessageEncoder",
    "encode_marker_array",
    "marker_message",
]

# visualization_msgs/Marker constants used here.
ARROW = 0
LINE_LIST = 5
TRIANGLE_LIST = 11
ADD = 0
DELETE = 2

_CDR_LITTLE_ENDIAN = b"\x00\x01\x00\x00"


@dataclass(frozen=True)
class MarkerData:
    """One ``visualization_msgs/Marker`` as the node fills it; every other field keeps the
    message default (identity pose, no per-point colours, no texture/mesh resources).

    Attributes:
        stamp: ``(sec, nanosec)`` of the header; frame_id: the header's frame.
        points: ``[N, 3]`` float64, metres in ``frame_id``.
        lifetime_s: marker lifetime, seconds (0 = forever).
    """

    stamp: tuple[int, int]
    frame_id: str
    ns: str
    id: int
    type: int
    action: int
    scale: tuple[float, float, float]
    color: tuple[float, float, float, float]
    lifetime_s: float
    points: np.ndarray

    @property
    def lifetime(self) -> tuple[int, int]:
        """``builtin_interfaces/Duration`` ``(sec, nanosec)`` as the node computes it."""
        return int(self.lifetime_s), int((self.lifetime_s % 1) * 1e9)


class _CdrWriter:
    """Little-endian CDR with alignment relative to the start of the payload."""

    def __init__(self, position: int | None = None) -> None:
        """A whole message (``position`` None: the encapsulation header first), or a piece
        of one that starts at payload offset ``position`` (for alignment)."""
        self._parts: list[bytes] = [_CDR_LITTLE_ENDIAN] if position is None else []
        self._position = position or 0

    def _align(self, size: int) -> None:
        padding = -self._position % size
        if padding:
            self._parts.append(bytes(padding))
            self._position += padding

    def _raw(self, data: bytes) -> None:
        self._parts.append(data)
        self._position += len(data)

    def pack(self, fmt: str, alignment: int, *values: Any) -> None:
        self._align(alignment)
        self._raw(struct.pack("<" + fmt, *values))

    def string(self, text: str) -> None:
        data = text.encode("utf-8") + b"\x00"
        self.pack("I", 4, len(data))
        self._raw(data)

    def empty_sequence(self) -> None:
        self.pack("I", 4, 0)

    def time(self, sec: int, nanosec: int) -> None:
        self.pack("iI", 4, sec, nanosec)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class _MarkerLayout(NamedTuple):
    """A marker's bytes around its points, for one start alignment: ``head`` (padding,
    stamp placeholder at ``stamp_at``, ..., the point count) and ``tail`` (after the points)."""

    head: bytes
    stamp_at: int
    tail: bytes


def _marker_layout(marker: MarkerData, position: int) -> _MarkerLayout:
    writer = _CdrWriter(position)
    writer._align(4)
    stamp_at = writer._position - position
    writer.time(0, 0)                                            # header.stamp (written per message)
    writer.string(marker.frame_id)                               # header.frame_id
    writer.string(marker.ns)
    writer.pack("iii", 4, marker.id, marker.type, marker.action)
    writer.pack("7d", 8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)      # pose: origin, identity
    writer.pack("3d", 8, *marker.scale)
    writer.pack("4f", 4, *marker.color)
    writer.time(*marker.lifetime)
    writer.pack("?", 1, False)                                   # frame_locked
    count = len(marker.points)                                   # points: count, (aligned to 8) x, y, z
    writer.pack("I", 4, count)
    if count:
        writer._align(8)
    tail = _CdrWriter(writer._position + 24 * count)
    tail.empty_sequence()                                        # colors
    tail.string("")                                              # texture_resource
    tail.time(0, 0)                                              # texture.header.stamp
    tail.string("")                                              # texture.header.frame_id
    tail.string("")                                              # texture.format
    tail.empty_sequence()                                        # texture.data
    tail.empty_sequence()                                        # uv_coordinates
    tail.string("")                                              # text
    tail.string("")                                              # mesh_resource
    tail.string("")                                              # mesh_file.filename
    tail.empty_sequence()                                        # mesh_file.data
    tail.pack("?", 1, False)                                     # mesh_use_embedded_materials
    return _MarkerLayout(writer.getvalue(), stamp_at, tail.getvalue())


_MARKER_LAYOUTS: dict[tuple[Any, ...], _MarkerLayout] = {}
_MAX_MARKER_LAYOUTS = 4096


def encode_marker_array(markers: Sequence[MarkerData]) -> bytes:
    """CDR bytes of a ``visualization_msgs/msg/MarkerArray`` (rosbags-identical).

    Everything but a marker's stamp and points repeats frame after frame (same track, same
    namespace, same point count), so each marker's bytes around its points are built once
    per start alignment and reused.
    """
    parts: list[bytes] = [_CDR_LITTLE_ENDIAN, struct.pack("<I", len(markers))]
    position = 4
    for marker in markers:
        key = (position % 8, marker.frame_id, marker.ns, marker.id, marker.type, marker.action, marker.scale,
               marker.color, marker.lifetime_s, len(marker.points))
        layout = _MARKER_LAYOUTS.get(key)
        if layout is None:
            if len(_MARKER_LAYOUTS) >= _MAX_MARKER_LAYOUTS:
                _MARKER_LAYOUTS.clear()
            layout = _MARKER_LAYOUTS[key] = _marker_layout(marker, position % 8)
        head = bytearray(layout.head)
        struct.pack_into("<iI", head, layout.stamp_at, *marker.stamp)
        points = np.ascontiguousarray(marker.points, dtype="<f8").tobytes()
        parts += [head, points, layout.tail]
        position += len(head) + len(points) + len(layout.tail)
    return b"".join(parts)


def marker_message(typestore: Any, marker: MarkerData) -> Any:
    """The same marker as a rosbags ``visualization_msgs/msg/Marker`` object."""
    types = typestore.types
    point, vector = types["geometry_msgs/msg/Point"], types["geometry_msgs/msg/Vector3"]
    time, header = types["builtin_interfaces/msg/Time"], types["std_msgs/msg/Header"]
    return types["visualization_msgs/msg/Marker"](
        header=header(stamp=time(sec=marker.stamp[0], nanosec=marker.stamp[1]), frame_id=marker.frame_id),
        ns=marker.ns, id=marker.id, type=marker.type, action=marker.action,
        pose=types["geometry_msgs/msg/Pose"](
            position=point(x=0.0, y=0.0, z=0.0),
            orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        scale=vector(x=marker.scale[0], y=marker.scale[1], z=marker.scale[2]),
        color=types["std_msgs/msg/ColorRGBA"](r=marker.color[0], g=marker.color[1], b=marker.color[2],
                                              a=marker.color[3]),
        lifetime=types["builtin_interfaces/msg/Duration"](sec=marker.lifetime[0], nanosec=marker.lifetime[1]),
        frame_locked=False,
        points=[point(x=x, y=y, z=z) for x, y, z in np.asarray(marker.points, dtype=np.float64).tolist()],
        colors=[], texture_resource="",
        texture=types["sensor_msgs/msg/CompressedImage"](
            header=header(stamp=time(sec=0, nanosec=0), frame_id=""), format="", data=np.zeros(0, np.uint8)),
        uv_coordinates=[], text="", mesh_resource="",
        mesh_file=types["visualization_msgs/msg/MeshFile"](filename="", data=np.zeros(0, np.uint8)),
        mesh_use_embedded_materials=False)


@dataclass(frozen=True)
class _TfLayout:
    """Bytes of a ``TFMessage`` with zero stamps and numbers, and where those go."""

    template: bytes
    stamp_index: np.ndarray  # byte positions of each transform's (sec, nanosec)
    value_index: np.ndarray  # byte positions of each transform's 7 float64 (translation, rotation)


def _tf_layout(names: Sequence[tuple[str, str]]) -> _TfLayout:
    writer = _CdrWriter()
    writer.pack("I", 4, len(names))
    stamps, values = [], []
    for parent, child in names:
        writer._align(4)
        stamps.append(writer._position)
        writer.time(0, 0)
        writer.string(parent)
        writer.string(child)
        writer._align(8)
        values.append(writer._position)
        writer.pack("7d", 8, *([0.0] * 7))
    head = len(_CDR_LITTLE_ENDIAN)
    return _TfLayout(writer.getvalue(),
                     (head + np.asarray(stamps, dtype=np.int64)[:, None] + np.arange(8)).reshape(-1),
                     (head + np.asarray(values, dtype=np.int64)[:, None] + np.arange(56)).reshape(-1))


class TfMessageEncoder:
    """CDR bytes of ``tf2_msgs/msg/TFMessage`` s whose frame names repeat (rosbags-identical).

    A body's 25 frame names are the same in every frame of a track, so the byte layout
    of each name set is built once; a message is then that template with its stamp and
    numbers written in (two array assignments instead of ~100 small packs).
    """

    MAX_LAYOUTS = 1024  # a long recording with many people: forget old id sets

    def __init__(self) -> None:
        self._layouts: dict[Any, _TfLayout] = {}

    def encode(self, stamp: tuple[int, int], key: Any, names: Callable[[], Sequence[tuple[str, str]]],
               translations: np.ndarray, rotations: np.ndarray) -> bytes:
        """Args:
            stamp: ``(sec, nanosec)`` of every transform.
            key: hashable, equal for equal ``names()`` (e.g. camera frame and track ids).
            names: ``(parent, child)`` per transform; called only for a new ``key``.
            translations: ``[T, 3]`` metres; rotations: ``[T, 4]`` x, y, z, w.
        """
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= self.MAX_LAYOUTS:
                self._layouts.clear()
            layout = self._layouts[key] = _tf_layout(names())
        values = np.concatenate([np.asarray(translations, dtype="<f8").reshape(-1, 3),
                                 np.asarray(rotations, dtype="<f8").reshape(-1, 4)], axis=1)
        if len(values) * 56 != len(layout.value_index):
            raise ValueError(f"{len(values)} transforms for a layout of {len(layout.value_index) // 56} names")
        data = np.frombuffer(bytearray(layout.template), dtype=np.uint8)
        data[layout.value_index] = values.view(np.uint8).reshape(-1)
        stamp_bytes = np.frombuffer(struct.pack("<iI", *stamp), dtype=np.uint8)
        data[layout.stamp_index] = np.tile(stamp_bytes, len(values))
        return data.tobytes()
