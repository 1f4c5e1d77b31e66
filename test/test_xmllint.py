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

"""package.xml is a valid format-3 manifest; every XML file is well formed."""

from xml.dom import minidom

from catkin_pkg.package import parse_package
from conftest import REPO_ROOT
import pytest


@pytest.mark.xmllint
@pytest.mark.linter
def test_package_xml_is_valid_format_3():
    package = parse_package(str(REPO_ROOT / 'package.xml'))
    package.validate()
    assert package.package_format == 3
    assert package.name == 'msdepth_ros'
    assert package.get_build_type() == 'ament_python'
    exec_deps = {d.name for d in package.exec_depends}
    assert package.version == _setup_version()
    assert {'rclpy', 'sensor_msgs', 'diagnostic_msgs'} <= exec_deps
    # What the launch files run: ros2 launch, launch_ros's Node, and kitti_replay.launch.py's
    # `ros2 bag play` (MCAP, msdepth-kitti2bag's default storage) and rviz2.
    assert {'launch', 'launch_ros', 'ros2launch', 'ros2bag', 'rosbag2_storage_mcap',
            'rviz2'} <= exec_deps


@pytest.mark.xmllint
@pytest.mark.linter
def test_xml_files_are_well_formed():
    files = [p for p in REPO_ROOT.rglob('*.xml')
             if '.venv' not in p.parts and 'build' not in p.parts]
    assert files
    for path in files:
        minidom.parse(str(path))


def _setup_version() -> str:
    text = (REPO_ROOT / 'setup.py').read_text(encoding='utf-8')
    return text.split("version='", 1)[1].split("'", 1)[0]
