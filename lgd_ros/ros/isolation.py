"""Keep ROS 2 traffic of tests, benchmarks and demos on this machine's loopback.

Three settings together, because none is enough alone (see
``shared/notes/ros2.md``): a Fast DDS profile whose only transport is UDPv4 on
``lo`` with the builtin transports off; ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``
so discovery uses unicast peers on 127.0.0.1 instead of multicast; and a
``ROS_DOMAIN_ID`` of our own so concurrent runs on one machine never match.

Checked with strace on Fast DDS 3.2.3 (rmw_fastrtps_cpp 9.3.3): every datagram
goes to 127.0.0.1. With the discovery range set, Fast DDS still binds two
unused send sockets to other interfaces; nothing is ever sent through them.

This module does not import rclpy: it only prepares environments.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

# Domain ids 0..101 and 215..232 are the ones Fast DDS maps to ports below the
# Linux ephemeral range with the default port settings; stay inside 1..101.
_MIN_DOMAIN_ID = 1
_MAX_DOMAIN_ID = 101


def loopback_profile_path() -> Path:
    """Path of the loopback-only Fast DDS XML profile shipped in the package."""
    return Path(str(resources.files("lgd_ros.ros") / "data" / "fastdds_loopback.xml"))


def pick_domain_id(seed: int | None = None) -> int:
    """A domain id unlikely to collide with another run on this machine.

    Mixes the process id with randomness, so parallel test runs (several
    developers' agents, CI) on one host pick different domains.
    """
    rng = random.Random(seed if seed is not None else (os.getpid() << 16) ^ random.getrandbits(32))
    return rng.randint(_MIN_DOMAIN_ID, _MAX_DOMAIN_ID)


def loopback_environment(domain_id: int | None = None,
                         base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a ROS process confined to loopback on its own domain.

    Args:
        domain_id: ROS_DOMAIN_ID to use; a fresh one from :func:`pick_domain_id` if None.
        base: environment to extend (default: ``os.environ``).

    Returns:
        A new dict; ``base`` is not modified.
    """
    env = dict(os.environ if base is None else base)
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(loopback_profile_path())
    if _is_pre_iron(env):
        # Humble's Fast DDS 2.6 reads only the FASTRTPS_ name (newer ones warn about it).
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(loopback_profile_path())
    else:
        env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_LOCALHOST_ONLY"] = "1" if _is_pre_iron(env) else env.get("ROS_LOCALHOST_ONLY", "0")
    env["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    env["ROS_DOMAIN_ID"] = str(pick_domain_id() if domain_id is None else domain_id)
    env.pop("ROS_STATIC_PEERS", None)
    env.pop("ROS_DISCOVERY_SERVER", None)
    return env


def apply_loopback_environment(domain_id: int | None = None) -> dict[str, str]:
    """Confine this process (and the children it starts) to loopback.

    Must run before ``rclpy.init()``: rmw reads these variables when it
    creates the DDS participant.
    """
    env = loopback_environment(domain_id)
    os.environ.update(env)
    for name in ("ROS_STATIC_PEERS", "ROS_DISCOVERY_SERVER"):
        os.environ.pop(name, None)
    return env


def _is_pre_iron(env: Mapping[str, str]) -> bool:
    # Humble has no ROS_AUTOMATIC_DISCOVERY_RANGE; ROS_LOCALHOST_ONLY is its
    # equivalent (deprecated and a warning from Jazzy on, so only set there).
    return env.get("ROS_DISTRO", "") in {"humble", "galactic", "foxy"}
