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

"""Run the real Nova in this process and serve it on 127.0.0.1.

Routes on one HTTP port:

``/compute/``   the real compute API (version documents unauthenticated,
                everything else needs a token issued by ``/identity``);
``/identity/``  a minimal Keystone v3 (password and token methods);
``/placement/`` the real Placement API of the same Nova (token needed,
                except for its version document);
``/_control/``  test control: driver behaviour, request log, events,
                token revocation, thread stacks, Nova's response
                validation, a down cell, shutdown. Not counted as API
                requests.

Usage::

    python -m embedded_nova --hosts h1,h2,h3 \
        [--port 0] [--ready-file PATH] [--log-file PATH] [--json] \
        [--notification-url rabbit://USER:PASSWORD@127.0.0.1:5672/]

Once the cloud serves requests, what an operator needs is printed on
stdout (the ``OS_*`` exports, a clouds.yaml entry, the commands of
commands.py, how to stop it); a JSON line (endpoint, auth_url,
control_url, hosts, pid) is written to the ready file, and printed
instead with ``--json``. The process runs until SIGTERM, SIGINT or
``POST /_control/shutdown``.

Nova is imported only inside :func:`main`, after native threading has
been chosen, so this module itself imports without nova.
"""

import argparse
import datetime
import io
import json
import logging
import os
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
from wsgiref import simple_server

from embedded_nova import commands

LOG = logging.getLogger(__name__)

USERNAME = 'admin'
PASSWORD = 'secret'
PROJECT_NAME = 'admin'
DOMAIN_NAME = 'Default'
DOMAIN_ID = 'default'
REGION = 'RegionOne'
# The project id nova's functional fixtures use for their admin client.
PROJECT_ID = '6f70656e737461636b20342065766572'
# Nova's stubbed auth treats the user id 'admin' as an admin.
USER_ID = 'admin'
ROLES = ('admin', 'member', 'reader')
TOKEN_LIFETIME = datetime.timedelta(hours=12)

# Compute paths that real Nova serves without authentication.
_VERSION_PATHS = ('', '/', '/v2', '/v2/', '/v2.1', '/v2.1/')
# Identity headers a client must never be able to inject.
_AUTH_ENVIRON_KEYS = ('HTTP_X_AUTH_USER', 'HTTP_X_AUTH_PROJECT_ID',
                      'HTTP_X_ROLES', 'HTTP_X_USER_ID', 'HTTP_X_PROJECT_ID',
                      'HTTP_X_IDENTITY_STATUS', 'HTTP_X_SERVICE_CATALOG')

_REASONS = {200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
            300: 'Multiple Choices', 400: 'Bad Request',
            401: 'Unauthorized', 404: 'Not Found',
            405: 'Method Not Allowed', 500: 'Internal Server Error'}


