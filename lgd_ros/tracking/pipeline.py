"""The per-frame pipeline every front end shares: validate, track, fit (warm or cold).

The ROS node and the bag tool both feed frames of people's keypoints to a
:class:`BodyFittingPipeline` and turn its :class:`FrameResult` into messages, so
live and offline processing give the same bodies for the same input.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lgd_ros.tracking.observations import CameraModel, PersonObservation, validate_observations
from lgd_ros.tracking.tracker import Assignment, PersonTracker, TrackerConfig

if TYPE_CHECKING:
    from lgd_ros.fitting import FitResult, Fitter


def resolve_device(name: str | None) -> torch.device:
    """``auto``/empty -> CUDA when present, else CPU; anything else as torch understands it."""
    if not name or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


@dataclass(frozen=True)
class PipelineConfig:
    """Settings shared by the node and the bag tool (ROS parameters map onto these).

    Attributes:
        weights: learned fitter weights file; None = the weights shipped for each format.
        backend: ``torch``, ``onnxruntime`` (the whole fit as one exported graph, made
            on first use and cached) or ``tensorrt`` (CUDA GPU with TensorRT).
        body_model_path: SMPL model file; None = the open default body model.
        device: ``auto``, ``cpu``, ``cuda``, ...
        steps: update steps of a cold fit; None = the weights' default.
        warm_steps: update steps of a warm-started fit; None = the weights' default.
        max_people: people fitted per frame, highest detection score first.
        torch_threads: CPU threads for torch; 0 = torch's default. One is fastest for
            batch-1 fits (a few small matrix products per step: thread hand-offs cost more
            than they save, and on a loaded machine they stall), and keeps the other
            cores free for the detector and ROS.
        tracker: association settings.
    """

    weights: str | None = None
    backend: str = "torch"
    body_model_path: str | None = None
    device: str = "auto"
    steps: int | None = None
    warm_steps: int | None = None
    max_people: int = 10
    torch_threads: int = 1
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


@dataclass(frozen=True)
class BodyEstimate:
    """One person's fitted body in the camera optical frame (metres, radians).

    ``success`` False means the fit is not trustworthy (``message`` says why); its
    numbers are still the fitter's output, to be shown as such, never as a good fit.
    """

    track_id: int
    success: bool
    message: str
    pose: np.ndarray  # [72]
    betas: np.ndarray  # [10]
    transl: np.ndarray  # [3]
    joints: np.ndarray  # [24, 3]
    keypoints2d: np.ndarray  # [J, 2]
    mean_error_px: float
    quality: float
    steps_used: int
    warm_started: bool
    keypoint_format: str


@dataclass
class FrameResult:
    """One frame's outcome; ``fit_seconds`` is the time spent in the fitter (for a frame
    fitted in a batch with others, its share of the batch)."""

    stamp: float
    bodies: list[BodyEstimate]
    ended_track_ids: list[int]
    tracked_ids: list[int]
    skipped_people: int = 0
    tracker_reset: bool = False
    fit_seconds: float = 0.0


@dataclass(frozen=True)
class FitRequest:
    """One fitter call a frame needs (see :meth:`BodyFittingPipeline.process_steps`).

    Attributes:
        fmt: keypoint format (selects the fitter).
        keypoints: ``[B, J, 2]`` pixels (undistorted; missing keypoints as 0 with confidence 0).
        confidence: ``[B, J]``.
        intrinsics: ``[3, 3]`` camera matrix shared by the rows.
        init: warm start per row, or None for a cold fit.
        steps: update steps; None = the fitter's default.
    """

    fmt: str
    keypoints: np.ndarray
    confidence: np.ndarray
    intrinsics: torch.Tensor
    init: FitResult | None
    steps: int | None

    def run(self, fitter: Fitter) -> FitResult:
        return fitter.fit(self.keypoints, self.confidence, self.intrinsics, fmt=self.fmt, init=self.init,
                          steps=self.steps)


FrameSteps = Generator[FitRequest, "FitResult", FrameResult]
"""A frame in progress: yields the fits it needs, is sent their results, returns the frame."""


class BodyFittingPipeline:
    """Tracks people and fits each with the learned fitter, warm-starting known tracks."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        from lgd_ros.body import BodyModel

        self.config = config or PipelineConfig()
        self.device = resolve_device(self.config.device)
        if self.config.torch_threads > 0 and self.device.type == "cpu":
            torch.set_num_threads(self.config.torch_threads)
        self.body_model = BodyModel.load(self.config.body_model_path, device=self.device)
        self.tracker = PersonTracker(self.config.tracker)
        self._fitters: dict[str, object] = {}

    def with_new_tracker(self) -> BodyFittingPipeline:
        """A pipeline with its own (empty) tracker that shares this one's body model and
        loaded fitters: the bag tool runs one per stretch of a recording."""
        twin = copy.copy(self)
        twin.tracker = PersonTracker(self.config.tracker)
        return twin

    def fitter(self, fmt: str):  # -> Fitter | GraphFitter (imported lazily)
        """The fitter for a keypoint format on the configured backend, loaded on first use.

        A new fitter is prepared at once (the torch backend traces its cold and warm
        graphs, about 0.5 s), so only the first frame of a format waits, not also the
        first warm-started one.
        """
        from lgd_ros.export import load_fitter

        if fmt not in self._fitters:
            weights = Path(self.config.weights) if self.config.weights else None
            fitter = load_fitter(
                self.config.backend, weights, body_model=self.body_model, fmt=fmt,
                device=self.device, steps=self.config.steps, warm_steps=self.config.warm_steps)
            fitter.prepare(self.config.steps, self.config.warm_steps)
            self._fitters[fmt] = fitter
        return self._fitters[fmt]

    def preload(self, formats: Sequence[str]) -> None:
        """Load (and prepare) fitters ahead of the first frame: weights problems show at
        start-up, and the first frames are fitted as fast as the rest."""
        for fmt in formats:
            self.fitter(fmt)

    def process(self, stamp: float, people: Sequence[PersonObservation],
                camera: CameraModel) -> FrameResult:
        """Fit every person of one frame.

        Raises:
            InvalidObservationError: a person's keypoints cannot be fitted (nothing is changed).
            OutOfOrderStampError: ``stamp`` is not after the previous frame's.
            lgd_ros.fitting.errors.FittingError: weights missing / mismatching.
        """
        steps = self.process_steps(stamp, people, camera)
        fit_seconds = 0.0
        try:
            request = next(steps)
            while True:
                started = time.perf_counter()
                fitted = request.run(self.fitter(request.fmt))
                fit_seconds += time.perf_counter() - started
                request = steps.send(fitted)
        except StopIteration as finished:
            result: FrameResult = finished.value
        result.fit_seconds = fit_seconds
        return result

    def process_steps(self, stamp: float, people: Sequence[PersonObservation],
                      camera: CameraModel) -> FrameSteps:
        """:meth:`process` with the fits left to the caller: yields each
        :class:`FitRequest` and expects its :class:`~lgd_ros.fitting.FitResult` sent back.

        The bag tool drives many of these at once (one per stretch of a recording) and
        runs their requests as one batch; :meth:`process` runs them one by one. Raises
        what :meth:`process` raises (validation before the first request).
        """
        validate_observations(people)
        skipped = max(0, len(people) - self.config.max_people)
        if skipped:
            order = sorted(range(len(people)), key=lambda i: -people[i].score)
            people = [people[i] for i in sorted(order[: self.config.max_people])]
        people = [PersonObservation(camera.undistort(p.keypoints_px), p.confidence,
                                    p.keypoint_format, p.source_id, p.score) for p in people]
        association = self.tracker.update(stamp, people)
        bodies = yield from self._fit(stamp, people, association.assignments, camera)
        return FrameResult(stamp=stamp, bodies=bodies, ended_track_ids=association.ended_track_ids,
                           tracked_ids=self.tracker.track_ids, skipped_people=skipped,
                           tracker_reset=association.reset)

    def _fit(self, stamp: float, people: Sequence[PersonObservation], assignments: Sequence[Assignment],
             camera: CameraModel) -> Generator[FitRequest, FitResult, list[BodyEstimate]]:
        from lgd_ros.fitting import FitResult

        groups: dict[tuple[str, bool], list[Assignment]] = defaultdict(list)
        for assignment in assignments:
            fmt = people[assignment.person_index].keypoint_format
            groups[(fmt, assignment.warm_start is not None)].append(assignment)
        intrinsics = torch.as_tensor(camera.matrix, dtype=torch.float32)
        estimates: dict[int, BodyEstimate] = {}
        for (fmt, warm), members in groups.items():
            keypoints = np.stack([np.nan_to_num(people[a.person_index].keypoints_px) for a in members])
            confidence = np.stack([people[a.person_index].confidence for a in members])
            init = FitResult.concatenate([a.warm_start for a in members]) if warm else None
            steps = self.config.warm_steps if warm else self.config.steps
            result = yield FitRequest(fmt, keypoints, confidence, intrinsics, init, steps)
            warm_flags = [warm] * len(members)
            steps_used = [result.steps_used] * len(members)
            if warm and not bool(result.success.all()):
                # A warm start that went wrong (fast motion, a mis-association) gets a
                # second chance from scratch; keep whichever fit reprojects better.
                retry = [i for i in range(len(members)) if not bool(result.success[i])]
                cold = yield FitRequest(fmt, keypoints[retry], confidence[retry], intrinsics, None,
                                        self.config.steps)
                chosen = [result.select(row) for row in range(len(members))]
                for j, row in enumerate(retry):
                    steps_used[row] += cold.steps_used  # both attempts cost time
                    if bool(cold.success[j]) or float(cold.mean_error_px[j]) < float(
                            result.mean_error_px[row]):
                        chosen[row] = cold.select(j)
                        warm_flags[row] = False
                result = FitResult.concatenate(chosen)
            cpu = result.to("cpu")
            for row, assignment in enumerate(members):
                success = bool(cpu.success[row])
                if success:
                    self.tracker.record_fit(assignment.track_id, stamp, result.select(row))
                error = float(cpu.mean_error_px[row])
                estimates[assignment.person_index] = BodyEstimate(
                    track_id=assignment.track_id, success=success,
                    message="" if success else (
                        f"fit rejected: mean reprojection error {error:.1f} px or too few keypoints"),
                    pose=cpu.pose[row].numpy(), betas=cpu.betas[row].numpy(),
                    transl=cpu.transl[row].numpy(), joints=cpu.joints[row].numpy(),
                    keypoints2d=cpu.keypoints2d[row].numpy(), mean_error_px=error,
                    quality=float(cpu.quality[row]), steps_used=steps_used[row],
                    warm_started=warm_flags[row], keypoint_format=fmt)
        return [estimates[i] for i in sorted(estimates)]
