"""Fast differentiable keypoints of a body model in a given keypoint format.

:class:`KeypointLayer` computes only what a keypoint format needs: the 24 joints (rest joints
straight from the betas through a precomputed joint regressor, then forward kinematics) and the
surface landmarks (vertex regressors) through the skinning of just their vertices. It is what
fitting and training differentiate through; the full mesh is
:meth:`lgd_ros.body.model.BodyModel.forward`.

Why it is written the way it is: at batch 1 an eager PyTorch graph costs per-operation
overhead, not arithmetic, and autograd's backward replays every small operation. So

* the tree is walked by pointer doubling (4 products for SMPL's depth 8, see
  :mod:`.kinematics`), joints come from one product with a constant ancestor matrix;
* a landmark ``L = sum_v c_v x_v`` of skinned vertices ``x_v = sum_k w_vk (G_k (v - J_k) + P_k)``
  is regrouped per joint: ``L = sum_k G_k O_k + sum_k U_k P_k`` with ``U_k = sum_v c_v w_vk`` and
  the offsets ``O_k = sum_v c_v w_vk (v - J_k)``, which are linear in the betas (and in SMPL's
  pose features) and precomputed. All landmarks of a format are then two matrix products,
  whatever the number of vertices behind them;
* the backward pass is written out (one autograd node) with the rigid-body form of the
  kinematic chain's Jacobian. A small world-frame rotation ``w`` of joint j's subtree about
  ``P_j`` moves a subtree point ``x`` by ``w x (x - P_j)`` and a subtree rotation ``G_k`` to
  ``[w]x G_k``, so ``dL/dw_j = M_j - P_j x F_j`` with subtree sums of "forces"
  ``f_k = dL/dP_k`` and "moments" ``m_k = P_k x f_k + axial(dL/dG_k G_k^T)``; the local
  axis-angle moves ``w = G_p(j) J_l(a_j) da`` (``J_l``: SO(3)'s left Jacobian); the rest
  joints enter through the bones and give ``dL/dJ = G_p^T F - G^T (F - f)``.

The written-out backward is checked against autograd and by ``gradcheck`` in the tests. Under
``create_graph=True`` (double backward) the layer differentiates its plain autograd graph
instead, so second-order terms stay exact (at the plain path's speed).
``analytic_backward=False`` always uses plain autograd (for comparisons).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import torch

from lgd_ros.body.formats import KeypointFormat, get_keypoint_format
from lgd_ros.body.kinematics import global_rotation_slots, kinematic_tables
from lgd_ros.body.parameters import check_body_parameters
from lgd_ros.body.rotations import (
    axis_angle_to_matrix_parts,
    left_jacobian_transpose_apply,
)
from lgd_ros.body.skeleton import NUM_JOINTS

if TYPE_CHECKING:
    from lgd_ros.body.model import BodyModel

__all__ = ["KeypointLayer", "KeypointOutput"]

# axial vector of (M - M^T) from M flattened row-major: (M21 - M12, M02 - M20, M10 - M01);
# for any w, sum_ik [w]x_ik M_ik = w . axial(M).
_AXIAL_BASIS = [[0.0] * 3 for _ in range(9)]
for _row, _col, _sign in ((7, 0, 1.0), (5, 0, -1.0), (2, 1, 1.0), (6, 1, -1.0), (3, 2, 1.0),
                          (1, 2, -1.0)):
    _AXIAL_BASIS[_row][_col] = _sign


class KeypointOutput(NamedTuple):
    """Keypoints in the frame of the body parameters (the camera frame when fitting)."""

    keypoints: torch.Tensor  # [B, K, 3] metres
    joints: torch.Tensor  # [B, 24, 3] metres


@dataclass
class _Intermediates:
    """What the written-out backward needs from the forward pass."""

    axis_angle: torch.Tensor  # [B, 24, 3]
    local: torch.Tensor  # [B, 24, 3, 3] local rotations R
    sin_over_angle: torch.Tensor  # [B, 24, 1] Rodrigues coefficients (for J_l)
    one_minus_cos_over_sq: torch.Tensor  # [B, 24, 1]
    angle_sq: torch.Tensor  # [B, 24, 1]
    slots: torch.Tensor  # [B, 25, 3, 3] global rotations G, then the identity
    joints: torch.Tensor  # [B, 24, 3] posed joints P (no translation)
    rotations_by_row: torch.Tensor | None  # [B, 3, 72]: [i, 3k + j] = G_k[i, j]
    offsets: torch.Tensor | None  # [B, 72, L]: [3k + j, l] = O_lk[j]


class KeypointLayer(torch.nn.Module):
    """Keypoints of one format for one body model; differentiable w.r.t. pose, betas, transl.

    Build it with :meth:`BodyModel.keypoint_layer`. Buffers are derived from the model's
    arrays, so it follows ``.to(dtype/device)`` of the model that owns it.

    Attributes:
        format: the :class:`~lgd_ros.body.formats.KeypointFormat`.
        available: ``BoolTensor [K]``; False where the model cannot produce the keypoint
            (its position is then the pelvis, a finite placeholder: give it zero weight).
        sources: per keypoint, ``"joint"``, ``"landmark"`` or ``"unavailable"``.
        analytic_backward: use the written-out backward (default); False = plain autograd.
    """

    available: torch.Tensor
    doubling_steps: torch.Tensor
    joint_template: torch.Tensor
    joint_shapedirs: torch.Tensor
    joint_shapedirs_t: torch.Tensor
    bone_template: torch.Tensor
    bone_shapedirs: torch.Tensor
    identity: torch.Tensor
    parent_of_child: torch.Tensor
    parent_slot: torch.Tensor
    ancestor_matrix: torch.Tensor
    descendant_matrix: torch.Tensor
    axial_basis: torch.Tensor
    gather_index: torch.Tensor
    landmark_joint_weights: torch.Tensor
    offset_template: torch.Tensor
    offset_shapedirs: torch.Tensor
    offset_shapedirs_t: torch.Tensor
    offset_posedirs: torch.Tensor | None
    offset_posedirs_t: torch.Tensor | None

    def __init__(
        self,
        model: BodyModel,
        keypoint_format: str | KeypointFormat,
        *,
        analytic_backward: bool = True,
    ) -> None:
        super().__init__()
        fmt = get_keypoint_format(keypoint_format)
        self.format = fmt
        self.analytic_backward = analytic_backward
        sources = fmt.resolve(model.landmark_names)
        self.sources: tuple[str, ...] = tuple(s.kind for s in sources)
        dtype, device = model.v_template.dtype, model.v_template.device

        def buffer(name: str, value: torch.Tensor | None) -> None:
            if value is not None:
                value = value.to(dtype=dtype if value.is_floating_point() else value.dtype,
                                 device=device).contiguous()
            self.register_buffer(name, value, persistent=False)

        # Rest joints and bones are linear in the betas: J(b) = J_T + (J_regressor S) b.
        tables = kinematic_tables(model.parents)
        children = list(tables.child_joints)
        parents_of_children = list(tables.parent_of_child)
        joint_template = model.joint_template.double()  # [24, 3]
        joint_shapedirs = model.joint_shapedirs.double().view(-1, NUM_JOINTS, 3)  # [10, 24, 3]
        buffer("joint_template", joint_template.flatten())  # [72]
        buffer("joint_shapedirs", joint_shapedirs.flatten(1))  # [10, 72]
        buffer("joint_shapedirs_t", joint_shapedirs.flatten(1).T)  # [72, 10]
        buffer("bone_template", (joint_template[children]
                                 - joint_template[parents_of_children]).flatten())  # [69]
        buffer("bone_shapedirs", (joint_shapedirs[:, children]
                                  - joint_shapedirs[:, parents_of_children]).flatten(1))
        buffer("doubling_steps", torch.tensor(tables.doubling_steps))  # [steps, 25]
        buffer("identity", torch.eye(3)[None, None])
        buffer("parent_of_child", torch.tensor(tables.parent_of_child))
        buffer("parent_slot", torch.tensor(tables.parent_slot))
        buffer("ancestor_matrix", torch.tensor(tables.ancestor_matrix))
        buffer("descendant_matrix", torch.tensor(tables.descendant_matrix))
        buffer("axial_basis", torch.tensor(_AXIAL_BASIS))

        # Landmarks: L_l = sum_k G_k O_lk + sum_k U_lk P_k (see the module doc).
        used = sorted({s.index for s in sources if s.kind == "landmark"})
        self.num_landmarks = len(used)
        vertex_ids = sorted({
            int(v) for i in used
            for v, w in zip(model.landmark_vertex_ids[i].tolist(),
                            model.landmark_vertex_weights[i].tolist(), strict=True) if w != 0
        })
        column = {v: c for c, v in enumerate(vertex_ids)}
        regressor = torch.zeros(len(used), len(vertex_ids), dtype=torch.float64)  # c [L, S]
        for row, landmark in enumerate(used):
            for v, w in zip(model.landmark_vertex_ids[landmark].tolist(),
                            model.landmark_vertex_weights[landmark].tolist(), strict=True):
                if w != 0:
                    regressor[row, column[int(v)]] += w
        ids = torch.tensor(vertex_ids, dtype=torch.long, device=model.v_template.device)
        weights = model.lbs_weights[ids].double().cpu()  # [S, 24]
        vertices = model.v_template[ids].double().cpu()  # [S, 3]
        vertex_shapedirs = model.shapedirs_flat.view(
            -1, model.num_vertices, 3)[:, ids].double().cpu()
        joint_weights = regressor @ weights  # U [L, 24]
        per_joint = regressor[:, :, None] * weights[None]  # c_lv w_vk [L, S, 24]
        # O_lk = sum_v c_lv w_vk v_v - U_lk J_k, stored as [(k, j), l] for G_rows @ O.
        offset = (torch.einsum("lvk,vj->kjl", per_joint, vertices)
                  - torch.einsum("lk,kj->kjl", joint_weights, joint_template.cpu()))
        offset_shapedirs = (
            torch.einsum("lvk,bvj->bkjl", per_joint, vertex_shapedirs)
            - torch.einsum("lk,bkj->bkjl", joint_weights, joint_shapedirs.cpu())
        ).reshape(joint_shapedirs.shape[0], 3 * NUM_JOINTS * self.num_landmarks)  # [10, 72 L]
        offset_posedirs = None
        if model.posedirs_flat is not None and self.num_landmarks:
            vertex_posedirs = model.posedirs_flat.view(
                -1, model.num_vertices, 3)[:, ids].double().cpu()
            offset_posedirs = torch.einsum("lvk,pvj->pkjl", per_joint, vertex_posedirs)
            offset_posedirs = offset_posedirs.reshape(vertex_posedirs.shape[0], -1)
        buffer("landmark_joint_weights", joint_weights.T)  # U^T [24, L]
        buffer("offset_template", offset.flatten())  # [72 L]
        buffer("offset_shapedirs", offset_shapedirs)  # [10, 72 L]
        buffer("offset_shapedirs_t", offset_shapedirs.T)  # [72 L, 10]
        buffer("offset_posedirs", offset_posedirs)  # [207, 72 L] or None
        buffer("offset_posedirs_t", None if offset_posedirs is None else offset_posedirs.T)

        # Output = cat([joints, landmarks])[gather_index]; unavailable -> pelvis placeholder.
        slot = {landmark: NUM_JOINTS + row for row, landmark in enumerate(used)}
        gather = [
            s.index if s.kind == "joint" else slot[s.index] if s.kind == "landmark" else 0
            for s in sources
        ]
        buffer("gather_index", torch.tensor(gather))
        buffer("available", torch.tensor([s.kind != "unavailable" for s in sources]))

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return self.format.keypoint_names

    @property
    def num_keypoints(self) -> int:
        return self.format.num_keypoints

    def forward(
        self, pose: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor
    ) -> KeypointOutput:
        """Keypoints and joints.

        Args:
            pose: ``[B, 72]`` axis-angle, root (global orientation) first.
            betas: ``[B, 10]``.
            transl: ``[B, 3]`` metres.

        Returns:
            :class:`KeypointOutput` with ``keypoints [B, K, 3]`` and ``joints [B, 24, 3]``.
        """
        check_body_parameters(pose, betas, transl, dtype=self.joint_template.dtype,
                              device=self.joint_template.device)
        needs_grad = torch.is_grad_enabled() and (
            pose.requires_grad or betas.requires_grad or transl.requires_grad
        )
        if needs_grad and self.analytic_backward:
            apply = cast(Callable[..., tuple[torch.Tensor, torch.Tensor]],
                         _KeypointFunction.apply)
            keypoints, joints = apply(pose, betas, transl, self)
            return KeypointOutput(keypoints=keypoints, joints=joints)
        all_points, joints, _ = self._points(pose, betas)
        offset = transl.unsqueeze(1)
        keypoints = all_points.index_select(1, self.gather_index) + offset
        return KeypointOutput(keypoints=keypoints, joints=joints + offset)

    def points_and_rotations(
        self, pose: torch.Tensor, betas: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keypoints ``[B, K, 3]``, joints ``[B, 24, 3]`` (no translation) and the global
        rotations ``[B, 25, 3, 3]`` (24 joints, then an identity slot).

        For code that writes out gradients of the kinematic chain (the fitting objective):
        it needs the global rotations this pass computes anyway, and computing them a
        second time cost about a tenth of a batch-1 fit. Plain tensor operations
        (differentiable by autograd, exportable); the inputs are not checked, unlike
        :meth:`forward`.
        """
        all_points, joints, saved = self._points(pose, betas)
        return all_points.index_select(1, self.gather_index), joints, saved.slots

    # ------------------------------------------------------------------------ internals

    def _points(
        self, pose: torch.Tensor, betas: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, _Intermediates]:
        """Joints and landmarks ``[B, 24 + L, 3]`` (no translation), joints, intermediates."""
        batch = pose.shape[0]
        axis_angle = pose.view(batch, NUM_JOINTS, 3)
        local, sin_over_angle, one_minus_cos_over_sq, angle_sq = axis_angle_to_matrix_parts(
            axis_angle)
        slots = global_rotation_slots(local, self.doubling_steps, self.identity)
        rotations = slots[:, :NUM_JOINTS]
        root = torch.addmm(self.joint_template[:3], betas, self.joint_shapedirs[:, :3])
        bones = torch.addmm(self.bone_template, betas, self.bone_shapedirs)  # [B, 69]
        rotated_bones = rotations.index_select(1, self.parent_of_child) @ bones.view(
            batch, NUM_JOINTS - 1, 3, 1)
        # P = J_root + ancestor_matrix @ (G_p(k) bone_k)
        joints = torch.baddbmm(root.unsqueeze(1), self.ancestor_matrix.expand(batch, -1, -1),
                               rotated_bones.view(batch, NUM_JOINTS - 1, 3))
        rotations_by_row = offsets = None
        all_points = joints
        if self.num_landmarks:
            offsets = torch.addmm(self.offset_template, betas, self.offset_shapedirs)
            if self.offset_posedirs is not None:
                pose_feature = (local[:, 1:] - self.identity).flatten(1)  # [B, 207]
                offsets = torch.addmm(offsets, pose_feature, self.offset_posedirs)
            offsets = offsets.view(batch, 3 * NUM_JOINTS, self.num_landmarks)
            rotations_by_row = rotations.transpose(1, 2).reshape(batch, 3, 3 * NUM_JOINTS)
            # L^T = P^T U^T + G_rows O  ([B, 3, L])
            landmarks_t = torch.baddbmm(
                joints.transpose(1, 2) @ self.landmark_joint_weights, rotations_by_row, offsets)
            all_points = torch.cat([joints, landmarks_t.transpose(1, 2)], dim=1)
        saved = _Intermediates(axis_angle, local, sin_over_angle, one_minus_cos_over_sq,
                               angle_sq, slots, joints, rotations_by_row, offsets)
        return all_points, joints, saved

    def _axial(self, matrices: torch.Tensor) -> torch.Tensor:
        """Axial vector of ``M - M^T`` for ``M [..., 3, 3]``: ``(M21-M12, M02-M20, M10-M01)``."""
        return matrices.flatten(-2) @ self.axial_basis

    def _backward(
        self, saved: _Intermediates, grad_keypoints: torch.Tensor, grad_joints: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gradients w.r.t. pose ``[B, 72]``, betas ``[B, 10]``, transl ``[B, 3]`` (module doc)."""
        batch = grad_keypoints.shape[0]
        g_points = grad_keypoints.new_zeros(batch, NUM_JOINTS + self.num_landmarks, 3)
        g_points.index_add_(1, self.gather_index, grad_keypoints)
        g_transl = grad_keypoints.sum(1) + grad_joints.sum(1)
        joints, slots = saved.joints, saved.slots
        rotations = slots[:, :NUM_JOINTS]
        force = g_points[:, :NUM_JOINTS] + grad_joints  # dL/dP (direct)
        g_offsets = None
        if self.num_landmarks:
            assert saved.rotations_by_row is not None and saved.offsets is not None
            g_landmarks_t = g_points[:, NUM_JOINTS:].transpose(1, 2)  # [B, 3, L]
            force = torch.baddbmm(force, self.landmark_joint_weights.expand(batch, -1, -1),
                                  g_points[:, NUM_JOINTS:])  # + U^T g_L
            # dL/dG_k [i, j] = sum_l g_L[l, i] O_lk[j]; its moment is axial(dL/dG_k G_k^T).
            # (O g_L)[3k + j, i] = dL/dG_k[i, j]; both operands contiguous (fast bmm).
            g_rotations = torch.bmm(saved.offsets, g_points[:, NUM_JOINTS:]).view(
                batch, NUM_JOINTS, 3, 3).transpose(-1, -2)
            rotation_moment = self._axial(g_rotations @ rotations.transpose(-1, -2))
            moment = torch.linalg.cross(joints, force) + rotation_moment
            g_offsets = saved.rotations_by_row.transpose(1, 2) @ g_landmarks_t  # [B, 72, L]
        else:
            moment = torch.linalg.cross(joints, force)
        # Subtree sums of forces and moments in one product.
        subtree = torch.bmm(self.descendant_matrix.expand(batch, -1, -1),
                            torch.cat([force, moment], dim=2))
        subtree_force = subtree[..., :3]  # F
        torque = subtree[..., 3:] - torch.linalg.cross(joints, subtree_force)
        # Into each joint's parent frame: G_p^T [torque, F] in one product.
        parent_rotations_t = slots.index_select(1, self.parent_slot).transpose(-1, -2)
        in_parent = parent_rotations_t @ torch.stack([torque, subtree_force], dim=-1)
        local_torque = in_parent[..., 0]  # [B, 24, 3]
        if g_offsets is not None and self.offset_posedirs_t is not None:
            # SMPL's pose features (R_k - I): dL/dR_k, then its local rotation moment.
            g_pose_feature = g_offsets.flatten(1) @ self.offset_posedirs_t  # [B, 207]
            g_local = g_pose_feature.view(batch, NUM_JOINTS - 1, 3, 3)
            corrective = self._axial(g_local @ saved.local[:, 1:].transpose(-1, -2))
            local_torque = local_torque + torch.cat(
                [torch.zeros_like(corrective[:, :1]), corrective], dim=1)
        g_pose = left_jacobian_transpose_apply(
            saved.axis_angle, local_torque, saved.sin_over_angle, saved.one_minus_cos_over_sq,
            saved.angle_sq).flatten(1)
        # dL/dJ = G_p^T F - G^T (F - f)
        g_rest_joints = in_parent[..., 1] - (
            rotations.transpose(-1, -2) @ (subtree_force - force).unsqueeze(-1)
        ).squeeze(-1)
        g_betas = g_rest_joints.flatten(1) @ self.joint_shapedirs_t
        if g_offsets is not None:
            g_betas = torch.addmm(g_betas, g_offsets.flatten(1), self.offset_shapedirs_t)
        return g_pose, g_betas, g_transl


class _KeypointFunction(torch.autograd.Function):
    """One autograd node for a whole :class:`KeypointLayer` call (written-out backward)."""

    @staticmethod
    def forward(
        ctx: Any, pose: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor,
        layer: KeypointLayer,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        all_points, joints, saved = layer._points(pose, betas)
        offset = transl.unsqueeze(1)
        ctx.layer = layer
        ctx.saved = saved
        ctx.save_for_backward(pose, betas, transl)
        return all_points.index_select(1, layer.gather_index) + offset, joints + offset

    @staticmethod
    def backward(
        ctx: Any, grad_keypoints: torch.Tensor, grad_joints: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        layer: KeypointLayer = ctx.layer
        if torch.is_grad_enabled():
            # create_graph=True (double backward): differentiate the plain autograd graph,
            # rebuilt from the saved inputs, so second-order terms are exact.
            inputs = ctx.saved_tensors
            pose, betas, transl = inputs
            all_points, joints, _ = layer._points(pose, betas)
            offset = transl.unsqueeze(1)
            outputs = (all_points.index_select(1, layer.gather_index) + offset, joints + offset)
            wanted = [i for i in range(3) if ctx.needs_input_grad[i]]
            grads = torch.autograd.grad(outputs, [inputs[i] for i in wanted],
                                        (grad_keypoints, grad_joints), create_graph=True)
            result: list[torch.Tensor | None] = [None, None, None]
            for i, grad in zip(wanted, grads, strict=True):
                result[i] = grad
            return result[0], result[1], result[2], None
        g_pose, g_betas, g_transl = layer._backward(ctx.saved, grad_keypoints, grad_joints)
        return g_pose, g_betas, g_transl, None
