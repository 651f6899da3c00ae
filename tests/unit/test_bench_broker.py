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

"""The benchmark's private broker, started by tools/rabbitmq."""

import os

import kombu
import pytest

from bench import broker
from tests import broker as private_broker


def test_exports_reads_the_start_scripts_variables():
    text = ('export WATCHER_MIGRATE_TRANSPORT_URL='
            'rabbit://guest:guest@127.0.0.1:5673/\n'
            'export WATCHER_MIGRATE_RABBITMQ_DIR=/tmp/r.x\n'
            'something else\n')
    assert broker.exports(text) == {
        broker.URL_VARIABLE: 'rabbit://guest:guest@127.0.0.1:5673/',
        broker.DIR_VARIABLE: '/tmp/r.x'}


def test_amqp_url_is_kombus_spelling_of_the_transport_url():
    assert broker.amqp_url('rabbit://u:p@127.0.0.1:5673/') == \
        'amqp://u:p@127.0.0.1:5673/'


def failing_script(tmp_path, stop_log):
    script = tmp_path / 'rabbitmq'
    script.write_text(
        '#!/bin/sh\n'
        'if [ "$1" = stop ]; then echo "$2" >> %s; exit 0; fi\n'
        'echo "export WATCHER_MIGRATE_RABBITMQ_DIR=%s/node"\n'
        'echo "tools/rabbitmq: RabbitMQ did not start" >&2\n'
        'exit 1\n' % (stop_log, tmp_path))
    os.chmod(script, 0o755)
    return str(script)


def test_a_broker_that_does_not_start_says_why_and_is_cleaned_up(tmp_path):
    stop_log = tmp_path / 'stopped'
    script = failing_script(tmp_path, stop_log)
    with pytest.raises(broker.BrokerUnavailable,
                       match='exited with 1: .*RabbitMQ did not start'):
        broker.start(script)
    assert stop_log.read_text().split() == [str(tmp_path / 'node')]


def test_a_missing_start_script_makes_the_broker_unavailable(tmp_path):
    with pytest.raises(broker.BrokerUnavailable, match='tools/rabbitmq'):
        broker.start(str(tmp_path / 'absent'))


def queue_exists(url, name):
    with kombu.Connection(broker.amqp_url(url)) as connection:
        try:
            connection.default_channel.queue_declare(name, passive=True)
        except connection.channel_errors:
            return False
        return True


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_real_broker_takes_queues_and_is_stopped_and_removed():
    private_broker.require_server()
    url, directory = broker.start()
    try:
        with open(os.path.join(directory, 'pid')) as handle:
            pid = int(handle.read())
        with kombu.Connection(broker.amqp_url(url)) as connection:
            connection.default_channel.queue_declare('bench-pool-1')
        assert queue_exists(url, 'bench-pool-1')
        broker.delete_queue(url, 'bench-pool-1')
        assert not queue_exists(url, 'bench-pool-1')
    finally:
        broker.stop(directory)
    assert not os.path.exists(directory)
    assert not alive(pid)
