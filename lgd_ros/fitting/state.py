"""The fitter's internal parameterisation of a body in the camera frame.

Why not fit SMPL's (pose, betas, transl) directly:

* the global orientation of a person facing the camera is a rotation by about pi, where
  axis-angle wraps; the global orientation is therefore kept as the first two columns of
  its rotation matrix (the continuous "6D" representation of Zhou et al., CVPR 2019);
* translation in metres is badly scaled for a network (a person 1 m or 30 m away), so the
  pelvis position is kept relative to the person's 2D box: ``root = (zeta, o_x, o_y)`` with
  ``zeta = log(z * s)`` (log of the body size the box spans; depth from scale,
  ``z = exp(zeta) / s``) and ``o`` the pelvis' image position in box units relative to the
  box centre. Both are invariant to camera focal length and to the person's distance.

The body's joint rotations (``body_pose``, 69 values, axis-angle, SMPL order without the
root) and ``betas`` are kept as they are.

Frame conventions (REP-103 camera optical frame: x right, y down, z forward): a posed
body is ``X = R (X0 - J0) + p`` where ``X0`` are the keypoints posed with zero global
orientation and zero translation, ``J0`` the rest pelvis and ``p`` the pelvis in the
camera frame; SMPL's translation is then ``transl = p - J0``, because SMPL rotates the
body about its root joint before translating it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lgd_ros.fitting.observation import KeypointObservation

__all__ = [
    "BODY_POSE_DIM",
    "DEFAULT_LOG_BODY_SIZE",
    "ORIENT_DIM",
    "ROOT_DIM",
    "STATE_DIM",
    "BodyState",
    "facing_camera_6d",
    "matrix_to_rotation_6d",
    "pelvis_to_root",
    "root_to_pelvis",
    "rotation_6d_to_matrix",
]

ORIENT_DIM: int = 6
BODY_POSE_DIM: int = 69
ROOT_DIM: int = 3
#: log of the longer box side in metres of an upright adult (about 1.6 m); the init
#: network predicts ``zeta`` relative to this.
DEFAULT_LOG_BODY_SIZE: float = math.log(1.6)


def rotation_6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt map from two (unnormalised) columns ``[..., 6]`` to a rotation ``[..., 3, 3]``.

    Kept here rather than in :mod:`lgd_ros.body.rotations` because only the fitter's
    parameterisation uses it; it does not duplicate any conversion of that module.
    """
    a1 = rot6d[..., 0:3]
    a2 = rot6d[..., 3:6]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    a2_ortho = a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1
    b2 = a2_ortho / a2_ortho.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """First two columns ``[..., 6]`` of rotation matrices ``[..., 3, 3]``."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def facing_camera_6d(batch: int, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[B, 6]`` orientation of an upright person facing the camera (pi about camera x)."""
    base = torch.tensor([1.0, 0.0, 0.0, 0.0, -1.0, 0.0], dtype=dtype, device=device)
    return base.expand(batch, 6).clone()


def root_to_pelvis(root: torch.Tensor, obs: KeypointObservation) -> torch.Tensor:
    """Pelvis position ``[B, 3]`` in metres (camera frame) from box-relative ``root [B, 3]``.

    ``z = exp(zeta) / s``; ``(x, y) = z * (c + s * o)`` (the pelvis ray through its image
    position ``c + s o``).
    """
    scale = obs.box_scale[:, None]
    depth = torch.exp(root[:, :1]) / scale
    lateral = depth * (obs.box_centre + scale * root[:, 1:3])
    return torch.cat([lateral, depth], dim=-1)


def pelvis_to_root(pelvis: torch.Tensor, obs: KeypointObservation) -> torch.Tensor:
    """Inverse of :func:`root_to_pelvis` (depth clamped to >= 1 mm so a warm start never fails)."""
    scale = obs.box_scale[:, None]
    depth = pelvis[:, 2:3].clamp(min=1e-3)
    zeta = torch.log(depth * scale)
    offset = (pelvis[:, :2] / depth - obs.box_centre) / scale
    return torch.cat([zeta, offset], dim=-1)


@dataclass(frozen=True)
class BodyState:
    """One iterate of the fit (all ``[B, n]``): see the module docstring."""

    orient6d: torch.Tensor  # [B, 6]
    body_pose: torch.Tensor  # [B, 69]
    betas: torch.Tensor  # [B, num_betas]
    root: torch.Tensor  # [B, 3]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The four parameter groups in a fixed order (orient, body pose, betas, root)."""
        return (self.orient6d, self.body_pose, self.betas, self.root)

    def flat(self) -> torch.Tensor:
        """``[B, STATE_DIM]`` concatenation of :meth:`tensors`."""
        return torch.cat(self.tensors(), dim=-1)

    @classmethod
    def from_flat(cls, flat: torch.Tensor, num_betas: int) -> BodyState:
        """Split a ``[B, 6 + 69 + num_betas + 3]`` vector into the four groups."""
        sizes = [ORIENT_DIM, BODY_POSE_DIM, num_betas, ROOT_DIM]
        orient6d, body_pose, betas, root = torch.split(flat, sizes, dim=-1)
        return cls(orient6d=orient6d, body_pose=body_pose, betas=betas, root=root)

    def add(self, delta: BodyState) -> BodyState:
        """Group-wise sum (the learned update ``x_{t+1} = x_t + net(...)``)."""
        return BodyState(*(a + b for a, b in zip(self.tensors(), delta.tensors(), strict=True)))

    def detach(self) -> BodyState:
        """Copy without autograd history."""
        return BodyState(*(t.detach() for t in self.tensors()))

    def where(self, mask: torch.Tensor, other: BodyState) -> BodyState:
        """Per-sample choice: ``self`` where ``mask [B]`` is True, else ``other``."""
        return BodyState(
            *(
                torch.where(mask[:, None], a, b)
                for a, b in zip(self.tensors(), other.tensors(), strict=True)
            )
        )


def state_dim(num_betas: int) -> int:
    """Length of :meth:`BodyState.flat` for a body model with ``num_betas`` shape parameters."""
    return ORIENT_DIM + BODY_POSE_DIM + num_betas + ROOT_DIM


STATE_DIM: int = state_dim(10)
