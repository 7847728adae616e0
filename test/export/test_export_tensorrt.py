"""The TensorRT path without a GPU: the graph it consumes, and its error messages.

There is no NVIDIA GPU or TensorRT here, so engines are not built; what TensorRT would
refuse in the ONNX graph is checked statically against TensorRT 10's parser rules, and
every entry point says exactly what is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from lgd_ros.export import BackendUnavailableError, EngineBuildError, load_fitter
from lgd_ros.export.cli import main as export_main
from lgd_ros.export.onnx_export import MLP_NODE_PREFIX
from lgd_ros.export.tensorrt import (
    EngineSettings,
    build_engine,
    engine_sidecar_path,
    require_tensorrt,
    warm_engine_path,
)
from lgd_ros.export.tensorrt_support import (
    TENSORRT_ONNX_OPS,
    tensorrt_compatibility_problems,
)

from .conftest import Exported

NO_TENSORRT = importlib.util.find_spec("tensorrt") is None


def test_exported_graphs_use_only_what_tensorrt_parses(exported: Exported) -> None:
    for path in (exported.onnx_path, exported.warm_path):
        model = onnx.load(str(path))
        assert tensorrt_compatibility_problems(model) == [], path
        ops = {node.op_type for node in model.graph.node}
        assert ops <= TENSORRT_ONNX_OPS
        assert not ops & {"If", "Loop", "Scan", "NonZero"}  # an unrolled, static loop
    if exported.cli_output:  # the CLI prints the same check
        assert f"TensorRT 10 compatibility of {exported.onnx_path}: ok" in exported.cli_output
        assert f"TensorRT 10 compatibility of {exported.warm_path}: ok" in exported.cli_output


def test_networks_are_marked_for_fp16(coco17: Exported) -> None:
    model = onnx.load(str(coco17.onnx_path))
    marked = [n for n in model.graph.node if n.name.startswith(MLP_NODE_PREFIX)]
    # Only the networks normalise layers and use PReLU; the geometry (kinematics,
    # projection, the gradient) is not marked.
    assert {n.op_type for n in marked} >= {"Gemm", "LayerNormalization", "PRelu"}
    assert all(n.name.startswith(MLP_NODE_PREFIX) for n in model.graph.node
               if n.op_type in ("LayerNormalization", "PRelu"))
    assert not any(n.name.startswith(MLP_NODE_PREFIX) for n in model.graph.node
                   if n.op_type in ("Sin", "Cos", "Atan", "Sqrt"))
    # No build-machine stack traces are shipped in the file.
    assert not any(n.metadata_props for n in model.graph.node)


def test_problems_are_found_and_named(coco17: Exported) -> None:
    model = onnx.load(str(coco17.onnx_path))
    graph = model.graph
    graph.node.append(helper.make_node("Unique", ["keypoints"], ["unique_out"], name="bad_op"))
    graph.node.append(helper.make_node("ReduceSum", ["keypoints", "runtime_axes"],
                                       ["reduced"], name="bad_axes"))
    graph.node.append(helper.make_node("Loop", ["", ""], ["loop_out"], name="bad_loop",
                                       body=helper.make_graph([], "body", [], [])))
    graph.node.append(helper.make_node("ScatterND", ["keypoints", "idx", "upd"], ["scattered"],
                                       name="bad_scatter", reduction="add"))
    graph.initializer.append(helper.make_tensor("double_table", TensorProto.DOUBLE, [2],
                                                [1.0, 2.0]))
    graph.input[1].type.tensor_type.shape.dim[1].dim_param = "num_keypoints"
    problems = "\n".join(tensorrt_compatibility_problems(model))
    assert "bad_op (Unique): operator not supported" in problems
    assert "bad_axes (ReduceSum): input 1 (runtime_axes) must be a constant" in problems
    assert "bad_loop (Loop): control flow" in problems and "has a subgraph" in problems
    assert "double_table is DOUBLE" in problems
    assert "bad_scatter (ScatterND): TensorRT supports ScatterND only with reduction" in problems
    assert "input confidence: dimension 1 is dynamic (num_keypoints)" in problems
    model.opset_import[0].version = 23
    assert "opset 23 is outside" in "\n".join(tensorrt_compatibility_problems(model))


def test_engine_settings_are_checked() -> None:
    with pytest.raises(EngineBuildError, match="1 <= min <= opt <= max"):
        EngineSettings(opt_batch=8, max_batch=4)
    with pytest.raises(EngineBuildError, match="workspace_mb must be positive"):
        EngineSettings(workspace_mb=0)
    assert engine_sidecar_path("a/b.plan") == Path("a/b.plan.json")
    assert warm_engine_path("a/b.plan") == Path("a/b.warm.plan")


@pytest.mark.skipif(not NO_TENSORRT, reason="tensorrt is installed: its absence is not testable")
def test_missing_tensorrt_is_named(coco17: Exported, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="'tensorrt' package") as error:
        require_tensorrt()
    assert "pip install tensorrt" in str(error.value)
    assert "python3-libnvinfer" in str(error.value)  # the Jetson route
    with pytest.raises(BackendUnavailableError, match="'tensorrt' package"):
        load_fitter("tensorrt", fmt="coco17")
    with pytest.raises(BackendUnavailableError, match="'tensorrt' package"):
        build_engine(coco17.onnx_path, tmp_path / "x.plan")
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = export_main(["--from-onnx", str(coco17.onnx_path),
                            "--tensorrt-engine", str(tmp_path / "x.plan"), "--fp16"])
    assert code == 1
    assert "lgd-ros export: error:" in errors.getvalue()
    assert "pip install tensorrt" in errors.getvalue()
    assert not (tmp_path / "x.plan").exists()


def test_cli_option_errors(coco17: Exported, tmp_path: Path) -> None:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        assert export_main(["--fp16", "--out", str(tmp_path / "x.onnx")]) == 2
        assert export_main(["--from-onnx", str(coco17.onnx_path)]) == 2
    assert "--fp16 only applies with --tensorrt-engine" in errors.getvalue()
    assert "--from-onnx needs --tensorrt-engine" in errors.getvalue()
