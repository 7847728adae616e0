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
from collections.abc import Sequence
from typing import Any, NamedTuple

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


def body_frame_names(track_id: int, camera_frame: str) -> list[tuple[str, str]]:
    """``(parent, child)`` of the 25 frames of one body, in :func:`body_frame_arrays` order."""
    return [(camera_frame, body_frame(track_id)), (body_frame(track_id), joint_frame(0, track_id))] + [
        (joint_frame(SMPL_PARENTS[joint], track_id), joint_frame(joint, track_id)) for joint in range(1, NUM_JOINTS)]


_PARENTS = np.asarray(SMPL_PARENTS[1:])


def body_frame_arrays(pose: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of the 25 frames of ``N`` bodies at once (the bag tool does a whole
    recording in one call; per-body calls are dominated by per-call overhead).

    Args:
        pose: ``[N, 72]`` axis-angle, ``pose[:, :3]`` the pelvis orientation in the camera frame.
        joints: ``[N, 24, 3]`` joint positions in the camera frame, metres.

    Returns:
        ``translations [N, 25, 3]`` (metres, child origin in the parent frame) and
        ``rotations [N, 25, 4]`` (x, y, z, w), frames as in :func:`body_frame_names`.
    """
    pose = np.asarray(pose, dtype=np.float64).reshape(-1, NUM_JOINTS, 3)
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, NUM_JOINTS, 3)
    count = len(pose)
    axis_angle = torch.from_numpy(pose.reshape(-1, 3))
    local = axis_angle_to_matrix(axis_angle).numpy().reshape(count, NUM_JOINTS, 3, 3)
    # Straight from axis-angle: cheaper than converting the matrices back.
    wxyz = axis_angle_to_quaternion(axis_angle).numpy().reshape(count, NUM_JOINTS, 4)
    global_rot = np.empty_like(local)
    global_rot[:, 0] = local[:, 0]
    for joint in range(1, NUM_JOINTS):  # parents come first in SMPL order
        global_rot[:, joint] = global_rot[:, SMPL_PARENTS[joint]] @ local[:, joint]
    hip_mid = 0.5 * (joints[:, LEFT_HIP] + joints[:, RIGHT_HIP])
    translations = np.empty((count, NUM_JOINTS + 1, 3))
    rotations = np.empty((count, NUM_JOINTS + 1, 4))
    # body_<id>: at the hip midpoint, rotated like the pelvis.
    translations[:, 0] = hip_mid
    rotations[:, 0] = wxyz[:, 0, [1, 2, 3, 0]]
    # pelvis_<id>: offset from the hip midpoint in the body frame, no rotation.
    translations[:, 1] = np.einsum("nji,nj->ni", global_rot[:, 0], joints[:, 0] - hip_mid)
    rotations[:, 1] = (0.0, 0.0, 0.0, 1.0)
    # <joint>_<id>: offset_j = G_parent(j)^T (J_j - J_parent(j)), rotated by the local rotation.
    translations[:, 2:] = np.einsum("nkji,nkj->nki", global_rot[:, _PARENTS], joints[:, 1:] - joints[:, _PARENTS])
    rotations[:, 2:] = wxyz[:, 1:, [1, 2, 3, 0]]
    return translations, rotations


def body_frame_transforms(track_id: int, pose: np.ndarray, joints: np.ndarray,
                          camera_frame: str) -> list[FrameTransform]:
    """The 25 frames of one body (see the module docstring).

    Args:
        pose: ``[72]`` axis-angle, ``pose[:3]`` the pelvis orientation in the camera frame.
        joints: ``[24, 3]`` joint positions in the camera frame, metres.
    """
    translations, rotations = body_frame_arrays(np.asarray(pose)[None], np.asarray(joints)[None])
    return [FrameTransform(parent, child, t, q) for (parent, child), t, q in zip(
        body_frame_names(track_id, camera_frame), translations[0], rotations[0], strict=True)]


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


class MarkerMesh:
    """The decimated mesh the mesh markers show, posed per body (node and bag tool).

    Decimated once on the rest mesh (:func:`decimate_mesh`); only the kept vertices are
    posed (:meth:`~lgd_ros.body.BodyModel.vertex_subset`), a sixth of the full mesh at
    the default 3 cm cells.
    """

    def __init__(self, body_model: Any, cell_size_m: float) -> None:
        self.model = body_model
        zeros = {"dtype": body_model.dtype, "device": body_model.device}
        with torch.no_grad():
            rest = body_model(torch.zeros(1, 72, **zeros), torch.zeros(1, body_model.shapedirs_flat.shape[0], **zeros),
                              torch.zeros(1, 3, **zeros)).vertices[0]
        representatives, self.faces = decimate_mesh(rest.cpu().numpy(), body_model.faces.cpu().numpy(), cell_size_m)
        self._subset = body_model.vertex_subset(representatives)

    def vertices(self, bodies: Sequence[Any]) -> np.ndarray:
        """``[B, V', 3]`` decimated vertices of bodies (``pose``, ``betas``, ``transl``
        attributes: :class:`~lgd_ros.tracking.pipeline.BodyEstimate`), camera frame."""
        def stack(name: str) -> torch.Tensor:
            return torch.as_tensor(np.stack([getattr(b, name) for b in bodies]), dtype=self.model.dtype,
                                   device=self.model.device)

        with torch.no_grad():
            return self.model(stack("pose"), stack("betas"), stack("transl"), self._subset).vertices.cpu().numpy()
