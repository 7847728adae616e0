"""rclpy helpers for talking to nodes from a test, benchmark or demo process.

Waiting is done by spinning and checking a condition, never by sleeping
blindly: discovery between processes takes anywhere from milliseconds to a few
seconds, and messages published before a subscriber matched are lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

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
