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

"""Watcher's built-in ``migrate`` as the reference for ``nova_migrate``.

The built-in action (openstacksdk through Watcher's nova_helper, with the
``[nova]`` and ``[watcher_clients_auth]`` options of watcher.conf) and the
plugin run the plan of test_applier_runs_nova_migrate, each on servers of
its own, one after the other in one applier (in Watcher 17's default,
native threading mode, where the release has it; eventlet before 16.0),
against the same Nova.
"""

from embedded_watcher import deployment


def test_builtin_migrate_and_nova_migrate_place_servers_alike(cloud,
                                                              watcher):
    builtin_servers, builtin_steps, expected = deployment.four_moves(
        cloud, deployment.BUILTIN_MIGRATE)
    plugin_servers, plugin_steps, _ = deployment.four_moves(
        cloud, deployment.NOVA_MIGRATE)
    builtin_plan = watcher.create_plan(builtin_steps)
    plugin_plan = watcher.create_plan(plugin_steps)

    watcher.run_applier(deployment.DEFAULT_MODE, [builtin_plan, plugin_plan])

    for plan in (builtin_plan, plugin_plan):
        outcome = watcher.outcome(plan)
        assert outcome.state == 'SUCCEEDED', outcome
        assert outcome.action_states == ['SUCCEEDED'] * 4, outcome
    builtin = [deployment.placement(cloud, s) for s in builtin_servers]
    plugin = [deployment.placement(cloud, s) for s in plugin_servers]
    assert builtin == expected
    assert plugin == builtin
