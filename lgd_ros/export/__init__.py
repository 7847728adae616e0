"""The whole learned fitting loop as one exported graph: ONNX Runtime and TensorRT backends.

``lgd-ros export`` (:mod:`lgd_ros.export.cli`) writes a fitter's ``K``-step fit --
keypoint normalisation, init network, ``K`` updates each fed the written-out gradient of
the reprojection error, the result and its success flags -- to one ONNX file per start
(cold, warm) with the settings in its metadata; :func:`load_fitter` runs such files with
ONNX Runtime or TensorRT behind the same ``fit`` API as :class:`lgd_ros.fitting.Fitter`.

Names are resolved on first use (PEP 562), and the optional packages (onnx, onnxscript,
onnxruntime, tensorrt) only inside the functions that need them: importing
``lgd_ros.export.cli`` to build ``lgd-ros --help`` imports neither torch nor ONNX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgd_ros.export.backends import (
        BACKENDS,
        FitterLike,
        GraphFitter,
        OnnxRuntimeFitter,
        load_fitter,
    )
    from lgd_ros.export.errors import (
        BackendUnavailableError,
        EngineBuildError,
        ExportError,
        ExportFailedError,
        GraphFileError,
        GraphMismatchError,
    )
    from lgd_ros.export.metadata import GraphMetadata, read_onnx_metadata
    from lgd_ros.export.onnx_export import export_fit_graph, export_fit_graphs

# Public name -> submodule. Resolved on first access (PEP 562), so that importing
# lgd_ros.export.cli for ``lgd-ros --help`` does not import torch.
_EXPORTS: dict[str, str] = {
    "BACKENDS": "backends",
    "FitterLike": "backends",
    "GraphFitter": "backends",
    "OnnxRuntimeFitter": "backends",
    "load_fitter": "backends",
    "GraphMetadata": "metadata",
    "read_onnx_metadata": "metadata",
    "export_fit_graph": "onnx_export",
    "export_fit_graphs": "onnx_export",
    "ExportError": "errors",
    "ExportFailedError": "errors",
    "BackendUnavailableError": "errors",
    "GraphFileError": "errors",
    "GraphMismatchError": "errors",
    "EngineBuildError": "errors",
}

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "EngineBuildError",
    "ExportError",
    "ExportFailedError",
    "FitterLike",
    "GraphFileError",
    "GraphFitter",
    "GraphMetadata",
    "GraphMismatchError",
    "OnnxRuntimeFitter",
    "export_fit_graph",
    "export_fit_graphs",
    "load_fitter",
    "read_onnx_metadata",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lgd_ros.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lgd_ros.export.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
