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

"""A fault-injecting HTTP proxy in front of the embedded Nova.

Standard library only. The proxy listens on 127.0.0.1 and forwards every
request to the embedded Nova's base URL, identity and compute alike. It
writes its own address over the upstream one in every answer, so the
Keystone catalog it relays sends the compute traffic of any client that
authenticated through it back through it: the plugin needs no endpoint
override, whether it loads its session from its options or is handed one.

Tests add :class:`Rule` objects; a request matching a rule (method, path
pattern, server action, Nova's answer, "only once that other request was
forwarded", skip the first N, at most ``times``) gets the rule's fault:

``REFUSED``       stop listening for ``seconds``: the requests that follow
                  get "connection refused"; this one (already on an open
                  connection) is reset unsent, or (``forward=True``)
                  forwarded and answered
``RESET``         TCP reset, before forwarding (``forward=False``: Nova
                  never saw it) or after (Nova acted, the answer is lost)
``TIMEOUT``       hold the connection ``seconds`` without an answer, then
                  drop it; forwarded first or never
``SLOW``          forward, answer ``seconds`` late
``LATE``          hold the request ``seconds``, then forward it: it reaches
                  Nova after the client may have given up on it
``HTTP_ERROR``    answer ``status`` (500 Nova-style JSON, 502/503 load
                  balancer HTML), with or without forwarding
``CONFLICT``      409 Conflict in Nova's words, not forwarded
``UNAUTHORIZED``  401, not forwarded (the client must re-authenticate)
``TRUNCATED``     forward, announce the full length, send half and close
``NOT_JSON``      forward, replace the body with HTML labelled JSON

Every request is logged (method, path, server action, fault, forwarded,
status) and every fault counted by kind.
"""

import collections
import http.client
from http import server as http_server
import json
import re
import select
import socket
import socketserver
import struct
import threading
import time
import urllib.parse

REFUSED = 'refused'
RESET = 'reset'
TIMEOUT = 'timeout'
SLOW = 'slow'
LATE = 'late'
HTTP_ERROR = 'http_error'
CONFLICT = 'conflict'
UNAUTHORIZED = 'unauthorized'
TRUNCATED = 'truncated'
NOT_JSON = 'not_json'

KINDS = (REFUSED, RESET, TIMEOUT, SLOW, LATE, HTTP_ERROR, CONFLICT,
         UNAUTHORIZED, TRUNCATED, NOT_JSON)

# Headers that belong to one connection, not to the message.
_HOP_BY_HOP = frozenset(['connection', 'keep-alive', 'proxy-authenticate',
                         'proxy-authorization', 'te', 'trailers',
                         'transfer-encoding', 'upgrade', 'content-length',
                         'host'])

_ERROR_BODIES = {
    500: ('application/json', {'computeFault': {
        'code': 500, 'message': 'Unexpected API Error. (injected by the '
                                'fault proxy)'}}),
    409: ('application/json', {'conflictingRequest': {
        'code': 409, 'message': 'Cannot do this while the instance is in '
                                'task_state migrating (injected by the '
                                'fault proxy)'}}),
    401: ('application/json', {'error': {
        'code': 401, 'title': 'Unauthorized',
        'message': 'The request you have made requires authentication. '
                   '(injected by the fault proxy)'}}),
}
_HTML_ERROR = ('<html><body><h1>%d %s</h1>\nThe server is unavailable '
               '(injected by the fault proxy).\n</body></html>\n')
_NOT_JSON_BODY = (b'<html><head><title>Maintenance</title></head><body>'
                  b'Back soon</body></html>')


class Match(object):
    """Which requests: method, path pattern, server action, answer.

    :param method: HTTP method, or None for any
    :param path: regular expression searched in the request target (path
        and query, e.g. ``/compute/v2.1/servers/UUID/action``), or None
    :param action: the server action of a ``POST .../action`` (the first
        key of its JSON body, e.g. ``os-migrateLive``), a tuple of them,
        or None for any request
    :param answer: regular expression searched in Nova's answer; a rule
        with one decides once the request was forwarded, so it can only
        be of a kind that forwards (SLOW, TRUNCATED, NOT_JSON, or
        REFUSED, RESET, TIMEOUT, HTTP_ERROR with ``forward=True``)
    """

    def __init__(self, method=None, path=None, action=None, answer=None):
        self.method = method
        self.path = re.compile(path) if path else None
        if isinstance(action, str):
            action = (action,)
        self.action = tuple(action) if action else None
        self.answer = re.compile(answer, re.S) if answer else None

    def __call__(self, request, answer=None):
        if self.method and request.method != self.method:
            return False
        if self.path is not None and not self.path.search(request.target):
            return False
        if self.action is not None and request.action not in self.action:
            return False
        if self.answer is not None:
            text = (answer or b'').decode('utf-8', 'replace')
            return bool(self.answer.search(text))
        return True

    def __repr__(self):
        return 'Match(%s %s %s%s)' % (
            self.method or '*', self.path.pattern if self.path else '*',
            '|'.join(self.action) if self.action else '',
            ' answered /%s/' % self.answer.pattern if self.answer else '')


