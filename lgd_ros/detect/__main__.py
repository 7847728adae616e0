"""Detect people in a picture and save an overlay: ``python -m lgd_ros.detect --help``.

Examples (the second and third make the pictures in ``docs/images``)::

    python -m lgd_ros.detect --image photo.jpg --out overlay.png
    python -m lgd_ros.detect --sample astronaut --out docs/images/overlay_astronaut.png
    python -m lgd_ros.detect --sample sports2d:80 --scale 0.5 \\
        --out docs/images/overlay_sports2d.png

Meshes: ``--mesh auto`` fits the body with :class:`lgd_ros.fitting.Fitter` when weights for
the detector's keypoint format are installed, and otherwise places the body roughly
(:mod:`lgd_ros.detect.preview`); the console output says which one was used.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lgd_ros.detect.blazepose import BlazePoseConfig, BlazePoseDetector
from lgd_ros.detect.errors import DetectError
from lgd_ros.detect.overlay import OverlayPerson, render_overlay
from lgd_ros.detect.samples import (
    astronaut_image,
    find_sports2d_demo_video,
    read_video_frames,
)
from lgd_ros.detect.types import Detection

# Horizontal field of view assumed for the samples (their cameras are unknown): a portrait
# lens for the astronaut, a phone's main camera for the Sports2D clip.
_SAMPLE_FOV_DEG = {"astronaut": 40.0, "sports2d": 60.0}
_DEFAULT_FOV_DEG = 55.0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m lgd_ros.detect",
        description="Find people's 2D keypoints in an image (MediaPipe BlazePose, offline) and "
                    "save a picture with their keypoints and body meshes drawn over it.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, help="an image file (PNG, JPEG...)")
    source.add_argument("--sample", help="'astronaut' (scikit-image) or 'sports2d:FRAME' "
                                         "(frame of the Sports2D demo video, 0-229)")
    parser.add_argument("--out", type=Path, required=True, help="output PNG/JPEG path")
    parser.add_argument("--max-people", type=int, default=4, help="most people (default 4)")
    parser.add_argument("--hfov", type=float, default=None,
                        help="horizontal field of view of the camera in degrees (default: "
                             f"{_DEFAULT_FOV_DEG:g}, or the sample's)")
    parser.add_argument("--mesh", choices=("auto", "fit", "rough", "none"), default="auto",
                        help="body meshes: fitted, roughly placed, or none (default auto: "
                             "fitted when a fitter is installed, else rough)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="resize the output picture by this factor (default 1)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except DetectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import cv2

    image, fov = _load(args)
    height, width = image.shape[:2]
    intrinsics = _intrinsics(width, height, fov)
    with BlazePoseDetector(BlazePoseConfig(max_people=args.max_people)) as detector:
        people = detector.detect(image)
        timing = detector.last_timings_ms["total"]
    print(f"{len(people)} people found in {timing:.1f} ms ({width}x{height}, "
          f"{detector.keypoint_format})")
    overlays: list[OverlayPerson] = []
    if people and args.mesh != "none":
        overlays += _meshes(people, intrinsics, args.mesh)
    overlays += [OverlayPerson.from_detection(p, track_id=i) for i, p in enumerate(people)]
    picture = render_overlay(image, overlays, intrinsics=intrinsics)
    if args.scale != 1.0:
        picture = cv2.resize(picture, None, fx=args.scale, fy=args.scale,
                             interpolation=cv2.INTER_AREA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Highest PNG compression: the pictures go into docs/ and git (ignored for JPEG).
    params = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    if not cv2.imwrite(str(args.out), np.ascontiguousarray(picture[:, :, ::-1]), params):
        raise DetectError(f"cannot write {args.out} (unknown extension or unwritable folder)")
    print(f"wrote {args.out}")
    return 0


def _load(args: argparse.Namespace) -> tuple[np.ndarray, float]:
    if args.image is not None:
        import cv2

        bgr = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DetectError(f"cannot read image {args.image}")
        fov = args.hfov if args.hfov is not None else _DEFAULT_FOV_DEG
        return np.ascontiguousarray(bgr[:, :, ::-1]), fov
    name, _, frame = str(args.sample).partition(":")
    if name == "astronaut" and not frame:
        image = astronaut_image()
    elif name == "sports2d" and frame.isdigit():
        image = read_video_frames(find_sports2d_demo_video(), [int(frame)])[int(frame)]
    else:
        raise DetectError(f"--sample must be 'astronaut' or 'sports2d:FRAME', got {args.sample!r}")
    return image, args.hfov if args.hfov is not None else _SAMPLE_FOV_DEG[name]


def _intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    if not 1.0 < hfov_deg < 179.0:
        raise DetectError(f"--hfov must be in (1, 179) degrees, got {hfov_deg}")
    focal = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
    # Principal point at the image centre in pixel-centre coordinates.
    return np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2],
                     [0.0, 0.0, 1.0]])


def _meshes(people: list[Detection], intrinsics: np.ndarray, mode: str) -> list[OverlayPerson]:
    if mode in ("auto", "fit"):
        fitted = _fitted_meshes(people, intrinsics, required=mode == "fit")
        if fitted is not None:
            return fitted
    from lgd_ros.body import BodyModel
    from lgd_ros.detect.preview import rough_body_placement

    model = BodyModel.load()
    meshes = []
    for index, person in enumerate(people):
        try:
            placed = rough_body_placement(model, person, intrinsics)
        except DetectError as error:
            print(f"person {index}: no mesh ({error})")
            continue
        meshes.append(OverlayPerson(vertices=placed.vertices, faces=placed.faces,
                                    track_id=index))
    print(f"meshes: rough placement of {model.name} (not a fit)")
    return meshes


def _fitted_meshes(people: list[Detection], intrinsics: np.ndarray,
                   required: bool) -> list[OverlayPerson] | None:
    try:
        import torch

        from lgd_ros.fitting import Fitter, FittingError
    except ImportError as error:
        if required:
            raise DetectError(f"--mesh fit needs lgd_ros.fitting: {error}") from error
        return None
    from lgd_ros.detect.types import stack_detections

    try:
        fitter = Fitter.load(fmt=people[0].format)
        keypoints, confidence = stack_detections(people)
        start = time.perf_counter()
        result = fitter.fit(keypoints, confidence, intrinsics, fmt=people[0].format)
        elapsed = 1000 * (time.perf_counter() - start)
    except FittingError as error:
        if required:
            raise DetectError(f"cannot fit: {error}") from error
        print(f"meshes: no fitter for {people[0].format} ({error}); placing roughly")
        return None
    with torch.no_grad():
        vertices = fitter.body_model(result.pose, result.betas, result.transl).vertices
    faces = fitter.body_model.faces.cpu().numpy()
    print(f"meshes: fitted in {elapsed:.1f} ms, mean reprojection error "
          f"{[round(float(e), 1) for e in result.mean_error_px]} px")
    return [OverlayPerson(vertices=v.double().cpu().numpy(), faces=faces, track_id=i)
            for i, (v, ok) in enumerate(zip(vertices, result.success, strict=True)) if bool(ok)]


if __name__ == "__main__":
    sys.exit(main())
