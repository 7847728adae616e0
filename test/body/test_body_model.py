"""BodyModel against smplx on the same model data, loading paths, dtype/device handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lgd_ros.body import BodyInputError, BodyModel, default_model_path
from lgd_ros.body.formats import KEYPOINT_FORMAT_NAMES
from lgd_ros.body.model_file import SMPL_LANDMARK_VERTEX_IDS

from .conftest import (
    random_model_arrays,
    random_parameters,
    smplx_forward,
    smplx_model,
    write_official_style_pkl,
)

TOLERANCE_M = 1e-5


def _from_arrays(arrays: dict[str, np.ndarray], **kwargs: object) -> BodyModel:
    return BodyModel.from_arrays(
        v_template=arrays["v_template"], shapedirs=arrays["shapedirs"],
        J_regressor=arrays["J_regressor"], weights=arrays["weights"], faces=arrays["f"],
        posedirs=arrays.get("posedirs"), dtype=torch.float64, **kwargs,  # type: ignore[arg-type]
    )


def _landmark_positions(model: BodyModel, vertices: torch.Tensor) -> dict[str, torch.Tensor]:
    """Landmarks computed from a full mesh ``[B, V, 3]`` with the model's regressors."""
    positions = {}
    for row, name in enumerate(model.landmark_names):
        ids = torch.as_tensor(model.landmark_vertex_ids[row])
        weights = torch.as_tensor(model.landmark_vertex_weights[row], dtype=vertices.dtype)
        positions[name] = (vertices[:, ids] * weights[:, None]).sum(dim=1)
    return positions


