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
The depth node as a managed (lifecycle) node, for Nav2's lifecycle_manager.

Same parameters, topics and outputs as ``depth_node``; the work follows the lifecycle states:

- configure: validate the parameters and load the model (a failure, such as a missing model
  file, is logged and leaves the node unconfigured: fix the parameter and configure again);
- activate: subscribe and start publishing (``ros.depth_runner.DepthRunner``);
- deactivate: unsubscribe and stop, after the frame in flight;
- cleanup: free the model; shutdown: all of it.

Parameters that need a restart in ``depth_node`` can be set while the node is unconfigured
and are refused in the other states. ``/diagnostics`` carries the state in every state.

Run: ``ros2 run msdepth_ros depth_node_managed --ros-args -p model:=model.onnx``, then
``ros2 lifecycle set /depth_node configure`` and ``activate`` (or a lifecycle_manager).
"""

from __future__ import annotations

import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from msdepth_ros.inference.backend import Backend
from msdepth_ros.msgs import topics
from msdepth_ros.ros.config import ConfigError, NodeConfig, PARAMETERS_BY_NAME
from msdepth_ros.ros.depth_runner import DepthRunner
from msdepth_ros.ros.node_runtime import (log_changes, publish_status, ready_line, release,
                                          run_node)
from msdepth_ros.ros.parameters import (changed_config, declare_parameters, load_model,
                                        StartupError)
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

NODE_NAME = 'depth_node'
EXECUTABLE = 'depth_node_managed'


class ManagedDepthNode(LifecycleNode):
    """
    ``depth_node`` under lifecycle control (DESIGN.md section 5).

    Parameters
    ----------
    kwargs:
        Passed to ``rclpy.lifecycle.LifecycleNode`` (``context``, ``parameter_overrides`` ...).

    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._config: NodeConfig | None = None
        self._backend: Backend | None = None
        self._notes: list[str] = []
        self._runner: DepthRunner | None = None
        self._last_error = ''
        self._destroyed = False
        self._values = declare_parameters(self, read_only=False)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray,
                                                      topics.DIAGNOSTICS, 10)
        # Its range is enforced by the parameter's descriptor.
        self.create_timer(float(self._values['diagnostics_period_s']),
                          self._publish_diagnostics)
        self.get_logger().info('unconfigured: configure loads the model, activate starts the '
                               'depth outputs')

    @property
    def state_label(self) -> str:
        """``unconfigured``, ``inactive``, ``active``, ``finalized`` or a transition's."""
        return self._state_machine.current_state[1]

    # -- transitions ------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate the parameters and load the model."""
        try:
            self._config, self._backend, self._notes = load_model(self._values)
        except StartupError as exc:
            self._last_error = str(exc)
            self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._last_error = ''
        for note in self._notes:
            self.get_logger().warning(note)
        info = self._backend.info
        self.get_logger().info(f'configured: {info.name} backend on {info.device}, model '
                               f'{info.model_path}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe and start publishing."""
        try:
            self._runner = DepthRunner(self, self._config, self._backend, self._notes)
        except Exception as exc:  # noqa: B902 - a failed transition must not kill the node
            self._last_error = f'activate failed: {type(exc).__name__}: {exc}'
            self.get_logger().error(self._last_error)
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(ready_line(self._backend, self._runner))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and stop after the frame in flight."""
        self._stop_runner()
        self.get_logger().info('deactivated: no subscriptions, no outputs')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model."""
        self._release()
        self.get_logger().info('cleaned up: the model is unloaded')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and free everything."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free everything after an error in a transition (back to unconfigured)."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_runner(self) -> bool:
        runner, self._runner = self._runner, None
        if runner is None:
            return True
        finished = runner.close()
        if not finished:
            # The frame in flight still uses the backend: never free it under it.
            self.get_logger().warning('the frame in flight has not finished; the model stays '
                                      'loaded until the process exits')
            self._backend = None
        return finished

    def _release(self) -> None:
        runner, self._runner = self._runner, None
        backend, self._backend = self._backend, None
        release(self, runner, backend)
        self._config = None

    # -- parameters -------------------------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        label = self.state_label
        restart = [p.name for p in params
                   if p.name in PARAMETERS_BY_NAME and PARAMETERS_BY_NAME[p.name].read_only]
        if restart and label != 'unconfigured':
            return SetParametersResult(
                successful=False,
                reason=f'{", ".join(restart)} can only change while the node is unconfigured '
                       f'(it is {label}): deactivate and clean up first')
        changes = {p.name: p.value for p in params}
        if label == 'unconfigured':
            # Checked when configuring (the model file may not exist yet).
            self._values.update({n: v for n, v in changes.items() if n in self._values})
            return SetParametersResult(successful=True)
        try:
            values, config = changed_config(self._values, changes, self._backend)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self._values, self._config = values, config
        if self._runner is not None:
            self._runner.config = config
            self._runner.set_log_throttle(config.log_throttle_s)
        log_changes(self, params, values)
        return SetParametersResult(successful=True)

    # -- diagnostics ------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        publish_status(self, self._pub_diagnostics, self._status)

    def _status(self) -> DiagnosticStatus:
        name = f'{self.get_fully_qualified_name()}: depth'
        label = self.state_label
        runner = self._runner
        if runner is not None and label == 'active':
            return runner.status(name, extra_static=[('lifecycle state', label)])
        status = DiagnosticStatus(name=name, hardware_id='')
        if self._last_error:
            status.level, status.message = DiagnosticStatus.ERROR, self._last_error
        else:
            status.level = DiagnosticStatus.OK
            status.message = {'unconfigured': 'unconfigured: no model loaded',
                              'inactive': 'inactive: model loaded, not subscribed'}.get(
                                  label, label)
        status.values = [KeyValue(key='lifecycle state', value=label)]
        if self._backend is not None:
            status.hardware_id = f'{self._backend.info.name} {self._backend.info.device}'
            status.values.append(KeyValue(key='model', value=self._backend.info.model_path))
        return status

    def destroy_node(self) -> None:
        """Stop and free everything, then destroy the node; idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        self._release()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the managed depth node until Ctrl-C or shut-down; return the exit status."""
    return run_node(ManagedDepthNode, EXECUTABLE, args)


if __name__ == '__main__':
    sys.exit(main())
