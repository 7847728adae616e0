"""Shared fixtures of the export tests: graphs exported once per session, per format.

Every keypoint format with shipped weights (``lgd_ros/fitting/data/lgd_<fmt>.pt``) is
exported into a temporary directory once for the whole session (export is the slow part:
several seconds per format); a format without shipped weights is skipped, and the skip
reason names the missing file. The default format goes through the real command
(``python -m lgd_ros.export``), the others through ``load_fitter``'s export-on-first-use
cache (the route the ROS node takes), so both are exercised without exporting anything
twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.formats import KEYPOINT_FORMAT_NAMES
from lgd_ros.data import load_pose_corpus
from lgd_ros.export.backends import OnnxRuntimeFitter
from lgd_ros.export.onnx_export import warm_graph_path
from lgd_ros.fitting import Fitter
from lgd_ros.fitting.weights import default_weights_path

#: Exported with the CLI; every other format through load_fitter's cache.
CLI_FORMAT = "coco17"


@dataclass(frozen=True)
class Exported:
    """One format's exported graphs, the torch fitter they came from and an ORT fitter."""

    fmt: str
    fitter: Fitter
    onnx_path: Path
    warm_path: Path
    ort: OnnxRuntimeFitter
    cli_output: str  # what `lgd-ros export` printed; "" if exported through load_fitter
    directory: Path


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def body_model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="session")
def val_poses() -> torch.Tensor:
    return load_pose_corpus().val_poses()


def shipped_weights(fmt: str) -> Path:
    return default_weights_path(fmt)


def _export_command(fmt: str, directory: Path) -> tuple[list[str], Path | None]:
    """The process that exports ``fmt``, and the cold graph it writes (None: in the cache)."""
    if fmt == CLI_FORMAT:
        # The tests compare with torch themselves; --no-verify saves time.
        out = directory / f"lgd_{fmt}.onnx"
        return [sys.executable, "-m", "lgd_ros.export", "--fmt", fmt, "--out", str(out),
                "--no-verify"], out
    # The node's route: load_fitter exports the shipped weights into its cache.
    script = ("import sys; from lgd_ros.export import load_fitter; "
              "print(load_fitter('onnxruntime', fmt=sys.argv[1], cache_dir=sys.argv[2], "
              "threads=1).sources[0])")
    return [sys.executable, "-c", script, fmt, str(directory)], None


@pytest.fixture(scope="session")
def export_format(tmp_path_factory: pytest.TempPathFactory,
                  body_model: BodyModel) -> Iterator[Callable[[str], Exported]]:
    """``export_format(fmt)``: the export of ``fmt``, made once per session.

    Exports of all shipped formats start at once, two at a time, each in its own process
    (exporting is single-threaded Python work: two processes use both cores).
    """
    shipped = [fmt for fmt in KEYPOINT_FORMAT_NAMES if shipped_weights(fmt).is_file()]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    directories = {fmt: tmp_path_factory.mktemp(f"export_{fmt}") for fmt in shipped}

    def run(fmt: str) -> tuple[subprocess.CompletedProcess[str], Path | None]:
        command, out = _export_command(fmt, directories[fmt])
        return subprocess.run(command, capture_output=True, text=True, env=environment,
                              timeout=600, check=False), out

    cache: dict[str, Exported] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = {fmt: pool.submit(run, fmt) for fmt in shipped}

        def get(fmt: str) -> Exported:
            if fmt not in running:
                pytest.skip(f"no shipped weights for keypoint format {fmt!r}: "
                            f"{shipped_weights(fmt)} is missing")
            if fmt not in cache:
                process, out = running[fmt].result()
                assert process.returncode == 0, process.stdout + process.stderr
                path = out if out is not None else Path(process.stdout.strip().splitlines()[-1])
                ort = OnnxRuntimeFitter.load(path, fmt=fmt, body_model=body_model, threads=1)
                fitter = Fitter.load(body_model=body_model, fmt=fmt)
                cli_output = process.stdout if out is not None else ""
                cache[fmt] = Exported(fmt, fitter, path, warm_graph_path(path), ort,
                                      cli_output, directories[fmt])
            return cache[fmt]

        yield get


@pytest.fixture(scope="session", params=KEYPOINT_FORMAT_NAMES)
def exported(request: pytest.FixtureRequest,
             export_format: Callable[[str], Exported]) -> Exported:
    """Each keypoint format in turn (skipped when its weights are not shipped)."""
    return export_format(request.param)


@pytest.fixture(scope="session")
def coco17(export_format: Callable[[str], Exported]) -> Exported:
    """The default format's export (metadata and backend tests use it)."""
    return export_format("coco17")
