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

"""The journal of moves in flight and its recovery, against the real Nova.

A process that died mid-move is played by a journal entry whose owner's
pid no longer runs, next to a migration really under way in Nova (sent
through Nova's API, as the dead process had sent it).
"""

import io
import json
import logging
import socket
import subprocess
import threading
import time

import pytest

from tests.functional import test_migrate_action as helpers
from watcher_migrate import action
from watcher_migrate import cli
from watcher_migrate import exceptions
from watcher_migrate import journal
from watcher_migrate import recovery

placement = helpers.placement


def dead_owner():
    """The owner of a row whose process is gone (this host, this boot)."""
    child = subprocess.Popen(['true'])
    child.wait()
    return journal.Owner(socket.gethostname(), child.pid, 1,
                         journal.boot_id())


def orphan(store, server, kind='live', destination='host2', deadline=120,
           owner=None, **fields):
    """The row a dead process left for ``server``; deadline in s from now."""
    return store.add(journal.Entry(
        server_id=server, migration_type=kind, source='host1',
        destination=destination, status_before='ACTIVE',
        deadline=time.time() + deadline,
        timeout_action=fields.pop('timeout_action', 'abort'),
        owner=owner or dead_owner(), **fields))


@pytest.fixture
def store(_private_journal):
    return journal.Journal(str(_private_journal))


def recover(cloud, store, **options):
    """Recovery as a new process of the cloud's runs it."""
    recoverer = action.Migrate(helpers.config(cloud, **options))
    return recovery.recover(recoverer.gateway, recoverer.settings, store)


def live_migrate(cloud, server, host='host2'):
    cloud.nova_client().servers.live_migrate(server, host, 'auto')


def cold_migrate_to_verify_resize(cloud, server, host='host2'):
    cloud.compute('POST', '/servers/%s/action' % server,
                  {'migrate': {'host': host}}, microversion='2.56')
    cloud.wait_for_server(server, 'VERIFY_RESIZE', host=host)
    return cloud.migrations(server)[0]['id']


def assert_still_at_verify_resize(cloud, server):
    """The server waits on host2 for a confirm; confirm it (clean-up)."""
    assert placement(cloud, server) == ('host2', 'VERIFY_RESIZE', None)
    cloud.nova_client().servers.confirm_resize(server)
    cloud.wait_for_server(server, 'ACTIVE', host='host2')


# -- orphans of a dead process ------------------------------------------------

@pytest.mark.parametrize('timeout_action, host, status', [
    ('abort', 'host1', 'cancelled'),
    ('force_complete', 'host2', 'completed'),
])
def test_a_live_migration_past_its_deadline_gets_its_timeout_action(
        cloud, store, timeout_action, host, status):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=120)
    live_migrate(cloud, server)
    helpers.wait_for_migration_status(cloud, server, 'running')
    migration = cloud.migrations(server)[0]['id']
    orphan(store, server, deadline=-1, migration_id=migration,
           timeout_action=timeout_action)

    [finding] = recover(cloud, store)

    assert finding.owner_state == recovery.ORPHANED
    assert finding.done.startswith('succeeded' if host == 'host2'
                                   else 'stopped'), finding
    cloud.wait_for_server(server, 'ACTIVE', host=host)
    helpers.wait_for_migration_status(cloud, server, status)
    assert store.entries() == []


def test_a_live_migration_whose_id_was_never_learned_is_still_stopped(
        cloud, store):
    server = cloud.create_server('host1')
    # Figures saved every half second change the server after its
    # migration record was created.
    cloud.set_driver(instance=server, live_duration=120,
                     live_migration_monitor_interval=0.5)
    # Written before the request, as the move writes it; the process
    # died before it learned the migration's id.
    orphan(store, server, deadline=-1)
    live_migrate(cloud, server)
    helpers.wait_for_migration_status(cloud, server, 'running')
    time.sleep(2)

    [finding] = recover(cloud, store, settle_timeout=20)

    assert finding.done.startswith('stopped'), finding
    cloud.wait_for_server(server, 'ACTIVE', host='host1')
    assert cloud.migrations(server)[0]['status'] == 'cancelled'
    assert store.entries() == []


def test_a_live_migration_within_its_deadline_is_followed_to_its_end(
        cloud, store):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=4)
    # Written before the request, as the move writes it: the dead process
    # never learned the migration's id.
    orphan(store, server, deadline=120)
    live_migrate(cloud, server)
    helpers.wait_for_migration_status(cloud, server, 'running')
    cloud.reset_requests()

    [finding] = recover(cloud, store)

    assert finding.done.startswith('succeeded: live migrated'), finding
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert cloud.write_requests() == []
    assert store.entries() == []


def test_a_cold_migration_left_at_verify_resize_is_confirmed(cloud, store):
    server = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, server)
    orphan(store, server, kind='cold', migration_id=migration)

    [finding] = recover(cloud, store)

    assert 'confirmed' in finding.done
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'confirmed'
    assert store.entries() == []


