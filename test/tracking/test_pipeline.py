"""The shared per-frame pipeline with the shipped weights and the open body model."""

from __future__ import annotations

import numpy as np
import pytest

from lgd_ros.tracking.errors import InvalidObservationError
from lgd_ros.tracking.observations import CameraModel, PersonObservation
from lgd_ros.tracking.pipeline import BodyFittingPipeline, PipelineConfig, resolve_device
from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene
from lgd_ros.tracking.tracker import OutOfOrderStampError

K = default_intrinsics()


@pytest.fixture(scope="module")
def scene():
    return walking_scene([WalkingPerson(-0.8, 3.0, 0.4, 0, 1), WalkingPerson(0.9, 4.0, -0.3, 9, 2)],
                         frames=12, noise_px=1.0)


def test_a_sequence_is_tracked_and_warm_started(scene) -> None:
    pipeline = BodyFittingPipeline(PipelineConfig(device="cpu"))
    camera = CameraModel(K)
    results = [pipeline.process(f.stamp, f.people, camera) for f in scene]
    first_ids = [b.track_id for b in results[0].bodies]
    assert len(set(first_ids)) == 2
    for result, frame in zip(results, scene):
        assert [b.track_id for b in result.bodies] == first_ids  # people order kept
        for body, true_transl in zip(result.bodies, frame.true_transl):
            assert body.success, body.message
            assert body.mean_error_px < 12
            assert abs(body.transl[2] - true_transl[2]) < 0.8
    assert not any(b.warm_started for b in results[0].bodies)
    warm = [b.warm_started for r in results[1:] for b in r.bodies]
    assert np.mean(warm) > 0.8
    assert results[-1].tracked_ids == sorted(first_ids)


def test_a_loaded_fitter_is_prepared_for_the_configured_steps() -> None:
    pipeline = BodyFittingPipeline(PipelineConfig(device="cpu", steps=3, warm_steps=1))
    pipeline.preload(["coco17"])
    fitter = pipeline.fitter("coco17")
    assert {(warm, steps) for warm, steps, _ in fitter._graphs} == {(False, 3), (True, 1)}


def test_bad_frames_are_refused_without_touching_the_tracks(scene) -> None:
    pipeline = BodyFittingPipeline(PipelineConfig(device="cpu"))
    camera = CameraModel(K)
    pipeline.process(scene[0].stamp, scene[0].people, camera)
    tracks = pipeline.tracker.track_ids
    bad = PersonObservation(np.full((17, 2), np.nan, np.float32), np.full(17, 0.5, np.float32), "coco17")
    with pytest.raises(InvalidObservationError, match="NaN"):
        pipeline.process(scene[1].stamp, [bad], camera)
    with pytest.raises(OutOfOrderStampError):
        pipeline.process(scene[0].stamp, scene[0].people, camera)
    assert pipeline.tracker.track_ids == tracks


def test_max_people_keeps_the_highest_scores(scene) -> None:
    pipeline = BodyFittingPipeline(PipelineConfig(device="cpu", max_people=1))
    people = [PersonObservation(p.keypoints_px, p.confidence, p.keypoint_format, score=s)
              for p, s in zip(scene[0].people, (0.4, 0.9))]
    result = pipeline.process(scene[0].stamp, people, CameraModel(K))
    assert result.skipped_people == 1 and len(result.bodies) == 1
    assert abs(result.bodies[0].transl[2] - scene[0].true_transl[1, 2]) < 0.8


def test_distorted_keypoints_are_undistorted_before_fitting(scene) -> None:
    cv2 = pytest.importorskip("cv2")
    distortion = np.array([-0.3, 0.1, 0.0, 0.0, 0.0])
    camera = CameraModel(K, distortion, "plumb_bob")
    distorted = []
    for person in scene[0].people:
        rays = np.concatenate([(person.keypoints_px - K[:2, 2]) / np.diag(K)[:2],
                               np.ones((len(person.keypoints_px), 1))], axis=1)
        pixels, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, distortion)
        distorted.append(PersonObservation(pixels.reshape(-1, 2).astype(np.float32), person.confidence,
                                           person.keypoint_format))
    with_model = BodyFittingPipeline(PipelineConfig(device="cpu")).process(scene[0].stamp, distorted, camera)
    ignored = BodyFittingPipeline(PipelineConfig(device="cpu")).process(scene[0].stamp, distorted,
                                                                       CameraModel(K))
    # Fitted keypoints land near the ideal (undistorted) pixels only if the
    # pipeline removed the distortion first.
    def distance_to_ideal(result) -> float:
        return float(np.mean([np.linalg.norm(b.keypoints2d - p.keypoints_px, axis=1).mean()
                              for b, p in zip(result.bodies, scene[0].people)]))

    assert distance_to_ideal(with_model) < 0.7 * distance_to_ideal(ignored)


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda"}
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_onnxruntime_backend_gives_the_torch_fits(scene, tmp_path, monkeypatch) -> None:
    """backend: onnxruntime exports the whole fit on first use and matches torch."""
    monkeypatch.setenv("LGD_ROS_CACHE_DIR", str(tmp_path))
    camera = CameraModel(K)
    runs = {}
    for backend in ("torch", "onnxruntime"):
        pipeline = BodyFittingPipeline(PipelineConfig(device="cpu", backend=backend))
        runs[backend] = [pipeline.process(f.stamp, f.people, camera) for f in scene[:4]]
    assert any(tmp_path.rglob("*.onnx"))
    for torch_frame, ort_frame in zip(runs["torch"], runs["onnxruntime"]):
        for a, b in zip(torch_frame.bodies, ort_frame.bodies):
            assert a.track_id == b.track_id and a.warm_started == b.warm_started
            np.testing.assert_allclose(a.pose, b.pose, atol=1e-3)
            np.testing.assert_allclose(a.joints, b.joints, atol=1e-3)
