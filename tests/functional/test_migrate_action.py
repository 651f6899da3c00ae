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

"""The nova_migrate action against the real Nova (fake virt driver).

One behaviour per test, each on its own server, through the action's real
Nova client over HTTP with a negotiated microversion."""

import re
import threading
import time
import types
import uuid

import pytest

from watcher_migrate import action
from watcher_migrate import exceptions
from watcher_migrate import tuning

IN_PROGRESS = {'accepted', 'queued', 'preparing', 'running',
               'post-migrating', 'pre-migrating', 'migrating', 'finished',
               'confirming', 'reverting'}


def config(cloud, **overrides):
    """Fast polling plus the keystoneauth options of the embedded cloud."""
    values = {
        'poll_interval_min': 0.1, 'poll_interval_max': 1.0,
        'settle_timeout': 60, 'api_retry_timeout': 20,
        'auth_type': 'password', 'auth_url': cloud.auth_url,
        'username': cloud.username, 'password': cloud.password,
        'project_name': cloud.project_name,
        'user_domain_name': cloud.user_domain_name,
        'project_domain_name': cloud.project_domain_name,
    }
    values.update(overrides)
    return values


def migrate_action(cloud, server, source, destination, kind='live',
                   osc=None, context=None, **options):
    """The action, in the process's context unless given another."""
    migrate = action.Migrate(config(cloud, **options), osc=osc)
    if context is not None:
        migrate.context = context
    migrate.input_parameters = {
        'resource_id': server, 'migration_type': kind,
        'source_node': source, 'destination_node': destination}
    migrate.validate_parameters()
    return migrate


def run(migrate):
    """Run the three phases the way Watcher's engine does."""
    migrate.pre_condition()
    try:
        return migrate.execute()
    finally:
        migrate.post_condition()


def placement(cloud, server):
    info = cloud.server(server)
    return (info['OS-EXT-SRV-ATTR:host'], info['status'],
            info.get('OS-EXT-STS:task_state'))


