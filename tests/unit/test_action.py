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

"""The Migrate action's decisions, against an in-memory Nova.

Each test names one behaviour; tests/functional repeats the ones that
involve Nova against the real Nova."""

import threading
import time

from novaclient import exceptions as nova_exceptions
import pytest

from tests.unit import fake_nova
from watcher_migrate import action
from watcher_migrate import change_feed
from watcher_migrate import exceptions
from watcher_migrate import tuning
from watcher_migrate import waiting

UUID = '0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3'
FAST = {'poll_interval_min': 0.001, 'poll_interval_max': 0.005,
        'live_timeout': 2, 'cold_timeout': 2, 'settle_timeout': 2,
        'api_retry_timeout': 1, 'progress_interval': 0.5}


def make(nova, config=None, **parameters):
    settings = dict(FAST)
    settings.update(config or {})
    migrate = action.Migrate(settings)
    # The process the test plays is the fake gateway's.
    migrate.context = nova.context
    migrate._gateway = nova
    migrate.input_parameters = dict(
        resource_id=UUID, migration_type='live', source_node='compute-1',
        destination_node='compute-2')
    migrate.input_parameters.update(parameters)
    return migrate


@pytest.fixture
def nova():
    return fake_nova.FakeNova()


# -- interface ---------------------------------------------------------------

def test_construction_and_description_need_no_cloud():
    migrate = action.Migrate(None)
    assert 'migrate' in migrate.get_description().lower()
    assert migrate.osc is None


def test_config_opts_include_the_timeouts_and_keystoneauth_options():
    names = {o.dest for o in action.Migrate.get_config_opts()}
    assert {'live_timeout', 'cold_timeout', 'timeout_action',
            'auto_confirm', 'poll_interval_min', 'poll_interval_max',
            'auth_url', 'cafile', 'insecure'} <= names


def test_validate_parameters_names_the_bad_parameter(nova):
    migrate = make(nova, source_node='')
    with pytest.raises(exceptions.InvalidParameters) as error:
        migrate.validate_parameters()
    assert "'source_node'" in str(error.value)


def test_pre_condition_refuses_invalid_parameters_without_calling_nova(nova):
    migrate = make(nova, migration_type='warm')
    with pytest.raises(exceptions.InvalidParameters):
        migrate.pre_condition()
    assert nova.reads == 0 and nova.writes == []


def test_execute_refuses_invalid_parameters_without_writing(nova):
    migrate = make(nova, destination_node='compute-1')
    with pytest.raises(exceptions.InvalidParameters):
        migrate.execute()
    assert nova.writes == []


# -- pre_condition -----------------------------------------------------------

def test_missing_server_is_skipped(nova):
    nova.server_exists = False
    with pytest.raises(exceptions.ActionSkipped, match='not found'):
        make(nova).pre_condition()


def test_server_already_on_destination_is_skipped(nova):
    nova.server['host'] = 'compute-2'
    with pytest.raises(exceptions.ActionSkipped,
                       match='already on destination compute-2'):
        make(nova).pre_condition()


def test_server_on_another_host_is_skipped_as_stale(nova):
    nova.server['host'] = 'compute-3'
    with pytest.raises(exceptions.ActionSkipped, match='stale'):
        make(nova).pre_condition()


@pytest.mark.parametrize('service, reason', [
    (None, 'has no nova-compute service'),
    (dict(status='disabled', state='up', forced_down=False,
          disabled_reason='maintenance'), 'disabled (maintenance)'),
    (dict(status='enabled', state='down', forced_down=False), 'is down'),
    (dict(status='enabled', state='down', forced_down=True),
     'forced down'),
])
def test_unusable_destination_fails_with_the_reason(nova, service, reason):
    if service is None:
        del nova.services['compute-2']
    else:
        nova.services['compute-2'] = service
    with pytest.raises(exceptions.ActionFailed) as error:
        make(nova).pre_condition()
    assert reason in str(error.value)
    assert 'compute-1' in str(error.value) and UUID in str(error.value)


def test_live_migration_of_a_stopped_server_fails_naming_the_status(nova):
    nova.server['status'] = 'SHUTOFF'
    with pytest.raises(exceptions.ActionFailed, match='status is SHUTOFF'):
        make(nova).pre_condition()


