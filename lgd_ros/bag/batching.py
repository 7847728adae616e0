"""Batched fitting across stretches of a bag ("lanes"), with the live pipeline unchanged.

Fitting one frame is dominated by per-call overhead (a warm fit of one person costs
about the same as of four), and frame ``t + 1`` of a track starts from frame ``t``'s fit,
so frames of one stretch cannot be batched. Frames of *different* stretches can: the
bag's frames are cut into ``L`` consecutive stretches, each run by its own
:class:`~lgd_ros.tracking.pipeline.BodyFittingPipeline` (own tracker, own warm starts) in
its own thread, and whenever every lane is waiting for a fit, the waiting fits run as one
batch per (format, warm/cold, steps) group. Each lane makes exactly the calls a
sequential pipeline would make for its frames; only the batch they run in changes.

Where the stretches meet, lane ``k + 1`` starts ``warmup`` frames early: its tracker and
warm starts are then in the state a single pipeline would have at the seam (``warmup``
covers the track lifetime, so a person occluded across the seam is still matched), and
its results for those frames are dropped in favour of lane ``k``'s. Track ids are made
global by matching the people of the overlap frames, which both lanes fitted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import torch

from lgd_ros.tracking.pipeline import BodyFittingPipeline, FrameResult, PipelineConfig

__all__ = ["FitCoordinator", "LanePlan", "plan_lanes", "run_lanes", "stitch_track_ids"]


@dataclass(frozen=True)
class LanePlan:
    """Frames ``[start, stop)`` are this lane's results; it runs from ``warmup_start``."""

    warmup_start: int
    start: int
    stop: int


def plan_lanes(frames: int, lanes: int, warmup: int) -> list[LanePlan]:
    """Cut ``frames`` into ``lanes`` equal stretches, each but the first starting ``warmup``
    frames early."""
    lanes = max(1, min(lanes, frames))
    bounds = [round(i * frames / lanes) for i in range(lanes + 1)]
    return [LanePlan(max(0, a - warmup) if i else 0, a, b)
            for i, (a, b) in enumerate(pairwise(bounds)) if b > a]


@dataclass
class _Request:
    fitter: Any
    keypoints: Any
    confidence: Any
    intrinsics: torch.Tensor
    init: Any
    steps: int
    result: Any = None
    error: BaseException | None = None
    done: bool = False

    @property
    def key(self) -> tuple[int, bool, int]:
        return id(self.fitter), self.init is not None, self.steps

    def __len__(self) -> int:
        return len(self.keypoints)


