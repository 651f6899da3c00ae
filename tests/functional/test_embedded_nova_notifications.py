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

"""The embedded Nova publishes its versioned notifications to a broker.

Nova runs in its own process and publishes to the session's private
RabbitMQ (the ``broker`` fixture); this test process listens as an
applier would: its own pool (queue) on exchange ``nova``, topic
``versioned_notifications``, a threading executor.
"""

import contextlib
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging
import pytest

from tests import embedded_cloud

HOSTS = ('host1', 'host2')
EXCHANGE = 'nova'
TOPIC = 'versioned_notifications'
TIMEOUT = 60
# After a move completed, how long a late notification may still come.
GRACE = 2.0


class Heard(object):
    """Notification endpoint keeping (event_type, payload data) pairs."""

    def __init__(self):
        self._changed = threading.Condition()
        self._messages = []

    def _keep(self, ctxt, publisher_id, event_type, payload, metadata):
        data = (payload or {}).get('nova_object.data', {})
        with self._changed:
            self._messages.append((event_type, data))
            self._changed.notify_all()

    info = _keep
    error = _keep

    def about(self, server_uuid):
        """What was heard about one server, in arrival order."""
        with self._changed:
            return [(event, data) for event, data in self._messages
                    if data.get('uuid') == server_uuid]

    def wait_for(self, server_uuid, event_type, timeout=TIMEOUT, **fields):
        """The first ``event_type`` about the server with ``fields``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event, data in self.about(server_uuid):
                    if event == event_type and all(
                            data.get(k) == v for k, v in fields.items()):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail('no %s %s for %s within %s s; heard: %s' % (
                        event_type, fields, server_uuid, timeout,
                        [e for e, _d in self.about(server_uuid)]))
                self._changed.wait(left)


@contextlib.contextmanager
def listening(url):
    """Listen on a pool (queue) of this test's own; yield :class:`Heard`.

    The queue exists when this returns: what Nova sends after is kept.
    """
    transport = oslo_messaging.get_notification_transport(
        cfg.ConfigOpts(), url=url)
    heard = Heard()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=TOPIC, exchange=EXCHANGE)],
        [heard], executor='threading',
        pool='watcher-migrate-test-%s' % uuid.uuid4().hex)
    listener.start()
    try:
        yield heard
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()


def _live_migrate(cloud, server_uuid, host):
    cloud.compute('POST', '/servers/%s/action' % server_uuid,
                  {'os-migrateLive': {'host': host,
                                      'block_migration': 'auto'}})
    cloud.wait_for_server(server_uuid, 'ACTIVE', host=host, timeout=TIMEOUT)


@pytest.fixture(scope='module')
def live_migrated(broker, publishing_cloud):
    """A server live-migrated host1 -> host2, and what was heard."""
    server_uuid = publishing_cloud.create_server('host1')
    with listening(broker.url) as heard:
        _live_migrate(publishing_cloud, server_uuid, 'host2')
        yield server_uuid, heard


def test_live_migration_announces_its_start(live_migrated):
    server_uuid, heard = live_migrated

    heard.wait_for(server_uuid, 'instance.live_migration_pre.start')


def test_live_migration_announces_its_end_on_the_destination(live_migrated):
    server_uuid, heard = live_migrated

    data = heard.wait_for(server_uuid, 'instance.live_migration_post_dest.end')

    assert (data['host'], data['task_state']) == ('host2', None)


def test_live_migration_landing_sends_instance_update(live_migrated):
    server_uuid, heard = live_migrated

    heard.wait_for(server_uuid, 'instance.update', host='host2',
                   task_state=None)


def test_cold_migration_announces_resize_finish(broker, publishing_cloud):
    server_uuid = publishing_cloud.create_server('host1')
    with listening(broker.url) as heard:
        publishing_cloud.compute(
            'POST', '/servers/%s/action' % server_uuid,
            {'migrate': {'host': 'host2'}}, microversion='2.56')

        heard.wait_for(server_uuid, 'instance.resize_finish.end')

    publishing_cloud.wait_for_server(server_uuid, 'VERIFY_RESIZE',
                                     host='host2', timeout=TIMEOUT)
    publishing_cloud.compute('POST', '/servers/%s/action' % server_uuid,
                             {'confirmResize': None})


def test_nothing_is_published_without_a_notification_url(
        broker, tmp_path, monkeypatch):
    # Even with the broker's URL in its environment, a Nova started
    # without notification_url keeps its notifications to itself.
    monkeypatch.setenv('WATCHER_MIGRATE_TRANSPORT_URL', broker.url)
    with embedded_cloud.running_nova(tmp_path, HOSTS) as quiet_cloud:
        server_uuid = quiet_cloud.create_server('host1')
        with listening(broker.url) as heard:
            _live_migrate(quiet_cloud, server_uuid, 'host2')
            time.sleep(GRACE)

            assert heard.about(server_uuid) == []