def wait_for_migration_status(cloud, server, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        migrations = cloud.migrations(server)
        if migrations and migrations[0]['status'] == status:
            return
        time.sleep(0.1)
    raise AssertionError('migration of %s never reached %s'
                         % (server, status))


def nothing_in_progress(cloud, server):
    return not [m for m in cloud.migrations(server)
                if m['status'] in IN_PROGRESS]


# -- successful moves --------------------------------------------------------

def test_live_migration_moves_the_server_to_the_destination(cloud):
    server = cloud.create_server('host1')
    assert run(migrate_action(cloud, server, 'host1', 'host2')) is True
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'completed'


def test_live_migration_with_watchers_session_uses_one_token(cloud):
    server = cloud.create_server('host1')
    osc = types.SimpleNamespace(session=cloud.keystone_session())
    migrate = migrate_action(cloud, server, 'host1', 'host2', osc=osc)
    assert run(migrate) is True
    assert placement(cloud, server)[0] == 'host2'


def test_live_migration_of_a_paused_server_keeps_it_paused(cloud):
    server = cloud.create_server('host1', paused=True)
    assert run(migrate_action(cloud, server, 'host1', 'host3')) is True
    assert placement(cloud, server) == ('host3', 'PAUSED', None)


def test_cold_migration_of_an_active_server_is_confirmed(cloud):
    server = cloud.create_server('host1')
    assert run(migrate_action(cloud, server, 'host1', 'host3',
                              kind='cold')) is True
    assert placement(cloud, server) == ('host3', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'confirmed'


def test_cold_migration_of_a_stopped_server_keeps_it_stopped(cloud):
    server = cloud.create_server('host2', stopped=True)
    assert run(migrate_action(cloud, server, 'host2', 'host4',
                              kind='cold')) is True
    assert placement(cloud, server) == ('host4', 'SHUTOFF', None)


def test_cold_migration_without_auto_confirm_leaves_verify_resize(cloud):
    server = cloud.create_server('host1')
    migrate = migrate_action(cloud, server, 'host1', 'host2', kind='cold',
                             auto_confirm=False)
    assert run(migrate) is True
    assert placement(cloud, server) == ('host2', 'VERIFY_RESIZE', None)
    cloud.nova_client().servers.confirm_resize(server)
    cloud.wait_for_server(server, 'ACTIVE', host='host2')


@pytest.mark.parametrize('kind', ['live', 'cold'])
def test_the_scheduler_chooses_when_no_destination_is_given(cloud, kind):
    server = cloud.create_server('host1')
    assert run(migrate_action(cloud, server, 'host1', None,
                              kind=kind)) is True
    host, status, task = placement(cloud, server)
    assert host != 'host1' and status == 'ACTIVE' and task is None


# -- pre_condition -----------------------------------------------------------

def test_a_server_that_does_not_exist_is_skipped(cloud):
    migrate = migrate_action(cloud, str(uuid.uuid4()), 'host1', 'host2')
    with pytest.raises(exceptions.ActionSkipped, match='not found'):
        migrate.pre_condition()
    migrate.post_condition()


def test_a_server_already_on_the_destination_is_skipped(cloud):
    server = cloud.create_server('host2')
    with pytest.raises(exceptions.ActionSkipped,
                       match='already on destination host2'):
        migrate_action(cloud, server, 'host1', 'host2').pre_condition()


def test_a_server_on_neither_host_is_skipped_as_stale(cloud):
    server = cloud.create_server('host3')
    with pytest.raises(exceptions.ActionSkipped, match='stale'):
        migrate_action(cloud, server, 'host1', 'host2').pre_condition()


def test_a_disabled_destination_fails_with_the_reason(cloud):
    server = cloud.create_server('host1')
    cloud.disable_service('host4', 'hardware maintenance')
    try:
        with pytest.raises(exceptions.ActionFailed) as error:
            migrate_action(cloud, server, 'host1', 'host4').pre_condition()
    finally:
        cloud.enable_service('host4')
    assert 'disabled (hardware maintenance)' in str(error.value)
    assert server in str(error.value)


def test_a_forced_down_destination_fails_with_the_reason(cloud):
    server = cloud.create_server('host1')
    cloud.force_down('host4')
    try:
        with pytest.raises(exceptions.ActionFailed, match='forced down'):
            migrate_action(cloud, server, 'host1', 'host4').pre_condition()
    finally:
        cloud.force_down('host4', down=False)


def test_an_unknown_destination_fails_with_the_reason(cloud):
    server = cloud.create_server('host1')
    with pytest.raises(exceptions.ActionFailed,
                       match='has no nova-compute service'):
        migrate_action(cloud, server, 'host1', 'no-such-host').pre_condition()


def test_live_migration_of_a_stopped_server_fails_naming_its_status(cloud):
    server = cloud.create_server('host1', stopped=True)
    with pytest.raises(exceptions.ActionFailed, match='status is SHUTOFF'):
        migrate_action(cloud, server, 'host1', 'host2').pre_condition()


def test_a_server_busy_migrating_fails_naming_the_task(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    nova = cloud.nova_client()
    nova.servers.live_migrate(server, 'host2', 'auto')
    wait_for_migration_status(cloud, server, 'running')
    try:
        with pytest.raises(exceptions.ActionFailed, match='task migrating'):
            migrate_action(cloud, server, 'host1', 'host3').pre_condition()
    finally:
        migration = cloud.migrations(server)[0]
        nova.server_migrations.live_migration_abort(server, migration['id'])
        cloud.wait_for_server(server, 'ACTIVE', host='host1')


# -- failures and timeouts ---------------------------------------------------

def test_a_live_migration_that_fails_in_nova_reports_why(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_fail='rollback')
    with pytest.raises(exceptions.ActionFailed) as error:
        run(migrate_action(cloud, server, 'host1', 'host2'))
    assert re.search("migration [0-9]+ is '(error|failed)'", str(error.value))
    assert 'host1' in str(error.value)
    assert placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_a_cold_migration_that_fails_in_nova_reports_why(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, cold_fail=True)
    with pytest.raises(exceptions.ActionFailed) as error:
        run(migrate_action(cloud, server, 'host1', 'host2', kind='cold'))
    assert "is 'error'" in str(error.value)
    assert nothing_in_progress(cloud, server)


def test_a_live_migration_timeout_aborts_and_leaves_nothing_running(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    with pytest.raises(exceptions.ActionFailed) as error:
        run(migrate_action(cloud, server, 'host1', 'host2', live_timeout=3))
    assert 'did not finish within' in str(error.value)
    assert 'aborted' in str(error.value)
    assert placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'
    assert nothing_in_progress(cloud, server)


def test_a_live_migration_timeout_can_force_completion(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    cloud.reset_requests()
    migrate = migrate_action(cloud, server, 'host1', 'host2', live_timeout=3,
                             timeout_action='force_complete')
    assert run(migrate) is True
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert [r for r in cloud.write_requests()
            if '/migrations/' in r['path'] and r['path'].endswith('/action')]


# -- abort, revert -----------------------------------------------------------

def test_abort_from_another_thread_keeps_the_server_on_the_source(cloud):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    migrate = migrate_action(cloud, server, 'host1', 'host2')
    outcome = {}

    def execute():
        try:
            outcome['result'] = migrate.execute()
        except exceptions.ActionFailed as e:
            outcome['error'] = str(e)

    # A daemon: an action stuck by a failed test must not keep pytest from
    # exiting once the cloud is gone.
    worker = threading.Thread(target=execute, daemon=True)
    worker.start()
    wait_for_migration_status(cloud, server, 'running')
    assert migrate.abort() is True
    worker.join(60)
    assert 'aborted' in outcome['error']
    assert placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'


def test_revert_moves_the_server_back_to_the_source(cloud):
    server = cloud.create_server('host1')
    migrate = migrate_action(cloud, server, 'host1', 'host2')
    assert run(migrate) is True
    migrate.revert()
    assert placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_revert_does_nothing_when_the_server_never_left(cloud):
    server = cloud.create_server('host1')
    cloud.reset_requests()
    migrate_action(cloud, server, 'host1', 'host2').revert()
    assert cloud.write_requests() == []
    assert placement(cloud, server)[0] == 'host1'


# -- bad input ---------------------------------------------------------------

@pytest.mark.parametrize('bad', [
    {'source_node': ''},
    {'destination_node': 'host1'},
    {'migration_type': 'warm'},
    {'resource_id': 'not-a-uuid'},
    {'unexpected': 'x'},
])
def test_invalid_input_makes_no_write_call_to_nova(cloud, bad):
    server = cloud.create_server('host1')
    migrate = action.Migrate(config(cloud))
    migrate.input_parameters = dict(
        {'resource_id': server, 'migration_type': 'live',
         'source_node': 'host1', 'destination_node': 'host2'}, **bad)
    cloud.reset_requests()
    for phase in (migrate.validate_parameters, migrate.pre_condition,
                  migrate.execute):
        with pytest.raises(exceptions.InvalidParameters) as error:
            phase()
        assert repr(next(iter(bad))) in str(error.value)
    migrate.post_condition()
    assert cloud.write_requests() == []
    assert placement(cloud, server)[0] == 'host1'


# -- sharing the reads -------------------------------------------------------

def _run_in_parallel(cloud, moves, **options):
    """Migrate ``moves`` at once, as the applier's parallel engine does.

    :returns: the actions' results and the embedded Nova's request log
    """
    actions = [migrate_action(cloud, *move, **options) for move in moves]
    results = [None] * len(actions)
    start = len(cloud.requests())

    def one(index):
        results[index] = run(actions[index])

    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, cloud.requests(start)


def _reads_of(requests, servers):
    own = [r for r in requests if r['method'] == 'GET'
           and any(r['path'].endswith('/servers/%s' % s) for s in servers)]
    shared = [r for r in requests if r['method'] == 'GET'
              and r['path'].endswith('/servers/detail')]
    return own, shared


def test_concurrent_migrations_of_one_process_share_their_server_reads(
        cloud):
    servers = [cloud.create_server(host) for host in ('host1', 'host2',
                                                      'host1')]
    for server in servers:
        cloud.set_driver(instance=server, live_duration=3)
    moves = [(servers[0], 'host1', 'host3'), (servers[1], 'host2', 'host4'),
             (servers[2], 'host1', 'host4')]
    # poll_interval_max at its default: the server is checked only every
    # 2 * 10 s (a list may lose a change), never in these moves.
    results, requests = _run_in_parallel(cloud, moves,
                                         poll_interval_max=10.0)
    assert results == [True] * 3
    own, shared = _reads_of(requests, servers)
    # Each action reads its own server once, in pre_condition; every look
    # during the waits is a shared changes-since listing.
    assert len(own) == 3
    assert shared


def test_without_shared_tracking_each_action_reads_its_own_server(cloud):
    servers = [cloud.create_server(host) for host in ('host1', 'host2')]
    moves = [(servers[0], 'host1', 'host3'), (servers[1], 'host2', 'host4')]
    results, requests = _run_in_parallel(cloud, moves,
                                         shared_tracking=False)
    assert results == [True] * 2
    own, shared = _reads_of(requests, servers)
    assert not shared
    assert len(own) > 2


def test_queued_live_migrations_are_followed_by_one_shared_listing(cloud):
    # The embedded Nova runs one live migration at a time: the others
    # wait queued, which no action should poll server by server.
    servers = [cloud.create_server(host) for host in ('host1', 'host2',
                                                      'host3')]
    # Figures every 0.5 s: a 3 s copy gives two readings a rate.
    for server in servers:
        cloud.set_driver(instance=server, live_duration=3,
                         live_migration_monitor_interval=0.5)
    moves = [(servers[0], 'host1', 'host4'), (servers[1], 'host2', 'host4'),
             (servers[2], 'host3', 'host4')]
    results, requests = _run_in_parallel(cloud, moves)
    assert results == [True] * 3
    listings = [r for r in requests if r['method'] == 'GET'
                and r['path'].endswith('/os-migrations')
                and 'changes-since' in r['query']]
    assert listings
    for server in servers:
        figure_reads = [r for r in requests if r['method'] == 'GET' and
                        r['path'].endswith('/servers/%s/migrations' % server)]
        # Two readings give the copy's rate, a third if Nova lags its end.
        assert len(figure_reads) <= 3, figure_reads


def test_a_lone_live_migration_waiting_to_copy_is_followed_by_its_figures(
        cloud):
    # Looks from 0.25 s on: Nova takes about a second to begin the copy,
    # whose figures are saved every 0.5 s.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=3,
                     live_migration_monitor_interval=0.5)
    migrate = migrate_action(cloud, server, 'host1', 'host2',
                             poll_interval_min=0.05)
    cloud.reset_requests()
    assert run(migrate) is True
    requests = cloud.requests()
    figure_reads = [r for r in requests if r['method'] == 'GET' and
                    r['path'].endswith('/servers/%s/migrations' % server)]
    listings = [r for r in requests if r['method'] == 'GET'
                and r['path'].endswith('/os-migrations')]
    # The read that finds the copy begun gives its first figure; the
    # shared listing would serve this action alone, one read more.
    assert listings == []
    assert len(figure_reads) >= 2


def _figure_reads(requests, server):
    return [r['start'] for r in requests if r['method'] == 'GET' and
            r['path'].endswith('/servers/%s/migrations' % server)]


def test_a_copy_s_figures_are_read_only_when_nova_can_have_saved_new_ones(
        cloud, process_context):
    # The embedded Nova saves them as libvirt does by default: as the
    # copy begins, then every 5 s. The process learns it from a first
    # copy; the next copy (12 s) is read at that cadence.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=8)
    assert run(migrate_action(cloud, server, 'host1', 'host2',
                              context=process_context)) is True
    cloud.set_driver(instance=server, live_duration=12)
    cloud.reset_requests()
    assert run(migrate_action(cloud, server, 'host2', 'host3',
                              context=process_context)) is True
    reads = _figure_reads(cloud.requests(), server)
    # The first figure and the second, which gives the rate; a read
    # before the copy began adds one. Not one read between two saves.
    assert 2 <= len(reads) <= 3, reads
    assert reads[-1] - reads[-2] >= tuning.FIGURES_CADENCE_INITIAL - 0.5


def test_a_process_s_first_copy_is_read_at_libvirt_s_default_cadence(
        cloud, process_context):
    # Nothing learned yet: the figures are read when libvirt's default
    # spacing (5 s) lets Nova have saved new ones, not backing off.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=12)
    cloud.reset_requests()
    assert run(migrate_action(cloud, server, 'host1', 'host2',
                              context=process_context)) is True
    reads = _figure_reads(cloud.requests(), server)
    # The first figure and the second, which gives the rate; a read
    # before the copy began adds one.
    assert 2 <= len(reads) <= 3, reads
    assert reads[-1] - reads[-2] >= tuning.FIGURES_CADENCE_INITIAL - 0.5


def test_a_short_copy_teaches_the_process_how_fast_its_copies_go(
        cloud, process_context):
    # A 3 s copy of 2 GiB has one figure (5 s cadence): its rate is
    # taken from the looks around its landing.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=3, memory_bytes=2 << 30)
    assert process_context.copy_pace.rate is None
    assert run(migrate_action(cloud, server, 'host1', 'host2',
                              context=process_context)) is True
    rate = (2 << 30) / 3.0
    assert rate / 2 < process_context.copy_pace.rate < rate * 2


def _first_figures_read_after_move(requests, server):
    """Seconds from the move request to the first read of its figures."""
    moved = next(r['start'] for r in requests if r['method'] == 'POST'
                 and r['path'].endswith('/servers/%s/action' % server))
    read = next(r['start'] for r in requests if r['method'] == 'GET'
                and r['path'].endswith('/servers/%s/migrations' % server))
    return read - moved


def test_a_process_that_saw_a_copy_begin_late_looks_later_next_time(
        cloud, process_context):
    # Looks from 0.25 s on, and Nova takes about a second to begin a
    # copy: the first migration finds it not begun, which the process
    # learns; the second's first look waits that long.
    servers = [cloud.create_server('host1') for _ in range(2)]
    cloud.reset_requests()
    learned = []
    for server in servers:
        learned.append(process_context.start_lag.seconds)
        cloud.set_driver(instance=server, live_duration=2)
        assert run(migrate_action(cloud, server, 'host1', 'host2',
                                  context=process_context,
                                  poll_interval_min=0.05)) is True
    requests = cloud.requests()
    first, second = (_first_figures_read_after_move(requests, server)
                     for server in servers)
    assert learned[0] == 0 and first < learned[1]
    assert second >= learned[1]


# -- a failing source of observation -----------------------------------------

def test_progress_nova_refuses_to_give_does_not_end_the_live_migration(
        cloud, caplog):
    # Nova 34 checking its own answers ([api] response_validation =
    # error) refuses its figures of a copy without block migration: its
    # schema wants disk_processed_bytes >= 1, the driver reports 0.
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=3, disk_bytes=0)
    migrate = migrate_action(cloud, server, 'host1', 'host2',
                             poll_interval_min=0.05)
    cloud.reset_requests()
    assert cloud.set_response_validation('error') == 'error'
    try:
        assert run(migrate) is True
    finally:
        cloud.set_response_validation('ignore')
    figure_reads = [r for r in cloud.requests() if r['method'] == 'GET'
                    and '/servers/%s/migrations' % server in r['path']]
    # Read until Nova refused them once (a copy not begun has none to
    # refuse), never after: the server decided the end.
    statuses = [r['status'] for r in figure_reads]
    assert statuses[-1] == 400 and statuses.count(400) == 1, figure_reads
    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    # The server decided: Nova marks the record completed a moment after
    # it moved the server, on its own.
    wait_for_migration_status(cloud, server, 'completed')
    assert not [r for r in cloud.write_requests()
                if r['method'] == 'DELETE' or 'force_complete' in str(r)]
    warnings = [r for r in caplog.records
                if r.levelname == 'WARNING'
                and 'cannot give the progress' in r.getMessage()]
    assert len(warnings) == 1
    assert 'disk_processed_bytes' in warnings[0].getMessage()


# -- nodes named by compute node UUID, as stock strategies name them --------

def test_nodes_named_by_compute_node_uuid_migrate_between_their_hosts(cloud):
    server = cloud.create_server('host1')
    migrate = migrate_action(cloud, server, cloud.hypervisor_uuid('host1'),
                             cloud.hypervisor_uuid('host2'))

    assert run(migrate) is True

    assert placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert migrate.request.source_node == 'host1'
    assert migrate.request.destination_node == 'host2'


def test_a_stale_plan_naming_its_source_by_uuid_names_host_and_node(cloud):
    server = cloud.create_server('host3')
    node = cloud.hypervisor_uuid('host1')
    migrate = migrate_action(cloud, server, node, None)

    with pytest.raises(exceptions.ActionSkipped) as error:
        migrate.pre_condition()

    assert ('is on host3, neither on source host1 (compute node %s)'
            % node) in str(error.value)


def test_a_compute_node_uuid_nova_does_not_know_is_refused_before_writes(
        cloud):
    server = cloud.create_server('host1')
    unknown = str(uuid.uuid4())
    migrate = migrate_action(cloud, server, 'host1', unknown)
    cloud.reset_requests()

    with pytest.raises(exceptions.InvalidParameters) as error:
        migrate.pre_condition()

    assert str(error.value) == (
        "Invalid input parameters: 'destination_node': Nova has no compute "
        "node (hypervisor) with UUID %s" % unknown)
    assert cloud.write_requests() == []


def test_a_paused_server_asked_to_move_cold_is_live_migrated(cloud):
    server = cloud.create_server('host1', paused=True)
    migrate = migrate_action(cloud, server, 'host1', None, kind='cold')
    cloud.reset_requests()

    assert run(migrate) is True

    host, status, task = placement(cloud, server)
    assert host != 'host1' and (status, task) == ('PAUSED', None)
    assert [r['action'] for r in cloud.write_requests()] == [
        'os-migrateLive']
