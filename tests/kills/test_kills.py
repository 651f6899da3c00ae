# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Kill the real applier and the CLI mid-migration; nothing is left.

Each case is one victim (``watcher-migrate run``, Watcher's applier) and
one moment (mid live copy, mid cold move, at VERIFY_RESIZE), repeated
WATCHER_MIGRATE_KILLS times (default 6: 36 kills in all) at random
moments drawn from WATCHER_MIGRATE_KILLS_SEED. After each SIGKILL the
victim restarts (``watcher-migrate recover`` with the same journal, or a
new applier whose first action recovers; the applier's kills alternate
between the two) and Nova must show nothing in progress, nothing in
VERIFY_RESIZE, every server at rest on its source or destination, where
the recovery log says. The counts per case are printed at the end.

WATCHER_MIGRATE_KILLS_RECOVER=0 leaves out the restart: the run then
shows what the kills leave for recovery (and fails on it).

Only with WATCHER_MIGRATE_KILLS_RUN=1 (tox -e kills).
"""

import os
import random

import pytest

from tests.kills import iteration
from tests.kills import moments
from tests.kills import victims

KILLS = int(os.environ.get('WATCHER_MIGRATE_KILLS', '6'))
SEED = int(os.environ.get('WATCHER_MIGRATE_KILLS_SEED', '20261202'))
RECOVER = os.environ.get('WATCHER_MIGRATE_KILLS_RECOVER', '1') != '0'


@pytest.mark.kills
@pytest.mark.parametrize('moment', moments.MOMENTS)
@pytest.mark.parametrize('victim', victims.VICTIMS)
def test_a_killed_move_is_recovered_and_leaves_nothing_behind(
        cloud, request, tally, tmp_path, victim, moment):
    watcher = (request.getfixturevalue('watcher')
               if victim == victims.APPLIER else None)
    rng = random.Random('%d %s %s' % (SEED, victim, moment))
    broken = []
    for number in range(KILLS):
        directory = tmp_path / ('kill-%02d' % number)
        directory.mkdir()
        found = iteration.one_kill(cloud, watcher, victim, moment, rng,
                                   directory, number, recover=RECOVER)
        tally.add(found)
        broken += ['kill %d (%s): %s' % (number, directory, v)
                   for v in found.violations]
    assert broken == []
