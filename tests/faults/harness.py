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

"""Running the action the way Watcher does, and faults at chosen moments.

``run_action`` drives one action through Watcher's phases and records what
it answered (a :class:`Run`); ``rule_at`` builds the proxy rule that puts a
fault at one moment of a migration: before the move request, on it,
during the wait, on the confirm or on the abort.
"""

import dataclasses
import re
import threading
import time
import urllib.parse

from tests import embedded_cloud
from tests.faults import fault_proxy
from watcher_migrate import action
from watcher_migrate import exceptions

HOSTS = embedded_cloud.HOSTS
LIVE = 'live'
COLD = 'cold'
MOVE_ACTIONS = {LIVE: 'os-migrateLive', COLD: 'migrate'}

# The moments of a migration a fault can be put at.
BEFORE = 'before-the-move'
MOVE = 'on-the-move'
WAIT = 'during-the-wait'
CONFIRM = 'on-the-confirm'
ABORT = 'on-the-abort'
MOMENTS = (BEFORE, MOVE, WAIT, CONFIRM, ABORT)

# Fast polling, short budgets: a fault is either survived quickly or the
# action gives up quickly, so a broken promise fails in seconds.
FAST = {
    'poll_interval_min': 0.2, 'poll_interval_max': 1.0,
    'settle_timeout': 30, 'api_retry_timeout': 20,
    'progress_interval': 30.0,
}


def base_url(cloud):
    """scheme://host:port of the embedded Nova (identity and compute)."""
    parts = urllib.parse.urlsplit(cloud.auth_url)
    return '%s://%s' % (parts.scheme, parts.netloc)


def config(cloud, through=None, **overrides):
    """The action's options: fast polling and keystoneauth password auth.

    :param through: a FaultProxy (or its URL) to authenticate through;
        the catalog it relays then routes the compute traffic through it
    """
    url = base_url(cloud)
    if through is not None:
        url = getattr(through, 'url', through)
    values = dict(FAST)
    values.update({
        'auth_type': 'password', 'auth_url': url + '/identity/v3',
        'username': cloud.username, 'password': cloud.password,
        'project_name': cloud.project_name,
        'user_domain_name': cloud.user_domain_name,
        'project_domain_name': cloud.project_domain_name,
    })
    values.update(overrides)
    return values


def new_action(options, server, source, destination, migration_type=LIVE,
               osc=None):
    migrate = action.Migrate(options, osc=osc)
    migrate.input_parameters = {
        'resource_id': server, 'migration_type': migration_type,
        'source_node': source, 'destination_node': destination}
    return migrate


@dataclasses.dataclass
class Run:
    """What one action was asked and what it answered."""

    server: str
    migration_type: str
    source: str
    destination: str = None
    status_before: str = 'ACTIVE'
    auto_confirm: bool = True
    succeeded: bool = False
    skipped: bool = False
    message: str = ''
    # Exceptions that are not the plugin's own (a bug in itself).
    foreign_errors: list = dataclasses.field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds(self):
        return self.ended - self.started

    @property
    def outcome(self):
        if self.skipped:
            return 'skipped'
        return 'succeeded' if self.succeeded else 'failed'


def _note_error(run, phase, error):
    text = '%s: %s' % (phase, error)
    run.message = '; '.join(m for m in (run.message, text) if m)
    if not isinstance(error, exceptions.MigrateError):
        run.foreign_errors.append('%s raised %s: %s'
                                  % (phase, type(error).__name__, error))


def run_action(migrate, status_before='ACTIVE', auto_confirm=True):
    """Run validate/pre_condition/execute/post_condition as Watcher does.

    Watcher runs post_condition after a failed execute too, and not after
    a skip; an exception in any phase fails the action.

    :param auto_confirm: the action's option of that name (what a cold
        migration that succeeded leaves: ACTIVE/SHUTOFF or VERIFY_RESIZE)
    """
    request = migrate.input_parameters
    run = Run(server=request.get('resource_id'),
              migration_type=request.get('migration_type'),
              source=request.get('source_node'),
              destination=request.get('destination_node'),
              status_before=status_before,
              auto_confirm=auto_confirm,
              started=time.time())
    try:
        try:
            migrate.validate_parameters()
            migrate.pre_condition()
        except exceptions.ActionSkipped as e:
            run.skipped = True
            run.message = str(e)
            return run
        except Exception as e:
            _note_error(run, 'pre_condition', e)
        else:
            try:
                run.succeeded = migrate.execute() is True
            except Exception as e:
                _note_error(run, 'execute', e)
        try:
            migrate.post_condition()
        except Exception as e:
            run.succeeded = False
            _note_error(run, 'post_condition', e)
        return run
    finally:
        run.ended = time.time()