class Rule(object):
    """A fault to inject into the requests that match.

    :param kind: one of ``KINDS``
    :param method, path, action, answer: see :class:`Match`
    :param after: a :class:`Match`; the rule applies only once a request
        matching it was forwarded and answered below 400 (e.g. "during
        the wait": after the move request)
    :param armed: False to keep the rule off until :meth:`arm` (a test
        arms it at a moment only it can see, e.g. from a log record)
    :param skip: let this many matching requests through first
    :param times: inject at most this many times (None: no limit)
    :param seconds: REFUSED, TIMEOUT, SLOW, LATE: for how long
    :param status: HTTP_ERROR: 500, 502 or 503
    :param forward: REFUSED, RESET, TIMEOUT, HTTP_ERROR: forward to Nova
        first
    """

    def __init__(self, kind, method=None, path=None, action=None,
                 answer=None, after=None, armed=True, skip=0, times=1,
                 seconds=0.0, status=500, forward=False):
        if kind not in KINDS:
            raise ValueError('unknown fault kind %r' % (kind,))
        self.kind = kind
        self.match = Match(method, path, action, answer)
        self.after = after
        self.forward = forward
        if answer and not self.forwards:
            raise ValueError('a rule on the answer must forward')
        self.armed = armed and after is None
        self.skip = skip
        self.times = times
        self.seconds = seconds
        self.status = status
        self.seen = 0
        self.hits = 0

    @property
    def forwards(self):
        """Whether Nova sees the request this rule injects a fault into."""
        if self.kind in (SLOW, LATE, TRUNCATED, NOT_JSON):
            return True
        if self.kind in (CONFLICT, UNAUTHORIZED):
            return False
        return self.forward

    @property
    def exhausted(self):
        return self.times is not None and self.hits >= self.times

    def arm(self):
        self.armed = True

    def _applies(self, request, answer):
        if not self.armed or self.exhausted:
            return False
        if (self.match.answer is None) != (answer is None):
            return False
        if not self.match(request, answer):
            return False
        self.seen += 1
        return self.seen > self.skip

    def __repr__(self):
        return 'Rule(%s%s on %r, %d/%s hits)' % (
            self.kind, ' forwarded' if self.forwards else '', self.match,
            self.hits, self.times)


class Request(object):
    """One request as the proxy saw it."""

    def __init__(self, method, target, body):
        self.method = method
        self.target = target
        self.path = urllib.parse.urlsplit(target).path
        self.body = body
        self.action = None
        if method == 'POST' and self.path.endswith('/action') and body:
            try:
                decoded = json.loads(body.decode('utf-8'))
            except ValueError:
                decoded = None
            if isinstance(decoded, dict) and decoded:
                self.action = sorted(decoded)[0]


