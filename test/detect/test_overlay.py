"""Overlay rendering: meshes land where the camera sees them, shaded, depth-ordered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgd_ros.detect import (
    PALETTE_RGB,
    Detection,
    OverlayInputError,
    OverlayPerson,
    OverlayStyle,
    draw_mesh,
    draw_skeleton,
    render_overlay,
    track_color,
)

WIDTH, HEIGHT, FOCAL = 320, 240, 300.0
K = np.array([[FOCAL, 0.0, (WIDTH - 1) / 2], [0.0, FOCAL, (HEIGHT - 1) / 2], [0.0, 0.0, 1.0]])
OPAQUE = OverlayStyle(mesh_alpha=1.0)


def uv_sphere(radius: float, center: tuple[float, float, float],
              rings: int = 24, segments: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangle mesh of a sphere: ``([V, 3] vertices, [F, 3] faces)``."""
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]  # without the poles
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring_points = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1)
    points = np.concatenate([[[0, 1, 0]], ring_points.reshape(-1, 3), [[0, -1, 0]]])
    vertices = radius * points + np.asarray(center)
    faces = []
    last = len(points) - 1

    def ring(i: int, j: int) -> int:
        return 1 + i * segments + j % segments

    for j in range(segments):
        faces.append((0, ring(0, j), ring(0, j + 1)))
        faces.append((last, ring(rings - 2, j + 1), ring(rings - 2, j)))
        for i in range(rings - 2):
            faces.append((ring(i, j), ring(i + 1, j), ring(i + 1, j + 1)))
            faces.append((ring(i, j), ring(i + 1, j + 1), ring(i, j + 1)))
    return vertices, np.asarray(faces, dtype=np.int64)


def _project(point: tuple[float, float, float]) -> tuple[int, int]:
    u = FOCAL * point[0] / point[2] + K[0, 2]
    v = FOCAL * point[1] / point[2] + K[1, 2]
    return round(v), round(u)  # row, column


@pytest.fixture()
def background() -> np.ndarray:
    return np.zeros((HEIGHT, WIDTH, 3), np.uint8)


def test_sphere_is_drawn_where_it_projects_and_nowhere_else(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.3, -0.2, 3.0))
    out = draw_mesh(background, vertices, faces, K, color=(0, 200, 0), style=OPAQUE)
    row, col = _project((0.3, -0.2, 3.0))
    # Projected radius of a sphere: f r / sqrt(d^2 - r^2) ~ 50 px here.
    assert out[row, col].sum() > 0 and out[row, col, 1] > 150
    assert out[row, col + 40].sum() > 0 and out[row + 40, col].sum() > 0
    assert out[row, col + 60].sum() == 0 and out[row - 60, col].sum() == 0
    assert out[5, 5].sum() == 0
    assert background.sum() == 0  # input untouched


def test_headlight_shading_is_brightest_facing_the_camera(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.0, 0.0, 3.0), rings=48, segments=64)
    out = draw_mesh(background, vertices, faces, K, color=(0, 0, 250), style=OPAQUE)
    row, col = _project((0.0, 0.0, 3.0))
    centre, near_rim = int(out[row, col, 2]), int(out[row, col + 47, 2])
    assert centre > 220
    assert 0 < near_rim < centre - 60
    assert out[row, col, 0] == out[row, col, 1] == 0  # colour kept, only its brightness changes


def test_nearer_person_hides_farther_person_whatever_the_order(background: np.ndarray) -> None:
    far = uv_sphere(0.5, (0.0, 0.0, 4.0))
    near = uv_sphere(0.3, (0.15, 0.0, 2.5))
    people = [OverlayPerson(vertices=far[0], faces=far[1], track_id=0),
              OverlayPerson(vertices=near[0], faces=near[1], track_id=3)]
    row, col = _project((0.15, 0.0, 2.5))
    for ordering in (people, people[::-1]):
        out = render_overlay(background, ordering, intrinsics=K, style=OPAQUE)
        pixel = out[row, col].astype(int)
        assert np.argmax(pixel) == int(np.argmax(PALETTE_RGB[3]))  # red, the near one
        far_only = out[_project((-0.3, 0.0, 4.0))].astype(int)
        assert np.argmax(far_only) == int(np.argmax(PALETTE_RGB[0]))  # blue, the far one


def test_face_winding_does_not_matter(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.0, 0.1, 3.0))
    outward = draw_mesh(background, vertices, faces, K, style=OPAQUE)
    inward = draw_mesh(background, vertices, faces[:, ::-1], K, style=OPAQUE)
    assert np.abs(outward.astype(int) - inward.astype(int)).max() <= 1


def test_mesh_behind_the_camera_draws_nothing(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.0, 0.0, -3.0))
    assert draw_mesh(background, vertices, faces, K).sum() == 0


