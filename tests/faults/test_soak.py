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

"""Soak: a few hundred migrations with random faults, counted.

Only with WATCHER_MIGRATE_SOAK=1 (``tox -e soak``). Workers take idle
servers from a pool and run one action each on them, with a fault drawn
from a fixed seed (chaos.draw), on one shared keystoneauth1 session as in
the applier. At the end a table gives the migrations, the faults injected
by kind, the outcomes and the invariant violations, which must be none.

WATCHER_MIGRATE_SOAK_MIGRATIONS (default 300), _WORKERS (default 6) and
_SEED change the run. WATCHER_MIGRATE_SOAK_NOTIFICATIONS=1 (``tox -e
soak-notify``) is the notification mode: Nova publishes its versioned
notifications to a private RabbitMQ and every action listens to them,
through the one listener of the process, as in an applier; the table
then also counts what the plugin said of the bus.
"""

import collections
import logging
import os
import queue
import random
import threading
import time
import types
import uuid

import pytest

from tests.faults import chaos
from tests.faults import conftest
from tests.faults import harness
from watcher_migrate import context
from watcher_migrate import keystone_session
from watcher_migrate import options

MIGRATIONS = int(os.environ.get('WATCHER_MIGRATE_SOAK_MIGRATIONS', '300'))
WORKERS = int(os.environ.get('WATCHER_MIGRATE_SOAK_WORKERS', '6'))
SEED = int(os.environ.get('WATCHER_MIGRATE_SOAK_SEED', '20240612'))
SERVERS = WORKERS * 2
# What the plugin says when it cannot count on the bus, counted in the
# notification mode.
BUS_REMARKS = {
    'moves Nova sent no notification of': 'sent no notification of it',
    'bus unreachable at start': 'cannot be reached within',
    'bus lost': 'was lost; migrations are followed by polling',
}


class _Remarks(logging.Handler):
    """Counts the log records that say one of ``BUS_REMARKS``."""

    def __init__(self):
        super(_Remarks, self).__init__(logging.INFO)
        self.counts = collections.Counter()

    def emit(self, record):
        message = record.getMessage()
        for name, text in BUS_REMARKS.items():
            if text in message:
                self.counts[name] += 1


@pytest.fixture
def listening(request):
    """The actions' options to listen, and a count of the bus remarks.

    In notification mode only (options {} and remarks None otherwise).
    The process's own listener is stopped after.
    """
    if not conftest.soak_notifications():
        yield types.SimpleNamespace(options={}, remarks=None)
        return
    broker = request.getfixturevalue('broker')
    remarks = _Remarks()
    logging.getLogger().addHandler(remarks)
    try:
        yield types.SimpleNamespace(options={
            'notification_transport_url': broker.url,
            'notification_pool': 'watcher-migrate-soak-%s'
                                 % uuid.uuid4().hex}, remarks=remarks)
    finally:
        logging.getLogger().removeHandler(remarks)
        context.default().stop_listening()


def _usable_again(cloud, server_id):
    """The server's host once it can move again, or None if it is gone."""
    info = cloud.server(server_id)
    if info['status'] == 'ERROR':
        # A fault of the fake driver put it in ERROR: an operator resets
        # it (the fake driver still has the guest).
        cloud.compute('POST', '/servers/%s/action' % server_id,
                      {'os-resetState': {'state': 'active'}})
        info = cloud.wait_for_server(server_id, 'ACTIVE')
    if info['status'] not in ('ACTIVE', 'SHUTOFF'):
        return None
    return info['OS-EXT-SRV-ATTR:host']


@pytest.mark.soak
@pytest.mark.pool(SERVERS)
def test_hundreds_of_migrations_with_random_faults_keep_every_promise(
        cloud, proxy, server_pool, listening, capsys):
    remarks = listening.remarks
    idle = queue.Queue()
    for server in server_pool.take_many(SERVERS):
        idle.put(server)
    tally = chaos.Tally()
    session = keystone_session.session_for(None, options.Settings(
        chaos.options(cloud, proxy)))
    osc = types.SimpleNamespace(session=session)
    todo = iter(range(MIGRATIONS))
    todo_lock = threading.Lock()
    errors = []

    def worker(number):
        rng = random.Random(SEED * 100 + number)
        while True:
            with todo_lock:
                if next(todo, None) is None:
                    return
            server = idle.get()
            plan = chaos.draw(rng, server.id, server.host)
            plan.options.update(listening.options)
            chaos.prepare(cloud, proxy, plan)
            try:
                result, found = chaos.run(cloud, proxy, plan, osc=osc)
                tally.add(plan, result, found)
            finally:
                if plan.rule is not None:
                    proxy.remove(plan.rule)
            host = _usable_again(cloud, server.id)
            if host is not None:
                idle.put(harness.Server(server.id, host))
            else:
                idle.put(server_pool.take())

    def guarded(number):
        try:
            worker(number)
        except Exception as e:
            errors.append('worker %d: %r' % (number, e))

    started = time.monotonic()
    threads = [threading.Thread(target=guarded, args=(n,), daemon=True)
               for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = tally.table(proxy.injected, time.monotonic() - started)
    # The plugin's compute API requests, the harness's own reads of Nova
    # excluded (they go to Nova directly, not through the proxy).
    compute = [e for e in proxy.log if e['path'].startswith('/compute/')]
    lines.append('compute API requests through the proxy: %d (%.1f per '
                 'migration)' % (len(compute), len(compute) / MIGRATIONS))
    if remarks is not None:
        lines += ['notifications: %s: %d' % (name, remarks.counts[name])
                  for name in sorted(BUS_REMARKS)]
    with capsys.disabled():
        print('\n\nsoak: %d migrations, %d workers, seed %d%s\n'
              % (MIGRATIONS, WORKERS, SEED,
                 ', Nova publishing, actions listening' if remarks else ''))
        print('\n'.join(lines))
    assert errors == []
    assert sum(tally.migrations.values()) == MIGRATIONS
    assert tally.violations == []