def _isotime(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _json_response(start_response, status, body, headers=()):
    data = b'' if body is None else json.dumps(body).encode('utf-8')
    all_headers = [('Content-Type', 'application/json'),
                   ('Content-Length', str(len(data)))]
    all_headers.extend(headers)
    start_response('%d %s' % (status, _REASONS.get(status, 'Unknown')),
                   all_headers)
    return [data]


def _read_json(environ):
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        length = 0
    raw = environ['wsgi.input'].read(length) if length > 0 else b''
    if not raw:
        return {}
    return json.loads(raw.decode('utf-8'))


def _call_recorded(app, environ, start_response, entry):
    """Call the WSGI ``app``, noting its status and end time in ``entry``."""
    def recording_start_response(status, headers, exc_info=None):
        entry['status'] = int(status.split(' ', 1)[0])
        return start_response(status, headers, exc_info)

    try:
        app_iter = app(environ, recording_start_response)
        try:
            body = b''.join(app_iter)
        finally:
            if hasattr(app_iter, 'close'):
                app_iter.close()
    finally:
        entry['end'] = time.time()
    return [body]


class _HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Gateway(object):
    """WSGI app routing /compute, /identity and /_control."""

    def __init__(self, compute_app, base_url, hosts, cloud, stop_event):
        self.compute_app = compute_app
        self.base_url = base_url
        self.hosts = list(hosts)
        self.cloud = cloud
        self.stop_event = stop_event
        self.compute_url = base_url + '/compute/v2.1'
        self.placement_url = base_url + '/placement'
        self.auth_url = base_url + '/identity/v3'
        self.control_url = base_url + '/_control'
        self._lock = threading.Lock()
        self._tokens = {}
        self._requests = []

    # -- routing -----------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '') or '/'
        try:
            if path == '/compute' or path.startswith('/compute/'):
                return self._compute(environ, start_response)
            if path == '/placement' or path.startswith('/placement/'):
                return self._placement(environ, start_response)
            if path == '/identity' or path.startswith('/identity/'):
                return self._identity(environ, start_response,
                                      path[len('/identity'):])
            if path == '/_control' or path.startswith('/_control/'):
                return self._control(environ, start_response,
                                     path[len('/_control'):])
            raise _HTTPError(404, 'no route for %s' % path)
        except _HTTPError as exc:
            return _json_response(start_response, exc.status, {
                'error': {'code': exc.status, 'message': exc.message,
                          'title': _REASONS.get(exc.status, 'Error')}})
        except Exception as exc:
            LOG.exception('Gateway error on %s', path)
            return _json_response(start_response, 500, {
                'error': {'code': 500, 'message': str(exc),
                          'title': 'Internal Server Error'}})

    # -- compute -----------------------------------------------------------

    def _token_valid(self, token):
        with self._lock:
            return bool(token) and token in self._tokens

    def _compute(self, environ, start_response):
        rest = environ['PATH_INFO'][len('/compute'):]
        method = environ.get('REQUEST_METHOD', 'GET')
        entry = {'method': method,
                 'path': environ['PATH_INFO'],
                 'query': environ.get('QUERY_STRING', ''),
                 'microversion': (
                     environ.get('HTTP_OPENSTACK_API_VERSION') or
                     environ.get('HTTP_X_OPENSTACK_NOVA_API_VERSION')),
                 'user_agent': environ.get('HTTP_USER_AGENT'),
                 'action': None,
                 'status': None,
                 'start': time.time(),
                 'end': None}
        with self._lock:
            entry['index'] = len(self._requests)
            self._requests.append(entry)

        if method == 'POST' and rest.endswith('/action'):
            # Keep the body for nova; note which action was asked for.
            try:
                length = int(environ.get('CONTENT_LENGTH') or 0)
            except ValueError:
                length = 0
            raw = environ['wsgi.input'].read(length) if length > 0 else b''
            environ['wsgi.input'] = io.BytesIO(raw)
            try:
                body = json.loads(raw.decode('utf-8'))
                if isinstance(body, dict) and body:
                    entry['action'] = sorted(body)[0]
            except ValueError:
                pass

        for key in _AUTH_ENVIRON_KEYS:
            environ.pop(key, None)
        if rest not in _VERSION_PATHS:
            if not self._token_valid(environ.get('HTTP_X_AUTH_TOKEN')):
                result = _json_response(
                    start_response, 401,
                    {'error': {'code': 401, 'title': 'Unauthorized',
                               'message': 'The request you have made '
                                          'requires authentication.'}},
                    [('WWW-Authenticate',
                      'Keystone uri="%s/identity"' % self.base_url)])
                entry['status'] = 401
                entry['end'] = time.time()
                return result
            environ['HTTP_X_AUTH_USER'] = USER_ID
            environ['HTTP_X_AUTH_PROJECT_ID'] = PROJECT_ID
            environ['HTTP_X_ROLES'] = ','.join(ROLES)

        environ['SCRIPT_NAME'] = environ.get('SCRIPT_NAME', '') + '/compute'
        environ['PATH_INFO'] = rest

        return _call_recorded(self.compute_app, environ, start_response,
                              entry)

    # -- placement ---------------------------------------------------------

    def _placement(self, environ, start_response):
        """Serve Nova's own Placement, as a cloud's catalog would.

        Watcher's decision engine reads resource provider inventories over
        HTTP (found through the catalog's ``placement`` entry). Requests
        are recorded in the request log with their /placement path.
        """
        rest = environ['PATH_INFO'][len('/placement'):]
        entry = {'method': environ.get('REQUEST_METHOD', 'GET'),
                 'path': environ['PATH_INFO'],
                 'query': environ.get('QUERY_STRING', ''),
                 'microversion': environ.get('HTTP_OPENSTACK_API_VERSION'),
                 'user_agent': environ.get('HTTP_USER_AGENT'),
                 'action': None, 'status': None,
                 'start': time.time(), 'end': None}
        with self._lock:
            entry['index'] = len(self._requests)
            self._requests.append(entry)
        for key in _AUTH_ENVIRON_KEYS:
            environ.pop(key, None)
        token = environ.pop('HTTP_X_AUTH_TOKEN', None)
        if rest not in ('', '/'):
            if not self._token_valid(token):
                entry['status'] = 401
                entry['end'] = time.time()
                raise _HTTPError(401, 'The request you have made requires '
                                      'authentication.')
            # Placement's test pipeline (noauth2) makes the token 'admin'
            # the admin user of project 'admin'.
            environ['HTTP_X_AUTH_TOKEN'] = 'admin'
        environ['SCRIPT_NAME'] = environ.get('SCRIPT_NAME', '') + '/placement'
        environ['PATH_INFO'] = rest or '/'

        return _call_recorded(self.cloud.placement_app(), environ,
                              start_response, entry)

    # -- identity ----------------------------------------------------------

    def _version_v3(self):
        return {'id': 'v3.14', 'status': 'stable',
                'updated': '2020-04-07T00:00:00Z',
                'links': [{'rel': 'self', 'href': self.auth_url + '/'}],
                'media-types': [{
                    'base': 'application/json',
                    'type': 'application/vnd.openstack.identity-v3+json'}]}

    def _catalog(self):
        def endpoints(url):
            return [{'id': uuid.uuid4().hex, 'interface': interface,
                     'region': REGION, 'region_id': REGION, 'url': url}
                    for interface in ('public', 'internal', 'admin')]
        return [
            {'id': 'compute', 'type': 'compute', 'name': 'nova',
             'endpoints': endpoints(self.compute_url)},
            {'id': 'identity', 'type': 'identity', 'name': 'keystone',
             'endpoints': endpoints(self.base_url + '/identity')},
            {'id': 'placement', 'type': 'placement', 'name': 'placement',
             'endpoints': endpoints(self.placement_url)},
        ]

    def _token_body(self, methods, issued, expires):
        domain = {'id': DOMAIN_ID, 'name': DOMAIN_NAME}
        return {'token': {
            'methods': methods,
            'user': {'id': USER_ID, 'name': USERNAME, 'domain': domain,
                     'password_expires_at': None},
            'project': {'id': PROJECT_ID, 'name': PROJECT_NAME,
                        'domain': domain},
            'roles': [{'id': role, 'name': role} for role in ROLES],
            'catalog': self._catalog(),
            'is_domain': False,
            'audit_ids': [uuid.uuid4().hex[:22]],
            'issued_at': _isotime(issued),
            'expires_at': _isotime(expires),
        }}

    def _issue_token(self, environ, start_response):
        body = _read_json(environ)
        identity = body.get('auth', {}).get('identity', {})
        methods = identity.get('methods') or []
        if 'password' in methods:
            user = identity.get('password', {}).get('user', {})
            if not (user.get('name') or user.get('id')):
                raise _HTTPError(400, 'user name or id required')
            # Any user and password is accepted: everyone is the admin.
        elif 'token' in methods:
            if not self._token_valid(identity.get('token', {}).get('id')):
                raise _HTTPError(401, 'The request you have made requires '
                                      'authentication.')
        else:
            raise _HTTPError(401, 'unsupported auth methods %s' % methods)
        issued = datetime.datetime.utcnow()
        expires = issued + TOKEN_LIFETIME
        token = 'gAAAA' + uuid.uuid4().hex + uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = {'issued_at': time.time(),
                                   'methods': methods,
                                   'expires': expires}
        return _json_response(start_response, 201,
                              self._token_body(methods, issued, expires),
                              [('X-Subject-Token', token)])

    def _validate_token(self, environ, start_response, head=False):
        if not self._token_valid(environ.get('HTTP_X_AUTH_TOKEN')):
            raise _HTTPError(401, 'The request you have made requires '
                                  'authentication.')
        subject = environ.get('HTTP_X_SUBJECT_TOKEN')
        with self._lock:
            info = self._tokens.get(subject)
        if info is None:
            raise _HTTPError(404, 'Could not find token: %s' % subject)
        if head:
            start_response('200 OK', [('Content-Length', '0')])
            return [b'']
        expires = info['expires']
        return _json_response(
            start_response, 200,
            self._token_body(info['methods'], expires - TOKEN_LIFETIME,
                             expires),
            [('X-Subject-Token', subject)])

    def _identity(self, environ, start_response, rest):
        method = environ.get('REQUEST_METHOD', 'GET')
        rest = rest.rstrip('/')
        if rest == '' and method == 'GET':
            return _json_response(start_response, 300, {
                'versions': {'values': [self._version_v3()]}})
        if rest == '/v3' and method == 'GET':
            return _json_response(start_response, 200,
                                  {'version': self._version_v3()})
        if rest == '/v3/auth/tokens':
            if method == 'POST':
                return self._issue_token(environ, start_response)
            if method in ('GET', 'HEAD'):
                return self._validate_token(environ, start_response,
                                            head=method == 'HEAD')
            raise _HTTPError(405, 'method not allowed')
        raise _HTTPError(404, 'no identity route %s %s' % (method, rest))

    # -- control -----------------------------------------------------------

    def info(self):
        return {
            'endpoint': self.compute_url,
            'compute_url': self.compute_url,
            'placement_url': self.placement_url,
            'auth_url': self.auth_url,
            'control_url': self.control_url,
            'hosts': list(self.hosts),
            'pid': os.getpid(),
            'region_name': REGION,
            'auth': {'username': USERNAME, 'password': PASSWORD,
                     'project_name': PROJECT_NAME,
                     'project_id': PROJECT_ID,
                     'user_domain_name': DOMAIN_NAME,
                     'project_domain_name': DOMAIN_NAME},
            'image_id': self.cloud.image_id if self.cloud else None,
            'flavor_id': _flavor_id(),
        }

    def revoke_tokens(self):
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
        return count

    def _control(self, environ, start_response, rest):
        from embedded_nova import fake_driver
        registry = fake_driver.REGISTRY
        method = environ.get('REQUEST_METHOD', 'GET')
        rest = rest.rstrip('/')
        query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
        if rest == '/info' and method == 'GET':
            return _json_response(start_response, 200, self.info())
        if rest == '/driver':
            if method == 'GET':
                return _json_response(start_response, 200,
                                      registry.settings())
            if method == 'PUT':
                body = _read_json(environ)
                if not isinstance(body, dict):
                    raise _HTTPError(400, 'body must be a JSON object')
                instance = body.pop('instance', None)
                try:
                    registry.configure(instance, **body)
                except ValueError as exc:
                    raise _HTTPError(400, str(exc))
                return _json_response(start_response, 200,
                                      registry.settings())
            if method == 'DELETE':
                registry.reset()
                return _json_response(start_response, 204, None)
        if rest == '/requests':
            if method == 'GET':
                since = int(query.get('since', ['0'])[0])
                with self._lock:
                    items = [dict(r) for r in self._requests[since:]]
                return _json_response(start_response, 200,
                                      {'requests': items})
            if method == 'DELETE':
                with self._lock:
                    self._requests = []
                return _json_response(start_response, 204, None)
        if rest == '/events':
            if method == 'GET':
                instance = query.get('instance', [None])[0]
                return _json_response(start_response, 200,
                                      {'events': registry.events(instance)})
            if method == 'DELETE':
                registry.reset_events()
                if self.cloud is not None:
                    self.cloud.reset_notifications()
                return _json_response(start_response, 204, None)
        if rest == '/response-validation':
            # Nova's own check of its answers (nova_cloud turns it off):
            # 'error' answers 400 where Nova's schema refuses its output.
            from oslo_config import cfg
            conf = cfg.CONF
            if method == 'PUT':
                value = _read_json(environ)
                if value not in ('error', 'warn', 'ignore'):
                    raise _HTTPError(400, 'error, warn or ignore')
                conf.set_override('response_validation', value,
                                  group='api')
            if method in ('GET', 'PUT'):
                return _json_response(
                    start_response, 200,
                    {'response_validation': conf.api.response_validation})
        if rest == '/cell-down':
            if method == 'PUT':
                value = _read_json(environ)
                if not isinstance(value, bool):
                    raise _HTTPError(400, 'true or false')
                _CELL_DOWN.set(value)
            if method in ('GET', 'PUT'):
                return _json_response(start_response, 200,
                                      {'cell_down': _CELL_DOWN.down})
        if rest == '/threads' and method == 'GET':
            return _json_response(start_response, 200,
                                  {'threads': _thread_stacks()})
        if rest == '/tokens/revoke' and method == 'POST':
            return _json_response(start_response, 200,
                                  {'revoked': self.revoke_tokens()})
        if rest == '/shutdown' and method == 'POST':
            self.stop_event.set()
            return _json_response(start_response, 202, {'stopping': True})
        raise _HTTPError(404, 'no control route %s %s' % (method, rest))


class _CellDown(object):
    """Nova's cell not answering its lists, as a cell database too slow.

    While down, every cross-cell list (servers, migrations) meets the cell
    as Nova meets one that timed out: with ``[api]
    list_records_by_skipping_down_cells`` (the default) the list silently
    leaves out the cell's records. A read of one server does not list, so
    it still answers. The embedded Nova's sqlite sometimes does this by
    itself ("database is locked"); this makes it happen on demand.
    """

    def __init__(self):
        self.down = False
        self._installed = False

    def set(self, down):
        if not self._installed:
            self._install()
        self.down = down

    def _install(self):
        from nova.compute import multi_cell_list
        from nova import context as nova_context
        lister = multi_cell_list.CrossCellLister
        answer = lister.query_wrapper
        flag = self

        def query_wrapper(self, ctx, fn, *args, **kwargs):
            if flag.down:
                return iter([multi_cell_list.RecordWrapper(
                    ctx, None, nova_context.did_not_respond_sentinel)])
            return answer(self, ctx, fn, *args, **kwargs)

        lister.query_wrapper = query_wrapper
        self._installed = True


_CELL_DOWN = _CellDown()


def _thread_stacks(frames=8):
    """The last ``frames`` frames of every thread, by thread name.

    What a stuck request waits on, for a client that gave up on it.
    """
    names = dict((t.ident, t.name) for t in threading.enumerate())
    return dict(
        ('%s (%s)' % (names.get(ident, '?'), ident),
         [line.rstrip() for line in
          traceback.format_stack(frame)[-frames:]])
        for ident, frame in sys._current_frames().items())


def _flavor_id():
    try:
        from embedded_nova import nova_cloud
    except ImportError:
        return None
    return nova_cloud.FLAVOR_ID


class _ThreadingWSGIServer(socketserver.ThreadingMixIn,
                           simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many connections at once.
    request_queue_size = 256


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        # Nova's request_log middleware already logs compute requests.
        pass


def _default_paste_config():
    candidates = [os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini'),
                  '/usr/local/etc/nova/api-paste.ini',
                  '/etc/nova/api-paste.ini']
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    raise SystemExit('api-paste.ini not found (tried %s); use '
                     '--api-paste-config' % ', '.join(candidates))


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m embedded_nova',
        description='Run the real Nova (fake virt driver) on 127.0.0.1.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Once it runs, from another shell: %s COMMAND --help, with '
        'COMMAND one of %s.' % (commands.PROG, ', '.join(commands.COMMANDS)))
    parser.add_argument('--hosts', default='host1,host2,host3',
                        help='comma-separated compute host names')
    parser.add_argument('--port', type=int, default=0,
                        help='TCP port on 127.0.0.1 (0: pick a free one)')
    parser.add_argument('--ready-file',
                        help='write the ready JSON to this file')
    parser.add_argument('--api-paste-config',
                        help="path of nova's api-paste.ini")
    parser.add_argument('--parent-pid', type=int,
                        help='exit when this process is gone')
    parser.add_argument('--live-migration-slots', type=int,
                        help='live migrations run at once, by all hosts '
                             'together (nova max_concurrent_live_migrations;'
                             ' default: nova\'s, 1)')
    parser.add_argument('--notification-url', metavar='URL',
                        help="publish Nova's versioned notifications "
                        '(with notify_on_state_change vm_and_task_state) '
                        'to this oslo.messaging transport URL, e.g. the '
                        'broker of tools/rabbitmq (default: none are sent)')
    parser.add_argument('--log-file',
                        help="write Nova's log to this file instead of "
                        'stderr (default on a terminal: a file in /tmp, '
                        'named at start-up)')
    parser.add_argument('--json', action='store_true',
                        help='print the ready JSON line instead of the '
                        "operator's instructions")
    parser.add_argument('--log-level', default='INFO',
                        choices=('DEBUG', 'INFO', 'WARNING', 'ERROR'))
    args = parser.parse_args(argv)
    args.hosts = [h.strip() for h in args.hosts.split(',') if h.strip()]
    if not args.hosts:
        parser.error('at least one host is required')
    if args.live_migration_slots is not None and args.live_migration_slots < 1:
        # nova's 0 ("unlimited", deprecated) means 5 in threading mode.
        parser.error('--live-migration-slots must be >= 1')
    return args


def _log_to_file(path):
    """Send this process's stderr (Nova's log, tracebacks) to ``path``."""
    handle = open(path, 'a')
    os.dup2(handle.fileno(), sys.stderr.fileno())
    handle.close()


def _write_ready(path, ready):
    tmp_path = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp_path, 'w') as handle:
        handle.write(json.dumps(ready) + '\n')
    # Atomic so a poller never reads half a file.
    os.replace(tmp_path, path)


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    paste_config = args.api_paste_config or _default_paste_config()
    log_file = args.log_file
    if log_file is None and sys.stdout.isatty() and sys.stderr.isatty():
        # Nova's INFO lines would bury the instructions on a terminal.
        log_file = os.path.join(tempfile.gettempdir(),
                                'watcher-migrate-embedded-nova-%d.log'
                                % os.getpid())
    if log_file:
        _log_to_file(log_file)

    # Native threads: must be decided before anything imports nova.
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
    # Nova's fixtures create sqlite files and policy files in temp dirs;
    # keep them all under one private dir removed on exit.
    tmp_dir = tempfile.mkdtemp(prefix='watcher-migrate-nova-')
    os.environ['TMPDIR'] = tmp_dir
    tempfile.tempdir = tmp_dir

    stop_event = threading.Event()
    state = {'ready': False}

    def on_signal(signum, frame):
        stop_event.set()
        if not state['ready']:
            # Interrupt the boot; the except clause below cleans up.
            raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    cloud = None
    httpd = None
    exit_code = 0
    try:
        started = time.time()
        # Select native threading before anything imports oslo.service or
        # eventlet (oslo.messaging, futurist...).
        from nova import monkey_patch
        monkey_patch.patch()
        from embedded_nova import nova_cloud
        cloud = nova_cloud.boot(args.hosts, paste_config,
                                getattr(logging, args.log_level),
                                args.live_migration_slots,
                                args.notification_url)
        httpd = simple_server.make_server(
            '127.0.0.1', args.port, None,
            server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        port = httpd.server_address[1]
        base_url = 'http://127.0.0.1:%d' % port
        gateway = Gateway(cloud.wsgi_app(), base_url, args.hosts, cloud,
                          stop_event)
        httpd.set_app(gateway)
        server_thread = threading.Thread(target=httpd.serve_forever,
                                         name='embedded-nova-http',
                                         daemon=True)
        server_thread.start()
        ready = {'endpoint': gateway.compute_url,
                 'auth_url': gateway.auth_url,
                 'control_url': gateway.control_url,
                 'hosts': args.hosts,
                 'pid': os.getpid(),
                 'startup_seconds': round(time.time() - started, 3)}
        state['ready'] = True
        if args.ready_file:
            _write_ready(args.ready_file, ready)
        if args.json:
            sys.stdout.write(json.dumps(ready) + '\n')
        else:
            sys.stdout.write(commands.banner(gateway.info(), log_file)
                             + '\n')
        sys.stdout.flush()
        LOG.warning('Embedded Nova ready in %.1f s at %s',
                    ready['startup_seconds'], base_url)
        last_reset = time.monotonic()
        while not stop_event.wait(0.5):
            if args.parent_pid and os.getppid() != args.parent_pid:
                # Our launcher died without stopping us: do not linger.
                LOG.warning('Parent %d is gone, stopping', args.parent_pid)
                break
            if time.monotonic() - last_reset > 300:
                # Bound the memory held by the notification fixture.
                cloud.reset_notifications()
                last_reset = time.monotonic()
    except (KeyboardInterrupt, SystemExit):
        exit_code = 0 if state['ready'] else 1
    except BaseException:
        traceback.print_exc()
        exit_code = 1
        if log_file:
            sys.stdout.write('The embedded Nova failed to start; see %s\n'
                             % log_file)
    finally:
        # Ignore further signals while cleaning up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        # Nova's fixture cleanups are skipped on purpose: they only stop
        # services and thread pools (about 1 s per pool with MAX_IDLE_FOR
        # at 1 s); everything on disk lives in tmp_dir.
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if state['ready'] and not args.json:
            sys.stdout.write('Embedded Nova stopped%s\n' % (
                '; its log stays in %s' % log_file if log_file else '.'))
        sys.stdout.flush()
        sys.stderr.flush()
        # Nova leaves non-daemon executor threads behind: do not wait.
        os._exit(exit_code)
