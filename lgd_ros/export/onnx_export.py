"""Export the whole fitting loop of a :class:`~lgd_ros.fitting.Fitter` to one ONNX file.

How: the pieces of the loop (:mod:`lgd_ros.export.graph`: start, one update step,
finish) are each captured with ``torch.export`` (symbolic batch size, so the file takes
any ``B``) and translated by torch's ONNX exporter (the ``dynamo=True`` path, which needs
``onnxscript``); :func:`lgd_ros.export.compose.chain_pieces` then chains start, ``K``
steps and finish into one graph. No autograd is traced: the fitter's reprojection
gradient is written out in plain tensor operations, so the graph holds only ordinary
ONNX operators that ONNX Runtime and TensorRT both run.

The file also gets

* the metadata of :class:`~lgd_ros.export.metadata.GraphMetadata` (format, steps, start,
  body model fingerprint, weights hash, versions);
* a ``mlp/`` prefix on the node names of the init and update networks, so a TensorRT FP16
  build can run the networks in half precision and keep the geometry (camera projection,
  kinematics, the gradient) in FP32 by layer name;
* doc strings on inputs and outputs with their shapes and units;

and, unless ``verify=False``, is run once with ONNX Runtime on an example batch and
compared with the torch fitter's loop (:class:`~lgd_ros.export.graph.FitGraph`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lgd_ros.export.compose import PieceInstance, chain_pieces, module_scopes
from lgd_ros.export.defaults import DEFAULT_OPSET
from lgd_ros.export.errors import BackendUnavailableError, ExportFailedError
from lgd_ros.export.graph import (
    INPUT_DOCS,
    INPUT_NAMES,
    NEXT_STATE_NAME,
    OUTPUT_DOCS,
    OUTPUT_NAMES,
    STATE_NAME,
    WARM_INPUT_NAMES,
    FinishPiece,
    FitGraph,
    GradientGraph,
    StartPiece,
    StepPiece,
)
from lgd_ros.export.metadata import GraphMetadata, Start, network_fingerprint
from lgd_ros.fitting.fitter import Fitter

__all__ = [
    "DEFAULT_OPSET",
    "MLP_NODE_PREFIX",
    "ExportedGraphs",
    "example_inputs",
    "export_fit_graph",
    "export_fit_graphs",
    "export_gradient_graph",
    "warm_graph_path",
]

#: Node-name prefix of the init / update networks (see module docstring).
MLP_NODE_PREFIX: str = "mlp/"
_MLP_MODULES: frozenset[str] = frozenset({"init_net", "update_net"})
_EXAMPLE_BATCH = 2  # > 1 so that torch.export does not specialise the batch size to 1
#: Largest accepted difference between the exported graph and torch on the example batch.
_VERIFY_TOLERANCE = 1e-3


def warm_graph_path(cold_path: str | Path) -> Path:
    """Where the warm-start graph of ``cold_path`` goes: ``x.onnx`` -> ``x.warm.onnx``."""
    cold_path = Path(cold_path)
    return cold_path.with_name(cold_path.stem + ".warm" + cold_path.suffix)


@dataclass(frozen=True)
class ExportedGraphs:
    """Files written by :func:`export_fit_graphs` and their metadata."""

    cold_path: Path
    cold: GraphMetadata
    warm_path: Path | None = None
    warm: GraphMetadata | None = None


def example_inputs(fitter: Fitter, batch: int = _EXAMPLE_BATCH, *, start: Start = "cold",
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    """A deterministic, plausible input batch (a person in a 640x480 image).

    Used to trace the graph and to verify the export; the values only need to be valid.
    """
    gen = torch.Generator().manual_seed(0)
    num_keypoints = fitter.num_keypoints
    keypoints = torch.rand(batch, num_keypoints, 2, generator=gen, dtype=dtype)
    keypoints = keypoints * torch.tensor([120.0, 300.0], dtype=dtype) + torch.tensor(
        [260.0, 90.0], dtype=dtype)
    confidence = 0.5 + 0.5 * torch.rand(batch, num_keypoints, generator=gen, dtype=dtype)
    intrinsics = torch.tensor([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]],
                              dtype=dtype).expand(batch, 3, 3).contiguous()
    inputs: tuple[torch.Tensor, ...] = (keypoints, confidence, intrinsics)
    if start == "warm":
        pose = 0.1 * torch.randn(batch, 72, generator=gen, dtype=dtype)
        pose[:, 0] = torch.pi  # upright, facing the camera
        betas = torch.zeros(batch, fitter.network.config.num_betas, dtype=dtype)
        joints = torch.tensor([0.0, 0.0, 3.0], dtype=dtype) + 0.3 * torch.randn(
            batch, 24, 3, generator=gen, dtype=dtype)
        transl = joints[:, 0] - torch.tensor([0.0, 0.2, 0.0], dtype=dtype)
        inputs = inputs + (pose, betas, transl, joints)
    return inputs


def _export_copy(fitter: Fitter) -> Fitter:
    """The fitter on CPU in float32 (what the graph is traced and stored in).

    A fitter already there is used as is; otherwise copies are moved, so the caller's
    fitter (e.g. on a GPU, serving a node) is not touched.
    """
    if fitter.device.type == "cpu" and fitter.dtype == torch.float32:
        return fitter
    body_model = copy.deepcopy(fitter.body_model).to(device="cpu", dtype=torch.float32)
    network = copy.deepcopy(fitter.network).to(device="cpu", dtype=torch.float32)
    return Fitter(network, body_model, fitter.meta, device="cpu", options=fitter.options)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints and known-harmless warnings.

    torch.export warns about every shape check it turns into a guard, the ONNX
    optimiser logs constant-folding attempts it skips, and the registry logs that
    torchvision (not used here) is absent; none of it concerns the user. Errors still
    raise.
    """
    names = ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _run_eager(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]
               ) -> tuple[torch.Tensor, ...]:
    """Run ``module`` in torch and check it returns plain tensors.

    Run before tracing, it fills the constant caches of the body and fitting modules
    (rotation bases, gradient group masks) with real tensors, so tracing finds them there
    instead of storing traced placeholders in them that would break every later eager fit
    in this process; run after tracing, it checks that this worked.
    """
    with torch.no_grad():
        outputs = module(*inputs)
    if any(type(t) is not torch.Tensor for t in outputs):
        raise ExportFailedError(
            "after tracing, the torch fitting loop returns traced tensors: a module-level "
            "cache created a tensor during torch.export; the torch fitter in this process "
            "is unusable -- restart it (and report this as a bug)")
    return tuple(outputs)


