"""Batched fitting across stretches of a bag ("lanes"), with the live pipeline unchanged.

Fitting one frame is dominated by per-call overhead (a warm fit of one person costs
about the same as of four), and frame ``t + 1`` of a track starts from frame ``t``'s fit,
so frames of one stretch cannot be batched. Frames of *different* stretches can: the
bag's frames are cut into ``L`` consecutive stretches, each run by its own
:class:`~lgd_ros.tracking.pipeline.BodyFittingPipeline` (own tracker, own warm starts,
shared body model and fitters). Each lane steps through its frames with
:meth:`~lgd_ros.tracking.pipeline.BodyFittingPipeline.process_steps`, which stops at every
fit it needs; when every lane is stopped, the waiting fits run as one batch per (format,
warm/cold, steps) group and each lane gets its rows back. Each lane makes exactly the calls
a sequential pipeline would make for its frames; only the batch they run in changes. All of
it runs in one thread: no locks, and the order of everything is fixed.

Where the stretches meet, lane ``k + 1`` starts ``warmup`` frames early: its tracker and
warm starts are then in the state a single pipeline would have at the seam (``warmup``
covers the track lifetime, so a person occluded across the seam is still matched), and
its results for those frames are dropped in favour of lane ``k``'s. Track ids are made
global by matching the people of the overlap frames, which both lanes fitted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
import torch

from lgd_ros.tracking.pipeline import BodyFittingPipeline, FitRequest, FrameResult, FrameSteps

__all__ = ["BatchStats", "LanePlan", "plan_lanes", "run_fit_requests", "run_lanes", "stitch_track_ids"]


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
class BatchStats:
    """How the fits ran: rounds (all lanes waiting) and fit batch sizes (rows -> batches)."""

    rounds: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)


FitReply = Any  # FitResult, or the exception the fit raised
"""What a lane is sent back for a :class:`FitRequest`."""


def run_fit_requests(pipeline: BodyFittingPipeline, requests: Sequence[FitRequest],
                     stats: BatchStats | None = None) -> tuple[list[FitReply], list[float]]:
    """Run requests as one fitter call per (format, warm/cold, steps) group.

    Returns, per request, its rows of the batch's result (or the exception its own fit
    raised, found by re-running a failed batch request by request) and its share of the
    fitting time (by rows).
    """
    from lgd_ros.fitting import FitResult

    replies: list[FitReply] = [None] * len(requests)
    seconds = [0.0] * len(requests)
    groups: dict[tuple[str, bool, int | None], list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault((request.fmt, request.init is not None, request.steps), []).append(index)
    for (fmt, warm, steps), members in groups.items():
        started = time.perf_counter()
        batch = [requests[i] for i in members]
        sizes = [len(r.keypoints) for r in batch]
        try:
            fitter = pipeline.fitter(fmt)
        except Exception as error:  # weights missing for a format first seen here: each frame's error
            for i in members:
                replies[i] = error
            continue
        try:
            result = fitter.fit(
                np.concatenate([r.keypoints for r in batch]), np.concatenate([r.confidence for r in batch]),
                torch.cat([torch.as_tensor(r.intrinsics).expand(n, 3, 3) for r, n in zip(batch, sizes, strict=True)]),
                fmt=fmt, init=FitResult.concatenate([r.init for r in batch]) if warm else None, steps=steps)
            row = 0
            for i, n in zip(members, sizes, strict=True):
                replies[i] = result.select(slice(row, row + n))
                row += n
        except Exception:
            for i in members:
                try:
                    replies[i] = requests[i].run(fitter)
                except Exception as error:
                    replies[i] = error
        elapsed = time.perf_counter() - started
        for i, n in zip(members, sizes, strict=True):
            seconds[i] = elapsed * n / max(1, sum(sizes))
        if stats is not None:
            stats.batch_sizes[sum(sizes)] += 1
    if stats is not None:
        stats.rounds += 1
    return replies, seconds


LaneOutcome = FrameResult | BaseException | None
"""Per frame: the pipeline's result, the exception it raised (invalid frame, stamp out of
order, fit error), or None (nothing to fit: the frame was not decodable)."""


class _Lane:
    """One stretch of frames stepped through its own pipeline, a fit at a time."""

    def __init__(self, plan: LanePlan, pipeline: BodyFittingPipeline,
                 frames: Sequence[tuple[float, Sequence[Any], Any] | None],
                 expected: tuple[type[BaseException], ...], on_progress: Callable[[int], None] | None) -> None:
        self.plan, self.pipeline, self.frames = plan, pipeline, frames
        self.expected, self.on_progress = expected, on_progress
        self.index = plan.warmup_start
        self.outcomes: list[LaneOutcome] = []
        self._steps: FrameSteps | None = None
        self._fit_seconds = 0.0

    def advance(self, reply: FitReply = None, fit_seconds: float = 0.0) -> FitRequest | None:
        """Hand the current frame its fit (``reply``; None to start) and run on to the next
        fit this lane needs; None when its frames are done."""
        self._fit_seconds += fit_seconds
        while True:
            if self._steps is None:
                if self.index >= self.plan.stop:
                    return None
                item = self.frames[self.index]
                if item is None:
                    self._finish(None)
                    continue
                self._steps, self._fit_seconds, reply = self.pipeline.process_steps(*item), 0.0, None
            outcome: LaneOutcome
            try:
                if reply is None:
                    return next(self._steps)
                if isinstance(reply, BaseException):
                    return self._steps.throw(reply)
                return self._steps.send(reply)
            except StopIteration as finished:
                outcome = finished.value
                outcome.fit_seconds = self._fit_seconds
            except self.expected as error:
                outcome = error
            self._finish(outcome)
            reply = None

    def _finish(self, outcome: LaneOutcome) -> None:
        self.outcomes.append(outcome)
        if self.on_progress is not None and self.index >= self.plan.start:
            self.on_progress(1)
        self._steps = None
        self.index += 1


def run_lanes(frames: Sequence[tuple[float, Sequence[Any], Any] | None], plans: Sequence[LanePlan],
              shared: BodyFittingPipeline, expected: tuple[type[BaseException], ...],
              on_progress: Callable[[int], None] | None = None) -> tuple[list[list[LaneOutcome]], BatchStats]:
    """Run every lane over its frames; returns each lane's outcomes for ``warmup_start..stop``.

    Args:
        frames: per frame ``(stamp, people, camera)``, or None for frames to skip.
        shared: the pipeline whose body model and fitters (weights) all lanes use.
        expected: exceptions of ``pipeline.process`` that are per-frame outcomes; anything
            else stops every lane and is raised.
        on_progress: called with 1 for every frame a lane finished.
    """
    stats = BatchStats()
    lanes = [_Lane(plan, shared.with_new_tracker(), frames, expected, on_progress) for plan in plans]
    waiting = [(lane, request) for lane in lanes if (request := lane.advance()) is not None]
    while waiting:
        replies, seconds = run_fit_requests(shared, [request for _, request in waiting], stats)
        waiting = [(lane, request) for (lane, _), reply, share in zip(waiting, replies, seconds, strict=True)
                   if (request := lane.advance(reply, share)) is not None]
    return [lane.outcomes for lane in lanes], stats


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
