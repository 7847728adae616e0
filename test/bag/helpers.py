"""Readers of output bags and a bag rewriter for damaged inputs (shared by the bag tests)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ReadBack:
    """An output bag as rosbags reads it."""

    types: dict[str, str]
    counts: Counter[str]
    log_times: dict[str, list[int]]
    messages: dict[str, list[Any]]


def read_with_rosbags(path: Path, decode: tuple[str, ...] = ()) -> ReadBack:
    """Topics, counts and log times; messages of ``decode`` topics deserialised with the
    definitions stored in the bag itself (an independent type registration)."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    counts: Counter[str] = Counter()
    log_times: dict[str, list[int]] = defaultdict(list)
    messages: dict[str, list[Any]] = defaultdict(list)
    with Reader(path) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for connection in reader.connections:
            if connection.topic in decode and connection.msgtype not in store.types:
                store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        for connection, timestamp, raw in reader.messages():
            counts[connection.topic] += 1
            log_times[connection.topic].append(timestamp)
            if connection.topic in decode:
                messages[connection.topic].append(store.deserialize_cdr(raw, connection.msgtype))
    return ReadBack(types, counts, dict(log_times), dict(messages))


def read_with_mcap(path: Path) -> tuple[dict[str, str], Counter[str], dict[str, list[int]]]:
    """The same bag through the independent ``mcap`` reader: ``(topic -> schema name,
    message counts from the summary statistics, log times from the messages)``."""
    from mcap.reader import make_reader

    files = sorted(path.glob("*.mcap")) if path.is_dir() else [path]
    assert len(files) == 1, files
    with files[0].open("rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        schemas = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
        counts = Counter({summary.channels[cid].topic: n
                          for cid, n in summary.statistics.channel_message_counts.items()})
        log_times: dict[str, list[int]] = defaultdict(list)
        for _, channel, message in reader.iter_messages():
            log_times[channel.topic].append(message.log_time)
    return schemas, counts, dict(log_times)


def rewrite_bag(source: Path, target: Path, *, drop_topics: tuple[str, ...] = (),
                garbage: dict[str, set[int]] | None = None, skip: dict[str, set[int]] | None = None,
                padding_bytes: int = 0, storage: str = "mcap") -> None:
    """Copy a bag message by message, to make damaged or odd inputs.

    Args:
        drop_topics: topics left out.
        skip: ``{topic: message indices}`` left out.
        garbage: ``{topic: message indices}`` whose bytes are replaced by bytes that do not
            decode (a CDR header, then a string length far beyond the data).
        padding_bytes: after each message, a ``std_msgs/String`` of this size on ``/padding``
            (big bags with several MCAP chunks from a few frames).
    """
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    garbage = garbage or {}
    seen: Counter[str] = Counter()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Reader(source) as reader, Writer(target, version=9, storage_plugin=plugin) as writer:
        connections = {c.id: writer.add_connection(c.topic, c.msgtype, msgdef=c.msgdef.data, rihs01=c.digest)
                       for c in reader.connections if c.topic not in drop_topics}
        padding = (writer.add_connection("/padding", "std_msgs/msg/String", typestore=store)
                   if padding_bytes else None)
        for connection, timestamp, raw in reader.messages():
            if connection.id not in connections:
                continue
            index = seen[connection.topic]
            seen[connection.topic] += 1
            if index in (skip or {}).get(connection.topic, set()):
                continue
            if index in garbage.get(connection.topic, set()):
                raw = b"\x00\x01\x00\x00" + b"\x05\x00\x00\x00" * 2 + b"\xff\xff\xff\x7f" + b"\x01" * 7
            writer.write(connections[connection.id], timestamp, raw)
            if padding is not None:
                text = store.types["std_msgs/msg/String"](data="x" * padding_bytes)
                writer.write(padding, timestamp, store.serialize_cdr(text, "std_msgs/msg/String"))
