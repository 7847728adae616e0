"""Run the exported fitting loop: one ``fit`` API over torch, ONNX Runtime and TensorRT.

:func:`load_fitter` is what front ends call (the ROS node, the bag tool, benchmarks)::

    fitter = load_fitter("onnxruntime", weights, body_model=model, fmt="coco17")
    result = fitter.fit(keypoints_px, confidence, intrinsics, init=previous)

Every backend returns a :class:`lgd_ros.fitting.FitResult` and raises the fitting
package's errors, so swapping the backend is a one-word configuration change:

* ``torch``: :class:`lgd_ros.fitting.Fitter` itself (any step count per call);
* ``onnxruntime``: :class:`OnnxRuntimeFitter`, for CPU-only robots; runs the graphs written
  by ``lgd-ros export`` (a cold-start graph and, next to it, a warm-start graph);
* ``tensorrt``: :class:`lgd_ros.export.tensorrt.TensorRTFitter` on an NVIDIA GPU.

An exported graph has its step count, keypoint format, body model and weights built in.
Loading checks all of them against what the caller asked for (:class:`GraphMismatchError`
otherwise). Without an explicit graph file, :func:`load_fitter` exports one from the
weights into a cache directory on first use (a few seconds on a desktop CPU, once).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.errors import BodyError
from lgd_ros.export.defaults import BACKENDS
from lgd_ros.export.errors import (
    BackendUnavailableError,
    GraphFileError,
    GraphMismatchError,
)
from lgd_ros.export.graph import OUTPUT_NAMES
from lgd_ros.export.metadata import (
    GRAPH_FORMAT_VERSION,
    GraphMetadata,
    Start,
    export_command,
    network_fingerprint,
)
from lgd_ros.fitting.errors import FitInputError, WeightsError
from lgd_ros.fitting.fitter import (
    FitOptions,
    FitResult,
    Fitter,
    as_fit_tensor,
    check_fit_inputs,
    check_steps,
)
from lgd_ros.fitting.weights import load_weights

if TYPE_CHECKING:
    import onnxruntime

GraphT = TypeVar("GraphT")
"""An opened graph of one backend (an ONNX Runtime session, a TensorRT engine)."""

__all__ = [
    "BACKENDS",
    "BackendName",
    "FitterLike",
    "GraphFitter",
    "OnnxRuntimeFitter",
    "create_onnx_session",
    "default_cache_dir",
    "ensure_exported",
    "load_fitter",
]

BackendName = Literal["torch", "onnxruntime", "tensorrt"]
#: The fitter's default success thresholds (what graphs are exported with by default).
DEFAULT_FIT_OPTIONS = FitOptions()

ArrayLike = torch.Tensor | np.ndarray


@runtime_checkable
class FitterLike(Protocol):
    """What front ends use of a fitter, whatever runs it."""

    @property
    def fmt(self) -> str: ...

    @property
    def num_keypoints(self) -> int: ...

    @property
    def default_steps(self) -> int: ...

    @property
    def default_warm_steps(self) -> int: ...

    def fit(self, keypoints: ArrayLike, confidence: ArrayLike, intrinsics: ArrayLike,
            fmt: str | None = None, init: FitResult | None = None,
            steps: int | None = None) -> FitResult: ...

    def prepare(self, steps: int | None = None, warm_steps: int | None = None) -> None: ...


# ----------------------------------------------------------------------------- helpers


def _as_tensor(name: str, value: Any, device: torch.device) -> torch.Tensor:
    """float32 tensor on ``device`` (the graphs' input type)."""
    return as_fit_tensor(name, value, torch.float32, device)


def default_cache_dir() -> Path:
    """Where :func:`load_fitter` keeps graphs it exported itself.

    ``$LGD_ROS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/lgd_ros/export``, else
    ``~/.cache/lgd_ros/export``.
    """
    if os.environ.get("LGD_ROS_CACHE_DIR"):
        return Path(os.environ["LGD_ROS_CACHE_DIR"]) / "export"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lgd_ros" / "export"


def create_onnx_session(
    path: str | Path,
    *,
    threads: int | None = None,
    providers: list[str] | None = None,
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session for a fit graph.

    Args:
        threads: intra-op threads (None = ONNX Runtime's default, one per core).
        providers: execution providers (None = CPU).

    Raises:
        BackendUnavailableError: onnxruntime is not installed.
        GraphFileError: the file is missing or ONNX Runtime cannot load it.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailableError(
            "the onnxruntime backend needs the 'onnxruntime' package (pip install onnxruntime; "
            "'onnxruntime-gpu' for CUDA)") from exc
    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"ONNX fit graph not found: {path}. Write it with: "
                             f"{export_command('coco17', out=path)}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: a fit graph triggers no useful warnings
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options,
                                    providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:
        raise GraphFileError(f"ONNX Runtime cannot load {path}: {exc}") from exc


# -------------------------------------------------------------------------- base class


class GraphFitter(ABC):
    """A fitter that runs exported fit graphs (a cold-start one, optionally a warm one).

    Same ``fit`` contract as :meth:`lgd_ros.fitting.Fitter.fit`, except that ``steps`` must
    be the graph's step count (or None): the loop is unrolled in the graph.

    Attributes:
        cold / warm: metadata of the cold-start and warm-start graphs (warm may be None:
            then ``fit(init=...)`` raises).
        body_model: the body model the graphs were checked against (for meshes).
        device: where results are returned.
        options: the success thresholds built into the graphs.
    """

    backend: str = ""

    def __init__(self, cold: GraphMetadata, warm: GraphMetadata | None, *,
                 body_model: BodyModel | None, device: torch.device,
                 sources: tuple[str, str | None]) -> None:
        if cold.start != "cold":
            raise GraphMismatchError(f"{sources[0]} is a {cold.start}-start graph, but the "
                                     f"first graph of a fitter must be the cold-start one")
        if warm is not None:
            warm.check(sources[1] or "warm graph", fmt=cold.keypoint_format, start="warm",
                       body_model_fingerprint=cold.body_model_fingerprint,
                       weights_sha256=cold.weights_sha256, options=cold.options)
        self.cold = cold
        self.warm = warm
        self.body_model = body_model
        self.device = device
        self.options = cold.options
        #: Files of the cold-start and warm-start graphs (engines for TensorRT).
        self.sources = sources

    @staticmethod
    def _open_pair(path: Path, warm_path: str | Path | None, default_warm_path: Path,
                   open_graph: Callable[[Path], tuple[GraphT, GraphMetadata]], *, fmt: str | None,
                   body_model: BodyModel | None, weights_sha256: str | None, steps: int | None,
                   warm_steps: int | None, options: FitOptions | None,
                   ) -> tuple[tuple[GraphT, GraphMetadata], tuple[GraphT, GraphMetadata] | None,
                              tuple[str, str | None]]:
        """Open and check a cold-start graph and its warm-start graph (``warm_path``, else
        ``default_warm_path`` if that file exists): what every backend's ``load`` does.

        Returns the two opened graphs with their metadata (warm None when there is none) and
        their ``sources``.

        Raises:
            GraphFileError: ``warm_steps`` asked for without a warm-start graph; what
                ``open_graph`` and :meth:`GraphMetadata.check` raise.
        """
        fingerprint = body_model.fingerprint if body_model is not None else None
        cold = open_graph(path)
        cold_meta = cold[1]
        cold_meta.check(path, fmt=fmt, steps=steps, start="cold", body_model_fingerprint=fingerprint,
                        weights_sha256=weights_sha256, options=options)
        resolved = Path(warm_path) if warm_path is not None else default_warm_path
        if warm_path is None and not resolved.is_file():
            if warm_steps is not None:
                raise GraphFileError(
                    f"warm_steps={warm_steps} asked for, but there is no warm-start graph {resolved}. "
                    f"Export it: {export_command(cold_meta.keypoint_format, out=path)}")
            return cold, None, (str(path), None)
        warm = open_graph(resolved)
        warm[1].check(resolved, fmt=fmt, steps=warm_steps, start="warm", body_model_fingerprint=fingerprint,
                        weights_sha256=weights_sha256, options=options)
        return cold, warm, (str(path), str(resolved))

    @property
    def fmt(self) -> str:
        """Keypoint format of the graphs."""
        return self.cold.keypoint_format

    @property
    def num_keypoints(self) -> int:
        """``J`` of the keypoint format."""
        return self.cold.num_keypoints

    @property
    def default_steps(self) -> int:
        """Update steps of the cold-start graph."""
        return self.cold.steps

    @property
    def default_warm_steps(self) -> int:
        """Update steps of the warm-start graph (the cold graph's if there is none)."""
        return self.warm.steps if self.warm is not None else self.cold.steps

    def prepare(self, steps: int | None = None, warm_steps: int | None = None) -> None:
        """Nothing to do: the graphs are loaded (the torch fitter traces its graphs here)."""
        return None

    def _input_device(self) -> torch.device:
        """Device the backend wants its input tensors on."""
        return torch.device("cpu")

    def _check_inputs(self, keypoints: Any, confidence: Any, intrinsics: Any, fmt: str | None,
                      init: FitResult | None, steps: int | None
                      ) -> tuple[dict[str, torch.Tensor], Start, int]:
        """Validate like :class:`Fitter` does; returns the graph feeds, start and steps."""
        if fmt is not None and fmt != self.fmt:
            raise FitInputError(
                f"this {self.backend} fitter's graph is for keypoint format {self.fmt!r}, got "
                f"fmt={fmt!r}; load one for {fmt!r} (load_fitter(..., fmt={fmt!r}))")
        device = self._input_device()
        kp, conf, k_mat = check_fit_inputs(keypoints, confidence, intrinsics, init,
                                           num_keypoints=self.num_keypoints, fmt=self.fmt,
                                           dtype=torch.float32, device=device)
        feeds = {"keypoints": kp, "confidence": conf, "intrinsics": k_mat}
        start: Start = "cold"
        graph = self.cold
        if init is not None:
            if self.warm is None:
                raise GraphMismatchError(
                    f"warm start asked for, but this {self.backend} fitter has no warm-start "
                    f"graph (expected next to {self.sources[0]}). Export both graphs: "
                    f"{export_command(self.fmt, out=self.sources[0])}")
            start, graph = "warm", self.warm
            feeds["init_pose"] = _as_tensor("init.pose", init.pose, device)
            feeds["init_betas"] = _as_tensor("init.betas", init.betas, device)
            feeds["init_transl"] = _as_tensor("init.transl", init.transl, device)
            feeds["init_joints"] = _as_tensor("init.joints", init.joints, device)
        if steps is not None:
            check_steps(steps)
        if steps is not None and steps != graph.steps:
            source = self.sources[0] if start == "cold" else self.sources[1]
            fix = (export_command(self.fmt, steps=steps) if start == "cold"
                   else export_command(self.fmt, warm_steps=steps))
            raise GraphMismatchError(
                f"{steps} update steps asked for, but {source} runs exactly {graph.steps} "
                f"({start} start; the loop is unrolled in the graph). Export a graph with "
                f"{steps} steps ({fix}) or use the torch backend")
        return {name: t.contiguous() for name, t in feeds.items()}, start, graph.steps

    def fit(
        self,
        keypoints: ArrayLike,
        confidence: ArrayLike,
        intrinsics: ArrayLike,
        fmt: str | None = None,
        init: FitResult | None = None,
        steps: int | None = None,
    ) -> FitResult:
        """Fit the body model to 2D keypoints of ``B`` people (see :meth:`Fitter.fit`).

        Args:
            keypoints: ``[B, J, 2]`` pixels; confidence: ``[B, J]``;
            intrinsics: ``[3, 3]`` or ``[B, 3, 3]``.
            fmt: keypoint format; None = the graph's (another raises).
            init: previous fits (warm start; needs the warm-start graph).
            steps: None, or the graph's step count (anything else raises).

        Raises:
            FitInputError: wrong shapes or types, unusable intrinsics, mismatching init.
            GraphMismatchError: a step count the graph was not exported for, or a warm
                start without a warm-start graph.
        """
        feeds, start, steps_used = self._check_inputs(keypoints, confidence, intrinsics, fmt,
                                                      init, steps)
        batch = feeds["keypoints"].shape[0]
        if batch == 0:
            outputs = self._empty_outputs()
        else:
            outputs = self._run(start, feeds)
        tensors = {name: outputs[name].to(self.device) for name in OUTPUT_NAMES}
        return FitResult(**tensors, steps_used=steps_used, fmt=self.fmt)

    def _empty_outputs(self) -> dict[str, torch.Tensor]:
        j, nb = self.num_keypoints, self.cold.num_betas
        shapes = {"pose": (0, 72), "betas": (0, nb), "transl": (0, 3), "joints": (0, 24, 3),
                  "keypoints3d": (0, j, 3), "keypoints2d": (0, j, 2), "residuals_px": (0, j),
                  "mean_error_px": (0,), "quality": (0,)}
        out = {name: torch.zeros(shape) for name, shape in shapes.items()}
        out["success"] = torch.zeros(0, dtype=torch.bool)
        return out

    @abstractmethod
    def _run(self, start: Start, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the ``start`` graph on ``feeds`` (named as the graph inputs, ``B >= 1``)."""


# --------------------------------------------------------------------------- ONNX Runtime


class OnnxRuntimeFitter(GraphFitter):
    """Runs fit graphs with ONNX Runtime (CPU by default). Build with :meth:`load`."""

    backend = "onnxruntime"

    def __init__(self, cold_session: onnxruntime.InferenceSession,
                 warm_session: onnxruntime.InferenceSession | None, cold: GraphMetadata,
                 warm: GraphMetadata | None, *, body_model: BodyModel | None,
                 device: torch.device, sources: tuple[str, str | None]) -> None:
        super().__init__(cold, warm, body_model=body_model, device=device, sources=sources)
        self._sessions = {"cold": cold_session, "warm": warm_session}

    @classmethod
    def load(
        cls,
        onnx_path: str | Path,
        *,
        warm_onnx_path: str | Path | None = None,
        fmt: str | None = None,
        body_model: BodyModel | None = None,
        weights_sha256: str | None = None,
        steps: int | None = None,
        warm_steps: int | None = None,
        options: FitOptions | None = None,
        device: torch.device | str | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> OnnxRuntimeFitter:
        """Open a cold-start graph and (if present) its warm-start graph.

        Args:
            onnx_path: the cold-start graph written by ``lgd-ros export``.
            warm_onnx_path: the warm-start graph; None = ``<stem>.warm.onnx`` next to
                ``onnx_path`` if it exists (else no warm start).
            fmt, steps, warm_steps, options: required settings (None = accept the file's).
            body_model: its fingerprint must match the graphs' (None = no check).
            weights_sha256: :func:`network_fingerprint` the graphs must have been exported
                from (None = no check).
            device: where results are returned (default CPU).
            threads: ONNX Runtime intra-op threads (None = its default).

        Raises:
            GraphFileError, GraphMismatchError, BackendUnavailableError.
        """
        from lgd_ros.export.onnx_export import warm_graph_path

        def open_graph(path: Path) -> tuple[onnxruntime.InferenceSession, GraphMetadata]:
            session = create_onnx_session(path, threads=threads, providers=providers)
            return session, _session_metadata(session, path)

        onnx_path = Path(onnx_path)
        cold, warm, sources = cls._open_pair(
            onnx_path, warm_onnx_path, warm_graph_path(onnx_path), open_graph, fmt=fmt, body_model=body_model,
            weights_sha256=weights_sha256, steps=steps, warm_steps=warm_steps, options=options)
        return cls(cold[0], warm[0] if warm else None, cold[1], warm[1] if warm else None, body_model=body_model,
                   device=torch.device(device) if device is not None else torch.device("cpu"), sources=sources)

    def _run(self, start: Start, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        session = self._sessions[start]
        if session is None:  # _check_inputs refuses a warm start without a warm graph
            raise GraphMismatchError(f"no {start}-start graph loaded")
        # Feed what the graph declares (a warm graph leaves out unused init_* inputs).
        names = [value.name for value in session.get_inputs()]
        arrays = session.run(list(OUTPUT_NAMES),
                             {name: feeds[name].cpu().numpy() for name in names})
        return {name: torch.from_numpy(np.asarray(a))
                for name, a in zip(OUTPUT_NAMES, arrays, strict=True)}


def _session_metadata(session: onnxruntime.InferenceSession, path: Path) -> GraphMetadata:
    props = session.get_modelmeta().custom_metadata_map
    return GraphMetadata.from_properties(props, path)


# ------------------------------------------------------------------------------ factory


def _load_body_model(body_model: BodyModel | str | Path | None,
                     device: torch.device | str | None) -> BodyModel:
    if isinstance(body_model, BodyModel):
        return body_model
    try:
        return BodyModel.load(body_model, device=device)
    except BodyError as exc:
        raise WeightsError(f"cannot load the body model for fitting: {exc}") from exc


def ensure_exported(
    weights: str | Path | None,
    body_model: BodyModel,
    *,
    fmt: str,
    steps: int | None = None,
    warm_steps: int | None = None,
    options: FitOptions = DEFAULT_FIT_OPTIONS,
    cache_dir: str | Path | None = None,
) -> Path:
    """The cold-start graph for these weights and settings, exported on first use.

    Graphs are cached under :func:`default_cache_dir` (or ``cache_dir``) by a key over
    everything they depend on (weights, body model, format, steps, options, versions), so a
    changed weights file or setting exports a new one and a cached one is never stale.

    Returns:
        Path of the cold-start graph (the warm-start graph is next to it).
    """
    import lgd_ros

    fitter = Fitter.load(weights, body_model, fmt=fmt, device=_model_device(body_model),
                         options=options)
    steps = fitter.default_steps if steps is None else steps
    warm_steps = fitter.default_warm_steps if warm_steps is None else warm_steps
    key = hashlib.sha256("|".join(map(str, (
        network_fingerprint(fitter.network), body_model.fingerprint, fmt, steps, warm_steps,
        options, GRAPH_FORMAT_VERSION, lgd_ros.__version__, torch.__version__,
    ))).encode()).hexdigest()[:16]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = directory / f"lgd_{fmt}_{key}.onnx"
    from lgd_ros.export.onnx_export import export_fit_graphs, warm_graph_path

    if not (path.is_file() and warm_graph_path(path).is_file()):
        export_fit_graphs(fitter, path, steps=steps, warm_steps=warm_steps)
    return path


def _model_device(body_model: BodyModel) -> torch.device:
    for buffer in body_model.buffers():
        return buffer.device
    return torch.device("cpu")


def _weights_fingerprint(weights: str | Path | None, fmt: str,
                         body_model: BodyModel) -> str | None:
    """Network fingerprint of an explicitly given weights file (None: no weights given)."""
    if weights is None:
        return None
    network, _ = load_weights(Path(weights), expected_fingerprint=body_model.fingerprint,
                              expected_format=fmt)
    return network_fingerprint(network)


def load_fitter(
    backend: str = "torch",
    weights: str | Path | None = None,
    body_model: BodyModel | str | Path | None = None,
    *,
    fmt: str = "coco17",
    device: torch.device | str | None = None,
    options: FitOptions = DEFAULT_FIT_OPTIONS,
    onnx_path: str | Path | None = None,
    engine_path: str | Path | None = None,
    steps: int | None = None,
    warm_steps: int | None = None,
    cache_dir: str | Path | None = None,
    threads: int | None = None,
    fp16: bool = False,
) -> Fitter | GraphFitter:
    """A fitter for ``fmt`` on the chosen backend (``torch``, ``onnxruntime`` or ``tensorrt``).

    Drop-in for :meth:`Fitter.load` (same first arguments), so a front end switches
    backend with one parameter.

    Args:
        backend: one of :data:`BACKENDS`.
        weights: weights file; None = the weights shipped for ``fmt``. With ``onnx_path``
            given and ``weights`` None the graph file is trusted as is; with both given the
            graph must have been exported from these weights.
        body_model: loaded model, model file, or None for the open default.
        fmt: keypoint format.
        device: torch device for the torch backend and of returned tensors (the TensorRT
            backend needs a CUDA device; default ``cuda``).
        options: success thresholds (built into exported graphs; must match them).
        onnx_path: cold-start ONNX graph (its ``.warm.onnx`` sibling is used for warm
            starts); None = export from ``weights`` into the cache on first use.
        engine_path: TensorRT engine (``tensorrt`` backend); None = build from the ONNX
            graph into the cache on first use (minutes on a Jetson, once).
        steps / warm_steps: update steps the graphs must have (None = as exported / the
            weights' defaults). Ignored by the torch backend, which takes steps per call.
        cache_dir: where exported graphs and engines are cached (see
            :func:`default_cache_dir`).
        threads: ONNX Runtime intra-op threads.
        fp16: build the TensorRT engine with FP16 networks (``tensorrt`` only).

    Raises:
        FitInputError: unknown backend.
        WeightsError / GraphFileError / GraphMismatchError: missing or mismatching files.
        BackendUnavailableError: the backend's package or GPU is missing (the message
            names the package to install).
    """
    if backend not in BACKENDS:
        raise FitInputError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "torch":
        return Fitter.load(weights, body_model, fmt=fmt, device=device, options=options)
    if backend == "tensorrt":
        from lgd_ros.export.tensorrt import (
            TensorRTFitter,
            ensure_engine,
            require_tensorrt,
        )

        cuda_device = require_tensorrt(device)
        model = _load_body_model(body_model, cuda_device)
        expected_weights = _weights_fingerprint(weights, fmt, model)
        if engine_path is None:
            if onnx_path is None:
                onnx_path = ensure_exported(weights, model, fmt=fmt, steps=steps,
                                            warm_steps=warm_steps, options=options,
                                            cache_dir=cache_dir)
            engine_path = ensure_engine(onnx_path, fp16=fp16, cache_dir=cache_dir)
        return TensorRTFitter.load(engine_path, fmt=fmt, body_model=model,
                                   weights_sha256=expected_weights, steps=steps,
                                   warm_steps=warm_steps, options=options, device=cuda_device)
    model = _load_body_model(body_model, device)
    expected_weights = _weights_fingerprint(weights, fmt, model)
    if onnx_path is None:
        onnx_path = ensure_exported(weights, model, fmt=fmt, steps=steps, warm_steps=warm_steps,
                                    options=options, cache_dir=cache_dir)
    return OnnxRuntimeFitter.load(onnx_path, fmt=fmt, body_model=model,
                                  weights_sha256=expected_weights, steps=steps,
                                  warm_steps=warm_steps, options=options, device=device,
                                  threads=threads)
