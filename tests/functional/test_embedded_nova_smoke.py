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

"""The embedded Nova is the real thing, seen through novaclient over HTTP."""

import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from novaclient import api_versions

from embedded_nova import client

TIMEOUT = 60


def _poll(predicate, description, timeout=TIMEOUT, interval=0.2):
    """Return the first truthy predicate() result, or fail after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail('timed out after %s s waiting for %s'
                % (timeout, description))


def _running_migration(nova, server_id):
    """The in-progress live migration once it is 'running', else None."""
    for migration in nova.server_migrations.list(server_id):
        if migration.status == 'running':
            return migration
    return None


def _last_migration_status(cloud, server_id):
    # The conductor creates the record after the API has answered 202.
    migrations = cloud.migrations(server_id)
    return migrations[0]['status'] if migrations else None


def _host(server):
    return server['OS-EXT-SRV-ATTR:host']


@pytest.fixture(scope='module')
def nova(cloud):
    return cloud.nova_client()


@pytest.fixture(autouse=True)
def _default_driver(cloud):
    cloud.reset_driver()
    yield
    cloud.reset_driver()


def test_negotiated_microversion_is_at_least_2_56(nova):
    assert nova.api_version >= api_versions.APIVersion('2.56')
    assert nova.api_version.get_string() == '2.96'


def test_create_server_on_named_host(cloud, nova):
    server_id = cloud.create_server('host1')

    server = nova.servers.get(server_id)
    assert server.status == 'ACTIVE'
    assert getattr(server, 'OS-EXT-SRV-ATTR:host') == 'host1'


def test_live_migrate_to_named_host(cloud, nova):
    server_id = cloud.create_server('host1')

    nova.servers.live_migrate(server_id, 'host2', 'auto')

    cloud.wait_for_server(server_id, 'ACTIVE', host='host2', timeout=TIMEOUT)
    _poll(lambda: _last_migration_status(cloud, server_id) == 'completed',
          'migration completed')
    migration = cloud.migrations(server_id)[0]
    assert migration['migration_type'] == 'live-migration'
    assert (migration['source_compute'], migration['dest_compute']) == (
        'host1', 'host2')


def test_a_live_migrated_server_landing_is_recorded(cloud, nova):
    server_id = cloud.create_server('host1')
    nova.servers.live_migrate(server_id, 'host2', 'auto')
    landed = cloud.wait_for_server(server_id, 'ACTIVE', host='host2',
                                   timeout=TIMEOUT)
    seen = time.time()
    events = [e for e in cloud.events(server_id)
              if e['event'] == 'live_migration_landed']
    assert [e['dest'] for e in events] == ['host2'], events
    # Recorded when Nova saved the server there: before anyone saw it.
    assert events[0]['time'] <= seen
    assert landed['OS-EXT-STS:task_state'] is None


def _copy_seconds(cloud, server_id):
    """Seconds from each live copy's start to its finish, in order."""
    started = [e['time'] for e in cloud.events(server_id)
               if e['event'] == 'live_migration_started']
    finished = [e['time'] for e in cloud.events(server_id)
                if e['event'] == 'live_migration_finished']
    return [end - start for start, end in zip(started, finished)]


def test_each_live_move_lasts_the_next_of_the_server_s_durations(
        cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=2.5,
                     next_durations=[4.0, 1.0])
    for destination in ('host2', 'host1', 'host2'):
        nova.servers.live_migrate(server_id, destination, 'auto')
        cloud.wait_for_server(server_id, 'ACTIVE', host=destination,
                              timeout=TIMEOUT)
    seconds = _poll(lambda: len(_copy_seconds(cloud, server_id)) == 3 and
                    _copy_seconds(cloud, server_id), 'three copies')
    assert 4.0 <= seconds[0] and 1.0 <= seconds[1] < 2.5, seconds
    # Then the server's live_duration again, once its durations are used.
    assert 2.5 <= seconds[2] < 4.0, seconds


