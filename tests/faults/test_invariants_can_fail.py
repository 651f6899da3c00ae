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

"""The invariant check catches each broken promise it is there to catch.

Every fault test rests on ``invariants.violations``; these tests hand it
runs that lie and a cloud left half-moved, and expect it to say so.
"""

import time

from tests.faults import harness
from tests.faults import invariants

LIVE, COLD = harness.LIVE, harness.COLD


def a_run(server, **fields):
    now = time.time()
    values = dict(server=server.id, migration_type=LIVE, source=server.host,
                  destination=harness.other_host(server.host),
                  started=now - 1.0, ended=now)
    values.update(fields)
    return harness.Run(**values)


def test_a_success_claimed_for_an_unmoved_server_is_a_violation(cloud,
                                                                server):
    found = invariants.violations(cloud, a_run(server, succeeded=True))
    assert any(v.startswith('reported success but') for v in found), found


def test_a_failure_without_the_cause_in_its_message_is_a_violation(
        cloud, server):
    run = a_run(server, message='something went wrong')
    found = invariants.violations(cloud, run, cause=r'InjectedFailure')
    assert any('does not name the cause' in v for v in found), found
    assert invariants.violations(cloud, a_run(server, message=' ')) == [
        'failure without a message']


def test_a_server_the_test_deleted_still_there_is_a_violation(
        cloud, server, monkeypatch):
    monkeypatch.setattr(invariants, 'FINISHING', 1.0)
    run = a_run(server, message='the server was deleted during its live '
                'migration')
    found = invariants.violations(cloud, run, deleted=True)
    assert any(v.startswith('server deleted by the test still there')
               for v in found), found


def test_a_foreign_exception_is_a_violation(cloud, server):
    run = a_run(server, message='execute: boom',
                foreign_errors=['execute raised KeyError: boom'])
    found = invariants.violations(cloud, run)
    assert found == ["not the plugin's exception: execute raised "
                     "KeyError: boom"]


def test_a_migration_left_running_and_a_second_move_are_violations(
        cloud, server):
    cloud.set_driver(instance=server.id, live_duration=30)
    nova = cloud.nova_client()
    destination = harness.other_host(server.host)
    started = time.time()
    nova.servers.live_migrate(server.id, destination, 'auto')
    migration = None
    try:
        deadline = time.monotonic() + 30
        while migration is None or migration['status'] != 'running':
            assert time.monotonic() < deadline, migration
            time.sleep(0.3)
            migration = cloud.migrations(server.id)[0]
        # A second move while the first runs: Nova answers 409 (it does
        # not act on it), which alone is no violation.
        try:
            nova.servers.live_migrate(server.id, destination, 'auto')
        except Exception:
            pass
        run = a_run(server, message='failed', started=started,
                    ended=time.time())
        found = invariants.violations(cloud, run)
    finally:
        nova.server_migrations.live_migration_abort(server.id,
                                                    migration['id'])
        cloud.wait_for_server(server.id, 'ACTIVE', host=server.host)
    assert any(v.startswith('migrations left in progress') for v in found)
    assert any(v.startswith('server left in MIGRATING:') for v in found), found
    assert not any('move request' in v for v in found), found
    # Nova's refusal is in its log: counting it would be a false alarm.
    moves = harness.nova_requests(cloud).moves(server.id, run.started,
                                               run.ended, LIVE)
    assert [m['status'] for m in moves] == [202, 409]


def wait_until_settled(cloud, server_id, host):
    """The server ACTIVE on ``host`` and its migrations all final.

    Nova shows the server on its new host a moment before it writes
    'completed' on the migration.
    """
    cloud.wait_for_server(server_id, 'ACTIVE', host=host)
    deadline = time.monotonic() + 30
    while any(m['status'] in invariants.IN_PROGRESS
              for m in cloud.migrations(server_id)):
        assert time.monotonic() < deadline, cloud.migrations(server_id)
        time.sleep(0.2)


def test_two_moves_nova_acted_on_are_a_violation(cloud, server):
    nova = cloud.nova_client()
    started = time.time()
    first = harness.other_host(server.host)
    nova.servers.live_migrate(server.id, first, 'auto')
    wait_until_settled(cloud, server.id, first)
    nova.servers.live_migrate(server.id, harness.other_host(first), 'auto')
    wait_until_settled(cloud, server.id, harness.other_host(first))
    run = a_run(server, succeeded=True, started=started, ended=time.time(),
                destination=harness.other_host(first))
    found = invariants.violations(cloud, run)
    assert len(found) == 1 and found[0].startswith(
        'Nova received the move request 2 times'), found
