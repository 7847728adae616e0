"""Test-session set-up shared by every area.

ROS isolation is applied before any test imports rclpy: every ROS process
started by the tests (the test process itself and node processes) talks only
over loopback on a domain id of this run's own.
"""

from __future__ import annotations

import os

import pytest
import torch

from lgd_ros.ros.isolation import apply_loopback_environment

ROS_ENVIRONMENT = apply_loopback_environment()

# Two cores, shared: keep torch from oversubscribing them in tests.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def ros_domain_id() -> int:
    return int(ROS_ENVIRONMENT["ROS_DOMAIN_ID"])
