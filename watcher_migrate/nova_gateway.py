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

"""Every call this plugin makes to the Nova API goes through here.

One python-novaclient per action, on one keystoneauth1 session (Watcher's
when it gives one, so one token serves every action and every poll), at the
highest microversion both Nova and novaclient support, never below 2.56.

Reads are retried on transient errors (connection errors, timeouts, HTTP
5xx, 409) with exponential backoff and jitter (tenacity), within
``api_retry_timeout``. Writes are not retried blindly: a write whose fate is
unknown (the request may have reached Nova) raises ``WriteOutcomeUnknown``
and the caller decides by reading Nova's state; only a write Nova certainly
did not act on (connection refused, 409 Conflict) is retried.
"""

import dataclasses
import threading
import time
import urllib.parse

from keystoneauth1 import exceptions as ks_exceptions
import novaclient
from novaclient import api_versions
from novaclient import client as nova_client
from novaclient import exceptions as nova_exceptions
from oslo_log import log
import requests
import tenacity

from watcher_migrate import context as process_context
from watcher_migrate import exceptions
from watcher_migrate import tuning

LOG = log.getLogger(__name__)

MIN_MICROVERSION = api_versions.APIVersion('2.56')
# changes-since on /os-migrations: the shared feed of migration records.
CHANGED_MIGRATIONS_MICROVERSION = api_versions.APIVersion('2.59')
# Abort of a live migration still queued or preparing.
ABORT_QUEUED_MICROVERSION = api_versions.APIVersion('2.65')
# Asked for on the first read of a process: the highest novaclient speaks.
PREFERRED_MICROVERSION = novaclient.API_MAX_VERSION

# novaclient's interface argument is still called endpoint_type.
_SERVICE_TYPE = 'compute'


@dataclasses.dataclass(frozen=True)
class ServerView:
    """What the plugin needs to know of a server, read in one GET."""

    id: str
    name: str
    status: str
    task_state: str
    host: str
    fault: str = None
    ram_mb: int = 0
    disk_gb: int = 0
    progress: int = None
    # When Nova last changed the server (ISO 8601, whole seconds).
    updated: str = None

    @classmethod
    def from_nova(cls, server):
        return cls.from_dict(server.to_dict())

    @classmethod
    def from_dict(cls, info):
        flavor = info.get('flavor') or {}
        fault = info.get('fault') or {}
        return cls(
            id=info['id'],
            name=info.get('name'),
            status=info.get('status'),
            task_state=info.get('OS-EXT-STS:task_state'),
            host=info.get('OS-EXT-SRV-ATTR:host'),
            fault=fault.get('message'),
            # Flavor details are embedded in the server since 2.47.
            ram_mb=int(flavor.get('ram') or 0),
            disk_gb=int(flavor.get('disk') or 0)
            + int(flavor.get('ephemeral') or 0),
            progress=info.get('progress'),
            updated=info.get('updated'))

    @property
    def size_gib(self):
        return self.ram_mb / 1024.0 + self.disk_gb

    @property
    def deleted(self):
        # A changes-since listing includes deleted servers with this status.
        return self.status in ('DELETED', 'SOFT_DELETED')


@dataclasses.dataclass(frozen=True)
class MigrationView:
    """One migration record, from /os-migrations or a server's migrations."""

    id: int
    status: str
    migration_type: str = None
    source_compute: str = None
    uuid: str = None
    instance_uuid: str = None
    created_at: str = None
    updated_at: str = None
    memory_total_bytes: int = None
    memory_processed_bytes: int = None
    memory_remaining_bytes: int = None

    @classmethod
    def from_nova(cls, migration):
        return cls.from_dict(migration.to_dict())

    @classmethod
    def from_dict(cls, info):
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in info.items() if k in fields})


@dataclasses.dataclass(frozen=True)
class ServiceView:
    """A nova-compute service: enabled/disabled, up/down, forced down."""

    host: str
    status: str
    state: str
    forced_down: bool = False
    disabled_reason: str = None


class WriteOutcomeUnknown(Exception):
    """A write may or may not have reached Nova; read state to decide."""

    def __init__(self, operation, cause):
        super().__init__('%s: outcome unknown (%s)' % (operation, cause))
        self.operation = operation
        self.cause = cause


