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
Evaluation with the paper's protocol: metrics at the ground truth's pixels, the paper's tables.

``msdepth-eval`` (``tools/evaluate.py``) runs a checkpoint, an ONNX file or a TensorRT engine
through the inference runtime (``load_backend`` + ``DepthPredictor``) on a data set, compares
the prediction with the ground truth where the ground truth is, and prints the measured column
beside the paper's.
"""
