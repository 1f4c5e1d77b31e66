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

"""Build and install msdepth_ros (ament_python: colcon on a robot, pip in a virtual env)."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'msdepth_ros'


def _files(pattern: str) -> list:
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', _files('launch/*.launch.py')),
        ('share/' + package_name + '/config', _files('config/*')),
        ('share/' + package_name + '/rviz', _files('rviz/*.rviz')),
        # The demo model: what the node runs when no model is given (ros2 launch without
        # arguments), with a warning that it knows synthetic streets only.
        ('share/' + package_name + '/models', ['models/demo_kitti_synthetic.pt']),
    ],
    python_requires='>=3.10',
    install_requires=['setuptools', 'numpy', 'opencv-python-headless', 'pyyaml'],
    zip_safe=True,
    maintainer='msdepth_ros maintainers',
    maintainer_email='maintainers@msdepth-ros.example',
    description='Metric depth from a single image (Eigen et al. 2014) as a ROS 2 node.',
    license='Apache-2.0',
    # colcon test runs pytest when the 'test' extra names it (setuptools 72+ drop the old
    # tests_require, and colcon then falls back to unittest, which finds no test here).
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'msdepth-summary = msdepth_ros.tools.summary:main',
            'msdepth-replay = msdepth_ros.tools.replay:main',
            'msdepth-record = msdepth_ros.tools.record:main',
            'msdepth-kitti2bag = msdepth_ros.tools.kitti2bag:main',
            'msdepth-bag-infer = msdepth_ros.tools.bag_infer:main',
            'msdepth-demo = msdepth_ros.tools.demo:main',
            'msdepth-export = msdepth_ros.tools.export:main',
            'msdepth-train = msdepth_ros.tools.train:main',
            'msdepth-eval = msdepth_ros.tools.evaluate:main',
            'depth_node = msdepth_ros.ros.depth_node:main',
            'depth_node_managed = msdepth_ros.ros.managed_node:main',
            'lidar_eval_node = msdepth_ros.ros.lidar_eval_node:main',
        ],
    },
)
