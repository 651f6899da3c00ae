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

"""The main job on the embedded default: real Nova on loopback, one live
and one cold migration with the nova_migrate action, and what happened.

Run with ``python -m watcher_migrate.embedded_nova.demo`` (the README's
first command does it through tox).
"""

import logging
import sys
import time

from watcher_migrate import action
from watcher_migrate.embedded_nova import client
from watcher_migrate import exceptions

HOSTS = ('host1', 'host2', 'host3')
PLAN = [
    # (name, migration type, source, destination)
    ('demo-live', 'live', 'host1', 'host2'),
    ('demo-cold', 'cold', 'host1', 'host3'),
]


def _config(cloud):
    return {'auth_type': 'password', 'auth_url': cloud.auth_url,
            'username': cloud.username, 'password': cloud.password,
            'project_name': cloud.project_name,
            'user_domain_name': cloud.user_domain_name,
            'project_domain_name': cloud.project_domain_name}


def _run_one(cloud, name, kind, source, destination):
    server = cloud.create_server(source, name=name)
    cloud.set_driver(instance=server, live_duration=2.0)
    before = len(cloud.requests())
    migrate = action.Migrate(_config(cloud))
    migrate.input_parameters = {
        'resource_id': server, 'resource_name': name,
        'migration_type': kind, 'source_node': source,
        'destination_node': destination}
    started = time.monotonic()
    try:
        migrate.validate_parameters()
        migrate.pre_condition()
        result = 'SUCCEEDED' if migrate.execute() is True else 'FAILED'
        migrate.post_condition()
    except exceptions.MigrateError as e:
        result = 'FAILED: %s' % e
    elapsed = time.monotonic() - started
    served = cloud.requests(before)
    writes = [r for r in served if r['method'] not in ('GET', 'HEAD')]
    info = cloud.server(server)
    return (name, kind, source, destination, result,
            info['OS-EXT-SRV-ATTR:host'], info['status'], elapsed,
            len(served) - len(writes), len(writes))


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format='%(asctime)s %(levelname)s %(name)s '
                               '%(message)s')
    for noisy in ('keystoneauth', 'novaclient', 'urllib3', 'stevedore'):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    print('Starting the real Nova (fake virt driver) on 127.0.0.1 with '
          'hosts %s ...' % ', '.join(HOSTS))
    with client.EmbeddedNova(hosts=HOSTS) as cloud:
        print('Compute API %s, identity %s (started in %.1f s)'
              % (cloud.compute_url, cloud.auth_url, cloud.startup_seconds))
        rows = [_run_one(cloud, *move) for move in PLAN]
    print()
    header = ('server', 'type', 'from', 'to', 'result', 'now on', 'status',
              'seconds', 'GETs', 'writes')
    table = [header] + [
        row[:7] + ('%.1f' % row[7], str(row[8]), str(row[9]))
        for row in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for row in table:
        print('  '.join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0 if all(row[4] == 'SUCCEEDED' for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