def test_cold_migration_accepts_a_stopped_server(nova):
    nova.server['status'] = 'SHUTOFF'
    make(nova, migration_type='cold').pre_condition()


def test_busy_server_fails_naming_the_task(nova):
    nova.server['task_state'] = 'rebooting'
    with pytest.raises(exceptions.ActionFailed, match='task rebooting'):
        make(nova).pre_condition()


def test_scheduler_chosen_destination_skips_the_service_check(nova):
    make(nova, destination_node=None).pre_condition()


# -- execute: reads -----------------------------------------------------------

def test_execute_trusts_a_pre_condition_run_just_before(nova):
    migrate = make(nova)
    migrate.pre_condition()
    reads = nova.server_reads
    nova.live_steps = []
    migrate.execute()
    # Only the final look at the server, none to re-check it.
    assert nova.server_reads == reads + 1


def test_execute_checks_again_after_a_stale_pre_condition(nova, monkeypatch):
    monkeypatch.setattr(tuning, 'PRE_CONDITION_REUSE', 0.0)
    migrate = make(nova)
    migrate.pre_condition()
    nova.server['status'] = 'SHUTOFF'
    with pytest.raises(exceptions.ActionFailed, match='SHUTOFF'):
        migrate.execute()
    assert nova.writes == []


# -- execute: live -----------------------------------------------------------

def test_live_migration_succeeds_once_the_server_is_on_the_destination(
        nova):
    assert make(nova).execute() is True
    assert nova.server['host'] == 'compute-2'
    assert nova.writes == [('live_migrate', 'compute-2')]


def test_a_successful_migration_says_what_it_did(nova):
    migrate = make(nova)
    migrate.execute()
    assert migrate.result_message.startswith(
        'live migrated from compute-1 to compute-2')


def test_failed_live_migration_reports_novas_reason(nova):
    nova.live_end = 'error'
    with pytest.raises(exceptions.ActionFailed) as error:
        make(nova).execute()
    message = str(error.value)
    assert "'error'" in message
    assert 'libvirt: migration job failed' in message


def test_live_migration_timeout_aborts_and_waits_for_nova(nova):
    nova.live_end = 'stuck'
    with pytest.raises(exceptions.ActionFailed) as error:
        make(nova, {'live_timeout': 1}).execute()
    assert ('abort', 100) in nova.writes
    assert nova.migrations[-1].status == 'cancelled'
    assert nova.server['host'] == 'compute-1'
    assert 'did not finish within' in str(error.value)


def test_live_migration_timeout_can_force_completion(nova):
    nova.live_end = 'stuck'
    migrate = make(nova, {'live_timeout': 1,
                          'timeout_action': 'force_complete'})
    assert migrate.execute() is True
    assert ('force_complete', 100) in nova.writes
    assert nova.server['host'] == 'compute-2'


def test_post_condition_after_a_forced_completion_sees_it_landed(nova):
    nova.live_end = 'stuck'
    migrate = make(nova, {'live_timeout': 1,
                          'timeout_action': 'force_complete'})
    assert migrate.execute() is True
    migrate.post_condition()


def test_queued_migration_is_aborted_only_with_microversion_2_65(nova):
    nova.live_steps = ['queued'] * 1000
    nova.microversion = (2, 64)
    with pytest.raises(exceptions.ActionFailed, match='did not settle'):
        make(nova, {'live_timeout': 1, 'settle_timeout': 1}).execute()
    assert not [w for w in nova.writes if w[0] == 'abort']


def test_a_lost_answer_to_the_move_request_is_not_sent_again(nova):
    nova.lose_answer = True
    assert make(nova).execute() is True
    assert [w for w in nova.writes if w[0] == 'live_migrate'] == [
        ('live_migrate', 'compute-2')]


def test_a_move_request_nova_never_saw_is_sent_once_more(nova, monkeypatch):
    monkeypatch.setattr(tuning, 'RESOLVE_WINDOW', 0.5)
    nova.lose_request = True
    original = nova.live_migrate

    def lost_once(server_id, host):
        try:
            original(server_id, host)
        finally:
            nova.lose_request = False

    nova.live_migrate = lost_once
    assert make(nova).execute() is True
    assert [w for w in nova.writes if w[0] == 'live_migrate'] == [
        ('live_migrate', 'compute-2')] * 2


