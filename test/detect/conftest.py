"""Shared, expensive things of the detect tests: one detector and the decoded video frames.

Starting BlazePose takes ~0.5 s and decoding the Sports2D video ~1 s, so both are made once
per session. The sample media come from registry packages (scikit-image, sports2d); a
missing package fails with the install command in the message rather than skipping, because
the pinned environment (requirements/no-deps.txt) has them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lgd_ros.detect import (
    BlazePoseConfig,
    BlazePoseDetector,
    astronaut_image,
    find_sports2d_demo_video,
    read_video_frames,
)

# Frames of Sports2D/Demo/demo.mp4 used by the tests (hand-checked ones are listed in
# test_blazepose.py); 100..125 feed the tracking test.
SPORTS2D_FRAMES = (0, 80, *range(100, 126))


@pytest.fixture(scope="session")
def detector() -> Iterator[BlazePoseDetector]:
    """Default settings, every image on its own (no tracking)."""
    with BlazePoseDetector(BlazePoseConfig()) as instance:
        yield instance


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return astronaut_image()


@pytest.fixture(scope="session")
def sports2d_frames() -> dict[int, np.ndarray]:
    return read_video_frames(find_sports2d_demo_video(), SPORTS2D_FRAMES)
