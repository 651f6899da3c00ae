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

"""The benchmark's private RabbitMQ (tools/rabbitmq), for plugin-notify.

The embedded Nova publishes its versioned notifications to it and each
plugin-notify applier run consumes them from a queue of its own, which
is deleted after the run (a pooled queue outlives its consumer and
would go on filling with the later runs' notifications).
"""

import contextlib
import os
import shlex
import subprocess
import urllib.parse

import kombu

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(TOP, 'tools', 'rabbitmq')
URL_VARIABLE = 'WATCHER_MIGRATE_TRANSPORT_URL'
DIR_VARIABLE = 'WATCHER_MIGRATE_RABBITMQ_DIR'
# tools/rabbitmq start waits up to a minute for the node; stop about 5 s.
START_TIMEOUT = 180
STOP_TIMEOUT = 60
DELETE_TIMEOUT = 10


class BrokerUnavailable(Exception):
    """The broker could not be started; the message says why."""


def exports(text):
    """The ``export NAME=value`` lines of tools/rabbitmq start, as a dict."""
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == 'export' and '=' in words[1]:
            name, value = words[1].split('=', 1)
            values[name] = value
    return values


def start(script=SCRIPT, timeout=START_TIMEOUT):
    """Start a broker; (transport URL, its directory for :func:`stop`).

    :raises BrokerUnavailable: no rabbitmq-server, or it did not start
    """
    try:
        done = subprocess.run([script, 'start'], capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerUnavailable('tools/rabbitmq start: %s' % exc)
    values = exports(done.stdout)
    url, directory = values.get(URL_VARIABLE), values.get(DIR_VARIABLE)
    if done.returncode != 0 or not (url and directory):
        if directory:
            stop(directory, script)
        # The script's last line says why (e.g. "apt-get install ...").
        reason = (done.stderr.strip().splitlines() or ['no output'])[-1]
        raise BrokerUnavailable('tools/rabbitmq start exited with %s: %s'
                                % (done.returncode, reason))
    return url, directory


def stop(directory, script=SCRIPT):
    """Stop the broker of ``directory`` and remove the directory."""
    subprocess.run([script, 'stop', directory], timeout=STOP_TIMEOUT,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def running(script=SCRIPT):
    """A started broker's transport URL; stopped when the block ends."""
    url, directory = start(script)
    try:
        yield url
    finally:
        stop(directory, script)


def amqp_url(url):
    """oslo.messaging's ``rabbit://`` URL as kombu spells it."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(scheme='amqp'))


def delete_queue(url, name):
    """Delete queue ``name`` (a run's pool) on the broker of ``url``."""
    with kombu.Connection(amqp_url(url),
                          connect_timeout=DELETE_TIMEOUT) as connection:
        connection.default_channel.queue_delete(name)
