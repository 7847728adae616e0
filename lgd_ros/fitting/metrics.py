"""3D and 2D error measures used by training validation and the benchmark."""

from __future__ import annotations

import torch

__all__ = ["mpjpe", "pa_mpjpe", "procrustes_align"]


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B]`` mean per-joint position error after aligning the pelvis (joint 0).

    Args:
        pred, target: ``[B, N, 3]`` joints, metres (joint 0 = pelvis).
    """
    pred_rel = pred - pred[:, :1]
    target_rel = target - target[:, :1]
    return (pred_rel - target_rel).norm(dim=-1).mean(dim=-1)


def procrustes_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``pred [B, N, 3]`` after the similarity transform (scale, rotation, translation)
    that best maps it onto ``target`` in the least-squares sense (Umeyama 1991)."""
    mu_p = pred.mean(dim=1, keepdim=True)
    mu_t = target.mean(dim=1, keepdim=True)
    p = pred - mu_p
    t = target - mu_t
    # Cross-covariance H = p^T t; rotation R = V diag(1, 1, d) U^T from its SVD.
    h = p.transpose(1, 2) @ t
    u, s, vh = torch.linalg.svd(h)
    v = vh.transpose(1, 2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))
    diag = torch.ones_like(s)
    diag[:, 2] = d
    rot = v @ torch.diag_embed(diag) @ u.transpose(1, 2)
    scale = (s * diag).sum(dim=1) / p.square().sum(dim=(1, 2)).clamp(min=1e-12)
    return scale[:, None, None] * p @ rot.transpose(1, 2) + mu_t


def pa_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B]`` mean joint error after Procrustes alignment (removes scale, rotation, position)."""
    return (procrustes_align(pred, target) - target).norm(dim=-1).mean(dim=-1)
