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

"""The demo's costs, read from the real Nova's records of a real run."""

import json
import os
import shutil
import subprocess
import sys

from embedded_nova import demo

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_each_migration_is_charged_its_moves_and_seen_once_landed(
        cloud, tmp_path):
    web = cloud.create_server('host1', name='costs-web')
    batch = cloud.create_server('host1', name='costs-batch')
    cloud.set_driver(instance=web, live_duration=3)
    plan = tmp_path / 'plan.json'
    plan.write_text(json.dumps([
        {'action_type': 'nova_migrate', 'input_parameters': {
            'resource_id': web, 'migration_type': 'live',
            'source_node': 'host1', 'destination_node': 'host2'}},
        {'action_type': 'nova_migrate', 'input_parameters': {
            'resource_id': batch, 'migration_type': 'cold',
            'source_node': 'host1', 'destination_node': 'host3'}}]))
    (tmp_path / 'fast.conf').write_text(
        '[watcher_actions.nova_migrate]\npoll_interval_max = 1.0\n')
    env = dict(demo._environment(cloud), PYTHONPATH=TOP)
    cloud.reset_requests()
    cloud.reset_events()
    run = subprocess.run(
        [sys.executable, '-m', 'watcher_migrate.cli', 'run', str(plan),
         '--config-file', str(tmp_path / 'fast.conf')],
        env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr

    rows, shared = demo.costs(cloud.requests(), cloud.events(),
                              {'costs-web': web, 'costs-batch': batch})

    # One move request each, and the cold one's confirm; every landing
    # seen by a later request.
    assert [(r['moves'], r['writes'], [kind for kind, _s in r['detected']])
            for r in rows] == [(1, 1, ['live']), (1, 2, ['cold'])]
    assert all(seconds is not None and seconds >= 0
               for r in rows for _kind, seconds in r['detected'])
    assert shared['GET /servers/detail'] >= 1


def test_the_demo_explains_its_costs_and_keeps_its_plan():
    env = dict(os.environ, PYTHONPATH=TOP)
    demo_run = subprocess.run(
        [sys.executable, '-m', 'embedded_nova.demo'],
        env=env, capture_output=True, text=True, timeout=600)
    out = demo_run.stdout
    assert demo_run.returncode == 0, out + demo_run.stderr
    assert 'What the migrations cost Nova' in out
    assert 'tools/tox -e bench' in out
    kept = out.split('The plan and config are kept in ', 1)[1].split()[0]
    assert sorted(os.listdir(kept)) == ['fast.conf', 'plan.json']
    with open(os.path.join(kept, 'plan.json')) as plan:
        actions = json.load(plan)
    shutil.rmtree(kept)
    assert len(actions) == 5
