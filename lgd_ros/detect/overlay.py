"""Pictures people can look at: fitted meshes and keypoints drawn over the camera image.

Used by the demo, the docs and the node's debug image topic, so it stays light: numpy and
OpenCV for drawing, and the project's single projection module
(:func:`lgd_ros.body.camera.project_points`) for the camera model; no OpenGL, no display.

Meshes are shaded with a *headlight* (light at the camera: Lambert's cosine between each
triangle's normal and the ray from the camera) and drawn with the painter's algorithm:
triangles facing away are culled, the rest are filled far to near with
``cv2.fillConvexPoly``. For one closed body mesh seen from outside this is visually exact;
where two bodies interpenetrate it can misorder single triangles. Every person gets a colour
from a fixed palette chosen by track id, so the same person keeps the same colour across
frames and pictures.

All images are ``[H, W, 3]`` uint8 **RGB**; inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from lgd_ros.detect.errors import OverlayInputError
from lgd_ros.detect.types import Detection, check_image

if TYPE_CHECKING:
    import torch

    ArrayOrTensor: TypeAlias = np.ndarray | torch.Tensor

__all__ = [
    "PALETTE_RGB",
    "OverlayPerson",
    "OverlayStyle",
    "draw_mesh",
    "draw_skeleton",
    "render_overlay",
    "skeleton_edges_for_format",
    "track_color",
]

PALETTE_RGB: tuple[tuple[int, int, int], ...] = (
    (66, 135, 245),   # blue
    (245, 130, 48),   # orange
    (60, 180, 75),    # green
    (230, 25, 75),    # red
    (145, 30, 180),   # purple
    (70, 240, 240),   # cyan
    (240, 50, 230),   # magenta
    (210, 245, 60),   # lime
    (250, 190, 212),  # pink
    (170, 110, 40),   # brown
)
"""Per-person colours, distinct from each other and from skin and sky tones."""

_SUBPIXEL_BITS = 4  # cv2 drawing with fractional coordinates: points scaled by 2**4
_NEAR_PLANE_M = 0.05  # triangles closer than this to the camera are not drawn


@dataclass(frozen=True)
class OverlayStyle:
    """How overlays look.

    Attributes:
        mesh_alpha: opacity of the mesh over the image (0 = invisible, 1 = opaque).
        ambient: share of the light that does not depend on the surface angle; the rest is
            Lambertian from the camera.
        min_confidence: keypoints below this confidence are not drawn (nor their bones).
        keypoint_radius: circle radius in pixels; None scales it with the image size.
        line_thickness: bone width in pixels; None scales it with the image size.
    """

    mesh_alpha: float = 0.6
    ambient: float = 0.35
    min_confidence: float = 0.3
    keypoint_radius: int | None = None
    line_thickness: int | None = None

    def __post_init__(self) -> None:
        for name in ("mesh_alpha", "ambient", "min_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise OverlayInputError(f"OverlayStyle.{name} must be in [0, 1], got {value}")
        for name in ("keypoint_radius", "line_thickness"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise OverlayInputError(f"OverlayStyle.{name} must be >= 1 or None, got {value}")


@dataclass(frozen=True)
class OverlayPerson:
    """What to draw for one person; every part is optional.

    Attributes:
        vertices: ``[V, 3]`` mesh vertices in the camera optical frame, metres.
        faces: ``[F, 3]`` vertex indices of the mesh triangles.
        keypoints_px: ``[J, 2]`` pixel positions to mark.
        confidence: ``[J]`` confidences (None: draw all keypoints).
        skeleton_edges: keypoint index pairs to join with lines.
        track_id: chooses the colour (None: the first palette colour).
    """

    vertices: ArrayOrTensor | None = None
    faces: ArrayOrTensor | None = None
    keypoints_px: np.ndarray | None = None
    confidence: np.ndarray | None = None
    skeleton_edges: Sequence[tuple[int, int]] = field(default_factory=tuple)
    track_id: int | None = None

    @classmethod
    def from_detection(cls, detection: Detection, *, track_id: int | None = None,
                       with_skeleton: bool = True) -> OverlayPerson:
        """Keypoints of a :class:`Detection`, with its format's bones when known."""
        edges = skeleton_edges_for_format(detection.format) if with_skeleton else ()
        return cls(keypoints_px=detection.keypoints_px, confidence=detection.confidence,
                   skeleton_edges=edges, track_id=track_id)


