"""Reading what is left of a truncated MCAP recording (``lgd-ros bag --salvage``).

A recorder that is killed (power loss, OOM, Ctrl-C twice) leaves an MCAP file without
its summary and footer; rosbags refuses it ("File end magic is invalid"), rightly, since
its index is missing. The data section before the cut is intact though: this reader
walks it record by record with the independent ``mcap`` package's stream reader and
yields every message of every complete record (a chunk cut in half is lost as a whole),
in file order, which is the order the recorder wrote them.

It offers the parts of :class:`lgd_ros.bag.reader.InputBag` the processing uses, so
nothing else changes. Salvaging is opt-in: a truncated file is otherwise an error that
says to use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    MessageDefinition,
    MessageDefinitionFormat,
)

from lgd_ros.bag.errors import BagInputError

__all__ = ["SalvagedBag", "open_salvaged"]

_DEFINITION_FORMATS = {
    "ros2msg": MessageDefinitionFormat.MSG,
    "ros2idl": MessageDefinitionFormat.IDL,
    "omgidl": MessageDefinitionFormat.IDL,
}


def _mcap_file(path: Path) -> Path:
    if not path.exists():
        raise BagInputError(f"input bag {path} does not exist")
    if path.is_dir():
        files = sorted(path.glob("*.mcap"))
        if len(files) != 1:
            raise BagInputError(f"--salvage needs one MCAP file; {path} holds {len(files)}")
        return files[0]
    if path.suffix != ".mcap":
        raise BagInputError(f"--salvage reads MCAP files only, got {path}")
    return path


def _qos_of(metadata: dict[str, str]) -> list[Any]:
    from rosbags.rosbag2.metadata import parse_qos

    text = metadata.get("offered_qos_profiles", "")
    try:
        return parse_qos(text) if text else []
    except Exception:
        return []


class SalvagedBag:
    """The readable part of a (truncated) MCAP file; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.storage_path = _mcap_file(self.path)
        self.notes: list[str] = []
        self.messages_read = 0
        self.last_timestamp: int | None = None
        self._connections: list[Connection] = []
        self._stop_reason = ""
        self._scan()

    def _records(self) -> Iterator[Any]:
        """Records up to the first one that cannot be read (then stops, reason kept)."""
        from mcap.stream_reader import StreamReader

        with self.storage_path.open("rb") as stream:
            reader = StreamReader(stream, emit_chunks=False, validate_crcs=True)
            records = reader.records
            while True:
                try:
                    yield next(records)
                except StopIteration:
                    return
                except Exception as error:
                    self._stop_reason = str(error).strip() or type(error).__name__
                    return

    def _scan(self) -> None:
        from mcap.records import Channel, Message, Schema

        schemas: dict[int, Any] = {}
        channels: dict[int, Any] = {}
        counts: Counter[int] = Counter()
        first = last = None
        for record in self._records():
            if isinstance(record, Schema):
                schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                counts[record.channel_id] += 1
                first = record.log_time if first is None else min(first, record.log_time)
                last = record.log_time if last is None else max(last, record.log_time)
        if not channels and not counts:
            raise BagInputError(f"cannot salvage {self.storage_path}: no readable MCAP records "
                                f"({self._stop_reason or 'empty file'})")
        for channel_id, channel in sorted(channels.items()):
            schema = schemas.get(channel.schema_id)
            definition = (MessageDefinition(_DEFINITION_FORMATS.get(schema.encoding, MessageDefinitionFormat.NONE),
                                            schema.data.decode("utf-8", errors="replace"))
                          if schema is not None else MessageDefinition(MessageDefinitionFormat.NONE, ""))
            self._connections.append(Connection(
                id=channel_id, topic=channel.topic, msgtype=schema.name if schema else "",
                msgdef=definition, digest="", msgcount=counts[channel_id],
                ext=ConnectionExtRosbag2(channel.message_encoding, _qos_of(channel.metadata)),
                owner=self))
        self._span_ns = (last - first) if first is not None and last is not None else 0
        total = sum(counts.values())
        if self._stop_reason:
            self.notes.append(f"salvaged {total} messages from {self.storage_path.name}; reading "
                              f"stopped at a damaged or missing record ({self._stop_reason}), the rest "
                              "of the recording is lost")
        else:
            self.notes.append(f"--salvage: {self.storage_path.name} read completely ({total} messages)")

    # ------------------------------------------------------ InputBag interface
    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between reads."""

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections)

    @property
    def storage_identifier(self) -> str:
        return "mcap (salvaged)"

    @property
    def topic_types(self) -> dict[str, str]:
        types: dict[str, set[str]] = {}
        for connection in self._connections:
            types.setdefault(connection.topic, set()).add(connection.msgtype)
        return {topic: " | ".join(sorted(t)) for topic, t in types.items()}

    def connections_of(self, topic: str) -> list[Connection]:
        return [c for c in self._connections if c.topic == topic]

    def message_count(self, topic: str) -> int:
        return sum(c.msgcount for c in self.connections_of(topic))

    @property
    def duration_s(self) -> float:
        return self._span_ns * 1e-9

    def messages(self, connections: Sequence[Connection]) -> Iterator[tuple[Connection, int, bytes]]:
        """``(connection, log time ns, CDR bytes)`` in file order, up to the damage."""
        from mcap.records import Message

        wanted = {c.id: c for c in connections}
        self.messages_read = 0
        self.last_timestamp = None
        for record in self._records():
            if isinstance(record, Message) and record.channel_id in wanted:
                self.messages_read += 1
                self.last_timestamp = record.log_time
                yield wanted[record.channel_id], record.log_time, bytes(record.data)


def open_salvaged(path: str | Path) -> SalvagedBag:
    """Open the readable part of a (truncated) MCAP file; :class:`BagInputError` if none."""
    return SalvagedBag(path)