def test_a_move_request_lost_twice_fails_without_a_third(nova, monkeypatch):
    monkeypatch.setattr(tuning, 'RESOLVE_WINDOW', 0.5)
    nova.lose_request = True
    with pytest.raises(exceptions.ActionFailed,
                       match='outcome unknown .*, twice, .* not sending it '
                             'again'):
        make(nova).execute()
    assert [w for w in nova.writes if w[0] == 'live_migrate'] == [
        ('live_migrate', 'compute-2')] * 2


def test_a_confirm_lost_on_its_way_is_sent_again(nova, monkeypatch):
    monkeypatch.setattr(tuning, 'CONFIRM_RESEND', 0.0)
    nova.lost_confirms = 1
    assert make(nova, migration_type='cold').execute() is True
    assert nova.writes.count(('confirm_resize',)) == 2
    assert nova.server['status'] == 'ACTIVE'


def test_an_abort_lost_on_its_way_is_sent_again(nova, monkeypatch):
    monkeypatch.setattr(tuning, 'ABORT_RESEND', 0.0)
    nova.live_end = 'stuck'
    nova.lost_aborts = 1
    with pytest.raises(exceptions.ActionFailed, match='cancelled'):
        make(nova, {'live_timeout': 1}).execute()
    assert len([w for w in nova.writes if w[0] == 'abort']) == 2
    assert nova.server['host'] == 'compute-1'


def test_an_abort_lost_until_the_settle_timeout_is_named_in_the_failure(
        nova):
    nova.live_end = 'stuck'
    nova.lost_aborts = 1000
    with pytest.raises(exceptions.ActionFailed) as error:
        make(nova, {'live_timeout': 1, 'settle_timeout': 1}).execute()
    message = str(error.value)
    assert ("did not settle within its 1 s settle_timeout: migration 100 "
            "is 'running'") in message
    assert 'the last abort request: abort: outcome unknown (reset)' in message


def test_a_settle_failure_after_an_abort_nova_took_names_no_lost_request(
        nova):
    nova.live_end = 'stuck'
    nova.abort_honoured = False
    with pytest.raises(exceptions.ActionFailed) as error:
        make(nova, {'live_timeout': 1, 'settle_timeout': 1}).execute()
    assert 'did not settle' in str(error.value)
    assert 'abort request' not in str(error.value)


def test_a_busy_server_409_is_retried_until_nova_accepts(nova):
    nova.conflicts = 1
    assert make(nova).execute() is True
    assert len([w for w in nova.writes if w[0] == 'live_migrate']) == 2


def test_without_the_right_to_list_all_servers_each_action_reads_its_own(
        nova):
    def forbidden(since):
        raise RuntimeError('HTTP 403: Policy does not allow all_tenants')

    nova.list_changed_servers = forbidden
    reads = nova.server_reads
    assert make(nova).execute() is True
    assert nova.server_reads > reads
    assert nova.server['host'] == 'compute-2'


def test_shared_tracking_off_reads_the_server_alone(nova):
    def shared(since):
        raise AssertionError('the shared listing must not be used')

    nova.list_changed_servers = shared
    nova.list_changed_live_migrations = shared
    assert make(nova, {'shared_tracking': False}).execute() is True


def test_alone_a_live_migration_waiting_to_copy_is_followed_by_its_figures(
        nova):
    assert make(nova).execute() is True
    # The read that finds the copy begun is its first figure: the shared
    # listing would cost as much per look and need that read on top.
    # Among other actions the listing serves all: see below.
    assert nova.record_listings == 0
    assert nova.figure_reads >= 2


def test_a_copy_found_preparing_makes_the_process_look_later_next_time(
        nova):
    nova.live_steps = ['preparing', 'preparing', 'running', 'running']
    assert make(nova).execute() is True
    assert nova.context.start_lag.seconds > 0


def test_a_copy_found_running_at_the_first_look_lets_the_lag_shrink(nova):
    nova.context.start_lag.seconds = 0.01
    nova.live_steps = ['running'] * 4
    assert make(nova).execute() is True
    assert nova.context.start_lag.seconds < 0.01


