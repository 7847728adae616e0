"""Output messages: the same types and field values as the node's (lgd_ros/ros/body_outputs.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from lgd_ros.bag.markers import TfMessageEncoder
from lgd_ros.bag.messages import MESH_NAMESPACE, SKELETON_NAMESPACE, BodyMessageFactory
from lgd_ros.bag.typestore import FITTED_BODY_ARRAY, HRI_IDS_LIST, output_typestore
from lgd_ros.body import BodyModel
from lgd_ros.tracking.body_frames import body_frame_arrays
from lgd_ros.tracking.pipeline import BodyEstimate

MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"


@pytest.fixture(scope="module")
def store() -> Any:
    return output_typestore()


@pytest.fixture(scope="module")
def estimate() -> BodyEstimate:
    model = BodyModel.load()
    pose = torch.zeros(1, 72)
    pose[0, 0] = np.pi  # upright, facing the camera
    pose[0, 3 * 16 + 2] = -1.1  # left arm down
    transl = torch.tensor([[0.2, 0.1, 3.0]])
    joints = model(pose, torch.zeros(1, 10), transl).joints[0].numpy()
    return BodyEstimate(track_id=7, success=True, message="", pose=pose[0].numpy(), betas=np.zeros(10, np.float32),
                        transl=transl[0].numpy(), joints=joints, keypoints2d=np.zeros((17, 2), np.float32),
                        mean_error_px=2.5, quality=0.9, steps_used=2, warm_started=True, keypoint_format="coco17")


def test_encoded_markers_equal_rosbags_serialisation(store: Any, estimate: BodyEstimate) -> None:
    factory = BodyMessageFactory(store)
    rng = np.random.default_rng(0)
    for frame_id in ("c", "cam", "camera_optical_frame", "seven77"):  # every alignment case
        header = factory.header(12, 345, frame_id)
        markers = (factory.delete_markers([3], header)
                   + [factory.skeleton_marker(7, estimate.joints, header, 0.5),
                      factory.mesh_marker(7, rng.normal(size=(40, 3)), rng.integers(0, 40, (25, 3)), header, 1.25)]
                   + factory.delete_markers([8], header))
        assert factory.encode_markers(markers) == bytes(store.serialize_cdr(factory.marker_array(markers),
                                                                            MARKER_ARRAY))
    # Reused layouts (same tracks and namespaces): other stamps, points and start alignments.
    header = factory.header(4000, 999, "cam")
    again = [factory.skeleton_marker(7, estimate.joints + 0.5, header, 0.5)] + factory.delete_markers([3], header) \
        + [factory.skeleton_marker(7, estimate.joints - 0.5, header, 0.5)]
    assert factory.encode_markers(again) == bytes(store.serialize_cdr(factory.marker_array(again), MARKER_ARRAY))


def test_encoded_tf_equals_rosbags_serialisation(store: Any, estimate: BodyEstimate) -> None:
    factory = BodyMessageFactory(store)
    other = dataclasses.replace(estimate, track_id=12)
    for frame_id in ("c", "camera_optical_frame"):
        header = factory.header(12, 345, frame_id)
        objects = factory.tf_message([t for e in (estimate, other) for t in factory.body_transforms(e, header)])
        assert factory.encode_tf([estimate, other], header) == bytes(store.serialize_cdr(objects, TF_MESSAGE))
    # The byte template of a name set is reused: other stamps and numbers, same ids.
    moved = dataclasses.replace(estimate, pose=estimate.pose * 0.5, joints=estimate.joints + 0.25)
    header = factory.header(99, 7, "camera_optical_frame")
    objects = factory.tf_message([t for e in (moved, other) for t in factory.body_transforms(e, header)])
    assert factory.encode_tf([moved, other], header) == bytes(store.serialize_cdr(objects, TF_MESSAGE))
    arrays = body_frame_arrays(np.stack([moved.pose, other.pose]), np.stack([moved.joints, other.joints]))
    assert factory.encode_tf([moved, other], header, arrays) == bytes(store.serialize_cdr(objects, TF_MESSAGE))
    with pytest.raises(ValueError, match="1 transforms for a layout of 25"):
        TfMessageEncoder().encode((0, 0), "k", lambda: [("camera", f"frame_{i}") for i in range(25)], np.zeros((1, 3)), np.zeros((1, 4)))



def test_marker_fields(store: Any, estimate: BodyEstimate) -> None:
    factory = BodyMessageFactory(store)
    header = factory.header(1, 2, "cam")
    vertices = np.arange(12.0).reshape(4, 3)
    markers = [factory.skeleton_marker(7, estimate.joints, header, 0.5),
               factory.mesh_marker(7, vertices, np.array([[0, 1, 2], [1, 2, 3]]), header, 0.5)] + \
        factory.delete_markers([4], header)
    decoded = store.deserialize_cdr(factory.encode_markers(markers), MARKER_ARRAY).markers
    skeleton, mesh, *deleted = decoded
    assert (skeleton.ns, skeleton.id, skeleton.type, skeleton.action) == (SKELETON_NAMESPACE, 7, 5, 0)
    assert len(skeleton.points) == 2 * 23 and skeleton.scale.x == pytest.approx(0.02)
    assert (mesh.ns, mesh.type, len(mesh.points)) == (MESH_NAMESPACE, 11, 6)
    assert [mesh.points[5].x, mesh.points[5].y, mesh.points[5].z] == [9.0, 10.0, 11.0]
    assert (mesh.lifetime.sec, mesh.lifetime.nanosec) == (0, 500_000_000)
    assert {(m.ns, m.id, m.action) for m in deleted} == {(MESH_NAMESPACE, 4, 2), (SKELETON_NAMESPACE, 4, 2)}


def test_tf_frames_follow_rep_155(store: Any, estimate: BodyEstimate) -> None:
    factory = BodyMessageFactory(store)
    transforms = factory.body_transforms(estimate, factory.header(1, 2, "cam"))
    decoded = store.deserialize_cdr(store.serialize_cdr(factory.tf_message(transforms), TF_MESSAGE), TF_MESSAGE)
    parents = {t.child_frame_id: t.header.frame_id for t in decoded.transforms}
    assert len(parents) == 25 and parents["body_7"] == "cam" and parents["pelvis_7"] == "body_7"
    assert parents["left_wrist_7"] == "left_elbow_7"
    body = decoded.transforms[0]
    hips = 0.5 * (estimate.joints[1] + estimate.joints[2])
    assert [body.transform.translation.x, body.transform.translation.y, body.transform.translation.z] == \
        pytest.approx(hips.tolist(), abs=1e-6)
    assert (body.header.stamp.sec, body.header.stamp.nanosec) == (1, 2)


def _plain(value: Any) -> Any:
    """Message -> nested dicts/lists of Python numbers (to compare two decodings)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_the_same_bytes_as_the_node(store: Any, estimate: BodyEstimate) -> None:
    """Build each output with the node's rclpy code and with ours; both must decode to the
    same values (needs rclpy and the messages built by make msgs)."""
    pytest.importorskip("rclpy", reason="rclpy is not installed (make test installs it)")
    pytest.importorskip("lgd_ros.msg", reason="lgd_ros messages not built (make msgs)")
    tf2_msgs = pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs (test interface) not built (make msgs)")
    hri_msgs = pytest.importorskip("hri_msgs.msg", reason="hri_msgs (test interface) not built (make msgs)")
    from lgd_ros.msg import FittedBodyArray
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from lgd_ros.ros import body_outputs

    factory = BodyMessageFactory(store)
    ours_header = factory.header(11, 22, "cam")
    node_header = Header(frame_id="cam")
    node_header.stamp.sec, node_header.stamp.nanosec = 11, 22
    failed = dataclasses.replace(estimate, track_id=9, success=False, message="fit rejected")
    vertices = np.random.default_rng(1).normal(size=(30, 3))
    faces = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 29]])

    pairs = {
        FITTED_BODY_ARRAY: (
            FittedBodyArray(header=node_header, body_model="m", body_model_fingerprint="f",
                            bodies=[body_outputs.fitted_body_msg(b) for b in (estimate, failed)]),
            store.serialize_cdr(factory.fitted_body_array(ours_header, [estimate, failed], "m", "f"),
                                FITTED_BODY_ARRAY)),
        TF_MESSAGE: (
            tf2_msgs.TFMessage(transforms=body_outputs.body_transforms(estimate, node_header)),
            factory.encode_tf([estimate], ours_header)),
        MARKER_ARRAY: (
            MarkerArray(markers=body_outputs.delete_markers([3], node_header)
                        + [body_outputs.skeleton_marker(7, estimate.joints, node_header, 0.5),
                           body_outputs.mesh_marker(7, vertices, faces, node_header, 0.5)]),
            factory.encode_markers(factory.delete_markers([3], ours_header)
                                   + [factory.skeleton_marker(7, estimate.joints, ours_header, 0.5),
                                      factory.mesh_marker(7, vertices, faces, ours_header, 0.5)])),
        HRI_IDS_LIST: (
            hri_msgs.IdsList(header=node_header, ids=["7", "9"]),
            store.serialize_cdr(factory.ids_list(ours_header, [7, 9]), HRI_IDS_LIST)),
    }
    for msgtype, (node_message, our_bytes) in pairs.items():
        node_decoded = store.deserialize_cdr(bytes(serialize_message(node_message)), msgtype)
        ours_decoded = store.deserialize_cdr(bytes(our_bytes), msgtype)
        assert _plain(ours_decoded) == _plain(node_decoded), msgtype
