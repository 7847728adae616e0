"""``load_fitter``: one call for every backend, exporting into a cache when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgd_ros.export import (
    FitterLike,
    GraphMismatchError,
    OnnxRuntimeFitter,
    load_fitter,
)
from lgd_ros.export.backends import default_cache_dir
from lgd_ros.fitting import FitInputError, Fitter

from .conftest import CLI_FORMAT, Exported


def test_torch_backend_is_the_fitter(coco17: Exported, body_model) -> None:
    fitter = load_fitter("torch", None, body_model, fmt="coco17")
    assert type(fitter) is Fitter
    assert isinstance(fitter, FitterLike) and isinstance(coco17.ort, FitterLike)


def test_onnxruntime_backend_with_a_given_file(coco17: Exported, body_model) -> None:
    fitter = load_fitter("onnxruntime", None, body_model, fmt="coco17",
                         onnx_path=coco17.onnx_path, threads=1)
    assert isinstance(fitter, OnnxRuntimeFitter)
    assert fitter.default_steps == coco17.fitter.default_steps
    assert fitter.default_warm_steps == coco17.fitter.default_warm_steps
    assert fitter.num_keypoints == 17 and fitter.body_model is body_model


def test_unknown_backend() -> None:
    with pytest.raises(FitInputError, match="backend must be one of torch, onnxruntime, "
                                            "tensorrt; got 'tflite'"):
        load_fitter("tflite")


def test_onnxruntime_backend_exports_into_the_cache_once(exported: Exported,
                                                         body_model) -> None:
    if exported.fmt == CLI_FORMAT:
        pytest.skip(f"{CLI_FORMAT} is exported by the CLI in these tests, not by the cache")
    # The fixture's load_fitter call exported both graphs into its cache directory ...
    files = sorted(exported.directory.glob("*.onnx"))
    assert [f.name.endswith(".warm.onnx") for f in files] == [False, True]
    assert files[0].name.startswith(f"lgd_{exported.fmt}_")
    stamps = [f.stat().st_mtime_ns for f in files]
    # ... and the next call reuses them.
    again = load_fitter("onnxruntime", None, body_model, fmt=exported.fmt,
                        cache_dir=exported.directory, threads=1)
    assert Path(again.sources[0]) == exported.onnx_path
    assert [f.stat().st_mtime_ns for f in sorted(exported.directory.glob("*.onnx"))] == stamps
    # Other settings are another cache entry (not a stale file): a step count the cached
    # graph was not exported for is refused when passed with an explicit file.
    with pytest.raises(GraphMismatchError, match="update steps"):
        load_fitter("onnxruntime", None, body_model, fmt=exported.fmt,
                    onnx_path=exported.onnx_path, steps=exported.fitter.default_steps + 3)


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("LGD_ROS_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "export"
    monkeypatch.delenv("LGD_ROS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lgd_ros" / "export"
