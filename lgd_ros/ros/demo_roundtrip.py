"""A small live demo over DDS: start the fitting node, send it people, print what comes back.

Run with ``lgd-ros live-demo`` (or ``python -m lgd_ros.ros.demo_roundtrip``). The people are
synthetic walkers replaying held-out MoCap clips (:mod:`lgd_ros.tracking.scene`).
Everything stays on loopback on a domain id of its own.
"""

from __future__ import annotations

import sys
import time


def run(frames: int = 30, rate_hz: float = 30.0) -> int:
    from lgd_ros.ros.isolation import apply_loopback_environment

    env = apply_loopback_environment()
    import rclpy

    from lgd_ros.ros.node_process import NodeProcess
    from lgd_ros.ros.testing import FitNodeClient
    from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

    scene = walking_scene([WalkingPerson(x0=-0.5, depth=3.5, speed=0.4)], frames, fps=rate_hz,
                          noise_px=1.0)
    with NodeProcess("lgd_ros.ros.fit_node", domain_id=int(env["ROS_DOMAIN_ID"])) as process:
        rclpy.init()
        node = rclpy.create_node("lgd_demo_client")
        client = FitNodeClient(node, collect_outputs=False)
        client.wait_connected(timeout=30)
        # CameraInfo is taken best effort: send it until a probe frame is answered.
        client.make_ready(default_intrinsics(), client.keypoints_msg(scene[0].stamp - 50, scene[0].people))
        client.bodies.clear()
        start = time.perf_counter()
        for frame in scene:
            client.keypoints_pub.publish(client.keypoints_msg(frame.stamp, frame.people))
            client.bodies.spin_for(1.0 / rate_hz)
        client.bodies.spin_for(1.0)
        elapsed = time.perf_counter() - start
        received = client.bodies.messages
        print(f"lgd_ros live demo: sent {len(scene)} keypoint messages in {elapsed:.1f} s, "
              f"received {len(received)} body arrays (domain {env['ROS_DOMAIN_ID']}, loopback only)")
        for message in received[-1:]:
            for body in message.bodies:
                print(f"  track {body.track_id}: status {body.fit_status} {body.fit_status_message!r}, "
                      f"transl=({body.translation.x:.2f}, {body.translation.y:.2f}, "
                      f"{body.translation.z:.2f}) m (true z {scene[-1].true_transl[0, 2]:.2f}), "
                      f"reprojection {body.mean_reprojection_error_px:.1f} px, "
                      f"{'warm' if body.warm_started else 'cold'}, {body.steps_used} steps")
        node.destroy_node()
        rclpy.try_shutdown()
        process.assert_running()
    return 0 if received else 1


if __name__ == "__main__":
    sys.exit(run())
