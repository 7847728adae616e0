"""Defaults of the export that the command line needs without importing torch."""

from __future__ import annotations

__all__ = ["BACKENDS", "DEFAULT_OPSET"]

#: ONNX opset of exported files. 18 is what torch's exporter writes natively (no version
#: conversion) and is inside the range every TensorRT 10 release parses.
DEFAULT_OPSET: int = 18

#: Accepted values of the ``backend`` parameter (node, bag tool, benchmarks).
BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "tensorrt")
