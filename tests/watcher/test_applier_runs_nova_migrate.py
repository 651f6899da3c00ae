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

"""Watcher's own applier runs nova_migrate action plans against real Nova.

Each test builds a plan with Watcher's objects, has a ``watcher-applier``
process (in each threading mode) execute it with its taskflow engine and
the plugin loaded through its entry point, and checks what the applier
recorded: the plan's state, each action's state and status_message, and
where Nova put the servers.
"""

from embedded_watcher import deployment
from watcher_migrate import action


def live_move(watcher, server, source, destination):
    """A plan of one live migration."""
    return watcher.create_plan(
        [deployment.Step(server, 'live', source, destination)])


def assert_the_action_says(outcome, result, prefix, reason, whole=True):
    """The one action's status_message is ``prefix + reason``.

    13.x and 14.x store no status_message: there the engine only logs the
    exception (LOG.exception in pre_execute and execute of
    workflow_engine/base.py), so the reason must be in the applier log.
    :param whole: the message is exactly that, not only starts with it
    """
    if deployment.HAS_STATUS_MESSAGE:
        [message] = outcome.action_messages
        if whole:
            assert message == prefix + reason, outcome
        else:
            assert message.startswith(prefix + reason), outcome
    else:
        assert outcome.action_messages == [None], outcome
        with open(result['log_file']) as log:
            assert reason in log.read()


def test_a_plan_of_live_and_cold_moves_succeeds_and_places_every_server(
        cloud, watcher, mode):
    servers, steps, expected = deployment.four_moves(cloud)
    plan = watcher.create_plan(steps)

    watcher.run_applier(mode, [plan])

    outcome = watcher.outcome(plan)
    assert outcome.state == 'SUCCEEDED', outcome
    assert outcome.status_message is None, outcome
    assert outcome.action_states == ['SUCCEEDED'] * 4, outcome
    assert outcome.action_messages == [None] * 4, outcome
    assert [deployment.placement(cloud, s) for s in servers] == expected


def test_a_server_not_on_its_source_is_skipped_saying_where_it_is(
        cloud, watcher, mode):
    server = cloud.create_server('host2')
    plan = live_move(watcher, server, 'host1', 'host3')

    result = watcher.run_applier(mode, [plan])

    outcome = watcher.outcome(plan)
    reason = ('Server %s is on host2, neither on source host1 nor on '
              'destination host3: the plan is stale' % server)
    if deployment.HAS_SKIPPED:
        assert outcome.action_states == ['SKIPPED'], outcome
        assert_the_action_says(outcome, result,
                               'Action was skipped automatically: ', reason)
        assert outcome.state == 'SUCCEEDED', outcome
        assert outcome.status_message == \
            'One or more actions were skipped.'
    else:
        # 13.x/14.x have no SKIPPED and fail an action whose pre_condition
        # raises: the plugin succeeds without a move instead, saying why.
        assert outcome.action_states == ['SUCCEEDED'], outcome
        assert_the_action_says(outcome, result, '', reason)
        assert outcome.state == 'SUCCEEDED', outcome
    assert deployment.placement(cloud, server) == ('host2', 'ACTIVE', None)
    assert cloud.migrations(server) == []


def test_a_disabled_destination_fails_the_pre_condition_saying_so(
        cloud, watcher, mode):
    server = cloud.create_server('host1')
    plan = live_move(watcher, server, 'host1', 'host4')
    cloud.disable_service('host4', 'hardware maintenance')
    try:
        result = watcher.run_applier(mode, [plan])
    finally:
        cloud.enable_service('host4')

    outcome = watcher.outcome(plan)
    assert outcome.action_states == ['FAILED'], outcome
    assert_the_action_says(
        outcome, result, 'Action failed in pre_condition: ',
        'Cannot migrate server %s from host1 to host4: its nova-compute '
        'service is disabled (hardware maintenance)' % server)
    assert outcome.state == \
        deployment.PLAN_STATE_WITH_A_FAILED_ACTION, outcome
    assert deployment.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server) == []


def test_a_migration_nova_rolls_back_fails_with_novas_migration_status(
        cloud, watcher, mode):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_fail='rollback')
    plan = live_move(watcher, server, 'host1', 'host2')

    result = watcher.run_applier(mode, [plan])

    outcome = watcher.outcome(plan)
    migration = cloud.migrations(server)[0]
    assert outcome.action_states == ['FAILED'], outcome
    assert_the_action_says(
        outcome, result, 'Action failed in execute: ',
        'Server %s: live migration from host1 to host2 failed: migration '
        '%s is %r' % (server, migration['id'], migration['status']),
        whole=False)
    assert migration['status'] in ('error', 'failed'), migration
    assert outcome.state == \
        deployment.PLAN_STATE_WITH_A_FAILED_ACTION, outcome
    assert deployment.placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_live_timeout_from_watcher_conf_aborts_a_long_live_migration(
        cloud, watcher, mode):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=60)
    plan = live_move(watcher, server, 'host1', 'host2')

    result = watcher.run_applier(mode, [plan], live_timeout=3)

    outcome = watcher.outcome(plan)
    assert outcome.action_states == ['FAILED'], outcome
    assert_the_action_says(
        outcome, result, 'Action failed in execute: ',
        'Server %s: live migration from host1 to host2 did not finish '
        'within its 3 s live_timeout and was aborted' % server, whole=False)
    assert outcome.state == \
        deployment.PLAN_STATE_WITH_A_FAILED_ACTION, outcome
    assert deployment.placement(cloud, server) == ('host1', 'ACTIVE', None)
    assert cloud.migrations(server)[0]['status'] == 'cancelled'


def test_start_up_sync_stores_the_description_without_calling_nova(
        cloud, watcher, mode):
    watcher.set_action_description(deployment.NOVA_MIGRATE, 'stale')
    cloud.reset_requests()

    watcher.run_applier(mode)

    assert watcher.action_description(deployment.NOVA_MIGRATE) == \
        action.Migrate({}).get_description()
    assert cloud.requests() == []
