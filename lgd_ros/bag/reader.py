"""Opening input bags, choosing topics and decoding messages, with clear errors.

Wraps :class:`rosbags.rosbag2.Reader` so that every way an input can be wrong ends
in a :mod:`lgd_ros.bag.errors` error naming the bag, the topic and what was expected:
a path that does not exist or is not a bag, a corrupt or truncated storage file (at
open time or in the middle of reading), a missing or ambiguous topic, a message type
whose definition in the bag differs from the one lgd_ros knows, a message whose bytes
do not decode.

Inputs: a rosbag2 directory (``metadata.yaml`` + MCAP or sqlite3 files), or a single
``.mcap`` / ``.db3`` file. A directory without ``metadata.yaml`` (``ros2 bag record``
writes it last, so a killed recorder leaves none) is read through its single storage
file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.rosbag2 import Reader
from rosbags.typesys import get_types_from_idl, get_types_from_msg
from rosbags.typesys.store import Typestore

from lgd_ros.bag.errors import BagInputError, BagTopicError, MessageDecodeError
from lgd_ros.bag.typestore import PERSON_KEYPOINTS_ARRAY

__all__ = [
    "CAMERA_INFO_TYPE",
    "IMAGE_TYPE",
    "KEYPOINTS_TYPE",
    "InputBag",
    "InputTopics",
    "select_topics",
]

KEYPOINTS_TYPE = PERSON_KEYPOINTS_ARRAY
IMAGE_TYPE = "sensor_msgs/msg/Image"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
_STORAGE_SUFFIXES = (".mcap", ".db3")


def _describe_reader_error(path: Path, error: BaseException) -> str:
    """One line saying what is wrong with a bag, with a hint where one helps."""
    text = " ".join(str(error).split()).rstrip(".") or type(error).__name__
    hint = ""
    lowered = text.lower()
    if "end magic" in lowered or "footer" in lowered or "truncated" in lowered:
        hint = ("; the MCAP file is truncated (was the recording interrupted?) -- rerun with "
                "--salvage to process its complete part")
    elif "magic is invalid" in lowered:
        hint = "; this is not an MCAP file"
    elif "not a database" in lowered or "database missing tables" in lowered or "malformed" in lowered:
        hint = "; the sqlite3 storage file is not a rosbag2 database or is corrupt"
    elif "seems to be empty" in lowered:
        hint = "; the file is empty"
    return f"cannot read input bag {path}: {text}{hint}"


@dataclass(frozen=True)
class InputTopics:
    """The input topics one run reads (``None`` = not used)."""

    keypoints: str | None
    image: str | None
    camera_info: str

    @property
    def frame_topic(self) -> str:
        """The topic whose messages are frames to fit (keypoints, else images)."""
        topic = self.keypoints or self.image
        assert topic is not None  # select_topics guarantees one of them
        return topic

    @property
    def frame_kind(self) -> str:
        return "keypoints" if self.keypoints else "image"


def _topics_of_type(topic_types: dict[str, str], msgtype: str) -> list[str]:
    return sorted(t for t, typ in topic_types.items() if typ == msgtype)


def _choose(topic_types: dict[str, str], msgtype: str, requested: str | None, option: str,
            hint: str, bag: Path, required: bool) -> str | None:
    """One topic of ``msgtype``: the requested one, else the only one, else the hinted one."""
    listing = ", ".join(f"{t} ({typ})" for t, typ in sorted(topic_types.items())) or "no topics"
    if requested:
        name = requested if requested.startswith("/") else "/" + requested
        if name not in topic_types:
            raise BagTopicError(f"input bag {bag} has no topic {name} (given by {option}); "
                                f"its topics: {listing}")
        if topic_types[name] != msgtype:
            raise BagTopicError(f"topic {name} in {bag} has type {topic_types[name]}, but "
                                f"{option} needs {msgtype}")
        return name
    candidates = _topics_of_type(topic_types, msgtype)
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        if hint:
            hinted = [c for c in candidates if c == "/" + hint.lstrip("/") or c.endswith("/" + hint.lstrip("/"))]
            if len(hinted) == 1:
                return hinted[0]
        raise BagTopicError(f"input bag {bag} has several {msgtype} topics ({', '.join(candidates)}); "
                            f"choose one with {option}")
    if required:
        raise BagTopicError(f"input bag {bag} has no {msgtype} topic; its topics: {listing}")
    return None


def select_topics(topic_types: dict[str, str], bag: Path, *, keypoints_topic: str | None = None,
                  image_topic: str | None = None, camera_info_topic: str | None = None,
                  hints: dict[str, str] | None = None) -> InputTopics:
    """Choose the input topics, by option or by message type.

    Keypoints (``lgd_ros/msg/PersonKeypointsArray``) are used when present, else images
    (``sensor_msgs/msg/Image``, run through the detector); one run reads one of the two.
    ``hints`` (parameter-file topic names) pick among several topics of one type.

    Raises:
        BagTopicError: a requested topic is missing or of the wrong type, a type is
            ambiguous, or the bag has no frame topic or no CameraInfo topic.
    """
    hints = hints or {}
    if keypoints_topic and image_topic:
        raise BagTopicError("give either --keypoints-topic or --image-topic, not both: one run "
                            "fits one input stream")
    keypoints = image = None
    if not image_topic:
        keypoints = _choose(topic_types, KEYPOINTS_TYPE, keypoints_topic, "--keypoints-topic",
                            hints.get("keypoints_topic", ""), bag, required=False)
    if keypoints is None:
        image = _choose(topic_types, IMAGE_TYPE, image_topic, "--image-topic",
                        hints.get("image_topic", ""), bag, required=False)
    if keypoints is None and image is None:
        listing = ", ".join(f"{t} ({typ})" for t, typ in sorted(topic_types.items())) or "no topics"
        compressed = _topics_of_type(topic_types, "sensor_msgs/msg/CompressedImage")
        hint = (f"; {', '.join(compressed)} holds compressed images, which the node does not read "
                "either: decompress them into sensor_msgs/Image first (e.g. ros2 run image_transport "
                "republish compressed raw while playing the bag)") if compressed else ""
        raise BagTopicError(f"input bag {bag} has no keypoints ({KEYPOINTS_TYPE}) or image "
                            f"({IMAGE_TYPE}) topic to fit; its topics: {listing}{hint}")
    camera_info = _choose(topic_types, CAMERA_INFO_TYPE, camera_info_topic, "--camera-info-topic",
                          hints.get("camera_info_topic", ""), bag, required=True)
    assert camera_info is not None
    return InputTopics(keypoints=keypoints, image=image, camera_info=camera_info)


def _storage_file_of(directory: Path) -> Path | None:
    files = [p for p in sorted(directory.iterdir()) if p.suffix in _STORAGE_SUFFIXES]
    return files[0] if len(files) == 1 else None


class InputBag:
    """An open input bag: topics, raw messages in time order, decoding.

    Use as a context manager. Every rosbags / storage exception becomes a
    :class:`BagInputError` (or :class:`MessageDecodeError` for one message).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.notes: list[str] = []
        if not self.path.exists():
            raise BagInputError(f"input bag {self.path} does not exist")
        target = self.path
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            storage = _storage_file_of(self.path)
            if storage is None:
                raise BagInputError(
                    f"input bag {self.path} is a directory without metadata.yaml and without "
                    f"exactly one .mcap or .db3 file: not a rosbag2 bag")
            self.notes.append(f"{self.path} has no metadata.yaml (recording interrupted?): "
                              f"reading {storage.name} directly")
            target = storage
        elif self.path.is_file() and self.path.suffix not in _STORAGE_SUFFIXES:
            raise BagInputError(f"input bag {self.path}: expected a rosbag2 directory or a "
                                f".mcap / .db3 file, got a {self.path.suffix or 'suffix-less'} file")
        try:
            self._reader = Reader(target)
            self._reader.open()
        except Exception as error:  # ReaderError, OSError, apsw / struct / yaml errors of a damaged file
            named = target
            if target.is_dir():  # name the storage file at fault when there is just one
                named = _storage_file_of(target) or target
                named = target if named == target else Path(f"{target} ({named.name})")
            raise BagInputError(_describe_reader_error(named, error)) from error
        self.storage_path = target
        self.messages_read = 0
        self.last_timestamp: int | None = None

    # ---------------------------------------------------------------- context
    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.is_open:
            with contextlib.suppress(Exception):  # a damaged file must not mask the first error
                self._reader.close()

    # ----------------------------------------------------------------- topics
    @property
    def connections(self) -> list[Connection]:
        return list(self._reader.connections)

    @property
    def storage_identifier(self) -> str:
        """``mcap`` or ``sqlite3``."""
        suffix = self.storage_path.suffix if self.storage_path.is_file() else ""
        if not suffix:
            files = [p.suffix for p in self.storage_path.iterdir() if p.suffix in _STORAGE_SUFFIXES]
            suffix = files[0] if files else ""
        return {".mcap": "mcap", ".db3": "sqlite3"}.get(suffix, "unknown")

    @property
    def topic_types(self) -> dict[str, str]:
        """``{topic: message type}``; a topic with several types is reported as such."""
        types: dict[str, set[str]] = {}
        for connection in self._reader.connections:
            types.setdefault(connection.topic, set()).add(connection.msgtype)
        return {topic: " | ".join(sorted(t)) for topic, t in types.items()}

    def connections_of(self, topic: str) -> list[Connection]:
        return [c for c in self._reader.connections if c.topic == topic]

    def message_count(self, topic: str) -> int:
        return sum(c.msgcount for c in self.connections_of(topic))

    @property
    def duration_s(self) -> float:
        return self._reader.duration * 1e-9 if self._reader.message_count else 0.0

    # --------------------------------------------------------------- messages
    def messages(self, connections: Sequence[Connection]) -> Iterator[tuple[Connection, int, bytes]]:
        """Raw ``(connection, log time ns, CDR bytes)`` in log-time order.

        Raises:
            BagInputError: the storage is damaged part-way (the message says after how many
                messages and at which log time).
        """
        self.messages_read = 0
        self.last_timestamp = None
        if not connections:
            return
        iterator = self._reader.messages(connections=connections)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as error:  # ReaderError, apsw errors, struct errors, zstd errors
                where = (f" after {self.messages_read} messages (last log time "
                         f"{self.last_timestamp * 1e-9:.3f} s)" if self.last_timestamp is not None
                         else " before the first message")
                raise BagInputError(
                    f"input bag {self.storage_path} is corrupt or truncated{where}: "
                    f"{str(error).strip() or type(error).__name__}") from error
            self.messages_read += 1
            self.last_timestamp = item[1]
            yield item


