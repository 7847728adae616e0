"""ROS 2 node: people's 2D keypoints (or camera images) + CameraInfo in; fitted SMPL-layout
bodies, TF frames, RViz markers, tracked ids and diagnostics out.

Topics (names are parameters, and can be remapped; see config/fit.yaml):
  sub  keypoints             lgd_ros/PersonKeypointsArray     sensor-data QoS
  sub  image (if set)        sensor_msgs/Image                sensor-data QoS
  sub  camera_info           sensor_msgs/CameraInfo           sensor-data QoS
  pub  bodies                lgd_ros/FittedBodyArray          reliable
  pub  body_markers          visualization_msgs/MarkerArray   reliable
  pub  /tf                   tf2_msgs/TFMessage               (REP-155 frames body_<id>, <joint>_<id>)
  pub  humans/bodies/tracked hri_msgs/IdsList                 (when hri_msgs is installed)
  pub  /diagnostics          diagnostic_msgs/DiagnosticArray

Threading: subscription callbacks only put the newest frame into a one-slot
mailbox; a worker thread fits it. When fitting falls behind, older frames are
replaced (counted as dropped in diagnostics) and the newest is always the next
one fitted, so latency stays bounded instead of growing with a queue.

Every valid frame gives one FittedBodyArray with the input's header. A frame
that cannot be fitted (unknown format, wrong array lengths, NaN, all
confidences zero, no CameraInfo, stamp out of order) gives a logged warning
and no output; the node keeps running.
"""

from __future__ import annotations

import gc
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from lgd_ros.fitting.errors import FittingError
from lgd_ros.msg import FittedBody, FittedBodyArray, PersonKeypointsArray
from lgd_ros.ros import body_outputs
from lgd_ros.ros.conversions import (
    camera_model_from_camera_info,
    image_to_rgb,
    observations_from_detections,
    observations_from_msg,
)
from lgd_ros.tracking.body_frames import MarkerMesh
from lgd_ros.tracking.errors import (
    CameraModelError,
    InvalidObservationError,
    ParameterError,
    TrackingError,
)
from lgd_ros.tracking.observations import CameraModel, PersonObservation, validate_observations
from lgd_ros.tracking.parameters import PARAMETER_DESCRIPTIONS, FitParameters, pipeline_config
from lgd_ros.tracking.pipeline import BodyFittingPipeline, FrameResult

NODE_NAME = "lgd_fit_node"


