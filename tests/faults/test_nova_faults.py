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

"""Faults inside Nova: the compute host, the cloud, the operator.

The fake virt driver fails migrations and confirms on request; the tests
force a destination down, delete a server and fill a source's live
migration slot while an action runs. The action's answer must be true to
what Nova did, with nothing left in progress.

Queueing in the embedded Nova: every nova-compute runs in the one Nova
process, and Nova's live migration executor is a process-wide singleton
sized by max_concurrent_live_migrations (1). So one live migration runs
at a time in the whole cloud, not one per source host as in a real
deployment: any other running live migration keeps a new one 'queued'.
"""

import concurrent.futures
import threading
import time

from tests.faults import harness
from tests.faults import invariants
from watcher_migrate import tuning

LIVE, COLD = harness.LIVE, harness.COLD


def options(cloud, **overrides):
    return harness.config(cloud, **overrides)


def migrate(cloud, server, migration_type, **overrides):
    return harness.migrate_server(
        cloud, options(cloud, **overrides), server.id, server.host,
        harness.other_host(server.host), migration_type)


def in_background(function, *args, **kwargs):
    """``function(*args, **kwargs)`` in a daemon thread, as a Future.

    A daemon, unlike an executor's worker: an action a failed test left
    running must not keep pytest from exiting once the cloud is gone.
    """
    future = concurrent.futures.Future()

    def run():
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as e:
            future.set_exception(e)

    threading.Thread(target=run, daemon=True).start()
    return future


