"""Forward kinematics and linear blend skinning of the SMPL tree, as pure tensor functions.

Written for few, large tensor operations, because at batch 1 the cost of fitting is Python and
per-operation overhead, not arithmetic:

* global rotations by *pointer doubling*: ``ceil(log2(depth + 1))`` = 4 batched matrix
  products for SMPL's depth-8 tree instead of one product per joint or per tree level;
* joint positions from the global rotations in one product with a constant 0/1 ancestor
  matrix instead of a loop;
* skinning of only the vertices asked for.

Notation: ``R_j`` local rotation of joint j (relative to its parent), ``G_j`` global rotation,
``J_j`` rest joint position, ``p(j)`` parent. Then ``G_j = G_p(j) R_j`` and the posed joint
``P_j = P_p(j) + G_p(j) (J_j - J_p(j))`` with ``P_root = J_root``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lgd_ros.body.skeleton import SMPL_PARENTS

__all__ = [
    "KinematicTables",
    "blend_vertices",
    "global_rotation_slots",
    "global_rotations",
    "kinematic_tables",
    "posed_joints",
    "skinning_translations",
]


@dataclass(frozen=True)
class KinematicTables:
    """Constant index tables of a tree (plain tuples; modules turn them into buffers).

    Attributes:
        doubling_steps: per doubling step, for each of the J + 1 slots (slot J holds the
            identity and stands for "above the root"), the slot to multiply from the left.
        child_joints: the non-root joints ``1..J-1``.
        parent_of_child: their parents.
        ancestor_matrix: ``[J][J-1]``, 1 where non-root joint k lies on the path root -> j
            (k itself included), so ``P = J_root + ancestor_matrix @ (G_p(k) bone_k)``.
        descendant_matrix: ``[J][J]``, 1 where k is in the subtree of j (j included), so
            ``descendant_matrix @ f`` sums a per-joint quantity over each subtree.
        parent_slot: parent of every joint, with the root's parent mapped to slot J (the
            identity appended after the J joints).
    """

    doubling_steps: tuple[tuple[int, ...], ...]
    child_joints: tuple[int, ...]
    parent_of_child: tuple[int, ...]
    ancestor_matrix: tuple[tuple[float, ...], ...]
    descendant_matrix: tuple[tuple[float, ...], ...]
    parent_slot: tuple[int, ...]


def kinematic_tables(parents: tuple[int, ...] = SMPL_PARENTS) -> KinematicTables:
    """Precompute the index tables for ``parents`` (parents must precede children)."""
    num_joints = len(parents)
    identity_slot = num_joints
    # Pointer doubling: slot j holds the product of the rotations from (exclusive)
    # ancestor a_j down to j. Combining with slot a_j doubles the covered path length.
    ancestor = [p if p >= 0 else identity_slot for p in parents] + [identity_slot]
    steps: list[tuple[int, ...]] = []
    while any(a != identity_slot for a in ancestor[:num_joints]):
        steps.append(tuple(ancestor))
        ancestor = [ancestor[a] for a in ancestor]
    children = tuple(range(1, num_joints))
    matrix = [[0.0] * (num_joints - 1) for _ in range(num_joints)]
    descendants = [[0.0] * num_joints for _ in range(num_joints)]
    for joint in range(num_joints):
        node = joint
        while node >= 0:
            if node > 0:
                matrix[joint][node - 1] = 1.0
            descendants[node][joint] = 1.0
            node = parents[node]
    return KinematicTables(
        doubling_steps=tuple(steps),
        child_joints=children,
        parent_of_child=tuple(parents[k] for k in children),
        ancestor_matrix=tuple(tuple(row) for row in matrix),
        descendant_matrix=tuple(tuple(row) for row in descendants),
        parent_slot=tuple(p if p >= 0 else identity_slot for p in parents),
    )


def global_rotations(
    local_rotations: torch.Tensor,
    doubling_steps: torch.Tensor,
    identity: torch.Tensor,
) -> torch.Tensor:
    """Global rotations ``G`` from local ones ``R`` by pointer doubling.

    Args:
        local_rotations: ``[B, J, 3, 3]``.
        doubling_steps: LongTensor ``[steps, J + 1]`` (rows of
            :attr:`KinematicTables.doubling_steps`).
        identity: ``[1, 1, 3, 3]`` identity (same dtype/device).

    Returns:
        ``[B, J, 3, 3]`` with ``G_j = G_p(j) R_j``.
    """
    return global_rotation_slots(local_rotations, doubling_steps, identity)[:, :-1]


def global_rotation_slots(
    local_rotations: torch.Tensor,
    doubling_steps: torch.Tensor,
    identity: torch.Tensor,
) -> torch.Tensor:
    """Like :func:`global_rotations` but keeps the identity slot: ``[B, J + 1, 3, 3]``."""
    batch = local_rotations.shape[0]
    slots = torch.cat([local_rotations, identity.expand(batch, 1, 3, 3)], dim=1)
    for ancestor_slot in doubling_steps:
        slots = slots.index_select(1, ancestor_slot) @ slots
    return slots


def posed_joints(
    rotations: torch.Tensor,
    rest_joints: torch.Tensor,
    child_joints: torch.Tensor,
    parent_of_child: torch.Tensor,
    ancestor_matrix: torch.Tensor,
) -> torch.Tensor:
    """Posed joint positions (before the global translation).

    ``P_j = J_root + sum_{k on root->j, k != root} G_p(k) (J_k - J_p(k))``.

    Args:
        rotations: ``[B, J, 3, 3]`` global rotations.
        rest_joints: ``[B, J, 3]``.
        child_joints, parent_of_child: ``[J-1]`` index tensors.
        ancestor_matrix: ``[J, J-1]``.

    Returns:
        ``[B, J, 3]``.
    """
    bones = rest_joints.index_select(1, child_joints) - rest_joints.index_select(1, parent_of_child)
    rotated_bones = rotations.index_select(1, parent_of_child) @ bones.unsqueeze(-1)
    batch = rest_joints.shape[0]
    return torch.baddbmm(rest_joints[:, :1], ancestor_matrix.expand(batch, -1, -1),
                         rotated_bones.squeeze(-1))


def skinning_translations(
    rotations: torch.Tensor, joints: torch.Tensor, rest_joints: torch.Tensor
) -> torch.Tensor:
    """Translation part of each joint's skinning transform: ``t_j = P_j - G_j J_j``.

    A rest-pose point ``v`` bound to joint j goes to ``G_j v + t_j``. Shapes ``[B, J, 3]``.
    """
    return joints - (rotations @ rest_joints.unsqueeze(-1)).squeeze(-1)


def blend_vertices(
    rest_vertices: torch.Tensor,
    skin_weights: torch.Tensor,
    rotations: torch.Tensor,
    translations: torch.Tensor,
) -> torch.Tensor:
    """Linear blend skinning: ``x_v = (sum_j w_vj G_j) v + sum_j w_vj t_j``.

    Args:
        rest_vertices: ``[B, S, 3]`` (shaped, pose-corrected) rest vertices.
        skin_weights: ``[S, J]``.
        rotations: ``[B, J, 3, 3]``; translations: ``[B, J, 3]``.

    Returns:
        ``[B, S, 3]`` posed vertices.
    """
    blended_rotations = skin_weights @ rotations.flatten(2)  # [B, S, 9]
    blended_rotations = blended_rotations.reshape(*blended_rotations.shape[:-1], 3, 3)
    blended_translations = skin_weights @ translations  # [B, S, 3]
    posed: torch.Tensor = (blended_rotations @ rest_vertices.unsqueeze(-1)).squeeze(-1)
    return posed + blended_translations
