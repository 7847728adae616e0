#!/usr/bin/env python3
"""Render a body model (T-pose, a few poses, a betas sweep) to a PNG, e.g. for the README.

Uses only matplotlib: triangles are projected orthographically, sorted back to front
(painter's algorithm) and drawn flat-shaded. Keypoints of a format can be overlaid on the
T-pose panel.

    python tools/render_body_model.py                       # default model -> docs/images
    python tools/render_body_model.py --model SMPL_NEUTRAL.pkl --output /tmp/smpl.png
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lgd_ros.body import BodyModel, get_keypoint_format
from lgd_ros.body.skeleton import NUM_BETAS, POSE_DIM, joint_index


def _pose(**joint_rotations: tuple[float, float, float]) -> np.ndarray:
    """A 72-dim pose from ``joint_name=(ax, ay, az)`` axis-angle entries (SMPL frame)."""
    pose = np.zeros(POSE_DIM)
    for name, rotation in joint_rotations.items():
        index = joint_index(name)
        pose[3 * index:3 * index + 3] = rotation
    return pose


# SMPL frame: x = body's left, y up, z front. Rotating the left arm about -z lowers it.
POSES: dict[str, np.ndarray] = {
    "T-pose (zero pose)": np.zeros(POSE_DIM),
    "relaxed": _pose(left_shoulder=(0, 0, -1.25), right_shoulder=(0, 0, 1.25),
                     left_elbow=(0, -0.3, 0), right_elbow=(0, 0.3, 0)),
    "walking": _pose(left_hip=(-0.5, 0, 0), right_hip=(0.35, 0, 0), left_knee=(0.25, 0, 0),
                     right_knee=(0.6, 0, 0), left_shoulder=(0.35, 0, -1.3),
                     right_shoulder=(-0.45, 0, 1.3), left_elbow=(0, -0.5, 0),
                     right_elbow=(0, 0.3, 0), spine2=(0, 0.15, 0)),
    "waving": _pose(right_shoulder=(0, 0, -0.3), right_elbow=(0, 0, -1.9),
                    left_shoulder=(0, 0, -1.2), left_hip=(0, 0, 0.15),
                    right_hip=(0, 0, -0.1), head=(0.15, -0.2, 0), neck=(0.1, 0, 0)),
    "sitting": _pose(left_hip=(-1.5, 0, 0.1), right_hip=(-1.5, 0, -0.1), left_knee=(1.5, 0, 0),
                     right_knee=(1.5, 0, 0), left_shoulder=(0, 0, -1.2),
                     right_shoulder=(0, 0, 1.2), left_elbow=(0, -1.0, 0),
                     right_elbow=(0, 1.0, 0)),
}
BETA_SWEEP = ((0, -2.0), (0, 2.0), (1, -2.0), (1, 2.0), (2, -2.0), (2, 2.0))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="model file (.pkl/.npz); default: the open default model")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs/images/body_model.png")
    parser.add_argument("--keypoints", default="coco17",
                        help="keypoint format drawn on the T-pose panel ('' for none)")
    parser.add_argument("--yaw", type=float, default=25.0,
                        help="view rotation about the vertical axis, degrees")
    parser.add_argument("--dpi", type=int, default=110)
    return parser.parse_args(argv)


def _view_rotation(yaw_deg: float) -> np.ndarray:
    yaw = math.radians(yaw_deg)
    return np.array([[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0],
                     [-math.sin(yaw), 0.0, math.cos(yaw)]])


def draw_mesh(axis: object, vertices: np.ndarray, faces: np.ndarray, color: np.ndarray) -> None:
    """Flat-shaded orthographic drawing (viewer on +z, y up) of one mesh on a matplotlib axis."""
    from matplotlib.collections import PolyCollection

    triangles = vertices[faces]  # [F, 3, 3]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    light = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])
    shade = 0.25 + 0.75 * np.abs(normals @ light)
    order = np.argsort(triangles[:, :, 2].mean(axis=1))  # far (small z) first
    colors = np.clip(color[None, :] * shade[order, None], 0, 1)
    collection = PolyCollection(triangles[order][:, :, :2], facecolors=colors,
                                edgecolors=colors, linewidths=0.1)
    axis.add_collection(collection)  # type: ignore[attr-defined]


def render(model: BodyModel, output: Path, keypoint_format: str, yaw: float, dpi: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rotation = _view_rotation(yaw)
    faces = model.faces.cpu().numpy()
    panels: list[tuple[str, np.ndarray, np.ndarray]] = [
        (title, pose, np.zeros(NUM_BETAS)) for title, pose in POSES.items()
    ]
    for component, value in BETA_SWEEP:
        sweep = np.zeros(NUM_BETAS)
        sweep[component] = value
        panels.append((f"beta[{component}] = {value:+.0f}", np.zeros(POSE_DIM), sweep))
    pose = torch.as_tensor(np.stack([p[1] for p in panels]), dtype=model.dtype)
    betas = torch.as_tensor(np.stack([p[2] for p in panels]), dtype=model.dtype)
    transl = torch.zeros(len(panels), 3, dtype=model.dtype)
    with torch.no_grad():
        output_mesh = model(pose, betas, transl)
        keypoints = None
        if keypoint_format:
            layer = model.keypoint_layer(keypoint_format)
            keypoints = layer(pose[:1], betas[:1], transl[:1]).keypoints[0].numpy()
    vertices = output_mesh.vertices.numpy() @ rotation.T

    columns = 6
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 3.4 * rows))
    low = vertices[..., :2].min(axis=(0, 1)) - 0.05
    high = vertices[..., :2].max(axis=(0, 1)) + 0.05
    for index, axis in enumerate(np.ravel(axes)):
        axis.set_axis_off()
        if index >= len(panels):
            continue
        title = panels[index][0]
        color = np.array([0.62, 0.72, 0.86]) if index < len(POSES) else np.array(
            [0.86, 0.70, 0.58])
        draw_mesh(axis, vertices[index], faces, color)
        if index == 0 and keypoints is not None:
            fmt = get_keypoint_format(keypoint_format)
            points = keypoints @ rotation.T
            for a, b in fmt.skeleton_edges:
                axis.plot(points[[a, b], 0], points[[a, b], 1], color="#d62728", lw=0.8)
            axis.scatter(points[:, 0], points[:, 1], s=4, color="#d62728", zorder=3)
            title += f"\n+ {keypoint_format} keypoints"
        axis.set_title(title, fontsize=8)
        axis.set_xlim(low[0], high[0])
        axis.set_ylim(low[1], high[1])
        axis.set_aspect("equal")
    figure.suptitle(f"{model.name}: {model.num_vertices} vertices, {faces.shape[0]} triangles",
                    fontsize=10)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=dpi)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = BodyModel.load(args.model, dtype=torch.float64)
    render(model, args.output, args.keypoints, args.yaw, args.dpi)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