class MessageDecoder:
    """Deserialises the input topics' messages with the definitions the bag carries.

    Types are registered from each decoded connection's own definition (so a bag from
    any distribution decodes as recorded); a bag without definitions (old sqlite3 bags)
    uses the base typestore's. A definition clashing with a type lgd_ros knows is an
    error: decoding with the wrong layout would give garbage.
    """

    def __init__(self, typestore: Typestore, connections: Sequence[Connection], bag: Path) -> None:
        self.typestore = typestore
        for connection in connections:
            definition = connection.msgdef
            if definition.format == MessageDefinitionFormat.NONE or not definition.data.strip():
                if connection.msgtype not in typestore.types:
                    raise BagTopicError(
                        f"topic {connection.topic} in {bag}: type {connection.msgtype} has no "
                        f"definition in the bag and is not a known type")
                continue
            try:
                if definition.format == MessageDefinitionFormat.IDL:
                    types = get_types_from_idl(definition.data)
                else:
                    types = get_types_from_msg(definition.data, connection.msgtype)
            except Exception as error:
                raise BagTopicError(f"topic {connection.topic} in {bag}: cannot parse the bag's "
                                    f"definition of {connection.msgtype}: {error}") from error
            try:
                typestore.register(types)
            except Exception as error:
                raise BagTopicError(
                    f"topic {connection.topic} in {bag}: the bag's definition of "
                    f"{connection.msgtype} differs from the one lgd_ros uses ({error}); was it "
                    f"recorded with another version of the message?") from error

    def decode(self, connection: Connection, raw: bytes, timestamp: int) -> Any:
        """The message object.

        Raises:
            MessageDecodeError: the bytes do not decode as ``connection.msgtype``.
        """
        try:
            return self.typestore.deserialize_cdr(raw, connection.msgtype)
        except Exception as error:  # struct.error, IndexError, UnicodeDecodeError, ...
            raise MessageDecodeError(
                f"{connection.topic} message at log time {timestamp * 1e-9:.3f} s does not decode "
                f"as {connection.msgtype} ({len(raw)} bytes): "
                f"{str(error).strip() or type(error).__name__}") from error
