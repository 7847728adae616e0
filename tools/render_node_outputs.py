#!/usr/bin/env python3
"""Render what RViz shows of the fitting node's outputs, to a PNG for the README.

Runs the node's pipeline (tracking + shipped weights + open body model) on a
synthetic scene of people replaying held-out MoCap clips, then draws, in the
camera optical frame, exactly the marker and TF data the node publishes: the
decimated mesh per track (TRIANGLE_LIST), the skeleton (LINE_LIST) and the
REP-155 joint frames (axes), next to the input keypoints in the image.

    python tools/render_node_outputs.py --out docs/images/node_outputs.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from lgd_ros.tracking.body_frames import (
    body_frame_transforms,
    decimate_mesh,
    skeleton_segments,
    track_colour,
)
from lgd_ros.tracking.observations import CameraModel
from lgd_ros.tracking.pipeline import BodyFittingPipeline, PipelineConfig
from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/node_outputs.png"))
    parser.add_argument("--frames", type=int, default=20, help="frames of the scene to track first")
    args = parser.parse_args(argv)

    k = default_intrinsics()
    scene = walking_scene([WalkingPerson(-0.9, 3.2, 0.4, 0, 1), WalkingPerson(0.8, 4.2, -0.3, 11, 2)],
                          frames=args.frames, noise_px=1.0)
    pipeline = BodyFittingPipeline(PipelineConfig(device="cpu"))
    camera = CameraModel(k)
    for frame in scene:
        result = pipeline.process(frame.stamp, frame.people, camera)
    model = pipeline.body_model
    zeros = torch.zeros
    rest = model(zeros(1, 72), zeros(1, 10), zeros(1, 3)).vertices[0].numpy()
    representatives, faces = decimate_mesh(rest, model.faces.numpy(), 0.03)

    figure = plt.figure(figsize=(13, 6))
    image_axes = figure.add_subplot(1, 2, 1)
    image_axes.set_title("input keypoints (coco17) and fitted keypoints, last frame")
    image_axes.set_xlim(0, 640)
    image_axes.set_ylim(480, 0)
    image_axes.set_aspect("equal")
    world = figure.add_subplot(1, 2, 2, projection="3d")
    world.set_title("/body_markers and /tf in camera_optical (as RViz draws them)")
    for body, person in zip(result.bodies, scene[-1].people):
        colour = track_colour(body.track_id)
        image_axes.scatter(*person.keypoints_px.T, s=14, color="k", label=None)
        image_axes.scatter(*body.keypoints2d.T, s=10, color=colour[:3])
        vertices = model(torch.as_tensor(body.pose)[None], torch.as_tensor(body.betas)[None],
                         torch.as_tensor(body.transl)[None]).vertices[0].detach().numpy()
        triangles = vertices[representatives][faces]
        # Plot axes: x right, z forward (depth), -y up, so the person stands upright.
        world.add_collection3d(Poly3DCollection(triangles[:, :, [0, 2, 1]] * [1, 1, -1], alpha=0.35,
                                                facecolor=colour[:3], edgecolor="none"))
        segments = skeleton_segments(body.joints).reshape(-1, 2, 3)
        for a, b in segments:
            world.plot([a[0], b[0]], [a[2], b[2]], [-a[1], -b[1]], color="k", linewidth=1.5)
        # Joint frames: compose the TF tree to camera coordinates and draw short axes.
        poses = {"camera_optical": (np.eye(3), np.zeros(3))}
        for t in body_frame_transforms(body.track_id, body.pose, body.joints, "camera_optical"):
            parent_r, parent_t = poses[t.parent]
            x, y, z, w = t.rotation_xyzw
            r = _quaternion_matrix(w, x, y, z)
            poses[t.child] = (parent_r @ r, parent_r @ t.translation + parent_t)
        for name, (r, origin) in poses.items():
            if name == "camera_optical":
                continue
            for axis, axis_colour in zip(r.T, ("r", "g", "b")):
                end = origin + 0.08 * axis
                world.plot([origin[0], end[0]], [origin[2], end[2]], [-origin[1], -end[1]],
                           color=axis_colour, linewidth=0.8)
        world.text(body.joints[15, 0], body.joints[15, 2], -body.joints[15, 1] + 0.25,
                   f"body_{body.track_id}", color=colour[:3])
    world.set_xlim(-1.5, 1.5)
    world.set_ylim(2.0, 5.0)
    world.set_zlim(-1.3, 1.2)
    world.set_xlabel("x (m)")
    world.set_ylabel("z, depth (m)")
    world.set_zlabel("-y, up (m)")
    world.view_init(elev=12, azim=-70)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


def _quaternion_matrix(w: float, x: float, y: float, z: float) -> np.ndarray:
    from lgd_ros.body.rotations import quaternion_to_matrix

    return quaternion_to_matrix(torch.tensor([w, x, y, z], dtype=torch.float64)).numpy()


if __name__ == "__main__":
    sys.exit(main())
