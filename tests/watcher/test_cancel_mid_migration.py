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

"""An operator cancels an action plan while Nova is migrating a server.

The plan: a migration that lasts (the embedded Nova's fake driver holds
it), then a second move of the same server chained to it. While Nova shows
the first migration in progress the test cancels the plan as Watcher's API
does (state CANCELLING in the database, nothing else), and the applier
goes on in its own process.

What Watcher then does depends on the release
(workflow_engine/base.py, BaseTaskFlowActionContainer):

- 13.x-15.x: ``execute`` polls the plan every second; on CANCELLING it
  kills the greenthread running the action's ``execute()`` (our
  ``check_abort()`` says yes for live and cold) and, in its ``except
  GreenletExit``, raises ActionPlanCancelled so that taskflow's ``revert``
  calls ``abort()``. It never gets there: taskflow (5.x as 6.x) cannot
  store a failure whose cause is a BaseException (types/failure.py,
  "Invalid exception type ... GreenletExit"), so the engine itself fails:
  no revert, no ``abort()``, the plan FAILED, the chained action left
  PENDING. What still runs is ``post_execute`` (taskflow calls it in a
  ``finally``): our ``post_condition`` finds the migration the kill left
  behind, stops it, waits for Nova to settle and fails the action.
- 16.0+: the running action is left to finish (SUCCEEDED: the server is on
  its destination); the next action's ``pre_execute`` sees the cancel, the
  chained action is CANCELLED and so is the plan.

On every release Nova ends with no migration in progress and no server in
VERIFY_RESIZE.
"""

import concurrent.futures
import time

from embedded_watcher import deployment

# How long the fake driver holds the first migration: long enough for the
# cancel to land while it runs.
HOLD_SECONDS = 15
# Nova's migration statuses once it is done with a migration, live or cold.
FINAL_MIGRATION_STATUSES = ('completed', 'confirmed', 'reverted',
                            'cancelled', 'error', 'failed', 'done')


def wait_until_migrating(cloud, server, applier):
    """Return once Nova shows a migration of ``server`` in progress."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert not applier.done(), applier.result()
        if any(m['status'] not in FINAL_MIGRATION_STATUSES
               for m in cloud.migrations(server)):
            return
        time.sleep(0.2)
    raise AssertionError('no migration of %s in progress after 120 s: %s'
                         % (server, cloud.migrations(server)))


def cancel_mid_first_move(cloud, watcher, mode, server, first):
    """Run [first, a chained cold move] and cancel during ``first``."""
    further = deployment.Step(server, 'cold', first.destination, 'host4',
                              after=[first])
    plan = watcher.create_plan([first, further])
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        applier = pool.submit(watcher.run_applier, mode, [plan])
        wait_until_migrating(cloud, server, applier)
        watcher.cancel(plan)
        result = applier.result()
    return watcher.outcome(plan), result


def assert_nova_is_settled(cloud, server):
    migrations = cloud.migrations(server)
    assert [m for m in migrations
            if m['status'] not in FINAL_MIGRATION_STATUSES] == [], migrations
    assert cloud.server(server)['status'] != 'VERIFY_RESIZE'


def assert_the_engine_failed_on_the_kill(result):
    """The applier log shows taskflow refusing the GreenletExit cause."""
    with open(result['log_file']) as log:
        assert "Invalid exception type '<class 'greenlet.GreenletExit'>'" \
            in log.read()


def test_cancel_during_a_live_migration_leaves_no_migration_running(
        cloud, watcher, mode):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, live_duration=HOLD_SECONDS)
    first = deployment.Step(server, 'live', 'host1', 'host2')

    outcome, result = cancel_mid_first_move(cloud, watcher, mode, server,
                                            first)

    assert_nova_is_settled(cloud, server)
    if deployment.CANCEL_KILLS_RUNNING_ACTION:
        # Killed; post_condition aborted the live migration in Nova.
        assert_the_engine_failed_on_the_kill(result)
        assert outcome.state == 'FAILED', outcome
        assert outcome.action_states == ['FAILED', 'PENDING'], outcome
        assert deployment.placement(cloud, server) == \
            ('host1', 'ACTIVE', None)
        assert cloud.migrations(server)[0]['status'] == 'cancelled'
    else:
        assert outcome.state == 'CANCELLED', outcome
        assert outcome.action_states == ['SUCCEEDED', 'CANCELLED'], outcome
        assert deployment.placement(cloud, server) == \
            ('host2', 'ACTIVE', None)
        assert cloud.migrations(server)[0]['status'] == 'completed'


def test_cancel_during_a_cold_migration_leaves_the_server_settled(
        cloud, watcher, mode):
    server = cloud.create_server('host1')
    cloud.set_driver(instance=server, cold_duration=HOLD_SECONDS)
    first = deployment.Step(server, 'cold', 'host1', 'host3')

    outcome, result = cancel_mid_first_move(cloud, watcher, mode, server,
                                            first)

    assert_nova_is_settled(cloud, server)
    if deployment.CANCEL_KILLS_RUNNING_ACTION:
        # Killed; a cold migration cannot be stopped in Nova, so
        # post_condition let it reach VERIFY_RESIZE and reverted it.
        assert_the_engine_failed_on_the_kill(result)
        assert outcome.state == 'FAILED', outcome
        assert outcome.action_states == ['FAILED', 'PENDING'], outcome
        assert deployment.placement(cloud, server) == \
            ('host1', 'ACTIVE', None)
        assert cloud.migrations(server)[0]['status'] == 'reverted'
    else:
        assert outcome.state == 'CANCELLED', outcome
        assert outcome.action_states == ['SUCCEEDED', 'CANCELLED'], outcome
        assert deployment.placement(cloud, server) == \
            ('host3', 'ACTIVE', None)
        assert cloud.migrations(server)[0]['status'] == 'confirmed'
