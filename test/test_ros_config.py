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
The node's parameter table and config, the YAML configs and the launch file, checked together.

The YAML files are also read by rcl's own parameter-file parser (through rclpy), and the launch
file's syntax tree is checked for side effects; where ROS's ``launch`` package is installed its
description is loaded too.
"""

from __future__ import annotations

from pathlib import Path

from conftest import REPO_ROOT
from launch_checks import load_launch_module
from msdepth_ros.core.colormap import COLORMAPS
from msdepth_ros.core.presets import KITTI, NYU, PRESETS
from msdepth_ros.inference.backend import BACKEND_NAMES
from msdepth_ros.ros.config import (ConfigError, INPUT_TOPICS, NodeConfig, PARAMETERS,
                                    PARAMETERS_BY_NAME)
import pytest
import yaml

# The depth node's parameter files (config/ also holds training configs, a QoS override file,
# the LIDAR evaluation node's files, checked by test_ros_eval_config.py, and Nav2's, checked by
# test_nav2_config.py).
CONFIGS = sorted(p for p in (REPO_ROOT / 'config').glob('*.yaml')
                 if 'ros__parameters' in p.read_text(encoding='utf-8')
                 and not p.name.startswith(('lidar_eval', 'nav2_')))
LAUNCH_FILE = REPO_ROOT / 'launch' / 'depth.launch.py'
#: Parameters every rclpy node has, which a YAML file or launch file may set.
ROS_PARAMETERS = {'use_sim_time'}
#: Parameters that can change while the node runs; the others need a restart.
RUN_TIME = {'min_depth_m', 'max_depth_m', 'skip_unsubscribed', 'publish_points', 'points_rgb',
            'publish_colorized', 'colormap', 'drop_warn_ratio', 'log_throttle_s',
            'cloud_flying_pixel_threshold', 'cloud_max_range_m', 'cloud_stride', 'publish_scan',
            'scan_height', 'scan_frame_id'}


def _valid(**values):
    return NodeConfig.from_parameters({'model': 'model.pt', **values}, check_model_file=False)


# -- the parameter table -----------------------------------------------------------------------

def test_table_and_config_have_the_same_names():
    assert [spec.name for spec in PARAMETERS] == list(NodeConfig.__dataclass_fields__)
    assert len(PARAMETERS_BY_NAME) == len(PARAMETERS)


def test_every_parameter_is_described_and_typed():
    for spec in PARAMETERS:
        assert len(spec.description) > 20, spec.name
        assert spec.type_name in ('bool', 'integer', 'double', 'string')
        if spec.min_value is not None:
            assert spec.min_value <= spec.default <= spec.max_value, spec.name


def test_enumerations_list_the_allowed_values():
    assert PARAMETERS_BY_NAME['backend'].choices == tuple(BACKEND_NAMES)
    assert PARAMETERS_BY_NAME['preset'].choices == ('auto',) + tuple(sorted(PRESETS))
    assert set(PARAMETERS_BY_NAME['colormap'].choices) == set(COLORMAPS)
    assert 'one of: auto, tensorrt' in PARAMETERS_BY_NAME['backend'].constraints()


def test_only_the_safe_parameters_change_at_run_time():
    assert {spec.name for spec in PARAMETERS if not spec.read_only} == RUN_TIME


def test_defaults_with_a_model_are_valid():
    config = _valid()
    assert config.backend == 'auto' and config.output_reliable and config.skip_unsubscribed
    assert config.fallback_intrinsics() is None
    assert config.depth_range_m(KITTI) == (KITTI.min_depth_m, KITTI.max_depth_m)
    assert _valid(max_depth_m=20).depth_range_m(NYU) == (NYU.min_depth_m, 20.0)


def test_an_empty_model_is_the_packages_demo_model(monkeypatch, tmp_path):
    from msdepth_ros.ros import config as config_module
    config = NodeConfig.from_parameters({})
    assert config.uses_demo_model and config.model_path().name == 'demo_kitti_synthetic.pt'
    assert config.model_path().is_file()
    assert not _valid().uses_demo_model
    # Where the demo model is not installed, the node says so and what to do.
    monkeypatch.setattr(config_module, 'demo_model_path', lambda: tmp_path / 'absent.pt')
    with pytest.raises(ConfigError, match="parameter 'model' is empty and the package's demo "
                                          'model .*absent.pt is not installed: set model'):
        NodeConfig.from_parameters({})


@pytest.mark.parametrize('values, message', [
    ({'input_reliability': 'reliable_if_possible'}, "parameter 'input_reliability': "
                                                    "'reliable_if_possible' is not one of auto"),
    ({'model': 'weights.txt'}, "'weights.txt' is not a model file"),
    ({'backend': 'cuda'}, "parameter 'backend': 'cuda' is not one of auto, tensorrt, "
                          'onnxruntime, torch'),
    ({'preset': 'cityscapes'}, "parameter 'preset': 'cityscapes' is not one of auto, kitti, nyu"),
    ({'upsample': 0}, "parameter 'upsample': 0 is outside [1, 8]"),
    ({'upsample': 2.0}, "parameter 'upsample': expected a integer, got float 2.0"),
    ({'metric_scaling': 'yes'}, "parameter 'metric_scaling': expected a bool, got str"),
    ({'min_depth_m': 5.0, 'max_depth_m': 2.0}, 'need min < max, got 5.0 and 2.0'),
    ({'max_depth_m': float('nan')}, "parameter 'max_depth_m': must be finite"),
    ({'colormap': 'rainbow'}, "parameter 'colormap': 'rainbow' is not one of"),
    ({'use_camera_info': False}, 'use_camera_info is false but no intrinsics are given'),
    ({'camera_fx_px': 500.0}, 'fallback intrinsics are incomplete: camera_fx_px set but '
                              'camera_fy_px, camera_width, camera_height not'),
    ({'drop_warn_ratio': 2.0}, "parameter 'drop_warn_ratio': 2.0 is outside [0.0, 1.0]"),
    ({'precision': 'int8'}, "parameter 'precision': 'int8' is not one of auto, fp32, fp16"),
    ({'backend': 'onnxruntime', 'precision': 'fp16'}, "'fp16' does not apply to the "
                                                      'onnxruntime backend'),
    ({'backend': 'torch', 'dla_core': 0}, 'DLA cores are used by the tensorrt backend only'),
    ({'dla_core': -2}, "parameter 'dla_core': -2 is outside [-1, 7]"),
    ({'threads': -1}, "parameter 'threads': -1 is outside [0, 256]"),
])
def test_bad_values_are_refused_with_the_parameter_named(values, message):
    with pytest.raises(ConfigError) as info:
        NodeConfig.from_parameters({'model': 'model.pt', **values}, check_model_file=False)
    assert message in str(info.value)


def test_backend_options_are_those_the_backend_takes(tmp_path):
    from msdepth_ros.inference.backend import load_backend
    from msdepth_ros.inference.export import export_checkpoint
    from ros_harness import make_checkpoint

    def options(**values):
        return NodeConfig.from_parameters({'model': 'model.pt', **values},
                                          check_model_file=False).backend_options()

    assert options(backend='onnxruntime', threads=2) == {'threads': 2, 'device_index': 0}
    assert options(backend='torch', precision='fp32') == {'precision': 'fp32', 'threads': 0}
    assert options(backend='tensorrt', precision='fp16', dla_core=1,
                   engine_cache_dir='/var/cache/engines', tensorrt_memory='cuda-python') == {
        'precision': 'fp16', 'device_index': 0, 'workspace_mib': 1024, 'dla_core': 1,
        'cache_dir': '/var/cache/engines', 'memory': 'cuda-python'}
    assert set(options()) == {'precision', 'threads', 'device_index', 'workspace_mib',
                              'memory'}
    # The real backends take them: the defaults under auto, and each backend's own.
    checkpoint = make_checkpoint(tmp_path / 'model.pt')
    onnx_path = tmp_path / 'model.onnx'
    export_checkpoint(checkpoint, onnx_path)
    for path, backend in ((checkpoint, 'auto'), (checkpoint, 'torch'), (onnx_path, 'auto'),
                          (onnx_path, 'onnxruntime')):
        config = NodeConfig.from_parameters({'model': str(path), 'backend': backend,
                                             'threads': 1})
        load_backend(config.model, config.backend, **config.backend_options()).close()


def test_model_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match='no such file'):
        NodeConfig.from_parameters({'model': str(tmp_path / 'missing.pt')})
    (tmp_path / 'there.onnx').write_bytes(b'')
    assert NodeConfig.from_parameters({'model': str(tmp_path / 'there.onnx')}).model


def test_integers_are_accepted_for_doubles_and_unknown_names_ignored():
    config = _valid(max_depth_m=20, use_sim_time=True)
    assert config.max_depth_m == 20.0 and isinstance(config.max_depth_m, float)


def test_fallback_intrinsics_and_preset_checks():
    config = _valid(camera_fx_px=500.0, camera_fy_px=510.0, camera_cx_px=319.5,
                    camera_cy_px=239.5, camera_width=640, camera_height=480,
                    use_camera_info=False, preset='kitti', min_depth_m=90.0)
    intrinsics = config.fallback_intrinsics()
    assert (intrinsics.fx_px, intrinsics.fy_px, intrinsics.size) == (500.0, 510.0, (640, 480))
    with pytest.raises(ConfigError, match="trained with preset 'nyu'"):
        config.check_model_preset(NYU)
    with pytest.raises(ConfigError, match='need min < max, got 90.0 and 80.0'):
        config.check_model_preset(KITTI)


# -- YAML configs ----------------------------------------------------------------------------

def _yaml_parameters(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding='utf-8'))
    assert list(data) == ['/**'], f'{path.name}: one section for any node name'
    return data['/**']['ros__parameters']


def test_the_three_configs_exist():
    assert {'depth.yaml', 'kitti.yaml', 'nyu.yaml'} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_names_types_and_values(path):
    params = _yaml_parameters(path)
    unknown = set(params) - set(PARAMETERS_BY_NAME) - ROS_PARAMETERS
    assert not unknown, f'{path.name}: not parameters of the node: {sorted(unknown)}'
    for name, value in params.items():
        # ROS types a parameter by how YAML reads it: 80 would be an integer and be refused
        # by a double parameter.
        assert type(value) is type(PARAMETERS_BY_NAME[name].default), (path.name, name, value)
    config = NodeConfig.from_parameters({**params, 'model': 'model.pt'}, check_model_file=False)
    if config.preset != 'auto':
        config.check_model_preset(PRESETS[config.preset])


def test_depth_yaml_lists_every_parameter_at_its_default():
    params = _yaml_parameters(REPO_ROOT / 'config' / 'depth.yaml')
    assert params == NodeConfig.defaults()


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_rcl_reads_the_config_for_a_namespaced_node(path):
    """The real rcl parameter-file parser applies the file to depth_node in any namespace."""
    import rclpy
    from rclpy.context import Context
    context = Context()
    rclpy.init(args=['depth_node', '--ros-args', '--params-file', str(path),
                     '-r', '__node:=depth_node', '-r', '__ns:=/robot/front_camera'],
               context=context)
    try:
        node = rclpy.create_node('depth_node', context=context,
                                 automatically_declare_parameters_from_overrides=True)
        loaded = {name: node.get_parameter(name).value for name in _yaml_parameters(path)}
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert loaded == _yaml_parameters(path)


# -- launch file -----------------------------------------------------------------------------

def _launch_module():
    return load_launch_module(LAUNCH_FILE)


# test_launch_kitti_replay.py checks every launch file for side effects.

def test_every_launch_argument_maps_onto_a_parameter_or_remapping():
    module = _launch_module()
    arguments = set(module.ARGUMENTS)
    remapped = {argument for _, argument, _ in module.REMAPPINGS}
    handled = (set(module.PARAMETER_ARGUMENTS) | remapped | set(module.PROCESS_ARGUMENTS)
               | {module.NAMESPACE_ARGUMENT, module.CONFIG_ARGUMENT})
    assert arguments == handled, f'unmapped: {arguments - handled}, unknown: {handled - arguments}'
    for name in module.PARAMETER_ARGUMENTS:
        assert name in PARAMETERS_BY_NAME or name in ROS_PARAMETERS, name
    for topic, _, _ in module.REMAPPINGS:
        assert topic in INPUT_TOPICS, topic
    # Choices spelled in the descriptions are the parameters' allowed values.
    for name in ('backend', 'preset'):
        for choice in PARAMETERS_BY_NAME[name].choices:
            assert choice in module.ARGUMENTS[name][1], (name, choice)


def test_node_arguments_for_given_and_default_values():
    module = _launch_module()
    defaults = {name: default for name, (default, _) in module.ARGUMENTS.items()}
    args = module.node_arguments(defaults, '/opt/share/msdepth_ros', environ={})
    assert args['executable'] == 'depth_node'
    assert args['namespace'] == 'camera'
    assert args['parameters'] == ['/opt/share/msdepth_ros/config/depth.yaml',
                                  {'use_sim_time': False}]
    # The compressed topic follows the image remapping inside the node (image_transport's rule).
    assert args['remappings'] == [('image', 'image_rect_color'),
                                  ('camera_info', 'camera_info')]
    profile = '/opt/share/msdepth_ros/config/fastdds_large_frames.xml'
    assert args['additional_env'] == {'FASTRTPS_DEFAULT_PROFILES_FILE': profile,
                                      'FASTDDS_DEFAULT_PROFILES_FILE': profile}
    # A profile the user set is kept; none sets none; a given file is used.
    assert module.node_arguments(defaults, '/opt', environ={
        'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'})['additional_env'] == {}
    none = module.node_arguments(dict(defaults, transport_profile='none'), '/opt', environ={})
    assert none['additional_env'] == {}
    given_file = module.node_arguments(dict(defaults, transport_profile='/p.xml'), '/opt',
                                       environ={})
    assert set(given_file['additional_env'].values()) == {'/p.xml'}
    assert module.node_arguments(dict(defaults, managed='true'), '/opt',
                                 environ={})['executable'] == 'depth_node_managed'
    with pytest.raises(ValueError, match='managed'):
        module.node_arguments(dict(defaults, managed='yes'), '/opt')
    given = dict(defaults, model='/m/kitti.pt', backend='torch', preset='kitti',
                 camera='/kitti/camera_02', image='/kitti/camera_02/image_rect',
                 camera_info='/kitti/camera_02/camera_info', config='/c/kitti.yaml',
                 use_sim_time='true')
    args = module.node_arguments(given, '/opt/share/msdepth_ros')
    overrides = args['parameters'][1]
    assert args['parameters'][0] == '/c/kitti.yaml'
    assert overrides == {'model': '/m/kitti.pt', 'backend': 'torch', 'preset': 'kitti',
                         'use_sim_time': True}
    # The overrides are valid values of the node's parameters.
    NodeConfig.from_parameters(overrides, check_model_file=False)
    assert ('image', '/kitti/camera_02/image_rect') in args['remappings']
    with pytest.raises(ValueError, match='use_sim_time'):
        module.node_arguments(dict(defaults, use_sim_time='maybe'), '/opt')
    # The evaluation is another node's (lidar_eval_node): nothing of it is left here.
    assert not any('eval' in name or 'lidar' in name for name in module.ARGUMENTS)
    assert not any('eval' in spec.name or 'lidar' in spec.name for spec in PARAMETERS)


def test_the_bare_launch_command_runs_the_demo_model(repo_root):
    # ros2 launch msdepth_ros depth.launch.py with no argument: the installed config's empty
    # model is the package's demo model, which is installed beside it (share/msdepth_ros/models).
    module = _launch_module()
    defaults = {name: default for name, (default, _) in module.ARGUMENTS.items()}
    args = module.node_arguments(defaults, str(repo_root), environ={})
    config_file, overrides = args['parameters']
    values = dict(_yaml_parameters(Path(config_file)), **overrides)
    config = NodeConfig.from_parameters(values)  # checks the model file exists
    assert config.uses_demo_model and config.model_path().is_file()
    assert (repo_root / 'models' / config.model_path().name).is_file()
    setup_text = (repo_root / 'setup.py').read_text()
    assert "('share/' + package_name + '/models'" in setup_text
    assert config.model_path().name in setup_text


def test_launch_description_loads_where_launch_is_installed():
    # The repository's own launch/ folder imports as a namespace package named launch: look
    # for the real one.
    launch = pytest.importorskip('launch')
    if not hasattr(launch, 'LaunchDescription'):
        pytest.skip('ROS launch is not installed here (no PyPI wheel of ros-jazzy-launch); the '
                    'launch file is checked above through its argument mapping and syntax tree')
    pytest.importorskip('launch_ros', reason='ROS launch_ros is not installed here')
    from launch.actions import DeclareLaunchArgument
    description = _launch_module().generate_launch_description()
    assert isinstance(description, launch.LaunchDescription)
    declared = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert declared == set(_launch_module().ARGUMENTS)