def _expected_keypoints(model: BodyModel, fmt: str, vertices: torch.Tensor,
                        joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    layer = model.keypoint_layer(fmt)
    landmarks = _landmark_positions(model, vertices)
    expected = []
    for spec, kind in zip(layer.format.keypoints, layer.sources, strict=True):
        if kind == "landmark":
            expected.append(landmarks[spec.landmark])  # type: ignore[index]
        elif kind == "joint":
            expected.append(joints[:, model_joint_index(spec.joint)])  # type: ignore[arg-type]
        else:
            expected.append(joints[:, 0])
    return torch.stack(expected, dim=1), layer.available


def model_joint_index(name: str) -> int:
    from lgd_ros.body.skeleton import joint_index

    return joint_index(name)


def test_random_model_matches_smplx_with_pose_correctives() -> None:
    arrays = random_model_arrays()
    ours = _from_arrays(arrays, landmarks={"nose": ([3, 7, 11], [0.2, 0.3, 0.5]),
                                           "left_heel": ([5], [1.0])})
    theirs = smplx_model(arrays)
    pose, betas, transl = random_parameters(3)
    output = ours(pose, betas, transl)
    vertices, joints = smplx_forward(theirs, pose, betas, transl)
    assert (output.vertices - vertices).abs().max() < TOLERANCE_M
    assert (output.joints - joints).abs().max() < TOLERANCE_M
    for fmt in KEYPOINT_FORMAT_NAMES:
        keypoints = ours.keypoint_layer(fmt)(pose, betas, transl)
        expected, _ = _expected_keypoints(ours, fmt, vertices, joints)
        assert (keypoints.keypoints - expected).abs().max() < TOLERANCE_M, fmt
        assert (keypoints.joints - joints).abs().max() < TOLERANCE_M


def test_default_model_matches_smplx_data_struct(default_model_f64: BodyModel) -> None:
    arrays = default_model_f64.to_arrays()
    theirs = smplx_model({
        "v_template": arrays.v_template, "shapedirs": arrays.shapedirs,
        "J_regressor": arrays.J_regressor, "weights": arrays.weights,
        "kintree_table": np.stack([np.array(default_model_f64.parents), np.arange(24)]),
        "f": arrays.faces,
    })
    pose, betas, transl = random_parameters(2, seed=1)
    output = default_model_f64(pose, betas, transl)
    vertices, joints = smplx_forward(theirs, pose, betas, transl)
    assert (output.vertices - vertices).abs().max() < TOLERANCE_M
    assert (output.joints - joints).abs().max() < TOLERANCE_M
    for fmt in KEYPOINT_FORMAT_NAMES:
        keypoints = default_model_f64.keypoint_layer(fmt)(pose, betas, transl).keypoints
        expected, available = _expected_keypoints(default_model_f64, fmt, vertices, joints)
        assert (keypoints - expected).abs().max() < TOLERANCE_M, fmt
        assert bool(available.all()), f"default model lacks keypoints of {fmt}"


def test_official_style_pkl_matches_smplx_loading_the_same_file(
    tmp_path: Path, fake_chumpy: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smplx

    arrays = random_model_arrays(num_vertices=6890, seed=3)
    path = tmp_path / "basicModel_f_lbs_10_207_0_v1.0.0.pkl"
    write_official_style_pkl(path, arrays, fake_chumpy)
    theirs = smplx.SMPL(model_path=str(path), dtype=torch.float64)  # needs "chumpy"
    monkeypatch.delitem(__import__("sys").modules, "chumpy")
    monkeypatch.delitem(__import__("sys").modules, "chumpy.ch")
    ours = BodyModel.load(path, dtype=torch.float64)  # must not need chumpy
    assert ours.name == path.stem
    assert ours.num_vertices == 6890
    assert ours.posedirs_flat is not None
    pose, betas, transl = random_parameters(2, seed=2)
    output = ours(pose, betas, transl)
    smplx_output = theirs(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas,
                          transl=transl)
    assert (output.vertices - smplx_output.vertices).abs().max() < TOLERANCE_M
    assert (output.joints - smplx_output.joints[:, :24]).abs().max() < TOLERANCE_M
    # smplx's extra joints 24.. are nose, reye, leye, rear, lear, toes, heels at the same ids.
    smplx_extra = {"nose": 24, "right_eye": 25, "left_eye": 26, "right_ear": 27, "left_ear": 28,
                   "left_big_toe": 29, "left_small_toe": 30, "left_heel": 31,
                   "right_big_toe": 32, "right_small_toe": 33, "right_heel": 34}
    assert set(smplx_extra) == set(SMPL_LANDMARK_VERTEX_IDS)
    layer = ours.keypoint_layer("body25")
    keypoints = layer(pose, betas, transl).keypoints
    for name, column in smplx_extra.items():
        if name in layer.keypoint_names:
            got = keypoints[:, layer.format.index(name)]
            assert (got - smplx_output.joints[:, column]).abs().max() < TOLERANCE_M, name
    # Limb keypoints of an official SMPL file come from joints; BlazePose's extra face and
    # hand points have no SMPL vertex ids and are reported unavailable.
    blaze = ours.keypoint_layer("blazepose33")
    unavailable = {n for n, a in zip(blaze.keypoint_names, blaze.available.tolist(),
                                     strict=True) if not a}
    assert "left_eye_inner" in unavailable and "mouth_left" in unavailable
    assert "left_index" in unavailable and "left_shoulder" not in unavailable


def test_npz_round_trip_keeps_outputs_and_fingerprint(
    tmp_path: Path, fake_chumpy: type
) -> None:
    arrays = random_model_arrays(num_vertices=6890, seed=4)
    pkl = tmp_path / "model.pkl"
    write_official_style_pkl(pkl, arrays, fake_chumpy, legacy_numpy_path=False)
    from_pkl = BodyModel.load(pkl, dtype=torch.float64)
    npz = tmp_path / "model.npz"
    from_pkl.to_arrays().save_npz(npz)
    from_npz = BodyModel.load(npz, dtype=torch.float64)
    assert from_npz.fingerprint == from_pkl.fingerprint
    pose, betas, transl = random_parameters(2)
    difference = from_npz(pose, betas, transl).vertices - from_pkl(pose, betas, transl).vertices
    assert difference.abs().max() < 1e-5  # float32 storage


def test_fingerprint_depends_on_data_not_dtype() -> None:
    arrays = random_model_arrays()
    a = _from_arrays(arrays)
    b = BodyModel.from_arrays(v_template=arrays["v_template"], shapedirs=arrays["shapedirs"],
                              J_regressor=arrays["J_regressor"], weights=arrays["weights"],
                              faces=arrays["f"], posedirs=arrays["posedirs"],
                              dtype=torch.float32)
    assert a.fingerprint == b.fingerprint
    arrays["v_template"] = arrays["v_template"] + 1e-3
    assert _from_arrays(arrays).fingerprint != a.fingerprint


def test_default_model_layout(default_model_f64: BodyModel) -> None:
    model = default_model_f64
    assert default_model_path().is_file()
    notice = (default_model_path().parent / "NOTICE").read_text()
    assert "Apache License 2.0" in notice and "CC0" in notice
    assert model.faces.dtype == torch.long and model.faces.shape[1] == 3
    assert len(model.parents) == 24 and model.parents[0] == -1
    pose = torch.zeros(1, 72, dtype=torch.float64)
    output = model(pose, torch.zeros(1, 10, dtype=torch.float64),
                   torch.zeros(1, 3, dtype=torch.float64))
    joints = output.joints[0]
    # SMPL canonical frame: y up (head above pelvis above ankles), x = body's left,
    # z = front (toes in front of ankles), T-pose (wrists level with shoulders, far out).
    assert joints[15, 1] > joints[0, 1] > joints[7, 1]
    assert joints[16, 0] > 0.1 and joints[17, 0] < -0.1  # left shoulder at +x
    assert joints[10, 2] > joints[7, 2]  # left foot (ball) in front of the ankle
    assert abs(float(joints[20, 1] - joints[16, 1])) < 0.02
    assert float(joints[20, 0] - joints[16, 0]) > 0.4
    assert joints[0].abs().max() < 1e-3  # pelvis at the origin
    height = output.vertices[0, :, 1].max() - output.vertices[0, :, 1].min()
    assert 1.4 < float(height) < 2.1


def test_input_errors_name_the_problem(default_model_f64: BodyModel) -> None:
    pose, betas, transl = random_parameters(2)
    with pytest.raises(BodyInputError, match=r"pose must have shape \[B, 72\], got \[2, 69\]"):
        default_model_f64(pose[:, 3:], betas, transl)
    with pytest.raises(BodyInputError, match="batch sizes differ"):
        default_model_f64(pose, betas[:1], transl)
    with pytest.raises(BodyInputError, match="float32"):
        default_model_f64.keypoint_layer("coco17")(pose.float(), betas.float(), transl.float())


def test_to_dtype_moves_cached_layers() -> None:
    arrays = random_model_arrays()
    model = BodyModel.from_arrays(v_template=arrays["v_template"], shapedirs=arrays["shapedirs"],
                                  J_regressor=arrays["J_regressor"], weights=arrays["weights"],
                                  faces=arrays["f"])
    assert model.dtype == torch.float32
    layer = model.keypoint_layer("smpl24")
    assert model.keypoint_layer("smpl24") is layer
    model.to(torch.float64)
    pose, betas, transl = random_parameters(1)
    assert layer(pose, betas, transl).keypoints.dtype == torch.float64
