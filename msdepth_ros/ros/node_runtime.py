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
What every node of the package does around its own work: run, report, change, release.

``run_node`` is each node's ``main``: rclpy init, build, spin, one clean-up that a second
Ctrl-C cannot interrupt, and the exit status (``ros.parameters.StartupError``'s code when the
node cannot start). ``publish_status`` publishes one ``/diagnostics`` array without ever
raising; ``log_changes`` logs a run-time parameter change; ``release`` closes a depth runner
and its backend in the safe order; ``ready_line`` is the depth nodes' start-up line.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, Callable, TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.ros.parameters import EXIT_BAD_PARAMETER, StartupError
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter

if TYPE_CHECKING:
    from msdepth_ros.ros.depth_runner import DepthRunner


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