def test_a_cold_migration_being_stopped_at_verify_resize_is_reverted(
        cloud, store):
    server = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, server)
    orphan(store, server, kind='cold', migration_id=migration,
           phase=journal.STOPPING)

    recover(cloud, store)

    assert placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'reverted'
    assert store.entries() == []


def test_a_move_that_has_ended_is_dropped_without_a_write(
        cloud, store, caplog):
    caplog.set_level(logging.INFO, 'watcher_migrate')
    server = cloud.create_server('host1')
    entry = orphan(store, server)
    live_migrate(cloud, server)
    cloud.wait_for_server(server, 'ACTIVE', host='host2')
    # Nova marks the record completed a moment after the landing.
    helpers.wait_for_migration_status(cloud, server, 'completed')
    cloud.reset_requests()

    [finding] = recover(cloud, store)

    assert finding.done.startswith('it had ended'), finding
    assert cloud.write_requests() == []
    assert store.entries() == []
    assert entry.server_id in caplog.text and 'recovered' in caplog.text


def test_a_request_that_never_reached_nova_is_dropped(cloud, store):
    server = cloud.create_server('host1')
    orphan(store, server)
    cloud.reset_requests()

    [finding] = recover(cloud, store)

    assert 'Nova shows no move' in finding.done
    assert cloud.write_requests() == []
    assert store.entries() == []


# -- what is never touched ----------------------------------------------------

def test_the_entry_of_a_running_owner_is_left_alone(cloud, store):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=120)
    live_migrate(cloud, server)
    helpers.wait_for_migration_status(cloud, server, 'running')
    migration = cloud.migrations(server)[0]['id']
    # Past its deadline: only its owner may stop it.
    entry = orphan(store, server, deadline=-1, migration_id=migration,
                   owner=journal.Owner.current())
    cloud.reset_requests()
    try:
        [finding] = recover(cloud, store)

        assert finding.owner_state == recovery.OWNER_RUNNING
        assert store.entries() == [entry]
        assert cloud.write_requests() == []
        assert cloud.migrations(server)[0]['status'] == 'running'
    finally:
        cloud.nova_client().server_migrations.live_migration_abort(
            server, migration)
        cloud.wait_for_server(server, 'ACTIVE', host='host1')


def test_the_entry_of_another_host_is_left_alone_and_reported(
        cloud, store, caplog):
    server = cloud.create_server('host1')
    entry = orphan(store, server,
                   owner=journal.Owner('applier-2.example', 4242, 1, 'b'))
    cloud.reset_requests()

    [finding] = recover(cloud, store)

    assert finding.owner_state == recovery.OTHER_HOST
    assert store.entries() == [entry]
    assert cloud.write_requests() == []
    assert 'applier-2.example' in caplog.text


# -- the command --------------------------------------------------------------

def recover_command(cloud, tmp_path, monkeypatch, *argv):
    """``watcher-migrate recover`` in-process: (exit code, output)."""
    return tool_command(cloud, tmp_path, monkeypatch, 'recover', *argv)


def tool_command(cloud, tmp_path, monkeypatch, command, *argv):
    """``watcher-migrate COMMAND`` in-process: (exit code, output)."""
    for name, value in (('OS_AUTH_URL', cloud.auth_url),
                        ('OS_USERNAME', cloud.username),
                        ('OS_PASSWORD', cloud.password),
                        ('OS_PROJECT_NAME', cloud.project_name),
                        ('OS_USER_DOMAIN_NAME', cloud.user_domain_name),
                        ('OS_PROJECT_DOMAIN_NAME',
                         cloud.project_domain_name)):
        monkeypatch.setenv(name, value)
    config = tmp_path / 'watcher-migrate.conf'
    config.write_text('[watcher_actions.nova_migrate]\n'
                      'poll_interval_min = 0.1\npoll_interval_max = 1.0\n')
    out = io.StringIO()
    code = cli.Tool(stdout=out, stderr=io.StringIO(), isatty=False).main(
        [command, '--config-file', str(config)] + list(argv))
    return code, out.getvalue()


def test_check_leaves_the_orphans_alone(cloud, store, tmp_path, monkeypatch):
    left = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, left)
    orphan(store, left, kind='cold', migration_id=migration)
    server = cloud.create_server('host1')
    plan = tmp_path / 'plan.json'
    plan.write_text(json.dumps([{
        'action_type': 'nova_migrate',
        'input_parameters': {'resource_id': server, 'migration_type': 'live',
                             'source_node': 'host1',
                             'destination_node': 'host2'}}]))
    cloud.reset_requests()

    code, out = tool_command(cloud, tmp_path, monkeypatch, 'check',
                             str(plan))

    assert code == 0, out
    assert cloud.write_requests() == []
    # Not even claimed: a run would have taken it over at once.
    [entry] = store.entries()
    assert not entry.owner.alive()
    assert_still_at_verify_resize(cloud, left)


