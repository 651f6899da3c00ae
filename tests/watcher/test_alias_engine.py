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

"""The ``nova_migrate`` workflow engine: Watcher's ``migrate`` run by us.

With ``[watcher_applier] workflow_engine = nova_migrate`` the real
applier runs plans of the built-in ``migrate`` action type, shaped as
Watcher's stock strategies emit them, through this plugin, against the
real Nova. Which action ran is read from Nova's own request log: the
plugin follows moves with ``changes-since`` reads, which the built-in
never sends, and sends its moves at the microversion it negotiated.
"""

import novaclient
import pytest

from embedded_watcher import deployment
from tests.watcher import test_applier_runs_nova_migrate as runs
from watcher import objects

# As Nova echoes it in OpenStack-API-Version.
PLUGIN_MICROVERSION = 'compute ' + novaclient.API_MAX_VERSION.get_string()
MOVES = ('os-migrateLive', 'migrate')


def moves(requests):
    return [r for r in requests
            if r['method'] == 'POST' and r['action'] in MOVES]


def followed_by_the_plugin(requests):
    """Whether Nova served the plugin's shared changes-since reads."""
    return any('changes-since' in r['query'] for r in requests
               if r['method'] == 'GET')


def stock_destination(value):
    """``destination_node`` as the installed Watcher stores it.

    Watcher <= 14 strategies give None for "let the scheduler choose";
    Watcher 17's Action object refuses None inside input_parameters, so
    there a missing destination is an absent key.
    """
    field = objects.Action.fields['input_parameters']
    try:
        field.coerce(None, 'input_parameters', {'destination_node': value})
    except ValueError:
        return {}
    return {'destination_node': value}


def one_builtin_live_move(cloud, watcher):
    """A new server on host1 and a plan of one built-in live migrate."""
    server = cloud.create_server('host1')
    plan = watcher.create_plan([deployment.Step(
        server, 'live', 'host1', 'host2',
        action_type=deployment.BUILTIN_MIGRATE)])
    cloud.reset_requests()
    return server, plan


def test_the_alias_engine_runs_builtin_migrate_actions_with_the_plugin(
        cloud, watcher, mode):
    servers, steps, expected = deployment.four_moves(
        cloud, deployment.BUILTIN_MIGRATE)
    plan = watcher.create_plan(steps)
    cloud.reset_requests()

    watcher.run_applier(mode, [plan],
                        workflow_engine=deployment.ALIAS_ENGINE)

    outcome = watcher.outcome(plan)
    assert outcome.state == 'SUCCEEDED', outcome
    assert outcome.action_states == ['SUCCEEDED'] * 4, outcome
    assert [deployment.placement(cloud, s) for s in servers] == expected
    requests = cloud.requests()
    assert followed_by_the_plugin(requests)
    assert [r['microversion'] for r in moves(requests)] == \
        [PLUGIN_MICROVERSION] * 4


def test_the_default_engine_still_runs_the_builtin_migrate(cloud, watcher):
    server, plan = one_builtin_live_move(cloud, watcher)

    watcher.run_applier(deployment.DEFAULT_MODE, [plan],
                        workflow_engine=deployment.TASKFLOW)

    assert watcher.outcome(plan).action_states == ['SUCCEEDED']
    requests = cloud.requests()
    assert not followed_by_the_plugin(requests)
    [move] = moves(requests)
    assert move['microversion'] != PLUGIN_MICROVERSION