def track_color(track_id: int | None) -> tuple[int, int, int]:
    """The RGB colour of a person: stable for a given track id (cycling through the palette)."""
    if track_id is None:
        return PALETTE_RGB[0]
    return PALETTE_RGB[int(track_id) % len(PALETTE_RGB)]


def skeleton_edges_for_format(format_name: str) -> tuple[tuple[int, int], ...]:
    """Bones of a keypoint format, from :mod:`lgd_ros.body`'s format registry.

    Raises:
        OverlayInputError: unknown format name.
    """
    from lgd_ros.body.errors import KeypointFormatError
    from lgd_ros.body.formats import get_keypoint_format

    try:
        return tuple(get_keypoint_format(format_name).skeleton_edges)
    except KeypointFormatError as error:
        raise OverlayInputError(str(error)) from error


def render_overlay(
    image: np.ndarray,
    people: Sequence[OverlayPerson],
    *,
    intrinsics: ArrayOrTensor | None = None,
    style: OverlayStyle | None = None,
) -> np.ndarray:
    """Draw every person's mesh (depth-ordered across people), then keypoints on top.

    Args:
        image: ``[H, W, 3]`` uint8 RGB background (not modified).
        people: what to draw per person.
        intrinsics: ``[3, 3]`` camera matrix ``K`` in pixels; required when a mesh is given.
        style: colours and sizes (defaults: :class:`OverlayStyle`).

    Returns:
        A new ``[H, W, 3]`` uint8 RGB image.
    """
    style = style if style is not None else OverlayStyle()
    canvas = check_image(image).copy()
    meshes = [p for p in people if p.vertices is not None or p.faces is not None]
    if meshes:
        if intrinsics is None:
            raise OverlayInputError("intrinsics ([3, 3] camera matrix) are needed to draw meshes")
        canvas = _draw_meshes(
            canvas,
            [(_check_vertices(p.vertices), _check_faces(p.faces, p.vertices), track_color(
                p.track_id)) for p in meshes],
            _check_intrinsics(intrinsics),
            style,
        )
    for person in people:
        if person.keypoints_px is not None:
            canvas = draw_skeleton(canvas, person.keypoints_px, person.confidence,
                                   edges=person.skeleton_edges,
                                   color=track_color(person.track_id), style=style)
    return canvas


def draw_mesh(
    image: np.ndarray,
    vertices: ArrayOrTensor,
    faces: ArrayOrTensor,
    intrinsics: ArrayOrTensor,
    *,
    color: tuple[int, int, int] = PALETTE_RGB[0],
    style: OverlayStyle | None = None,
) -> np.ndarray:
    """One shaded mesh over ``image``; see :func:`render_overlay` for the arguments."""
    style = style if style is not None else OverlayStyle()
    canvas = check_image(image).copy()
    return _draw_meshes(canvas,
                        [(_check_vertices(vertices), _check_faces(faces, vertices), color)],
                        _check_intrinsics(intrinsics), style)


