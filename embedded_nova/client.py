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

"""Start, drive and stop the embedded Nova from another process.

Standard library only, so it imports where nova is not installed; the
child process runs with ``python`` (a venv that has nova).
keystoneauth1 and python-novaclient are imported only by
:meth:`EmbeddedNova.keystone_session` and :meth:`EmbeddedNova.nova_client`.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from embedded_nova import transport_url

LOG = logging.getLogger(__name__)

# Microversion for the helpers' own raw calls (novaclient's maximum).
HELPER_MICROVERSION = '2.96'
MIN_MICROVERSION = '2.56'


class EmbeddedNovaError(Exception):
    """The embedded Nova failed to start or a helper call failed."""


class HTTPError(EmbeddedNovaError):
    """A helper's HTTP call got an error status."""

    def __init__(self, method, url, status, body):
        super().__init__('%s %s -> %s: %s' % (method, url, status,
                                              body[:500]))
        self.status = status
        self.body = body


class NoAnswer(EmbeddedNovaError):
    """A helper's HTTP call got no answer in time."""

    def __init__(self, method, url, timeout):
        super().__init__('%s %s: no answer within %s s' % (method, url,
                                                           timeout))
        self.method = method
        self.url = url


class EmbeddedNova(object):
    """The real Nova running in a child process on 127.0.0.1.

    Usage::

        with EmbeddedNova(hosts=('host1', 'host2')) as cloud:
            nova = cloud.nova_client()
            uuid = cloud.create_server('host1')
            nova.servers.live_migrate(uuid, 'host2', 'auto')
            cloud.wait_for_server(uuid, 'ACTIVE', host='host2')
    """

    def __init__(self, hosts=('host1', 'host2', 'host3'),
                 python=sys.executable, log_file=None, port=0,
                 start_timeout=120, live_migration_slots=None,
                 notification_url=None):
        """Describe the cloud; :meth:`start` boots it.

        :param live_migration_slots: live migrations Nova runs at once.
            The embedded computes share one process, so Nova's
            process-wide live migration executor serves every host: with
            the default None (Nova's default
            ``max_concurrent_live_migrations = 1``) all live migrations of
            the cloud queue behind one another. A benchmark of concurrent
            migrations gives a number >= 1 here.
        :param notification_url: an oslo.messaging transport URL (a
            RabbitMQ of ``tools/rabbitmq``) Nova publishes its versioned
            notifications to, with ``notify_on_state_change =
            vm_and_task_state``; None (the default): nothing is published.
        """
        # Seconds a helper's compute call waits for Nova's answer.
        self.helper_timeout = 60
        if live_migration_slots is not None and (
                isinstance(live_migration_slots, bool) or
                not isinstance(live_migration_slots, int) or
                live_migration_slots < 1):
            raise ValueError('live_migration_slots must be an integer >= 1')
        self.hosts = list(hosts)
        self.live_migration_slots = live_migration_slots
        self.notification_url = notification_url
        self.python = python
        self.log_file = log_file
        self.port = port
        self.start_timeout = start_timeout
        self.auth_url = None
        self.compute_url = None
        self.control_url = None
        self.username = 'admin'
        self.password = 'secret'
        self.project_name = 'admin'
        self.project_id = None
        self.user_domain_name = 'Default'
        self.project_domain_name = 'Default'
        self.region_name = 'RegionOne'
        self.image_id = None
        self.flavor_id = None
        self.pid = None
        self.startup_seconds = None
        self._process = None
        self._log_handle = None
        self._tmp_dir = None
        self._own_log = False
        self._token = None
        self._token_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        """Spawn the Nova process and wait until it serves requests."""
        if self._process is not None:
            raise EmbeddedNovaError('already started')
        self._tmp_dir = tempfile.mkdtemp(prefix='embedded-nova-client-')
        # Without a log file of the caller's, the log goes with tmp_dir.
        self._own_log = self.log_file is None
        if self._own_log:
            self.log_file = os.path.join(self._tmp_dir, 'nova.log')
        ready_file = os.path.join(self._tmp_dir, 'ready.json')
        # This package is never installed (it is not in the plugin's
        # wheel): the child finds it in the directory that holds it.
        package_root = os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [package_root] + [p for p in
                              env.get('PYTHONPATH', '').split(os.pathsep)
                              if p])
        env.pop('OS_DEBUG', None)
        cmd = self.command(ready_file)
        if self.notification_url:
            LOG.info('Embedded Nova publishes its notifications to %s',
                     transport_url.masked(self.notification_url))
        self._log_handle = open(self.log_file, 'ab')
        started = time.time()
        self._process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log_handle,
            stderr=subprocess.STDOUT, env=env, close_fds=True)
        deadline = started + self.start_timeout
        while True:
            if os.path.exists(ready_file):
                with open(ready_file) as handle:
                    ready = json.loads(handle.read())
                break
            if self._process.poll() is not None:
                self._fail('Nova process exited with %s before it was '
                           'ready' % self._process.returncode)
            if time.time() > deadline:
                self.stop()
                self._fail('Nova not ready after %s s' % self.start_timeout)
            time.sleep(0.1)
        self.startup_seconds = time.time() - started
        self.compute_url = ready['endpoint']
        self.auth_url = ready['auth_url']
        self.control_url = ready['control_url']
        self.pid = ready['pid']
        self._take_info(self._control('GET', '/info'))
        return self

    def command(self, ready_file):
        """The command line :meth:`start` runs Nova with."""
        cmd = [self.python, '-m', 'embedded_nova',
               '--hosts', ','.join(self.hosts), '--port', str(self.port),
               '--ready-file', ready_file, '--parent-pid', str(os.getpid())]
        if self.live_migration_slots is not None:
            cmd += ['--live-migration-slots', str(self.live_migration_slots)]
        if self.notification_url:
            cmd += ['--notification-url', self.notification_url]
        return cmd

    @classmethod
    def attach(cls, base_url, timeout=10):
        """The cloud an earlier ``start`` (or a standalone run) serves.

        :param base_url: ``http://127.0.0.1:PORT``, where the running
            process serves ``/compute``, ``/identity`` and ``/_control``
        :raises EmbeddedNovaError: nothing answers there like it
        """
        cloud = cls()
        base_url = base_url.rstrip('/')
        cloud.control_url = base_url + '/_control'
        try:
            info = cloud._control('GET', '/info', timeout=timeout)
        except (OSError, ValueError, EmbeddedNovaError) as exc:
            raise EmbeddedNovaError('no embedded Nova answers at %s: %s'
                                    % (base_url, exc))
        cloud.hosts = list(info['hosts'])
        cloud.compute_url = info['compute_url']
        cloud.auth_url = info['auth_url']
        cloud.pid = info['pid']
        cloud._take_info(info)
        return cloud

    def _take_info(self, info):
        auth = info['auth']
        self.username = auth['username']
        self.password = auth['password']
        self.project_name = auth['project_name']
        self.project_id = auth['project_id']
        self.user_domain_name = auth['user_domain_name']
        self.project_domain_name = auth['project_domain_name']
        self.region_name = info['region_name']
        self.image_id = info['image_id']
        self.flavor_id = info['flavor_id']

    def shutdown(self):
        """Ask the Nova process to stop (also one this object attached)."""
        self._control('POST', '/shutdown', timeout=5)

    def _fail(self, message):
        raise EmbeddedNovaError('%s; log %s:\n%s'
                                % (message, self.log_file,
                                   self.log_tail()))

    def log_tail(self, lines=40):
        """The last lines of the Nova process log."""
        if not self.log_file or not os.path.exists(self.log_file):
            return ''
        with open(self.log_file, 'rb') as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read().decode('utf-8', 'replace')
        return '\n'.join(data.splitlines()[-lines:])

    def stop(self, timeout=20):
        """Ask the process to shut down, then terminate / kill it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                self._control('POST', '/shutdown', timeout=5)
            except Exception:
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        self._process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
            if self._own_log:
                self.log_file = None

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    # -- raw HTTP ----------------------------------------------------------

    @staticmethod
    def _http(method, url, body=None, headers=None, timeout=60):
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header('Accept', 'application/json')
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, dict(resp.headers), raw
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()
        except TimeoutError as exc:
            raise NoAnswer(method, url, timeout) from exc

    def _control(self, method, path, body=None, timeout=60):
        url = self.control_url + path
        status, _headers, raw = self._http(method, url, body,
                                           timeout=timeout)
        if status >= 400:
            raise HTTPError(method, url, status,
                            raw.decode('utf-8', 'replace'))
        return json.loads(raw) if raw else None

    def _get_token(self, refresh=False):
        with self._token_lock:
            if self._token is None or refresh:
                body = {'auth': {
                    'identity': {'methods': ['password'], 'password': {
                        'user': {'name': self.username,
                                 'password': self.password,
                                 'domain': {'name': self.user_domain_name}}}},
                    'scope': {'project': {
                        'name': self.project_name,
                        'domain': {'name': self.project_domain_name}}}}}
                url = self.auth_url + '/auth/tokens'
                status, headers, raw = self._http('POST', url, body)
                if status != 201:
                    raise HTTPError('POST', url, status,
                                    raw.decode('utf-8', 'replace'))
                self._token = headers.get('X-Subject-Token')
            return self._token

    def compute(self, method, path, body=None, microversion=None):
        """A raw compute API call with this cloud's admin token.

        Returns the decoded JSON body (None when empty); raises
        :class:`HTTPError` on error statuses.
        """
        url = self.compute_url + path
        refresh = unanswered = False
        while True:
            headers = {'X-Auth-Token': self._get_token(refresh=refresh),
                       'OpenStack-API-Version': 'compute %s' % (
                           microversion or HELPER_MICROVERSION)}
            try:
                status, _headers, raw = self._http(
                    method, url, body, headers, timeout=self.helper_timeout)
            except NoAnswer as exc:
                report = self.stuck_report()
                if method != 'GET' or unanswered:
                    exc.args = ('%s\n%s' % (exc, report),)
                    raise
                # A read is safe to ask again; what held it stays on
                # record in the log.
                LOG.warning('%s; asking again.\n%s', exc, report)
                unanswered = True
                continue
            if status != 401 or refresh:
                break
            refresh = True
        if status >= 400:
            raise HTTPError(method, url, status,
                            raw.decode('utf-8', 'replace'))
        return json.loads(raw) if raw else None

    def stuck_report(self, older_than=10.0, limit=12):
        """What Nova is busy with: its unanswered requests, their threads.

        For a helper's call that got no answer: which requests Nova has
        held for more than ``older_than`` seconds, and the stacks of the
        threads serving Nova's API, so a CI log shows what they wait on.
        """
        try:
            requests = self._control('GET', '/requests', timeout=10)
            threads = self._control('GET', '/threads', timeout=10)
        except EmbeddedNovaError as exc:
            return 'Nova does not answer its control routes either: %s' % exc
        now = time.time()
        held = ['  %s %s?%s for %.0f s' % (
            r['method'], r['path'], r['query'], now - r['start'])
            for r in requests['requests']
            if r['end'] is None and now - r['start'] > older_than]
        serving = ['  %s\n%s' % (name, '\n'.join(stack))
                   for name, stack in sorted(threads['threads'].items())
                   if any('/nova/' in line for line in stack)]
        return '\n'.join(
            ['requests held for more than %.0f s: %d' % (older_than,
                                                         len(held))]
            + held[:limit]
            + ['threads in Nova code: %d' % len(serving)]
            + serving[:limit])

    # -- clients -----------------------------------------------------------

    def keystone_session(self):
        """A keystoneauth1 Session authenticated by password."""
        from keystoneauth1.identity import v3
        from keystoneauth1 import session
        auth = v3.Password(auth_url=self.auth_url,
                           username=self.username,
                           password=self.password,
                           project_name=self.project_name,
                           user_domain_name=self.user_domain_name,
                           project_domain_name=self.project_domain_name)
        return session.Session(auth=auth)

    def nova_client(self, microversion=None, session=None):
        """A python-novaclient Client for this cloud.

        With ``microversion=None`` the highest version both sides support
        is negotiated (novaclient.api_versions.discover_version).
        """
        from novaclient import api_versions
        from novaclient import client as nova_client
        session = session or self.keystone_session()
        kwargs = {'session': session, 'region_name': self.region_name}
        if microversion is None:
            probe = nova_client.Client('2.1', **kwargs)
            version = api_versions.discover_version(
                probe, api_versions.APIVersion('2.latest'))
            if version < api_versions.APIVersion(MIN_MICROVERSION):
                raise EmbeddedNovaError('negotiated microversion %s < %s'
                                        % (version.get_string(),
                                           MIN_MICROVERSION))
            microversion = version.get_string()
        return nova_client.Client(str(microversion), **kwargs)

    # -- control API -------------------------------------------------------

    def info(self):
        return self._control('GET', '/info')

    def set_driver(self, instance=None, **behaviour):
        """Set fake-driver behaviour for one server uuid or the default.

        Fields: live_duration, live_fail (None/'rollback'/'raise'),
        live_stall_at (None or the copy's fraction where it stops
        converging), live_dirty_at (None or the copy's fraction from
        where the guest dirties memory as fast as it is copied),
        memory_bytes, disk_bytes,
        live_migration_monitor_interval, cold_duration, cold_fail
        (False/True/'rollback'), confirm_fail; per server only,
        next_durations (the seconds of its next moves, one each, in
        place of live_duration or cold_duration).

        live_migration_monitor_interval is the seconds between two saves
        of a running live migration's figures (the record's memory_* and
        disk_*, the server's progress), as Nova's libvirt driver saves
        them every ``[libvirt] live_migration_monitor_interval`` (5 s by
        default, the first as the copy begins, none at its end). 0 saves
        none: the figures stay null, as with Nova's other drivers.
        Negative values are refused.
        """
        body = dict(behaviour)
        body['instance'] = instance
        return self._control('PUT', '/driver', body)

    def set_cell_down(self, down):
        """Make the cell miss (or answer) Nova's cross-cell lists.

        While down, server and migration lists silently leave its records
        out, as Nova does for a cell that does not answer in time; reads
        of one server still answer. Returns the state set.
        """
        return self._control('PUT', '/cell-down', bool(down))['cell_down']

    def set_response_validation(self, value):
        """Nova's [api] response_validation: 'error', 'warn' or 'ignore'.

        The embedded Nova starts with 'ignore'; returns the value set.
        """
        return self._control('PUT', '/response-validation',
                             value)['response_validation']

    def driver_settings(self):
        """The fake driver's settings: 'default' and per 'instances'."""
        return self._control('GET', '/driver')

    def reset_driver(self):
        self._control('DELETE', '/driver')

    def requests(self, since_index=0):
        """Compute API requests served, in arrival order."""
        query = '?since=%d' % since_index if since_index else ''
        return self._control('GET', '/requests' + query)['requests']

    def reset_requests(self):
        self._control('DELETE', '/requests')

    def write_requests(self, since_index=0):
        """Only the non-GET (state-changing) compute requests."""
        return [r for r in self.requests(since_index)
                if r['method'] not in ('GET', 'HEAD')]

    def events(self, instance=None):
        """Fake-driver events (event, instance, time, ...)."""
        query = ('?instance=%s' % urllib.parse.quote(instance)
                 if instance else '')
        return self._control('GET', '/events' + query)['events']

    def reset_events(self):
        self._control('DELETE', '/events')

    def revoke_tokens(self):
        """Invalidate every issued token (clients must re-authenticate)."""
        return self._control('POST', '/tokens/revoke')['revoked']

    # -- nova helpers (real API) -------------------------------------------

    def create_server(self, host, name=None, wait=True, stopped=False,
                      paused=False, timeout=60, interval=0.25):
        """Boot an m1.tiny server on ``host``; returns its uuid."""
        name = name or 'server-%s-%d' % (host, int(time.time() * 1000))
        body = {'server': {'name': name, 'imageRef': self.image_id,
                           'flavorRef': self.flavor_id, 'networks': 'none',
                           'host': host}}
        server = self.compute('POST', '/servers', body,
                              microversion='2.74')['server']
        uuid = server['id']
        if wait or stopped or paused:
            self.wait_for_server(uuid, 'ACTIVE', host=host, timeout=timeout,
                                 interval=interval)
        if stopped:
            self.compute('POST', '/servers/%s/action' % uuid,
                         {'os-stop': None})
            self.wait_for_server(uuid, 'SHUTOFF', timeout=timeout,
                                 interval=interval)
        elif paused:
            self.compute('POST', '/servers/%s/action' % uuid,
                         {'pause': None})
            self.wait_for_server(uuid, 'PAUSED', timeout=timeout,
                                 interval=interval)
        return uuid

    def server(self, uuid):
        return self.compute('GET', '/servers/%s' % uuid)['server']

    def servers(self):
        """Every server of every project, with its details, by name."""
        servers = self.compute('GET', '/servers/detail?all_tenants=1')
        return sorted(servers['servers'], key=lambda s: (s['name'], s['id']))

    def find_server(self, name_or_id):
        """The uuid of the server with this uuid or (unique) name."""
        matches = [s for s in self.servers()
                   if name_or_id in (s['id'], s['name'])]
        if not matches:
            raise EmbeddedNovaError('no server named or with id %r'
                                    % name_or_id)
        if len(matches) > 1:
            raise EmbeddedNovaError(
                '%d servers are named %r (%s): give the id'
                % (len(matches), name_or_id,
                   ', '.join(s['id'] for s in matches)))
        return matches[0]['id']

    def wait_for_server(self, uuid, status, host=None, timeout=60,
                        interval=0.25):
        """Poll until the server has ``status`` (and ``host``), no task.

        Each poll costs the single Nova process tens of milliseconds of
        CPU: with many servers in flight, poll less often.
        """
        deadline = time.time() + timeout
        server = None
        while time.time() < deadline:
            server = self.server(uuid)
            if (server['status'] == status and
                    server.get('OS-EXT-STS:task_state') is None and
                    (host is None or
                     server.get('OS-EXT-SRV-ATTR:host') == host)):
                return server
            if server['status'] == 'ERROR' and status != 'ERROR':
                raise EmbeddedNovaError('server %s went ERROR: %s'
                                        % (uuid, server.get('fault')))
            time.sleep(interval)
        raise EmbeddedNovaError(
            'server %s not %s%s after %s s; last: status=%s host=%s '
            'task_state=%s' % (
                uuid, status, ' on %s' % host if host else '', timeout,
                server and server['status'],
                server and server.get('OS-EXT-SRV-ATTR:host'),
                server and server.get('OS-EXT-STS:task_state')))

    def _compute_service(self, host):
        services = self.compute(
            'GET', '/os-services?binary=nova-compute&host=%s'
            % urllib.parse.quote(host), microversion='2.53')['services']
        if not services:
            raise EmbeddedNovaError('no nova-compute service on %s' % host)
        return services[0]

    def _update_service(self, host, body):
        service = self._compute_service(host)
        return self.compute('PUT', '/os-services/%s' % service['id'], body,
                            microversion='2.53')['service']

    def disable_service(self, host, reason='disabled by test'):
        return self._update_service(host, {'status': 'disabled',
                                           'disabled_reason': reason})

    def enable_service(self, host):
        return self._update_service(host, {'status': 'enabled'})

    def force_down(self, host, down=True):
        return self._update_service(host, {'forced_down': bool(down)})

    def hypervisor_uuid(self, host):
        """The compute node (hypervisor) UUID of ``host``'s service."""
        hypervisors = self.compute('GET', '/os-hypervisors/detail',
                                   microversion='2.53')['hypervisors']
        for hypervisor in hypervisors:
            if hypervisor['service']['host'] == host:
                return hypervisor['id']
        raise LookupError('no compute node on host %s' % host)

    def migrations(self, server_uuid):
        """All migrations of a server (os-migrations), newest first."""
        migrations = self.compute(
            'GET', '/os-migrations?instance_uuid=%s' % server_uuid,
            microversion='2.80')['migrations']
        return sorted(migrations, key=lambda m: (m['created_at'], m['id']),
                      reverse=True)
