"""Fitted bodies -> rclpy messages: FittedBody, TF transforms and RViz markers.

The numbers come from :mod:`lgd_ros.tracking.body_frames` (shared with the bag tool);
this module only fills messages. Frame names follow REP-155 (see that module).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, TransformStamped
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from lgd_ros.msg import FittedBody
from lgd_ros.tracking.body_frames import body_frame_transforms, skeleton_segments, track_colour
from lgd_ros.tracking.pipeline import BodyEstimate

MESH_NAMESPACE = "lgd_body_mesh"
SKELETON_NAMESPACE = "lgd_body_skeleton"


def fitted_body_msg(estimate: BodyEstimate) -> FittedBody:
    msg = FittedBody()
    msg.track_id = int(estimate.track_id)
    msg.fit_status = FittedBody.FIT_OK if estimate.success else FittedBody.FIT_FAILED
    msg.fit_status_message = estimate.message
    msg.pose = np.asarray(estimate.pose, dtype=np.float32)
    msg.betas = np.asarray(estimate.betas[:10], dtype=np.float32)
    msg.translation.x, msg.translation.y, msg.translation.z = (float(v) for v in estimate.transl)
    msg.mean_reprojection_error_px = float(estimate.mean_error_px)
    msg.steps_used = int(estimate.steps_used)
    msg.warm_started = bool(estimate.warm_started)
    return msg


def body_transforms(estimate: BodyEstimate, header: Header) -> list[TransformStamped]:
    """TF frames of one body, stamped with ``header`` (whose frame is the camera's)."""
    out = []
    for frame in body_frame_transforms(estimate.track_id, estimate.pose, estimate.joints,
                                       header.frame_id):
        t = TransformStamped()
        t.header.stamp = header.stamp
        t.header.frame_id = frame.parent
        t.child_frame_id = frame.child
        t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
            float(v) for v in frame.translation)
        (t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z,
         t.transform.rotation.w) = (float(v) for v in frame.rotation_xyzw)
        out.append(t)
    return out


def _colour(rgba: tuple[float, float, float, float]) -> ColorRGBA:
    r, g, b, a = rgba
    return ColorRGBA(r=r, g=g, b=b, a=a)


def _marker(header: Header, namespace: str, track_id: int, kind: int, lifetime_s: float) -> Marker:
    marker = Marker(header=header, ns=namespace, id=int(track_id), type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = 1.0
    marker.lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    return marker


def _points(array: np.ndarray) -> list[Point]:
    # tolist() gives Python floats in one call: much faster than float() per element.
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(array, dtype=np.float64).tolist()]


def mesh_marker(track_id: int, vertices: np.ndarray, faces: np.ndarray, header: Header,
                lifetime_s: float = 0.0) -> Marker:
    """TRIANGLE_LIST of the body's (decimated) mesh in the camera frame."""
    marker = _marker(header, MESH_NAMESPACE, track_id, Marker.TRIANGLE_LIST, lifetime_s)
    marker.color = _colour(track_colour(track_id, 0.85))
    marker.points = _points(np.asarray(vertices)[np.asarray(faces).reshape(-1)])
    return marker


def skeleton_marker(track_id: int, joints: np.ndarray, header: Header,
                    lifetime_s: float = 0.0, width_m: float = 0.02) -> Marker:
    """LINE_LIST joining each SMPL joint to its parent."""
    marker = _marker(header, SKELETON_NAMESPACE, track_id, Marker.LINE_LIST, lifetime_s)
    marker.scale.x = width_m
    marker.color = _colour(track_colour(track_id, 1.0))
    marker.points = _points(skeleton_segments(joints))
    return marker


def delete_markers(track_ids: Sequence[int], header: Header) -> list[Marker]:
    """DELETE actions for every marker of tracks that ended."""
    return [Marker(header=header, ns=namespace, id=int(track_id), action=Marker.DELETE)
            for track_id in track_ids for namespace in (MESH_NAMESPACE, SKELETON_NAMESPACE)]