def test_the_first_look_waits_for_the_learned_start_lag(nova, monkeypatch):
    nova.context.start_lag.seconds = 0.3
    first_delays = []
    real_wait_for = waiting.wait_for

    def spy(*args, **kwargs):
        if kwargs.get('what', '').startswith('live migration of'):
            first_delays.append(kwargs.get('first_delay'))
        return real_wait_for(*args, **kwargs)

    monkeypatch.setattr(waiting, 'wait_for', spy)
    assert make(nova).execute() is True
    assert first_delays == [0.3]


def test_once_the_copy_runs_the_action_leaves_the_shared_listing(nova):
    feed = nova.context.feeds.feed_for(nova.endpoint, 0,
                                       kind=change_feed.MigrationFeed)
    events = []
    figures, servers = (nova.list_live_migrations_in_progress,
                        nova.list_changed_servers)

    def read_figures(server_id):
        records = figures(server_id)
        events.append(('figures', [r.status for r in records]))
        return records

    def list_servers(since):
        events.append(('listing', feed.subscribers))
        return servers(since)

    nova.live_steps = ['accepted', 'queued'] + ['running'] * 4
    nova.list_live_migrations_in_progress = read_figures
    nova.list_changed_servers = list_servers
    assert make(nova).execute() is True
    # Each new figure in it would otherwise wake the action for nothing.
    running = events.index(('figures', ['running']))
    after = [subscribers for what, subscribers in events[running:]
             if what == 'listing']
    assert after and set(after) == {0}


def test_without_the_shared_migration_listing_each_action_reads_its_own(
        nova):
    def forbidden(since):
        raise RuntimeError('HTTP 403: Policy does not allow os-migrations')

    nova.list_changed_live_migrations = forbidden
    assert make(nova).execute() is True
    # How many depends on the fake clock's pace; that it reads is the
    # behaviour.
    assert nova.figure_reads >= 1
    assert nova.server['host'] == 'compute-2'


def test_before_microversion_2_59_migrations_are_read_per_action(nova):
    nova.microversion = (2, 58)
    assert make(nova).execute() is True
    assert nova.record_listings == 0
    assert nova.figure_reads >= 1


def test_an_api_outage_during_the_wait_does_not_lose_the_migration(nova):
    migrate = make(nova)
    outage = {'polls': 3}

    def failing_then_back(original):
        def read(*args):
            if nova.migrations and outage['polls']:
                outage['polls'] -= 1
                raise exceptions.NovaUnavailable('compute API kept failing')
            return original(*args)
        return read

    for name in ('list_migrations', 'list_changed_servers',
                 'list_changed_live_migrations',
                 'list_live_migrations_in_progress'):
        setattr(nova, name, failing_then_back(getattr(nova, name)))
    assert migrate.execute() is True
    assert outage['polls'] == 0
    assert nova.server['host'] == 'compute-2'


def deleted_once_moving(nova):
    """An action whose server is deleted once its migration started."""
    nova.live_end = 'stuck'
    original = nova.live_migrate

    def migrate_then_delete(server_id, host):
        original(server_id, host)
        nova.server_exists = False

    nova.live_migrate = migrate_then_delete
    return make(nova)


def test_a_deleted_server_fails_the_migration(nova):
    with pytest.raises(exceptions.ActionFailed, match='deleted'):
        deleted_once_moving(nova).execute()


def test_post_condition_after_the_server_was_deleted_stops_nothing(nova):
    migrate = deleted_once_moving(nova)
    with pytest.raises(exceptions.ActionFailed, match='deleted'):
        migrate.execute()
    writes = list(nova.writes)
    migrate.post_condition()
    assert nova.writes == writes


# -- execute: cold -----------------------------------------------------------

def test_cold_migration_is_confirmed_and_keeps_the_server_status(nova):
    nova.server['status'] = nova.original_status = 'SHUTOFF'
    assert make(nova, migration_type='cold').execute() is True
    assert ('confirm_resize',) in nova.writes
    assert nova.server['status'] == 'SHUTOFF'
    assert nova.server['host'] == 'compute-2'


def test_cold_migration_without_auto_confirm_stops_at_verify_resize(nova):
    migrate = make(nova, {'auto_confirm': False}, migration_type='cold')
    assert migrate.execute() is True
    assert ('confirm_resize',) not in nova.writes
    assert nova.server['status'] == 'VERIFY_RESIZE'