def test_plans_shaped_as_the_stock_strategies_emit_them_all_succeed(
        cloud, watcher, mode):
    node = cloud.hypervisor_uuid
    drained = cloud.create_server('host1', name='drained-1')
    noisy = cloud.create_server('host1', name='noisy-1')
    paused = cloud.create_server('host1', name='paused-1', paused=True)
    stopped = cloud.create_server('host1', name='stopped-1', stopped=True)
    nameless = cloud.create_server('host1')
    shapes = [
        # host_maintenance <= 15.x: the source by its node UUID, no
        # destination (the scheduler chooses).
        (drained, {'migration_type': 'live', 'source_node': node('host1'),
                   'resource_name': 'drained-1'}),
        # noisy_neighbor, outlet_temperature: both by node UUID.
        (noisy, {'migration_type': 'live', 'source_node': node('host1'),
                 'destination_node': node('host2'),
                 'resource_name': 'noisy-1'}),
        # zone_migration, vm_workload_consolidation: PAUSED live, the
        # destination None (<= 14.x) for the scheduler.
        (paused, dict({'migration_type': 'live', 'source_node': 'host1',
                       'resource_name': 'paused-1'},
                      **stock_destination(None))),
        # vm_workload_consolidation: SHUTOFF servers move cold.
        (stopped, {'migration_type': 'cold', 'source_node': 'host1',
                   'destination_node': 'host3',
                   'resource_name': 'stopped-1'}),
        # dummy_with_resize: no resource_name.
        (nameless, {'migration_type': 'cold', 'source_node': 'host1',
                    'destination_node': 'host4'}),
    ]
    plan = watcher.create_plan([
        deployment.Step(server, None, None, None,
                        action_type=deployment.BUILTIN_MIGRATE,
                        parameters=dict(shape, resource_id=server))
        for server, shape in shapes])

    watcher.run_applier(mode, [plan],
                        workflow_engine=deployment.ALIAS_ENGINE)

    outcome = watcher.outcome(plan)
    assert outcome.action_states == ['SUCCEEDED'] * 5, outcome
    assert outcome.state == 'SUCCEEDED', outcome
    places = {s: deployment.placement(cloud, s) for s, _ in shapes}
    assert places[drained][0] != 'host1'
    assert places[drained][1:] == ('ACTIVE', None)
    assert places[noisy] == ('host2', 'ACTIVE', None)
    assert places[paused][0] != 'host1'
    assert places[paused][1:] == ('PAUSED', None)
    assert places[stopped] == ('host3', 'SHUTOFF', None)
    assert places[nameless] == ('host4', 'ACTIVE', None)


def test_a_node_uuid_nova_does_not_know_fails_naming_the_parameter(
        cloud, watcher):
    server = cloud.create_server('host1')
    unknown = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'
    plan = watcher.create_plan([deployment.Step(
        server, None, None, None, action_type=deployment.BUILTIN_MIGRATE,
        parameters={'resource_id': server, 'migration_type': 'live',
                    'source_node': 'host1', 'destination_node': unknown})])
    cloud.reset_requests()

    result = watcher.run_applier(deployment.DEFAULT_MODE, [plan],
                                 workflow_engine=deployment.ALIAS_ENGINE)

    outcome = watcher.outcome(plan)
    assert outcome.action_states == ['FAILED'], outcome
    runs.assert_the_action_says(
        outcome, result, 'Action failed in pre_condition: ',
        "Invalid input parameters: 'destination_node': Nova has no compute "
        "node (hypervisor) with UUID %s" % unknown)
    assert cloud.write_requests() == []
    assert deployment.placement(cloud, server) == ('host1', 'ACTIVE', None)


def test_an_invalid_plugin_option_stops_the_applier_at_start_naming_it(
        cloud, watcher):
    server, plan = one_builtin_live_move(cloud, watcher)

    # The start-up sync loads every action plugin, nova_migrate with its
    # options included, before any plan runs.
    with pytest.raises(deployment.ApplierError) as error:
        watcher.run_applier(deployment.DEFAULT_MODE, [plan],
                            workflow_engine=deployment.ALIAS_ENGINE,
                            timeout_action='sometimes')

    assert ("Valid values are [abort, force_complete], but found "
            "'sometimes'") in str(error.value)
    assert "Error loading plugin 'nova_migrate'" in str(error.value)
    assert cloud.write_requests() == []


def test_an_invalid_engine_option_fails_the_plan_before_any_move(
        cloud, watcher):
    server, plan = one_builtin_live_move(cloud, watcher)

    result = watcher.run_applier(deployment.DEFAULT_MODE, [plan],
                                 workflow_engine=deployment.ALIAS_ENGINE,
                                 max_workers=0)

    assert watcher.outcome(plan).state == 'FAILED'
    with open(result['log_file']) as log:
        assert 'Value for option max_workers' in log.read()
    assert cloud.write_requests() == []
    assert deployment.placement(cloud, server) == ('host1', 'ACTIVE', None)
