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

"""The main job on the embedded default, as an operator would run it.

Starts the real Nova (fake virt driver) on 127.0.0.1 with four compute
hosts and a few servers, writes a sample plan in Watcher's shape (live and
cold moves, some in parallel, one chained to another), then runs
``watcher-migrate check`` and ``watcher-migrate run`` on it exactly as an
operator would (a subprocess configured by OS_* variables), and prints the
final placement. Run with ``python -m watcher_migrate.embedded_nova.demo``
(the README's first command does it through tox).
"""

import json
import os
import subprocess
import sys
import tempfile

from watcher_migrate.embedded_nova import client

HOSTS = ('host1', 'host2', 'host3', 'host4')

# name: (host, how to create it, seconds its live migration lasts)
SERVERS = {
    'web-1': ('host1', {}, 2),
    'db-1': ('host2', {}, 8),
    'batch-1': ('host3', {'stopped': True}, 0),
    'cache-1': ('host1', {}, 2),
}


def _plan(ids):
    def action(uuid, name, kind, source, destination, parents=()):
        return {'uuid': uuid, 'action_type': 'nova_migrate',
                'parents': list(parents),
                'input_parameters': {
                    'resource_id': ids[name], 'resource_name': name,
                    'migration_type': kind, 'source_node': source,
                    'destination_node': destination}}

    return [
        action('a-web', 'web-1', 'live', 'host1', 'host2'),
        action('b-db', 'db-1', 'live', 'host2', 'host3'),
        action('c-batch', 'batch-1', 'cold', 'host3', 'host4'),
        # Chained: web-1 moves on once it has reached host2.
        action('d-web', 'web-1', 'live', 'host2', 'host4',
               parents=['a-web']),
        # The scheduler picks the destination.
        action('e-cache', 'cache-1', 'cold', 'host1', None),
    ]


def _environment(cloud):
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update({
        'OS_AUTH_URL': cloud.auth_url, 'OS_USERNAME': cloud.username,
        'OS_PASSWORD': cloud.password,
        'OS_PROJECT_NAME': cloud.project_name,
        'OS_USER_DOMAIN_NAME': cloud.user_domain_name,
        'OS_PROJECT_DOMAIN_NAME': cloud.project_domain_name,
        'OS_REGION_NAME': cloud.region_name,
    })
    return env


def _tool(args, env, workdir):
    command = [sys.executable, '-m', 'watcher_migrate.cli'] + args
    print('\n$ watcher-migrate %s' % ' '.join(args), flush=True)
    return subprocess.call(command, env=env, cwd=workdir)


def main():
    print('Starting the real Nova (fake virt driver) on 127.0.0.1 with '
          'hosts %s ...' % ', '.join(HOSTS), flush=True)
    with client.EmbeddedNova(hosts=HOSTS) as cloud, \
            tempfile.TemporaryDirectory(prefix='watcher-migrate-demo-') \
            as workdir:
        print('Compute API %s, identity %s (started in %.1f s)'
              % (cloud.compute_url, cloud.auth_url, cloud.startup_seconds))
        ids = {}
        for name, (host, how, duration) in SERVERS.items():
            ids[name] = cloud.create_server(host, name=name, **how)
            cloud.set_driver(instance=ids[name], live_duration=duration)
            print('created %-8s on %s' % (name, host), flush=True)
        plan_file = os.path.join(workdir, 'plan.json')
        with open(plan_file, 'w') as f:
            json.dump(_plan(ids), f, indent=2)
        with open(os.path.join(workdir, 'fast.conf'), 'w') as f:
            # The fake driver's migrations last seconds: poll like it.
            f.write('[watcher_actions.nova_migrate]\n'
                    'poll_interval_max = 1.0\n')
        print('\nPlan (%s): web-1 live host1->host2 then host2->host4; '
              'db-1 live host2->host3; batch-1 (stopped) cold '
              'host3->host4; cache-1 cold from host1 to where the '
              'scheduler chooses.' % plan_file)
        env = _environment(cloud)
        _tool(['check', 'plan.json'], env, workdir)
        result = _tool(['run', 'plan.json', '--config-file', 'fast.conf'],
                       env, workdir)
        print('\nFinal placement, read from Nova:')
        for name, uuid in ids.items():
            server = cloud.server(uuid)
            print('  %-8s %-6s %s' % (name, server['OS-EXT-SRV-ATTR:host'],
                                      server['status']))
    print('\nwatcher-migrate run exited %d' % result)
    return result


if __name__ == '__main__':
    sys.exit(main())