def test_failed_confirm_fails_the_action(nova):
    nova.confirm_end = 'error'
    with pytest.raises(exceptions.ActionFailed, match='confirming'):
        make(nova, migration_type='cold').execute()


def test_cold_timeout_reverts_once_nova_reaches_verify_resize(nova):
    nova.cold_steps = ['migrating'] * 50
    with pytest.raises(exceptions.ActionFailed, match='reverted'):
        make(nova, {'cold_timeout': 1, 'poll_interval_min': 0.03,
                    'poll_interval_max': 0.03},
             migration_type='cold').execute()
    assert ('revert_resize',) in nova.writes
    assert nova.server['host'] == 'compute-1'


# -- abort, revert, post_condition -------------------------------------------

def _execute_in_thread(migrate):
    """Start ``migrate.execute()`` in a thread, as the applier does.

    :returns: (the thread, the list its ActionFailed messages go to)
    """
    failures = []

    def run():
        try:
            migrate.execute()
        except exceptions.ActionFailed as e:
            failures.append(str(e))

    worker = threading.Thread(target=run)
    worker.start()
    return worker, failures


def test_abort_from_another_thread_stops_the_live_migration(nova):
    nova.live_end = 'stuck'
    migrate = make(nova, {'live_timeout': 60})
    worker, failures = _execute_in_thread(migrate)
    while not nova.migrations or nova.migrations[-1].status != 'running':
        threading.Event().wait(0.01)
    assert migrate.abort() is True
    worker.join(5)
    assert not worker.is_alive()
    assert nova.server['host'] == 'compute-1'
    assert failures and 'aborted' in failures[0]


def test_abort_before_execute_prevents_the_move(nova):
    migrate = make(nova)
    assert migrate.abort() is True
    with pytest.raises(exceptions.ActionFailed, match='before it started'):
        migrate.execute()
    assert nova.writes == []


def test_revert_moves_the_server_back_from_the_destination(nova):
    migrate = make(nova)
    migrate.execute()
    assert migrate.revert() is True
    assert nova.server['host'] == 'compute-1'


def test_revert_does_nothing_when_the_server_is_on_the_source(nova):
    assert make(nova).revert() is True
    assert nova.writes == []


def test_post_condition_is_safe_when_nothing_ran(nova):
    make(nova).post_condition()
    assert nova.reads == 0 and nova.writes == []


def test_post_condition_right_after_a_live_success_reads_nothing(nova):
    migrate = make(nova)
    migrate.execute()
    reads = nova.reads
    migrate.post_condition()
    assert nova.reads == reads


def test_post_condition_detects_a_server_moved_away_after_success(
        nova, monkeypatch):
    monkeypatch.setattr(tuning, 'POST_CONDITION_REUSE', 0.0)
    migrate = make(nova)
    migrate.execute()
    nova.server['host'] = 'compute-3'
    with pytest.raises(exceptions.ActionFailed, match='reported migrated'):
        migrate.post_condition()


def test_progress_is_none_before_execute_and_final_after(nova):
    migrate = make(nova)
    assert migrate.progress is None
    migrate.execute()
    assert migrate.progress.phase == 'completed'
    assert migrate.progress.elapsed > 0


def test_among_other_live_migrations_the_first_look_is_the_shared_listing(
        nova):
    migrate = make(nova)
    # Another action of the process, following its own server.
    other = nova.context.feeds.feed_for(nova.endpoint, 0)
    neighbour = other.subscribe('another-server', None, threading.Event())
    calls = []
    for name in ('list_changed_live_migrations',
                 'list_live_migrations_in_progress'):
        def spy(*args, _name=name, _real=getattr(nova, name)):
            calls.append(_name)
            return _real(*args)
        setattr(nova, name, spy)
    try:
        assert migrate.execute() is True
    finally:
        other.unsubscribe(neighbour)
    assert calls[0] == 'list_changed_live_migrations'


# -- compute nodes named by UUID (stock strategies) --------------------------

def test_a_plan_naming_nodes_by_uuid_migrates_between_their_hosts(nova):
    migrate = make(nova, source_node=fake_nova.NODE_UUIDS['compute-1'],
                   destination_node=fake_nova.NODE_UUIDS['compute-2'])
    migrate.pre_condition()
    assert migrate.execute() is True
    assert nova.writes[0] == ('live_migrate', 'compute-2')
    assert nova.server['host'] == 'compute-2'


