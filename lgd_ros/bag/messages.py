"""Fitted bodies -> rosbags messages, field for field what the node publishes.

The node fills rclpy messages in ``lgd_ros/ros/body_outputs.py``; this module fills the
same types with rosbags' message classes (no ROS install needed) from the same numbers
(:mod:`lgd_ros.tracking.body_frames`): ``lgd_ros/FittedBodyArray`` on ``bodies``, TF frames
on ``/tf``, a mesh TRIANGLE_LIST and a skeleton LINE_LIST per body on ``body_markers``
(namespaces ``lgd_body_mesh`` / ``lgd_body_skeleton``, marker id = track id, DELETE for
ended tracks) and ``hri_msgs/IdsList`` on ``humans/bodies/tracked``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from lgd_ros.bag.markers import (
    ADD,
    ARROW,
    DELETE,
    LINE_LIST,
    TRIANGLE_LIST,
    MarkerData,
    TfMessageEncoder,
    encode_marker_array,
    marker_message,
)
from lgd_ros.bag.typestore import (
    FITTED_BODY,
    FITTED_BODY_ARRAY,
    HRI_IDS_LIST,
    PERSON_KEYPOINTS,
    PERSON_KEYPOINTS_ARRAY,
)
from lgd_ros.tracking.body_frames import (
    body_frame_arrays,
    body_frame_names,
    body_frame_transforms,
    skeleton_segments,
    track_colour,
)
from lgd_ros.tracking.pipeline import BodyEstimate

__all__ = [
    "MESH_NAMESPACE",
    "SKELETON_NAMESPACE",
    "BodyMessageFactory",
    "InputMessageFactory",
]

MESH_NAMESPACE = "lgd_body_mesh"
SKELETON_NAMESPACE = "lgd_body_skeleton"
MARKER_ARRAY_TYPE = "visualization_msgs/msg/MarkerArray"
TF_MESSAGE_TYPE = "tf2_msgs/msg/TFMessage"


class BodyMessageFactory:
    """Builds the output messages with one typestore's classes.

    Args:
        typestore: a store holding the standard types plus lgd_ros' and hri_msgs'
            (:func:`lgd_ros.bag.typestore.output_typestore`).
    """

    def __init__(self, typestore: Typestore) -> None:
        types = typestore.types
        self.typestore = typestore
        self._time = types["builtin_interfaces/msg/Time"]
        self._header = types["std_msgs/msg/Header"]
        self._vector = types["geometry_msgs/msg/Vector3"]
        self._quaternion = types["geometry_msgs/msg/Quaternion"]
        self._transform = types["geometry_msgs/msg/Transform"]
        self._transform_stamped = types["geometry_msgs/msg/TransformStamped"]
        self._tf_message = types[TF_MESSAGE_TYPE]
        self._marker_array = types[MARKER_ARRAY_TYPE]
        self._fitted_body = types[FITTED_BODY]
        self._fitted_body_array = types[FITTED_BODY_ARRAY]
        self._ids_list = types[HRI_IDS_LIST]
        self._tf_encoder = TfMessageEncoder()

    # ------------------------------------------------------------------ headers
    def header(self, sec: int, nanosec: int, frame_id: str) -> Any:
        """``std_msgs/Header`` (copy the input's stamp and frame into every output)."""
        return self._header(stamp=self._time(sec=int(sec), nanosec=int(nanosec)),
                            frame_id=str(frame_id))

    def copy_header(self, header: Any) -> Any:
        return self.header(header.stamp.sec, header.stamp.nanosec, header.frame_id)

    # ------------------------------------------------------------------- bodies
    def fitted_body(self, estimate: BodyEstimate) -> Any:
        """``lgd_ros/FittedBody`` of one estimate (as ``body_outputs.fitted_body_msg``)."""
        cls: Any = self._fitted_body  # FIT_OK / FIT_FAILED come from the .msg constants
        transl = np.asarray(estimate.transl, dtype=np.float64)
        return cls(
            track_id=int(estimate.track_id),
            fit_status=cls.FIT_OK if estimate.success else cls.FIT_FAILED,
            fit_status_message=str(estimate.message),
            pose=np.asarray(estimate.pose, dtype=np.float32).reshape(72),
            betas=np.asarray(estimate.betas[:10], dtype=np.float32).reshape(10),
            translation=self._vector(x=float(transl[0]), y=float(transl[1]), z=float(transl[2])),
            mean_reprojection_error_px=float(estimate.mean_error_px),
            steps_used=int(estimate.steps_used),
            warm_started=bool(estimate.warm_started),
        )

    def fitted_body_array(self, header: Any, bodies: Sequence[BodyEstimate], body_model: str,
                          body_model_fingerprint: str) -> Any:
        """``lgd_ros/FittedBodyArray`` for one input frame (``header`` = the input's)."""
        return self._fitted_body_array(
            header=header, body_model=body_model, body_model_fingerprint=body_model_fingerprint,
            bodies=[self.fitted_body(b) for b in bodies])

    # ------------------------------------------------------------------------ TF
    def body_transforms(self, estimate: BodyEstimate, header: Any) -> list[Any]:
        """TF frames of one body (``body_<id>``, ``<joint>_<id>``), stamped with ``header``
        whose frame is the camera's."""
        out = []
        for frame in body_frame_transforms(estimate.track_id, estimate.pose, estimate.joints,
                                           header.frame_id):
            t = np.asarray(frame.translation, dtype=np.float64)
            q = np.asarray(frame.rotation_xyzw, dtype=np.float64)
            out.append(self._transform_stamped(
                header=self._header(stamp=header.stamp, frame_id=frame.parent),
                child_frame_id=frame.child,
                transform=self._transform(
                    translation=self._vector(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                    rotation=self._quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                              w=float(q[3])))))
        return out

    def tf_message(self, transforms: list[Any]) -> Any:
        return self._tf_message(transforms=transforms)

    def encode_tf(self, estimates: Sequence[BodyEstimate], header: Any,
                  arrays: tuple[np.ndarray, np.ndarray] | None = None) -> bytes:
        """CDR bytes of the ``TFMessage`` of :meth:`body_transforms` of every estimate
        (encoded directly: no per-transform message objects).

        Args:
            arrays: :func:`~lgd_ros.tracking.body_frames.body_frame_arrays` of ``estimates``
                when already computed (the bag tool does a whole recording in one call).
        """
        if arrays is None:
            arrays = body_frame_arrays(np.stack([e.pose for e in estimates]), np.stack([e.joints for e in estimates]))
        camera_frame, ids = header.frame_id, [int(e.track_id) for e in estimates]
        return self._tf_encoder.encode(
            self._stamp(header), (camera_frame, *ids),
            lambda: [names for i in ids for names in body_frame_names(i, camera_frame)],
            arrays[0].reshape(-1, 3), arrays[1].reshape(-1, 4))

    # ------------------------------------------------------------------- markers
    # Markers are MarkerData records (points as one array) encoded by lgd_ros.bag.markers:
    # rosbags objects would cost a Python object per mesh point.
    @staticmethod
    def _stamp(header: Any) -> tuple[int, int]:
        return int(header.stamp.sec), int(header.stamp.nanosec)

    def mesh_marker(self, track_id: int, vertices: np.ndarray, faces: np.ndarray, header: Any,
                    lifetime_s: float = 0.0) -> MarkerData:
        """TRIANGLE_LIST of the body's (decimated) mesh in the camera frame.

        Args:
            vertices: ``[V, 3]`` metres, camera frame.
            faces: ``[F, 3]`` indices into ``vertices``.
        """
        return MarkerData(self._stamp(header), header.frame_id, MESH_NAMESPACE, int(track_id),
                          TRIANGLE_LIST, ADD, (1.0, 1.0, 1.0), track_colour(track_id, 0.85),
                          float(lifetime_s), np.asarray(vertices, dtype=np.float64)[np.asarray(faces).reshape(-1)])

    def skeleton_marker(self, track_id: int, joints: np.ndarray, header: Any,
                        lifetime_s: float = 0.0, width_m: float = 0.02) -> MarkerData:
        """LINE_LIST joining each SMPL joint (``joints [24, 3]``) to its parent."""
        return MarkerData(self._stamp(header), header.frame_id, SKELETON_NAMESPACE, int(track_id),
                          LINE_LIST, ADD, (float(width_m), 1.0, 1.0), track_colour(track_id, 1.0),
                          float(lifetime_s), skeleton_segments(joints))

    def delete_markers(self, track_ids: Sequence[int], header: Any) -> list[MarkerData]:
        """DELETE actions for every marker of tracks that ended.

        Like the node's ``Marker(header=..., ns=..., id=..., action=DELETE)``: every other
        field keeps the message default (zero scale, colour and lifetime, no points).
        """
        return [MarkerData(self._stamp(header), header.frame_id, namespace, int(track_id), ARROW,
                           DELETE, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0), 0.0, np.zeros((0, 3)))
                for track_id in track_ids for namespace in (MESH_NAMESPACE, SKELETON_NAMESPACE)]

    @staticmethod
    def encode_markers(markers: Sequence[MarkerData]) -> bytes:
        """CDR bytes of the ``visualization_msgs/MarkerArray`` of ``markers``."""
        return encode_marker_array(markers)

    def marker_array(self, markers: Sequence[MarkerData]) -> Any:
        """The rosbags ``MarkerArray`` object (slow for meshes; for inspection and tests)."""
        return self._marker_array(markers=[marker_message(self.typestore, m) for m in markers])

    # ----------------------------------------------------------------- tracked ids
    def ids_list(self, header: Any, track_ids: Sequence[int]) -> Any:
        """``hri_msgs/IdsList`` of the tracked body ids (REP-155 ``humans/bodies/tracked``)."""
        return self._ids_list(header=header, ids=[str(i) for i in track_ids])


