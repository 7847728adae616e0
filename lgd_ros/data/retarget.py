"""Rotational retargeting of a source skeleton's motion onto SMPL's 24 joints.

Every loader reduces its format to the same intermediate: for each SMPL joint ``j`` a
*source global rotation* ``B_j[t]`` (the rotation, relative to the source's rest pose, of the
source bone that plays the role of SMPL joint ``j``; source world frame) and the *rest
direction* ``d_j`` of that source bone (source world frame, rest pose). Retargeting is then
the same for every format:

1. Change of world frame. ``C`` maps source coordinates to the corpus world (y up, body
   facing +z with its left at +x in the rest pose): ``B'_j = C B_j C^T``, ``d'_j = C d_j``.
2. Rest-pose correction. The source rest pose need not be SMPL's T-pose (DeepMimic's arms hang
   down, CMU's legs are splayed by 20 degrees). For limb joints (:data:`LIMB_JOINTS`), ``Q_j``
   is the smallest rotation taking SMPL's canonical rest direction ``s_j`` of the segment to
   ``d'_j``; the SMPL global rotation is ``R_j = B'_j Q_j``, so the posed SMPL segment points
   along ``R_j s_j = B'_j d'_j``, exactly where the posed source bone points, and its twist
   follows the source bone's frame. Spine, neck, head, collar, ankle and toe joints do not sit at
   matching places across rigs (CMU's clavicle starts mid-chest and rises 20 degrees, SMPL's
   collar starts beside the neck): there the rest poses are taken to agree and the joint
   inherits its parent's correction, ``Q_j = Q_parent(j)`` (``Q_root = I``), so the SMPL local
   rotation is the source's local motion.
3. Joints the source cannot drive (SMPL's hand joints, collars of a skeleton without them)
   keep the rotation of their parent: ``R_j = R_parent(j)`` (zero local rotation).
4. Local axis-angles: ``r_j = log(R_parent(j)^T R_j)``.

This keeps directions right whenever the two skeletons correspond bone for bone, which holds
for the formats here (CMU ASF/AMC, DeepMimic, BVH with a joint map); the tests check the
directions of limbs on the posed body model against the source skeleton's.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch

from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from lgd_ros.data.errors import PoseInputError

__all__ = [
    "LIMB_JOINTS",
    "SMPL_REST_SEGMENT_DIRECTIONS",
    "SMPL_SEGMENT_CHILD",
    "fractional_rotation",
    "minimal_rotation",
    "retarget_global_rotations",
    "world_frame_change",
]

# Direction, in SMPL's canonical T-pose (x = body's left, y up, z front), of the limb segment
# each limb joint's rotation moves (joint -> child joint), measured on the rest skeleton of the
# default body model (mean shape, rounded). Official SMPL files differ by a few degrees.
# Only limb segments are listed: they correspond bone for bone across skeletons (thigh, shin,
# upper arm, forearm, hand), whereas spine, neck, collar and toe joints sit at different places
# in every rig, and foot bones end at different points (ball, toe tip, a box); for those the
# rest poses are taken to agree (foot flat, spine upright; see the module docstring).
SMPL_REST_SEGMENT_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "left_hip": (0.075, -0.995, 0.072),
    "right_hip": (-0.075, -0.995, 0.072),
    "left_knee": (0.098, -0.992, -0.080),
    "right_knee": (-0.098, -0.992, -0.080),
    "left_shoulder": (1.0, 0.0, 0.0),
    "right_shoulder": (-1.0, 0.0, 0.0),
    "left_elbow": (1.0, 0.0, 0.0),
    "right_elbow": (-1.0, 0.0, 0.0),
    "left_wrist": (1.0, 0.0, 0.0),
    "right_wrist": (-1.0, 0.0, 0.0),
}
LIMB_JOINTS: tuple[str, ...] = tuple(SMPL_REST_SEGMENT_DIRECTIONS)
"""SMPL joints whose rest-pose difference to a source skeleton is corrected (see above)."""

# The child whose position defines each joint's segment (None for leaves); branching joints
# (pelvis, spine3) use the joint along the spine.
SMPL_SEGMENT_CHILD: dict[str, str | None] = {
    "pelvis": "spine1",
    "left_hip": "left_knee",
    "right_hip": "right_knee",
    "spine1": "spine2",
    "left_knee": "left_ankle",
    "right_knee": "right_ankle",
    "spine2": "spine3",
    "left_ankle": "left_foot",
    "right_ankle": "right_foot",
    "spine3": "neck",
    "left_foot": None,
    "right_foot": None,
    "neck": "head",
    "left_collar": "left_shoulder",
    "right_collar": "right_shoulder",
    "head": None,
    "left_shoulder": "left_elbow",
    "right_shoulder": "right_elbow",
    "left_elbow": "left_wrist",
    "right_elbow": "right_wrist",
    "left_wrist": "left_hand",
    "right_wrist": "right_hand",
    "left_hand": None,
    "right_hand": None,
}


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    unit: torch.Tensor = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return unit


def minimal_rotation(from_dirs: torch.Tensor, to_dirs: torch.Tensor) -> torch.Tensor:
    """Smallest rotation taking each ``from`` direction onto the matching ``to`` direction.

    The axis is ``a x b / |a x b|`` and the angle ``atan2(|a x b|, a . b)``; for opposite
    directions (angle pi, axis undefined) any axis perpendicular to ``a`` is used.

    Args:
        from_dirs: ``[..., 3]`` directions (any length > 0).
        to_dirs: ``[..., 3]`` directions.

    Returns:
        ``[..., 3, 3]`` rotation matrices ``Q`` with ``Q a = b`` (for unit a, b).
    """
    a = _unit(from_dirs)
    b = _unit(to_dirs)
    cross = torch.cross(a, b, dim=-1)
    sin = cross.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(dim=-1, keepdim=True)
    angle = torch.atan2(sin, cos)
    # Fallback axis for antiparallel inputs: a x e_k for the basis vector least aligned with a.
    basis = torch.eye(3, dtype=a.dtype, device=a.device)
    least = a.abs().argmin(dim=-1)
    fallback = _unit(torch.cross(a, basis[least], dim=-1))
    axis = torch.where(sin > 1e-9, cross / sin.clamp_min(1e-12), fallback)
    return axis_angle_to_matrix(axis * angle)


def fractional_rotation(rotations: torch.Tensor, fraction: float) -> torch.Tensor:
    """``R^fraction``: the same axis, the angle scaled (spreads one source joint over several).

    Args:
        rotations: ``[..., 3, 3]``.
        fraction: in [0, 1].

    Returns:
        ``[..., 3, 3]``.
    """
    return axis_angle_to_matrix(matrix_to_axis_angle(rotations) * fraction)


def world_frame_change(up: npt.ArrayLike, left: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Rotation ``C`` from a source world frame to the corpus world (x left, y up, z front).

    Args:
        up: ``[3]`` the source's up axis (e.g. ``(0, 1, 0)`` for a y-up format).
        left: ``[3]`` the body's left in the source rest pose (e.g. right hip -> left hip);
            only its part perpendicular to ``up`` is used, so hip asymmetry cannot tilt the body.

    Returns:
        ``[3, 3]`` with rows (left, up, front) in source coordinates, so ``C @ v_source`` gives
        corpus coordinates.
    """
    up_v = np.asarray(up, dtype=np.float64)
    left_v = np.asarray(left, dtype=np.float64)
    up_v = up_v / np.linalg.norm(up_v)
    left_v = left_v - up_v * float(left_v @ up_v)
    norm = float(np.linalg.norm(left_v))
    if norm < 1e-9:
        raise PoseInputError("world_frame_change: the left direction is parallel to up")
    left_v = left_v / norm
    front = np.cross(left_v, up_v)
    return np.stack([left_v, up_v, front])


