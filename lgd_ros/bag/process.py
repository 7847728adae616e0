"""Offline processing of a rosbag2: the live node's pipeline, without ROS, faster than real time.

``process_bag(IN, OUT)`` reads people's keypoints (``lgd_ros/PersonKeypointsArray``) or
camera images (``sensor_msgs/Image``, through the BlazePose detector) plus
``sensor_msgs/CameraInfo``, runs :class:`lgd_ros.tracking.pipeline.BodyFittingPipeline`
(validate, track, warm-started fit) frame by frame in log-time order, and writes an MCAP
rosbag2 at ``OUT`` holding what the node would have published for each frame -- bodies,
``/tf``, markers, tracked ids -- stamped like the input message (same header, same log
time), plus a copy of every input message unless ``include_inputs`` is off.

Differences from the live node, all because a bag can look ahead and never drops:

* every frame is fitted (the node drops frames when fitting falls behind);
* frames before the first CameraInfo use the bag's first usable CameraInfo (the node
  drops them);
* mesh markers are rate-limited by the frames' stamps, not by wall time.

Batching: frame ``t + 1`` of a track starts from frame ``t``'s fit (warm start), so the
frames of one stretch are fitted in order; a long keypoint bag is cut into stretches
("lanes") fitted side by side, their fits batched (:mod:`lgd_ros.bag.batching`). Each lane
is the node's pipeline; lanes overlap by the track lifetime so results at the seams match
a single pass. Image bags (detection dominates) and ``lanes=1`` run strictly frame by frame.

Robustness: the output is written incrementally and the writer is closed in ``finally``,
so whatever was written before an error (or Ctrl-C) is a valid bag. A message that does
not decode is counted and skipped; a damaged storage file, a missing topic or missing
weights stop the run with a :class:`~lgd_ros.bag.errors.BagError` naming the problem.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lgd_ros.bag.errors import (
    BagError,
    BagOutputError,
    BagProcessingError,
    BagTopicError,
    MessageDecodeError,
)
from lgd_ros.bag.messages import MARKER_ARRAY_TYPE, TF_MESSAGE_TYPE, BodyMessageFactory
from lgd_ros.bag.params import LoadedParameters, pipeline_config
from lgd_ros.bag.reader import (
    InputBag,
    InputTopics,
    MessageDecoder,
    select_topics,
)
from lgd_ros.bag.typestore import FITTED_BODY_ARRAY, HRI_IDS_LIST, output_typestore
from lgd_ros.tracking.body_frames import MarkerMesh, body_frame_arrays
from lgd_ros.tracking.errors import (
    CameraModelError,
    InvalidObservationError,
    TrackingError,
)
from lgd_ros.tracking.observations import CameraModel, PersonObservation
from lgd_ros.tracking.pipeline import FrameResult

__all__ = ["BagOptions", "BagReport", "FrameOutput", "process_bag"]

TF_TOPIC = "/tf"


@dataclass(frozen=True)
class BagOptions:
    """How one bag is processed.

    Attributes:
        keypoints_topic / image_topic / camera_info_topic: input topics; None = found by
            message type (see :func:`lgd_ros.bag.reader.select_topics`).
        parameters: the node's parameters (``--params-file``), detector settings included.
        include_inputs: copy every input message into the output.
        overwrite: replace an existing output bag (never anything that is not a bag).
        progress: show a progress bar (frames/s, ETA) on stderr.
        compress: zstd-compress the output's MCAP chunks (smaller, slower).
        salvage: read a truncated MCAP (no footer) up to its last complete record.
        lanes: fit this many stretches of a keypoint bag side by side, batching their fits
            (:mod:`lgd_ros.bag.batching`); None = chosen from the bag's length, 1 = strictly
            frame by frame like the node.
    """

    keypoints_topic: str | None = None
    image_topic: str | None = None
    camera_info_topic: str | None = None
    parameters: LoadedParameters = field(default_factory=LoadedParameters)
    include_inputs: bool = True
    overwrite: bool = False
    progress: bool = True
    compress: bool = False
    salvage: bool = False
    lanes: int | None = None


@dataclass
class BagReport:
    """What a run did; printed by the CLI, read by the demo and benchmarks.

    Frame counts refer to messages of the frame topic (keypoints or images).
    """

    input_path: Path
    output_path: Path
    input_storage: str = ""
    topics: InputTopics | None = None
    frames_total: int = 0
    frames_fitted: int = 0
    frames_invalid: int = 0
    frames_out_of_order: int = 0
    frames_fit_error: int = 0
    frames_before_camera_info: int = 0
    decode_failures: Counter[str] = field(default_factory=Counter)
    decode_failure_examples: list[str] = field(default_factory=list)
    invalid_examples: list[str] = field(default_factory=list)
    camera_info_rejected: int = 0
    bodies: int = 0
    failed_fits: int = 0
    track_ids: set[int] = field(default_factory=set)
    most_people_in_a_frame: int = 0
    reprojection_errors_px: list[float] = field(default_factory=list)
    messages_written: Counter[str] = field(default_factory=Counter)
    input_messages_copied: int = 0
    frame_span_s: float = 0.0
    wall_seconds: float = 0.0
    detect_seconds: float = 0.0
    fit_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    body_model: str = ""
    notes_batching: str = ""

    @property
    def frames_per_second(self) -> float:
        return self.frames_total / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def input_rate_hz(self) -> float:
        """Frame rate of the input (frames over their stamp span)."""
        return (self.frames_total - 1) / self.frame_span_s if self.frame_span_s > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Bag time processed per wall second (20 = twenty times faster than real time)."""
        return self.frame_span_s / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def mean_reprojection_error_px(self) -> float:
        errors = self.reprojection_errors_px
        return float(np.mean(errors)) if errors else math.nan

    @property
    def people(self) -> int:
        """Distinct track ids with at least one successful fit (a person who is lost and found
        again counts twice)."""
        return len(self.track_ids)

    def summary_lines(self) -> list[str]:
        """A one-screen summary."""
        t = self.topics
        lines = [
            f"input   {self.input_path} ({self.input_storage})",
            f"        frames from {t.frame_topic} ({t.frame_kind}), camera {t.camera_info}" if t else "",
            f"output  {self.output_path} (mcap)",
            f"frames  {self.frames_total} read, {self.frames_fitted} fitted"
            + (f", {self.frames_invalid} invalid" if self.frames_invalid else "")
            + (f", {self.frames_out_of_order} out of order" if self.frames_out_of_order else "")
            + (f", {self.frames_fit_error} fit errors" if self.frames_fit_error else ""),
            (f"people  up to {self.most_people_in_a_frame} per frame, {self.people} track ids; "
             f"{self.bodies} bodies, {self.failed_fits} failed fits; "
             f"mean reprojection error {self.mean_reprojection_error_px:.1f} px"),
            (f"speed   {self.frames_per_second:.1f} frames/s in {self.wall_seconds:.1f} s "
             f"({self.realtime_factor:.1f}x real time at {self.input_rate_hz:.1f} Hz input)"),
            "written " + ", ".join(f"{topic} {count}" for topic, count in sorted(self.messages_written.items()))
            + (f"; {self.input_messages_copied} input messages copied" if self.input_messages_copied else ""),
        ]
        if self.decode_failures:
            failures = ", ".join(f"{topic} {n}" for topic, n in sorted(self.decode_failures.items()))
            lines.append(f"decode  {sum(self.decode_failures.values())} messages did not decode ({failures}); "
                         f"first: {self.decode_failure_examples[0]}")
        if self.invalid_examples:
            lines.append(f"invalid first: {self.invalid_examples[0]}")
        if self.notes_batching:
            lines.append(f"batched {self.notes_batching}")
        lines += [f"note    {w}" for w in self.warnings]
        return [line for line in lines if line]