class InputMessageFactory:
    """Builds the messages the node *reads* (keypoints, images, CameraInfo), for writing
    input bags: the demo's video bag, synthetic test and benchmark bags, your own
    converters. Field values follow ``lgd_ros/ros/conversions.py``'s ``fill_*`` helpers.
    """

    def __init__(self, typestore: Typestore) -> None:
        types = typestore.types
        self.typestore = typestore
        self._time = types["builtin_interfaces/msg/Time"]
        self._header = types["std_msgs/msg/Header"]
        self._camera_info = types["sensor_msgs/msg/CameraInfo"]
        self._roi = types["sensor_msgs/msg/RegionOfInterest"]
        self._image = types["sensor_msgs/msg/Image"]
        self._person = types[PERSON_KEYPOINTS]
        self._people = types[PERSON_KEYPOINTS_ARRAY]

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        """``std_msgs/Header`` for a stamp in integer nanoseconds."""
        return self._header(stamp=self._time(sec=int(stamp_ns // 1_000_000_000),
                                             nanosec=int(stamp_ns % 1_000_000_000)),
                            frame_id=frame_id)

    def camera_info(self, header: Any, matrix: np.ndarray, width: int, height: int,
                    distortion: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.0)) -> Any:
        """``sensor_msgs/CameraInfo`` of a pinhole camera ``matrix [3, 3]`` (plumb_bob ``d``)."""
        k = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
        p = np.zeros((3, 4))
        p[:, :3] = k
        return self._camera_info(
            header=header, height=int(height), width=int(width), distortion_model="plumb_bob",
            d=np.asarray(distortion, dtype=np.float64), k=k.reshape(-1), r=np.eye(3).reshape(-1),
            p=p.reshape(-1), binning_x=0, binning_y=0,
            roi=self._roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    def image(self, header: Any, rgb: np.ndarray) -> Any:
        """``sensor_msgs/Image`` (rgb8) of an ``[H, W, 3]`` uint8 RGB array."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"image must be [H, W, 3] uint8 RGB, got shape {rgb.shape}")
        return self._image(header=header, height=int(rgb.shape[0]), width=int(rgb.shape[1]),
                           encoding="rgb8", is_bigendian=0, step=int(rgb.shape[1] * 3),
                           data=rgb.reshape(-1))

    def person_keypoints(self, keypoints_px: np.ndarray, confidence: np.ndarray,
                         keypoint_format: str, person_id: int = -1, score: float = 1.0) -> Any:
        """``lgd_ros/PersonKeypoints`` from ``keypoints_px [J, 2]`` and ``confidence [J]``."""
        keypoints_px = np.asarray(keypoints_px, dtype=np.float32)
        return self._person(person_id=int(person_id), keypoint_format=keypoint_format,
                            u=np.ascontiguousarray(keypoints_px[:, 0]),
                            v=np.ascontiguousarray(keypoints_px[:, 1]),
                            confidence=np.asarray(confidence, dtype=np.float32), score=float(score))

    def keypoints_array(self, header: Any, people: Sequence[Any]) -> Any:
        """``lgd_ros/PersonKeypointsArray`` of :meth:`person_keypoints` messages."""
        return self._people(header=header, people=list(people))
