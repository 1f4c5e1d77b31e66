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


"""``msdepth-train``: train the coarse and then the fine network from a YAML config."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Train as ``--config`` says (under ``torchrun``, as one rank of the job)."""
    parser = argparse.ArgumentParser(
        prog='msdepth-train',
        description='Train the multi-scale depth network (coarse stage, then fine stage with '
                    'the coarse network frozen). Run under torchrun for several GPUs or '
                    'nodes: the data is split across the ranks.')
    parser.add_argument('--config', required=True,
                        help='YAML training config (config/train_nyu.yaml, train_kitti.yaml, '
                             'train_synthetic.yaml)')
    parser.add_argument('--override', action='append', default=[], metavar='KEY=VALUE',
                        help='change one config value, e.g. coarse.samples=1000 or '
                             'data.train.root=/data/kitti (repeatable)')
    parser.add_argument('--resume', default=None, metavar='CHECKPOINT',
                        help="resume from a checkpoint_last.pt, or 'auto' for the one in the "
                             'output folder (a new run from step 0, said in the log, when '
                             'there is none)')
    parser.add_argument('--allow-config-change', action='store_true',
                        help='resume even though the config differs from the one the run was '
                             'trained with (refused by default, with the differences)')
    parser.add_argument('--retrain-fine', action='store_true',
                        help='train the fine stage again on the coarse stage in the output '
                             "folder (its coarse.pt) with the config's fine settings, which may "
                             "differ from the run's; the coarse stage is not run")
    parser.add_argument('--stop-after-steps', type=int, default=0, metavar='N',
                        help='stop after N steps with a resumable checkpoint (for jobs with a '
                             'time limit; continue with --resume auto)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    if args.stop_after_steps < 0:
        parser.error('--stop-after-steps must be >= 0')
    if args.retrain_fine and args.resume is not None:
        parser.error('--retrain-fine starts the fine stage anew; --resume continues a run: '
                     'give one (an interrupted retraining resumes with --resume auto)')
    logging.basicConfig(level=logging.INFO, format='msdepth-train: %(message)s')

    from msdepth_ros.data.base import DatasetError
    from msdepth_ros.train.config import ConfigError, load_config
    try:
        config = load_config(args.config, args.override)
    except (ConfigError, DatasetError) as exc:
        print(f'msdepth-train: error: {exc}', file=sys.stderr)
        return 2

    from msdepth_ros.model.checkpoint import CheckpointError
    from msdepth_ros.train.distributed import teardown_distributed
    from msdepth_ros.train.trainer import train
    try:
        result = train(config, resume=args.resume, progress=not args.no_progress,
                       stop_after_steps=args.stop_after_steps,
                       allow_config_change=args.allow_config_change,
                       retrain_fine=args.retrain_fine)
    except (ConfigError, DatasetError, CheckpointError) as exc:
        print(f'msdepth-train: error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('msdepth-train: interrupted; resume with --resume auto', file=sys.stderr)
        return 130
    finally:
        teardown_distributed()
    if result.stopped:
        print(f'stopped after {args.stop_after_steps} steps; continue with --resume auto')
        return 0
    for stage, metrics in result.val_metrics.items():
        print(f'{stage}: validation ' + ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()))
    print(f'final model: {result.final_checkpoint}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
