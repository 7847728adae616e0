"""Checks of the SMPL parameter tensors every body-model call takes.

Cheap on purpose (shape/dtype/device attributes only, no host sync): they run on every
fitting step.
"""

from __future__ import annotations

import torch

from lgd_ros.body.errors import BodyInputError
from lgd_ros.body.skeleton import NUM_BETAS, POSE_DIM

__all__ = ["check_body_parameters"]


def check_body_parameters(
    pose: torch.Tensor,
    betas: torch.Tensor,
    transl: torch.Tensor,
    *,
    dtype: torch.dtype,
    device: torch.device,
) -> int:
    """Validate ``pose [B, 72]``, ``betas [B, 10]``, ``transl [B, 3]``; return ``B``.

    They must share the model's dtype and device (move the model with ``.to(...)`` or
    convert the inputs: nothing is converted silently).
    """
    for name, tensor, width in (("pose", pose, POSE_DIM), ("betas", betas, NUM_BETAS),
                                ("transl", transl, 3)):
        if not isinstance(tensor, torch.Tensor):
            raise BodyInputError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() != 2 or tensor.shape[1] != width:
            raise BodyInputError(
                f"{name} must have shape [B, {width}], got {list(tensor.shape)}"
            )
        if tensor.dtype != dtype or tensor.device != device:
            raise BodyInputError(
                f"{name} is {tensor.dtype} on {tensor.device} but the body model is {dtype} on "
                f"{device}; convert one of them (e.g. model.to(dtype=..., device=...))"
            )
    batch = pose.shape[0]
    if betas.shape[0] != batch or transl.shape[0] != batch:
        raise BodyInputError(
            f"batch sizes differ: pose {pose.shape[0]}, betas {betas.shape[0]}, "
            f"transl {transl.shape[0]}"
        )
    return batch
