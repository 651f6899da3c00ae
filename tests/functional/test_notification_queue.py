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

"""The listener's queue on a real RabbitMQ does not stay or fill for ever.

What the broker itself says of the queue (rabbitmqctl list_queues), not
what the plugin meant to declare.
"""

import time
import uuid

from tests import broker as private_broker
from watcher_migrate import notifications

# Generous: RabbitMQ deletes an expired queue within a second or so.
GONE_WITHIN = 60.0


def listening(broker, expiry):
    pool = 'watcher-migrate-test-%s' % uuid.uuid4().hex
    listener = notifications.NotificationListener(
        broker.url, pool=pool, queue_expiry=expiry, start_timeout=30)
    assert listener.start() is True
    return listener


def test_the_listeners_queue_expires_and_drops_old_messages(broker):
    listener = listening(broker, expiry=600)
    try:
        queue = private_broker.queues(broker)[listener.pool]
    finally:
        listener.stop()
    assert queue['arguments'] == {'x-expires': 600000,
                                  'x-message-ttl': 600000}


def test_the_broker_deletes_the_queue_once_unused_past_its_expiry(broker):
    listener = listening(broker, expiry=1)
    assert listener.pool in private_broker.queues(broker)
    listener.stop()
    deadline = time.monotonic() + GONE_WITHIN
    while listener.pool in private_broker.queues(broker):
        assert time.monotonic() < deadline, (
            'queue %s still there %.0f s after its consumer left'
            % (listener.pool, GONE_WITHIN))
        time.sleep(0.5)