class FitCoordinator:
    """Collects the fits lane threads ask for and runs each round as batches.

    A round runs when every unfinished lane is waiting for a fit; the thread that
    completes the round runs it (outside the lock) and wakes the others.
    """

    def __init__(self, lanes: int) -> None:
        self._condition = threading.Condition()
        self._active = lanes
        self._waiting: list[_Request] = []
        self.rounds = 0
        self.batch_sizes: Counter[int] = Counter()

    def submit(self, fitter: Any, keypoints: Any, confidence: Any, intrinsics: Any, init: Any,
               steps: int | None) -> Any:
        """Called by a lane in place of ``fitter.fit``; blocks until the round ran."""
        if steps is None:
            steps = fitter.default_warm_steps if init is not None else fitter.default_steps
        matrix = torch.as_tensor(intrinsics)
        request = _Request(fitter, keypoints, confidence, matrix.expand(len(keypoints), 3, 3)
                           if matrix.dim() == 2 else matrix, init, int(steps))
        with self._condition:
            self._waiting.append(request)
            batch = self._take_round()
        if batch is not None:
            self._execute(batch)
        with self._condition:
            while not request.done:
                self._condition.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def lane_finished(self) -> None:
        """A lane has no more frames: the others may no longer wait for it."""
        with self._condition:
            self._active -= 1
            batch = self._take_round()
        if batch is not None:
            self._execute(batch)

    def _take_round(self) -> list[_Request] | None:
        if self._waiting and len(self._waiting) >= self._active:
            batch, self._waiting = self._waiting, []
            return batch
        return None

    def _execute(self, batch: list[_Request]) -> None:
        try:
            groups: dict[tuple[int, bool, int], list[_Request]] = {}
            for request in batch:
                groups.setdefault(request.key, []).append(request)
            for members in groups.values():
                self._run_group(members)
                self.batch_sizes[sum(len(r) for r in members)] += 1
            self.rounds += 1
        except BaseException as error:
            for request in batch:
                if request.result is None and request.error is None:
                    request.error = error
        finally:
            with self._condition:
                for request in batch:
                    request.done = True
                self._condition.notify_all()

    @staticmethod
    def _run_group(members: list[_Request]) -> None:
        from lgd_ros.fitting import FitResult

        fitter = members[0].fitter
        try:
            result = fitter.fit(
                torch.cat([torch.as_tensor(r.keypoints) for r in members]),
                torch.cat([torch.as_tensor(r.confidence) for r in members]),
                torch.cat([r.intrinsics.to(torch.float64) for r in members]),
                init=FitResult.concatenate([r.init for r in members]) if members[0].init is not None
                else None,
                steps=members[0].steps)
        except Exception:
            for request in members:
                try:
                    request.result = fitter.fit(request.keypoints, request.confidence, request.intrinsics,
                                                init=request.init, steps=request.steps)
                except Exception as error:
                    request.error = error
            return
        start = 0
        for request in members:
            request.result = result.select(slice(start, start + len(request)))
            start += len(request)


class _BatchedFitter:
    """What a lane's pipeline sees as its fitter: ``fit`` goes through the coordinator."""

    def __init__(self, fitter: Any, coordinator: FitCoordinator) -> None:
        self._fitter = fitter
        self._coordinator = coordinator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fitter, name)

    def fit(self, keypoints: Any, confidence: Any, intrinsics: Any, fmt: str | None = None,
            init: Any = None, steps: int | None = None) -> Any:
        if fmt is not None and fmt != self._fitter.fmt:
            return self._fitter.fit(keypoints, confidence, intrinsics, fmt=fmt, init=init, steps=steps)
        return self._coordinator.submit(self._fitter, keypoints, confidence, intrinsics, init, steps)


class _LanePipeline(BodyFittingPipeline):
    """The live pipeline, its fitters routed through a :class:`FitCoordinator`."""

    def __init__(self, config: PipelineConfig, shared: BodyFittingPipeline,
                 coordinator: FitCoordinator) -> None:
        super().__init__(config)
        self.body_model = shared.body_model  # one model in memory; fits use shared's fitters
        self._shared = shared
        self._coordinator = coordinator
        self._wrapped: dict[str, _BatchedFitter] = {}

    def fitter(self, fmt: str) -> Any:
        if fmt not in self._wrapped:
            self._wrapped[fmt] = _BatchedFitter(self._shared.fitter(fmt), self._coordinator)
        return self._wrapped[fmt]


LaneOutcome = FrameResult | BaseException | None
"""Per frame: the pipeline's result, the exception it raised (invalid frame, stamp out of
order, fit error), or None (nothing to fit: the frame was not decodable)."""