def test_a_stale_plan_naming_nodes_by_uuid_says_host_and_node(nova):
    nova.server['host'] = 'compute-3'
    source = fake_nova.NODE_UUIDS['compute-1']
    with pytest.raises(exceptions.ActionSkipped) as error:
        make(nova, source_node=source, destination_node=None).pre_condition()
    assert ('is on compute-3, neither on source compute-1 (compute node '
            '%s)' % source) in str(error.value)


def test_an_unknown_node_uuid_fails_pre_condition_without_writing(nova):
    migrate = make(nova, source_node='aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee')
    with pytest.raises(exceptions.InvalidParameters, match="'source_node'"):
        migrate.pre_condition()
    assert nova.writes == []


def test_a_paused_server_is_live_migrated_and_stays_paused(nova):
    nova.server['status'] = nova.original_status = 'PAUSED'
    migrate = make(nova)
    migrate.pre_condition()
    assert migrate.execute() is True
    assert nova.server['host'] == 'compute-2'
    assert nova.server['status'] == 'PAUSED'


def test_a_paused_server_asked_to_move_cold_is_live_migrated(nova):
    nova.server['status'] = nova.original_status = 'PAUSED'
    migrate = make(nova, migration_type='cold')
    migrate.pre_condition()
    assert migrate.execute() is True
    assert nova.writes[0] == ('live_migrate', 'compute-2')
    assert nova.server['status'] == 'PAUSED'
    assert migrate.result_message.startswith('live migrated from compute-1')


# -- Watcher releases without a SKIPPED state (13.x, 14.x) --------------------

def test_without_a_skipped_state_nothing_to_do_succeeds_without_a_move(
        nova, monkeypatch):
    monkeypatch.setattr(exceptions, 'SKIPS_UNDERSTOOD', False)
    nova.server['host'] = 'compute-2'
    migrate = make(nova)
    migrate.pre_condition()
    assert migrate.execute() is True
    migrate.post_condition()
    assert nova.writes == []
    assert migrate.result_message == (
        'Server %s is already on destination compute-2' % UUID)


def test_without_a_skipped_state_a_failure_still_fails(nova, monkeypatch):
    monkeypatch.setattr(exceptions, 'SKIPS_UNDERSTOOD', False)
    nova.server['task_state'] = 'rebooting'
    with pytest.raises(exceptions.ActionFailed, match='task rebooting'):
        make(nova).pre_condition()


# -- a failing source of observation -----------------------------------------

def test_progress_nova_refuses_to_give_does_not_end_the_migration(
        nova, caplog):
    # Nova 34 under [api] response_validation = error answers 400 to the
    # progress read of a migration without block copy.
    reads = []

    def refused(server_id, *args):
        reads.append(server_id)
        raise nova_exceptions.BadRequest(
            400, 'Invalid output: disk_processed_bytes 0 is less than 1')

    nova.list_live_migrations_in_progress = refused
    nova.get_live_migration = refused
    assert make(nova).execute() is True
    assert nova.server['host'] == 'compute-2'
    assert not [w for w in nova.writes if w[0] == 'abort']
    assert len(reads) == 1
    warnings = [r for r in caplog.records
                if 'cannot give the progress' in r.getMessage()]
    assert len(warnings) == 1


def test_progress_nova_refuses_leaves_post_condition_nothing_to_stop(nova):
    def refused(server_id, *args):
        raise nova_exceptions.BadRequest(400, 'Invalid output')

    nova.list_live_migrations_in_progress = refused
    migrate = make(nova)
    assert migrate.execute() is True
    writes = list(nova.writes)
    migrate.post_condition()
    assert nova.writes == writes


def test_abort_during_409_retries_returns_at_once_and_starts_nothing(nova):
    nova.conflicts = 10 ** 6
    migrate = make(nova, {'api_retry_timeout': 60})
    worker, failures = _execute_in_thread(migrate)
    while not nova.writes:
        threading.Event().wait(0.01)
    started = time.monotonic()
    assert migrate.abort() is True
    assert time.monotonic() - started < 5
    worker.join(5)
    assert not worker.is_alive()
    assert failures and 'aborted before it started' in failures[0]
    assert not nova.migrations
