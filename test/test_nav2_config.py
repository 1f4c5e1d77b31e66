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
``config/nav2_local_costmap.yaml`` against the depth launch file and the node's topics.

Nav2 is not installed here: the file is parsed and its observation sources are checked against
the topics that ``launch/depth.launch.py`` gives the node at its defaults (through the launch
file's own ``node_arguments``, as ``test_launch_kitti_replay`` does), and its layers against
what Nav2's costmap plugins need.
"""

from pathlib import Path

from launch_checks import load_launch_module
from msdepth_ros.msgs import topics
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COSTMAP = REPO_ROOT / 'config' / 'nav2_local_costmap.yaml'
DEPTH_LAUNCH = REPO_ROOT / 'launch' / 'depth.launch.py'
#: Observation source data type -> the node's topic that feeds it.
SOURCE_TOPICS = {'PointCloud2': topics.POINTS, 'LaserScan': topics.SCAN}


def _params() -> dict:
    return yaml.safe_load(COSTMAP.read_text(encoding='utf-8'))[
        'local_costmap']['local_costmap']['ros__parameters']


def _resolved(topic: str) -> str:
    """Return the node's topic as the depth launch file names it at its defaults."""
    module = load_launch_module(DEPTH_LAUNCH)
    values = {name: default for name, (default, _) in module.ARGUMENTS.items()}
    args = module.node_arguments(values, str(REPO_ROOT), environ={})
    topic = dict(args['remappings']).get(topic, topic)
    if topic.startswith('/'):
        return topic
    return '/'.join(['', *[p for p in args['namespace'].split('/') if p], topic])


def _sources(params: dict) -> list[tuple[str, dict, dict]]:
    found = []
    for name in params['plugins']:
        layer = params[name]
        for source in str(layer.get('observation_sources', '')).split():
            found.append((name, layer, layer[source]))
    return found


def test_frames_are_nav2_s_and_the_layers_are_costmap_plugins():
    params = _params()
    assert params['global_frame'] == 'odom'
    assert params['robot_base_frame'] == 'base_link'
    assert params['resolution'] == pytest.approx(0.1)
    plugins = {params[name]['plugin'] for name in params['plugins']}
    assert plugins == {'nav2_costmap_2d::VoxelLayer', 'nav2_costmap_2d::ObstacleLayer',
                       'nav2_costmap_2d::InflationLayer'}
    assert params['plugins'][-1] == 'inflation_layer'  # inflation inflates what is marked


def test_observation_sources_are_the_node_s_topics_under_the_launch_namespace():
    types = []
    for layer_name, layer, source in _sources(_params()):
        data_type = source['data_type']
        types.append(data_type)
        assert source['topic'] == _resolved(SOURCE_TOPICS[data_type]), layer_name
        # '' takes each message's frame: the optical frame for points, the body frame for scan.
        assert source['sensor_frame'] == ''
        assert source['marking'] and source['clearing']
        assert source['obstacle_min_range'] < source['obstacle_max_range'] \
            <= source['raytrace_max_range']
        assert source['min_obstacle_height'] < source['max_obstacle_height']
        # +inf beams mean "nothing in range" (core.laser_scan); a cloud has NaN, never inf.
        assert source['inf_is_valid'] == (data_type == 'LaserScan')
    assert sorted(types) == ['LaserScan', 'PointCloud2']
    assert _resolved(topics.POINTS) == '/camera/points'


def test_the_voxel_grid_holds_the_height_band():
    params = _params()
    voxel = params['voxel_layer']
    top = voxel['origin_z'] + voxel['z_resolution'] * voxel['z_voxels']
    assert voxel['max_obstacle_height'] <= top
    for _, layer, source in _sources(params):
        if layer is voxel:
            assert source['max_obstacle_height'] <= top