def test_recover_dry_run_lists_the_orphans_and_changes_nothing(
        cloud, store, tmp_path, monkeypatch):
    server = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, server)
    entry = orphan(store, server, kind='cold', migration_id=migration)
    cloud.reset_requests()

    code, out = recover_command(cloud, tmp_path, monkeypatch, '--dry-run')

    assert code == 0
    assert server in out and recovery.ORPHANED in out
    assert 'would follow it to VERIFY_RESIZE' in out
    assert store.entries() == [entry]
    assert cloud.requests() == []
    assert_still_at_verify_resize(cloud, server)


def test_recover_settles_the_orphans_and_says_what_it_did(
        cloud, store, tmp_path, monkeypatch):
    server = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, server)
    orphan(store, server, kind='cold', migration_id=migration)

    code, out = recover_command(cloud, tmp_path, monkeypatch)

    assert code == 0
    assert server in out and 'confirmed' in out
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert store.entries() == []


# -- the journal of an action's own move --------------------------------------

def test_a_running_move_has_its_row_and_loses_it_when_it_ends(cloud, store):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=6)
    migrate = helpers.migrate_action(cloud, server, 'host1', 'host2')
    migrate.action_uuid = 'b3c6d1e0-0000-4000-8000-000000000001'
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (helpers.run(migrate), done.set()), daemon=True)
    worker.start()
    helpers.wait_for_migration_status(cloud, server, 'running')
    migration = cloud.migrations(server)[0]['id']
    deadline = time.monotonic() + 30
    rows = store.entries()
    while not (rows and rows[0].migration_id) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
        rows = store.entries()

    [row] = rows
    assert (row.server_id, row.migration_type, row.source,
            row.destination) == (server, 'live', 'host1', 'host2')
    assert (row.migration_id, row.phase) == (migration, journal.MOVING)
    assert row.action_uuid == migrate.action_uuid
    assert row.owner == journal.Owner.current()
    assert row.deadline > time.time()
    worker.join(120)
    assert done.is_set()
    assert store.entries() == []


def test_a_journal_that_cannot_be_written_fails_before_any_write(
        cloud, tmp_path):
    server = cloud.create_server('host1')
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('')
    path = str(blocker / 'journal.sqlite')
    migrate = helpers.migrate_action(cloud, server, 'host1', 'host2',
                                     journal_path=path)
    cloud.reset_requests()

    with pytest.raises(exceptions.ActionFailed) as error:
        helpers.run(migrate)

    assert path in str(error.value) and 'Not a directory' in str(error.value)
    assert cloud.write_requests() == []
    assert placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_the_first_move_of_a_process_recovers_what_a_dead_one_left(
        cloud, store, process_context):
    left = cloud.create_server('host1')
    migration = cold_migrate_to_verify_resize(cloud, left)
    orphan(store, left, kind='cold', migration_id=migration)
    server = cloud.create_server('host1')

    assert helpers.run(helpers.migrate_action(
        cloud, server, 'host1', 'host3', context=process_context)) is True

    assert placement(cloud, server) == ('host3', 'ACTIVE', None)
    # The recovery runs behind the new move.
    assert settled(store)
    assert placement(cloud, left) == ('host2', 'ACTIVE', None)
    assert cloud.migrations(left)[0]['status'] == 'confirmed'


def test_a_new_move_does_not_wait_for_a_long_migration_a_dead_one_left(
        cloud, store, process_context):
    left = cloud.create_server('host1')
    cloud.set_driver(instance=left, live_duration=40)
    live_migrate(cloud, left)
    helpers.wait_for_migration_status(cloud, left, 'running')
    orphan(store, left, deadline=300)
    # Cold: the embedded Nova runs one live migration at a time.
    server = cloud.create_server('host3')

    assert helpers.run(helpers.migrate_action(
        cloud, server, 'host3', 'host4', kind='cold',
        context=process_context)) is True

    # Done while the recovery still follows the one left behind.
    assert cloud.migrations(left)[0]['status'] == 'running'
    assert settled(store)
    assert placement(cloud, left) == ('host2', 'ACTIVE', None)


def test_a_move_of_a_server_being_recovered_waits_for_its_recovery(
        cloud, store, process_context):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=8)
    live_migrate(cloud, server)
    helpers.wait_for_migration_status(cloud, server, 'running')
    orphan(store, server, deadline=300)

    # Back to where the dead process was taking it from: Nova would have
    # refused this move while the first one ran.
    assert helpers.run(helpers.migrate_action(
        cloud, server, 'host2', 'host1', context=process_context)) is True

    assert placement(cloud, server) == ('host1', 'ACTIVE', None)
    helpers.wait_for_migration_status(cloud, server, 'completed')
    assert [m['status'] for m in cloud.migrations(server)] == \
        ['completed', 'completed']
    assert store.entries() == []


def settled(store, timeout=180):
    """Whether the journal empties within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while store.entries():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True
