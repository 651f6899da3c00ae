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

"""Notifications in Nova's shape, sent to the broker by the tests.

Sent with oslo.messaging's Notifier, driver ``messagingv2``, to exchange
``nova``, topic ``versioned_notifications``, as nova-compute sends them
(publisher ``nova-compute:<host>``; payloads ``InstanceActionPayload``
1.9 and, for the conductor's error, ``ComputeTaskPayload``, the fields
the plugin reads as nova/notifications/objects/ names them). What a real
Nova would never send is the point: a server's events that are not of
the move under way, copies, events in the wrong order.
"""

import contextlib
import datetime

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import opts as messaging_opts
from oslo_utils import timeutils

EXCHANGE = 'nova'
TOPIC = 'versioned_notifications'


def instance_payload(server, host, task_state=None, state='active'):
    """An ``InstanceActionPayload`` of ``server`` as on ``host``."""
    return {
        'nova_object.name': 'InstanceActionPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.9',
        'nova_object.data': {
            'uuid': server, 'host': host, 'node': host, 'state': state,
            'task_state': task_state, 'power_state': 'running',
            'fault': None, 'request_id': 'req-crafted-by-the-test'},
    }


def task_error_payload(server, reason='NoValidHost: crafted by the test'):
    """The conductor's ``ComputeTaskPayload`` of a failed move."""
    return {
        'nova_object.name': 'ComputeTaskPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.0',
        'nova_object.data': {
            'instance_uuid': server, 'state': 'error', 'reason': reason,
            'request_spec': None},
    }


def live_success(server, source, destination):
    """(priority, event type, payload) of a whole live migration's success.

    In Nova's order: the first events (as on the source), the landing
    (``instance.update`` with no task, ``live_migration_post_dest.end``).
    """
    return [
        ('info', 'instance.live_migration_pre.start',
         instance_payload(server, source, 'migrating')),
        ('info', 'instance.live_migration_pre.end',
         instance_payload(server, source, 'migrating')),
        ('info', 'instance.live_migration_post_dest.start',
         instance_payload(server, destination, 'migrating')),
        ('info', 'instance.update', instance_payload(server, destination)),
        ('info', 'instance.live_migration_post_dest.end',
         instance_payload(server, destination)),
    ]


def live_failure(server, source):
    """The events of a live migration rolled back, and the conductor's."""
    return [
        ('info', 'instance.live_migration_rollback.start',
         instance_payload(server, source, 'migrating')),
        ('info', 'instance.live_migration_rollback.end',
         instance_payload(server, source)),
        ('error', 'compute_task.migrate_server.error',
         task_error_payload(server)),
    ]


def cold_success(server, destination):
    """The landing of a cold migration and the end of its confirm."""
    return [
        ('info', 'instance.resize_finish.end',
         instance_payload(server, destination, state='resized')),
        ('info', 'instance.resize_confirm.end',
         instance_payload(server, destination)),
    ]


class Publisher(object):
    """Sends crafted notifications to the broker at ``url``."""

    def __init__(self, url, host='host2'):
        conf = cfg.ConfigOpts()
        # Nova's control exchange: the Notifier sends to the transport's.
        for group, options in messaging_opts.list_opts():
            conf.register_opts(options, group=group)
        conf.set_override('control_exchange', EXCHANGE)
        self._transport = oslo_messaging.get_notification_transport(
            conf, url=url)
        self._notifier = oslo_messaging.Notifier(
            self._transport, publisher_id='nova-compute:%s' % host,
            driver='messagingv2', topics=[TOPIC], retry=3)

    def send(self, events, stamped=None):
        """Send (priority, event type, payload) ``events`` in order.

        :param stamped: the wall time (epoch) to stamp them with, as
            oslo.messaging stamps each message; None: now
        """
        with self._clock_at(stamped):
            for priority, event_type, payload in events:
                getattr(self._notifier, priority)({}, event_type, payload)

    @staticmethod
    @contextlib.contextmanager
    def _clock_at(stamped):
        if stamped is None:
            yield
            return
        # The Notifier stamps each message with timeutils.utcnow().
        timeutils.set_time_override(datetime.datetime.fromtimestamp(
            stamped, datetime.timezone.utc).replace(tzinfo=None))
        try:
            yield
        finally:
            timeutils.clear_time_override()

    def close(self):
        self._transport.cleanup()


@contextlib.contextmanager
def publisher(url, host='host2'):
    """A :class:`Publisher` to ``url``, closed on the way out."""
    sender = Publisher(url, host)
    try:
        yield sender
    finally:
        sender.close()
