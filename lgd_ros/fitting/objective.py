"""Posing a :class:`BodyState` and the confidence-weighted reprojection error and its gradient.

The error is measured in *box units* (normalised image coordinates divided by the
person's box size), so its value and gradient do not depend on the camera or on how big
the person appears -- the networks see gradients of the same scale for a child 20 m
away and an adult filling a 4K frame:

    E(x) = sum_k w_k || (pi(Y_k(x)) - r_k) / s ||^2 / sum_k w_k

with ``pi(Y) = (Y_x / Y_z, Y_y / Y_z)``, ``r_k`` the observed normalised ray, ``w_k`` the
weight (confidence) and ``s`` the box scale.

The gradient is written out (:class:`ReprojectionObjective.gradient`) instead of taken by
autograd: at batch 1 autograd's bookkeeping costs more than the arithmetic, and a
TensorRT/ONNX export of the fitting loop cannot run autograd. It is the gradient with
respect to

* a rotation ``exp([d])`` applied in the camera frame to the global orientation
  (``d`` [3]): ``dE/dd = sum_k (Y_k - p) x g_k`` (a torque about the pelvis);
* a rotation ``R_j <- R_j exp([d_j])`` of each body joint in its own frame:
  ``dE/dd_j = G_j^T sum_{k below j} (Y_k - Q_j) x g_k`` (``G_j`` the joint's global rotation,
  ``Q_j`` its position, ``g_k = dE/dY_k``); for small updates this is the axis-angle
  gradient, and it is well defined at any pose;
* ``betas``, through the bones and landmark offsets they lengthen;
* the box-relative root ``(zeta, o)``.

It is exact for keypoints at joints. Surface landmarks (nose, eyes, ears, fingers, toes)
are treated as rigidly attached to the joint that skins them most and pose-corrective
shapes are ignored -- a close approximation that training and inference share, checked
against autograd in the tests. :func:`reprojection_gradient_autograd` keeps the autograd
version for those checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lgd_ros.body import BodyModel
from lgd_ros.body.formats import KeypointFormat, get_keypoint_format
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_PARENTS
from lgd_ros.fitting.observation import KeypointObservation
from lgd_ros.fitting.state import BodyState, root_to_pelvis, rotation_6d_to_matrix

__all__ = [
    "GRADIENT_SIZES",
    "MIN_DEPTH",
    "BodyGradient",
    "PosedBody",
    "ReprojectionObjective",
    "normalized_projection",
    "pose_body",
    "reprojection_error",
    "reprojection_gradient_autograd",
]

#: Points closer than this (metres) to the camera plane are clamped before the perspective
#: division, so a bad iterate never divides by zero.
MIN_DEPTH: float = 1e-2


@dataclass(frozen=True)
class PosedBody:
    """A posed body in the camera frame.

    Attributes:
        keypoints: ``[B, K, 3]`` keypoints of the layer's format, metres.
        joints: ``[B, 24, 3]`` SMPL joints, metres.
        rotation: ``[B, 3, 3]`` global orientation.
        pelvis: ``[B, 3]`` pelvis (root joint) position.
        rest_pelvis: ``[B, 3]`` root joint of the unposed, untranslated body (``J0``).
    """

    keypoints: torch.Tensor
    joints: torch.Tensor
    rotation: torch.Tensor
    pelvis: torch.Tensor
    rest_pelvis: torch.Tensor


def pose_body(
    layer: nn.Module, state: BodyState, obs: KeypointObservation
) -> PosedBody:
    """Pose ``state`` with a :class:`lgd_ros.body.KeypointLayer`.

    The layer is called with zero global orientation and translation; the global
    rotation is applied here about the root joint, ``Y = R (X0 - J0) + p`` (exactly what
    SMPL does), so it can stay a rotation matrix.
    """
    batch = state.body_pose.shape[0]
    zeros = state.body_pose.new_zeros(batch, 3)
    out = layer(torch.cat([zeros, state.body_pose], dim=-1), state.betas, zeros)
    return _place(out.keypoints, out.joints, state, obs)


def _place(keypoints0: torch.Tensor, joints0: torch.Tensor, state: BodyState,
           obs: KeypointObservation, *, with_joints: bool = True) -> PosedBody:
    rest_pelvis = joints0[:, 0, :]
    rotation = rotation_6d_to_matrix(state.orient6d)
    pelvis = root_to_pelvis(state.root, obs)
    rot_t = rotation.transpose(1, 2)
    keypoints = (keypoints0 - rest_pelvis[:, None, :]) @ rot_t + pelvis[:, None, :]
    joints = (joints0 - rest_pelvis[:, None, :]) @ rot_t + pelvis[:, None, :] if with_joints \
        else joints0
    return PosedBody(keypoints=keypoints, joints=joints, rotation=rotation, pelvis=pelvis,
                     rest_pelvis=rest_pelvis)


def normalized_projection(points: torch.Tensor) -> torch.Tensor:
    """``[B, N, 3]`` camera-frame points -> ``[B, N, 2]`` normalised image coordinates.

    ``(x / z, y / z)``, what :func:`lgd_ros.body.camera.project_points` gives with identity
    intrinsics, written out because every fitting step calls it (building ``K = I`` and
    checking it cost more than the division at batch 1). Depth is clamped to ``MIN_DEPTH``
    first so points behind the camera give a large, finite error.
    """
    return points[..., :2] / points[..., 2:].clamp(min=MIN_DEPTH)


def _error_terms(
    keypoints: torch.Tensor, obs: KeypointObservation
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Projection ``[B, K, 2]``, box-unit residual ``[B, K, 2]`` and error ``[B]``."""
    projected = normalized_projection(keypoints)
    residual = (projected - obs.rays) / obs.box_scale[:, None, None]
    weight_sum = obs.weights.sum(dim=1).clamp(min=1e-6)
    error = (obs.weights * residual.square().sum(dim=-1)).sum(dim=1) / weight_sum
    return projected, residual, error


