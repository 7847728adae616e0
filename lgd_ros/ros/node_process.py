"""Run a ROS node executable in its own process, confined to loopback.

Used by the tests, the benchmarks and the demo to exercise nodes exactly as
users run them (``fit_node --ros-args --params-file ... -r from:=to``), over
real DDS between processes. ROS-free itself: it only starts processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from lgd_ros.ros.isolation import loopback_environment


class NodeProcessError(RuntimeError):
    """A node process failed to start or died unexpectedly."""


class NodeProcess:
    """One node running as ``python -m <module>`` with ROS arguments.

    The process's stdout and stderr go to a log file (readable with
    :meth:`log`), so a failing test can show what the node said.

    Args:
        module: Python module whose ``main()`` runs the node, e.g. ``lgd_ros.ros.fit_node``.
        params_file: ROS parameters YAML passed with ``--params-file``.
        remaps: topic remappings ``{from: to}``.
        parameters: single parameters passed with ``-p name:=value``.
        node_name: overrides the node's name (``-r __node:=name``).
        domain_id: ROS_DOMAIN_ID; must match the test process's.
        executable: run this program instead of ``python -m module``.
        env: extra environment variables.
    """

    def __init__(self, module: str = "lgd_ros.ros.fit_node", *,
                 params_file: str | Path | None = None,
                 remaps: Mapping[str, str] | None = None,
                 parameters: Mapping[str, str] | None = None,
                 node_name: str | None = None,
                 domain_id: int,
                 executable: Sequence[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        command = list(executable) if executable else [sys.executable, "-m", module]
        ros_args: list[str] = []
        if params_file is not None:
            ros_args += ["--params-file", str(params_file)]
        for name, value in (parameters or {}).items():
            ros_args += ["-p", f"{name}:={value}"]
        for source, target in (remaps or {}).items():
            ros_args += ["-r", f"{source}:={target}"]
        if node_name:
            ros_args += ["-r", f"__node:={node_name}"]
        if ros_args:
            command += ["--ros-args", *ros_args]
        self.command = command
        self._env = loopback_environment(domain_id)
        self._env["PYTHONUNBUFFERED"] = "1"
        # Installed node scripts start with `#!/usr/bin/env python3`: make that
        # resolve to this interpreter (the venv's), not whatever is first on PATH.
        self._env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                             self._env.get("PATH", "")])
        self._env.update(env or {})
        self._log_file = tempfile.NamedTemporaryFile(
            prefix="lgd_ros_node_", suffix=".log", delete=False)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeProcess:
        # A new session so that stop() can signal the whole process group
        # (the ROS wheels' bootstrapper re-executes python once).
        self._process = subprocess.Popen(self.command, env=self._env, stdout=self._log_file,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        if self._process is None:
            raise NodeProcessError("node process not started")
        return self._process.pid

    def poll(self) -> int | None:
        """Exit code, or None while running."""
        return None if self._process is None else self._process.poll()

    def assert_running(self) -> None:
        code = self.poll()
        if code is not None:
            raise NodeProcessError(f"node exited with code {code}; its log:\n{self.log()}")

    def log(self) -> str:
        self._log_file.flush()
        return Path(self._log_file.name).read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGINT (a node's clean shutdown path), then SIGKILL if it hangs."""
        if self._process is None or self._process.poll() is not None:
            return None if self._process is None else self._process.returncode
        try:
            os.killpg(self._process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return self._process.returncode
            time.sleep(0.05)
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self._process.wait(timeout=5)

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        Path(self._log_file.name).unlink(missing_ok=True)
