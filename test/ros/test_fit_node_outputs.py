"""The fitting node with the shipped weights: bodies, TF, markers, ids, warm starts.

Keypoints come from synthetic people replaying held-out MoCap clips
(:mod:`lgd_ros.tracking.scene`), so every output can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from lgd_ros.msg import FittedBody

from lgd_ros.ros.node_process import NodeProcess
from lgd_ros.ros.testing import FitNodeClient
from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

K = default_intrinsics()


def _require_weights() -> None:
    from lgd_ros.fitting.weights import default_weights_path

    if not default_weights_path("coco17").exists():
        pytest.fail(f"shipped weights missing: {default_weights_path('coco17')}")


def run_scene(start_node: Callable[..., NodeProcess], test_node: object, people: list[WalkingPerson],
              frames: int, parameters: dict[str, str] | None = None, noise_px: float = 0.0):
    _require_weights()
    scene = walking_scene(people, frames, noise_px=noise_px)
    process = start_node(parameters=parameters or {})
    client = FitNodeClient(test_node)
    client.wait_connected(timeout=30)
    # The probe frame is stamped before the scene so that it does not disturb its tracks.
    probe = client.keypoints_msg(scene[0].stamp - 50.0, scene[0].people)
    client.make_ready(K, probe)
    for collector in (client.bodies, client.markers, client.tf, client.tracked):
        collector.spin_for(0.1)
        collector.clear()
    for frame in scene:
        before = len(client.bodies.messages)
        client.keypoints_pub.publish(client.keypoints_msg(frame.stamp, frame.people))
        client.bodies.wait_for_count(before + 1, timeout=30)
    client.bodies.spin_for(0.3)
    process.assert_running()
    return scene, client, process


def test_bodies_tf_markers_and_ids_follow_the_input(start_node, test_node) -> None:
    people = [WalkingPerson(x0=-0.6, depth=3.5, speed=0.0)]
    scene, client, _ = run_scene(start_node, test_node, people, frames=5)
    bodies = client.bodies.messages
    assert len(bodies) == 5
    for frame, message in zip(scene, bodies):
        assert message.header.frame_id == "camera_optical"
        assert message.header.stamp.sec == int(frame.stamp)
        assert message.body_model and len(message.body_model_fingerprint) == 64
        (body,) = message.bodies
        assert body.fit_status == FittedBody.FIT_OK, body.fit_status_message
        assert body.mean_reprojection_error_px < 15
        # Metric translation: the pelvis lands near the truth (depth from scale is the hard part).
        pelvis_true = frame.true_joints[0, 0]
        assert abs(body.translation.z - frame.true_transl[0, 2]) < 0.6
        assert abs(body.translation.x - pelvis_true[0]) < 0.25
    assert [b.bodies[0].warm_started for b in bodies] == [False, True, True, True, True]
    track = bodies[0].bodies[0].track_id
    assert {b.bodies[0].track_id for b in bodies} == {track}

    # TF: 25 frames per body per message, REP-155 names, stamped like the input.
    assert client.tf is not None
    client.tf.wait_for_count(5)
    transforms = client.tf.messages[-1].transforms
    children = {t.child_frame_id: t for t in transforms}
    assert len(transforms) == 25
    assert children[f"body_{track}"].header.frame_id == "camera_optical"
    assert children[f"pelvis_{track}"].header.frame_id == f"body_{track}"
    assert children[f"left_knee_{track}"].header.frame_id == f"left_hip_{track}"
    assert children[f"body_{track}"].header.stamp == bodies[-1].header.stamp
    hip_mid = children[f"body_{track}"].transform.translation
    assert 2.5 < hip_mid.z < 4.5

    # Markers: a skeleton every frame, a mesh at mesh_rate_hz, in the camera frame.
    assert client.markers is not None
    kinds = {(m.ns, m.type) for array in client.markers.messages for m in array.markers}
    assert ("lgd_body_skeleton", 5) in kinds  # LINE_LIST
    assert ("lgd_body_mesh", 11) in kinds  # TRIANGLE_LIST
    mesh = next(m for a in client.markers.messages for m in a.markers
                if m.ns == "lgd_body_mesh" and m.action == 0)
    assert mesh.header.frame_id == "camera_optical" and mesh.id == track
    assert len(mesh.points) % 3 == 0 and 1000 < len(mesh.points) // 3 < 20000

    # REP-155 tracked ids.
    assert client.tracked is not None
    client.tracked.wait_for_count(5)
    assert client.tracked.messages[-1].ids == [str(track)]


def test_two_people_crossing_keep_their_ids_and_ended_tracks_are_deleted(start_node, test_node) -> None:
    people = [WalkingPerson(x0=-1.2, depth=3.0, speed=1.2, clip_offset=0, betas_seed=1),
              WalkingPerson(x0=1.2, depth=4.5, speed=-1.2, clip_offset=7, betas_seed=2)]
    scene, client, _ = run_scene(start_node, test_node, people, frames=60,
                                 parameters={"track_max_age_s": "0.3"})
    # Who is who: person 0 is nearer (larger translation z is person 1).
    ids_near, ids_far = set(), set()
    for message in client.bodies.messages:
        assert len(message.bodies) == 2
        near, far = sorted(message.bodies, key=lambda b: b.translation.z)
        ids_near.add(near.track_id)
        ids_far.add(far.track_id)
    assert len(ids_near) == 1 and len(ids_far) == 1 and ids_near != ids_far

    # A later frame without people, past the track age: DELETE markers for both tracks.
    client.markers.clear()
    empty = client.keypoints_msg(scene[-1].stamp + 1.0, [])
    client.keypoints_pub.publish(empty)
    client.bodies.wait_for_count(len(client.bodies.messages) + 1)
    client.markers.wait_for_count(1)
    deleted = {(m.ns, m.id) for a in client.markers.messages for m in a.markers if m.action == 2}
    for track in ids_near | ids_far:
        assert ("lgd_body_mesh", track) in deleted and ("lgd_body_skeleton", track) in deleted


def test_warm_starts_use_fewer_steps_without_losing_accuracy(start_node, test_node) -> None:
    people = [WalkingPerson(x0=-0.5, depth=3.5, speed=0.5)]
    _, client, process = run_scene(start_node, test_node, people, frames=20, noise_px=1.0)
    warm = [m.bodies[0] for m in client.bodies.messages]  # copy: the next run reuses the topics
    process.stop()
    _, client, _ = run_scene(start_node, test_node, people, frames=20, noise_px=1.0,
                             parameters={"warm_start_max_gap_s": "0.0"})
    cold = [m.bodies[0] for m in client.bodies.messages[-20:]]
    assert len(warm) == 20 and len(cold) == 20
    assert all(b.warm_started for b in warm[1:])
    assert not any(b.warm_started for b in cold)

    def stats(bodies: list) -> tuple[float, float]:
        return (float(np.mean([b.steps_used for b in bodies[1:]])),
                float(np.mean([b.mean_reprojection_error_px for b in bodies[1:]])))

    warm_steps, warm_error = stats(warm)
    cold_steps, cold_error = stats(cold)
    # Fewer steps or lower error, and never clearly worse.
    assert warm_steps < cold_steps or warm_error < cold_error
    assert warm_error <= 1.25 * cold_error + 1.0, (warm_error, cold_error)


def test_diagnostics_report_rates_and_counters(start_node, test_node) -> None:
    people = [WalkingPerson(x0=0.0, depth=3.0, speed=0.0)]
    _, client, _ = run_scene(start_node, test_node, people, frames=5)
    client.diagnostics.wait_for_count(1, timeout=5)
    client.diagnostics.spin_for(1.2)
    status = client.diagnostics.messages[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert int(values["frames_fitted"]) >= 5
    assert float(values["latency_median_ms"]) > 0
    assert values["tracked_bodies"] == "1"