def reprojection_error(
    layer: nn.Module, state: BodyState, obs: KeypointObservation
) -> torch.Tensor:
    """``[B]`` weighted mean squared reprojection error in box units (see module docstring)."""
    return _error_terms(pose_body(layer, state, obs).keypoints, obs)[2]


#: Sizes of the gradient groups: global rotation (3), body joint rotations (69), betas,
#: box-relative root (3).
GRADIENT_SIZES: tuple[int, int, int] = (3, 69, 3)


@dataclass(frozen=True)
class BodyGradient:
    """Gradient of the error (see module docstring for what each group is relative to)."""

    orient: torch.Tensor  # [B, 3]
    body_pose: torch.Tensor  # [B, 69]
    betas: torch.Tensor  # [B, num_betas]
    root: torch.Tensor  # [B, 3]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.orient, self.body_pose, self.betas, self.root)


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cross(a, b, dim=-1)


class ReprojectionObjective(nn.Module):
    """Reprojection error of one keypoint layer, with its written-out gradient.

    Holds constant tables derived from the body model's arrays and the keypoint format
    (which joint each keypoint hangs from,
    subtree membership, how betas lengthen bones and landmark offsets) as buffers, so it
    follows ``.to(device)``.
    """

    subtree_and_bones: torch.Tensor
    beta_directions: torch.Tensor
    local_frame_index: torch.Tensor

    def __init__(self, body_model: BodyModel, fmt: str | KeypointFormat) -> None:
        super().__init__()
        self.layer = body_model.keypoint_layer(fmt)
        keypoint_format = get_keypoint_format(fmt)
        dtype, device = body_model.dtype, body_model.device
        parents = list(SMPL_PARENTS)
        # Joint shape directions S [24, 3, nb] (rest joints J = J_T + S b).
        joint_dirs = body_model.joint_shapedirs.detach().to(torch.float64).cpu()
        num_betas = joint_dirs.shape[0]
        joint_dirs = joint_dirs.reshape(num_betas, NUM_JOINTS, 3).permute(1, 2, 0)
        vertex_dirs = body_model.shapedirs_flat.detach().to(torch.float64).cpu()
        vertex_dirs = vertex_dirs.reshape(num_betas, -1, 3)  # [nb, V, 3]
        skin = body_model.lbs_weights.detach().to(torch.float64).cpu()  # [V, 24]
        sources = keypoint_format.resolve(body_model.landmark_names)
        num_keypoints = len(sources)
        keypoint_joint = [0] * num_keypoints
        landmark_dirs = torch.zeros(num_keypoints, 3, num_betas, dtype=torch.float64)
        for k, source in enumerate(sources):
            if source.kind == "joint":
                keypoint_joint[k] = source.index
            elif source.kind == "landmark":
                ids = torch.as_tensor(body_model.landmark_vertex_ids[source.index],
                                      dtype=torch.long)
                weights = torch.as_tensor(body_model.landmark_vertex_weights[source.index],
                                          dtype=torch.float64)
                # The joint that skins the landmark most; its offset from that joint
                # stretches with the betas like the vertices that define it.
                joint = int((weights @ skin[ids]).argmax())
                keypoint_joint[k] = joint
                landmark_dirs[k] = (torch.einsum("m,nmc->cn", weights, vertex_dirs[:, ids])
                                    - joint_dirs[joint])
        # chain[k, i] = 1 if non-root joint i is on the path root -> joint(k);
        # subtree[j, k] = 1 if joint(k) is j or below j.
        chain = torch.zeros(num_keypoints, NUM_JOINTS, dtype=torch.float64)
        subtree = torch.zeros(NUM_JOINTS, num_keypoints, dtype=torch.float64)
        for k, joint in enumerate(keypoint_joint):
            node = joint
            while node >= 0:
                subtree[node, k] = 1.0
                if node > 0:
                    chain[k, node] = 1.0
                node = parents[node]
        bone_dirs = torch.zeros(NUM_JOINTS, 3, num_betas, dtype=torch.float64)
        for i in range(1, NUM_JOINTS):
            bone_dirs[i] = joint_dirs[i] - joint_dirs[parents[i]]
        parent_index = [p if p >= 0 else NUM_JOINTS for p in parents]  # root -> identity slot

        def buf(name: str, value: torch.Tensor) -> None:
            self.register_buffer(name, value.to(device=device, dtype=dtype), persistent=False)

        # Rows 0-23: subtree[j, k]; rows 24-47: chain^T[i, k] (keypoint k hangs below bone i).
        buf("subtree_and_bones", torch.cat([subtree, chain.T], dim=0))
        # d(bone_i, landmark offset_k)/d(betas), matching the rows of the local forces.
        buf("beta_directions", torch.cat([bone_dirs, landmark_dirs]).reshape(-1, num_betas))
        # Rotation slot giving each local frame: joints, then bones (their parent joint;
        # the root's parent is the identity slot), then keypoints (their joint).
        frames = list(range(NUM_JOINTS)) + parent_index + keypoint_joint
        self.register_buffer("local_frame_index", torch.tensor(frames, device=device),
                             persistent=False)

    def pose(self, state: BodyState, obs: KeypointObservation) -> PosedBody:
        """:func:`pose_body` with this objective's layer."""
        return pose_body(self.layer, state, obs)

    def error(self, state: BodyState, obs: KeypointObservation) -> torch.Tensor:
        """``[B]`` reprojection error."""
        return _error_terms(self.pose(state, obs).keypoints, obs)[2]

    def gradient(self, state: BodyState,
                 obs: KeypointObservation) -> tuple[torch.Tensor, BodyGradient]:
        """Error ``[B]`` and its written-out gradient (see module docstring).

        Plain tensor operations only: differentiable (second-order training) and
        exportable.
        """
        batch = state.body_pose.shape[0]
        zeros = state.body_pose.new_zeros(batch, 3)
        keypoints0, joints0, rotation_slots = self.layer.points_and_rotations(
            torch.cat([zeros, state.body_pose], dim=-1), state.betas)
        posed = _place(keypoints0, joints0, state, obs, with_joints=False)
        projected, residual, error = _error_terms(posed.keypoints, obs)

        # g_k = dE/dY_k for Y = (x, y, z), pi = (x, y) / z:
        #   dE/dpi_k = 2 w_k e_k / (s W),  dpi/dY = [[1/z, 0, -pi_x/z], [0, 1/z, -pi_y/z]].
        depth = posed.keypoints[..., 2]
        in_front = depth > MIN_DEPTH
        safe_depth = depth.clamp(min=MIN_DEPTH)
        weight_sum = obs.weights.sum(dim=1, keepdim=True).clamp(min=1e-6)
        coef = 2.0 * obs.weights / (obs.box_scale[:, None] * weight_sum)  # [B, K]
        d_proj = coef[..., None] * residual  # [B, K, 2]
        g_xy = d_proj / safe_depth[..., None]
        g_z = -(d_proj * projected).sum(-1) / safe_depth * in_front.to(depth.dtype)
        grad_points = torch.cat([g_xy, g_z[..., None]], dim=-1)  # [B, K, 3]

        # Root: p = z (c + s o, 1) with z = exp(zeta) / s -> dp/dzeta = p, dp/do = z s e_xy.
        grad_pelvis = grad_points.sum(dim=1)  # [B, 3]
        d_zeta = (grad_pelvis * posed.pelvis).sum(-1, keepdim=True)
        z_s = posed.pelvis[:, 2:3] * obs.box_scale[:, None]
        grad_root = torch.cat([d_zeta, z_s * grad_pelvis[:, :2]], dim=-1)

        # Global orientation: torque about the pelvis in the camera frame.
        grad_orient = _cross(posed.keypoints - posed.pelvis[:, None], grad_points).sum(dim=1)

        # Body joints, in the zero-orientation frame of the layer: g'_k = R^T g_k. One
        # product gives the subtree sums of moments X0_k x g'_k and of forces g'_k per
        # joint, and the forces on each bone (the keypoints below it).
        grad_body_frame = grad_points @ posed.rotation  # rows: (R^T g)^T
        sums = self.subtree_and_bones @ torch.cat(
            [_cross(keypoints0, grad_body_frame), grad_body_frame], dim=-1)  # [B, 48, 6]
        torque = sums[:, :NUM_JOINTS, :3] - _cross(joints0, sums[:, :NUM_JOINTS, 3:])
        bone_force = sums[:, NUM_JOINTS:, 3:]
        # Into local frames, in one batched product v^T G = (G^T v)^T: each joint's torque
        # (G_j), each bone's force (G_parent) and each keypoint's force (G of its joint).
        local = (torch.cat([torque, bone_force, grad_body_frame], dim=1)[..., None, :]
                 @ rotation_slots[:, self.local_frame_index]).squeeze(-2)  # [B, 48 + K, 3]
        grad_body = local[:, 1:NUM_JOINTS].reshape(batch, -1)
        # Betas: bones along each keypoint's chain plus the landmark's own offset.
        grad_betas = local[:, NUM_JOINTS:].reshape(batch, -1) @ self.beta_directions
        return error, BodyGradient(orient=grad_orient, body_pose=grad_body, betas=grad_betas,
                                   root=grad_root)


def reprojection_gradient_autograd(
    layer: nn.Module, state: BodyState, obs: KeypointObservation
) -> tuple[torch.Tensor, BodyState]:
    """Error ``[B]`` and autograd gradient w.r.t. the raw state groups (reference for tests).

    Pure: ``torch.autograd.grad`` on detached copies, no graph kept.
    """
    with torch.enable_grad():
        leaves = BodyState(*(t.detach().requires_grad_(True) for t in state.tensors()))
        error = reprojection_error(layer, leaves, obs)
        grads = torch.autograd.grad(error.sum(), list(leaves.tensors()), allow_unused=True)
    filled = [g if g is not None else torch.zeros_like(t)
              for g, t in zip(grads, leaves.tensors(), strict=True)]
    return error.detach(), BodyState(*filled)
