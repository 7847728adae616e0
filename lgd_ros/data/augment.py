"""Augmentation that widens a small pose corpus without leaving the space of plausible poses.

Three operations, applied to a batch of corpus poses by :func:`augment_poses`:

* **Limb recombination**: a sample takes one limb group's local rotations (left arm, right
  arm, both legs, or head and neck) from another sample of the batch. Local rotations are
  relative to the parent, so the limb stays attached and anatomically posed; only the
  combination is new (e.g. a punching arm on a walking body).
* **Perturbation within joint limits**: Gaussian noise on the body joints' axis-angles (knees
  only about their hinge axis), then each component is clipped to a joint-limit box
  (:data:`JOINT_LIMITS_RAD`). The clip never moves a value that was already outside the box
  (captured motions such as cartwheels can exceed a textbook range) further out, nor
  pulls it in: ``new = clip(old + noise, min(lo, old), max(hi, old))``.
* **Random shapes**: betas from ``N(0, shape_std^2)`` clipped to ``+-max_abs_beta``.

The root orientation is left alone (the fitter's trainer draws global orientation and camera
itself), and SMPL's hand joints (22, 23) stay zero.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from lgd_ros.body.skeleton import NUM_BETAS, NUM_JOINTS, POSE_DIM, SMPL_JOINT_NAMES
from lgd_ros.data.errors import PoseInputError

__all__ = ["JOINT_LIMITS_RAD", "LIMB_GROUPS", "AugmentedPoses", "augment_poses"]

LIMB_GROUPS: dict[str, tuple[int, ...]] = {
    "left_arm": tuple(
        SMPL_JOINT_NAMES.index(n)
        for n in ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand")
    ),
    "right_arm": tuple(
        SMPL_JOINT_NAMES.index(n)
        for n in ("right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand")
    ),
    "legs": tuple(
        SMPL_JOINT_NAMES.index(n)
        for n in (
            "left_hip",
            "right_hip",
            "left_knee",
            "right_knee",
            "left_ankle",
            "right_ankle",
            "left_foot",
            "right_foot",
        )
    ),
    "head": tuple(SMPL_JOINT_NAMES.index(n) for n in ("neck", "head")),
}
"""Joint groups that recombination swaps as a whole (both legs together keep the stance)."""

_D = math.pi / 180.0
_FREE = (-math.pi, math.pi)

# Per joint: (lo, hi) for the x, y, z axis-angle components in the joint's local SMPL frame
# (x = body's left, y up, z front in the T-pose). Rough anatomical ranges in degrees: hips flex
# forward about -x, knees about +x, the left elbow about -y (right: +y), shoulders nearly free.
_LIMITS_DEG: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "left_hip": ((-150, 45), (-60, 60), (-30, 80)),
    "right_hip": ((-150, 45), (-60, 60), (-80, 30)),
    "spine1": ((-30, 60), (-35, 35), (-30, 30)),
    "left_knee": ((-5, 155), (-20, 20), (-15, 15)),
    "right_knee": ((-5, 155), (-20, 20), (-15, 15)),
    "spine2": ((-30, 60), (-35, 35), (-30, 30)),
    "left_ankle": ((-50, 55), (-35, 35), (-30, 30)),
    "right_ankle": ((-50, 55), (-35, 35), (-30, 30)),
    "spine3": ((-30, 60), (-35, 35), (-30, 30)),
    "left_foot": ((-45, 45), (-15, 15), (-15, 15)),
    "right_foot": ((-45, 45), (-15, 15), (-15, 15)),
    "neck": ((-45, 55), (-60, 60), (-40, 40)),
    "left_collar": ((-25, 25), (-30, 30), (-20, 35)),
    "right_collar": ((-25, 25), (-30, 30), (-35, 20)),
    "head": ((-40, 40), (-50, 50), (-30, 30)),
    "left_shoulder": ((-120, 120), (-120, 120), (-120, 120)),
    "right_shoulder": ((-120, 120), (-120, 120), (-120, 120)),
    "left_elbow": ((-60, 60), (-155, 5), (-15, 15)),
    "right_elbow": ((-60, 60), (-5, 155), (-15, 15)),
    "left_wrist": ((-60, 60), (-45, 45), (-70, 70)),
    "right_wrist": ((-60, 60), (-45, 45), (-70, 70)),
    "left_hand": ((0, 0), (0, 0), (0, 0)),
    "right_hand": ((0, 0), (0, 0), (0, 0)),
}


def _limits_table() -> torch.Tensor:
    table = torch.empty(NUM_JOINTS, 3, 2, dtype=torch.float64)
    table[:, :, 0], table[:, :, 1] = _FREE
    for name, ranges in _LIMITS_DEG.items():
        table[SMPL_JOINT_NAMES.index(name)] = torch.tensor(ranges, dtype=torch.float64) * _D
    return table


JOINT_LIMITS_RAD: torch.Tensor = _limits_table()
"""``[24, 3, 2]`` (lo, hi) per joint and axis-angle component, radians; root unbounded."""

# Relative noise per joint and component: hinge-like joints mostly about their hinge.
_NOISE_SCALE = torch.ones(NUM_JOINTS, 3, dtype=torch.float64)
_NOISE_SCALE[0] = 0.0  # root: the trainer randomises it
for _name in ("left_knee", "right_knee"):
    _NOISE_SCALE[SMPL_JOINT_NAMES.index(_name)] = torch.tensor([1.0, 0.1, 0.1])
for _name in ("left_elbow", "right_elbow"):
    _NOISE_SCALE[SMPL_JOINT_NAMES.index(_name)] = torch.tensor([0.5, 1.0, 0.1])
for _name in ("left_hand", "right_hand"):
    _NOISE_SCALE[SMPL_JOINT_NAMES.index(_name)] = 0.0


class AugmentedPoses(NamedTuple):
    """Output of :func:`augment_poses`: ``poses [B, 72]`` and ``betas [B, 10]``."""

    poses: torch.Tensor
    betas: torch.Tensor


def augment_poses(
    poses: torch.Tensor,
    generator: torch.Generator,
    *,
    recombine_prob: float = 0.3,
    perturb_std_deg: float = 5.0,
    shape_std: float = 1.0,
    max_abs_beta: float = 3.0,
) -> AugmentedPoses:
    """Augment a batch of corpus poses (see the module docstring).

    Args:
        poses: ``[B, 72]`` SMPL axis-angle poses (float32 or float64, any device).
        generator: the random source (on the poses' device), so training runs reproduce.
        recombine_prob: probability per sample of taking one limb group from another sample.
        perturb_std_deg: standard deviation of the per-component noise, degrees (0: none).
        shape_std: standard deviation of the random betas (0: all betas zero).
        max_abs_beta: betas are clipped to ``[-max_abs_beta, max_abs_beta]``.

    Returns:
        :class:`AugmentedPoses` with ``poses [B, 72]`` (input dtype/device; root unchanged,
        hand joints zero) and ``betas [B, 10]``.

    Raises:
        PoseInputError: wrong shape or parameters out of range.
    """
    if poses.ndim != 2 or poses.shape[1] != POSE_DIM:
        raise PoseInputError(
            f"augment_poses expects poses [B, {POSE_DIM}], got {tuple(poses.shape)}"
        )
    if not 0.0 <= recombine_prob <= 1.0:
        raise PoseInputError(f"recombine_prob must be in [0, 1], got {recombine_prob}")
    if perturb_std_deg < 0 or shape_std < 0 or max_abs_beta < 0:
        raise PoseInputError("perturb_std_deg, shape_std and max_abs_beta must be >= 0")
    batch = poses.shape[0]
    device = poses.device
    work = poses.reshape(batch, NUM_JOINTS, 3).clone()

    if recombine_prob > 0 and batch > 1:
        chosen = torch.rand(batch, generator=generator, device=device) < recombine_prob
        group_pick = torch.randint(len(LIMB_GROUPS), (batch,), generator=generator, device=device)
        donor = torch.randint(batch, (batch,), generator=generator, device=device)
        source = work.clone()
        for group_index, joints in enumerate(LIMB_GROUPS.values()):
            rows = torch.nonzero(chosen & (group_pick == group_index)).flatten()
            if rows.numel() == 0:
                continue
            joint_index = torch.tensor(joints, device=device)
            work[rows[:, None], joint_index] = source[donor[rows][:, None], joint_index]

    if perturb_std_deg > 0:
        scale = _NOISE_SCALE.to(device=device, dtype=work.dtype) * (perturb_std_deg * _D)
        noise = torch.randn(work.shape, generator=generator, device=device, dtype=work.dtype)
        limits = JOINT_LIMITS_RAD.to(device=device, dtype=work.dtype)
        low = torch.minimum(limits[..., 0], work)
        high = torch.maximum(limits[..., 1], work)
        work = torch.clamp(work + noise * scale, low, high)

    work[:, 22:24] = 0.0
    betas = torch.randn(batch, NUM_BETAS, generator=generator, device=device, dtype=poses.dtype)
    betas = (betas * shape_std).clamp(-max_abs_beta, max_abs_beta)
    return AugmentedPoses(poses=work.reshape(batch, POSE_DIM), betas=betas)