def run_lanes(frames: Sequence[tuple[float, Sequence[Any], Any] | None], plans: Sequence[LanePlan],
              shared: BodyFittingPipeline, expected: tuple[type[BaseException], ...],
              on_progress: Callable[[int], None] | None = None) -> tuple[list[list[LaneOutcome]], FitCoordinator]:
    """Run every lane over its frames; returns each lane's outcomes for ``warmup_start..stop``.

    Args:
        frames: per frame ``(stamp, people, camera)``, or None for frames to skip.
        shared: the pipeline whose fitters (weights) all lanes use.
        expected: exceptions of ``pipeline.process`` that are per-frame outcomes; anything
            else stops every lane and is raised.
        on_progress: called with 1 for every frame a lane finished (from lane threads).
    """
    coordinator = FitCoordinator(len(plans))
    pipelines = [_LanePipeline(shared.config, shared, coordinator) for _ in plans]
    outcomes: list[list[LaneOutcome]] = [[] for _ in plans]
    failures: list[BaseException] = []

    def lane(index: int) -> None:
        plan, pipeline = plans[index], pipelines[index]
        try:
            for frame in range(plan.warmup_start, plan.stop):
                item = frames[frame]
                outcome: LaneOutcome = None
                if item is not None and not failures:
                    try:
                        outcome = pipeline.process(*item)
                    except expected as error:
                        outcome = error
                outcomes[index].append(outcome)
                if on_progress is not None and frame >= plan.start:
                    on_progress(1)
        except BaseException as error:
            failures.append(error)
        finally:
            coordinator.lane_finished()

    threads = [threading.Thread(target=lane, args=(i,), name=f"lgd_bag_lane_{i}", daemon=True)
               for i in range(len(plans))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return outcomes, coordinator


def _ids_of(result: LaneOutcome) -> list[int]:
    return [b.track_id for b in result.bodies] if isinstance(result, FrameResult) else []


def stitch_track_ids(plans: Sequence[LanePlan], outcomes: list[list[LaneOutcome]]) -> list[LaneOutcome]:
    """One outcome per frame with global track ids.

    Lane 0 keeps its ids. For lane ``k + 1``, each of its ids is matched to the global id
    lane ``k`` gave the same person (same position in the same frame's bodies) in the
    overlap frames, the latest frame first; ids without a match become new ids.
    """
    merged: list[LaneOutcome] = []
    previous: dict[int, LaneOutcome] = {}  # frame -> lane k's (already global) outcome
    next_id = 0
    for plan, lane in zip(plans, outcomes, strict=True):
        by_frame = {plan.warmup_start + i: outcome for i, outcome in enumerate(lane)}
        mapping: dict[int, int] = {}
        used: set[int] = set()
        for frame in range(plan.start - 1, plan.warmup_start - 1, -1):  # latest overlap frame first
            ours, theirs = _ids_of(by_frame.get(frame)), _ids_of(previous.get(frame))
            if len(ours) != len(theirs):
                continue
            for local, global_id in zip(ours, theirs, strict=True):
                if local not in mapping and global_id not in used:
                    mapping[local] = global_id
                    used.add(global_id)
        kept = [by_frame[f] for f in range(plan.start, plan.stop)]
        for outcome in kept:  # ids first seen after the seam get fresh global ids, in order
            if isinstance(outcome, FrameResult):
                for local in [*outcome.tracked_ids, *(b.track_id for b in outcome.bodies)]:
                    if local not in mapping:
                        while next_id in used:
                            next_id += 1
                        mapping[local] = next_id
                        used.add(next_id)
        relabelled = [_relabel(outcome, mapping) for outcome in kept]
        for outcome in relabelled:
            if isinstance(outcome, FrameResult):
                used.update(b.track_id for b in outcome.bodies)
        merged += relabelled
        previous = {plan.start + i: outcome for i, outcome in enumerate(relabelled)}
        next_id = max([next_id, *used]) + 1 if used else next_id
    return merged


def _relabel(outcome: LaneOutcome, mapping: dict[int, int]) -> LaneOutcome:
    if not isinstance(outcome, FrameResult):
        return outcome
    return replace(outcome, bodies=[replace(b, track_id=mapping[b.track_id]) for b in outcome.bodies],
                   # a track that ended without ever being reported has no global id: dropped
                   ended_track_ids=[mapping[i] for i in outcome.ended_track_ids if i in mapping],
                   tracked_ids=sorted(mapping[i] for i in outcome.tracked_ids))
