"""Numbers behind the ROS outputs of a fitted body: TF frames, skeleton segments,
colours, mesh decimation. ROS-free, so the live node (rclpy messages) and the bag
tool (rosbags messages) publish exactly the same frames and markers.

Frames (REP-155, ``<id>`` the track id):
  ``body_<id>``      child of the camera optical frame, at the hip midpoint, oriented
                      like the SMPL pelvis (x body-left, y up, z front at rest);
  ``pelvis_<id>``    child of ``body_<id>``;
  ``<joint>_<id>``   one per other SMPL joint (``left_hip_<id>``, ``head_<id>``, ...),
                      child of its kinematic parent's frame, rotated by the joint's
                      local rotation, so RViz's TF display draws the skeleton.
"""

from __future__ import annotations

import colorsys
from typing import NamedTuple

import numpy as np
import torch

from lgd_ros.body.rotations import axis_angle_to_matrix, axis_angle_to_quaternion
from lgd_ros.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

LEFT_HIP = SMPL_JOINT_NAMES.index("left_hip")
RIGHT_HIP = SMPL_JOINT_NAMES.index("right_hip")
NUM_JOINTS = len(SMPL_JOINT_NAMES)


class FrameTransform(NamedTuple):
    """``child`` expressed in ``parent``: translation (m) and rotation quaternion (x, y, z, w)."""

    parent: str
    child: str
    translation: np.ndarray
    rotation_xyzw: np.ndarray


def body_frame(track_id: int) -> str:
    return f"body_{track_id}"


def joint_frame(joint: int, track_id: int) -> str:
    return f"{SMPL_JOINT_NAMES[joint]}_{track_id}"


def body_frame_transforms(track_id: int, pose: np.ndarray, joints: np.ndarray,
                          camera_frame: str) -> list[FrameTransform]:
    """The 25 frames of one body (see the module docstring).

    Args:
        pose: ``[72]`` axis-angle, ``pose[:3]`` the pelvis orientation in the camera frame.
        joints: ``[24, 3]`` joint positions in the camera frame, metres.
    """
    axis_angle = torch.as_tensor(np.asarray(pose), dtype=torch.float64).view(NUM_JOINTS, 3)
    local_t = axis_angle_to_matrix(axis_angle)
    # Straight from axis-angle: cheaper than converting the matrices back.
    wxyz = axis_angle_to_quaternion(axis_angle).numpy()
    quaternions = np.concatenate([wxyz[:, 1:], wxyz[:, :1]], axis=1)
    # Small 3x3 products: numpy per joint is cheaper than torch's per-op overhead.
    local = local_t.numpy()
    global_rot = np.empty_like(local)
    global_rot[0] = local[0]
    for joint in range(1, NUM_JOINTS):
        global_rot[joint] = global_rot[SMPL_PARENTS[joint]] @ local[joint]
    joints = np.asarray(joints, dtype=np.float64)
    hip_mid = 0.5 * (joints[LEFT_HIP] + joints[RIGHT_HIP])
    parents = np.asarray(SMPL_PARENTS[1:])
    # Offset of each joint from its parent, in the parent's (rotated) frame:
    # offset_j = G_parent(j)^T (J_j - J_parent(j)).
    offsets = np.einsum("nji,nj->ni", global_rot[parents], joints[1:] - joints[parents])
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    out = [
        FrameTransform(camera_frame, body_frame(track_id), hip_mid, quaternions[0]),
        FrameTransform(body_frame(track_id), joint_frame(0, track_id),
                       global_rot[0].T @ (joints[0] - hip_mid), identity),
    ]
    out += [FrameTransform(joint_frame(int(parent), track_id), joint_frame(joint, track_id),
                           offsets[joint - 1], quaternions[joint])
            for joint, parent in zip(range(1, NUM_JOINTS), parents)]
    return out


def skeleton_segments(joints: np.ndarray) -> np.ndarray:
    """``[2 * 23, 3]`` endpoints (parent, child) of every bone, for a LINE_LIST."""
    joints = np.asarray(joints, dtype=np.float64)
    pairs = [(SMPL_PARENTS[j], j) for j in range(1, NUM_JOINTS)]
    return joints[np.asarray(pairs).reshape(-1)]


def track_colour(track_id: int, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """RGBA fixed per track id: golden-ratio hue steps keep neighbouring ids distinct."""
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.95)
    return (r, g, b, alpha)


def decimate_mesh(vertices: np.ndarray, faces: np.ndarray,
                  cell_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering on a grid of ``cell_size_m``: fewer triangles for RViz.

    Computed once on the rest mesh; returns ``(representative vertex per cluster [V'],
    faces in cluster indices [F', 3])``, applied to any posed mesh as
    ``posed[representatives][faces]``. Faces that collapse are dropped.
    """
    faces = np.asarray(faces)
    if cell_size_m <= 0:
        return np.arange(len(vertices)), faces
    cells = np.floor(np.asarray(vertices) / cell_size_m).astype(np.int64)
    _, cluster, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.reshape(-1)
    representatives = np.zeros(len(counts), dtype=np.int64)
    representatives[cluster] = np.arange(len(vertices))
    new_faces = cluster[faces]
    keep = (new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2]) & \
        (new_faces[:, 0] != new_faces[:, 2])
    return representatives, new_faces[keep]
