"""End-to-end latency of the fitting node over DDS on loopback.

A test client publishes keypoints of 1 and 3 synthetic people at 30 Hz to a
fit_node process and times each FittedBodyArray's arrival against its
keypoints' publication (same clock, same machine). Also reports the fraction of
frames the node dropped to stay current.

Baseline printed alongside: a DDS round trip through the same node with the
fitter not loaded (NO_MODEL_LOADED path), i.e. the transport + validation
cost without fitting, measured in the same run.

Run: make bench, or ./tools/with_ros_env.sh .venv/bin/python -m benchmarks.bench_node
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(people_count: int, frames: int, rate_hz: float, parameters: dict[str, str],
            node_label: str) -> dict[str, float]:
    import os

    import rclpy

    from lgd_ros.ros.node_process import NodeProcess
    from lgd_ros.ros.testing import FitNodeClient
    from lgd_ros.tracking.scene import WalkingPerson, default_intrinsics, walking_scene

    people = [WalkingPerson(x0=-1.2 + 1.2 * i, depth=3.0 + 0.7 * i, speed=0.3 * (-1) ** i,
                            clip_offset=5 * i, betas_seed=i) for i in range(people_count)]
    scene = walking_scene(people, frames, fps=rate_hz, noise_px=1.0)
    domain = int(os.environ["ROS_DOMAIN_ID"])
    with NodeProcess("lgd_ros.ros.fit_node", domain_id=domain, parameters=parameters) as process:
        node = rclpy.create_node(f"lgd_bench_client_{node_label}_{people_count}")
        client = FitNodeClient(node, collect_outputs=False)
        client.wait_connected(timeout=30)
        client.make_ready(default_intrinsics(), client.keypoints_msg(scene[0].stamp - 50, scene[0].people))
        # Warm up (first fits pay lazy loading), then measure.
        for frame in scene[:10]:
            client.keypoints_pub.publish(client.keypoints_msg(frame.stamp - 20, frame.people))
            client.bodies.spin_for(1 / rate_hz)
        client.bodies.spin_for(0.5)
        client.bodies.clear()
        sent_at: dict[tuple[int, int], float] = {}
        period = 1.0 / rate_hz
        start = time.perf_counter()
        for index, frame in enumerate(scene):
            msg = client.keypoints_msg(frame.stamp, frame.people)
            sent_at[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.perf_counter()
            client.keypoints_pub.publish(msg)
            # Spin until the next frame is due (keeps a steady 30 Hz schedule).
            deadline = start + (index + 1) * period
            while time.perf_counter() < deadline:
                rclpy.spin_once(node, timeout_sec=max(0.0, deadline - time.perf_counter()))
        client.bodies.spin_for(1.0)
        latencies = []
        for message, arrived in zip(client.bodies.messages, client.bodies.arrival_times):
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            if key in sent_at:
                latencies.append((arrived - sent_at[key]) * 1e3)
        node.destroy_node()
        process.assert_running()
    return {"people": people_count, "frames": frames, "received": len(latencies),
            "median_ms": statistics.median(latencies) if latencies else float("nan"),
            "p95_ms": _percentile(latencies, 95), "dropped": 1 - len(latencies) / frames}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per measurement (default 150 = 5 s)")
    parser.add_argument("--rate", type=float, default=30.0, help="publishing rate in Hz (default 30)")
    args = parser.parse_args(argv)

    from lgd_ros.ros.isolation import apply_loopback_environment

    apply_loopback_environment()
    import rclpy

    rclpy.init()
    rows = []
    try:
        for people in (1, 3):
            baseline = measure(people, args.frames, args.rate,
                               {"body_model_path": "/nonexistent/no_model.npz"}, "baseline")
            fitted = measure(people, args.frames, args.rate, {}, "fit")
            rows.append((people, fitted, baseline))
    finally:
        rclpy.try_shutdown()
    print(f"\n### fit_node end-to-end latency, keypoints published at {args.rate:.0f} Hz "
          f"({args.frames} frames), this CPU\n")
    print("| people | median ms | p95 ms | dropped | baseline median ms (no fitting) | median / baseline |")
    print("|---:|---:|---:|---:|---:|---:|")
    for people, fitted, baseline in rows:
        print(f"| {people} | {fitted['median_ms']:.2f} | {fitted['p95_ms']:.2f} | "
              f"{100 * fitted['dropped']:.1f}% | {baseline['median_ms']:.2f} | "
              f"{fitted['median_ms'] / baseline['median_ms']:.1f}x |")
    print("\nGoal (issue 6): median under 10 ms and no drops for 3 people.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
