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
frames run through ``pipeline.depth.DepthPipeline``; ``main`` is ``ros.node_runtime.run_node``.
The managed (lifecycle) variant is ``ros.managed_node``.

Run: ``ros2 run msdepth_ros depth_node --ros-args -p model:=model.pt -r image:=/camera/image``
(without ``model`` the package's demo model runs, with a warning).
"""

from __future__ import annotations

import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.msgs import topics
from msdepth_ros.ros.config import ConfigError
from msdepth_ros.ros.depth_runner import DepthRunner
from msdepth_ros.ros.node_runtime import (log_changes, publish_status, ready_line, release,
                                          run_node)
from msdepth_ros.ros.parameters import changed_config, declare_parameters, load_model
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

NODE_NAME = 'depth_node'


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
                                                      topics.DIAGNOSTICS, 10)
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


def main(args: list[str] | None = None) -> int:
    """Run the depth node until Ctrl-C or shut-down; return the exit status."""
    return run_node(DepthNode, NODE_NAME, args)


if __name__ == '__main__':
    sys.exit(main())
