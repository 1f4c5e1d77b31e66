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
``launch/kitti_replay.launch.py``, its QoS override file and its RViz view, checked together.

ROS's ``launch`` is not installed here (no PyPI wheel), so the launch file's pure functions are
checked: what it hands to ``depth.launch.py``, the evaluation node it starts with
``evaluate:=true``, the ``ros2 bag play`` command line, and that the files it names exist, parse,
and name the topics the nodes and ``msdepth-kitti2bag`` use.
"""

from pathlib import Path

from launch_checks import assert_no_side_effects, load_launch_module
from msdepth_ros.msgs import topics
from msdepth_ros.ros import eval_config
from msdepth_ros.ros.config import NodeConfig
from msdepth_ros.ros.eval_config import EvalConfig
from msdepth_ros.tools.replay import read_overrides
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCH_DIR = REPO_ROOT / 'launch'
KITTI = LAUNCH_DIR / 'kitti_replay.launch.py'
#: The node's published topics, relative to its namespace (DESIGN.md section 5).
NODE_OUTPUTS = (topics.DEPTH, topics.DEPTH_INFO, topics.POINTS, topics.COLORIZED)


def _defaults(module) -> dict:
    return {name: default for name, (default, _) in module.ARGUMENTS.items()}


@pytest.mark.parametrize('path', sorted(LAUNCH_DIR.glob('*.launch.py')), ids=lambda p: p.name)
def test_launch_files_have_no_side_effects(path):
    assert_no_side_effects(path)


def test_depth_launch_gets_only_arguments_it_declares():
    kitti = load_launch_module(KITTI)
    depth = load_launch_module(LAUNCH_DIR / 'depth.launch.py')
    args = kitti.depth_launch_arguments(dict(_defaults(kitti), model='/m/kitti.onnx'),
                                        str(REPO_ROOT))
    assert set(args) <= set(depth.ARGUMENTS)
    assert args['config'] == str(REPO_ROOT / 'config' / 'kitti.yaml')
    assert args['preset'] == 'kitti' and args['use_sim_time'] == 'true'
    assert args['model'] == '/m/kitti.onnx'
    # Through depth.launch.py's own mapping: the node's namespace, topics and parameters.
    values = dict(_defaults(depth), **args)
    node = depth.node_arguments(values, str(REPO_ROOT))
    assert node['namespace'] == topics.KITTI_LEFT_COLOUR == '/kitti/camera_color_left'
    assert (topics.IMAGE, topics.KITTI_IMAGE) in node['remappings']
    assert (topics.CAMERA_INFO, topics.CAMERA_INFO) in node['remappings']
    # The launch file writes the names out (it imports nothing of the package): as msgs.topics.
    assert (kitti.CAMERA_NAMESPACE, kitti.IMAGE_TOPIC, kitti.CAMERA_INFO_TOPIC,
            kitti.VELODYNE_TOPIC) == (topics.KITTI_LEFT_COLOUR, topics.KITTI_IMAGE,
                                      topics.CAMERA_INFO, topics.KITTI_VELODYNE)
    NodeConfig.from_parameters(node['parameters'][1], check_model_file=False)
    for path in node['parameters'][:1]:
        assert Path(path).is_file(), path
    # evaluate:=true changes nothing of the depth node: the evaluation is another node.
    evaluated = kitti.depth_launch_arguments(dict(_defaults(kitti), model='/m/kitti.onnx',
                                                  evaluate='true'), str(REPO_ROOT))
    assert evaluated == args


def test_evaluate_starts_the_evaluation_node_beside_the_depth_node():
    kitti = load_launch_module(KITTI)
    depth = load_launch_module(LAUNCH_DIR / 'depth.launch.py')
    assert kitti.eval_node_arguments(_defaults(kitti), str(REPO_ROOT), {}) is None
    values = dict(_defaults(kitti), model='/m/kitti.onnx', evaluate='true')
    node = kitti.eval_node_arguments(values, str(REPO_ROOT), {})
    assert (node['package'], node['executable']) == ('msdepth_ros', eval_config.NODE_NAME)
    setup = (REPO_ROOT / 'setup.py').read_text(encoding='utf-8')
    assert f"'{node['executable']} = msdepth_ros.ros.lidar_eval_node:main'" in setup
    # In the depth node's namespace: its depth/image and depth/camera_info, the camera's
    # camera_info (the crop's pixels), and the bag's Velodyne.
    depth_node = depth.node_arguments(dict(_defaults(depth), **kitti.depth_launch_arguments(
        values, str(REPO_ROOT))), str(REPO_ROOT), environ={})
    assert node['namespace'] == depth_node['namespace'] == topics.KITTI_LEFT_COLOUR
    remappings = dict(node['remappings'])
    assert remappings == {topics.CAMERA_INFO: dict(depth_node['remappings'])[
        topics.CAMERA_INFO], topics.LIDAR: topics.KITTI_VELODYNE}
    assert set(remappings) <= set(eval_config.INPUT_TOPICS)
    assert {topics.DEPTH, topics.DEPTH_INFO} <= set(NODE_OUTPUTS)
    config_file, overrides = node['parameters']
    assert config_file == str(REPO_ROOT / 'config' / 'lidar_eval_kitti.yaml')
    assert overrides == {'use_sim_time': True}
    params = yaml.safe_load(Path(config_file).read_text(encoding='utf-8'))['/**']
    config = EvalConfig.from_parameters(params['ros__parameters'])
    assert config.eval_crop == 'garg' and config.eval_transform_source == 'tf'
    assert node['additional_env'] == depth_node['additional_env']
    given = kitti.eval_node_arguments(dict(values, eval_config='/c/eval.yaml',
                                           use_sim_time='false'), str(REPO_ROOT), {})
    assert given['parameters'] == ['/c/eval.yaml', {'use_sim_time': False}]
    with pytest.raises(ValueError, match='evaluate'):
        kitti.eval_node_arguments(dict(values, evaluate='yes'), str(REPO_ROOT), {})


def test_the_bag_player_and_the_node_get_the_same_transport_profile():
    kitti = load_launch_module(KITTI)
    depth = load_launch_module(LAUNCH_DIR / 'depth.launch.py')
    for value, environ in (('', {}), ('none', {}), ('/p.xml', {}),
                           ('', {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'})):
        values = dict(_defaults(kitti), model='/m.onnx', transport_profile=value)
        player = kitti.bag_play_environment(values, str(REPO_ROOT), environ)
        node = depth.node_arguments(
            dict(_defaults(depth), **kitti.depth_launch_arguments(values, str(REPO_ROOT))),
            str(REPO_ROOT), environ=environ)['additional_env']
        assert player == node, (value, environ)
    default = kitti.bag_play_environment(dict(_defaults(kitti)), str(REPO_ROOT), {})
    assert set(default.values()) == {str(REPO_ROOT / 'config' / 'fastdds_large_frames.xml')}


def test_bag_play_command_latches_tf_static_and_publishes_the_clock():
    kitti = load_launch_module(KITTI)
    assert kitti.bag_play_command(_defaults(kitti), str(REPO_ROOT)) is None
    command = kitti.bag_play_command(dict(_defaults(kitti), bag='/b/drive', rate='0.5',
                                          loop='true'), str(REPO_ROOT))
    assert command[:4] == ['ros2', 'bag', 'play', '/b/drive']
    assert command[command.index('--rate') + 1] == '0.5'
    assert '--loop' in command and '--clock' in command
    qos_file = Path(command[command.index('--qos-profile-overrides-path') + 1])
    # The same file through msdepth-replay's reader, which checks ros2 bag play's keys.
    overrides = read_overrides(qos_file)
    assert overrides['/tf_static']['durability'] == 'transient_local'
    assert overrides['/tf_static']['reliability'] == 'reliable'
    no_clock = kitti.bag_play_command(dict(_defaults(kitti), bag='/b', use_sim_time='false'),
                                      str(REPO_ROOT))
    assert '--clock' not in no_clock


@pytest.mark.parametrize('name,value', [('loop', 'yes'), ('rate', '0'), ('rate', 'fast'),
                                        ('use_sim_time', '1')])
def test_bad_argument_values_are_refused_with_their_name(name, value):
    kitti = load_launch_module(KITTI)
    values = dict(_defaults(kitti), bag='/b', **{name: value})
    with pytest.raises(ValueError, match=name):
        kitti.bag_play_command(values, str(REPO_ROOT))


def test_rviz_view_shows_the_node_outputs_and_the_velodyne():
    kitti = load_launch_module(KITTI)
    view = yaml.safe_load(Path(kitti.rviz_config(str(REPO_ROOT))).read_text(encoding='utf-8'))
    displays = view['Visualization Manager']['Displays']
    shown = {d['Topic']['Value']: d for d in displays if 'Topic' in d}
    namespace = topics.KITTI_LEFT_COLOUR
    for relative in (topics.POINTS, topics.COLORIZED):
        assert f'{namespace}/{relative}' in shown, relative
        assert relative in NODE_OUTPUTS
    assert f'{namespace}/{topics.KITTI_IMAGE}' in shown
    assert topics.KITTI_VELODYNE in shown
    # The node's outputs are reliable by default; the camera's input may be best effort.
    assert shown[f'{namespace}/{topics.POINTS}']['Topic']['Reliability Policy'] == 'Reliable'
    assert view['Visualization Manager']['Global Options']['Fixed Frame'] == 'base_link'


def test_launch_description_loads_where_launch_is_installed():
    launch = pytest.importorskip('launch')
    if not hasattr(launch, 'LaunchDescription'):
        pytest.skip('ROS launch is not installed here (no PyPI wheel of ros-jazzy-launch); the '
                    'launch file is checked above through its functions and syntax tree')
    pytest.importorskip('launch_ros', reason='ROS launch_ros is not installed here')
    from launch.actions import DeclareLaunchArgument
    description = load_launch_module(KITTI).generate_launch_description()
    declared = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert declared == set(load_launch_module(KITTI).ARGUMENTS)
