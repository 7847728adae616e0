"""ROS 2 node: people's 2D keypoints + CameraInfo in, fitted SMPL-layout bodies out.

Topics (names are parameters, and can be remapped):
  sub  keypoints    lgd_ros/PersonKeypointsArray   sensor-data QoS
  sub  camera_info  sensor_msgs/CameraInfo         sensor-data QoS
  pub  bodies       lgd_ros/FittedBodyArray        reliable, depth 10

Each valid keypoints message gives exactly one FittedBodyArray carrying the
input's header. A message that cannot be fitted (unknown format, wrong array
lengths, NaN, all confidences zero, no CameraInfo yet) gives a logged warning
and no output; the node keeps running.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo

from lgd_ros.msg import FittedBody, FittedBodyArray, PersonKeypointsArray
from lgd_ros.ros.conversions import camera_model_from_camera_info, observations_from_msg
from lgd_ros.tracking.errors import CameraModelError, InvalidObservationError
from lgd_ros.tracking.observations import CameraModel, validate_observations

NODE_NAME = "lgd_fit_node"


@dataclass(frozen=True)
class FitNodeParameters:
    """The node's ROS parameters (documented in config/fit.yaml)."""

    keypoints_topic: str = "keypoints"
    camera_info_topic: str = "camera_info"
    bodies_topic: str = "bodies"
    weights: str = ""
    body_model_path: str = ""
    device: str = "auto"
    fit_steps: int = 0
    output_qos_depth: int = 10


_DESCRIPTIONS = {
    "keypoints_topic": "Input lgd_ros/PersonKeypointsArray topic.",
    "camera_info_topic": "Input sensor_msgs/CameraInfo topic of the camera the keypoints come from.",
    "bodies_topic": "Output lgd_ros/FittedBodyArray topic.",
    "weights": "Learned fitter weights file; empty = the weights shipped in the package.",
    "body_model_path": "SMPL .pkl/.npz model file; empty = the open default body model shipped in the package.",
    "device": "torch device for fitting: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:1', ...",
    "fit_steps": "Learned update steps per fit; 0 = the number the weights were trained for.",
    "output_qos_depth": "History depth of the output publishers (reliable).",
}


class FitNode(Node):
    """Validates keypoint messages and publishes one body array per valid message."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.parameters = self._declare_parameters()
        self._camera: CameraModel | None = None
        self._camera_error: str | None = None
        p = self.parameters
        self._bodies_pub = self.create_publisher(
            FittedBodyArray, p.bodies_topic,
            QoSProfile(depth=p.output_qos_depth, reliability=ReliabilityPolicy.RELIABLE))
        # Sensor-data QoS (best effort) subscribers match both best-effort and
        # reliable publishers, so any camera driver / detector can feed us.
        self.create_subscription(CameraInfo, p.camera_info_topic, self._on_camera_info,
                                 qos_profile_sensor_data)
        self.create_subscription(PersonKeypointsArray, p.keypoints_topic, self._on_keypoints,
                                 qos_profile_sensor_data)
        self.body_model_name = ""
        self.body_model_fingerprint = ""
        self.get_logger().info(
            f"listening on {self.resolve_topic_name(p.keypoints_topic)} + "
            f"{self.resolve_topic_name(p.camera_info_topic)}, publishing "
            f"{self.resolve_topic_name(p.bodies_topic)}; no learned fitter loaded yet: "
            "bodies are published with fit_status NO_MODEL_LOADED")

    def _declare_parameters(self) -> FitNodeParameters:
        defaults = FitNodeParameters()
        values = {}
        for name, default in vars(defaults).items():
            descriptor = ParameterDescriptor(description=_DESCRIPTIONS[name])
            values[name] = self.declare_parameter(name, default, descriptor).value
        return FitNodeParameters(**values)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = camera_model_from_camera_info(msg)
            self._camera_error = None
        except CameraModelError as error:
            self._camera = None
            if str(error) != self._camera_error:
                self.get_logger().warning(f"ignoring CameraInfo: {error}")
            self._camera_error = str(error)

    def _on_keypoints(self, msg: PersonKeypointsArray) -> None:
        if self._camera is None:
            reason = self._camera_error or (
                f"no CameraInfo received on {self.resolve_topic_name(self.parameters.camera_info_topic)}")
            self.get_logger().warning(f"dropping keypoints stamped "
                                      f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}: {reason}",
                                      throttle_duration_sec=2.0)
            return
        try:
            people = observations_from_msg(msg)
            validate_observations(people)
        except InvalidObservationError as error:
            self.get_logger().warning(f"dropping keypoints message: {error}")
            return
        out = FittedBodyArray()
        out.header = msg.header
        out.body_model = self.body_model_name
        out.body_model_fingerprint = self.body_model_fingerprint
        for person in people:
            body = FittedBody()
            body.track_id = person.source_id
            body.fit_status = FittedBody.NO_MODEL_LOADED
            body.fit_status_message = "no learned fitter loaded; parameters are zero, not estimates"
            out.bodies.append(body)
        self._bodies_pub.publish(out)


def main(args: list[str] | None = None) -> int:
    """Console entry point: spin the node until Ctrl-C or shutdown."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = FitNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