def migrate_server(cloud, options, server, source, destination,
                   migration_type=LIVE, osc=None):
    """Run one action on ``server``; returns its :class:`Run`."""
    status = cloud.server(server)['status']
    migrate = new_action(options, server, source, destination,
                         migration_type, osc=osc)
    return run_action(migrate, status_before=status,
                      auto_confirm=options.get('auto_confirm', True))


# -- servers -----------------------------------------------------------------

# Migration statuses after which Nova does nothing more with a migration.
FINAL_MIGRATION_STATUSES = frozenset([
    'completed', 'confirmed', 'reverted', 'error', 'failed', 'cancelled',
    'done-with-error'])
# Fake-driver behaviour a test may have changed for its server.
DRIVER_DEFAULTS = {'live_duration': 0, 'live_fail': None, 'cold_duration': 0,
                   'cold_fail': False, 'confirm_fail': False}


@dataclasses.dataclass(frozen=True)
class Server:
    """A server handed to a test: its uuid and the host it is on."""

    id: str
    host: str


def other_host(host, hosts=HOSTS):
    """The host after ``host`` in ``hosts`` (a destination for it)."""
    return hosts[(hosts.index(host) + 1) % len(hosts)]


class ServerPool(object):
    """ACTIVE, idle servers for tests, booted once and used again.

    Booting costs the embedded Nova about a second of CPU; a server that
    came out of a test ACTIVE, idle and with every migration final is as
    good as new (its driver behaviour is reset), so it serves the next.
    """

    def __init__(self, cloud, hosts):
        self.cloud = cloud
        self.hosts = list(hosts)
        self._lock = threading.Lock()
        self._idle = []
        self._booted = 0
        self._prefill = None
        self._prefill_error = None

    def _next_hosts(self, count):
        with self._lock:
            start, self._booted = self._booted, self._booted + count
        return [self.hosts[(start + i) % len(self.hosts)]
                for i in range(count)]

    def prefill(self, count):
        """Boot ``count`` servers one by one in the background.

        The single-action tests leave Nova idle most of the time (they
        wait out timeouts and retry windows): the servers that many
        parallel actions need are booted meanwhile.
        """
        def boot_all():
            try:
                for host in self._next_hosts(count):
                    server = Server(self.cloud.create_server(host), host)
                    with self._lock:
                        self._idle.append(server)
            except Exception as e:
                self._prefill_error = e

        self._prefill = threading.Thread(target=boot_all,
                                         name='server-pool-prefill',
                                         daemon=True)
        self._prefill.start()

    def settle(self):
        """Wait for the background boots (before counting requests)."""
        if self._prefill is not None:
            self._prefill.join()
            self._prefill = None
        if self._prefill_error is not None:
            raise AssertionError('booting the server pool failed: %s'
                                 % self._prefill_error)

    def boot(self, count, timeout=300):
        """Add ``count`` servers to the pool, booted side by side."""
        batch = 'pool-%d-%d' % (id(self), self._booted)
        for index, host in enumerate(self._next_hosts(count)):
            self.cloud.create_server(host, name='%s-%d' % (batch, index),
                                     wait=False)
        deadline = time.monotonic() + timeout
        while True:
            servers = self.cloud.compute(
                'GET', '/servers/detail?name=^%s-' % batch)['servers']
            if len(servers) == count and all(
                    s['status'] == 'ACTIVE' and
                    s.get('OS-EXT-STS:task_state') is None
                    for s in servers):
                break
            errors = [s['id'] for s in servers if s['status'] == 'ERROR']
            if errors or time.monotonic() > deadline:
                raise AssertionError('servers of %s not ACTIVE: %s'
                                     % (batch, errors or 'timeout'))
            time.sleep(1.0)
        with self._lock:
            self._idle.extend(Server(s['id'], s['OS-EXT-SRV-ATTR:host'])
                              for s in servers)

    def take_many(self, count):
        """``count`` servers, the missing ones booted side by side."""
        self.settle()
        with self._lock:
            missing = max(0, count - len(self._idle))
        if missing:
            self.boot(missing)
        return [self.take() for _ in range(count)]

    def take(self):
        with self._lock:
            if self._idle:
                return self._idle.pop(0)
        host = self._next_hosts(1)[0]
        return Server(self.cloud.create_server(host), host)

    def give_back(self, server):
        """Keep ``server`` for later if it is ACTIVE, idle and settled."""
        try:
            info = self.cloud.server(server.id)
        except Exception:
            return False
        if info['status'] != 'ACTIVE' or info.get('OS-EXT-STS:task_state'):
            return False
        if any(m['status'] not in FINAL_MIGRATION_STATUSES
               for m in self.cloud.migrations(server.id)):
            return False
        self.cloud.set_driver(instance=server.id, **DRIVER_DEFAULTS)
        with self._lock:
            self._idle.append(Server(server.id,
                                     info['OS-EXT-SRV-ATTR:host']))
        return True


