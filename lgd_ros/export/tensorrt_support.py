"""Can TensorRT build an engine from this ONNX graph? Checked without TensorRT or a GPU.

TensorRT's ONNX parser refuses whole models for one unsupported operator or one input
it cannot bind, and only says so on the GPU machine, minutes into a build. This module
checks an exported fit graph on any machine (the tests run it here, where there is no
GPU) against the rules of TensorRT 10's parser:

* every node is in TensorRT's supported ONNX operator set (:data:`TENSORRT_ONNX_OPS`,
  the "Y" rows of onnx-tensorrt's ``docs/operators.md`` for TensorRT 10.x) in the default
  domain, and the opset is one TensorRT 10.0 (the oldest TensorRT 10, e.g. JetPack 6)
  reads (9 to :data:`MAX_OPSET`);
* operands that TensorRT needs at build time (reduction ``axes``, ``Squeeze`` /
  ``Unsqueeze`` axes, ``CumSum`` axis, ``TopK``'s ``K``) are constants, and ``ScatterND``
  has no reduction;
* no control flow or sequence / optional values (none is needed by an unrolled loop);
* inputs and outputs are FLOAT (BOOL for ``success``), the batch dimension is the only
  dynamic one and is shared by every input (one optimisation profile covers it), and no
  initializer is DOUBLE (TensorRT would silently cast it down).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MAX_OPSET", "MIN_OPSET", "TENSORRT_ONNX_OPS", "tensorrt_compatibility_problems"]

#: Oldest and newest default-domain opsets every TensorRT 10 release parses.
MIN_OPSET: int = 9
MAX_OPSET: int = 20

#: Operators marked supported ("Y") for TensorRT 10 in onnx-tensorrt's operator matrix.
TENSORRT_ONNX_OPS: frozenset[str] = frozenset(["Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization", "BlackmanWindow", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv", "DepthToSpace", "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "GRU", "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If", "ImageScaler", "InstanceNormalization", "IsInf", "IsNaN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LRN", "LSTM", "LpNormalization", "LpPool", "MatMul", "Max", "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mish", "Mod", "Mul", "Neg", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "Pad", "ParametricSoftplus", "Pow", "PRelu", "QuantizeLinear", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RNN", "RoiAlign", "Round", "ScaledTanh", "Scan", "Scatter", "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unsqueeze", "Upsample", "Where", "Xor"])

#: Operators that are supported but that a fit graph must not contain: control flow and
#: data-dependent output shapes (an unrolled, fixed-shape loop needs none of them, and
#: they are where TensorRT's restrictions are).
_DISALLOWED = frozenset({"If", "Loop", "Scan", "NonZero", "NonMaxSuppression"})

#: op type -> indices of inputs that must be build-time constants.
_CONSTANT_INPUTS: dict[str, tuple[int, ...]] = {
    **{op: (1,) for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                           "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
                           "ReduceSumSquare", "Squeeze", "Unsqueeze", "CumSum", "TopK")},
}

_FLOAT, _BOOL, _DOUBLE = 1, 9, 11  # onnx.TensorProto enum values


def _load(model_or_path: Any) -> Any:
    if isinstance(model_or_path, str | Path):
        import onnx

        return onnx.load(str(model_or_path))
    return model_or_path


def tensorrt_compatibility_problems(model_or_path: Any) -> list[str]:
    """Everything in an ONNX fit graph that TensorRT 10 would refuse (empty = fine).

    Args:
        model_or_path: an ``onnx.ModelProto`` or a path to one.

    Returns:
        Human-readable problems, each naming the node / tensor and the rule.
    """
    model = _load(model_or_path)
    graph = model.graph
    problems: list[str] = []
    opsets = {entry.domain: entry.version for entry in model.opset_import}
    default_opset = opsets.get("", opsets.get("ai.onnx"))
    if default_opset is None or not MIN_OPSET <= default_opset <= MAX_OPSET:
        problems.append(f"opset {default_opset} is outside {MIN_OPSET}..{MAX_OPSET}, the range "
                        f"every TensorRT 10 release parses; export with --opset {MAX_OPSET - 2}")

    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    for node in graph.node:
        where = f"node {node.name or '?'} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            problems.append(f"{where} is in custom domain {node.domain!r}")
            continue
        if node.op_type not in TENSORRT_ONNX_OPS:
            problems.append(f"{where}: operator not supported by TensorRT's ONNX parser")
        elif node.op_type in _DISALLOWED:
            problems.append(f"{where}: control flow / data-dependent shapes are not allowed "
                            f"in a fit graph")
        if any(attr.type in (5, 10) for attr in node.attribute):  # GRAPH / GRAPHS
            problems.append(f"{where} has a subgraph")
        if node.op_type == "ScatterND" and any(
                attr.name == "reduction" and attr.s not in (b"", b"none")
                for attr in node.attribute):
            problems.append(f"{where}: TensorRT supports ScatterND only with reduction 'none'")
        for index in _CONSTANT_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index] and \
                    node.input[index] not in constants:
                problems.append(f"{where}: input {index} ({node.input[index]}) must be a "
                                f"constant for TensorRT")

    batch_names: set[str] = set()
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for value in values:
            tensor_type = value.type.tensor_type if value.type.HasField("tensor_type") else None
            if tensor_type is None:
                problems.append(f"{kind} {value.name} is not a tensor (sequence/optional)")
                continue
            allowed = (_FLOAT, _BOOL) if kind == "output" else (_FLOAT,)
            if tensor_type.elem_type not in allowed:
                problems.append(f"{kind} {value.name} has element type {tensor_type.elem_type}, "
                                f"expected FLOAT" + (" or BOOL" if kind == "output" else ""))
            dims = list(tensor_type.shape.dim)
            if not dims:
                problems.append(f"{kind} {value.name} has no batch dimension")
                continue
            if dims[0].dim_param:
                batch_names.add(dims[0].dim_param)
            elif kind == "input":
                problems.append(f"input {value.name}: batch dimension is fixed to "
                                f"{dims[0].dim_value}, expected dynamic")
            for axis, dim in enumerate(dims[1:], start=1):
                if dim.dim_param or dim.dim_value <= 0:
                    problems.append(f"{kind} {value.name}: dimension {axis} is dynamic "
                                    f"({dim.dim_param or '?'}); only the batch may be")
    if len(batch_names) > 1:
        problems.append(f"inputs/outputs use several batch dimension names {sorted(batch_names)}; "
                        f"one optimisation profile needs one shared batch dimension")
    for value in graph.value_info:
        if not value.type.HasField("tensor_type"):
            problems.append(f"intermediate value {value.name} is a sequence/optional")
    for init in graph.initializer:
        if init.data_type == _DOUBLE:
            problems.append(f"initializer {init.name} is DOUBLE (TensorRT casts it to FLOAT)")
    return problems
