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

"""A private RabbitMQ on 127.0.0.1 (tools/rabbitmq), for the tests.

Where Debian's rabbitmq-server is not installed the tests that need a
broker skip, with the reason, on a developer's machine; under CI (``CI``
set to true, as .ci/run does) they fail: a CI run without the broker
would prove nothing about notifications.
"""

import collections
import contextlib
import json
import os
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(TOP, 'tools', 'rabbitmq')
# tools/rabbitmq reads the same variable.
BIN_DIR = os.environ.get('RABBITMQ_BIN', '/usr/lib/rabbitmq/bin')
INSTALL_HINT = ('apt-get update && apt-get install -y rabbitmq-server '
                '(.ci/run does this)')

# tls_url: the same node's TLS listener, whose certificate ca_file's CA
# signed (None unless started with tls=True).
Broker = collections.namedtuple('Broker', 'url directory tls_url ca_file')


def server_binary():
    """Where tools/rabbitmq expects Debian's rabbitmq-server."""
    return os.path.join(BIN_DIR, 'rabbitmq-server')


def in_ci():
    """Whether this run is a CI run (``CI=true``, as CI services set)."""
    return os.environ.get('CI', '').strip().lower() in ('true', '1', 'yes')


def require_server():
    """Fail (under CI) or skip (elsewhere) where no broker can be had."""
    binary = server_binary()
    if os.access(binary, os.X_OK):
        return
    reason = 'RabbitMQ is not installed (no %s): %s' % (binary,
                                                        INSTALL_HINT)
    if in_ci():
        pytest.fail('CI=true and the tests need a broker. ' + reason,
                    pytrace=False)
    pytest.skip(reason)


def _parse_exports(text):
    values = {}
    for line in text.splitlines():
        if line.startswith('export ') and '=' in line:
            key, value = line[len('export '):].split('=', 1)
            values[key] = value
    return values


@contextlib.contextmanager
def running_broker(timeout=120, tls=False, port=None):
    """Start a private broker; yield its :class:`Broker`; stop it.

    :param tls: also listen for TLS (``tools/rabbitmq start --tls``)
    :param port: the AMQP port wanted (None: 5672 if free; 0: any free
        port, for a broker a test restarts: another starter could take
        5672 while it is down)

    :raises pytest.fail.Exception: it did not start (its log is in the
        message)
    """
    require_server()
    env = dict(os.environ)
    if port is not None:
        env['WATCHER_MIGRATE_RABBITMQ_PORT'] = str(port)
    try:
        started = subprocess.run(
            [SCRIPT, 'start'] + (['--tls'] if tls else []),
            capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail('tools/rabbitmq start took over %s s: %s'
                    % (timeout, exc.stderr), pytrace=False)
    exports = _parse_exports(started.stdout)
    directory = exports.get('WATCHER_MIGRATE_RABBITMQ_DIR')
    url = exports.get('WATCHER_MIGRATE_TRANSPORT_URL')
    if started.returncode != 0 or not (directory and url):
        if directory:
            _stop(directory)
        pytest.fail('tools/rabbitmq start failed (%s):\n%s%s'
                    % (started.returncode, started.stdout, started.stderr),
                    pytrace=False)
    try:
        yield Broker(url, directory,
                     exports.get('WATCHER_MIGRATE_TLS_TRANSPORT_URL'),
                     exports.get('WATCHER_MIGRATE_TLS_CA_FILE'))
    finally:
        _stop(directory)


def ctl(broker, *args):
    """rabbitmqctl ``args`` on ``broker``'s node; its output."""
    done = subprocess.run([SCRIPT, 'ctl', broker.directory] + list(args),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail('rabbitmqctl %s failed: %s%s'
                    % (' '.join(args), done.stdout, done.stderr),
                    pytrace=False)
    return done.stdout


def _script(*args, timeout=120):
    done = subprocess.run([SCRIPT] + list(args), capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError('tools/rabbitmq %s failed (%s):\n%s%s' % (
            ' '.join(args), done.returncode, done.stdout, done.stderr))
    return done.stdout


def take_down(broker, kill=False):
    """Stop the broker's node (``kill``: at once, as a crash), keep it."""
    _script('down', broker.directory, *(['--kill'] if kill else []))


def bring_up(broker):
    """Start the broker's node again, on the same address."""
    _script('up', broker.directory)


def queues(broker):
    """The broker's queues: {name: {'arguments': {...}, 'messages': n}}.

    :raises AssertionError: the broker does not answer
    """
    listed = json.loads(_script('ctl', broker.directory, 'list_queues',
                                'name', 'arguments', 'messages',
                                '--formatter', 'json', timeout=60) or '[]')
    # rabbitmqctl lists each argument as [name, AMQP type, value].
    return {q['name']: {'arguments': {a[0]: a[-1] for a in q['arguments']},
                        'messages': q['messages']} for q in listed}


def _stop(directory):
    subprocess.run([SCRIPT, 'stop', directory], timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
