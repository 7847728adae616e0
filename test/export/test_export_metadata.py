"""Exported files carry what they were made for, and a mismatching file is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest
import torch

import lgd_ros
from lgd_ros.export import GraphFileError, GraphMismatchError, OnnxRuntimeFitter
from lgd_ros.export.metadata import (
    PROPERTY_PREFIX,
    network_fingerprint,
    read_onnx_metadata,
)
from lgd_ros.fitting import FitOptions, LGDNetwork, WeightsMismatchError
from lgd_ros.fitting.weights import WeightsMetadata, save_weights

from .conftest import Exported


def edited_copy(source: Path, target: Path, **changes: str) -> Path:
    """Copy an exported graph with some metadata entries changed (as if exported for
    other settings: the loader only knows a file by its metadata)."""
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        key = prop.key.removeprefix(PROPERTY_PREFIX)
        if key in changes:
            prop.value = changes[key]
    onnx.save(model, str(target))
    return target


def test_metadata_says_what_the_graph_is(coco17: Exported) -> None:
    cold = read_onnx_metadata(coco17.onnx_path)
    warm = read_onnx_metadata(coco17.warm_path)
    fitter = coco17.fitter
    assert (cold.keypoint_format, cold.num_keypoints, cold.start) == ("coco17", 17, "cold")
    assert cold.steps == fitter.default_steps and warm.steps == fitter.default_warm_steps
    assert warm.start == "warm"
    assert cold.body_model_fingerprint == fitter.body_model.fingerprint
    assert cold.weights_sha256 == network_fingerprint(fitter.network) == warm.weights_sha256
    assert cold.lgd_ros_version == lgd_ros.__version__
    assert cold.options == FitOptions()
    assert cold.opset == onnx.load(str(coco17.onnx_path)).opset_import[0].version
    # The CLI reported what it wrote.
    assert f"wrote {coco17.onnx_path}" in coco17.cli_output
    assert f"wrote {coco17.warm_path}" in coco17.cli_output


def test_graph_interface(coco17: Exported) -> None:
    model = onnx.load(str(coco17.warm_path))
    inputs = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in model.graph.input}
    # The warm graph declares the init_* inputs the fitter's warm start reads.
    expected = {"keypoints": ["batch", 17, 2], "confidence": ["batch", 17],
                "intrinsics": ["batch", 3, 3], "init_pose": ["batch", 72],
                "init_betas": ["batch", 10], "init_transl": ["batch", 3],
                "init_joints": ["batch", 24, 3]}
    assert {"keypoints", "confidence", "intrinsics", "init_pose"} <= set(inputs)
    assert all(inputs[name] == expected[name] for name in inputs)
    outputs = [v.name for v in model.graph.output]
    assert outputs[:5] == ["pose", "betas", "transl", "joints", "keypoints3d"]
    assert all(v.doc_string for v in model.graph.input)


def test_wrong_format_is_rejected(coco17: Exported, body_model) -> None:
    with pytest.raises(GraphMismatchError) as error:
        OnnxRuntimeFitter.load(coco17.onnx_path, fmt="blazepose33", body_model=body_model)
    message = str(error.value)
    assert "exported for keypoint format 'coco17'" in message and "'blazepose33'" in message
    assert "lgd-ros export --fmt blazepose33" in message
    # Also a WeightsMismatchError: front ends that report bad weights report this too.
    assert isinstance(error.value, WeightsMismatchError)


def test_wrong_step_count_is_rejected(coco17: Exported, body_model) -> None:
    steps = coco17.fitter.default_steps
    with pytest.raises(GraphMismatchError, match=rf"exported for {steps} update steps "
                                                 rf"\(cold start\), not {steps + 2}") as error:
        OnnxRuntimeFitter.load(coco17.onnx_path, steps=steps + 2)
    assert f"--steps {steps + 2}" in str(error.value)
    warm_steps = coco17.fitter.default_warm_steps
    with pytest.raises(GraphMismatchError, match=f"not {warm_steps + 1}"):
        OnnxRuntimeFitter.load(coco17.onnx_path, warm_steps=warm_steps + 1)
    # Per call: the loop is unrolled, so another step count cannot run.
    kp, conf = torch.full((1, 17, 2), 100.0), torch.ones(1, 17)
    k_mat = torch.tensor([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    with pytest.raises(GraphMismatchError, match=f"runs exactly {steps}"):
        coco17.ort.fit(kp, conf, k_mat, steps=steps + 1)
    assert coco17.ort.fit(kp, conf, k_mat, steps=steps).steps_used == steps


def test_file_of_another_format_or_step_count_under_the_expected_name(
        coco17: Exported, tmp_path: Path) -> None:
    # A file exported for blazepose33 / 6 steps, renamed to what the loader expects.
    other_format = edited_copy(coco17.onnx_path, tmp_path / "lgd_coco17.onnx",
                               keypoint_format="blazepose33", num_keypoints="33")
    with pytest.raises(GraphMismatchError, match="exported for keypoint format 'blazepose33'"):
        OnnxRuntimeFitter.load(other_format, fmt="coco17")
    other_steps = edited_copy(coco17.onnx_path, tmp_path / "six.onnx", steps="6")
    with pytest.raises(GraphMismatchError, match="exported for 6 update steps"):
        OnnxRuntimeFitter.load(other_steps, steps=coco17.fitter.default_steps)


def test_other_body_model_or_weights_are_rejected(coco17: Exported, body_model,
                                                  tmp_path: Path) -> None:
    other_model = edited_copy(coco17.onnx_path, tmp_path / "other_model.onnx",
                              body_model_fingerprint="0" * 64)
    with pytest.raises(GraphMismatchError, match="exported with body model") as error:
        OnnxRuntimeFitter.load(other_model, body_model=body_model)
    assert "--body-model" in str(error.value)

    # Weights of the same format and body model, but other parameters.
    fitter = coco17.fitter
    network = LGDNetwork(fitter.network.config)
    meta = WeightsMetadata("coco17", body_model.fingerprint, body_model.name,
                           network.config, "test")
    other_weights = save_weights(tmp_path / "other.pt", network, meta)
    from lgd_ros.export import load_fitter

    with pytest.raises(GraphMismatchError, match="exported from other weights"):
        load_fitter("onnxruntime", other_weights, body_model, fmt="coco17",
                    onnx_path=coco17.onnx_path)
    # The right weights file is accepted.
    assert load_fitter("onnxruntime", None, body_model, fmt="coco17",
                       onnx_path=coco17.onnx_path).fmt == "coco17"


def test_mismatching_warm_graph_is_rejected(coco17: Exported, tmp_path: Path) -> None:
    cold = tmp_path / "pair.onnx"
    shutil.copy(coco17.onnx_path, cold)
    edited_copy(coco17.warm_path, tmp_path / "pair.warm.onnx", weights_sha256="f" * 64)
    with pytest.raises(GraphMismatchError, match="other weights"):
        OnnxRuntimeFitter.load(cold)


def test_warm_start_needs_the_warm_graph(coco17: Exported, tmp_path: Path) -> None:
    alone = tmp_path / "alone.onnx"
    shutil.copy(coco17.onnx_path, alone)
    fitter = OnnxRuntimeFitter.load(alone, threads=1)
    assert fitter.warm is None
    kp, conf = torch.full((1, 17, 2), 100.0), torch.ones(1, 17)
    k_mat = torch.tensor([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    cold = fitter.fit(kp, conf, k_mat)
    with pytest.raises(GraphMismatchError, match="no warm-start graph"):
        fitter.fit(kp, conf, k_mat, init=cold)
    with pytest.raises(GraphFileError, match="no warm-start graph"):
        OnnxRuntimeFitter.load(alone, warm_steps=2)


def test_files_that_are_not_fit_graphs(coco17: Exported, tmp_path: Path) -> None:
    with pytest.raises(GraphFileError, match="not found"):
        OnnxRuntimeFitter.load(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a protobuf")
    with pytest.raises(GraphFileError, match="garbage.onnx"):
        OnnxRuntimeFitter.load(garbage)
    with pytest.raises(GraphFileError, match="cannot read"):
        read_onnx_metadata(garbage)
    # A valid ONNX model without lgd_ros metadata.
    model = onnx.load(str(coco17.onnx_path))
    del model.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    with pytest.raises(GraphFileError, match="not an lgd_ros fit graph"):
        OnnxRuntimeFitter.load(plain)
    newer = edited_copy(coco17.onnx_path, tmp_path / "newer.onnx", graph_format_version="99")
    with pytest.raises(GraphFileError, match="format version 99"):
        OnnxRuntimeFitter.load(newer)
