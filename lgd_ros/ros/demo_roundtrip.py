"""A small live demo over DDS: start the fitting node, send it people, print what comes back.

Run with ``lgd-ros demo --live`` (or ``python -m lgd_ros.ros.demo_roundtrip``). Everything stays on
loopback on a domain id of its own.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def run(frames: int = 30, rate_hz: float = 30.0) -> int:
    from lgd_ros.ros.isolation import apply_loopback_environment

    env = apply_loopback_environment()
    import rclpy
    from sensor_msgs.msg import CameraInfo

    from lgd_ros.msg import FittedBodyArray, PersonKeypoints, PersonKeypointsArray
    from lgd_ros.ros.conversions import fill_camera_info, fill_person_keypoints
    from lgd_ros.ros.node_process import NodeProcess
    from lgd_ros.ros.testing import MessageCollector, wait_for_publishers, wait_for_subscribers

    matrix = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])
    rng = np.random.default_rng(0)
    with NodeProcess("lgd_ros.ros.fit_node", domain_id=int(env["ROS_DOMAIN_ID"])) as process:
        rclpy.init()
        node = rclpy.create_node("lgd_demo_client")
        keypoints_pub = node.create_publisher(PersonKeypointsArray, "keypoints", 10)
        camera_pub = node.create_publisher(CameraInfo, "camera_info", 10)
        bodies = MessageCollector(node, FittedBodyArray, "bodies")
        wait_for_subscribers(node, keypoints_pub)
        wait_for_publishers(node, bodies.subscription)
        sent = 0
        start = time.perf_counter()
        for index in range(frames):
            camera_pub.publish(fill_camera_info(CameraInfo(), matrix, 640, 480, "camera_optical"))
            msg = PersonKeypointsArray()
            msg.header.frame_id = "camera_optical"
            msg.header.stamp = node.get_clock().now().to_msg()
            keypoints = rng.uniform([250, 120], [390, 420], size=(17, 2))
            msg.people.append(fill_person_keypoints(PersonKeypoints(), keypoints, np.full(17, 0.9),
                                                    "coco17", person_id=0))
            keypoints_pub.publish(msg)
            sent += 1
            bodies.spin_for(1.0 / rate_hz)
            if index == 0:
                bodies.spin_for(0.5)
        bodies.spin_for(1.0)
        elapsed = time.perf_counter() - start
        received = bodies.messages
        print(f"lgd_ros live demo: sent {sent} keypoint messages in {elapsed:.1f} s, "
              f"received {len(received)} body arrays (domain {env['ROS_DOMAIN_ID']}, loopback only)")
        for message in received[-1:]:
            for body in message.bodies:
                print(f"  track {body.track_id}: status {body.fit_status} {body.fit_status_message!r}, "
                      f"transl=({body.translation.x:.2f}, {body.translation.y:.2f}, "
                      f"{body.translation.z:.2f}) m, reprojection {body.mean_reprojection_error_px:.1f} px")
        node.destroy_node()
        rclpy.try_shutdown()
        process.assert_running()
    return 0 if received else 1


if __name__ == "__main__":
    sys.exit(run())
