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

"""Every Python file carries the project's Apache-2.0 header (what ament_copyright checks)."""

import re

from conftest import REPO_ROOT
import pytest

HEADER = re.compile(
    r'\A(#!.*\n)?# Copyright 20\d\d The msdepth_ros Authors\.\n#\n'
    r'# Licensed under the Apache License, Version 2\.0 \(the "License"\);\n')
FOLDERS = ['msdepth_ros', 'test', 'launch', 'benchmarks', 'scripts']


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    files = [REPO_ROOT / 'setup.py']
    for folder in FOLDERS:
        files += sorted((REPO_ROOT / folder).rglob('*.py'))
    missing = [str(f.relative_to(REPO_ROOT)) for f in files
               if not HEADER.match(f.read_text(encoding='utf-8'))]
    assert len(files) > 10
    assert not missing, 'files without the licence header:\n' + '\n'.join(missing)
