"""Who is who across frames: stable person ids and the state that warm-starts each fit.

Association is on 2D keypoints, because they are what every input has: the
cost of pairing a track with a detected person is the mean distance between
the track's *predicted* keypoints (constant velocity per keypoint) and the
person's, over keypoints both see, divided by the track's size in the image,
plus a term for a change of size (people crossing at different depths keep
different sizes even where their keypoints overlap). Pairs are chosen by the
Hungarian algorithm under a gate; unmatched people start new tracks, tracks
unseen for ``max_age`` seconds end.

Time: stamps must increase. A stamp at or before the last one processed is
refused (:class:`OutOfOrderStampError`); a jump back by more than
``clock_reset_after`` seconds (a bag restarted, a simulator reset) clears every
track instead, since nothing before it can be trusted to continue.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from lgd_ros.tracking.errors import TrackingError
from lgd_ros.tracking.observations import PersonObservation


class OutOfOrderStampError(TrackingError):
    """A frame arrived with a stamp at or before one already processed."""


@dataclass(frozen=True)
class TrackerConfig:
    """Association and lifetime settings (ROS parameters / CLI options map onto these).

    Attributes:
        max_age: seconds a track survives without a matching person (short occlusions).
        match_threshold: gate on the association cost (mean keypoint distance in units
            of the person's image size, plus the size-change term); above it a person
            starts a new track.
        scale_weight: weight of ``|log(size ratio)|`` in the cost.
        min_common_keypoints: fewer keypoints seen by both track and person than this
            forbids the pairing.
        warm_start_max_gap: seconds since a track's last fit within which it seeds the next.
        clock_reset_after: a stamp this many seconds before the last one resets the tracker.
        min_confidence: keypoints below this confidence are ignored for association.
    """

    max_age: float = 1.0
    match_threshold: float = 0.6
    scale_weight: float = 0.5
    min_common_keypoints: int = 3
    warm_start_max_gap: float = 0.5
    clock_reset_after: float = 1.0
    min_confidence: float = 0.2


@dataclass
class Track:
    """One person followed over time."""

    track_id: int
    keypoint_format: str
    keypoints_px: np.ndarray
    confidence: np.ndarray
    last_seen: float
    velocity_px: np.ndarray
    hits: int = 1
    last_fit: Any = None
    last_fit_stamp: float = -np.inf

    def predicted_keypoints(self, stamp: float) -> np.ndarray:
        return self.keypoints_px + self.velocity_px * (stamp - self.last_seen)


@dataclass(frozen=True)
class Assignment:
    """The track a person of the current frame belongs to.

    Attributes:
        person_index: index in the frame's people list.
        track_id: stable id.
        is_new: the track starts with this frame.
        warm_start: the track's previous fit (as given to :meth:`PersonTracker.record_fit`)
            if recent enough to seed this one, else None.
    """

    person_index: int
    track_id: int
    is_new: bool
    warm_start: Any = None


@dataclass
class FrameAssociation:
    assignments: list[Assignment] = field(default_factory=list)
    ended_track_ids: list[int] = field(default_factory=list)
    reset: bool = False


def _size(keypoints: np.ndarray, visible: np.ndarray) -> float:
    """Diagonal of the visible keypoints' box, pixels (at least 1)."""
    if visible.sum() < 2:
        return 1.0
    points = keypoints[visible]
    return float(max(np.linalg.norm(points.max(0) - points.min(0)), 1.0))


class PersonTracker:
    """Associates people across frames and keeps each track's last fit."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: dict[int, Track] = {}
        self._ids = itertools.count()
        self._last_stamp: float | None = None

    @property
    def tracks(self) -> dict[int, Track]:
        return dict(self._tracks)

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    def reset(self) -> list[int]:
        """Forget every track (ids are not reused); return the ids that ended."""
        ended = self.track_ids
        self._tracks.clear()
        self._last_stamp = None
        return ended

    def expire(self, stamp: float) -> list[int]:
        """End tracks unseen for more than ``max_age`` at ``stamp``; return their ids."""
        ended = [i for i, t in self._tracks.items() if stamp - t.last_seen > self.config.max_age]
        for track_id in ended:
            del self._tracks[track_id]
        return sorted(ended)

    def update(self, stamp: float, people: Sequence[PersonObservation]) -> FrameAssociation:
        """Assign every person of the frame at ``stamp`` (seconds) to a track.

        Raises:
            OutOfOrderStampError: ``stamp`` is not after the last processed one
                (and not far enough back to count as a clock reset).
        """
        result = FrameAssociation()
        if self._last_stamp is not None:
            if stamp < self._last_stamp - self.config.clock_reset_after:
                result.ended_track_ids = self.reset()
                result.reset = True
            elif stamp <= self._last_stamp:
                raise OutOfOrderStampError(
                    f"frame stamped {stamp:.6f} s is not after the last processed frame "
                    f"({self._last_stamp:.6f} s); dropped")
        self._last_stamp = stamp
        result.ended_track_ids += self.expire(stamp)

        track_list = list(self._tracks.values())
        cost = self._cost_matrix(stamp, track_list, people)
        matched_people: set[int] = set()
        if cost.size:
            rows, cols = linear_sum_assignment(cost)
            for row, col in zip(rows, cols):
                if cost[row, col] > self.config.match_threshold:
                    continue
                track = track_list[row]
                self._update_track(track, stamp, people[col])
                warm = track.last_fit if stamp - track.last_fit_stamp <= self.config.warm_start_max_gap \
                    else None
                result.assignments.append(Assignment(col, track.track_id, False, warm))
                matched_people.add(col)
        for index, person in enumerate(people):
            if index in matched_people:
                continue
            track = Track(track_id=next(self._ids), keypoint_format=person.keypoint_format,
                          keypoints_px=np.nan_to_num(np.asarray(person.keypoints_px, np.float64)),
                          confidence=np.asarray(person.confidence, np.float64), last_seen=stamp,
                          velocity_px=np.zeros((len(person.confidence), 2)))
            self._tracks[track.track_id] = track
            result.assignments.append(Assignment(index, track.track_id, True, None))
        result.assignments.sort(key=lambda a: a.person_index)
        return result

    def record_fit(self, track_id: int, stamp: float, fit: Any) -> None:
        """Keep ``fit`` as the warm start for the track's next frame."""
        track = self._tracks.get(track_id)
        if track is not None:
            track.last_fit = fit
            track.last_fit_stamp = stamp

    def _cost_matrix(self, stamp: float, tracks: Sequence[Track],
                     people: Sequence[PersonObservation]) -> np.ndarray:
        cfg = self.config
        cost = np.full((len(tracks), len(people)), np.inf)
        for row, track in enumerate(tracks):
            predicted = track.predicted_keypoints(stamp)
            track_visible = track.confidence >= cfg.min_confidence
            track_size = _size(track.keypoints_px, track_visible)
            for col, person in enumerate(people):
                if person.keypoint_format != track.keypoint_format:
                    continue
                keypoints = np.asarray(person.keypoints_px, np.float64)
                visible = np.asarray(person.confidence) >= cfg.min_confidence
                common = track_visible & visible & np.all(np.isfinite(keypoints), axis=1)
                if common.sum() < cfg.min_common_keypoints:
                    continue
                distance = np.linalg.norm(predicted[common] - keypoints[common], axis=1).mean()
                size = _size(np.nan_to_num(keypoints), visible)
                cost[row, col] = distance / track_size + cfg.scale_weight * abs(np.log(size / track_size))
        # linear_sum_assignment needs finite entries: forbidden pairs get a cost
        # above any gate, then are filtered out by the threshold.
        return np.where(np.isfinite(cost), cost, 1e6)

    def _update_track(self, track: Track, stamp: float, person: PersonObservation) -> None:
        keypoints = np.asarray(person.keypoints_px, np.float64)
        confidence = np.asarray(person.confidence, np.float64)
        visible = (confidence >= self.config.min_confidence) & np.all(np.isfinite(keypoints), axis=1)
        both = visible & (track.confidence >= self.config.min_confidence)
        dt = stamp - track.last_seen
        if dt > 0:
            # Smoothed velocity per keypoint, from keypoints seen in both frames.
            new_velocity = np.zeros_like(track.velocity_px)
            new_velocity[both] = (keypoints[both] - track.keypoints_px[both]) / dt
            track.velocity_px = 0.5 * track.velocity_px + 0.5 * new_velocity
        # Keep the last known position of keypoints not seen now.
        track.keypoints_px = np.where(visible[:, None], keypoints, track.keypoints_px)
        track.confidence = np.where(visible, confidence, track.confidence * 0.5)
        track.last_seen = stamp
        track.hits += 1
