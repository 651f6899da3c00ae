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

"""The embedded Nova's helper client, without the Nova."""

import http.server
import json
import socket
import threading
import time

import pytest

from embedded_nova import client


def test_a_call_without_answer_names_the_request_it_waited_for():
    # Accepts the connection (backlog), never answers.
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(1)
        url = 'http://127.0.0.1:%d/compute/v2.1/servers/abc' % (
            silent.getsockname()[1])

        with pytest.raises(client.NoAnswer) as caught:
            client.EmbeddedNova._http('GET', url, timeout=0.2)

    assert str(caught.value) == 'GET %s: no answer within 0.2 s' % url


class _SlowFirstAnswer(http.server.BaseHTTPRequestHandler):
    """A compute API that answers its first read, and every write, late."""

    reads = 0
    writes = 0

    def _answer(self, status, late):
        if late:
            time.sleep(1.0)
        body = json.dumps({'reads': type(self).reads}).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if not self.path.startswith('/compute/'):
            return self._answer(404, late=False)
        type(self).reads += 1
        self._answer(200, late=type(self).reads == 1)

    def do_POST(self):
        type(self).writes += 1
        self._answer(202, late=True)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_first_cloud():
    _SlowFirstAnswer.reads = _SlowFirstAnswer.writes = 0
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                             _SlowFirstAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = 'http://127.0.0.1:%d' % server.server_address[1]
    cloud = client.EmbeddedNova()
    cloud.compute_url = base + '/compute/v2.1'
    cloud.control_url = base + '/_control'
    cloud._token = 'token'
    cloud.helper_timeout = 0.2
    yield cloud
    server.shutdown()
    server.server_close()


def test_a_read_without_answer_is_asked_once_more(slow_first_cloud):
    assert slow_first_cloud.compute('GET', '/servers/abc') == {'reads': 2}


def test_a_write_without_answer_is_not_sent_again(slow_first_cloud):
    with pytest.raises(client.NoAnswer) as caught:
        slow_first_cloud.compute('POST', '/servers/abc/action', body={})

    assert _SlowFirstAnswer.writes == 1
    assert 'does not answer its control routes' in str(caught.value)


def _option(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd else None


def test_nova_publishes_to_the_notification_url_it_is_given():
    url = 'rabbit://guest:guest@127.0.0.1:5672/'
    cloud = client.EmbeddedNova(notification_url=url)

    assert _option(cloud.command('ready.json'), '--notification-url') == url


def test_nova_publishes_nothing_by_default():
    cmd = client.EmbeddedNova().command('ready.json')

    assert '--notification-url' not in cmd