def module_to_onnx(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
                   input_names: tuple[str, ...], output_names: tuple[str, ...],
                   opset: int = DEFAULT_OPSET) -> Any:
    """Trace and translate one module with a dynamic batch; returns an ``onnx.ModelProto``.

    Every input's first dimension is the (shared) symbolic batch ``batch``. Constants are
    folded exactly (see :func:`_simplify`); the module is run in torch before and after
    tracing (see :func:`_run_eager`).

    Raises:
        ExportFailedError: torch could not trace or translate the module.
        BackendUnavailableError: onnxscript is not installed.
    """
    try:
        import onnxscript  # noqa: F401 - torch's exporter imports it lazily; fail clearly
    except ImportError as exc:
        raise BackendUnavailableError(
            "exporting to ONNX needs the packages 'onnx' and 'onnxscript' "
            "(pip install onnx onnxscript)") from exc
    _run_eager(module, inputs)
    batch = torch.export.Dim("batch")
    dynamic_shapes = tuple({0: batch} for _ in inputs)
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(
                module, inputs, dynamo=True, opset_version=opset, input_names=list(input_names),
                output_names=list(output_names), dynamic_shapes=dynamic_shapes,
                optimize=False, verbose=False, report=False,
            )
            if program is None:
                raise ExportFailedError("torch.onnx.export returned no program")
            _simplify(program.model)
    except ExportFailedError:
        raise
    except Exception as exc:  # the exporter raises many internal types
        raise ExportFailedError(
            f"torch could not export {type(module).__name__} to ONNX opset {opset}: "
            f"{type(exc).__name__}: {exc}") from exc
    _run_eager(module, inputs)
    return program.model_proto


def _simplify(model: Any) -> None:
    """Fold constants and tidy the graph (in place on an ``onnx_ir.Model``).

    Deliberately not torch's ``optimize=True``: onnxscript's optimiser (0.7) also applies
    "no-op" rewrites that match constants *approximately* -- ``x + c`` becomes ``x`` for
    any ``|c| < 1e-8`` -- which deletes the small epsilons the fitter's maths relies on
    (``sqrt(mean_square + 1e-12)`` of the gradient normalisation, ``|a|^2 + 1e-24`` of the
    rotations) and changed fits by up to 2e-4 rad. Constant folding evaluates constant
    subgraphs exactly, so only it and semantics-free clean-ups are run.
    """
    import onnx_ir.passes.common as passes
    from onnxscript import optimizer

    for _ in range(2):  # a second round folds what the first one exposed
        optimizer.fold_constants(model)
        passes.RemoveUnusedNodesPass()(model)
    passes.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)
    passes.DeduplicateInitializersPass()(model)
    passes.CommonSubexpressionEliminationPass()(model)
    passes.RemoveUnusedNodesPass()(model)


