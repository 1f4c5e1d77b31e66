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

"""``msdepth-summary``: print the network's layer-by-layer table for a preset."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from msdepth_ros.core.presets import PRESETS


def main(argv: Sequence[str] | None = None) -> int:
    """Print the layer table (name, channels, output size, parameters) of each asked preset."""
    parser = argparse.ArgumentParser(
        prog='msdepth-summary', description=__doc__.strip('`'),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS) + ['all'], default='all',
                        help='geometry preset')
    parser.add_argument('--coarse-fc-width', type=int, default=4096,
                        help='width of coarse layer 6 (4096 in the paper)')
    args = parser.parse_args(argv)
    if args.coarse_fc_width < 1:
        parser.error('--coarse-fc-width must be positive')

    from msdepth_ros.model.network import ModelConfig
    from msdepth_ros.model.summary import format_layer_table

    names = sorted(PRESETS) if args.preset == 'all' else [args.preset]
    for i, name in enumerate(names):
        if i:
            print()
        print(format_layer_table(ModelConfig.for_preset(name,
                                                        coarse_fc_width=args.coarse_fc_width)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
