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
Inference runtime: one depth predictor over interchangeable backends.

``DepthPredictor`` turns an RGB image and its camera's intrinsics into metric depth and the
depth image's intrinsics; a backend (``torch``, ``onnxruntime``, ``tensorrt``) only maps a
preprocessed input to log depth. Backends import their frameworks lazily.
"""

from msdepth_ros.inference.backend import BACKEND_NAMES, load_backend
from msdepth_ros.inference.interface import Backend, BackendError, BackendInfo
from msdepth_ros.inference.predictor import DepthPredictor, DepthResult

__all__ = ['Backend', 'BackendError', 'BackendInfo', 'BACKEND_NAMES', 'DepthPredictor',
           'DepthResult', 'load_backend']
