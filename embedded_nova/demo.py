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
final placement, then what the migrations cost Nova: its requests per
server and how long after each landing the tool saw it, from the
embedded Nova's request log and driver events. The plan and config stay
in a directory named at the end. Run with ``python -m embedded_nova.demo``
from the top of the repository (the README's first command does it
through tox).
"""

import collections
import json
import os
import subprocess
import sys
import tempfile

from embedded_nova import client

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


READS = ('GET', 'HEAD')


def _path(request):
    # Nova's own path, without the gateway's /compute/v2.1 prefix.
    path = request['path']
    for prefix in ('/compute/v2.1', '/compute'):
        if path.startswith(prefix):
            return path[len(prefix):] or '/'
    return path


def _reads_server(request, uuid):
    path = _path(request)
    return request['method'] in READS and (
        uuid in path or path == '/servers/detail')


def costs(requests, events, servers):
    """What the migrations of a run cost Nova, from its own records.

    :param requests: the embedded Nova's compute request log of the run
    :param events: its fake-driver events of the run
    :param servers: {name: uuid} of the servers the plan moved
    :returns: (rows, shared): per server, in ``servers`` order, a dict
        (name, moves, reads, writes, detected: [(kind, seconds)]);
        shared: Counter of 'METHOD /path' for the requests of no one
        server (shared listings, service checks)
    """
    landings = sorted(
        (e for e in events
         if e['event'] == 'live_migration_landed' or
         (e['event'] == 'cold_migration_finished' and
          e.get('outcome') == 'finished')),
        key=lambda e: e['time'])
    ordered = sorted(requests, key=lambda r: r['start'])
    rows = []
    for name, uuid in servers.items():
        own = [r for r in ordered if uuid in _path(r)]
        detected = []
        for landing in (e for e in landings if e['instance'] == uuid):
            if landing['event'] == 'live_migration_landed':
                # The first read of the server after it landed: its answer
                # is when the tool could know.
                seen = next((r for r in ordered
                             if r['start'] >= landing['time'] and
                             r['end'] is not None and
                             _reads_server(r, uuid)), None)
                detected.append(('live', None if seen is None
                                 else seen['end'] - landing['time']))
            else:
                # VERIFY_RESIZE reached: the tool's answer is its confirm.
                confirm = next((r for r in own
                                if r['start'] >= landing['time'] and
                                r.get('action') == 'confirmResize'), None)
                detected.append(('cold', None if confirm is None
                                 else confirm['start'] - landing['time']))
        rows.append({'name': name, 'moves': len(detected),
                     'reads': sum(r['method'] in READS for r in own),
                     'writes': sum(r['method'] not in READS for r in own),
                     'detected': detected})
    uuids = list(servers.values())
    shared = collections.Counter(
        '%s %s' % (r['method'], _path(r)) for r in ordered
        if not any(u in _path(r) for u in uuids))
    return rows, shared


def costs_report(rows, shared):
    """The lines the demo prints after its summary."""
    def detection(kind, seconds):
        if seconds is None:
            return 'not seen'
        return ('%.2f s' if kind == 'live'
                else 'confirmed %.2f s after VERIFY_RESIZE') % seconds
    width = max([len('server')] + [len(r['name']) for r in rows])
    lines = ['What the migrations cost Nova (its request log and driver '
             'events, during the run):',
             '  %-*s  moves  reads  writes  seen after landing'
             % (width, 'server')]
    for row in rows:
        lines.append('  %-*s  %5d  %5d  %6d  %s' % (
            width, row['name'], row['moves'], row['reads'], row['writes'],
            ', '.join(detection(*d) for d in row['detected']) or '-'))
    moves = sum(r['moves'] for r in rows)
    total = sum(r['reads'] + r['writes'] for r in rows) + sum(
        shared.values())
    lines.append('  shared by all actions: %d request%s%s' % (
        sum(shared.values()), '' if sum(shared.values()) == 1 else 's',
        (' (%s)' % ', '.join('%s: %d' % (what.split('?')[0], count)
                             for what, count in shared.most_common()))
        if shared else ''))
    if moves:
        lines.append('  in all %d requests for %d migrations: %.1f per '
                     'migration' % (total, moves, total / moves))
    lines.append("The built-in migrate action's figures on the same kind "
                 'of workloads: README.rst, "Performance" (tools/tox -e '
                 'bench measures both).')
    return lines


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
    # Kept after the run, so the operator can read the plan and config
    # (and run them again against a cloud of their own).
    workdir = tempfile.mkdtemp(prefix='watcher-migrate-demo-')
    with client.EmbeddedNova(hosts=HOSTS) as cloud:
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
        # Only the run's requests and events are the migrations' cost.
        cloud.reset_requests()
        cloud.reset_events()
        result = _tool(['run', 'plan.json', '--config-file', 'fast.conf'],
                       env, workdir)
        rows, shared = costs(cloud.requests(), cloud.events(), ids)
        print('\nFinal placement, read from Nova:')
        for name, uuid in ids.items():
            server = cloud.server(uuid)
            print('  %-8s %-6s %s' % (name, server['OS-EXT-SRV-ATTR:host'],
                                      server['status']))
        print()
        print('\n'.join(costs_report(rows, shared)))
    print('\nThe plan and config are kept in %s (plan.json, fast.conf).'
          % workdir)
    print('watcher-migrate run exited %d' % result)
    return result


if __name__ == '__main__':
    sys.exit(main())
