"""The gradient inside the exported graph: plain ONNX operators, equal to torch.autograd.

A TensorRT engine cannot run autograd, so the exported loop computes the reprojection
gradient with ordinary operators (the fitter's written-out gradient). Here that part is
exported on its own and run by ONNX Runtime on random states near and far from the
truth, then compared with (a) the torch function it was exported from and (b)
``torch.autograd`` through the body model, in float64. For SMPL joint keypoints
(``smpl24``) the written-out gradient is exact; formats with surface landmarks use a
documented rigid-attachment approximation (see lgd_ros.fitting.objective), so for them
the direction is checked.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from lgd_ros.export.onnx_export import export_gradient_graph
from lgd_ros.export.tensorrt_support import tensorrt_compatibility_problems
from lgd_ros.fitting import Fitter, LGDNetwork, NetworkConfig
from lgd_ros.fitting.objective import ReprojectionObjective
from lgd_ros.fitting.observation import normalize_keypoints
from lgd_ros.fitting.state import (
    BodyState,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from lgd_ros.fitting.synthetic import perturbed_state, sample_batch
from lgd_ros.fitting.weights import WeightsMetadata

#: smpl24: keypoints at joints, where the written-out gradient is exact (landmark formats
#: are covered by the full-loop comparisons of test_export_onnx.py).
FORMATS = ("smpl24",)


def autograd_gradient(objective: ReprojectionObjective, state: BodyState, obs
                      ) -> torch.Tensor:
    """``[B, 3 + 69 + nb + 3]`` autograd gradient w.r.t. the perturbations the written-out
    gradient is defined for: a camera-frame rotation of the body, a rotation of each
    joint in its own frame, the betas and the box-relative root."""
    b = state.body_pose.shape[0]
    dtype = state.betas.dtype
    d_orient = torch.zeros(b, 3, dtype=dtype, requires_grad=True)
    d_body = torch.zeros(b, 23, 3, dtype=dtype, requires_grad=True)
    betas = state.betas.clone().requires_grad_(True)
    root = state.root.clone().requires_grad_(True)
    local = axis_angle_to_matrix(state.body_pose.reshape(b, 23, 3))
    body = matrix_to_axis_angle(local @ axis_angle_to_matrix(d_body)).reshape(b, 69)
    orient = axis_angle_to_matrix(d_orient) @ rotation_6d_to_matrix(state.orient6d)
    moved = BodyState(matrix_to_rotation_6d(orient), body, betas, root)
    error = objective.error(moved, obs).sum()
    grads = torch.autograd.grad(error, [d_orient, d_body, betas, root])
    return torch.cat([g.reshape(b, -1) for g in grads], dim=-1)


@pytest.fixture(scope="module", params=FORMATS)
def gradient_graph(request: pytest.FixtureRequest, body_model: BodyModel,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    fmt = request.param
    # The gradient graph uses no network weights: an untrained network will do.
    network = LGDNetwork(NetworkConfig(num_keypoints=body_model.keypoint_layer(fmt)
                                       .num_keypoints))
    meta = WeightsMetadata(fmt, body_model.fingerprint, body_model.name, network.config, "-")
    fitter = Fitter(network, body_model, meta)
    path = export_gradient_graph(fitter, tmp_path_factory.mktemp("grad") / f"{fmt}.onnx")
    return fmt, path


def test_exported_gradient_matches_torch_and_autograd(gradient_graph: tuple[str, Path],
                                                       val_poses: torch.Tensor) -> None:
    fmt, path = gradient_graph
    model64 = BodyModel.load(dtype=torch.float64)
    layer = model64.keypoint_layer(fmt)
    objective = ReprojectionObjective(model64, fmt)
    gen = torch.Generator().manual_seed(17)
    batch = sample_batch(val_poses.double(), layer, 8, gen)
    obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics,
                              layer.available)
    # Near the truth (scale 0.3) and far from it (scale 3): both regimes the loop sees.
    scale = torch.tensor([0.3] * 4 + [3.0] * 4, dtype=torch.float64)
    state = perturbed_state(batch, obs, gen, scale=scale)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {"keypoints": batch.keypoints_px.float().numpy(),
             "confidence": batch.confidence.float().numpy(),
             "intrinsics": batch.intrinsics.float().numpy(),
             "state": state.flat().float().numpy()}
    error, gradient = (torch.from_numpy(a).double() for a in session.run(None, feeds))

    torch_error, torch_grad = objective.gradient(state, obs)
    written_out = torch.cat(torch_grad.tensors(), dim=-1)
    expected = autograd_gradient(objective, state, obs)
    # (a) The graph computes the torch function (float32 against float64).
    torch.testing.assert_close(error, torch_error, rtol=1e-4, atol=1e-7)
    scale_per_sample = written_out.norm(dim=-1, keepdim=True)
    assert float(((gradient - written_out).norm(dim=-1, keepdim=True)
                  / scale_per_sample).max()) < 1e-3
    # (b) ... which is autograd's gradient: exactly for joints, in direction for landmarks.
    relative = (gradient - expected).norm(dim=-1) / expected.norm(dim=-1)
    if fmt == "smpl24":
        assert float(relative.max()) < 1e-3
    else:
        cosine = torch.nn.functional.cosine_similarity(gradient, expected, dim=-1)
        assert float(cosine.min()) > 0.98


def test_gradient_graph_is_plain_tensorrt_ops(gradient_graph: tuple[str, Path]) -> None:
    assert tensorrt_compatibility_problems(gradient_graph[1]) == []
