"""Input bags with known answers: people's keypoints projected from known bodies.

Used by the tests (round trips in both storages), the benchmark and the docs. The people
and their keypoints come from :func:`lgd_ros.tracking.scene.walking_scene` (held-out
corpus motion, walking sideways in front of a pinhole camera, keypoints from
:meth:`lgd_ros.body.BodyModel.keypoint_layer` and :func:`lgd_ros.body.camera.project_points`);
this module only writes them as ``lgd_ros/PersonKeypointsArray`` + ``sensor_msgs/CameraInfo``
messages into a rosbag2 of either storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lgd_ros.bag.errors import BagOutputError
from lgd_ros.bag.messages import InputMessageFactory
from lgd_ros.bag.typestore import PERSON_KEYPOINTS_ARRAY, output_typestore

__all__ = ["STORAGES", "SyntheticBag", "SyntheticBagSpec", "write_synthetic_keypoint_bag"]

STORAGES = ("mcap", "sqlite3")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


@dataclass(frozen=True)
class SyntheticBagSpec:
    """What :func:`write_synthetic_keypoint_bag` writes.

    Attributes:
        frames: keypoint messages (one per frame).
        people: people per frame (side by side, 1.2 m apart, at 3 m, 3.7 m, ...).
        walk_speed: sideways speed in m/s (alternating directions); each path is centred on
            the person's start place, so long bags keep people in view at slow speeds.
        fps: frame rate; header stamps and log times are ``start_ns + i / fps``.
        keypoint_format: format of the keypoints (confidence 0 where the body model
            has no such keypoint, 0.9 elsewhere).
        storage: ``mcap`` or ``sqlite3``.
        width / height / focal_px: the pinhole camera (principal point at the centre).
        noise_px: Gaussian pixel noise added to the keypoints.
        camera_info_every: a CameraInfo every this many frames (1 = with every frame).
        keypoints_topic / camera_info_topic / frame_id: names in the bag.
        start_ns: stamp of the first frame.
        seed: noise seed.
    """

    frames: int = 30
    people: int = 1
    walk_speed: float = 0.3
    fps: float = 30.0
    keypoint_format: str = "coco17"
    storage: str = "mcap"
    width: int = 640
    height: int = 480
    focal_px: float = 500.0
    noise_px: float = 0.0
    camera_info_every: int = 1
    keypoints_topic: str = "/keypoints"
    camera_info_topic: str = "/camera_info"
    frame_id: str = "camera_optical_frame"
    start_ns: int = 1_700_000_000_000_000_000
    seed: int = 0


@dataclass(frozen=True)
class SyntheticBag:
    """The bag written and the bodies behind it.

    Attributes:
        path: the rosbag2 directory.
        stamps_ns: ``[T]`` header stamps (= log times) of the keypoint messages.
        camera_stamps_ns: log times of the CameraInfo messages.
        true_pose: ``[T, P, 72]``; true_transl ``[T, P, 3]``; true_joints ``[T, P, 24, 3]``
            (camera frame).
        keypoints_px: ``[T, P, J, 2]`` as written; intrinsics ``[3, 3]``.
    """

    path: Path
    spec: SyntheticBagSpec
    stamps_ns: list[int]
    camera_stamps_ns: list[int]
    true_pose: np.ndarray
    true_transl: np.ndarray
    true_joints: np.ndarray
    keypoints_px: np.ndarray
    intrinsics: np.ndarray


def write_synthetic_keypoint_bag(path: str | Path, spec: SyntheticBagSpec | None = None,
                                 *, body_model: object | None = None) -> SyntheticBag:
    """Write a rosbag2 with ``lgd_ros/PersonKeypointsArray`` + ``sensor_msgs/CameraInfo``.

    Raises:
        BagOutputError: ``path`` exists, or ``spec.storage`` is not ``mcap`` / ``sqlite3``.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    from lgd_ros.body import BodyModel
    from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

    spec = spec or SyntheticBagSpec()
    path = Path(path)
    if spec.storage not in STORAGES:
        raise BagOutputError(f"storage must be one of {', '.join(STORAGES)}, got {spec.storage!r}")
    if path.exists():
        raise BagOutputError(f"{path} exists; synthetic bags are only written to new paths")
    duration = spec.frames / spec.fps
    people = [WalkingPerson(x0=-0.6 * (spec.people - 1) + 1.2 * i - 0.5 * duration * spec.walk_speed * (-1) ** i,
                            depth=3.0 + 0.7 * i, speed=spec.walk_speed * (-1) ** i, clip_offset=5 * i,
                            betas_seed=i)
              for i in range(spec.people)]
    intrinsics = default_intrinsics(spec.width, spec.height, spec.focal_px)
    scene = walking_scene(people, spec.frames, fps=spec.fps, fmt=spec.keypoint_format,
                          intrinsics=intrinsics, noise_px=spec.noise_px,
                          body_model=body_model if isinstance(body_model, BodyModel) else None,
                          seed=spec.seed)

    typestore = output_typestore()
    factory = InputMessageFactory(typestore)
    storage = StoragePlugin.MCAP if spec.storage == "mcap" else StoragePlugin.SQLITE3
    stamps = [spec.start_ns + round(i * 1e9 / spec.fps) for i in range(spec.frames)]
    camera_stamps = []
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=storage) as writer:
        keypoints_connection = writer.add_connection(spec.keypoints_topic, PERSON_KEYPOINTS_ARRAY,
                                                     typestore=typestore)
        camera_connection = writer.add_connection(spec.camera_info_topic, CAMERA_INFO_TYPE,
                                                  typestore=typestore)
        for index, (stamp, frame) in enumerate(zip(stamps, scene, strict=True)):
            header = factory.header(stamp, spec.frame_id)
            if index % max(1, spec.camera_info_every) == 0:
                info = factory.camera_info(header, intrinsics, spec.width, spec.height)
                writer.write(camera_connection, stamp, typestore.serialize_cdr(info, CAMERA_INFO_TYPE))
                camera_stamps.append(stamp)
            messages = [factory.person_keypoints(p.keypoints_px, p.confidence, p.keypoint_format,
                                                 person_id=i) for i, p in enumerate(frame.people)]
            writer.write(keypoints_connection, stamp, typestore.serialize_cdr(
                factory.keypoints_array(header, messages), PERSON_KEYPOINTS_ARRAY))
    return SyntheticBag(
        path=path, spec=spec, stamps_ns=stamps, camera_stamps_ns=camera_stamps,
        true_pose=np.stack([f.true_pose for f in scene]),
        true_transl=np.stack([f.true_transl for f in scene]),
        true_joints=np.stack([f.true_joints for f in scene]),
        keypoints_px=np.stack([np.stack([p.keypoints_px for p in f.people]) for f in scene]),
        intrinsics=intrinsics)
