"""Batched lanes (lgd_ros.bag.batching) give the frame-by-frame results: same frames, same
track ids across the seams, the same fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lgd_ros.bag.batching import BatchStats, LanePlan, plan_lanes, run_fit_requests, stitch_track_ids
from lgd_ros.bag.params import FitParameters, LoadedParameters
from lgd_ros.bag.process import BagOptions, process_bag
from lgd_ros.tracking.pipeline import BodyEstimate, FrameResult

from .helpers import read_with_rosbags


def test_lanes_cover_every_frame_once_and_overlap_by_the_warm_up() -> None:
    plans = plan_lanes(100, 4, 10)
    assert [(p.start, p.stop) for p in plans] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    assert [p.warmup_start for p in plans] == [0, 15, 40, 65]
    assert plan_lanes(3, 8, 10) == [LanePlan(0, 0, 1), LanePlan(0, 1, 2), LanePlan(0, 2, 3)]


def _result(ids: list[int], ended: list[int] | None = None) -> FrameResult:
    bodies = [BodyEstimate(i, True, "", np.zeros(72), np.zeros(10), np.zeros(3), np.zeros((24, 3)),
                           np.zeros((17, 2)), 1.0, 1.0, 2, True, "coco17") for i in ids]
    return FrameResult(0.0, bodies, ended or [], sorted(ids))


def test_stitching_maps_ids_through_the_overlap() -> None:
    plans = [LanePlan(0, 0, 4), LanePlan(2, 4, 7)]
    lane0 = [_result([0]), _result([0, 1]), _result([0, 1]), _result([0, 1])]
    # Lane 1 met the same two people in the other order of creation, then a third.
    lane1 = [_result([0, 1]), _result([0, 1]), _result([0, 1], ended=[5]), _result([1, 2], ended=[0]),
             _result([1, 2])]
    swapped = [_result([1, 0]) for _ in range(2)]
    merged = stitch_track_ids(plans, [lane0, swapped + lane1[2:]])
    assert [[b.track_id for b in r.bodies] for r in merged] == [[0], [0, 1], [0, 1], [0, 1], [1, 0], [0, 2],
                                                                  [0, 2]]
    assert merged[4].ended_track_ids == []  # 5 was never reported: dropped
    assert merged[5].ended_track_ids == [1]
    assert merged[6].tracked_ids == [0, 2]


def test_batched_requests_equal_single_fits(any_weights: Path) -> None:
    """Requests of three 'lanes' run as one batch give each lane its own fit; a request
    the fitter refuses gets its own error without failing the others."""
    import torch

    from lgd_ros.fitting.errors import FittingError
    from lgd_ros.tracking.pipeline import BodyFittingPipeline, FitRequest, PipelineConfig
    from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

    pipeline = BodyFittingPipeline(PipelineConfig(weights=str(any_weights), device="cpu"))
    fitter = pipeline.fitter("coco17")
    scene = walking_scene([WalkingPerson(-0.5, 3.0, 0.2), WalkingPerson(0.6, 3.5, -0.2, 4, 1)], 3)
    k = torch.as_tensor(default_intrinsics(), dtype=torch.float32)
    requests = [FitRequest("coco17", np.stack([p.keypoints_px for p in f.people]),
                           np.stack([p.confidence for p in f.people]), k, None, None) for f in scene]
    stats = BatchStats()
    replies, seconds = run_fit_requests(pipeline, requests, stats)
    assert stats.rounds == 1 and stats.batch_sizes == {6: 1}
    assert all(s > 0 for s in seconds)
    for request, reply in zip(requests, replies, strict=True):
        alone = request.run(fitter)
        assert torch.allclose(reply.pose, alone.pose, atol=1e-4)
        assert torch.allclose(reply.transl, alone.transl, atol=1e-4)

    bad = FitRequest("coco17", np.zeros((1, 5, 2)), np.ones((1, 5)), k, None, None)  # 5 keypoints, not 17
    replies, _ = run_fit_requests(pipeline, [requests[0], bad])
    assert torch.allclose(replies[0].pose, requests[0].run(fitter).pose, atol=1e-4)
    assert isinstance(replies[1], FittingError)


def test_batched_lanes_match_frame_by_frame(make_bag, any_weights: Path, tmp_path: Path) -> None:
    """Same frames, same track ids across the seams, fits as good. Not the same numbers:
    a warm-started chain keeps a trace of where it began (depth especially), and a lane's
    chain begins at its warm-up, not at the start of the bag."""
    bag = make_bag(frames=45, people=2, noise_px=1.0)
    fit = FitParameters(weights=str(any_weights), device="cpu", track_max_age_s=0.2, warm_start_max_gap_s=0.1)
    runs = {}
    for lanes in (1, 3):
        report = process_bag(bag.path, tmp_path / f"out{lanes}", BagOptions(
            parameters=LoadedParameters(fit=fit), progress=False, lanes=lanes, include_inputs=False))
        runs[lanes] = (report, read_with_rosbags(tmp_path / f"out{lanes}",
                                                 decode=("/bodies", "/humans/bodies/tracked")))
    (sequential, seq_bag), (batched, lane_bag) = runs[1], runs[3]
    assert batched.notes_batching.startswith("3 lanes")
    assert batched.frames_fitted == sequential.frames_fitted == 45
    assert lane_bag.counts == seq_bag.counts and lane_bag.log_times == seq_bag.log_times
    assert [m.ids for m in lane_bag.messages["/humans/bodies/tracked"]] == \
        [m.ids for m in seq_bag.messages["/humans/bodies/tracked"]]
    statuses, depth_errors, pixel_errors = [], {1: [], 3: []}, {1: [], 3: []}
    for frame, (ours, theirs) in enumerate(zip(lane_bag.messages["/bodies"], seq_bag.messages["/bodies"],
                                               strict=True)):
        assert [b.track_id for b in ours.bodies] == [b.track_id for b in theirs.bodies]
        for person, (a, b) in enumerate(zip(ours.bodies, theirs.bodies, strict=True)):
            statuses.append(a.fit_status == b.fit_status)
            for lanes, body in ((3, a), (1, b)):
                depth_errors[lanes].append(abs(body.translation.z - bag.true_transl[frame, person, 2]))
                pixel_errors[lanes].append(body.mean_reprojection_error_px)
    assert np.mean(statuses) > 0.9
    assert np.mean(depth_errors[3]) < np.mean(depth_errors[1]) + 0.1
    assert np.mean(pixel_errors[3]) == pytest.approx(np.mean(pixel_errors[1]), rel=0.25, abs=1.0)


def test_lanes_keep_per_frame_failures_and_match_the_pipeline(any_weights: Path) -> None:
    """Undecodable (None) and invalid frames are outcomes in their place; every other frame
    is what a pipeline running the lane's frames one by one gives."""
    import dataclasses

    import torch

    from lgd_ros.bag.batching import run_lanes
    from lgd_ros.tracking.errors import InvalidObservationError, TrackingError
    from lgd_ros.tracking.observations import CameraModel
    from lgd_ros.tracking.pipeline import BodyFittingPipeline, PipelineConfig
    from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

    camera = CameraModel(default_intrinsics())
    scene = walking_scene([WalkingPerson(-0.5, 3.0, 0.2), WalkingPerson(0.6, 3.5, -0.2, 4, 1)], 12)
    frames: list = [(f.stamp, f.people, camera) for f in scene]
    frames[3] = None
    broken = dataclasses.replace(scene[7].people[0], keypoints_px=scene[7].people[0].keypoints_px[:5])
    frames[7] = (scene[7].stamp, [broken], camera)
    shared = BodyFittingPipeline(PipelineConfig(weights=str(any_weights), device="cpu"))
    plans = plan_lanes(len(frames), 3, 2)
    outcomes, stats = run_lanes(frames, plans, shared, (InvalidObservationError, TrackingError))
    assert stats.rounds > 0 and sum(stats.batch_sizes.values()) >= stats.rounds
    for plan, lane in zip(plans, outcomes, strict=True):
        assert len(lane) == plan.stop - plan.warmup_start
        alone = shared.with_new_tracker()
        for index, outcome in zip(range(plan.warmup_start, plan.stop), lane, strict=True):
            if frames[index] is None:
                assert outcome is None
                continue
            if index == 7:
                assert isinstance(outcome, InvalidObservationError)
                continue
            expected = alone.process(*frames[index])
            assert [b.track_id for b in outcome.bodies] == [b.track_id for b in expected.bodies]
            for ours, theirs in zip(outcome.bodies, expected.bodies, strict=True):
                assert torch.allclose(torch.as_tensor(ours.pose), torch.as_tensor(theirs.pose), atol=1e-4)
                assert ours.warm_started == theirs.warm_started
            assert outcome.fit_seconds > 0


def test_a_format_without_weights_is_each_frames_error(tmp_path: Path) -> None:
    """Weights that cannot be loaded for a format come back as that frame's error (the bag
    tool turns it into one clear message), not as a crash of the batch."""
    import torch

    from lgd_ros.fitting.errors import WeightsError
    from lgd_ros.tracking.pipeline import BodyFittingPipeline, FitRequest, PipelineConfig

    pipeline = BodyFittingPipeline(PipelineConfig(weights=str(tmp_path / "missing.pt"), device="cpu"))
    request = FitRequest("coco17", np.zeros((1, 17, 2)), np.ones((1, 17)), torch.eye(3), None, None)
    replies, _ = run_fit_requests(pipeline, [request, request])
    assert all(isinstance(r, WeightsError) for r in replies)