def retarget_global_rotations(
    source_global: torch.Tensor,
    driven: npt.ArrayLike,
    source_rest_directions: npt.ArrayLike,
    frame_change: npt.ArrayLike,
) -> npt.NDArray[np.float32]:
    """SMPL local axis-angle poses from per-SMPL-joint source global rotations.

    Args:
        source_global: ``[T, 24, 3, 3]`` rotation (relative to the source rest pose, in the
            source world frame) of the source bone playing SMPL joint ``j``; rows of undriven
            joints are ignored.
        driven: ``[24]`` bool, False where the source has no such joint (the SMPL joint then
            keeps its parent's rotation). The root must be driven.
        source_rest_directions: ``[24, 3]`` rest direction of the driving source bone (source
            frame) for limb joints; NaN rows mean "the rest poses agree" (``Q_j = Q_parent``).
            Rows of non-limb joints must be NaN.
        frame_change: ``[3, 3]`` ``C`` from :func:`world_frame_change`.

    Returns:
        ``[T, 72]`` float32 SMPL poses (axis-angle, root orientation in the corpus world).
    """
    if source_global.ndim != 4 or source_global.shape[1:] != (NUM_JOINTS, 3, 3):
        raise PoseInputError(
            f"source_global must be [T, {NUM_JOINTS}, 3, 3], got {tuple(source_global.shape)}"
        )
    driven_mask = np.asarray(driven, dtype=bool)
    rest_dirs = np.asarray(source_rest_directions, dtype=np.float64)
    if driven_mask.shape != (NUM_JOINTS,) or rest_dirs.shape != (NUM_JOINTS, 3):
        raise PoseInputError(
            f"driven must be [{NUM_JOINTS}] and source_rest_directions [{NUM_JOINTS}, 3], "
            f"got {driven_mask.shape} and {rest_dirs.shape}"
        )
    if not driven_mask[0]:
        raise PoseInputError("the root (pelvis) must be driven by a source bone")
    dtype = torch.float64
    change = torch.as_tensor(np.asarray(frame_change, dtype=np.float64), dtype=dtype)
    source = source_global.to(dtype)
    # B'_j = C B_j C^T : the same rotation expressed in the corpus world frame.
    rotated = change @ source @ change.T
    corrections = torch.eye(3, dtype=dtype).repeat(NUM_JOINTS, 1, 1)
    for joint, name in enumerate(SMPL_JOINT_NAMES):
        parent = SMPL_PARENTS[joint]
        has_direction = not np.isnan(rest_dirs[joint]).any()
        if has_direction and name not in SMPL_REST_SEGMENT_DIRECTIONS:
            raise PoseInputError(
                f"a rest direction was given for {name!r}; only limb joints take one "
                f"({', '.join(LIMB_JOINTS)})"
            )
        if joint == 0:
            continue
        if driven_mask[joint] and has_direction:
            source_dir = change @ torch.as_tensor(rest_dirs[joint], dtype=dtype)
            smpl_dir = torch.tensor(SMPL_REST_SEGMENT_DIRECTIONS[name], dtype=dtype)
            corrections[joint] = minimal_rotation(smpl_dir, source_dir)
        else:
            corrections[joint] = corrections[parent]
    frames = source.shape[0]
    global_rot: list[torch.Tensor] = []
    local_rot: list[torch.Tensor] = []
    for joint in range(NUM_JOINTS):
        parent = SMPL_PARENTS[joint]
        if driven_mask[joint]:
            current = rotated[:, joint] @ corrections[joint]
        else:
            current = global_rot[parent]
        global_rot.append(current)
        local_rot.append(current if parent < 0 else global_rot[parent].transpose(-1, -2) @ current)
    local = torch.stack(local_rot, dim=1)
    pose = matrix_to_axis_angle(local).reshape(frames, 3 * NUM_JOINTS)
    return pose.numpy().astype(np.float32)


def rotation_about_axis(axis: tuple[float, float, float], angles: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` rotations by ``angles [...]`` (radians) about a fixed unit ``axis``."""
    axis_t = torch.tensor(axis, dtype=angles.dtype)
    axis_t = axis_t / axis_t.norm()
    return axis_angle_to_matrix(angles[..., None] * axis_t)


DEG = math.pi / 180.0
