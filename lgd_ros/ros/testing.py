"""rclpy helpers for talking to nodes from a test, benchmark or demo process.

Waiting is done by spinning and checking a condition, never by sleeping
blindly: discovery between processes takes anywhere from milliseconds to a few
seconds, and messages published before a subscriber matched are lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rclpy.node import Node
from rclpy.qos import QoSProfile

MessageT = TypeVar("MessageT")


class WaitTimeout(TimeoutError):
    """A condition did not become true in time."""


def spin_until(node: Node, condition: Callable[[], bool], timeout: float,
               what: str = "condition") -> None:
    """Spin ``node`` until ``condition()`` is true; raise :class:`WaitTimeout` after ``timeout`` s."""
    import rclpy

    deadline = time.monotonic() + timeout
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.1f} s waiting for {what}")
        rclpy.spin_once(node, timeout_sec=min(0.05, remaining))


def wait_for_subscribers(node: Node, publisher: object, count: int = 1, timeout: float = 15.0) -> None:
    """Wait until ``publisher`` is matched with at least ``count`` subscriptions."""
    spin_until(node, lambda: publisher.get_subscription_count() >= count,  # type: ignore[attr-defined]
               timeout, f"{count} subscriber(s) on {publisher.topic_name}")  # type: ignore[attr-defined]


def wait_for_publishers(node: Node, subscription: object, count: int = 1, timeout: float = 15.0) -> None:
    """Wait until ``subscription`` is matched with at least ``count`` publishers."""
    spin_until(node, lambda: subscription.get_publisher_count() >= count,  # type: ignore[attr-defined]
               timeout, f"{count} publisher(s) on {subscription.topic_name}")  # type: ignore[attr-defined]


class MessageCollector(Generic[MessageT]):
    """Subscribe to a topic and keep every message received, with its arrival time."""

    def __init__(self, node: Node, msg_type: type[MessageT], topic: str,
                 qos: QoSProfile | int = 50) -> None:
        self.node = node
        self.messages: list[MessageT] = []
        self.arrival_times: list[float] = []
        self._lock = threading.Lock()
        self.subscription = node.create_subscription(msg_type, topic, self._on_message, qos)

    def _on_message(self, message: MessageT) -> None:
        with self._lock:
            self.messages.append(message)
            self.arrival_times.append(time.perf_counter())

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[MessageT]:
        spin_until(self.node, lambda: len(self.messages) >= count, timeout,
                   f"{count} message(s) on {self.subscription.topic_name} (got {len(self.messages)})")
        return list(self.messages)

    def spin_for(self, seconds: float) -> list[MessageT]:
        """Spin for a fixed time; used to assert that *no* message arrives."""
        import rclpy

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.arrival_times.clear()


class FitNodeClient:
    """The other end of a fitting node: publishers for its inputs, collectors for its outputs.

    Topic names are the node's defaults under ``prefix`` (e.g. ``/front/``).
    """

    def __init__(self, node: Node, prefix: str = "", *, collect_outputs: bool = True) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo
        from visualization_msgs.msg import MarkerArray

        from lgd_ros.msg import FittedBodyArray, PersonKeypointsArray

        self.node = node
        self.keypoints_pub = node.create_publisher(PersonKeypointsArray, f"{prefix}keypoints", 10)
        self.camera_pub = node.create_publisher(CameraInfo, f"{prefix}camera_info", 10)
        self.bodies: MessageCollector = MessageCollector(node, FittedBodyArray, f"{prefix}bodies")
        self.markers: MessageCollector | None = None
        self.tf: MessageCollector | None = None
        self.tracked: MessageCollector | None = None
        self.diagnostics: MessageCollector | None = None
        if collect_outputs:
            self.markers = MessageCollector(node, MarkerArray, f"{prefix}body_markers")
            self.diagnostics = MessageCollector(node, DiagnosticArray, "/diagnostics")
            try:
                from tf2_msgs.msg import TFMessage

                self.tf = MessageCollector(node, TFMessage, "/tf", qos=100)
            except ImportError:
                pass
            try:
                from hri_msgs.msg import IdsList

                self.tracked = MessageCollector(node, IdsList, f"{prefix}humans/bodies/tracked")
            except ImportError:
                pass

    def wait_connected(self, timeout: float = 15.0) -> None:
        wait_for_subscribers(self.node, self.keypoints_pub, timeout=timeout)
        wait_for_subscribers(self.node, self.camera_pub, timeout=timeout)
        wait_for_publishers(self.node, self.bodies.subscription, timeout=timeout)

    def send_camera_info(self, matrix: Any, width: int = 640, height: int = 480,
                         frame_id: str = "camera_optical") -> None:
        from sensor_msgs.msg import CameraInfo

        from lgd_ros.ros.conversions import fill_camera_info

        self.camera_pub.publish(fill_camera_info(CameraInfo(), matrix, width, height, frame_id))

    def keypoints_msg(self, stamp: float, people: Any, frame_id: str = "camera_optical") -> Any:
        """PersonKeypointsArray from :class:`~lgd_ros.tracking.observations.PersonObservation` s."""
        from lgd_ros.msg import PersonKeypoints, PersonKeypointsArray
        from lgd_ros.ros.conversions import fill_person_keypoints

        msg = PersonKeypointsArray()
        msg.header.frame_id = frame_id
        msg.header.stamp.sec = int(stamp)
        msg.header.stamp.nanosec = int(round((stamp - int(stamp)) * 1e9))
        for person in people:
            msg.people.append(fill_person_keypoints(PersonKeypoints(), person.keypoints_px,
                                                    person.confidence, person.keypoint_format,
                                                    person.source_id, person.score))
        return msg

    def make_ready(self, matrix: Any, probe: Any, attempts: int = 40) -> None:
        """Send CameraInfo (best effort on the node's side) until a probe frame is answered."""
        for _ in range(attempts):
            self.send_camera_info(matrix)
            before = len(self.bodies.messages)
            self.keypoints_pub.publish(probe)
            try:
                self.bodies.wait_for_count(before + 1, timeout=0.5)
                return
            except WaitTimeout:
                continue
        raise WaitTimeout("the fitting node never answered a probe frame")
