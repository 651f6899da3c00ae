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

"""An in-memory stand-in for the Nova gateway, for the action's decision
logic. Migrations advance one status per poll of the migration list, so a
test decides exactly what Nova does and when. Everything that involves the
real Nova is tested again in tests/functional."""

import dataclasses
import threading

from watcher_migrate import context as process_context
from watcher_migrate import nova_gateway

NODE_UUIDS = {'compute-1': '5d0e9a52-0d4c-4f7e-8a51-1c6f6d1f0a01',
              'compute-2': '5d0e9a52-0d4c-4f7e-8a51-1c6f6d1f0a02',
              'compute-3': '5d0e9a52-0d4c-4f7e-8a51-1c6f6d1f0a03'}
LIVE_STEPS = ['accepted', 'queued', 'preparing', 'running', 'running']
COLD_STEPS = ['pre-migrating', 'migrating', 'post-migrating']


@dataclasses.dataclass
class Migration:
    id: int
    kind: str
    source: str
    dest: str
    steps: list
    end: str
    status: str = 'accepted'


class FakeNova(object):
    """Records every call; ``writes`` lists the write calls in order.

    Its ``context`` is that of the process the test plays, as a gateway's
    is: a fresh one (nothing learned) unless given.
    """

    def __init__(self, host='compute-1', status='ACTIVE',
                 server_id='0b8bd4ab-7c11-4b43-a3b1-64a6b8a7c5a3',
                 context=None):
        self.context = (process_context.ProcessContext() if context is None
                        else context)
        self.server = dict(id=server_id, name='web-1', status=status,
                           task_state=None, host=host, fault=None,
                           ram_mb=1024, disk_gb=1,
                           # Its lists take no window: any time will do.
                           updated='2026-01-01T00:00:00Z')
        self.server_exists = True
        self.services = {h: dict(status='enabled', state='up',
                                 forced_down=False)
                         for h in ('compute-1', 'compute-2', 'compute-3')}
        # Compute node (hypervisor) UUID -> its service host.
        self.hypervisors = {NODE_UUIDS[h]: h for h in self.services}
        self.hypervisor_reads = 0
        self.migrations = []
        self.writes = []
        self.reads = 0
        self.server_reads = 0
        self.record_listings = 0      # shared live migration listings
        self.figure_reads = 0         # a server's migrations in progress
        self.live_end = 'completed'   # or 'error', 'stuck'
        self.cold_end = 'finished'    # or 'error', 'stuck'
        self.confirm_end = 'confirmed'
        self.abort_honoured = True
        self.conflicts = 0            # 409s before a move is accepted
        self.lose_answer = False      # the move applies, the answer is lost
        self.lose_request = False     # the move is lost on its way
        self.lost_confirms = 0        # confirms lost on their way
        self.lost_aborts = 0          # aborts lost on their way
        self.microversion = (2, 96)
        self.live_steps = list(LIVE_STEPS)
        self.cold_steps = list(COLD_STEPS)
        self.lock = threading.Lock()
        self.original_status = status
        self.endpoint = 'fake-nova://%d' % id(self)

    # -- reads ------------------------------------------------------------

    def get_server(self, server_id):
        with self.lock:
            self._tick(server_read=True)
            if not self.server_exists:
                return None
            return nova_gateway.ServerView(**self.server)

    def get_compute_service(self, host):
        self.reads += 1
        service = self.services.get(host)
        if service is None:
            return None
        return nova_gateway.ServiceView(host=host, **service)

    def get_hypervisor_host(self, hypervisor_id):
        self.reads += 1
        self.hypervisor_reads += 1
        return self.hypervisors.get(hypervisor_id)

    def list_migrations(self, server_id):
        with self.lock:
            self._tick()
            return _views(reversed(self.migrations))

    def list_changed_servers(self, since):
        with self.lock:
            self._tick(server_read=True)
            if not self.server_exists:
                return [nova_gateway.ServerView(
                    **dict(self.server, status='DELETED'))]
            return [nova_gateway.ServerView(**self.server)]

    def list_changed_live_migrations(self, since):
        with self.lock:
            self._tick()
            self.record_listings += 1
            return [dataclasses.replace(view, instance_uuid=self.server['id'])
                    for view in _views(reversed(self.migrations))
                    if view.migration_type == 'live-migration']

    def list_live_migrations_in_progress(self, server_id):
        with self.lock:
            self._tick()
            self.figure_reads += 1
            return _views(m for m in reversed(self.migrations)
                          if m.kind == 'live-migration' and m.status in (
                              'queued', 'preparing', 'running',
                              'post-migrating'))

    def get_live_migration(self, server_id, migration_id):
        self.reads += 1
        return None

    def supports(self, version):
        return self.microversion >= (version.ver_major, version.ver_minor)

    # -- writes -----------------------------------------------------------

    def _move(self, kind, host, steps, task_state):
        if self.lose_request:
            raise nova_gateway.WriteOutcomeUnknown('move', 'read timeout')
        if self.conflicts:
            self.conflicts -= 1
            raise nova_gateway.NovaConflict('move', _Error(409, 'busy'))
        dest = host or 'compute-3'
        end = self.live_end if kind == 'live-migration' else self.cold_end
        with self.lock:
            self.migrations.append(Migration(
                id=len(self.migrations) + 100, kind=kind,
                source=self.server['host'], dest=dest, steps=list(steps),
                end=end))
            self.server['task_state'] = task_state
        if self.lose_answer:
            self.lose_answer = False
            raise nova_gateway.WriteOutcomeUnknown('move', 'reset')

    def live_migrate(self, server_id, host):
        self.writes.append(('live_migrate', host))
        self._move('live-migration', host, self.live_steps, 'migrating')

    def cold_migrate(self, server_id, host):
        self.writes.append(('cold_migrate', host))
        self._move('migration', host, self.cold_steps, 'resize_prep')

    def confirm_resize(self, server_id):
        self.writes.append(('confirm_resize',))
        if self.lost_confirms:
            self.lost_confirms -= 1
            raise nova_gateway.WriteOutcomeUnknown('confirm', 'reset')
        with self.lock:
            migration = self.migrations[-1]
            migration.steps = ['confirming']
            migration.end = self.confirm_end

    def revert_resize(self, server_id):
        self.writes.append(('revert_resize',))
        with self.lock:
            migration = self.migrations[-1]
            migration.steps = ['reverting']
            migration.end = 'reverted'

    def abort_live_migration(self, server_id, migration_id):
        self.writes.append(('abort', migration_id))
        if self.lost_aborts:
            self.lost_aborts -= 1
            raise nova_gateway.WriteOutcomeUnknown('abort', 'reset')
        if self.abort_honoured:
            with self.lock:
                migration = self.migrations[-1]
                migration.steps = []
                migration.end = 'cancelled'

    def force_complete(self, server_id, migration_id):
        self.writes.append(('force_complete', migration_id))
        with self.lock:
            migration = self.migrations[-1]
            migration.steps = []
            migration.end = 'completed'

    # -- Nova's side of things --------------------------------------------

    def _tick(self, server_read=False):
        # Every poll counts, and moves each migration on by one status.
        self.reads += 1
        if server_read:
            self.server_reads += 1
        for migration in self.migrations:
            self._advance(migration)

    def _advance(self, m):
        if m.status in ('completed', 'error', 'cancelled', 'confirmed',
                        'reverted'):
            return
        if m.steps:
            m.status = m.steps.pop(0)
            if m.status == 'running':
                self.server['status'] = 'MIGRATING'
            elif m.status in ('pre-migrating', 'migrating'):
                self.server['status'] = 'RESIZE'
            return
        if m.end == 'stuck':
            return
        m.status = m.end
        server = self.server
        server['task_state'] = None
        if m.end == 'completed':
            server.update(host=m.dest, status=self.original_status)
        elif m.end in ('error', 'cancelled'):
            server.update(host=m.source, status=self.original_status)
            if m.end == 'error':
                server['fault'] = 'libvirt: migration job failed'
        elif m.end == 'finished':
            server.update(host=m.dest, status='VERIFY_RESIZE')
        elif m.end == 'confirmed':
            server.update(host=m.dest, status=self.original_status)
        elif m.end == 'reverted':
            server.update(host=m.source, status=self.original_status)


def _views(migrations):
    return [nova_gateway.MigrationView(
        id=m.id, status=m.status, migration_type=m.kind,
        source_compute=m.source) for m in migrations]


class _Error(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message
