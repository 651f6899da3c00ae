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

"""Thirty actions at once, with random faults: every one keeps its promise.

The actions run as Watcher's applier runs an action plan without
parents: tasks of a taskflow flow on the parallel engine with a thread
executor, all on one keystoneauth1 session (Watcher's OpenStackClients
hands every action the same one), authenticated through the fault proxy.
The faults come from a fixed seed, so a failure can be replayed.
"""

import random
import types

import pytest
from taskflow import engines
from taskflow.patterns import unordered_flow
from taskflow import task

from tests.faults import chaos
from tests.faults import fault_proxy as fp
from watcher_migrate import keystone_session
from watcher_migrate import options

ACTIONS = 30
SEED = 20240611


class MigrateTask(task.Task):
    """One action of the plan, as a taskflow task."""

    def __init__(self, cloud, proxy, plan, osc, results):
        super().__init__(name='migrate-%s' % plan.server)
        self.cloud = cloud
        self.proxy = proxy
        self.plan = plan
        self.osc = osc
        self.results = results

    def execute(self):
        self.results[self.plan.server] = chaos.run(
            self.cloud, self.proxy, self.plan, osc=self.osc)


@pytest.mark.pool(ACTIONS)
def test_thirty_parallel_actions_with_random_faults_keep_their_promise(
        cloud, proxy, server_pool):
    rng = random.Random(SEED)
    servers = server_pool.take_many(ACTIONS)
    # Not TIMEOUT: it holds a request for the session's whole timeout
    # (60 s), longer than all the rest; the fault tests and the soak
    # have it. One live migration in three: the embedded Nova runs them
    # one at a time (test_nova_faults), so they set the pace.
    plans = [chaos.draw(rng, server.id, server.host, without=(fp.TIMEOUT,),
                        live_share=1 / 3.0)
             for server in servers]
    for plan in plans:
        chaos.prepare(cloud, proxy, plan)
    session = keystone_session.session_for(None, options.Settings(
        chaos.options(cloud, proxy)))
    osc = types.SimpleNamespace(session=session)
    results = {}
    flow = unordered_flow.Flow('action-plan')
    flow.add(*[MigrateTask(cloud, proxy, plan, osc, results)
               for plan in plans])
    engines.load(flow, engine='parallel', executor='threaded',
                 max_workers=ACTIONS).run()

    broken = []
    for plan in plans:
        run, found = results[plan.server]
        broken += chaos.describe_violations(plan, run, found)
    assert broken == [], '\n'.join(broken)
    assert len(results) == ACTIONS
    for server in servers:
        server_pool.give_back(server)
