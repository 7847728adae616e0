"""The SMPL skeleton layout: joint names, kinematic tree, parameter sizes, mirroring.

Every body model in :mod:`lgd_ros.body` (official SMPL files and the open default built from
Anny) shares this layout, so poses, trained weights and keypoint formats are interchangeable.

Canonical body frame (SMPL's): y up, x towards the body's *left*, z towards the body's front;
the rest pose (all-zero axis-angle pose) is a T-pose.
"""

from __future__ import annotations

import torch

from lgd_ros.body.errors import BodyInputError

__all__ = [
    "NUM_BETAS",
    "NUM_JOINTS",
    "POSE_DIM",
    "SMPL_JOINT_NAMES",
    "SMPL_MIRROR_PERMUTATION",
    "SMPL_PARENTS",
    "joint_index",
    "kinematic_depth",
    "mirror_pose",
]

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
"""The 24 joints in SMPL order (index = position in the 72-dim pose / 3)."""

NUM_JOINTS: int = len(SMPL_JOINT_NAMES)
POSE_DIM: int = 3 * NUM_JOINTS  # axis-angle per joint, root (global orientation) first
NUM_BETAS: int = 10

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
"""Parent joint index of each joint; -1 for the root (pelvis). Parents precede children."""


def _mirror_permutation() -> tuple[int, ...]:
    """Swap every ``left_*`` joint with its ``right_*`` twin; central joints stay."""
    index = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
    permutation = []
    for name in SMPL_JOINT_NAMES:
        if name.startswith("left_"):
            permutation.append(index["right_" + name[5:]])
        elif name.startswith("right_"):
            permutation.append(index["left_" + name[6:]])
        else:
            permutation.append(index[name])
    return tuple(permutation)


SMPL_MIRROR_PERMUTATION: tuple[int, ...] = _mirror_permutation()
"""``joints_mirrored = joints[..., SMPL_MIRROR_PERMUTATION, :]`` swaps left and right."""


def joint_index(name: str) -> int:
    """Index of an SMPL joint by name (``"left_wrist"`` -> 20)."""
    try:
        return SMPL_JOINT_NAMES.index(name)
    except ValueError:
        raise BodyInputError(
            f"unknown SMPL joint name {name!r}; expected one of {', '.join(SMPL_JOINT_NAMES)}"
        ) from None


def kinematic_depth(parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[int, ...]:
    """Depth of every joint in the tree (root = 0); SMPL's deepest joints (hands) are at 8."""
    depth: list[int] = []
    for parent in parents:
        depth.append(0 if parent < 0 else depth[parent] + 1)
    return tuple(depth)


def mirror_pose(pose: torch.Tensor) -> torch.Tensor:
    """Mirror SMPL poses left/right: the pose of the body reflected in its sagittal plane.

    Reflecting across the plane x = 0 (x = the body's left) is ``M = diag(-1, 1, 1)``; a
    rotation R becomes ``M R M``, whose axis-angle vector is ``(a_x, -a_y, -a_z)`` (axis
    vectors are pseudo-vectors). Then each left joint takes its right twin's rotation. The
    global orientation is reflected the same way, i.e. the whole scene is mirrored in its
    x = 0 plane (in a camera optical frame: a horizontal image flip).

    Args:
        pose: ``[B, 72]`` (or ``[..., 72]``) axis-angle poses in SMPL order.

    Returns:
        ``[..., 72]`` mirrored poses; mirroring twice gives the input back.
    """
    if pose.shape[-1] != POSE_DIM:
        raise BodyInputError(
            f"mirror_pose expects poses of shape [..., {POSE_DIM}], got {tuple(pose.shape)}"
        )
    per_joint = pose.reshape(*pose.shape[:-1], NUM_JOINTS, 3)
    permutation = torch.tensor(SMPL_MIRROR_PERMUTATION, device=pose.device)
    swapped = per_joint.index_select(-2, permutation)
    sign = torch.tensor([1.0, -1.0, -1.0], dtype=pose.dtype, device=pose.device)
    return (swapped * sign).reshape(pose.shape)