def _rolled_back_live_migration(cloud, nova):
    """A server whose live migration host1 -> host2 Nova rolled back."""
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_fail='rollback')

    nova.servers.live_migrate(server_id, 'host2', 'auto')

    # recover_method's default status, as with libvirt's failed job.
    _poll(lambda: _last_migration_status(cloud, server_id) == 'failed',
          'migration failed')
    cloud.wait_for_server(server_id, 'ACTIVE', host='host1')
    return server_id


def test_a_rolled_back_live_migration_records_no_landing(cloud, nova):
    server_id = _rolled_back_live_migration(cloud, nova)
    assert not [e for e in cloud.events(server_id)
                if e['event'] == 'live_migration_landed'
                and e['dest'] == 'host2']


def test_cold_migrate_to_named_host_then_confirm(cloud, nova):
    server_id = cloud.create_server('host1')

    nova.servers.migrate(server_id, host='host3')
    cloud.wait_for_server(server_id, 'VERIFY_RESIZE', host='host3')
    nova.servers.confirm_resize(server_id)

    cloud.wait_for_server(server_id, 'ACTIVE', host='host3')
    _poll(lambda: _last_migration_status(cloud, server_id) == 'confirmed',
          'migration confirmed')


def test_abort_running_live_migration(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=120)
    nova.servers.live_migrate(server_id, 'host2', 'auto')
    migration = _poll(lambda: _running_migration(nova, server_id),
                      'a running live migration')

    nova.server_migrations.live_migration_abort(server_id, migration.id)

    _poll(lambda: _last_migration_status(cloud, server_id) == 'cancelled',
          'migration cancelled')
    server = cloud.wait_for_server(server_id, 'ACTIVE', host='host1')
    assert _host(server) == 'host1'


def test_force_complete_running_live_migration(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=120)
    nova.servers.live_migrate(server_id, 'host2', 'auto')
    migration = _poll(lambda: _running_migration(nova, server_id),
                      'a running live migration')

    nova.server_migrations.live_migrate_force_complete(server_id,
                                                       migration.id)

    cloud.wait_for_server(server_id, 'ACTIVE', host='host2')
    _poll(lambda: _last_migration_status(cloud, server_id) == 'completed',
          'migration completed')


def test_live_migration_rollback_failure(cloud, nova):
    _rolled_back_live_migration(cloud, nova)


def test_live_migration_driver_exception_errors_server(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_fail='raise')

    nova.servers.live_migrate(server_id, 'host2', 'auto')

    _poll(lambda: _last_migration_status(cloud, server_id) == 'error',
          'migration error')
    cloud.wait_for_server(server_id, 'ERROR')


def test_progress_figures_visible_while_running(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=120,
                     memory_bytes=2 << 30,
                     live_migration_monitor_interval=0.2)
    nova.servers.live_migrate(server_id, 'host2', 'auto')

    def progressing():
        migration = _running_migration(nova, server_id)
        if migration and 0 < (migration.memory_processed_bytes or 0):
            return migration
        return None

    migration = _poll(progressing, 'memory_processed_bytes > 0')
    assert migration.memory_total_bytes == 2 << 30
    assert (migration.memory_processed_bytes +
            migration.memory_remaining_bytes) == 2 << 30
    nova.server_migrations.live_migrate_force_complete(server_id,
                                                       migration.id)
    cloud.wait_for_server(server_id, 'ACTIVE', host='host2')


def test_figures_are_saved_again_and_again_at_a_short_interval(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=20,
                     live_migration_monitor_interval=0.2)
    nova.servers.live_migrate(server_id, 'host2', 'auto')
    seen = set()

    def three_figures():
        migration = _running_migration(nova, server_id)
        if migration is not None:
            seen.add(migration.memory_processed_bytes)
        return len(seen - {None}) >= 3

    _poll(three_figures, 'three memory_processed_bytes figures')
    # As libvirt's save_stats: the server's progress too.
    assert cloud.server(server_id)['progress'] > 0
    migration = _running_migration(nova, server_id)
    nova.server_migrations.live_migrate_force_complete(server_id,
                                                       migration.id)
    cloud.wait_for_server(server_id, 'ACTIVE', host='host2')


