"""Render a contact sheet of random pose-corpus poses on the default body model.

Usage::

    python tools/render_pose_corpus.py [--corpus PATH] [--count 24] [--seed 0]
                                       [--output docs/images/pose_corpus.png]

Each panel shows one pose (mean shape) from a three-quarter front view, shaded flat, with the
clip it comes from; panels of validation clips have a grey background. Used for
``docs/pose_corpus.md``: a quick visual check that retargeted poses look like people
(knees bend forwards, arms hang when they should).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection

from lgd_ros.body import BodyModel
from lgd_ros.data import load_pose_corpus

REPO = Path(__file__).resolve().parents[1]

SOURCE_COLOURS = {
    "cmu": (0.35, 0.55, 0.85),
    "deepmimic": (0.85, 0.55, 0.3),
    "assimp": (0.55, 0.4, 0.75),
    "cmu_dm_control": (0.2, 0.65, 0.7),
    "amass": (0.4, 0.7, 0.4),
}
VIEW_YAW_DEG = 30.0  # turn the body a little so depth reads in a flat rendering


def _view_rotation() -> np.ndarray:
    """World -> view: yaw about y, so the camera looks at the body's front-left side."""
    a = math.radians(VIEW_YAW_DEG)
    return np.array(
        [[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]]
    )


def draw_body(
    ax: Axes, vertices: np.ndarray, faces: np.ndarray, colour: tuple[float, float, float]
) -> None:
    """Flat-shaded orthographic drawing, painter's algorithm (far faces first)."""
    view = vertices @ _view_rotation().T
    tri = view[faces]  # [F, 3, 3]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    facing = normals[:, 2] > 0  # towards the viewer at +z
    light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
    order = np.argsort(tri[:, :, 2].mean(axis=1))
    order = order[facing[order]]
    colours = np.clip(np.outer(shade[order], colour), 0.0, 1.0)
    ax.add_collection(
        PolyCollection(
            tri[order][:, :, :2], facecolors=colours, edgecolors=colours, linewidths=0.15
        )
    )
    lo, hi = view[:, :2].min(axis=0), view[:, :2].max(axis=0)
    centre, half = (lo + hi) / 2, max(hi - lo) / 2 * 1.05
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="corpus file (default: shipped)")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "images" / "pose_corpus.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    plt.switch_backend("Agg")  # files only, no display

    corpus = load_pose_corpus(args.corpus)
    model = BodyModel.load()
    generator = torch.Generator().manual_seed(args.seed)
    picks = torch.randperm(corpus.num_poses, generator=generator)[: args.count]
    poses = corpus.poses[picks]
    zeros = torch.zeros(len(picks), 10)
    with torch.no_grad():
        vertices = model(poses, zeros, torch.zeros(len(picks), 3)).vertices.numpy()
    faces = model.faces.numpy()

    rows = math.ceil(len(picks) / args.columns)
    fig, axes = plt.subplots(rows, args.columns, figsize=(1.6 * args.columns, 2.0 * rows))
    for ax in np.atleast_1d(axes).ravel()[len(picks) :]:
        ax.axis("off")
    for ax, index, verts in zip(
        np.atleast_1d(axes).ravel(), picks.tolist(), vertices, strict=False
    ):
        clip = corpus.clips[int(corpus.clip_index[index])]
        draw_body(ax, verts, faces, SOURCE_COLOURS.get(clip.source, (0.6, 0.6, 0.6)))
        if clip.split == "val":
            ax.set_facecolor((0.9, 0.9, 0.9))
        name = clip.clip_id.split("/", 1)[-1].replace("humanoid3d_", "").replace("~mirror", " (m)")
        ax.set_title(f"{clip.source}: {name}", fontsize=6)
    fig.suptitle(
        f"{corpus.version}: {len(picks)} random poses of {corpus.num_poses} "
        "(blue CMU, teal CMU via dm_control, orange DeepMimic, purple boxing; grey = validation clip; "
        "(m) = mirrored)",
        fontsize=8,
    )
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