def draw_skeleton(
    image: np.ndarray,
    keypoints_px: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    edges: Sequence[tuple[int, int]] = (),
    color: tuple[int, int, int] = PALETTE_RGB[0],
    style: OverlayStyle | None = None,
) -> np.ndarray:
    """Keypoints as filled circles (white rim) and bones as lines, over a copy of ``image``.

    Keypoints below ``style.min_confidence`` and bones touching them are left out, so a
    picture never shows a detector's guess for a hidden limb as if it were seen.
    """
    import cv2

    style = style if style is not None else OverlayStyle()
    canvas = check_image(image).copy()
    points = np.asarray(keypoints_px, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise OverlayInputError(f"keypoints_px must have shape [J, 2], got {points.shape}")
    num = points.shape[0]
    finite = np.asarray(np.isfinite(points).all(axis=1), dtype=bool)  # [J]
    if confidence is None:
        shown = finite
    else:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != (num,):
            raise OverlayInputError(
                f"confidence must have shape [{num}] (one per keypoint), got {conf.shape}"
            )
        shown = (conf >= style.min_confidence) & finite
    for a, b in edges:
        if not (0 <= a < num and 0 <= b < num):
            raise OverlayInputError(
                f"skeleton edge ({a}, {b}) refers to a keypoint outside 0..{num - 1}"
            )
    height, width = canvas.shape[:2]
    scale = max(height, width) / 640.0
    radius = style.keypoint_radius or max(2, round(3 * scale))
    thickness = style.line_thickness or max(1, round(2 * scale))
    fixed = np.round(points * (1 << _SUBPIXEL_BITS)).astype(np.int64)
    # Far-off guesses would overflow OpenCV's int coordinates; they are off-image anyway.
    fixed = np.clip(fixed, -(1 << 24), 1 << 24)
    rgb = tuple(int(c) for c in color)  # the canvas is RGB, so colours are given as RGB
    for a, b in edges:
        if shown[a] and shown[b]:
            cv2.line(canvas, tuple(int(v) for v in fixed[a]), tuple(int(v) for v in fixed[b]),
                     rgb, thickness, cv2.LINE_AA, _SUBPIXEL_BITS)
    for index in np.flatnonzero(shown):
        center = tuple(int(v) for v in fixed[index])
        cv2.circle(canvas, center, (radius + 1) << _SUBPIXEL_BITS, (255, 255, 255), -1,
                   cv2.LINE_AA, _SUBPIXEL_BITS)
        cv2.circle(canvas, center, radius << _SUBPIXEL_BITS, rgb, -1, cv2.LINE_AA,
                   _SUBPIXEL_BITS)
    return canvas


# -- internals ------------------------------------------------------------------------------


def _draw_meshes(
    canvas: np.ndarray,
    meshes: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]],
    intrinsics: np.ndarray,
    style: OverlayStyle,
) -> np.ndarray:
    """Painter's algorithm over the triangles of all meshes at once (far to near)."""
    import cv2

    corners_px: list[np.ndarray] = []  # [F_i, 3, 2]
    depths: list[np.ndarray] = []  # [F_i]
    colors: list[np.ndarray] = []  # [F_i, 3]
    for vertices, faces, color in meshes:
        tri = vertices[faces]  # [F, 3 corners, 3 xyz], camera frame
        in_front = (tri[:, :, 2] > _NEAR_PLANE_M).all(axis=1)
        # n = (v1 - v0) x (v2 - v0); its sign convention depends on the mesh's winding, which
        # the signed volume tells: sum over triangles of v0 . (v1 x v2) is positive for
        # outward-facing normals (in any right-handed frame, such as the camera optical frame).
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        signed_volume = float(np.einsum("fi,fi->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])))
        outward = normals if signed_volume >= 0 else -normals
        centroids = tri.mean(axis=1)
        # A triangle faces the camera (at the origin) when its outward normal points back
        # along the viewing ray: n . c < 0.
        facing = np.einsum("fi,fi->f", outward, centroids) < 0
        keep = in_front & facing
        if not keep.any():
            continue
        tri, outward, centroids = tri[keep], outward[keep], centroids[keep]
        # Lambert with the light at the camera: cos = -n . c / (|n| |c|).
        cosine = -np.einsum("fi,fi->f", outward, centroids) / (
            np.linalg.norm(outward, axis=1) * np.linalg.norm(centroids, axis=1) + 1e-12
        )
        shade = style.ambient + (1.0 - style.ambient) * np.clip(cosine, 0.0, 1.0)  # [F]
        colors.append(shade[:, None] * np.asarray(color, dtype=np.float64)[None, :])
        corners_px.append(_project(tri.reshape(-1, 3), intrinsics).reshape(-1, 3, 2))
        depths.append(centroids[:, 2])
    if not depths:
        return canvas

    all_corners = np.concatenate(corners_px)
    all_colors = np.clip(np.concatenate(colors), 0, 255).round().astype(np.uint8)
    order = np.argsort(-np.concatenate(depths), kind="stable")  # far first
    height, width = canvas.shape[:2]
    # Triangles wholly outside the image cannot change a pixel: skip them before the loop.
    low, high = all_corners.min(axis=1), all_corners.max(axis=1)  # [F, 2]
    visible = (high[:, 0] >= -1) & (high[:, 1] >= -1) & (low[:, 0] <= width) & (
        low[:, 1] <= height)
    order = order[visible[order]]
    fixed = np.clip(np.round(all_corners * (1 << _SUBPIXEL_BITS)), -(1 << 24), 1 << 24).astype(
        np.int32)

    # RGB + coverage in one 4-channel layer: one OpenCV call per triangle (the loop is the
    # cost: ~2.5 us per call, ~13k front-facing triangles per body).
    layer = np.zeros((height, width, 4), np.uint8)
    colors_with_coverage = [(int(c[0]), int(c[1]), int(c[2]), 255) for c in all_colors[order]]
    for triangle, rgba in zip(fixed[order], colors_with_coverage, strict=True):
        cv2.fillConvexPoly(layer, triangle, rgba, cv2.LINE_8, _SUBPIXEL_BITS)
    alpha = (layer[:, :, 3:].astype(np.float32) / 255.0) * style.mesh_alpha
    blended = canvas.astype(np.float32) * (1.0 - alpha) + layer[:, :, :3].astype(
        np.float32) * alpha
    return np.clip(blended.round(), 0, 255).astype(np.uint8)


def _project(points_cam: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """``[N, 3]`` camera-frame points -> ``[N, 2]`` pixels with the project's pinhole model."""
    import torch

    from lgd_ros.body.camera import project_points

    projected = project_points(torch.from_numpy(points_cam[None].astype(np.float64)),
                               torch.from_numpy(intrinsics.astype(np.float64)))
    return projected[0].numpy()


def _to_numpy(value: object, name: str) -> np.ndarray:
    if value is None:
        raise OverlayInputError(f"{name} is missing (a mesh needs both vertices and faces)")
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        value = value.detach().cpu().numpy()  # type: ignore[union-attr]
    return np.asarray(value)


def _check_vertices(vertices: object) -> np.ndarray:
    array = _to_numpy(vertices, "vertices")
    if array.ndim != 2 or array.shape[1] != 3:
        raise OverlayInputError(
            f"vertices must have shape [V, 3] (camera frame, metres), got {array.shape}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise OverlayInputError("vertices contain NaN or inf")
    return array


def _check_faces(faces: object, vertices: object) -> np.ndarray:
    array = _to_numpy(faces, "faces")
    if array.ndim != 2 or array.shape[1] != 3 or not np.issubdtype(array.dtype, np.integer):
        raise OverlayInputError(
            f"faces must be an integer array of shape [F, 3], got {array.shape} {array.dtype}"
        )
    num_vertices = _to_numpy(vertices, "vertices").shape[0]
    if array.size and (array.min() < 0 or array.max() >= num_vertices):
        raise OverlayInputError(
            f"faces index vertices {array.min()}..{array.max()}, but there are only "
            f"{num_vertices} vertices"
        )
    return array.astype(np.int64)


def _check_intrinsics(intrinsics: object) -> np.ndarray:
    import torch

    from lgd_ros.body.camera import check_intrinsics
    from lgd_ros.body.errors import IntrinsicsError

    array = _to_numpy(intrinsics, "intrinsics").astype(np.float64)
    if array.shape != (3, 3):
        raise OverlayInputError(f"intrinsics must be a [3, 3] camera matrix, got {array.shape}")
    try:
        check_intrinsics(torch.from_numpy(array))
    except IntrinsicsError as error:
        raise OverlayInputError(f"overlay intrinsics: {error}") from error
    return array
