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
The LIDAR evaluation node's parameter table, its config and its YAML files, checked together.

The YAML files are also read by rcl's own parameter-file parser, and the table is declared on a
real rclpy node through the depth node's ``declare_parameters``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import REPO_ROOT
from msdepth_ros.core.metrics import (CROPS, KITTI_MAX_DEPTH_M, KITTI_MIN_DEPTH_M, METRIC_NAMES,
                                      NYU_MAX_DEPTH_M)
from msdepth_ros.core.transforms import matrix_to_quaternion
from msdepth_ros.msgs import topics
from msdepth_ros.ros.config import ConfigError
from msdepth_ros.ros.eval_config import (EvalConfig, INPUT_TOPICS, METRICS_LAYOUT, NODE_NAME,
                                         PARAMETERS, PARAMETERS_BY_NAME)
import numpy as np
import pytest
import yaml

CONFIGS = sorted((REPO_ROOT / 'config').glob('lidar_eval*.yaml'))
#: Parameters that can change while the node runs.
RUN_TIME = {'eval_warn_no_transform', 'log_throttle_s'}


def _yaml_parameters(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding='utf-8'))
    assert list(data) == ['/**'], f'{path.name}: one section for any node name'
    return data['/**']['ros__parameters']


def test_table_and_config_have_the_same_names_and_the_depth_node_none_of_them():
    assert [spec.name for spec in PARAMETERS] == list(EvalConfig.__dataclass_fields__)
    assert len(PARAMETERS_BY_NAME) == len(PARAMETERS)
    for spec in PARAMETERS:
        assert spec.description.endswith('.') and spec.type_name, spec.name
    assert {spec.name for spec in PARAMETERS if not spec.read_only} == RUN_TIME
    assert PARAMETERS_BY_NAME['eval_crop'].choices == ('none',) + tuple(sorted(CROPS))
    assert topics.LIDAR == 'lidar_points' and topics.CAMERA_INFO in INPUT_TOPICS
    assert METRICS_LAYOUT == (*METRIC_NAMES, 'points', 'occupancy_precision', 'occupancy_recall',
                              'occupancy_iou', 'cells_tp', 'cells_fp', 'cells_fn')


def test_defaults_and_the_fixed_transform_read_back():
    config = EvalConfig.from_parameters({})
    assert config.eval_transform_source == 'tf' and config.fixed_T_cam_lidar() is None
    assert (config.eval_min_depth_m, config.eval_max_depth_m) == (KITTI_MIN_DEPTH_M,
                                                                  KITTI_MAX_DEPTH_M)
    assert config.crop is None
    # KITTI's camera 2 <- velodyne: x forward, y left, z up into x right, y down, z forward.
    rotation = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    qx, qy, qz, qw = matrix_to_quaternion(rotation)
    config = EvalConfig.from_parameters({
        'eval_transform_source': 'parameters', 'eval_crop': 'garg', 'eval_lidar_x_m': 0.06,
        'eval_lidar_y_m': -0.08, 'eval_lidar_z_m': -0.27, 'eval_lidar_qx': qx,
        'eval_lidar_qy': qy, 'eval_lidar_qz': qz, 'eval_lidar_qw': qw, 'model': 'ignored.pt'})
    assert config.crop is CROPS['garg']
    T = config.fixed_T_cam_lidar()
    np.testing.assert_allclose(T[:3, :3], rotation, atol=1e-12)
    np.testing.assert_array_equal(T[:3, 3], [0.06, -0.08, -0.27])


@pytest.mark.parametrize('values, message', [
    ({'eval_min_depth_m': 80.0}, 'parameters eval_min_depth_m and eval_max_depth_m: need min < '
                                 'max, got 80.0 and 80.0'),
    ({'eval_lidar_qw': 0.5}, 'need a unit quaternion, got [0.0, 0.0, 0.0, 0.5] (norm 0.5)'),
    ({'eval_crop': 'center'}, "parameter 'eval_crop': 'center' is not one of none, eigen, garg, "
                              'nyu_eigen'),
    ({'eval_transform_source': 'tf2'}, "parameter 'eval_transform_source': 'tf2' is not one of "
                                       'tf, parameters'),
    ({'eval_window': 0}, "parameter 'eval_window': 0 is outside [1, 10000]"),
    ({'eval_tolerance_s': float('inf')}, "parameter 'eval_tolerance_s': must be finite"),
    ({'input_reliability': 'sometimes'}, "parameter 'input_reliability': 'sometimes' is not one "
                                         'of auto, reliable, best_effort'),
    ({'eval_scan_buffer': 2.0}, "parameter 'eval_scan_buffer': expected a integer, got float"),
    ({'occupancy_min_height_m': 2.0}, 'occupancy_min_height_m and occupancy_max_height_m: need '
                                      'min < max, got 2.0 and 2.0'),
    ({'base_frame': ''}, "parameter 'base_frame': empty"),
])
def test_bad_values_are_refused_with_the_parameter_named(values, message):
    with pytest.raises(ConfigError) as info:
        EvalConfig.from_parameters(values)
    assert message in str(info.value)


def test_lidar_eval_yaml_lists_every_parameter_at_its_default():
    assert _yaml_parameters(REPO_ROOT / 'config' / 'lidar_eval.yaml') == EvalConfig.defaults()


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_names_types_and_values(path):
    params = _yaml_parameters(path)
    unknown = set(params) - set(PARAMETERS_BY_NAME) - {'use_sim_time'}
    assert not unknown, f'{path.name}: not parameters of lidar_eval_node: {sorted(unknown)}'
    for name, value in params.items():
        assert type(value) is type(PARAMETERS_BY_NAME[name].default), (path.name, name, value)
    EvalConfig.from_parameters(params)


@pytest.mark.parametrize('name, max_depth_m, crop', [
    ('lidar_eval_kitti.yaml', KITTI_MAX_DEPTH_M, 'garg'),
    ('lidar_eval_nyu.yaml', NYU_MAX_DEPTH_M, 'nyu_eigen')])
def test_the_camera_configs_follow_their_data_sets_protocol(name, max_depth_m, crop):
    params = _yaml_parameters(REPO_ROOT / 'config' / name)
    assert (params['eval_max_depth_m'], params['eval_crop']) == (max_depth_m, crop)
    assert params['eval_transform_source'] == 'tf'


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_rcl_reads_the_config_and_the_node_declares_the_table(path):
    """The rcl parameter-file parser and ``declare_parameters`` with this table, on a node."""
    import rclpy
    from rclpy.context import Context
    from msdepth_ros.ros.parameters import declare_parameters
    context = Context()
    rclpy.init(args=[NODE_NAME, '--ros-args', '--params-file', str(path),
                     '-r', f'__node:={NODE_NAME}', '-r', '__ns:=/robot/front_camera'],
               context=context)
    try:
        node = rclpy.create_node(NODE_NAME, context=context)
        values = declare_parameters(node, parameters=PARAMETERS)
        crop = node.describe_parameter('eval_crop')
        window = node.describe_parameter('eval_window')
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert {name: values[name] for name in _yaml_parameters(path)} == _yaml_parameters(path)
    assert set(values) == set(PARAMETERS_BY_NAME)
    assert crop.read_only and 'one of: none, eigen, garg, nyu_eigen' in \
        crop.additional_constraints
    assert (window.integer_range[0].from_value, window.integer_range[0].to_value) == (1, 10000)


def test_the_console_script_is_declared():
    assert (f"'{NODE_NAME} = msdepth_ros.ros.lidar_eval_node:main'"
            in (REPO_ROOT / 'setup.py').read_text(encoding='utf-8'))
