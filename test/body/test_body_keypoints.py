"""KeypointLayer: gradients (gradcheck), availability, agreement with the full mesh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgd_ros.body import KEYPOINT_FORMAT_NAMES, BodyModel, KeypointLayer, KeypointOutput

from .conftest import random_model_arrays, random_parameters


def _small_model(with_posedirs: bool = True) -> BodyModel:
    arrays = random_model_arrays(num_vertices=60, seed=5, with_posedirs=with_posedirs)
    return BodyModel.from_arrays(
        v_template=arrays["v_template"], shapedirs=arrays["shapedirs"],
        J_regressor=arrays["J_regressor"], weights=arrays["weights"], faces=arrays["f"],
        posedirs=arrays.get("posedirs"),
        landmarks={"nose": ([1, 2, 3], [0.5, 0.25, 0.25]), "left_ear": ([9, 4], [0.7, 0.3]),
                   "left_shoulder": ([10, 11], [1.2, -0.2])},
        dtype=torch.float64,
    )


def test_gradcheck_pose_betas_transl() -> None:
    """The written-out backward (pose correctives and landmarks included) vs finite
    differences, at a random pose and at the zero pose (T-pose)."""
    model = _small_model()
    layer = model.keypoint_layer("coco17")
    assert layer.analytic_backward
    pose, betas, transl = random_parameters(1, seed=7)
    inputs = (pose.requires_grad_(), betas.requires_grad_(), transl.requires_grad_())
    assert torch.autograd.gradcheck(lambda p, b, t: layer(p, b, t).keypoints, inputs)
    pose = torch.zeros(1, 72, dtype=torch.float64, requires_grad=True)  # the T-pose
    betas = torch.zeros(1, 10, dtype=torch.float64, requires_grad=True)
    transl = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    layer = model.keypoint_layer("coco17")
    assert torch.autograd.gradcheck(lambda p, b, t: layer(p, b, t).keypoints,
                                    (pose, betas, transl), fast_mode=True)


@pytest.mark.parametrize("with_posedirs", [True, False])
def test_written_out_backward_equals_autograd(with_posedirs: bool) -> None:
    """Both outputs (keypoints and joints) weighted at random, every format, batch 3."""
    model = _small_model(with_posedirs=with_posedirs)
    pose, betas, transl = random_parameters(3, seed=11)
    for fmt in KEYPOINT_FORMAT_NAMES:
        fast = model.keypoint_layer(fmt)
        plain = KeypointLayer(model, fmt, analytic_backward=False)
        gradients = []
        for layer in (fast, plain):
            inputs = [x.clone().requires_grad_() for x in (pose, betas, transl)]
            output = layer(*inputs)
            generator = torch.Generator().manual_seed(0)
            loss = (output.keypoints * torch.randn(output.keypoints.shape, generator=generator,
                                                   dtype=torch.float64)).sum() + (
                output.joints * torch.randn(output.joints.shape, generator=generator,
                                            dtype=torch.float64)).sum()
            gradients.append(torch.autograd.grad(loss, inputs))
        for got, expected in zip(*gradients, strict=True):
            assert torch.allclose(got, expected, rtol=1e-9, atol=1e-11), fmt


def test_double_backward_is_exact() -> None:
    """create_graph=True through the fast layer gives the same second derivatives as plain
    autograd (LGD-style training may differentiate through the fitting gradient)."""
    model = _small_model()
    pose, betas, transl = (x.requires_grad_() for x in random_parameters(1))
    second_derivatives = []
    for layer in (model.keypoint_layer("coco17"),
                  KeypointLayer(model, "coco17", analytic_backward=False)):
        keypoints = layer(pose, betas, transl).keypoints
        (grad,) = torch.autograd.grad(keypoints.square().sum(), pose, create_graph=True)
        second_derivatives.append(torch.autograd.grad(grad.sin().sum(), (pose, betas)))
    for got, expected in zip(*second_derivatives, strict=True):
        assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)
    layer = model.keypoint_layer("coco17")
    rest = pose.detach()[:, 6:]

    def first_keypoints(first_joints: torch.Tensor) -> torch.Tensor:
        full_pose = torch.cat([first_joints, rest], dim=1)
        output: KeypointOutput = layer(full_pose, betas.detach(), transl.detach())
        return output.keypoints[:, :5]

    assert torch.autograd.gradgradcheck(first_keypoints,
                                        (pose.detach()[:, :6].clone().requires_grad_(),))


def test_gradcheck_default_model_keypoints(default_model_f64: BodyModel) -> None:
    layer = default_model_f64.keypoint_layer("blazepose33")
    pose, betas, transl = random_parameters(1, seed=8)
    inputs = (pose.requires_grad_(), betas.requires_grad_(), transl.requires_grad_())
    assert torch.autograd.gradcheck(lambda p, b, t: layer(p, b, t).keypoints, inputs)


def test_gradcheck_full_mesh() -> None:
    model = _small_model()
    pose, betas, transl = random_parameters(1, seed=9)
    inputs = (pose.requires_grad_(), betas.requires_grad_(), transl.requires_grad_())
    assert torch.autograd.gradcheck(lambda p, b, t: model(p, b, t).vertices, inputs,
                                    fast_mode=True)


def test_unavailable_keypoints_are_marked_and_finite() -> None:
    model = _small_model()
    layer = model.keypoint_layer("blazepose33")
    available = dict(zip(layer.keypoint_names, layer.available.tolist(), strict=True))
    assert available["nose"] and available["left_shoulder"] and available["right_hip"]
    assert not available["mouth_left"] and not available["right_ear"]
    pose, betas, transl = random_parameters(2)
    output = layer(pose, betas, transl)
    assert torch.isfinite(output.keypoints).all()
    missing = ~layer.available
    pelvis = output.joints[:, :1].expand(-1, int(missing.sum()), -1)
    assert torch.equal(output.keypoints[:, missing], pelvis)


def test_translation_moves_everything_rigidly(default_model_f64: BodyModel) -> None:
    layer = default_model_f64.keypoint_layer("body25")
    pose, betas, _ = random_parameters(2)
    shift = torch.tensor([[0.5, -1.0, 3.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    moved = layer(pose, betas, shift).keypoints
    still = layer(pose, betas, torch.zeros_like(shift)).keypoints
    assert torch.allclose(moved - still, shift[:, None].expand_as(moved))


def test_float32_default_model_is_close_to_float64(default_model_f64: BodyModel) -> None:
    model32 = BodyModel.load()
    pose, betas, transl = random_parameters(4)
    kp64 = default_model_f64.keypoint_layer("coco17")(pose, betas, transl).keypoints
    kp32 = model32.keypoint_layer("coco17")(pose.float(), betas.float(), transl.float())
    assert kp32.keypoints.dtype == torch.float32
    assert np.abs(kp32.keypoints.double().numpy() - kp64.numpy()).max() < 1e-5