# -- faults at a moment ------------------------------------------------------


# Compute API requests other than the version documents.
COMPUTE_CALL = r'/compute/v2\.1/.'


def _server_path(server):
    return r'/servers/%s' % re.escape(server)


def move_match(server, migration_type):
    return fault_proxy.Match('POST', _server_path(server) + r'/action$',
                             MOVE_ACTIONS[migration_type])


def rule_at(moment, kind, server, migration_type=LIVE, **options):
    """A rule putting fault ``kind`` at ``moment`` of a server's migration.

    The moments are told apart by what Nova's API shows, not by how the
    plugin reads it: before the move, a read that names the server (the
    pre-flight look at it); on the move, the move request; during the
    wait, any compute read once Nova accepted the move (whichever way
    the plugin follows it: one server, its migrations, all servers); on
    the confirm, the confirmResize request; on the abort, the DELETE of
    the server's migration. A REFUSED fault resets that request unsent
    and refuses every connection for ``seconds`` after it.
    """
    server_path = _server_path(server)
    if moment == BEFORE:
        return fault_proxy.Rule(kind, 'GET', re.escape(server), **options)
    if moment == MOVE:
        return fault_proxy.Rule(kind, 'POST', server_path + '/action$',
                                MOVE_ACTIONS[migration_type], **options)
    if moment == WAIT:
        return fault_proxy.Rule(kind, 'GET', COMPUTE_CALL,
                                after=move_match(server, migration_type),
                                **options)
    if moment == CONFIRM:
        return fault_proxy.Rule(kind, 'POST', server_path + '/action$',
                                'confirmResize', **options)
    if moment == ABORT:
        return fault_proxy.Rule(kind, 'DELETE',
                                server_path + r'/migrations/\d+$', **options)
    raise ValueError('unknown moment %r' % (moment,))


# -- Nova's request log ------------------------------------------------------

class NovaRequests(object):
    """The embedded Nova's compute request log, fetched incrementally."""

    def __init__(self, cloud):
        self.cloud = cloud
        self._lock = threading.Lock()
        self._entries = []

    def refresh(self):
        with self._lock:
            # Entries still being served are fetched again.
            start = len(self._entries)
            for index, entry in enumerate(self._entries):
                if entry['status'] is None:
                    start = index
                    break
            fresh = self.cloud.requests(since_index=start)
            del self._entries[start:]
            self._entries.extend(fresh)
            return len(self._entries)

    def since(self, index):
        """Entries from ``index`` on (after a refresh)."""
        self.refresh()
        with self._lock:
            return list(self._entries[index:])

    def moves(self, server, started, ended, migration_type=None):
        """Move requests of ``server`` that Nova received in a window."""
        self.refresh()
        path = '/compute/v2.1/servers/%s/action' % server
        actions = (MOVE_ACTIONS.values() if migration_type is None
                   else (MOVE_ACTIONS[migration_type],))
        with self._lock:
            return [dict(e) for e in self._entries
                    if e['path'] == path and e['action'] in actions
                    and started - 1.0 <= e['start'] <= ended + 1.0]

    def about(self, server, started, ended):
        """Requests naming ``server`` that Nova received in a window."""
        self.refresh()
        with self._lock:
            return [dict(e) for e in self._entries
                    if server in e['path'] + '?' + (e.get('query') or '')
                    and started - 1.0 <= e['start'] <= ended + 1.0]


def excerpt(entries, since):
    """Request log lines: seconds since ``since``, request, status."""
    return ['%+7.2f %s %s%s%s -> %s' % (
        e['start'] - since, e['method'], e['path'],
        '?' + e['query'] if e.get('query') else '',
        ' {%s}' % e['action'] if e.get('action') else '', e['status'])
        for e in entries]


_LOGS = {}
_LOGS_LOCK = threading.Lock()


def nova_requests(cloud):
    """The shared :class:`NovaRequests` of a cloud."""
    with _LOGS_LOCK:
        if id(cloud) not in _LOGS:
            _LOGS[id(cloud)] = NovaRequests(cloud)
        return _LOGS[id(cloud)]
