"""Sample media from registry packages: found where installed, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lgd_ros.detect import (
    SampleMediaNotFoundError,
    find_sports2d_demo_video,
    read_video_frames,
)


def test_sports2d_demo_video_is_found_in_site_packages() -> None:
    path = find_sports2d_demo_video()
    assert path.name == "demo.mp4" and path.parent.name == "Demo"
    assert path.stat().st_size > 1_000_000


def test_video_frames_are_rgb_at_full_size(sports2d_frames: dict[int, np.ndarray]) -> None:
    frame = sports2d_frames[0]
    assert frame.shape == (994, 1768, 3) and frame.dtype == np.uint8
    assert frame.flags.c_contiguous
    # The distant mountains are blue (and would look orange if channels were BGR).
    red, _, blue = frame[200:280, 420:560].reshape(-1, 3).mean(axis=0)
    assert blue > red + 40


def test_reading_past_the_end_is_an_error() -> None:
    with pytest.raises(SampleMediaNotFoundError, match="ended after 230 frames"):
        read_video_frames(find_sports2d_demo_video(), [5000])


def test_unreadable_video_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not_a_video.mp4"
    bogus.write_bytes(b"no video here")
    with pytest.raises(SampleMediaNotFoundError, match="cannot open"):
        read_video_frames(bogus, [0])


def test_missing_sports2d_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(SampleMediaNotFoundError, match=r"pip install --no-deps sports2d==0\.8\.34"):
        find_sports2d_demo_video()
