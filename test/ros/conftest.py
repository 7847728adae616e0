"""Fixtures for tests over real DDS: a real rclpy node in the test process, and
node executables started in their own processes with params files and remaps."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (make test installs it)")
msg = pytest.importorskip("lgd_ros.msg", reason="lgd_ros messages are not built: run `make msgs`")

from lgd_ros.ros.node_process import NodeProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIT_PARAMS = REPO / "config" / "fit.yaml"
_node_counter = itertools.count()


@pytest.fixture(scope="session")
def rclpy_context() -> Iterator[None]:
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def test_node(rclpy_context: None) -> Iterator[rclpy.node.Node]:
    node = rclpy.create_node(f"lgd_test_client_{next(_node_counter)}")
    yield node
    node.destroy_node()


@pytest.fixture
def start_node(ros_domain_id: int) -> Iterator[Callable[..., NodeProcess]]:
    """Factory: ``start_node(module=..., params_file=..., remaps=..., parameters=...)``.

    Every process started is stopped (SIGINT, then SIGKILL) at teardown, and
    its log is printed if the test failed.
    """
    started: list[NodeProcess] = []

    def start(module: str = "lgd_ros.ros.fit_node", **kwargs: object) -> NodeProcess:
        kwargs.setdefault("params_file", FIT_PARAMS)
        process = NodeProcess(module, domain_id=ros_domain_id, **kwargs)  # type: ignore[arg-type]
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()
        print(f"--- log of {' '.join(process.command)} ---\n{process.log()}")