def test_interval_0_saves_no_figures_while_running(cloud, nova):
    server_id = cloud.create_server('host1')
    cloud.set_driver(instance=server_id, live_duration=120,
                     live_migration_monitor_interval=0)
    nova.servers.live_migrate(server_id, 'host2', 'auto')
    migration = _poll(lambda: _running_migration(nova, server_id),
                      'a running live migration')
    # Longer than the copy would take to save its first figures.
    time.sleep(2)

    migration = _running_migration(nova, server_id)
    assert (migration.memory_total_bytes, migration.memory_processed_bytes,
            migration.memory_remaining_bytes, migration.disk_total_bytes,
            migration.disk_processed_bytes,
            migration.disk_remaining_bytes) == (None,) * 6
    assert cloud.server(server_id)['progress'] == 0
    nova.server_migrations.live_migrate_force_complete(server_id,
                                                       migration.id)
    cloud.wait_for_server(server_id, 'ACTIVE', host='host2')


def test_figures_are_saved_every_5_s_by_default_as_libvirt_does(cloud):
    assert cloud.driver_settings()['default'][
        'live_migration_monitor_interval'] == 5.0


def test_a_negative_figures_interval_is_refused_by_name(cloud):
    with pytest.raises(client.HTTPError) as caught:
        cloud.set_driver(live_migration_monitor_interval=-0.5)
    assert caught.value.status == 400
    assert 'live_migration_monitor_interval must be a number >= 0' in \
        caught.value.body


def test_disabled_and_forced_down_service_listed(cloud, nova):
    try:
        cloud.disable_service('host4', 'maintenance window')
        cloud.force_down('host4')

        service = nova.services.list(binary='nova-compute', host='host4')[0]

        assert service.status == 'disabled'
        assert service.disabled_reason == 'maintenance window'
        assert service.forced_down is True
        assert service.state == 'down'
    finally:
        cloud.force_down('host4', False)
        cloud.enable_service('host4')
    service = nova.services.list(binary='nova-compute', host='host4')[0]
    assert (service.status, service.state) == ('enabled', 'up')


def test_request_log_counts_server_action(cloud, nova):
    server_id = cloud.create_server('host1')
    since = len(cloud.requests())

    nova.servers.stop(server_id)

    writes = cloud.write_requests(since_index=since)
    assert [(r['method'], r['path'], r['action'], r['status'])
            for r in writes] == [
        ('POST', '/compute/v2.1/servers/%s/action' % server_id, 'os-stop',
         202)]


def test_unknown_token_is_rejected(cloud):
    request = urllib.request.Request(cloud.compute_url + '/servers',
                                     headers={'X-Auth-Token': 'bogus'})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 401


def test_revoked_token_reauthenticates_transparently(cloud):
    nova = cloud.nova_client(microversion='2.56')
    nova.servers.list()
    since = len(cloud.requests())

    assert cloud.revoke_tokens() >= 1
    nova.servers.list()

    statuses = [r['status'] for r in cloud.requests(since)
                if r['path'].endswith('/servers/detail')]
    assert statuses == [401, 200]


def test_stuck_report_names_a_request_nova_still_holds(cloud):
    # A request whose body never arrives keeps a Nova API thread busy.
    url = urllib.parse.urlsplit(cloud.compute_url)
    path = url.path + '/servers/held/action'
    with socket.create_connection((url.hostname, url.port), timeout=30) \
            as held:
        held.sendall(('POST %s HTTP/1.0\r\nContent-Length: 100\r\n'
                      'Content-Type: application/json\r\n\r\n{'
                      % path).encode('ascii'))
        _poll(lambda: any(r['path'] == path for r in cloud.requests()),
              'Nova to log the held request')

        report = cloud.stuck_report(older_than=0)

    assert 'requests held for more than 0 s: 1' in report
    assert 'POST %s' % path in report
