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

"""The kill harness sees what a kill leaves: tests of the harness itself.

Until the journal's recovery exists nothing cleans up after a killed
victim; these tests kill one and expect the harness's check to report
what is left in Nova (as tests/faults/test_invariants_can_fail.py does
for the fault invariants). They keep passing once recovery exists: they
do not restart the victim.
"""

import random
import signal

from tests.kills import check
from tests.kills import moments
from tests.kills import tidy
from tests.kills import victims

# Far longer than the test: only a kill or an abort ends the copy.
LONG = 600


def test_a_cli_killed_mid_live_copy_leaves_a_migration_the_check_reports(
        cloud, tmp_path):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=LONG,
                     live_migration_monitor_interval=1)
    move = moments.Move(server, moments.LIVE_COPY, 'host1', 'host2',
                        live_timeout=LONG, kill_window=1.0)
    config = victims.cli_config(tmp_path, move.live_timeout)
    victim = victims.start_cli(cloud, tmp_path, move, config)
    try:
        kill = moments.kill_at(cloud, move, victim, random.Random(1))
        left = moments.left_behind(cloud, server)
        found = check.nova_violations(cloud, move)
        unnamed = check.log_violations(cloud, move, None, left)
    finally:
        if victim.alive:
            victim.kill()
        tidy.tidy(cloud, server)
    assert victim.process.returncode == -signal.SIGKILL
    assert (kill.status, kill.migration_status, left) == (
        'MIGRATING', 'running', 'running')
    assert any(v.startswith('migrations left in progress: ') and
               v.endswith(' running (live-migration)') for v in found), found
    assert 'server left in MIGRATING on host1' in found, found
    assert unnamed == ['the kill left running but the recovery log does '
                       'not name the server'], unnamed


def test_a_cold_migration_left_at_verify_resize_is_reported(cloud):
    server = cloud.create_server('host1')
    cloud.compute('POST', '/servers/%s/action' % server,
                  {'migrate': {'host': 'host3'}}, microversion='2.56')
    try:
        cloud.wait_for_server(server, 'VERIFY_RESIZE', host='host3',
                              timeout=120)
        left = moments.left_behind(cloud, server)
        found = check.nova_violations(cloud, moments.Move(
            server, moments.COLD_MOVE, 'host1', 'host3'))
    finally:
        tidy.tidy(cloud, server)
    assert left == 'VERIFY_RESIZE'
    assert any(v.startswith('migrations left in progress: ') and
               v.endswith(' finished (migration)') for v in found), found
    assert 'server left in VERIFY_RESIZE on host3' in found, found


def test_a_server_not_where_the_recovery_log_says_is_reported(cloud):
    server = cloud.create_server('host2')
    move = moments.Move(server, moments.LIVE_COPY, 'host2', 'host4')
    try:
        at_rest = check.nova_violations(cloud, move)
        stopped = check.log_violations(cloud, move, check.STOPPED,
                                       'running')
        succeeded = check.log_violations(cloud, move, check.SUCCEEDED,
                                         'running')
    finally:
        tidy.tidy(cloud, server)
    assert (at_rest, stopped) == ([], [])
    assert succeeded == ['server on host2 but the recovery log says it '
                         'succeeded the move: host4']


def test_a_server_outside_its_move_is_reported(cloud):
    server = cloud.create_server('host3')
    try:
        found = check.nova_violations(cloud, moments.Move(
            server, moments.COLD_MOVE, 'host1', 'host2'))
    finally:
        tidy.tidy(cloud, server)
    assert found == ['server on host3, neither its source host1 nor its '
                     'destination host2']


def test_the_recovery_log_is_read_for_what_was_done_with_each_server():
    first = '11111111-2222-3333-4444-555555555555'
    second = '66666666-7777-8888-9999-000000000000'
    log = ('12:00:01 INFO watcher_migrate.recovery: Server %s (web-1): '
           'recovered migration 7: succeeded: on host2\n'
           '12:00:02 INFO watcher_migrate.recovery: Server %s: recovered '
           'migration: it had ended: completed; entry dropped\n'
           % (first, second))
    assert [check.recovery_said(log, s) for s in (first, second)] == [
        check.SUCCEEDED, check.DROPPED]
    assert check.recovery_said(
        log.replace('succeeded', 'stopped'), first) == check.STOPPED
    assert check.recovery_said(log, 'aaaaaaaa-2222-3333-4444-555555555555') \
        is None
