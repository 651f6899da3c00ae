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

"""A live copy that stops converging, against the real Nova.

The fake driver's guest dirties its memory as fast as it is copied
(live_dirty_at): Nova's figures show memory processed growing and memory
remaining level. With a stall window far shorter than the timeout, the
action applies timeout_action as soon as the window shows no progress.
"""

import re

import pytest

from tests.functional import test_migrate_action as common
from watcher_migrate import exceptions

# Figures saved every second; a 10 s window; a timeout no test reaches.
DIRTYING = {'live_duration': 4, 'live_dirty_at': 0.5,
            'live_migration_monitor_interval': 1}
STALL = {'live_migration_stall_window': 10, 'live_timeout': 120}


def test_a_stalled_copy_is_aborted_before_its_timeout(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, **DIRTYING)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(cloud, server, 'host1', 'host2',
                                         **STALL))
    assert 'did not finish within' not in str(error.value)
    assert common.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'
    assert common.nothing_in_progress(cloud, server)


def test_the_failure_of_a_stalled_copy_gives_nova_s_figures(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, **DIRTYING)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(cloud, server, 'host1', 'host2',
                                         **STALL))
    assert re.search(
        r'stalled: remaining [0-9]+ MiB or more for 1[0-9] s, copying '
        r'[0-9]+ MiB/s against [0-9]+ MiB/s dirtied; aborted',
        str(error.value)), str(error.value)


def test_a_stalled_copy_can_be_forced_to_complete(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, **DIRTYING)
    cloud.reset_requests()
    migrate = common.migrate_action(cloud, server, 'host1', 'host2',
                                    timeout_action='force_complete', **STALL)
    assert common.run(migrate) is True
    assert common.placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert [r for r in cloud.write_requests()
            if '/migrations/' in r['path'] and r['path'].endswith('/action')]
    # The server decided: Nova marks the record completed a moment after
    # it moved the server, on its own.
    common.wait_for_migration_status(cloud, server, 'completed')


def test_a_copy_frozen_in_nova_s_figures_is_aborted_as_stalled(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=2, live_stall_at=0.5,
                     live_migration_monitor_interval=1)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(cloud, server, 'host1', 'host2',
                                         **STALL))
    assert 'stalled: remaining' in str(error.value), str(error.value)
    assert common.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'


def test_with_a_window_of_0_a_stalled_copy_runs_to_its_timeout(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, **DIRTYING)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(
            cloud, server, 'host1', 'host2', live_timeout=8,
            live_migration_stall_window=0))
    assert 'did not finish within its 8 s live_timeout' in str(error.value)
    assert common.placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_a_copy_too_slow_for_its_timeout_is_aborted_as_stalled(cloud):
    server = cloud.create_server('host1')
    # Converging, but at a rate that ends the copy after 60 s.
    cloud.set_driver(instance=server, live_duration=60,
                     live_migration_monitor_interval=1)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(
            cloud, server, 'host1', 'host2', live_timeout=20,
            live_migration_stall_window=10))
    assert re.search(r'stalled: remaining [0-9]+ MiB, falling [0-9]+ MiB/s: '
                     r'the copy would end in [0-9]+ s, [0-9]+ s past the '
                     r'deadline; aborted', str(error.value)), str(error.value)
    assert common.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'


def test_a_copy_too_slow_for_its_timeout_is_stopped_before_its_window_ends(
        cloud):
    server = cloud.create_server('host1')
    # Figures at Nova's default cadence (5 s); a copy of 120 s against a
    # 40 s timeout and the default 120 s window: the third falling figure,
    # not the window's end, says that it cannot make it.
    cloud.set_driver(instance=server, live_duration=120)
    with pytest.raises(exceptions.ActionFailed) as error:
        common.run(common.migrate_action(cloud, server, 'host1', 'host2',
                                         live_timeout=40))
    assert 'past the deadline; aborted' in str(error.value), str(error.value)
    assert common.placement(cloud, server) == ('host1', 'ACTIVE', None)