def wait_for_migration(cloud, server_id, statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        migrations = cloud.migrations(server_id)
        if migrations and migrations[0]['status'] in statuses:
            return migrations[0]
        time.sleep(0.3)
    raise AssertionError('no migration of %s reached %s'
                         % (server_id, statuses))


# -- the compute host fails the migration ------------------------------------

def test_a_live_migration_rolled_back_by_the_host_fails_saying_so(cloud,
                                                                  server):
    cloud.set_driver(instance=server.id, live_fail='rollback')
    run = migrate(cloud, server, LIVE)
    invariants.assert_invariants(cloud, run,
                                 cause=r"migration \d+ is 'failed'")
    assert cloud.server(server.id)['OS-EXT-SRV-ATTR:host'] == server.host


def test_a_live_migration_erroring_on_the_host_fails_with_novas_fault(
        cloud, server):
    cloud.set_driver(instance=server.id, live_fail='raise')
    run = migrate(cloud, server, LIVE)
    # The server goes ERROR before Nova writes 'error' on the migration;
    # the server's state is the cause to name.
    invariants.assert_invariants(cloud, run, cause=r'server is ERROR')
    assert cloud.server(server.id)['status'] == 'ERROR'
    assert cloud.migrations(server.id)[0]['status'] == 'error'


def test_a_cold_migration_failing_on_the_host_fails_with_novas_fault(
        cloud, server):
    cloud.set_driver(instance=server.id, cold_fail=True)
    run = migrate(cloud, server, COLD)
    invariants.assert_invariants(cloud, run,
                                 cause=r'Nova fault: InjectedFailure')


def test_a_cold_migration_rolled_back_by_the_host_fails_saying_so(cloud,
                                                                  server):
    cloud.set_driver(instance=server.id, cold_fail='rollback')
    run = migrate(cloud, server, COLD)
    invariants.assert_invariants(cloud, run,
                                 cause=r"migration \d+ is 'error'")
    assert cloud.server(server.id)['status'] == 'ACTIVE'


def test_a_failing_confirm_fails_the_cold_migration_saying_so(cloud,
                                                              server):
    cloud.set_driver(instance=server.id, confirm_fail=True)
    run = migrate(cloud, server, COLD)
    invariants.assert_invariants(
        cloud, run, cause=r'confirming the cold migration .* failed')


# -- the cloud changes under the migration -----------------------------------

def _force_down_destination_midway(cloud, server, migration_type, phase):
    destination = harness.other_host(server.host)
    running = in_background(migrate, cloud, server, migration_type)
    try:
        wait_for_migration(cloud, server.id, phase)
        cloud.force_down(destination)
        return running.result(timeout=120)
    finally:
        cloud.force_down(destination, down=False)


def test_a_destination_forced_down_mid_live_migration_gets_a_true_answer(
        cloud, server):
    cloud.set_driver(instance=server.id, live_duration=3)
    run = _force_down_destination_midway(cloud, server, LIVE, ('running',))
    invariants.assert_invariants(cloud, run)


def test_a_destination_forced_down_mid_cold_migration_gets_a_true_answer(
        cloud, server):
    cloud.set_driver(instance=server.id, cold_duration=3)
    run = _force_down_destination_midway(cloud, server, COLD,
                                         ('migrating', 'pre-migrating'))
    invariants.assert_invariants(cloud, run)


def _delete_midway(cloud, server, migration_type, phase):
    running = in_background(migrate, cloud, server, migration_type)
    wait_for_migration(cloud, server.id, phase)
    cloud.compute('DELETE', '/servers/%s' % server.id)
    return running.result(timeout=120)


def test_a_server_deleted_mid_live_migration_fails_saying_so(cloud, server):
    cloud.set_driver(instance=server.id, live_duration=4)
    run = _delete_midway(cloud, server, LIVE, ('running',))
    invariants.assert_invariants(
        cloud, run, cause=r'deleted during its live migration', deleted=True)


def test_a_server_deleted_mid_cold_migration_fails_saying_so(cloud, server):
    cloud.set_driver(instance=server.id, cold_duration=4)
    run = _delete_midway(cloud, server, COLD,
                         ('migrating', 'pre-migrating'))
    invariants.assert_invariants(
        cloud, run, cause=r'deleted during its cold migration', deleted=True)


def _cold_migration_under_way_with_the_cell_down(cloud, server):
    """Start a cold migration, then leave the cell out of Nova's lists."""
    cloud.set_driver(instance=server.id, cold_duration=4)
    running = in_background(migrate, cloud, server, COLD)
    wait_for_migration(cloud, server.id, ('migrating', 'pre-migrating'))
    cloud.set_cell_down(True)
    return running


def test_a_deletion_the_server_lists_left_out_is_still_noticed(cloud,
                                                               server):
    # Nova's lists silently leave out a cell that does not answer in time:
    # the shared feed's routine lists never hear of the deletion; the
    # roll call, reaching back to the server's last change, does.
    running = _cold_migration_under_way_with_the_cell_down(cloud, server)
    try:
        cloud.compute('DELETE', '/servers/%s' % server.id)
        deadline = time.monotonic() + 60
        while invariants.server_or_none(cloud, server.id) is not None:
            assert time.monotonic() < deadline, 'Nova did not delete it'
            time.sleep(0.5)
        # Past the feed's clock slack: its later lists start after the
        # deletion, so they would not show it even from a working cell.
        time.sleep(2 * tuning.CLOCK_SLACK)
    finally:
        cloud.set_cell_down(False)
    run = running.result(timeout=120)
    invariants.assert_invariants(
        cloud, run, cause=r'deleted during its cold migration', deleted=True)


def test_a_deletion_is_noticed_while_the_lists_still_leave_the_cell_out(
        cloud, server):
    # The shared feed's roll call cannot show the server either: the
    # action must read it alone.
    running = _cold_migration_under_way_with_the_cell_down(cloud, server)
    try:
        cloud.compute('DELETE', '/servers/%s' % server.id)
        run = running.result(timeout=120)
    finally:
        cloud.set_cell_down(False)
    invariants.assert_invariants(
        cloud, run, cause=r'deleted during its cold migration', deleted=True)


def test_a_live_migration_queued_past_its_timeout_is_aborted_unstarted(
        cloud, server_pool):
    # The blocker and the server share a source, so the server would be
    # queued in a real deployment too.
    blocker = server_pool.take()
    server = harness.Server(cloud.create_server(blocker.host), blocker.host)
    nova = cloud.nova_client()
    cloud.set_driver(instance=blocker.id, live_duration=60)
    nova.servers.live_migrate(blocker.id, harness.other_host(blocker.host),
                              'auto')
    try:
        wait_for_migration(cloud, blocker.id, ('running',))
        run = migrate(cloud, server, LIVE, live_timeout=3)
    finally:
        migration = wait_for_migration(cloud, blocker.id, ('running',))
        nova.server_migrations.live_migration_abort(blocker.id,
                                                    migration['id'])
        cloud.wait_for_server(blocker.id, 'ACTIVE', host=blocker.host)
        server_pool.give_back(blocker)
    invariants.assert_invariants(
        cloud, run,
        cause=r"did not finish within its \d+ s live_timeout and was "
              r"aborted: migration \d+ is 'cancelled'")
    started = [e for e in cloud.events(server.id)
               if e['event'] == 'live_migration_started']
    assert started == [], 'the queued migration should never have run'
    server_pool.give_back(server)