class _Server(socketserver.ThreadingMixIn, http_server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(http_server.BaseHTTPRequestHandler):
    # One request per connection: a listener that stops refuses the next
    # request, not just the next client.
    protocol_version = 'HTTP/1.0'
    _dead = False

    def log_message(self, format, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError):
            pass

    def finish(self):
        if self._dead:
            return
        try:
            super().finish()
        except OSError:
            pass

    def _relay(self):
        self.server.proxy._serve(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

    # -- answers used by the proxy ----------------------------------------

    def reset(self):
        """Abort the connection with a TCP reset; nothing more is sent."""
        self._dead = True
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            self.connection.close()
        except OSError:
            pass

    def drop(self):
        """Close the connection without an answer (FIN, no reset)."""
        self._dead = True
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        except OSError:
            pass

    def answer(self, status, reason, headers, body, send=None):
        """Send an answer; ``send`` bytes of the body if given."""
        self.send_response_only(status, reason)
        length = len(body)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header('Content-Length', str(length))
        self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body if send is None else body[:send])
        self.wfile.flush()


class FaultProxy(object):
    """The proxy: start it, add rules, point clients at :attr:`url`.

    :param upstream: base URL of the embedded Nova (scheme://host:port)
    :param upstream_timeout: seconds to wait for Nova's answer
    :param ssl_context: an ``ssl.SSLContext`` (server side) to serve
        HTTPS instead of HTTP
    """

    def __init__(self, upstream, upstream_timeout=120, ssl_context=None):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = '%s://%s' % (parts.scheme, parts.netloc)
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port
        self.upstream_timeout = upstream_timeout
        self.ssl_context = ssl_context
        self.port = None
        self._server = None
        self._thread = None
        self._lock = threading.Lock()
        self._listener = threading.Lock()
        self._timers = []
        self._rules = []
        self._log = []
        self._tokens = set()
        self._injected = collections.Counter()
        self._stopped = False

    # -- life cycle --------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        self._listen(0)
        return self

    def stop(self):
        with self._listener:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
            self._close_listener()

    @property
    def url(self):
        """Base URL of the proxy (same shape as the upstream's)."""
        scheme = 'https' if self.ssl_context is not None else 'http'
        return '%s://127.0.0.1:%d' % (scheme, self.port)

    def _listen(self, port):
        server = _Server(('127.0.0.1', port), _Handler)
        if self.ssl_context is not None:
            # The handshake happens on accept; one a client rejects is
            # dropped by socketserver like any failed accept.
            server.socket = self.ssl_context.wrap_socket(server.socket,
                                                         server_side=True)
        server.proxy = self
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={'poll_interval': 0.05},
                                  name='fault-proxy-%d' % self.port,
                                  daemon=True)
        self._server, self._thread = server, thread
        thread.start()

    def _close_listener(self):
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            # Connections the kernel already queued would be reset by the
            # close, not refused: the client cannot tell whether a request
            # it sent on one reached Nova. That is another fault than the
            # one asked for, and it hit actions that were not its target
            # (CI: a move "reset" twice). Serve them first.
            while select.select([server.socket], [], [], 0)[0]:
                server.handle_request()
            server.server_close()

    # -- connection refused ------------------------------------------------

    def refuse(self, seconds):
        """Stop listening now, for ``seconds``: connections are refused."""
        with self._listener:
            if self._stopped or self._server is None:
                return
            self._close_listener()
            timer = threading.Timer(seconds, self._listen_again)
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def _listen_again(self):
        with self._listener:
            for _attempt in range(50):
                if self._stopped or self._server is not None:
                    return
                try:
                    self._listen(self.port)
                    return
                except OSError:
                    # The port is briefly busy (a closing socket).
                    time.sleep(0.1)

    @property
    def listening(self):
        return self._server is not None

    # -- rules -------------------------------------------------------------

    def add(self, *rules):
        """Add rules (first match wins); returns the last one."""
        with self._lock:
            self._rules.extend(rules)
        return rules[-1] if rules else None

    def remove(self, rule):
        """Take one rule out (if it is still there)."""
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self):
        """Forget the rules (the log and the counts stay)."""
        with self._lock:
            self._rules = []

    @property
    def rules(self):
        with self._lock:
            return list(self._rules)

    def _select(self, request, answer=None):
        """The rule for a request (answer None) or for its answer."""
        with self._lock:
            for rule in self._rules:
                if rule._applies(request, answer):
                    rule.hits += 1
                    self._injected[rule.kind] += 1
                    return rule
        return None

    def _arm(self, request, answer):
        with self._lock:
            for rule in self._rules:
                if (not rule.armed and rule.after is not None
                        and rule.after(request, answer)):
                    rule.armed = True

    # -- what happened -----------------------------------------------------

    @property
    def log(self):
        """Every request so far, oldest first.

        Dicts with method, target, path, action, fault, forwarded, status
        (what the client got, None if nothing), upstream_status, start,
        end.
        """
        with self._lock:
            return [dict(entry) for entry in self._log]

    @property
    def injected(self):
        """Faults injected so far, by kind (a Counter)."""
        with self._lock:
            return collections.Counter(self._injected)

    def wait_idle(self, timeout=60):
        """Wait until every request the proxy took is done with."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(entry['end'] is not None for entry in self._log):
                    return
            time.sleep(0.1)
        raise AssertionError('fault proxy still busy after %s s' % timeout)

    def token_requests(self):
        """Password or token authentications relayed to Keystone."""
        return [e for e in self.log if e['method'] == 'POST' and
                e['path'].rstrip('/').endswith('/auth/tokens')]

    @property
    def tokens(self):
        """Every token Keystone issued through the proxy."""
        with self._lock:
            return set(self._tokens)

    # -- the relay ---------------------------------------------------------

    def _rewrite(self, data):
        return data.replace(self.upstream.encode('ascii'),
                            self.url.encode('ascii'))

    def _forward(self, handler, request):
        headers = {}
        for name, value in handler.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                headers[name] = value
        headers['Host'] = '%s:%d' % (self._upstream_host,
                                     self._upstream_port)
        headers['Connection'] = 'close'
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port,
            timeout=self.upstream_timeout)
        try:
            connection.request(request.method, request.target,
                               body=request.body or None, headers=headers)
            response = connection.getresponse()
            body = b'' if request.method == 'HEAD' else response.read()
            result = (response.status, response.reason,
                      [(name, self._rewrite(value.encode('latin-1'))
                        .decode('latin-1'))
                       for name, value in response.getheaders()],
                      self._rewrite(body))
        finally:
            connection.close()
        for name, value in result[2]:
            if name.lower() == 'x-subject-token':
                with self._lock:
                    self._tokens.add(value)
        if result[0] < 400:
            self._arm(request, result[3])
        return result

    def _serve(self, handler):
        length = int(handler.headers.get('Content-Length') or 0)
        body = handler.rfile.read(length) if length > 0 else b''
        request = Request(handler.command, handler.path, body)
        entry = {'method': request.method, 'target': request.target,
                 'path': request.path, 'action': request.action,
                 'fault': None, 'forwarded': False, 'status': None,
                 'upstream_status': None, 'start': time.time(), 'end': None}
        with self._lock:
            self._log.append(entry)
        rule = self._select(request)
        if rule is not None:
            entry['fault'] = rule.kind
        try:
            self._inject(handler, request, rule, entry)
        finally:
            entry['end'] = time.time()

    def _inject(self, handler, request, rule, entry):
        kind = rule.kind if rule is not None else None
        answer = None
        if kind == LATE:
            time.sleep(rule.seconds)
        if rule is None or rule.forwards:
            entry['forwarded'] = True
            try:
                answer = self._forward(handler, request)
            except (OSError, http.client.HTTPException):
                # Nova did not answer in time: what a real proxy says.
                entry['status'] = 502
                handler.answer(*_error_answer(502, self.url))
                return
            entry['upstream_status'] = answer[0]
        if rule is None:
            # Rules that decide on Nova's answer.
            rule = self._select(request, answer[3])
            if rule is not None:
                entry['fault'] = kind = rule.kind
        if kind is None:
            entry['status'] = answer[0]
            handler.answer(*answer)
        elif kind == REFUSED:
            # Stop listening before answering: whatever the client sends
            # next finds the port closed.
            self.refuse(rule.seconds)
            if answer is None:
                handler.reset()
            else:
                entry['status'] = answer[0]
                handler.answer(*answer)
        elif kind == RESET:
            handler.reset()
        elif kind == TIMEOUT:
            time.sleep(rule.seconds)
            handler.drop()
        elif kind == SLOW:
            time.sleep(rule.seconds)
            entry['status'] = answer[0]
            handler.answer(*answer)
        elif kind == LATE:
            # The client may be long gone; then the answer goes nowhere.
            entry['status'] = answer[0]
            handler.answer(*answer)
        elif kind in (HTTP_ERROR, CONFLICT, UNAUTHORIZED):
            status = {CONFLICT: 409, UNAUTHORIZED: 401}.get(kind,
                                                            rule.status)
            entry['status'] = status
            handler.answer(*_error_answer(status, self.url))
        elif kind == TRUNCATED:
            status, reason, headers, body = answer
            # Announce more than is sent, even for an empty body.
            full = body + b' ' * 64 if len(body) < 2 else body
            entry['status'] = status
            handler.answer(status, reason, headers, full,
                           send=len(full) // 2)
            handler.drop()
        elif kind == NOT_JSON:
            status, reason, headers, _body = answer
            entry['status'] = status
            handler.answer(status, reason, headers, _NOT_JSON_BODY)


def _error_answer(status, base_url):
    reason = http.client.responses.get(status, 'Error')
    if status in _ERROR_BODIES:
        content_type, body = _ERROR_BODIES[status]
        data = json.dumps(body).encode('utf-8')
    else:
        content_type = 'text/html'
        data = (_HTML_ERROR % (status, reason)).encode('utf-8')
    headers = [('Content-Type', content_type)]
    if status == 401:
        headers.append(('WWW-Authenticate',
                        'Keystone uri="%s/identity"' % base_url))
    return status, reason, headers, data
