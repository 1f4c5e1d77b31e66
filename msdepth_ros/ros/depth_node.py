# Copyright 2026 The msdepth_ros Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The depth node: camera image (+ camera info) in; depth image, its camera info, points out.

Plumbing only. Parameters are declared and the model loaded by ``ros.parameters``; the
subscriptions, publishers, worker thread and status are ``ros.depth_runner.DepthRunner``;
frames run through ``ros.pipeline.DepthPipeline``. The managed (lifecycle) variant is
``ros.managed_node``.

Run: ``ros2 run msdepth_ros depth_node --ros-args -p model:=model.pt -r image:=/camera/image``
(without ``model`` the package's demo model runs, with a warning).
"""

from __future__ import annotations

import signal
import sys
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.ros import config as cfgmod
from msdepth_ros.ros.config import ConfigError
from msdepth_ros.ros.depth_runner import DepthRunner
from msdepth_ros.ros.parameters import (changed_config, declare_parameters, EXIT_BAD_MODEL,
                                        EXIT_BAD_PARAMETER, load_model, StartupError)
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter

NODE_NAME = 'depth_node'

__all__ = ['DepthNode', 'EXIT_BAD_MODEL', 'EXIT_BAD_PARAMETER', 'main', 'run_node',
           'StartupError']


class DepthNode(Node):
    """
    Metric depth from a monocular camera (DESIGN.md section 5).

    Parameters
    ----------
    kwargs:
        Passed to ``rclpy.node.Node`` (``context``, ``parameter_overrides`` ...).

    Raises
    ------
    StartupError
        A parameter value or the model cannot be used; the node is destroyed.

    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._runner: DepthRunner | None = None
        self._backend = None
        self._destroyed = False
        try:
            self._values = declare_parameters(self)
            self._config, self._backend, notes = load_model(self._values)
            for note in notes:
                self.get_logger().warning(note)
            self._runner = DepthRunner(self, self._config, self._backend, notes)
        except BaseException:
            self.destroy_node()
            raise
        self._pub_diagnostics = self.create_publisher(DiagnosticArray,
                                                      cfgmod.TOPIC_DIAGNOSTICS, 10)
        self.create_timer(self._config.diagnostics_period_s, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(ready_line(self._backend, self._runner))

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        try:
            values, config = changed_config(self._values, {p.name: p.value for p in params},
                                            self._backend)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        # Callbacks run on the executor thread only; the worker reads the config once per
        # frame, so swapping the reference is enough.
        self._values, self._config = values, config
        self._runner.config = config
        self._runner.set_log_throttle(config.log_throttle_s)
        log_changes(self, params, values)
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        publish_status(self, self._pub_diagnostics,
                       lambda: self._runner.status(f'{self.get_fully_qualified_name()}: depth'))

    def destroy_node(self) -> None:
        """Stop the worker (after the frame in flight), release the backend, destroy the node."""
        if self._destroyed:
            return
        self._destroyed = True
        release(self, self._runner, self._backend)
        super().destroy_node()


def ready_line(backend: Any, runner: DepthRunner) -> str:
    """Return the log line that says the node runs, on what, from where."""
    info = backend.info
    memory = info.details.get('memory')
    return (f'ready: {info.name} backend on {info.device} ({info.precision}'
            + (f', GPU buffers from {memory}' if memory else '') + '), model '
            f'{info.model_path}, preset {backend.preset.name}; input {runner.input_topic}, '
            f'intrinsics from {runner.intrinsics_source}')


def log_changes(node: Node, params: list[Parameter], values: dict[str, Any]) -> None:
    """Log the parameters a run-time change set."""
    changed = ', '.join(f'{p.name}={p.value!r}' for p in params if p.name in values)
    if changed:
        node.get_logger().info(f'parameters changed: {changed}')


def publish_status(node: Node, publisher: Any, status: Callable[[], Any]) -> None:
    """Publish one ``/diagnostics`` array; a failure is logged, never raised."""
    try:
        array = DiagnosticArray()
        array.header.stamp = node.get_clock().now().to_msg()
        array.status = [status()]
        publisher.publish(array)
    except Exception as exc:  # noqa: B902 - diagnostics must never stop the node
        node.get_logger().warning(f'could not publish diagnostics: {exc}',
                                  throttle_duration_sec=10.0)


def release(node: Node, runner: DepthRunner | None, backend: Any) -> None:
    """
    Close ``runner``, then the backend, but never under a running inference.

    When the worker is still inside a backend call after ``runner.close``'s wait, the backend's
    buffers are left to the process exit (freeing them could crash the call), with a log line.
    """
    finished = True if runner is None else runner.close()
    if backend is None:
        return
    if finished:
        backend.close()
    else:
        node.get_logger().warning('the frame in flight has not finished: leaving the backend '
                                  'to the process exit instead of freeing it under it')


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """
    Init rclpy, build the node, spin it until Ctrl-C or shut-down, clean up once.

    A second Ctrl-C during clean-up (``ros2 launch`` sends SIGINT, and a terminal sends its own
    to the whole process group) is ignored, so that the node is destroyed cleanly and leaves
    the graph, and the process exits 0 without a traceback.
    """
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: B902 - rcl reports bad --ros-args as a generic RCLError
        print(f'{name}: cannot start: {str(exc).splitlines()[0]}', file=sys.stderr)
        return EXIT_BAD_PARAMETER
    node = None
    status = 0
    try:
        node = make_node()
        rclpy.spin(node)
    except StartupError as exc:
        get_logger(name).fatal(str(exc))
        status = exc.exit_code
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _ignore_interrupts()
        try:
            if node is not None:
                node.destroy_node()
        finally:
            rclpy.try_shutdown()
    return status


def _ignore_interrupts() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:
            pass  # not the main thread (tests that run main in a thread)


def main(args: list[str] | None = None) -> int:
    """Run the depth node until Ctrl-C or shut-down; return the exit status."""
    return run_node(DepthNode, NODE_NAME, args)


if __name__ == '__main__':
    sys.exit(main())