def test_alpha_blends_with_the_image() -> None:
    grey = np.full((HEIGHT, WIDTH, 3), 100, np.uint8)
    vertices, faces = uv_sphere(0.5, (0.0, 0.0, 3.0))
    out = draw_mesh(grey, vertices, faces, K, color=(255, 255, 255),
                    style=OverlayStyle(mesh_alpha=0.5, ambient=1.0))
    row, col = _project((0.0, 0.0, 3.0))
    assert abs(int(out[row, col, 0]) - round(0.5 * 100 + 0.5 * 255)) <= 1


def test_torch_inputs_are_accepted(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.0, 0.0, 3.0))
    from_numpy = draw_mesh(background, vertices, faces, K)
    from_torch = draw_mesh(background, torch.from_numpy(vertices).float().requires_grad_(),
                           torch.from_numpy(faces), torch.from_numpy(K))
    assert np.abs(from_numpy.astype(int) - from_torch.astype(int)).max() <= 2


@pytest.mark.parametrize(
    ("vertices", "faces", "intrinsics", "message"),
    [
        (np.zeros((4, 2)), np.zeros((1, 3), int), K, r"vertices must have shape \[V, 3\]"),
        (np.zeros((4, 3)), np.array([[0, 1, 7]]), K, "only 4 vertices"),
        (np.zeros((4, 3)), np.zeros((1, 3)), K, "integer array"),
        (np.zeros((4, 3)), np.zeros((1, 3), int), np.eye(2), r"\[3, 3\]"),
        (np.zeros((4, 3)), np.zeros((1, 3), int), np.diag([0.0, 300.0, 1.0]), "focal"),
    ],
)
def test_bad_mesh_inputs_are_refused(background: np.ndarray, vertices: np.ndarray,
                                     faces: np.ndarray, intrinsics: np.ndarray,
                                     message: str) -> None:
    with pytest.raises(OverlayInputError, match=message):
        draw_mesh(background, vertices, faces, intrinsics)


def test_mesh_without_intrinsics_is_refused(background: np.ndarray) -> None:
    vertices, faces = uv_sphere(0.5, (0.0, 0.0, 3.0))
    with pytest.raises(OverlayInputError, match="intrinsics"):
        render_overlay(background, [OverlayPerson(vertices=vertices, faces=faces)])


def test_skeleton_draws_confident_keypoints_and_their_bones(background: np.ndarray) -> None:
    keypoints = np.array([[50.0, 50.0], [150.0, 50.0], [250.0, 200.0]])
    confidence = np.array([0.9, 0.8, 0.1])
    out = draw_skeleton(background, keypoints, confidence, edges=[(0, 1), (1, 2)],
                        color=(255, 0, 0), style=OverlayStyle(keypoint_radius=4))
    assert tuple(out[50, 50]) == (255, 0, 0) and tuple(out[50, 150]) == (255, 0, 0)
    assert out[50, 100, 0] > 200  # the bone between the two confident keypoints
    assert out[200, 250].sum() == 0  # the unconfident keypoint ...
    assert out[125, 200].sum() == 0  # ... and its bone are not drawn
    assert out[50, 55].min() > 200  # white rim around the keypoint


def test_skeleton_inputs_are_checked(background: np.ndarray) -> None:
    with pytest.raises(OverlayInputError, match=r"\[J, 2\]"):
        draw_skeleton(background, np.zeros((5, 3)))
    with pytest.raises(OverlayInputError, match=r"shape \[5\]"):
        draw_skeleton(background, np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(OverlayInputError, match="outside 0..4"):
        draw_skeleton(background, np.zeros((5, 2)), edges=[(0, 5)])


def test_far_off_keypoints_do_not_break_drawing(background: np.ndarray) -> None:
    out = draw_skeleton(background, np.array([[1e12, -1e12], [10.0, 10.0]]), edges=[(0, 1)])
    assert out[10, 10].sum() > 0


def test_track_colours_are_stable_and_distinct() -> None:
    assert track_color(None) == track_color(0) == PALETTE_RGB[0]
    assert track_color(7) == track_color(7 + len(PALETTE_RGB))
    assert len(set(PALETTE_RGB)) == len(PALETTE_RGB)


def test_overlay_person_from_detection_uses_the_format_bones() -> None:
    detection = Detection(np.zeros((33, 2)), np.ones(33), "blazepose33", np.zeros(4), 1.0)
    person = OverlayPerson.from_detection(detection, track_id=2)
    assert (11, 12) in person.skeleton_edges and person.track_id == 2
    with pytest.raises(OverlayInputError, match="unknown keypoint format"):
        OverlayPerson.from_detection(
            Detection(np.zeros((3, 2)), np.ones(3), "mystery3", np.zeros(4), 1.0))