class NovaRefused(exceptions.ActionFailed):
    """Nova answered a write with a client error (4xx other than 409)."""

    def __init__(self, operation, error):
        super().__init__('Nova refused to %s: HTTP %s: %s'
                         % (operation, getattr(error, 'code', '?'),
                            getattr(error, 'message', error)))
        self.code = getattr(error, 'code', None)


class NovaConflict(NovaRefused):
    """HTTP 409: Nova is busy with the server (a task is in progress)."""


def _http_code(error):
    return getattr(error, 'code', None) or getattr(error, 'http_status', None)


def _certainly_not_sent(error):
    """True when the request never reached Nova (nothing to reconcile)."""
    seen = set()
    exc = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (ConnectionRefusedError,
                            requests.exceptions.ConnectTimeout)):
            return True
        # urllib3's NewConnectionError: the TCP connection never opened.
        if type(exc).__name__ in ('NewConnectionError',
                                  'ConnectTimeoutError'):
            return True
        nested = [a for a in getattr(exc, 'args', ()) if
                  isinstance(a, BaseException)]
        reason = getattr(exc, 'reason', None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        for inner in nested:
            if _certainly_not_sent(inner):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


class MalformedResponse(ValueError):
    """Nova answered a read with a body that is not the JSON it should be.

    novaclient turns such a body into None and then fails with a TypeError
    deep inside; this names the problem and lets reads retry it.
    """


def _reject_unreadable_bodies(http_client):
    request = http_client.request

    def checked_request(url, method, **kwargs):
        response, body = request(url, method, **kwargs)
        if method == 'GET' and body is None:
            raise MalformedResponse(
                'GET %s answered HTTP %s with a body that is not JSON: %r'
                % (url, response.status_code, response.text[:80]))
        return response, body

    http_client.request = checked_request


def is_transient(error):
    """Errors worth retrying for a read: the next try may well succeed."""
    if isinstance(error, (ks_exceptions.ConnectionError,
                          ks_exceptions.RetriableConnectionFailure,
                          requests.exceptions.RequestException)):
        return True
    if isinstance(error, nova_exceptions.ClientException):
        code = _http_code(error)
        # 401: keystoneauth re-authenticates on the next try.
        return code is not None and (code >= 500
                                     or code in (401, 409, 429))
    # A truncated or non-JSON body surfaces as a JSON decoding error.
    return isinstance(error, ValueError)


def _access_problem(error):
    """Authentication, authorization, TLS or catalog trouble.

    keystoneauth raises these as its own exceptions, which Watcher would
    reduce to their class name; they become a message that says what.
    """
    if isinstance(error, ks_exceptions.ClientException):
        return True
    return (isinstance(error, nova_exceptions.ClientException)
            and _http_code(error) in (401, 403))


_NOT_SETTLED = object()


def _served_version(response):
    """The microversion Nova says it served; null if it does not say."""
    kind, _, version = response.headers.get(
        'OpenStack-API-Version', '').partition(' ')
    try:
        if kind.lower() == _SERVICE_TYPE:
            return api_versions.APIVersion(version.strip())
    except nova_exceptions.UnsupportedVersion:
        pass
    return api_versions.APIVersion()


def _next_page(links, resource):
    """The path of the next page of a paginated listing, if any."""
    for link in links or ():
        if link.get('rel') == 'next':
            parts = urllib.parse.urlsplit(link['href'])
            path = parts.path
            # The compute endpoint's own path prefix is added by the client.
            index = path.find(resource)
            return path[index:] + ('?' + parts.query if parts.query else '')
    return None


class StopAfterBudget(tenacity.stop.stop_base):
    """Stop retrying once the budget is spent, but not after one try.

    A single request can outlast the budget (a request timeout as long as
    ``api_retry_timeout``, both 60 s by default): it gets one more try, or
    one hung request would fail the action without any retry. A budget of
    0 means no retry at all.
    """

    def __init__(self, budget):
        self.budget = budget

    def __call__(self, retry_state):
        if self.budget <= 0:
            return True
        return (retry_state.attempt_number >= 2
                and (retry_state.seconds_since_start or 0.0) >= self.budget)


class WaitWithinBudget(tenacity.wait.wait_base):
    """Exponential backoff with jitter that never sleeps past the budget.

    Without the cap, a sleep drawn just before the budget ends (up to 5 s)
    would put the next try well past ``api_retry_timeout``: an action told
    to give up after 2 s could try again, and move the server, after 6.
    The last try is made when the budget ends (or at once after a first
    try that outlasted it: see ``StopAfterBudget``).
    """

    def __init__(self, budget, multiplier=tuning.RETRY_MULTIPLIER,
                 longest=tuning.RETRY_LONGEST):
        self.budget = budget
        self._backoff = tenacity.wait_random_exponential(
            multiplier=multiplier, max=longest)

    def __call__(self, retry_state):
        left = self.budget - (retry_state.seconds_since_start or 0.0)
        return max(0.0, min(self._backoff(retry_state), left))


class NovaGateway(object):
    """The Nova API as the action uses it.

    :param session: a keystoneauth1 session
    :param settings: ``options.Settings`` (interface, region, retry budget)
    :param client: an already built novaclient (tests); negotiated if None
    :param context: the ``context.ProcessContext`` whose microversions and
        shared reads it uses, and which the action's tracker follows
        through it; the process's own if None
    """

    def __init__(self, session, settings, client=None, context=None):
        self._session = session
        self._settings = settings
        self._client = client
        self.context = (process_context.default() if context is None
                        else context)
        self._lock = threading.Lock()
        self.endpoint = settings.endpoint_override

    # -- client and microversion ------------------------------------------

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._negotiate()
            return self._client

    @property
    def api_version(self):
        return self.client.api_version

    def _new_client(self, version):
        client = nova_client.Client(
            version, session=self._session,
            endpoint_type=self._settings.interface,
            region_name=self._settings.region_name,
            service_type=_SERVICE_TYPE,
            endpoint_override=self._settings.endpoint_override,
            timeout=self._settings.timeout)
        _reject_unreadable_bodies(client.client)
        return client

    def _find_endpoint(self):
        self.endpoint = self._settings.endpoint_override or self._read(
            'find the compute endpoint', self._session.get_endpoint,
            service_type=_SERVICE_TYPE, interface=self._settings.interface,
            region_name=self._settings.region_name)
        return self.endpoint

    def _negotiate(self):
        endpoint = self._find_endpoint()
        with self.context.versions.discovery_lock(endpoint):
            version = self.context.versions.get(endpoint)
            if version is None:
                version = self._read(
                    'discover the compute API version',
                    api_versions.discover_version, self._new_client('2.1'),
                    api_versions.APIVersion('2.latest'))
                self.context.versions.put(endpoint, version)
        if version < MIN_MICROVERSION:
            raise exceptions.NovaTooOld(
                'The compute API offers microversion %s at most; '
                'nova_migrate needs %s or newer (Nova from Queens on)'
                % (version.get_string(), MIN_MICROVERSION.get_string()))
        LOG.debug('Using compute API microversion %s', version.get_string())
        return self._new_client(version)

    def _read_server_negotiating(self, what, server_id):
        """The process's first read, at novaclient's highest microversion.

        Negotiation picks the highest microversion both sides support.
        When Nova serves novaclient's highest, that is the one, and this
        read has settled it without the version request: a process (an
        applier start, one migration) saves a request. A Nova older than
        novaclient refuses it (406); an answer that does not say it was
        served at that version is not trusted. Either way the version is
        then discovered as usual and the server read again.

        :returns: the server, None if Nova does not know it, or
            ``_NOT_SETTLED``
        """
        preferred = PREFERRED_MICROVERSION
        if preferred < MIN_MICROVERSION:
            return _NOT_SETTLED
        endpoint = self._find_endpoint()
        with self.context.versions.discovery_lock(endpoint):
            if self.context.versions.get(endpoint) is not None:
                return _NOT_SETTLED
            client = self._new_client(preferred)
            try:
                response, body = self._read(
                    what, client.client.get, '/servers/%s' % server_id)
            except nova_exceptions.NotAcceptable:
                LOG.debug('Nova refused microversion %s: discovering',
                          preferred.get_string())
                return _NOT_SETTLED
            except nova_exceptions.NotFound:
                # Gone: nothing more to read, the version can wait.
                return None
            if _served_version(response) != preferred:
                return _NOT_SETTLED
            self.context.versions.put(endpoint, preferred)
            LOG.debug('Using compute API microversion %s',
                      preferred.get_string())
            self._client = client
            return ServerView.from_dict(body['server'])

    def supports(self, version):
        return self.api_version >= version

    # -- retry machinery --------------------------------------------------

    def _retrying(self, retry):
        budget = self._settings.api_retry_timeout
        return tenacity.Retrying(
            retry=retry,
            stop=StopAfterBudget(budget),
            wait=WaitWithinBudget(budget),
            before_sleep=self._log_retry,
            reraise=True)

    @staticmethod
    def _log_retry(state):
        LOG.warning('Nova API call %s failed (%s); retrying in %.1f s',
                    state.fn.__name__ if state.fn else '?',
                    state.outcome.exception(), state.next_action.sleep)

    @staticmethod
    def _tries(retrying):
        # A hung try can outlast the budget: say what was really spent.
        stats = retrying.statistics
        tries = stats.get('attempt_number', 1)
        return '%d %s in %.0f s' % (
            tries, 'try' if tries == 1 else 'tries',
            time.monotonic() - stats.get('start_time', time.monotonic()))

    def _read(self, what, fn, *args, **kwargs):
        retrying = self._retrying(tenacity.retry_if_exception(is_transient))
        try:
            return retrying(fn, *args, **kwargs)
        except exceptions.MigrateError:
            raise
        except Exception as e:
            if is_transient(e):
                raise exceptions.NovaUnavailable(
                    'Could not %s: the compute API kept failing for %s s '
                    '(%s): %s' % (what, self._settings.api_retry_timeout,
                                  self._tries(retrying), e))
            if _access_problem(e):
                raise exceptions.NovaUnavailable(
                    'Could not %s: %s: %s' % (what, type(e).__name__, e))
            raise

    def _write(self, what, fn, *args, **kwargs):
        """Send a write; retry only what certainly never reached Nova.

        :raises NovaConflict: HTTP 409, Nova is busy with the server
        :raises NovaRefused: any other 4xx answer
        :raises WriteOutcomeUnknown: the request may have reached Nova
        """
        retrying = self._retrying(
            tenacity.retry_if_exception(_certainly_not_sent))
        try:
            return retrying(fn, *args, **kwargs)
        except nova_exceptions.ClientException as e:
            code = _http_code(e)
            if code == 409:
                raise NovaConflict(what, e)
            if code is not None and code < 500:
                raise NovaRefused(what, e)
            raise WriteOutcomeUnknown(what, e)
        except Exception as e:
            if _certainly_not_sent(e):
                raise exceptions.NovaUnavailable(
                    'Could not %s: the compute API was unreachable for %s s '
                    '(%s): %s' % (what, self._settings.api_retry_timeout,
                                  self._tries(retrying), e))
            if is_transient(e):
                raise WriteOutcomeUnknown(what, e)
            raise

    def _write_request(self, what, fn, *args, **kwargs):
        """``_write``, answering the id Nova gave the request, or None."""
        ids = getattr(self._write(what, fn, *args, **kwargs),
                      'request_ids', None) or [None]
        return ids[0]

    # -- reads ------------------------------------------------------------

    def get_server(self, server_id):
        """The server, or None if Nova does not know it (any more)."""
        what = 'read server %s' % server_id
        with self._lock:
            if self._client is None:
                server = self._read_server_negotiating(what, server_id)
                if server is not _NOT_SETTLED:
                    return server
        try:
            return ServerView.from_nova(self._read(
                what, self.client.servers.get, server_id))
        except nova_exceptions.NotFound:
            return None

    def get_compute_service(self, host):
        """The nova-compute service of ``host``, or None if there is none.

        Read as Nova shows it now; concurrent actions share one listing
        of all nova-compute services.
        """
        client = self.client    # negotiating finds the endpoint
        services = self.context.service_read(self.endpoint).get(
            lambda: self._read('list the nova-compute services',
                               client.services.list, binary='nova-compute'))
        for service in services:
            if service.host == host:
                return ServiceView(
                    host=service.host, status=service.status,
                    state=service.state,
                    forced_down=bool(getattr(service, 'forced_down', False)),
                    disabled_reason=getattr(service, 'disabled_reason', None))
        return None

    def get_hypervisor_host(self, hypervisor_id):
        """The service host of a compute node (hypervisor), by its UUID.

        Some of Watcher's stock strategies name nodes by the hypervisor
        UUID (microversion 2.53+ ids), where a move needs the host.

        :returns: the host name, or None if Nova knows no such node
        """
        try:
            hypervisor = self._read(
                'read compute node %s' % hypervisor_id,
                self.client.hypervisors.get, hypervisor_id)
        except nova_exceptions.NotFound:
            return None
        service = getattr(hypervisor, 'service', None) or {}
        return service.get('host')

    def list_migrations(self, server_id):
        """Migration records of the server, newest first."""
        records = self._read(
            'list the migrations of server %s' % server_id,
            self.client.migrations.list, instance_uuid=server_id)
        views = [MigrationView.from_nova(m) for m in records]
        return sorted(views, key=lambda m: m.id, reverse=True)

    def get_live_migration(self, server_id, migration_id):
        """A live migration in progress, with its progress figures.

        None once it is no longer in progress (Nova answers 404 then).
        """
        try:
            return MigrationView.from_nova(self._read(
                'read live migration %s of server %s'
                % (migration_id, server_id),
                self.client.server_migrations.get, server_id, migration_id))
        except nova_exceptions.NotFound:
            return None

    def list_live_migrations_in_progress(self, server_id):
        """The server's live migrations in progress, with their figures.

        GET /servers/{id}/migrations answers only for migrations in
        progress, each with its memory and disk progress figures.
        """
        try:
            records = self._read(
                'list the live migrations of server %s' % server_id,
                self.client.server_migrations.list, server_id)
        except nova_exceptions.NotFound:
            # The server is gone: its read says so.
            return []
        views = [MigrationView.from_nova(m) for m in records]
        return sorted(views, key=lambda m: m.id, reverse=True)

    def list_changed_servers(self, since):
        """Servers of all projects changed at or after ``since``.

        One request answers for every server the process follows;
        deleted servers are included (status DELETED).

        :param since: ISO 8601 UTC time, as Nova's changes-since takes it
        :returns: a list of ``ServerView``
        """
        return [ServerView.from_dict(info) for info in self._list_changed(
            'servers', '/servers/detail', {'all_tenants': 1}, since)]

    def list_changed_live_migrations(self, since):
        """Live migration records of all servers changed since ``since``.

        Needs microversion 2.59 (changes-since on /os-migrations).

        :returns: a list of ``MigrationView``
        """
        return [MigrationView.from_dict(info) for info in self._list_changed(
            'migrations', '/os-migrations',
            {'migration_type': 'live-migration'}, since)]

    def _list_changed(self, name, resource, query, since):
        url = '%s?%s' % (resource, urllib.parse.urlencode(
            dict(query, **{'changes-since': since})))
        items = []
        while url:
            _response, body = self._read(
                'list the %s changed since %s' % (name, since),
                self.client.client.get, url)
            items.extend(body.get(name, ()))
            url = _next_page(body.get(name + '_links'), resource)
        return items

    # -- writes -----------------------------------------------------------

    # The moves' writes return the id Nova gave the request (its
    # notifications about the move carry it; None if unknown).

    def live_migrate(self, server_id, host):
        return self._write_request(
            'live-migrate server %s' % server_id,
            self.client.servers.live_migrate, server_id, host, 'auto')

    def cold_migrate(self, server_id, host):
        return self._write_request(
            'cold-migrate server %s' % server_id,
            self.client.servers.migrate, server_id, host=host)

    def confirm_resize(self, server_id):
        return self._write_request(
            'confirm the migration of server %s' % server_id,
            self.client.servers.confirm_resize, server_id)

    def revert_resize(self, server_id):
        return self._write(
            'revert the migration of server %s' % server_id,
            self.client.servers.revert_resize, server_id)

    def abort_live_migration(self, server_id, migration_id):
        return self._write(
            'abort live migration %s of server %s'
            % (migration_id, server_id),
            self.client.server_migrations.live_migration_abort,
            server_id, migration_id)

    def force_complete(self, server_id, migration_id):
        return self._write(
            'force-complete live migration %s of server %s'
            % (migration_id, server_id),
            self.client.server_migrations.live_migrate_force_complete,
            server_id, migration_id)