@dataclass(frozen=True)
class FrameOutput:
    """One fitted frame, for callers that want more than the bag (demo, tests)."""

    log_time_ns: int
    stamp_s: float
    result: Any  # lgd_ros.tracking.pipeline.FrameResult
    camera: CameraModel


def _stamp_seconds(header: Any) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def _absolute(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _is_single_file(output: Path) -> bool:
    """``OUT.mcap`` asks for one MCAP file; anything else is a rosbag2 directory."""
    return output.suffix == ".mcap"


def _staging_dir(output: Path) -> Path:
    """Where a single-file output is written before it is moved to its name."""
    return output.parent / f".{output.name}.partial"


def _remove_bag_directory(directory: Path, what: str) -> None:
    allowed = {".mcap", ".db3", ".yaml", ".zstd"}
    foreign = [p.name for p in directory.iterdir() if p.is_dir() or p.suffix not in allowed]
    if foreign:
        raise BagOutputError(f"{what} {directory} exists and holds more than a bag "
                             f"({', '.join(sorted(foreign)[:5])}); not deleting it")
    shutil.rmtree(directory)


def prepare_output_path(output: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse to clobber anything but a previous output bag.

    ``output`` is a rosbag2 directory, or one MCAP file when it ends in ``.mcap``.

    Raises:
        BagOutputError: ``output`` exists and ``overwrite`` is off; or it is not a bag of the
            kind asked for (never deleted); or it is (or contains) the input.
    """
    resolved = output.resolve()
    for source in inputs:
        source = source.resolve()
        if resolved == source or resolved in source.parents:
            raise BagOutputError(f"output bag {output} would overwrite the input {source}")
    if not output.parent.exists():
        raise BagOutputError(f"cannot write output bag {output}: directory {output.parent} does not exist")
    if _is_single_file(output) and _staging_dir(output).is_dir():  # left by a killed run
        _remove_bag_directory(_staging_dir(output), "unfinished output")
    if not output.exists() and not output.is_symlink():
        return
    if not overwrite:
        raise BagOutputError(f"output bag {output} exists; pass --overwrite to replace it")
    if output.is_symlink():
        raise BagOutputError(f"output {output} is a symbolic link; not deleting it, choose another path")
    if _is_single_file(output):
        if not output.is_file():
            raise BagOutputError(f"output {output} exists and is not an MCAP file; not deleting it")
        with output.open("rb") as stream:
            if stream.read(8) != b"\x89MCAP0\r\n":
                raise BagOutputError(f"output {output} exists and is not an MCAP file; not deleting it")
        output.unlink()
        return
    if not output.is_dir():
        raise BagOutputError(f"output {output} exists and is not a rosbag2 directory; "
                             "not deleting it, choose another output path")
    _remove_bag_directory(output, "output")


class _OutputBag:
    """The MCAP writer plus its connections; every write is counted.

    A directory output is written in place. A single-file output (``OUT.mcap``) is written
    as a bag in a hidden sibling directory and its MCAP file moved to ``OUT`` on
    :meth:`close` (which runs in ``finally``, so also after an error).
    """

    def __init__(self, path: Path, compress: bool) -> None:
        from rosbags.rosbag2 import (
            CompressionFormat,
            CompressionMode,
            StoragePlugin,
            Writer,
            WriterError,
        )

        self._writer_error = WriterError
        self.path = path
        self.bag_dir = _staging_dir(path) if _is_single_file(path) else path
        self.writer = Writer(self.bag_dir, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        if compress:
            self.writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        try:
            self.writer.open()
        except (WriterError, OSError) as error:
            raise BagOutputError(f"cannot create output bag {path}: {error}") from error
        self.counts: Counter[str] = Counter()

    def add(self, topic: str, msgtype: str, **kwargs: Any) -> Any:
        try:
            return self.writer.add_connection(topic, msgtype, **kwargs)
        except self._writer_error as error:
            raise BagOutputError(f"cannot add topic {topic} ({msgtype}) to {self.path}: {error}") from error

    def write(self, connection: Any, log_time_ns: int, data: bytes | memoryview) -> None:
        try:
            self.writer.write(connection, log_time_ns, data)
        except OSError as error:
            raise BagOutputError(f"cannot write to output bag {self.path}: {error.strerror or error}") from error
        self.counts[connection.topic] += 1

    def close(self) -> None:
        if self.writer.storage is not None:
            self.writer.close()
        if self.bag_dir != self.path and self.bag_dir.is_dir():
            (file,) = self.bag_dir.glob("*.mcap")
            file.replace(self.path)
            shutil.rmtree(self.bag_dir)


def _camera_model(msg: Any) -> CameraModel:
    """``sensor_msgs/CameraInfo`` -> camera model with its own (writable) arrays: rosbags'
    arrays are read-only views of the message bytes."""
    import dataclasses

    from lgd_ros.ros.conversions import camera_model_from_camera_info

    camera = camera_model_from_camera_info(msg)
    return dataclasses.replace(camera, matrix=camera.matrix.copy(), distortion=camera.distortion.copy())


def _first_camera(bag: InputBag, decoder: MessageDecoder, topic: str) -> tuple[CameraModel, float]:
    """The bag's first usable CameraInfo (and its log time, s).

    Raises:
        BagTopicError: no message on the topic gives a usable camera model.
    """
    first_problem = "the topic has no messages"
    for connection, timestamp, raw in bag.messages(bag.connections_of(topic)):
        try:
            return _camera_model(decoder.decode(connection, raw, timestamp)), timestamp * 1e-9
        except (MessageDecodeError, CameraModelError) as error:
            if first_problem == "the topic has no messages":
                first_problem = str(error)
    raise BagTopicError(f"no usable CameraInfo on {topic} in {bag.path}: {first_problem}")


def _first_formats(bag: InputBag, decoder: MessageDecoder, topic: str, limit: int = 50) -> set[str]:
    """Keypoint formats of the first decodable keypoint messages (to load weights up front)."""
    formats: set[str] = set()
    for index, (connection, timestamp, raw) in enumerate(bag.messages(bag.connections_of(topic))):
        try:
            formats |= {p.keypoint_format for p in decoder.decode(connection, raw, timestamp).people}
        except MessageDecodeError:
            pass
        if formats or index >= limit:
            break
    return formats


def process_bag(input_path: str | Path, output_path: str | Path, options: BagOptions | None = None,
                *, on_frame: Callable[[FrameOutput], None] | None = None) -> BagReport:
    """Fit every frame of an input bag and write the results to an MCAP bag.

    Args:
        input_path: rosbag2 directory, or a ``.mcap`` / ``.db3`` file.
        output_path: rosbag2 directory to create (MCAP storage).
        options: topics, parameters, copying and overwrite behaviour.
        on_frame: called after each fitted frame (e.g. to draw it).

    Returns:
        A :class:`BagReport`.

    Raises:
        BagInputError, BagTopicError, BagOutputError, BagProcessingError, ParamsFileError,
        MessageDefinitionError: fatal problems; the message names the file or topic.
        Whatever was written before a fatal error stays a valid bag at ``output_path``.
    """
    options = options or BagOptions()
    input_path, output_path = Path(input_path), Path(output_path)
    report = BagReport(input_path=input_path, output_path=output_path)
    report.warnings += list(options.parameters.warnings)
    started = time.perf_counter()
    if output_path.exists() and not options.overwrite:  # fail fast, before any loading
        prepare_output_path(output_path, [input_path], overwrite=False)
    typestore = output_typestore()
    with _open_input(input_path, options.salvage) as bag:
        report.input_storage = bag.storage_identifier
        report.warnings += bag.notes
        fit = options.parameters.fit
        topics = select_topics(
            bag.topic_types, input_path, keypoints_topic=options.keypoints_topic,
            image_topic=options.image_topic, camera_info_topic=options.camera_info_topic,
            hints={"keypoints_topic": fit.keypoints_topic, "image_topic": fit.image_topic,
                   "camera_info_topic": fit.camera_info_topic})
        report.topics = topics
        frame_connections = bag.connections_of(topics.frame_topic)
        camera_connections = bag.connections_of(topics.camera_info)
        decoder = MessageDecoder(output_typestore(), frame_connections + camera_connections, input_path)
        initial_camera, first_camera_time = _first_camera(bag, decoder, topics.camera_info)
        pipeline = _make_pipeline(options.parameters)
        detector = None
        try:
            if topics.frame_kind == "image":
                detector = _make_detector(options.parameters)
                _preload(pipeline, {detector.keypoint_format})
            else:
                _preload(pipeline, _first_formats(bag, decoder, topics.frame_topic))
            prepare_output_path(output_path, [input_path, bag.storage_path], options.overwrite)
            output = _OutputBag(output_path, options.compress)
            try:
                _run(bag, decoder, topics, pipeline, detector, initial_camera, first_camera_time,
                     output, typestore, options, report, on_frame)
            except BagError as error:
                raise type(error)(f"{error} (output so far, {report.frames_fitted} fitted frames, "
                                  f"is a valid bag at {output_path})") from error
            finally:
                output.close()
                report.messages_written = Counter({t: n for t, n in output.counts.items()})
                report.wall_seconds = time.perf_counter() - started
        finally:
            if detector is not None:
                detector.close()
    return report


def _open_input(path: Path, salvage: bool) -> Any:
    if salvage:
        from lgd_ros.bag.salvage import open_salvaged

        return open_salvaged(path)
    return InputBag(path)


def _make_pipeline(parameters: LoadedParameters) -> Any:
    from lgd_ros.tracking.pipeline import BodyFittingPipeline

    try:
        return BodyFittingPipeline(pipeline_config(parameters.fit))
    except Exception as error:  # BodyModelError, a CUDA device that is not there, ...
        raise BagProcessingError(f"cannot load the body model for fitting: {error}") from error


def _make_detector(parameters: LoadedParameters) -> Any:
    from lgd_ros.detect import BlazePoseConfig, BlazePoseDetector, DetectError

    try:
        return BlazePoseDetector(BlazePoseConfig(**parameters.detector))
    except DetectError as error:
        raise BagProcessingError(f"cannot start the image detector: {error}") from error


def _preload(pipeline: Any, formats: set[str]) -> None:
    """Load (and prepare) the fitter of each format now, so a missing file stops the run
    before output."""
    from lgd_ros.body.errors import KeypointFormatError
    from lgd_ros.fitting.errors import WeightsError

    for fmt in sorted(formats):
        try:
            pipeline.preload([fmt])
        except WeightsError as error:
            raise BagProcessingError(f"cannot load the fitter for keypoint format {fmt!r}: {error}") from error
        except KeypointFormatError:
            pass  # an unknown format is a per-frame problem (counted as invalid), not fatal


class _FrameWriter:
    """Creates the output topics and writes one input frame's outputs, as the node
    publishes them (``_publish`` / ``_publish_markers`` in ``lgd_ros/ros/fit_node.py``)."""

    def __init__(self, bag: InputBag, output: _OutputBag, typestore: Any, pipeline: Any,
                 options: BagOptions, report: BagReport) -> None:
        fit = options.parameters.fit
        self.output, self.fit, self.report = output, fit, report
        self.factory = BodyMessageFactory(typestore)
        self.serialize = typestore.serialize_cdr
        self.model = pipeline.body_model
        report.body_model = self.model.name
        output_topics = {_absolute(fit.bodies_topic), _absolute(fit.markers_topic), TF_TOPIC}
        if fit.tracked_topic:
            output_topics.add(_absolute(fit.tracked_topic))
        # Input copies first, so an input /tf connection carries our transforms too.
        self.copies: dict[int, Any] = {}
        tf_connection = None
        if options.include_inputs:
            for connection in bag.connections:
                if connection.topic in output_topics and not (
                        connection.topic == TF_TOPIC and connection.msgtype == TF_MESSAGE_TYPE):
                    report.warnings.append(f"input topic {connection.topic} ({connection.msgtype}) not "
                                           "copied: this run writes its own")
                    continue
                copy = _copy_connection(output, connection, typestore, report)
                if copy is not None:
                    self.copies[connection.id] = copy
                    if connection.topic == TF_TOPIC and tf_connection is None:
                        tf_connection = copy
        self.bodies = output.add(_absolute(fit.bodies_topic), FITTED_BODY_ARRAY, typestore=typestore)
        if fit.publish_tf and tf_connection is None:
            tf_connection = output.add(TF_TOPIC, TF_MESSAGE_TYPE, typestore=typestore)
        self.tf = tf_connection if fit.publish_tf else None
        self.markers = (output.add(_absolute(fit.markers_topic), MARKER_ARRAY_TYPE, typestore=typestore)
                        if fit.publish_markers else None)
        self.tracked = (output.add(_absolute(fit.tracked_topic), HRI_IDS_LIST, typestore=typestore)
                        if fit.tracked_topic else None)
        self.mesher = MarkerMesh(self.model, fit.mesh_decimation_m) if (
            fit.publish_markers and fit.mesh_rate_hz > 0) else None
        self._last_mesh_stamp = -math.inf

    def copy(self, connection: Any, timestamp: int, raw: bytes) -> None:
        if connection.id in self.copies:
            self.output.write(self.copies[connection.id], timestamp, raw)
            self.report.input_messages_copied += 1

    def write_frame(self, timestamp: int, header: Any, result: Any,
                    tf_arrays: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Outputs of one fitted frame, all with the input's header and log time.

        Args:
            tf_arrays: :func:`~lgd_ros.tracking.body_frames.body_frame_arrays` of the
                frame's successful bodies, when computed ahead for many frames at once.
        """
        fit, factory, report = self.fit, self.factory, self.report
        report.frames_fitted += 1
        report.fit_seconds += result.fit_seconds
        self.output.write(self.bodies, timestamp, self.serialize(
            factory.fitted_body_array(header, result.bodies, self.model.name, self.model.fingerprint),
            FITTED_BODY_ARRAY))
        good = [b for b in result.bodies if b.success]
        report.bodies += len(result.bodies)
        report.failed_fits += len(result.bodies) - len(good)
        report.track_ids.update(b.track_id for b in good)
        report.most_people_in_a_frame = max(report.most_people_in_a_frame, len(good))
        report.reprojection_errors_px += [b.mean_error_px for b in good]
        if self.tf is not None and good:
            self.output.write(self.tf, timestamp, factory.encode_tf(good, header, tf_arrays))
        if self.markers is not None:
            stamp = _stamp_seconds(header)
            markers = factory.delete_markers(result.ended_track_ids, header)
            markers += [factory.skeleton_marker(b.track_id, b.joints, header, fit.marker_lifetime_s)
                        for b in good]
            if stamp < self._last_mesh_stamp:
                self._last_mesh_stamp = -math.inf  # the clock went back (a looped recording)
            if self.mesher is not None and good and stamp - self._last_mesh_stamp >= 1.0 / fit.mesh_rate_hz:
                self._last_mesh_stamp = stamp
                markers += [factory.mesh_marker(b.track_id, v, self.mesher.faces, header, fit.marker_lifetime_s)
                            for b, v in zip(good, self.mesher.vertices(good), strict=True)]
            if markers:
                self.output.write(self.markers, timestamp, factory.encode_markers(markers))
        if self.tracked is not None:
            self.output.write(self.tracked, timestamp,
                              self.serialize(factory.ids_list(header, result.tracked_ids), HRI_IDS_LIST))


@dataclass
class _Frame:
    """A decoded frame: header for the outputs, and what the pipeline needs."""

    header: Any
    stamp: float
    people: list[PersonObservation]
    camera: CameraModel


class _FrameReader:
    """Turns frame messages into :class:`_Frame` s (decode, detect, camera), counting failures."""

    def __init__(self, decoder: MessageDecoder, topics: InputTopics, detector: Any,
                 initial_camera: CameraModel, factory: BodyMessageFactory, report: BagReport) -> None:
        self.decoder, self.topics, self.detector = decoder, topics, detector
        self.initial_camera, self.factory, self.report = initial_camera, factory, report
        self.camera: CameraModel | None = None
        self.first_stamp: float | None = None
        self.last_stamp = 0.0

    def camera_info(self, connection: Any, timestamp: int, raw: bytes) -> None:
        try:
            self.camera = _camera_model(self.decoder.decode(connection, raw, timestamp))
        except MessageDecodeError as error:
            self.note_decode_failure(connection.topic, error)
        except CameraModelError:
            self.report.camera_info_rejected += 1

    def note_decode_failure(self, topic: str, error: Exception) -> None:
        self.report.decode_failures[topic] += 1
        if len(self.report.decode_failure_examples) < 3:
            self.report.decode_failure_examples.append(str(error))

    def note_invalid(self, error: BaseException, counter: str = "frames_invalid") -> None:
        setattr(self.report, counter, getattr(self.report, counter) + 1)
        if len(self.report.invalid_examples) < 3:
            self.report.invalid_examples.append(str(error))

    def frame(self, connection: Any, timestamp: int, raw: bytes) -> _Frame | None:
        """The frame, or None (decode failure or invalid input, counted)."""
        from lgd_ros.ros.conversions import (
            image_to_rgb,
            observations_from_detections,
            observations_from_msg,
        )

        self.report.frames_total += 1
        try:
            msg = self.decoder.decode(connection, raw, timestamp)
        except MessageDecodeError as error:
            self.note_decode_failure(connection.topic, error)
            return None
        stamp = _stamp_seconds(msg.header)
        self.first_stamp = stamp if self.first_stamp is None else self.first_stamp
        self.last_stamp = stamp
        camera = self.camera
        if camera is None:
            self.report.frames_before_camera_info += 1
            camera = self.initial_camera
        try:
            if self.topics.frame_kind == "keypoints":
                people: list[PersonObservation] = observations_from_msg(msg)
            else:
                started = time.perf_counter()
                people = observations_from_detections(self.detector.detect(image_to_rgb(msg)))
                self.report.detect_seconds += time.perf_counter() - started
        except (InvalidObservationError, ValueError) as error:  # detect's ImageInputError is a ValueError
            self.note_invalid(error)
            return None
        return _Frame(self.factory.copy_header(msg.header), stamp, people, camera)


def _pipeline_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of ``pipeline.process`` kept as a frame's outcome (:func:`_account` turns a
    weights error among them into a fatal one)."""
    from lgd_ros.fitting.errors import FittingError

    return InvalidObservationError, TrackingError, FittingError


def _account(outcome: Any, frames: _FrameReader) -> bool:
    """Count a per-frame pipeline failure; True if ``outcome`` is a result to write.

    Raises:
        BagProcessingError: the weights failed to load (not a per-frame problem).
    """
    from lgd_ros.fitting.errors import WeightsError

    if isinstance(outcome, WeightsError):
        raise BagProcessingError(f"cannot fit: {outcome}") from outcome
    if isinstance(outcome, InvalidObservationError):
        frames.note_invalid(outcome)
    elif isinstance(outcome, TrackingError):
        frames.report.frames_out_of_order += 1
    elif isinstance(outcome, BaseException):
        frames.note_invalid(outcome, "frames_fit_error")
    return outcome is not None and not isinstance(outcome, BaseException)


def _run_sequential(bag: InputBag, frames: _FrameReader, writer: _FrameWriter, pipeline: Any,
                    wanted: list[Any], frame_ids: set[int], camera_ids: set[int], progress: Any,
                    on_frame: Callable[[FrameOutput], None] | None) -> None:
    """One pass, frame by frame, exactly as the node (used for images, and lanes=1)."""
    expected = _pipeline_errors()
    for connection, timestamp, raw in bag.messages(wanted):
        writer.copy(connection, timestamp, raw)
        if connection.id in camera_ids:
            frames.camera_info(connection, timestamp, raw)
        if connection.id not in frame_ids:
            continue
        progress.update(1)
        frame = frames.frame(connection, timestamp, raw)
        if frame is None:
            continue
        try:
            outcome: Any = pipeline.process(frame.stamp, frame.people, frame.camera)
        except expected as error:
            outcome = error
        if _account(outcome, frames):
            writer.write_frame(timestamp, frame.header, outcome)
            if on_frame is not None:
                on_frame(FrameOutput(timestamp, frame.stamp, outcome, frame.camera))
            if frames.report.frames_total % 10 == 0:
                progress.set_postfix(people=len(outcome.tracked_ids), refresh=False)


def _run_batched(bag: InputBag, frames: _FrameReader, writer: _FrameWriter, pipeline: Any,
                 wanted: list[Any], frame_ids: set[int], camera_ids: set[int], progress: Any,
                 on_frame: Callable[[FrameOutput], None] | None, lanes: int, warmup: int,
                 report: BagReport) -> None:
    """Two passes: decode every frame, fit the lanes side by side (:mod:`lgd_ros.bag.batching`),
    then stream the input again and write each frame's outputs in order."""
    from lgd_ros.bag.batching import plan_lanes, run_lanes, stitch_track_ids

    decoded: list[_Frame | None] = []
    keys: list[tuple[int, int]] = []
    for connection, timestamp, raw in bag.messages([c for c in bag.connections if c.id in frame_ids | camera_ids]):
        if connection.id in camera_ids:
            frames.camera_info(connection, timestamp, raw)
        else:
            decoded.append(frames.frame(connection, timestamp, raw))
            keys.append((connection.id, timestamp))
    plans = plan_lanes(len(decoded), lanes, warmup)
    expected = _pipeline_errors()
    outcomes, stats = run_lanes(
        [(f.stamp, f.people, f.camera) if f is not None else None for f in decoded], plans, pipeline,
        expected, on_progress=progress.update)
    merged = stitch_track_ids(plans, outcomes)
    sizes = stats.batch_sizes
    report.notes_batching = (f"{len(plans)} lanes ({warmup} warm-up frames each), {stats.rounds} "
                             f"rounds, mean fit batch {sum(k * v for k, v in sizes.items()) / max(1, sum(sizes.values())):.1f}")
    tf_arrays = _tf_arrays(merged) if writer.tf is not None else {}
    pending: dict[tuple[int, int], deque[int]] = {}
    for index, key in enumerate(keys):
        pending.setdefault(key, deque()).append(index)
    for connection, timestamp, raw in bag.messages(wanted):
        writer.copy(connection, timestamp, raw)
        if connection.id not in frame_ids:
            continue
        queue = pending.get((connection.id, timestamp))
        position = queue.popleft() if queue else None
        if position is None or decoded[position] is None:
            continue
        frame, outcome = decoded[position], merged[position]
        assert frame is not None
        if _account(outcome, frames):
            writer.write_frame(timestamp, frame.header, outcome, tf_arrays.get(position))
            if on_frame is not None:
                on_frame(FrameOutput(timestamp, frame.stamp, outcome, frame.camera))


def _tf_arrays(outcomes: list[Any]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per frame index, the TF numbers of its successful bodies, computed in one call."""
    rows = [(index, body) for index, outcome in enumerate(outcomes) if isinstance(outcome, FrameResult)
            for body in outcome.bodies if body.success]
    if not rows:
        return {}
    translations, rotations = body_frame_arrays(np.stack([b.pose for _, b in rows]),
                                                np.stack([b.joints for _, b in rows]))
    spans: dict[int, list[int]] = {}
    for row, (index, _) in enumerate(rows):
        spans.setdefault(index, []).append(row)
    return {index: (translations[r[0]:r[-1] + 1], rotations[r[0]:r[-1] + 1]) for index, r in spans.items()}


def _run(bag: InputBag, decoder: MessageDecoder, topics: InputTopics, pipeline: Any, detector: Any,
         initial_camera: CameraModel, first_camera_time: float, output: _OutputBag, typestore: Any,
         options: BagOptions, report: BagReport, on_frame: Callable[[FrameOutput], None] | None) -> None:
    from tqdm import tqdm  # type: ignore[import-untyped]

    writer = _FrameWriter(bag, output, typestore, pipeline, options, report)
    frames = _FrameReader(decoder, topics, detector, initial_camera, writer.factory, report)
    frame_ids = {c.id for c in bag.connections_of(topics.frame_topic)}
    camera_ids = {c.id for c in bag.connections_of(topics.camera_info)}
    wanted = bag.connections if options.include_inputs else [
        c for c in bag.connections if c.id in frame_ids | camera_ids]
    total = bag.message_count(topics.frame_topic)
    lanes, warmup = _lane_count(options, topics, total, bag.duration_s)
    progress = tqdm(total=total, unit="frame", desc="fitting", file=sys.stderr, disable=not options.progress,
                    dynamic_ncols=True, mininterval=0.5)
    try:
        if lanes > 1:
            _run_batched(bag, frames, writer, pipeline, wanted, frame_ids, camera_ids, progress, on_frame,
                         lanes, warmup, report)
        else:
            _run_sequential(bag, frames, writer, pipeline, wanted, frame_ids, camera_ids, progress, on_frame)
    finally:
        progress.close()
        report.frame_span_s = (frames.last_stamp - frames.first_stamp) if frames.first_stamp is not None else 0.0
    if report.frames_total == 0:
        report.warnings.append(f"{topics.frame_topic} has no messages: nothing was fitted")
    if report.frames_before_camera_info:
        report.warnings.append(
            f"{report.frames_before_camera_info} frames came before the first CameraInfo and used "
            f"the bag's first usable one (log time {first_camera_time:.3f} s)")
    if report.camera_info_rejected:
        report.warnings.append(f"{report.camera_info_rejected} unusable CameraInfo messages ignored "
                               "(the previous camera model was kept)")


MIN_FRAMES_PER_LANE = 4
"""A lane covers at least this many times its warm-up frames (bounds the overlap cost)."""


def _lane_count(options: BagOptions, topics: InputTopics, frames: int, duration_s: float) -> tuple[int, int]:
    """Lanes and warm-up frames for this bag (1 lane = the node's frame-by-frame order).

    Warm-up covers the track lifetime (and the warm-start gap) at the bag's frame rate, so
    each lane's tracker reaches the seam in the state a single pipeline would have.
    """
    fit = options.parameters.fit
    rate = frames / duration_s if duration_s > 0 else 30.0
    warmup = math.ceil(max(fit.track_max_age_s, fit.warm_start_max_gap_s) * rate) + 2
    if topics.frame_kind != "keypoints" or options.salvage:  # detection dominates; file order
        return 1, warmup
    if options.lanes is not None:
        return max(1, options.lanes), warmup
    return max(1, min(MAX_AUTO_LANES, frames // (MIN_FRAMES_PER_LANE * warmup))), warmup


MAX_AUTO_LANES = 16
"""Most lanes chosen automatically (a warm fit batch of 16 costs ~1.5x one of 1)."""


def _copy_connection(output: _OutputBag, connection: Any, typestore: Any, report: BagReport) -> Any:
    """The output connection a copied input topic is written on (None = cannot be copied)."""
    from rosbags.interfaces import ConnectionExtRosbag2, MessageDefinitionFormat

    qos = list(connection.ext.offered_qos_profiles) if isinstance(connection.ext, ConnectionExtRosbag2) else []
    definition = connection.msgdef
    has_definition = definition.format != MessageDefinitionFormat.NONE and bool(definition.data.strip())
    digest = connection.digest or (_definition_hash(connection.msgtype, definition) if has_definition else "")
    if has_definition and digest:
        kwargs: dict[str, Any] = {"msgdef": definition.data, "rihs01": digest}
    elif connection.msgtype in typestore.types:
        kwargs = {"typestore": typestore}
    else:
        report.warnings.append(f"input topic {connection.topic} ({connection.msgtype}) not copied: "
                               "the bag holds no definition of its type")
        return None
    for existing in output.writer.connections:  # a second publisher with the same QoS
        if existing.topic == connection.topic and existing.msgtype == connection.msgtype and \
                isinstance(existing.ext, ConnectionExtRosbag2) and list(existing.ext.offered_qos_profiles) == qos:
            return existing
    return output.add(connection.topic, connection.msgtype, offered_qos_profiles=qos, **kwargs)


def _definition_hash(msgtype: str, definition: Any) -> str:
    """RIHS01 hash of a type from the definition a bag carries ("" if it does not parse).

    Single ``.mcap`` files (no ``metadata.yaml``) carry definitions but no hashes.
    """
    from rosbags.interfaces import MessageDefinitionFormat
    from rosbags.typesys import (
        Stores,
        get_types_from_idl,
        get_types_from_msg,
        get_typestore,
    )

    store = get_typestore(Stores.EMPTY)
    try:
        if definition.format == MessageDefinitionFormat.IDL:
            store.register(get_types_from_idl(definition.data))
        else:
            store.register(get_types_from_msg(definition.data, msgtype))
        return str(store.hash_rihs01(msgtype))
    except Exception:
        return ""