class _Pieces:
    """Exports each piece of one fitter at most once (cold and warm graphs share them)."""

    def __init__(self, fitter: Fitter, opset: int) -> None:
        self.fitter = fitter
        self.opset = opset
        self._models: dict[str, Any] = {}
        self._start = {start: StartPiece(fitter, start).eval() for start in ("cold", "warm")}
        self._step = StepPiece(fitter).eval()
        self._finish = FinishPiece(fitter).eval()

    def model(self, kind: str) -> Any:
        if kind not in self._models:
            self._models[kind] = self._export(kind)
        return self._models[kind]

    def _export(self, kind: str) -> Any:
        # Example inputs of the later pieces come from running the earlier ones.
        start: Start = "warm" if kind == "start_warm" else "cold"
        inputs = example_inputs(self.fitter, start=start)
        start_piece = self._start[start]
        if kind.startswith("start"):
            return module_to_onnx(start_piece, inputs, start_piece.input_names,
                            start_piece.output_names, self.opset)
        with torch.no_grad():
            observation_and_state = start_piece(*inputs)
        if kind == "step":
            return module_to_onnx(self._step, observation_and_state, self._step.input_names,
                            self._step.output_names, self.opset)
        finish_inputs = (inputs[0], inputs[2]) + observation_and_state
        return module_to_onnx(self._finish, finish_inputs, self._finish.input_names,
                        self._finish.output_names, self.opset)


def _mlp_prefix(node: Any) -> str:
    return MLP_NODE_PREFIX if _MLP_MODULES & set(module_scopes(node)) else ""


def _chain(pieces: _Pieces, start: Start, steps: int) -> Any:
    chain = [PieceInstance("start", "start", pieces.model(f"start_{start}"))]
    chain += [PieceInstance("step", f"step{i + 1}", pieces.model("step"),
                            carry=((NEXT_STATE_NAME, STATE_NAME),)) for i in range(steps)]
    chain.append(PieceInstance("finish", "finish", pieces.model("finish")))
    names = INPUT_NAMES + (WARM_INPUT_NAMES if start == "warm" else ())
    return chain_pieces(chain, inputs=names, outputs=OUTPUT_NAMES, node_prefix=_mlp_prefix)


