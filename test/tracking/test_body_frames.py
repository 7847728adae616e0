"""TF frames of a body: composing the tree gives back every joint and its rotation."""

from __future__ import annotations

import numpy as np
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.rotations import axis_angle_to_matrix, quaternion_to_matrix
from lgd_ros.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from lgd_ros.tracking.body_frames import body_frame_transforms, decimate_mesh, skeleton_segments


def test_composed_frames_sit_on_the_joints_with_their_global_rotations() -> None:
    model = BodyModel.load(dtype=torch.float64)
    pose = torch.randn(1, 72, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.4
    betas = torch.zeros(1, 10, dtype=torch.float64)
    joints = model(pose, betas, torch.tensor([[0.2, 0.1, 3.0]], dtype=torch.float64)).joints[0].numpy()
    frames = body_frame_transforms(7, pose[0].numpy(), joints, "camera_optical")
    assert len(frames) == 25 and len({f.child for f in frames}) == 25
    world = {"camera_optical": (np.eye(3), np.zeros(3))}
    for frame in frames:  # parents always come first
        parent_rotation, parent_origin = world[frame.parent]
        x, y, z, w = frame.rotation_xyzw
        rotation = quaternion_to_matrix(torch.tensor([w, x, y, z], dtype=torch.float64)).numpy()
        world[frame.child] = (parent_rotation @ rotation, parent_rotation @ frame.translation + parent_origin)
    local = axis_angle_to_matrix(pose[0].view(24, 3)).numpy()
    global_rotation = [local[0]]
    for joint in range(1, 24):
        global_rotation.append(global_rotation[SMPL_PARENTS[joint]] @ local[joint])
    for joint, name in enumerate(SMPL_JOINT_NAMES):
        rotation, origin = world[f"{name}_7"]
        np.testing.assert_allclose(origin, joints[joint], atol=1e-9)
        np.testing.assert_allclose(rotation, global_rotation[joint], atol=1e-9)
    hip_mid = 0.5 * (joints[1] + joints[2])
    np.testing.assert_allclose(world["body_7"][1], hip_mid, atol=1e-9)


def test_skeleton_segments_join_each_joint_to_its_parent() -> None:
    joints = np.arange(72, dtype=float).reshape(24, 3)
    segments = skeleton_segments(joints).reshape(23, 2, 3)
    for joint in range(1, 24):
        np.testing.assert_array_equal(segments[joint - 1], joints[[SMPL_PARENTS[joint], joint]])


def test_decimation_reduces_triangles_and_keeps_valid_indices() -> None:
    model = BodyModel.load()
    zeros = torch.zeros
    rest = model(zeros(1, 72), zeros(1, 10), zeros(1, 3)).vertices[0].numpy()
    representatives, faces = decimate_mesh(rest, model.faces.numpy(), 0.03)
    assert 1000 < len(faces) < len(model.faces) / 4
    assert faces.max() < len(representatives) and representatives.max() < len(rest)
    assert np.all((faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]))
