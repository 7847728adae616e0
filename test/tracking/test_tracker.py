"""Person association: stable ids through crossings and short occlusions."""

from __future__ import annotations

import numpy as np
import pytest

from lgd_ros.tracking.observations import PersonObservation
from lgd_ros.tracking.tracker import OutOfOrderStampError, PersonTracker, TrackerConfig

RNG = np.random.default_rng(0)
# A rough standing COCO-17 figure, 1 unit tall, feet at y=1 (image coordinates, y down).
FIGURE = np.array([
    [0.0, 0.05], [-0.03, 0.03], [0.03, 0.03], [-0.06, 0.05], [0.06, 0.05],
    [-0.15, 0.2], [0.15, 0.2], [-0.2, 0.4], [0.2, 0.4], [-0.22, 0.55], [0.22, 0.55],
    [-0.1, 0.55], [0.1, 0.55], [-0.1, 0.78], [0.1, 0.78], [-0.1, 1.0], [0.1, 1.0]])


def person(centre_x: float, height_px: float, top_y: float = 50.0, noise: float = 1.0) -> PersonObservation:
    keypoints = FIGURE * height_px + [centre_x, top_y] + RNG.normal(0, noise, FIGURE.shape)
    return PersonObservation(keypoints.astype(np.float32), np.full(17, 0.9, np.float32), "coco17")


@pytest.mark.parametrize(("height_a", "height_b", "top_b"), [(300, 200, 100), (250, 250, 60)])
def test_two_people_crossing_keep_their_ids(height_a: float, height_b: float, top_b: float) -> None:
    """A walks left->right, B right->left; they overlap mid-way (same size in the second case)."""
    tracker = PersonTracker()
    ids_a, ids_b = [], []
    for frame in range(60):
        t = frame / 30
        a = person(100 + 400 * t / 2, height_a)  # moving right
        b = person(500 - 400 * t / 2, height_b, top_y=top_b)  # moving left
        people = [a, b] if frame % 2 else [b, a]  # detector order must not matter
        result = tracker.update(t, people)
        by_person = {x.person_index: x.track_id for x in result.assignments}
        index_a = 1 if frame % 2 == 0 else 0
        ids_a.append(by_person[index_a])
        ids_b.append(by_person[1 - index_a])
    assert set(ids_a) == {ids_a[0]}
    assert set(ids_b) == {ids_b[0]}
    assert ids_a[0] != ids_b[0]


def test_short_occlusion_keeps_the_id_and_long_absence_ends_the_track() -> None:
    tracker = PersonTracker(TrackerConfig(max_age=0.5))
    first = tracker.update(0.0, [person(300, 250)]).assignments[0]
    assert first.is_new
    tracker.update(0.1, [])  # occluded for 0.3 s
    tracker.update(0.2, [])
    back = tracker.update(0.3, [person(302, 250)]).assignments[0]
    assert back.track_id == first.track_id and not back.is_new
    ended = tracker.update(1.0, []).ended_track_ids
    assert ended == [first.track_id]
    again = tracker.update(1.1, [person(302, 250)]).assignments[0]
    assert again.is_new and again.track_id != first.track_id


def test_a_new_person_far_away_gets_a_new_id() -> None:
    tracker = PersonTracker()
    a = tracker.update(0.0, [person(100, 250)]).assignments[0].track_id
    result = tracker.update(0.033, [person(102, 250), person(520, 250)])
    assert result.assignments[0].track_id == a
    assert result.assignments[1].is_new and result.assignments[1].track_id != a


def test_warm_start_comes_from_the_last_fit_within_the_gap() -> None:
    tracker = PersonTracker(TrackerConfig(warm_start_max_gap=0.2, max_age=2.0))
    track = tracker.update(0.0, [person(300, 250)]).assignments[0].track_id
    tracker.record_fit(track, 0.0, "fit@0")
    assert tracker.update(0.1, [person(300, 250)]).assignments[0].warm_start == "fit@0"
    # No fit recorded at 0.1; at 0.5 the last fit is 0.5 s old: cold start.
    assert tracker.update(0.5, [person(300, 250)]).assignments[0].warm_start is None


def test_out_of_order_stamps_are_refused_and_a_clock_jump_back_resets() -> None:
    tracker = PersonTracker()
    track = tracker.update(10.0, [person(300, 250)]).assignments[0].track_id
    with pytest.raises(OutOfOrderStampError, match="not after"):
        tracker.update(9.9, [person(300, 250)])
    result = tracker.update(2.0, [person(300, 250)])
    assert result.reset and result.ended_track_ids == [track]
    assert result.assignments[0].is_new
