"""Detector speed on this CPU: ``python -m benchmarks.bench_detect [--frames N]``.

Prints a markdown table of wall time per frame for the BlazePose detector in its main
settings, against the baseline measured in the same run: MediaPipe's own legacy
``mp.solutions.pose.Pose`` (single person, same models), on the same frames. When a trained
fitter for ``blazepose33`` is installed it also times image -> fitted body for one person
(goal: under 50 ms), and it times the overlay picture (mesh + keypoints) of the debug image.

Frames: scikit-image's astronaut (512x512) and frames of the Sports2D demo video
(1768x994, two people); see ``lgd_ros.detect.samples``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from lgd_ros.detect import (
    BlazePoseConfig,
    BlazePoseDetector,
    astronaut_image,
    find_sports2d_demo_video,
    read_video_frames,
)
from lgd_ros.detect._mediapipe import import_mediapipe, native_stderr_to_logger


def _time_per_frame(frames: Sequence[np.ndarray], run: Callable[[np.ndarray], int],
                    warmup: int = 2) -> tuple[float, float, float]:
    """(median ms, 90th percentile ms, mean people per frame) over ``frames``."""
    for frame in frames[:warmup]:
        run(frame)
    times, counts = [], []
    for frame in frames:
        start = time.perf_counter()
        counts.append(run(frame))
        times.append(1000 * (time.perf_counter() - start))
    return (statistics.median(times), float(np.percentile(times, 90)),
            float(np.mean(counts)))


def _stock_mediapipe(static: bool, first: np.ndarray
                     ) -> tuple[Callable[[np.ndarray], int], Callable[[], None]]:
    mediapipe = import_mediapipe()
    with native_stderr_to_logger():  # its start-up log lines, as our detector does
        pose = mediapipe.solutions.pose.Pose(static_image_mode=static, model_complexity=1)
        pose.process(first)  # builds its interpreters (and logs) now, not while timed

    def run(frame: np.ndarray) -> int:
        return 0 if pose.process(frame).pose_landmarks is None else 1

    return run, pose.close


def _ours(config: BlazePoseConfig) -> tuple[Callable[[np.ndarray], int], Callable[[], None]]:
    detector = BlazePoseDetector(config)

    def run(frame: np.ndarray) -> int:
        return len(detector.detect(frame))

    return run, detector.close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60,
                        help="video frames per case (default 60, from frame 60 on)")
    args = parser.parse_args(argv)

    video = read_video_frames(find_sports2d_demo_video(), range(60, 60 + args.frames))
    clip = [video[i] for i in sorted(video)]
    portrait = [astronaut_image()] * min(args.frames, 30)

    cases: list[tuple[str, str, Callable[[], tuple[Callable[[np.ndarray], int],
                                                   Callable[[], None]]], list[np.ndarray]]] = [
        ("stock mp.solutions.pose, static (baseline)", "astronaut",
         lambda: _stock_mediapipe(True, portrait[0]), portrait),
        ("ours, image mode, max_people=1", "astronaut",
         lambda: _ours(BlazePoseConfig(max_people=1)), portrait),
        ("stock mp.solutions.pose, static (baseline)", "sports2d",
         lambda: _stock_mediapipe(True, clip[0]), clip),
        ("stock mp.solutions.pose, video tracking", "sports2d",
         lambda: _stock_mediapipe(False, clip[0]), clip),
        ("ours, image mode, max_people=4 (tiles)", "sports2d",
         lambda: _ours(BlazePoseConfig(max_people=4)), clip),
        ("ours, video tracking, max_people=1", "sports2d",
         lambda: _ours(BlazePoseConfig(max_people=1, track_across_frames=True)), clip),
        ("ours, video tracking, max_people=2", "sports2d",
         lambda: _ours(BlazePoseConfig(max_people=2, track_across_frames=True)), clip),
    ]
    print(f"# Detector speed ({os.cpu_count()} CPU cores, {len(clip)} video frames 1768x994, "
          f"astronaut 512x512)\n")
    print("| case | images | median ms/frame | p90 ms | people/frame | vs baseline |")
    print("|---|---|---:|---:|---:|---:|")
    baseline: dict[str, float] = {}
    for name, images, make, frames in cases:
        run, close = make()
        try:
            median, p90, people = _time_per_frame(frames, run)
        finally:
            close()
        baseline.setdefault(images, median)
        ratio = median / baseline[images]
        print(f"| {name} | {images} | {median:.1f} | {p90:.1f} | {people:.2f} | {ratio:.2f}x |")

    _image_to_fit(clip)
    _overlay(clip[20])
    return 0


def _image_to_fit(clip: list[np.ndarray]) -> None:
    """Image -> fitted body for one person (video tracking), when a fitter exists."""
    try:
        from lgd_ros.detect import stack_detections
        from lgd_ros.fitting import Fitter, FittingError
    except ImportError as error:
        print(f"\nimage -> fitted body: skipped (no lgd_ros.fitting.Fitter: {error})")
        return
    try:
        fitter = Fitter.load(fmt="blazepose33")
    except FittingError as error:
        print(f"\nimage -> fitted body: skipped ({error})")
        return
    focal = 0.5 * 1768 / np.tan(np.radians(30.0))
    intrinsics = np.array([[focal, 0, 883.5], [0, focal, 496.5], [0, 0, 1.0]])
    detector = BlazePoseDetector(BlazePoseConfig(max_people=1, track_across_frames=True))
    state: dict[str, Any] = {"previous": None}  # last fit, the next frame's warm start

    def detect_and_fit(frame: np.ndarray) -> int:
        people = detector.detect(frame)
        if not people:
            state["previous"] = None
            return 0
        keypoints, confidence = stack_detections(people)
        result = fitter.fit(keypoints, confidence, intrinsics, init=state["previous"])
        state["previous"] = result
        return len(people)

    def cold(frame: np.ndarray) -> int:
        state["previous"] = None
        return detect_and_fit(frame)

    try:
        warm_median, warm_p90, _ = _time_per_frame(clip, detect_and_fit)
        cold_median, cold_p90, _ = _time_per_frame(clip, cold)
    finally:
        detector.close()
    print("\n| image -> fitted body, 1 person | median ms | p90 ms | goal |")
    print("|---|---:|---:|---:|")
    print(f"| warm start (video) | {warm_median:.1f} | {warm_p90:.1f} | < 50 |")
    print(f"| cold start (every frame) | {cold_median:.1f} | {cold_p90:.1f} | < 50 |")


def _overlay(frame: np.ndarray) -> None:
    """Cost of the debug picture: one body mesh (default model) and keypoints."""
    from lgd_ros.body import BodyModel
    from lgd_ros.detect import OverlayPerson, render_overlay
    from lgd_ros.detect.preview import rough_body_placement

    with BlazePoseDetector(BlazePoseConfig(max_people=2)) as detector:
        people = detector.detect(frame)
    if not people:
        print("\noverlay: skipped (nobody found)")
        return
    focal = 0.5 * 1768 / np.tan(np.radians(30.0))
    intrinsics = np.array([[focal, 0, 883.5], [0, focal, 496.5], [0, 0, 1.0]])
    model = BodyModel.load()
    overlays = []
    for index, person in enumerate(people):
        placed = rough_body_placement(model, person, intrinsics)
        overlays.append(OverlayPerson(vertices=placed.vertices, faces=placed.faces,
                                      track_id=index))
        overlays.append(OverlayPerson.from_detection(person, track_id=index))
    keypoints_only = [p for p in overlays if p.vertices is None]
    mesh_ms = _repeat(lambda: render_overlay(frame, overlays, intrinsics=intrinsics))
    keypoint_ms = _repeat(lambda: render_overlay(frame, keypoints_only))
    print(f"\n| overlay picture, 1768x994, {len(people)} people | median ms |")
    print("|---|---:|")
    print(f"| meshes ({model.num_vertices} vertices each) + keypoints | {mesh_ms:.1f} |")
    print(f"| keypoints only | {keypoint_ms:.1f} |")


def _repeat(action: Callable[[], object], count: int = 10) -> float:
    action()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        action()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