def _describe(model: Any, meta: GraphMetadata) -> None:
    """Metadata and input/output docs (in place on a ModelProto)."""
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        doc = INPUT_DOCS.get(value.name) or OUTPUT_DOCS.get(value.name)
        if doc:
            value.doc_string = doc
    del model.metadata_props[:]
    for key, value in sorted(meta.to_properties().items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = (f"lgd_ros learned-gradient-descent body fit: keypoint format "
                        f"{meta.keypoint_format}, {meta.steps} update steps, {meta.start} start")


def _check_steps(steps: int | None, default: int) -> int:
    if steps is None:
        return default
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ExportFailedError(f"steps must be a non-negative int, got {steps!r}")
    return steps


def _export_one(pieces: _Pieces, original: Fitter, path: Path, *, steps: int, start: Start,
                verify: bool) -> GraphMetadata:
    import onnx

    model = _chain(pieces, start, steps)
    meta = GraphMetadata(
        keypoint_format=original.fmt,
        num_keypoints=original.num_keypoints,
        num_betas=original.network.config.num_betas,
        steps=steps,
        start=start,
        body_model_fingerprint=original.body_model.fingerprint,
        body_model_name=original.meta.body_model_name or original.body_model.name,
        weights_sha256=network_fingerprint(original.network),
        options=original.options,
        opset=pieces.opset,
    )
    _describe(model, meta)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ExportFailedError(f"the chained fit graph is not valid ONNX: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)
    if verify:
        _verify(FitGraph(pieces.fitter, steps, start).eval(), path,
                example_inputs(pieces.fitter, start=start))
    return meta


def _verify(module: FitGraph, path: Path, inputs: tuple[torch.Tensor, ...]) -> None:
    """Run the written file with ONNX Runtime and compare with the torch loop."""
    from lgd_ros.export.backends import create_onnx_session

    expected = _run_eager(module, inputs)
    session = create_onnx_session(path, threads=1)
    declared = {value.name for value in session.get_inputs()}
    feeds = {name: t.numpy() for name, t in zip(module.input_names, inputs, strict=True)
             if name in declared}
    exported = session.run(list(OUTPUT_NAMES), feeds)
    worst = ("", 0.0)
    for name, ours, theirs in zip(OUTPUT_NAMES, exported, expected, strict=True):
        if ours.shape != tuple(theirs.shape):
            raise ExportFailedError(f"verification of {path}: output {name} has shape "
                                    f"{ours.shape}, torch gives {tuple(theirs.shape)}")
        if name in ("pose", "betas", "transl", "joints", "keypoints3d"):
            diff = float(abs(ours - theirs.numpy()).max())
            worst = max(worst, (name, diff), key=lambda item: item[1])
    if not worst[1] < _VERIFY_TOLERANCE:
        raise ExportFailedError(
            f"verification of {path} failed: ONNX Runtime and torch differ by {worst[1]:.2e} "
            f"in {worst[0]} on the example batch")


def export_fit_graph(
    fitter: Fitter,
    path: str | Path,
    *,
    steps: int | None = None,
    start: Start = "cold",
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
) -> GraphMetadata:
    """Export ``fitter``'s whole ``steps``-step fit to one ONNX file.

    Args:
        fitter: a loaded fitter (any device; a CPU float32 copy is exported).
        path: output ``.onnx`` file (parent directories are created).
        steps: update steps to unroll; None = the weights' default for ``start``.
        start: ``cold`` (inputs: keypoints, confidence, intrinsics) or ``warm`` (plus the
            previous fit: init_pose, init_betas, init_transl, init_joints).
        opset: ONNX opset.
        verify: run the file once with ONNX Runtime and compare with the torch fitter.

    Returns:
        The metadata written into the file.

    Raises:
        ExportFailedError: tracing/translation failed or the verification differs.
        BackendUnavailableError: onnx / onnxscript (or onnxruntime for ``verify``) missing.
    """
    if start not in ("cold", "warm"):
        raise ExportFailedError(f"start must be 'cold' or 'warm', got {start!r}")
    default = fitter.default_steps if start == "cold" else fitter.default_warm_steps
    steps = _check_steps(steps, default)
    pieces = _Pieces(_export_copy(fitter), opset)
    return _export_one(pieces, fitter, Path(path), steps=steps, start=start, verify=verify)


def export_fit_graphs(
    fitter: Fitter,
    path: str | Path,
    *,
    steps: int | None = None,
    warm_steps: int | None = None,
    warm: bool = True,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
) -> ExportedGraphs:
    """Export the cold-start graph to ``path`` and the warm-start graph next to it.

    The warm graph goes to :func:`warm_graph_path` (``x.onnx`` -> ``x.warm.onnx``), where
    :class:`~lgd_ros.export.backends.OnnxRuntimeFitter` looks for it. The two share the
    traced step and finish pieces, so the pair costs little more than one graph.
    """
    steps = _check_steps(steps, fitter.default_steps)
    warm_steps = _check_steps(warm_steps, fitter.default_warm_steps)
    pieces = _Pieces(_export_copy(fitter), opset)
    path = Path(path)
    cold = _export_one(pieces, fitter, path, steps=steps, start="cold", verify=verify)
    if not warm:
        return ExportedGraphs(path, cold)
    warm_path = warm_graph_path(path)
    warm_meta = _export_one(pieces, fitter, warm_path, steps=warm_steps, start="warm",
                            verify=verify)
    return ExportedGraphs(path, cold, warm_path, warm_meta)


def export_gradient_graph(fitter: Fitter, path: str | Path, *,
                          opset: int = DEFAULT_OPSET) -> Path:
    """Export :class:`~lgd_ros.export.graph.GradientGraph` (for checking the gradient).

    Inputs ``keypoints``, ``confidence``, ``intrinsics``, ``state``; outputs ``error``,
    ``gradient``. No lgd_ros metadata: it is a diagnostic, not a fitter.
    """
    import onnx

    source = _export_copy(fitter)
    module = GradientGraph(source).eval()
    inputs = example_inputs(source)
    with torch.no_grad():
        state = StartPiece(source, "cold")(*inputs)[-1]
    model = module_to_onnx(module, inputs + (state,), INPUT_NAMES + ("state",),
                     ("error", "gradient"), opset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
