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
Training on NYU Depth v2, KITTI or synthetic scenes: configs, the two-stage loop, DDP.

``msdepth-train --config config/train_nyu.yaml`` (``tools/train.py``) maps a YAML file onto
``TrainConfig`` and calls ``train``; under ``torchrun`` every process runs the same call and
the data is split across the ranks.

``trainer`` runs the stages (``run_stage``, ``train_step``); ``examples`` feeds them,
``stages`` holds each stage's network and parameter groups, ``validation`` and ``run_log``
measure and record, ``resume`` continues an interrupted run, ``distributed`` joins ``torchrun``.
"""