def _stamp_seconds(header: Header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


@dataclass
class _Counters:
    received: int = 0
    fitted: int = 0
    dropped_overload: int = 0
    rejected_invalid: int = 0
    rejected_no_camera: int = 0
    rejected_out_of_order: int = 0
    failed_fits: int = 0


class FitNode(Node):
    """Tracks and fits people; see the module docstring for topics and behaviour."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.parameters = self._declare_parameters()
        p = self.parameters
        self._camera: CameraModel | None = None
        self._camera_error: str | None = None
        self._counters = _Counters()
        self._latencies_ms: deque[float] = deque(maxlen=300)
        self._fit_ms: deque[float] = deque(maxlen=300)
        self._fitted_times: deque[float] = deque(maxlen=300)
        self._steps: deque[int] = deque(maxlen=300)
        self._mailbox: tuple[str, Any, float] | None = None
        self._mailbox_cv = threading.Condition()
        self._stop = threading.Event()
        self._last_mesh_time: dict[int, float] = {}
        self._gc_frozen = False
        self._detector: Any = None
        self._mesh: MarkerMesh | None = None
        self._pipeline, self.pipeline_error = self._make_pipeline()
        if self._pipeline is not None and self.parameters.publish_markers and self.parameters.mesh_rate_hz > 0:
            # Decimated once, not in the first frame's time.
            self._mesh = MarkerMesh(self._pipeline.body_model, self.parameters.mesh_decimation_m)

        out_qos = QoSProfile(depth=p.output_qos_depth, reliability=ReliabilityPolicy.RELIABLE)
        self._bodies_pub = self.create_publisher(FittedBodyArray, p.bodies_topic, out_qos)
        self._markers_pub = self.create_publisher(MarkerArray, p.markers_topic, out_qos)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._tf_pub = self._tracked_pub = None
        if p.publish_tf:
            self._tf_pub = self._make_tf_publisher()
        self._tracked_pub = self._make_tracked_publisher(p.tracked_topic)

        # Best-effort (sensor-data) subscriptions match both best-effort and
        # reliable publishers, so any camera driver or detector can feed us.
        self.create_subscription(CameraInfo, p.camera_info_topic, self._on_camera_info,
                                 qos_profile_sensor_data)
        if p.keypoints_topic:
            self.create_subscription(PersonKeypointsArray, p.keypoints_topic,
                                     lambda m: self._post("keypoints", m), qos_profile_sensor_data)
        if p.image_topic:
            self.create_subscription(Image, p.image_topic, lambda m: self._post("image", m),
                                     qos_profile_sensor_data)
        self.create_timer(p.diagnostics_period_s, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="lgd_fit_worker", daemon=True)
        self._worker.start()
        inputs = [self.resolve_topic_name(t) for t in (p.keypoints_topic, p.image_topic) if t]
        self.get_logger().info(
            f"fitting people from {', '.join(inputs)} with {self.resolve_topic_name(p.camera_info_topic)}; "
            f"bodies on {self.resolve_topic_name(p.bodies_topic)}"
            + (f"; device {self._pipeline.device}, body model {self._pipeline.body_model.name}"
               if self._pipeline else ""))

    # ----------------------------------------------------------------- set-up
    def _declare_parameters(self) -> FitParameters:
        values = {}
        for f in fields(FitParameters):
            # Float parameters accept integers (`track_max_age_s: 1` in YAML), as users
            # expect; FitParameters then checks every type and range with a clear message.
            descriptor = ParameterDescriptor(description=PARAMETER_DESCRIPTIONS[f.name],
                                             dynamic_typing=isinstance(f.default, float))
            value = self.declare_parameter(f.name, f.default, descriptor).value
            values[f.name] = float(value) if isinstance(f.default, float) and isinstance(value, int) \
                and not isinstance(value, bool) else value
        return FitParameters(**values)

    def _make_pipeline(self) -> tuple[BodyFittingPipeline | None, str]:
        try:
            return BodyFittingPipeline(pipeline_config(self.parameters)), ""
        except Exception as error:
            message = f"cannot load the body model / fitter: {error}"
            self.get_logger().error(message + "; bodies are published with fit_status NO_MODEL_LOADED")
            return None, message

    def _make_tf_publisher(self) -> Any:
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            self.get_logger().warning("tf2_msgs is not installed: no TF output")
            return None
        # /tf is volatile, reliable, as tf2_ros' TransformBroadcaster makes it.
        return self.create_publisher(TFMessage, "/tf", QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE))

    def _make_tracked_publisher(self, topic: str) -> Any:
        if not topic:
            return None
        try:
            from hri_msgs.msg import IdsList
        except ImportError:
            self.get_logger().info("hri_msgs is not installed: tracked ids are only in the bodies "
                                   "messages (install hri_msgs for REP-155 humans/bodies/tracked)")
            return None
        return self.create_publisher(IdsList, topic, 10)

    # ------------------------------------------------------------- callbacks
    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = camera_model_from_camera_info(msg)
            self._camera_error = None
        except CameraModelError as error:
            self._camera = None
            if str(error) != self._camera_error:
                self.get_logger().warning(f"ignoring CameraInfo: {error}")
            self._camera_error = str(error)

    def _post(self, kind: str, msg: Any) -> None:
        with self._mailbox_cv:
            self._counters.received += 1
            if self._mailbox is not None:
                self._counters.dropped_overload += 1
            self._mailbox = (kind, msg, time.perf_counter())
            self._mailbox_cv.notify()

    def _work(self) -> None:
        self._preload_image_fitter()
        while not self._stop.is_set():
            with self._mailbox_cv:
                while self._mailbox is None and not self._stop.is_set():
                    self._mailbox_cv.wait(timeout=0.2)
                if self._stop.is_set():
                    return
                kind, msg, received = self._mailbox  # type: ignore[misc]
                self._mailbox = None
            try:
                self._process(kind, msg, received)
            except Exception as error:
                self.get_logger().error(f"frame dropped after an unexpected error: {error!r}")

    def _preload_image_fitter(self) -> None:
        """With an image input the keypoint format is known (the detector's): load and
        prepare its fitter now, in the worker, so the first camera frame is not held up
        for about a second. Keypoint topics name their format per message, so their
        fitters still load with the first message of each format."""
        if self._pipeline is None or not self.parameters.image_topic:
            return
        from lgd_ros.detect.blazepose import BLAZEPOSE33

        try:
            self._pipeline.preload([BLAZEPOSE33])
            self.get_logger().info(f"fitter for the image detector's {BLAZEPOSE33} keypoints "
                                   "loaded and prepared")
        except FittingError as error:
            # Reported again on every frame's output (fit_status NO_MODEL_LOADED).
            self.get_logger().error(f"cannot load the fitter for {BLAZEPOSE33}: {error}")

    # ------------------------------------------------------------ processing
    def _process(self, kind: str, msg: Any, received: float) -> None:
        stamp = _stamp_seconds(msg.header)
        camera = self._camera
        if camera is None:
            self._counters.rejected_no_camera += 1
            reason = self._camera_error or (
                f"no CameraInfo received on {self.resolve_topic_name(self.parameters.camera_info_topic)}")
            self.get_logger().warning(f"dropping frame stamped {stamp:.3f}: {reason}",
                                      throttle_duration_sec=2.0)
            return
        try:
            people = self._people(kind, msg)
            if self._pipeline is None:
                validate_observations(people)  # else the pipeline validates, once
        except (InvalidObservationError, ValueError) as error:
            self._counters.rejected_invalid += 1
            self.get_logger().warning(f"dropping {kind} message: {error}")
            return
        if self._pipeline is None:
            self._publish_unfitted(msg.header, people)
            return
        try:
            result = self._pipeline.process(stamp, people, camera)
        except InvalidObservationError as error:
            self._counters.rejected_invalid += 1
            self.get_logger().warning(f"dropping {kind} message: {error}")
            return
        except TrackingError as error:
            self._counters.rejected_out_of_order += 1
            self.get_logger().warning(str(error), throttle_duration_sec=2.0)
            return
        except FittingError as error:
            # Weights missing or made for another body model / format: say so on
            # every output instead of fitting with the wrong network.
            self.get_logger().error(str(error), throttle_duration_sec=10.0)
            self._publish_unfitted(msg.header, people, str(error))
            return
        self._publish(msg.header, result)
        if not self._gc_frozen:
            # After the first fit everything long-lived exists (torch, the body model,
            # the networks, the message types). Moving it out of the collector's view
            # keeps the periodic full collections (triggered by the thousands of
            # marker points built per frame) from scanning it: they cost 30+ ms and
            # made every ~12th frame miss its 33 ms slot.
            gc.collect()
            gc.freeze()
            self._gc_frozen = True
        now = time.perf_counter()
        self._counters.fitted += 1
        self._counters.failed_fits += sum(not b.success for b in result.bodies)
        self._latencies_ms.append((now - received) * 1e3)
        self._fit_ms.append(result.fit_seconds * 1e3)
        self._fitted_times.append(now)
        self._steps.extend(b.steps_used for b in result.bodies)

    def _people(self, kind: str, msg: Any) -> list[PersonObservation]:
        if kind == "keypoints":
            return observations_from_msg(msg)
        if self._detector is None:
            from lgd_ros.detect import BlazePoseConfig, BlazePoseDetector

            # A camera stream: follow people from their previous landmarks (the
            # person detector runs only while fewer than max_people are followed).
            self._detector = BlazePoseDetector(BlazePoseConfig(
                max_people=self.parameters.max_people, track_across_frames=True))
            self.get_logger().info(f"image detector: BlazePose ({self._detector.limitations})")
        return observations_from_detections(self._detector.detect(image_to_rgb(msg)))

    def _publish_unfitted(self, header: Header, people: list[PersonObservation],
                          reason: str = "") -> None:
        out = FittedBodyArray(header=header)
        for person in people:
            body = FittedBody(track_id=person.source_id, fit_status=FittedBody.NO_MODEL_LOADED)
            body.fit_status_message = reason or self.pipeline_error or "no learned fitter loaded"
            out.bodies.append(body)
        self._bodies_pub.publish(out)

    def _publish(self, header: Header, result: FrameResult) -> None:
        assert self._pipeline is not None
        p = self.parameters
        out = FittedBodyArray(header=header, body_model=self._pipeline.body_model.name,
                              body_model_fingerprint=self._pipeline.body_model.fingerprint)
        out.bodies = [body_outputs.fitted_body_msg(b) for b in result.bodies]
        self._bodies_pub.publish(out)
        good = [b for b in result.bodies if b.success]
        if self._tf_pub is not None and good:
            from tf2_msgs.msg import TFMessage

            transforms = [t for b in good for t in body_outputs.body_transforms(b, header)]
            self._tf_pub.publish(TFMessage(transforms=transforms))
        if p.publish_markers:
            self._publish_markers(header, good, result.ended_track_ids)
        if self._tracked_pub is not None:
            from hri_msgs.msg import IdsList

            self._tracked_pub.publish(IdsList(header=header, ids=[str(i) for i in result.tracked_ids]))

    def _publish_markers(self, header: Header, bodies: list[Any], ended: list[int]) -> None:
        p = self.parameters
        markers = MarkerArray()
        markers.markers = body_outputs.delete_markers(ended, header)
        for track_id in ended:
            self._last_mesh_time.pop(track_id, None)
        markers.markers += [body_outputs.skeleton_marker(b.track_id, b.joints, header, p.marker_lifetime_s)
                            for b in bodies]
        if bodies and p.mesh_rate_hz > 0:
            # At most one mesh per frame, for the body whose mesh is oldest: a mesh
            # message is thousands of points, and spreading them over frames keeps
            # every frame's publishing time short (and the latency flat).
            now = time.perf_counter()
            due = [b for b in bodies
                   if now - self._last_mesh_time.get(b.track_id, -np.inf) >= 1.0 / p.mesh_rate_hz]
            if due:
                body = min(due, key=lambda b: self._last_mesh_time.get(b.track_id, -np.inf))
                self._last_mesh_time[body.track_id] = now
                markers.markers += self._mesh_markers(header, [body])
        if markers.markers:
            self._markers_pub.publish(markers)

    def _mesh_markers(self, header: Header, bodies: list[Any]) -> list[Any]:
        assert self._mesh is not None  # decimated at start-up
        return [body_outputs.mesh_marker(b.track_id, v, self._mesh.faces, header, self.parameters.marker_lifetime_s)
                for b, v in zip(bodies, self._mesh.vertices(bodies), strict=True)]

    def _publish_diagnostics(self) -> None:
        c = self._counters
        now = time.perf_counter()
        recent = [t for t in self._fitted_times if now - t <= 5.0]
        rate = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        status = DiagnosticStatus(name=f"{self.get_name()}: body fitting", hardware_id="lgd_ros")
        problems = []
        if self._pipeline is None:
            problems.append(self.pipeline_error)
        if self._camera is None:
            problems.append("no usable CameraInfo")
        if c.dropped_overload:
            problems.append(f"{c.dropped_overload} frame(s) dropped: fitting slower than input")
        status.level = DiagnosticStatus.ERROR if self._pipeline is None else (
            DiagnosticStatus.WARN if problems else DiagnosticStatus.OK)
        status.message = "; ".join(problems) if problems else "fitting"

        def median(values: Any) -> str:
            return f"{statistics.median(values):.2f}" if values else "nan"

        values = {
            "frames_received": c.received, "frames_fitted": c.fitted,
            "frames_dropped_overload": c.dropped_overload,
            "frames_rejected_invalid": c.rejected_invalid,
            "frames_rejected_no_camera_info": c.rejected_no_camera,
            "frames_rejected_out_of_order": c.rejected_out_of_order,
            "failed_fits": c.failed_fits, "fit_rate_hz": f"{rate:.2f}",
            "latency_median_ms": median(self._latencies_ms), "fit_median_ms": median(self._fit_ms),
            "steps_used_median": median(self._steps),
            "tracked_bodies": len(self._pipeline.tracker.track_ids) if self._pipeline else 0,
        }
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        self._stop.set()
        with self._mailbox_cv:
            self._mailbox_cv.notify_all()
        self._worker.join(timeout=5)
        if self._detector is not None:
            self._detector.close()
        super().destroy_node()


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
    except ParameterError as error:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"invalid parameter: {error}")
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
