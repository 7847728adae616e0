"""TensorRT: build an engine from an exported fit graph, and a fitter that runs it.

Needs NVIDIA TensorRT 10's Python package ``tensorrt`` and torch with CUDA; neither is a
dependency of lgd_ros. Buffers are torch CUDA tensors (no pycuda): inputs are bound by
``data_ptr`` and the engine runs on torch's current stream, so results are ordinary
CUDA tensors ordered with the caller's torch work.

FP16 (``fp16=True``): TensorRT may run the init / update networks (the layers named
``mlp/...`` by the exporter) in half precision; every other layer -- keypoint
normalisation, kinematics, projection, the written-out gradient -- is pinned to FP32,
because pixel coordinates and depths lose whole pixels and millimetres in FP16 while the
networks, which see normalised inputs, do not. Check a build's accuracy with
``benchmarks/bench_export.py --backend tensorrt`` on the robot.

An engine is specific to the GPU model and TensorRT version it was built with; its
settings (the ONNX graph's metadata plus the build options) are written to
``<engine>.json`` next to it and checked at load like an ONNX file's metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lgd_ros.body import BodyModel
from lgd_ros.export.backends import GraphFitter, default_cache_dir
from lgd_ros.export.errors import (
    BackendUnavailableError,
    EngineBuildError,
    ExportError,
    GraphFileError,
)
from lgd_ros.export.graph import OUTPUT_NAMES
from lgd_ros.export.metadata import (
    GraphMetadata,
    Start,
    export_command,
    read_onnx_metadata,
)
from lgd_ros.export.onnx_export import MLP_NODE_PREFIX, warm_graph_path
from lgd_ros.export.tensorrt_support import tensorrt_compatibility_problems
from lgd_ros.fitting.fitter import FitOptions

__all__ = [
    "TENSORRT_PACKAGE_HINT",
    "EngineSettings",
    "TensorRTFitter",
    "build_engine",
    "build_engines",
    "engine_sidecar_path",
    "ensure_engine",
    "require_tensorrt",
    "warm_engine_path",
]

TENSORRT_PACKAGE_HINT = (
    "install NVIDIA TensorRT 10's Python package: 'pip install tensorrt' (x86_64 with a CUDA 12 "
    "driver), or on a Jetson the JetPack 6 package 'sudo apt install python3-libnvinfer' "
    "(then create the venv with --system-site-packages)"
)


def require_tensorrt(device: torch.device | str | None = None) -> torch.device:
    """Check that TensorRT and a CUDA GPU are usable; return the CUDA device to run on.

    Raises:
        BackendUnavailableError: naming what is missing -- the ``tensorrt`` package, a
            CUDA build of torch, a GPU, or a non-CUDA ``device``.
    """
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the tensorrt backend needs the 'tensorrt' package, which is not installed: "
            f"{TENSORRT_PACKAGE_HINT}. Without an NVIDIA GPU use backend 'onnxruntime'."
        ) from exc
    if torch.version.cuda is None:
        raise BackendUnavailableError(
            f"the tensorrt backend needs torch with CUDA, but torch {torch.__version__} is a "
            f"CPU-only build; install a CUDA build of torch (or use backend 'onnxruntime')")
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            "the tensorrt backend needs a CUDA GPU, but torch.cuda.is_available() is False "
            "(no GPU or no driver); use backend 'onnxruntime' on this machine")
    resolved = torch.device(device) if device is not None and str(device) != "auto" \
        else torch.device("cuda")
    if resolved.type != "cuda":
        raise BackendUnavailableError(
            f"the tensorrt backend runs on a CUDA device, got device={str(device)!r}; "
            f"use 'cuda' or 'cuda:N'")
    return resolved


def _trt() -> Any:
    import tensorrt as trt

    return trt


# ------------------------------------------------------------------------------ building


@dataclass(frozen=True)
class EngineSettings:
    """Build options of an engine (stored in its sidecar JSON).

    Attributes:
        fp16: networks in half precision (see module docstring).
        min_batch / opt_batch / max_batch: the optimisation profile of the batch
            dimension; ``fit`` splits larger batches into chunks of ``max_batch``.
        workspace_mb: TensorRT's scratch memory limit.
    """

    fp16: bool = False
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 64
    workspace_mb: int = 1024

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise EngineBuildError(
                f"batch sizes must satisfy 1 <= min <= opt <= max, got min={self.min_batch}, "
                f"opt={self.opt_batch}, max={self.max_batch}")
        if self.workspace_mb <= 0:
            raise EngineBuildError(f"workspace_mb must be positive, got {self.workspace_mb}")


def engine_sidecar_path(engine_path: str | Path) -> Path:
    """``out.plan`` -> ``out.plan.json`` (graph metadata and build settings)."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def warm_engine_path(engine_path: str | Path) -> Path:
    """``out.plan`` -> ``out.warm.plan`` (engine of the warm-start graph)."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.stem + ".warm" + engine_path.suffix)


def build_engine(onnx_path: str | Path, engine_path: str | Path,
                 settings: EngineSettings = EngineSettings()) -> Path:
    """Build a TensorRT engine from one exported fit graph.

    Raises:
        BackendUnavailableError: no TensorRT / GPU.
        GraphFileError: ``onnx_path`` is not an lgd_ros fit graph.
        EngineBuildError: the graph breaks a TensorRT rule, or parsing / building failed
            (with TensorRT's messages).
    """
    require_tensorrt()
    trt = _trt()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    meta = read_onnx_metadata(onnx_path)
    problems = tensorrt_compatibility_problems(onnx_path)
    if problems:
        raise EngineBuildError(f"{onnx_path} cannot be built by TensorRT: "
                               + "; ".join(problems[:10]))
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mb << 20)
    profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        dims = list(tensor.shape)

        def with_batch(batch: int, dims: list[int] = dims) -> tuple[int, ...]:
            return tuple(batch if d == -1 else d for d in dims)

        profile.set_shape(tensor.name, with_batch(settings.min_batch),
                          with_batch(settings.opt_batch), with_batch(settings.max_batch))
    config.add_optimization_profile(profile)
    if settings.fp16:
        if not getattr(builder, "platform_has_fast_fp16", True):
            raise EngineBuildError("fp16 asked for, but this GPU has no fast FP16; build FP32")
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        _pin_geometry_to_fp32(network, trt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT failed to build an engine from {onnx_path} (see the "
                               f"TensorRT log above)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    sidecar = {
        **meta.to_properties(),
        "tensorrt.version": str(trt.__version__),
        "tensorrt.device": torch.cuda.get_device_name(),
        "tensorrt.settings": json.dumps(asdict(settings), sort_keys=True),
        "tensorrt.onnx_sha256": _file_sha256(onnx_path),
    }
    engine_sidecar_path(engine_path).write_text(json.dumps(sidecar, indent=1, sort_keys=True))
    return engine_path


def _pin_geometry_to_fp32(network: Any, trt: Any) -> None:
    """Force FP32 on every floating-point layer outside the networks (``mlp/`` names)."""
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if MLP_NODE_PREFIX in layer.name:
            continue
        outputs = [layer.get_output(i) for i in range(layer.num_outputs)]
        if outputs and all(out.dtype in (trt.float32, trt.float16) for out in outputs):
            layer.precision = trt.float32
            for i in range(layer.num_outputs):
                layer.set_output_type(i, trt.float32)


def build_engines(onnx_path: str | Path, engine_path: str | Path,
                  settings: EngineSettings = EngineSettings()) -> tuple[Path, Path | None]:
    """Build the cold-start engine and, if the warm-start graph exists, its engine."""
    cold = build_engine(onnx_path, engine_path, settings)
    warm_onnx = warm_graph_path(onnx_path)
    if not warm_onnx.is_file():
        return cold, None
    return cold, build_engine(warm_onnx, warm_engine_path(engine_path), settings)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_engine(onnx_path: str | Path, *, fp16: bool = False,
                  cache_dir: str | Path | None = None) -> Path:
    """The engine of ``onnx_path`` (and its warm graph) for this GPU, built on first use."""
    require_tensorrt()
    trt = _trt()
    onnx_path = Path(onnx_path)
    key = hashlib.sha256("|".join((
        _file_sha256(onnx_path), str(fp16), str(trt.__version__), torch.cuda.get_device_name(),
    )).encode()).hexdigest()[:16]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    engine_path = directory / f"{onnx_path.stem}_{key}.plan"
    warm_needed = warm_graph_path(onnx_path).is_file()
    if not engine_path.is_file() or (warm_needed and not warm_engine_path(engine_path).is_file()):
        build_engines(onnx_path, engine_path, EngineSettings(fp16=fp16))
    return engine_path


# ------------------------------------------------------------------------------- running


class _Engine:
    """A deserialised engine, its execution context and its build settings."""

    def __init__(self, path: Path, device: torch.device) -> None:
        trt = _trt()
        sidecar = engine_sidecar_path(path)
        if not path.is_file():
            raise GraphFileError(f"TensorRT engine not found: {path}. Build it with: "
                                 f"{export_command('coco17')} --tensorrt-engine {path}")
        if not sidecar.is_file():
            raise GraphFileError(f"{path} has no settings file {sidecar}; build engines with "
                                 f"'lgd-ros export --tensorrt-engine', which writes both")
        try:
            props = json.loads(sidecar.read_text())
            self.settings = EngineSettings(**json.loads(props["tensorrt.settings"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GraphFileError(f"cannot read engine settings {sidecar}: {exc}") from exc
        self.meta = GraphMetadata.from_properties(props, path)
        built_with = props.get("tensorrt.version")
        if built_with != str(trt.__version__):
            raise GraphFileError(
                f"{path} was built with TensorRT {built_with}, this is TensorRT "
                f"{trt.__version__}; engines are not portable across versions -- rebuild it")
        self.device = device
        with torch.cuda.device(device):
            # The logger and runtime must outlive the engine deserialised from them.
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise GraphFileError(f"TensorRT could not load {path} (built for another GPU "
                                     f"or corrupt: rebuild it on this machine)")
            self.context = self.engine.create_execution_context()
        self.input_names = {
            name for name in (self.engine.get_tensor_name(i)
                              for i in range(self.engine.num_io_tensors))
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT}
        self._dtypes = {
            trt.float32: torch.float32, trt.float16: torch.float16, trt.bool: torch.bool,
            trt.int32: torch.int32, trt.int64: torch.int64,
        }

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run on ``feeds`` (a superset of the engine's inputs, on its device)."""
        outputs: dict[str, torch.Tensor] = {}
        with torch.cuda.device(self.device):
            stream = torch.cuda.current_stream(self.device)
            for name in self.input_names:
                tensor = feeds[name]
                self.context.set_input_shape(name, tuple(tensor.shape))
                self.context.set_tensor_address(name, tensor.data_ptr())
            for name in OUTPUT_NAMES:
                shape = tuple(self.context.get_tensor_shape(name))
                dtype = self._dtypes[self.engine.get_tensor_dtype(name)]
                out = torch.empty(shape, dtype=dtype, device=self.device)
                self.context.set_tensor_address(name, out.data_ptr())
                outputs[name] = out
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise ExportError("TensorRT failed to run the fit engine")
        return outputs


class TensorRTFitter(GraphFitter):
    """Runs fit engines with TensorRT on a CUDA GPU. Build with :meth:`load`."""

    backend = "tensorrt"

    def __init__(self, cold_engine: _Engine, warm_engine: _Engine | None, *,
                 body_model: BodyModel | None, device: torch.device,
                 sources: tuple[str, str | None]) -> None:
        super().__init__(cold_engine.meta, warm_engine.meta if warm_engine else None,
                         body_model=body_model, device=device, sources=sources)
        self._engines = {"cold": cold_engine, "warm": warm_engine}

    @classmethod
    def load(
        cls,
        engine_path: str | Path,
        *,
        warm_engine: str | Path | None = None,
        fmt: str | None = None,
        body_model: BodyModel | None = None,
        weights_sha256: str | None = None,
        steps: int | None = None,
        warm_steps: int | None = None,
        options: FitOptions | None = None,
        device: torch.device | str | None = None,
    ) -> TensorRTFitter:
        """Load a cold-start engine and (if present) ``<stem>.warm.plan`` next to it.

        The checks are those of :meth:`OnnxRuntimeFitter.load`.
        """
        cuda_device = require_tensorrt(device)
        engine_path = Path(engine_path)

        def open_engine(path: Path) -> tuple[_Engine, GraphMetadata]:
            engine = _Engine(path, cuda_device)
            return engine, engine.meta

        cold, warm, sources = cls._open_pair(
            engine_path, warm_engine, warm_engine_path(engine_path), open_engine, fmt=fmt, body_model=body_model,
            weights_sha256=weights_sha256, steps=steps, warm_steps=warm_steps, options=options)
        return cls(cold[0], warm[0] if warm else None, body_model=body_model, device=cuda_device, sources=sources)

    def _input_device(self) -> torch.device:
        return self.device

    def _run(self, start: Start, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        engine = self._engines[start]
        if engine is None:
            raise GraphFileError(f"no {start}-start engine loaded")
        batch = feeds["keypoints"].shape[0]
        chunk = engine.settings.max_batch
        parts = [engine.run({n: feeds[n][i:i + chunk].contiguous() for n in engine.input_names})
                 for i in range(0, batch, chunk)]
        if len(parts) == 1:
            return parts[0]
        return {name: torch.cat([p[name] for p in parts]) for name in OUTPUT_NAMES}
