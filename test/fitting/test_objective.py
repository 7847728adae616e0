"""The written-out reprojection gradient against autograd, and the box normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from lgd_ros.fitting.objective import ReprojectionObjective
from lgd_ros.fitting.observation import normalize_keypoints
from lgd_ros.fitting.state import (
    BodyState,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from lgd_ros.fitting.synthetic import perturbed_state, sample_batch


def _autograd_local(objective: ReprojectionObjective, state: BodyState, obs
                    ) -> list[torch.Tensor]:
    """Autograd gradient w.r.t. the perturbations the written-out gradient is defined for."""
    b = state.body_pose.shape[0]
    d_orient = torch.zeros(b, 3, dtype=state.betas.dtype, requires_grad=True)
    d_body = torch.zeros(b, 23, 3, dtype=state.betas.dtype, requires_grad=True)
    betas = state.betas.clone().requires_grad_(True)
    root = state.root.clone().requires_grad_(True)
    local = axis_angle_to_matrix(state.body_pose.reshape(b, 23, 3))
    body = matrix_to_axis_angle(local @ axis_angle_to_matrix(d_body)).reshape(b, 69)
    orient = axis_angle_to_matrix(d_orient) @ rotation_6d_to_matrix(state.orient6d)
    moved = BodyState(matrix_to_rotation_6d(orient), body, betas, root)
    energy = objective.error(moved, obs).sum()
    return list(torch.autograd.grad(energy, [d_orient, d_body, betas, root]))


@pytest.mark.parametrize("fmt", ["smpl24", "coco17", "blazepose33"])
def test_written_out_gradient_matches_autograd(body_model64, val_poses, fmt: str) -> None:
    layer = body_model64.keypoint_layer(fmt)
    objective = ReprojectionObjective(body_model64, fmt)
    gen = torch.Generator().manual_seed(3)
    batch = sample_batch(val_poses.double(), layer, 6, gen)
    obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics,
                              layer.available)
    state = perturbed_state(batch, obs, gen, scale=2.0)
    error, grad = objective.gradient(state, obs)
    expected = _autograd_local(objective, state, obs)
    torch.testing.assert_close(error, objective.error(state, obs))
    # Root and global orientation are exact for every format.
    torch.testing.assert_close(grad.root, expected[3], rtol=1e-7, atol=1e-10)
    torch.testing.assert_close(grad.orient, expected[0], rtol=1e-7, atol=1e-10)
    body_expected = expected[1].reshape(6, 69)
    if fmt == "smpl24":  # keypoints at joints: exact
        torch.testing.assert_close(grad.body_pose, body_expected, rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(grad.betas, expected[2], rtol=1e-6, atol=1e-9)
    else:  # surface landmarks: rigid-attachment approximation
        cos_body = torch.nn.functional.cosine_similarity(grad.body_pose, body_expected, dim=1)
        cos_betas = torch.nn.functional.cosine_similarity(grad.betas, expected[2], dim=1)
        assert float(cos_body.min()) > 0.99
        assert float(cos_betas.min()) > 0.97


def test_normalisation_uses_intrinsics_and_box() -> None:
    k = torch.tensor([[[500.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]]])
    px = torch.tensor([[[320.0, 240.0], [420.0, 440.0], [float("nan"), 0.0], [0.0, 0.0]]])
    conf = torch.tensor([[1.0, 0.5, 1.0, 0.0]])
    obs = normalize_keypoints(px, conf, k, torch.tensor([True, True, True, True]))
    # NaN keypoint and zero confidence are missing.
    assert obs.weights.tolist() == [[1.0, 0.5, 0.0, 0.0]]
    assert int(obs.num_valid) == 2
    torch.testing.assert_close(obs.rays[0, 1], torch.tensor([0.2, 0.5]))
    torch.testing.assert_close(obs.box_centre[0], torch.tensor([0.1, 0.25]))
    assert math.isclose(float(obs.box_scale), 0.5)
    assert torch.isfinite(obs.box_keypoints).all()
