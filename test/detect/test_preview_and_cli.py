"""Rough body placement (for pictures without a fitter) and the ``python -m lgd_ros.detect`` CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.camera import project_points
from lgd_ros.detect import BlazePoseDetector, DetectError
from lgd_ros.detect.__main__ import main
from lgd_ros.detect.preview import rough_body_placement, solve_translation

K = np.array([[600.0, 0.0, 319.5], [0.0, 610.0, 239.5], [0.0, 0.0, 1.0]])


def test_translation_is_recovered_exactly_from_clean_keypoints() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 0.4, (12, 3))
    transl = np.array([0.3, -0.2, 4.0])
    pixels = project_points(torch.from_numpy(points + transl)[None], torch.from_numpy(K))[0]
    weights = rng.uniform(0.2, 1.0, 12)
    weights[:4] = 0.0  # ignored points must not matter ...
    pixels[:4] += 500.0  # ... even when they are far off
    solved = solve_translation(points, pixels.numpy(), weights, K)
    np.testing.assert_allclose(solved, transl, atol=1e-9)


def test_translation_needs_two_points() -> None:
    with pytest.raises(DetectError, match="at least 2"):
        solve_translation(np.zeros((3, 3)), np.zeros((3, 2)), np.array([1.0, 0.0, 0.0]), K)


@pytest.fixture(scope="module")
def body_model() -> BodyModel:
    return BodyModel.load()


def test_rough_placement_puts_the_body_on_the_astronaut(
    body_model: BodyModel, detector: BlazePoseDetector, astronaut: np.ndarray
) -> None:
    (person,) = detector.detect(astronaut)
    intrinsics = np.array([[703.0, 0.0, 255.5], [0.0, 703.0, 255.5], [0.0, 0.0, 1.0]])
    placed = rough_body_placement(body_model, person, intrinsics)
    assert placed.vertices.shape == (body_model.num_vertices, 3)
    assert placed.faces.shape[1] == 3
    assert 0.5 < placed.transl[2] < 5.0  # in front of the camera, at portrait distance
    assert placed.mean_error_px < 20.0  # face and shoulders of a 512 px portrait
    head = project_points(torch.from_numpy(placed.vertices)[None],
                          torch.from_numpy(intrinsics))[0].numpy()
    top = head[:, 1].min()
    assert 0 < top < 100  # the mesh's head top is near hers (~15 px), not off the picture


def test_cli_writes_an_overlay(tmp_path: Path, astronaut: np.ndarray) -> None:
    import cv2

    out = tmp_path / "pictures" / "astronaut.png"
    assert main(["--sample", "astronaut", "--mesh", "none", "--out", str(out)]) == 0
    written = cv2.imread(str(out))
    assert written is not None
    picture = written[:, :, ::-1]
    assert picture.shape == astronaut.shape
    changed = np.abs(picture.astype(int) - astronaut.astype(int)).sum(axis=2) > 30
    assert 50 < changed.sum() < 0.2 * changed.size  # keypoints drawn, the photo still there


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sample", "lena", "--out", str(tmp_path / "x.png")]) == 2
    assert "--sample must be" in capsys.readouterr().err
    assert main(["--image", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "x.png")]) == 2
    assert "cannot read image" in capsys.readouterr().err
